/**
 * The contributed settings and the server's typed settings must not drift apart: same keys,
 * same defaults. Needs the server's Python, like the language client test.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import manifest from "../../../package.json";
import { serverSettingKeys } from "../../src/settings";

const REPO = resolve(__dirname, "..", "..", "..", "..");
const PYTHON = join(REPO, ".venv", "bin", "python");
const DUMP_DEFAULTS =
  "import json; from hearth.settings import Settings, unstructure_settings; " +
  "print(json.dumps(unstructure_settings(Settings())))";

const dump = spawnSync(PYTHON, ["-c", DUMP_DEFAULTS], { encoding: "utf8" });
const skipReason =
  dump.status === 0 ? undefined : `${PYTHON} cannot load hearth.settings: ${dump.stderr || String(dump.error)}`;
if (skipReason) {
  console.error(`\n!! SKIPPING the settings parity test: ${skipReason}\n`);
}

describe("settings parity with the server", { skip: skipReason }, () => {
  const serverDefaults = skipReason ? {} : (JSON.parse(dump.stdout) as Record<string, Record<string, unknown>>);
  const serverKeys = Object.entries(serverDefaults).flatMap(([group, values]) =>
    Object.keys(values).map((name) => `${group}.${name}`),
  );
  const properties = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;

  it("contributes every server setting and no other", () => {
    assert.deepEqual([...serverSettingKeys()].sort(), [...serverKeys].sort());
  });

  it("shows the server's defaults", () => {
    for (const key of serverKeys) {
      const [group, name] = key.split(".");
      assert.deepEqual(properties[`hearth.${key}`]?.default, serverDefaults[group][name], key);
    }
  });
});
