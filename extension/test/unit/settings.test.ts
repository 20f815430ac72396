import assert from "node:assert/strict";
import { describe, it } from "node:test";
import manifest from "../../../package.json";
import {
  answerConfiguration,
  contributedKeys,
  needsRestart,
  serverSettingKeys,
  toServerSettings,
  type SettingsReader,
} from "../../src/settings";

/** A reader over values set at the user, workspace and folder levels. */
function reader(levels: {
  user?: Record<string, unknown>;
  workspace?: Record<string, unknown>;
  folder?: Record<string, unknown>;
}): SettingsReader {
  return {
    inspect: (key) => ({
      globalValue: levels.user?.[key],
      workspaceValue: levels.workspace?.[key],
      workspaceFolderValue: levels.folder?.[key],
    }),
  };
}

describe("settings keys", () => {
  it("lists every contributed hearth setting without the prefix", () => {
    const keys = contributedKeys();
    assert.equal(keys.length, Object.keys(manifest.contributes.configuration.properties).length);
    assert.ok(keys.includes("model.name"));
    assert.ok(keys.includes("index.contextTokens"));
    assert.ok(keys.includes("server.path"));
  });

  it("keeps the extension's own settings away from the server", () => {
    const keys = serverSettingKeys();
    assert.ok(!keys.some((key) => key.startsWith("server.") || key.startsWith("trace.")));
    assert.deepEqual(
      [...new Set(keys.map((key) => key.split(".")[0]))].sort(),
      ["completion", "diagnostics", "generation", "guardrails", "history", "index", "model", "openai"],
    );
  });
});

describe("inline completion settings", () => {
  const properties = manifest.contributes.configuration.properties as Record<string, Record<string, unknown>>;

  it("are contributed with the server's defaults and bounds", () => {
    const expected: Record<string, Record<string, unknown>> = {
      enabled: { type: "boolean", default: true },
      trigger: { type: "string", enum: ["automatic", "onRequest"], default: "automatic" },
      disabledLanguages: { type: "array", default: [] },
      maxLines: { type: "integer", minimum: 1, maximum: 40, default: 8 },
      contextTokens: { type: "integer", minimum: 0, maximum: 2048, default: 384 },
      prefixLines: { type: "integer", minimum: 1, default: 32 },
      suffixLines: { type: "integer", minimum: 0, default: 8 },
      model: { default: null },
    };
    for (const [name, fields] of Object.entries(expected)) {
      const schema = properties[`hearth.completion.${name}`];
      assert.ok(schema, `hearth.completion.${name} is contributed`);
      for (const [field, value] of Object.entries(fields)) {
        assert.deepEqual(schema[field], value, `hearth.completion.${name}: ${field}`);
      }
    }
    assert.deepEqual(
      contributedKeys().filter((key) => key.startsWith("completion.")).sort(),
      Object.keys(expected).map((name) => `completion.${name}`).sort(),
    );
  });

  it("accept a model name or null, as hearth.model.name does", () => {
    assert.deepEqual(properties["hearth.completion.model"].anyOf, properties["hearth.model.name"].anyOf);
  });
});

describe("toServerSettings", () => {
  it("sends nothing when nothing is set, so the server's defaults and [tool.hearth] apply", () => {
    assert.deepEqual(toServerSettings(reader({})), {});
  });

  it("nests set values by group in camelCase", () => {
    const settings = toServerSettings(
      reader({
        user: {
          "model.name": "qwen2.5-coder-1.5b",
          "model.threads": 2,
          "openai.baseUrl": "http://127.0.0.1:9000/v1",
          "guardrails.disabledRules": ["eval"],
          "index.exclude": ["build/**"],
          "diagnostics.flake8": false,
        },
      }),
    );
    assert.deepEqual(settings, {
      model: { name: "qwen2.5-coder-1.5b", threads: 2 },
      openai: { baseUrl: "http://127.0.0.1:9000/v1" },
      guardrails: { disabledRules: ["eval"] },
      index: { exclude: ["build/**"] },
      diagnostics: { flake8: false },
    });
  });

  it("sends the inline completion settings, false and 0 included", () => {
    const settings = toServerSettings(
      reader({
        user: {
          "completion.enabled": false,
          "completion.trigger": "onRequest",
          "completion.model": "qwen2.5-coder-1.5b",
        },
        workspace: { "completion.disabledLanguages": ["sql", "c"], "completion.maxLines": 1 },
        folder: { "completion.contextTokens": 0 },
      }),
    );
    assert.deepEqual(settings, {
      completion: {
        enabled: false,
        trigger: "onRequest",
        model: "qwen2.5-coder-1.5b",
        disabledLanguages: ["sql", "c"],
        maxLines: 1,
        contextTokens: 0,
      },
    });
  });

  it("lets folder settings beat workspace settings beat user settings", () => {
    const settings = toServerSettings(
      reader({
        user: { "generation.samples": 2, "generation.maxTokens": 100 },
        workspace: { "generation.samples": 3 },
        folder: { "generation.samples": 4 },
      }),
    );
    assert.deepEqual(settings, { generation: { samples: 4, maxTokens: 100 } });
  });

  it("never sends server.*, trace.* or history.askForFeedback even when set", () => {
    const settings = toServerSettings(
      reader({
        user: { "server.path": "/usr/bin/hearth", "trace.server": "verbose", "history.askForFeedback": false },
      }),
    );
    assert.deepEqual(settings, {});
  });
});

describe("needsRestart", () => {
  const changed = (...sections: string[]) => (section: string) =>
    sections.some((key) => key === section || key.startsWith(`${section}.`));

  for (const key of ["hearth.model.name", "hearth.model.path", "hearth.openai.baseUrl", "hearth.server.python"]) {
    it(`restarts for ${key}`, () => assert.equal(needsRestart(changed(key)), true));
  }

  for (const key of [
    "hearth.model.unloadAfter",
    "hearth.generation.samples",
    "hearth.guardrails.policy",
    "hearth.diagnostics.flake8",
    "hearth.index.exclude",
    "hearth.completion.trigger",
    "hearth.completion.model",
    "hearth.trace.server",
    "editor.fontSize",
  ]) {
    it(`does not restart for ${key}`, () => assert.equal(needsRestart(changed(key)), false));
  }
});

describe("answerConfiguration", () => {
  const settings = { generation: { samples: 3 }, model: { name: "x" } };
  const read = () => settings;

  it("answers hearth with the server settings and leaves other sections to the default", () => {
    const answers = answerConfiguration(
      [{ section: "hearth" }, { section: "python" }, { section: "hearth.generation" }],
      [{ raw: true }, { pythonPath: "py" }, null],
      read,
    );
    assert.deepEqual(answers, [settings, { pythonPath: "py" }, { samples: 3 }]);
  });

  it("answers single keys and unset groups", () => {
    const answers = answerConfiguration(
      [{ section: "hearth.model.name" }, { section: "hearth.index" }, { section: "hearth.index.enabled" }],
      [null, null, null],
      read,
    );
    assert.deepEqual(answers, ["x", {}, null]);
  });

  it("passes the scope of each item", () => {
    const scopes: (string | undefined)[] = [];
    answerConfiguration([{ section: "hearth", scopeUri: "file:///a" }, { section: "hearth" }], [null, null], (scope) => {
      scopes.push(scope);
      return {};
    });
    assert.deepEqual(scopes, ["file:///a", undefined]);
  });
});
