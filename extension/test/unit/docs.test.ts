import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import manifest from "../../../package.json";

// out/test/unit/ -> the repository root.
const GUIDE = readFileSync(join(__dirname, "..", "..", "..", "..", "docs", "vscode.md"), "utf8");

describe("docs/vscode.md", () => {
  it("documents every setting with its default", () => {
    const properties = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;
    for (const [key, schema] of Object.entries(properties)) {
      const row = GUIDE.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
      assert.ok(row, `${key} has a row in the settings table`);
      assert.ok(row.includes(`| \`${JSON.stringify(schema.default).replace(/^"|"$/g, "")}\` |`), `${key}'s default`);
    }
  });

  it("documents every command", () => {
    for (const { command, title } of manifest.contributes.commands) {
      assert.ok(GUIDE.includes(`| Hearth: ${title} | \`${command}\` |`), `${command} has a row`);
    }
  });
});
