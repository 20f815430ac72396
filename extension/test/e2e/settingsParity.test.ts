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

// For each "group.name": [min, max], whether the server refuses min - 1, min, max, max + 1.
const PROBE_RANGES = [
  "import json, sys",
  "from hearth.settings import structure_settings",
  "out = {}",
  "for key, (low, high) in json.loads(sys.argv[1]).items():",
  "    group, name = key.split('.')",
  "    out[key] = [bool(structure_settings({group: {name: v}})[1])",
  "                for v in (low - 1, low, high, high + 1)]",
  "print(json.dumps(out))",
].join("\n");

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

  it("contributes the server's range for every number", () => {
    // The server is asked about each range's ends and the values just beyond them.
    const ranges: Record<string, [number, number]> = {};
    for (const [key, property] of Object.entries(
      properties as Record<string, { type?: unknown; minimum?: number; maximum?: number }>,
    )) {
      const types = [property.type].flat();
      if (types.includes("integer") || types.includes("number")) {
        assert.ok(property.minimum !== undefined && property.maximum !== undefined, `${key} has a range`);
        ranges[key.replace(/^hearth\./, "")] = [property.minimum, property.maximum];
      }
    }
    const probe = spawnSync(PYTHON, ["-c", PROBE_RANGES, JSON.stringify(ranges)], { encoding: "utf8" });
    assert.equal(probe.status, 0, probe.stderr);
    const refused = JSON.parse(probe.stdout) as Record<string, boolean[]>;
    for (const key of Object.keys(ranges)) {
      assert.deepEqual(refused[key], [true, false, false, true], `${key}: below, min, max, above`);
    }
  });

  it("shows the server's defaults", () => {
    for (const key of serverKeys) {
      const [group, name] = key.split(".");
      assert.deepEqual(properties[`hearth.${key}`]?.default, serverDefaults[group][name], key);
    }
  });
});
