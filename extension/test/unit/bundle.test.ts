import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import Module from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as vscode from "vscode";
import manifest from "../../../package.json";

// The bundle that ships (package.json "main"), built before the tests: out/test/unit/ -> out/.
const BUNDLE = join(__dirname, "..", "..", "extension.js");

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleWithLoader = Module as unknown as { _load: Loader };
const originalLoad = moduleWithLoader._load;
// The bundle leaves `vscode` to VS Code; here the stub this test was built with stands in.
moduleWithLoader._load = function load(request, parent, isMain) {
  return request === "vscode" ? vscode : originalLoad.call(this, request, parent, isMain);
};

describe("the extension bundle", () => {
  const extension = require(BUNDLE) as {
    activate: (context: unknown) => { serverReady(): Promise<boolean> };
    deactivate: () => Promise<void>;
  };

  after(async () => {
    await extension.deactivate();
    moduleWithLoader._load = originalLoad;
  });

  it("is what package.json names as main", () => {
    assert.equal(manifest.main, "./extension/out/extension.js");
  });

  it("activates and registers every contributed command", async () => {
    const folder = mkdtempSync(join(tmpdir(), "hearth-bundle-"));
    await vscode.workspace.getConfiguration("hearth").update("server.path", join(folder, "missing-hearth"));
    const context = { subscriptions: [], extensionPath: folder, globalStorageUri: vscode.Uri.file(folder) };
    const api = extension.activate(context);
    const registered = await vscode.commands.getCommands();
    for (const { command } of manifest.contributes.commands) {
      assert.ok(registered.includes(command), `${command} is registered`);
    }
    assert.equal(typeof api.serverReady, "function");
  });
});
