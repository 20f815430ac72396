/**
 * End to end: the extension's activate() with the real vscode-languageclient (VS Code itself
 * replaced by the stub) against the real server in the repository's .venv and the real model.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import * as vscode from "vscode";
import { testing } from "../stub/vscode.mjs";
import { activate, deactivate, type HearthApi } from "../../src/extension";

// The bundle runs from extension/out/test/e2e/.
const REPO = resolve(__dirname, "..", "..", "..", "..");
const PYTHON = join(REPO, ".venv", "bin", "python");
const GENERATE_TITLE = "Hearth: Generate implementation";

const SOURCE = [
  "def add(a, b):",
  '    """Return the sum of a and b."""',
  "    pass",
  "",
  "",
  "def scale(values, factor):",
  '    """Return a new list with every value multiplied by factor."""',
  "    pass",
  "",
  "",
  "def untouched():",
  "    return 42",
  "",
].join("\n");

function serverMissingReason(): string | undefined {
  const probe = spawnSync(PYTHON, ["-c", "import hearth.lsp.server"], { encoding: "utf8" });
  if (probe.status === 0) {
    return undefined;
  }
  const detail = (probe.stderr || String(probe.error ?? "")).trim().split("\n").pop();
  return `${PYTHON} cannot import hearth.lsp.server (${detail})`;
}

const skipReason = serverMissingReason();
if (skipReason) {
  console.error(
    `\n${"!".repeat(78)}\n!! SKIPPING the VS Code language client end-to-end test:\n!! ${skipReason}\n` +
      `!! Install the server first (make setup).\n${"!".repeat(78)}\n`,
  );
}

/** The body of the top-level function `name`: its lines up to the next top-level statement. */
function functionBody(text: string, name: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`def ${name}(`));
  assert.ok(start >= 0, `def ${name} is still there:\n${text}`);
  const end = lines.findIndex((line, index) => index > start && /^\S/.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end).join("\n");
}

/** Shows the document in the test report, a line at a time. */
function diagnoseText(t: { diagnostic(message: string): void }, heading: string, text: string): void {
  t.diagnostic(heading);
  text.split("\n").forEach((line) => t.diagnostic(`  | ${line}`));
}

function outputLines(): string {
  return testing.outputChannels.flatMap((channel) => channel.lines).join("\n");
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}\n--- output ---\n${outputLines()}`);
    }
    await new Promise((resolveLater) => setTimeout(resolveLater, 100));
  }
}

type CodeActionProvider = {
  provideCodeActions(document: unknown, range: unknown, context: unknown, token: unknown): Promise<vscode.CodeAction[]>;
  resolveCodeAction(action: vscode.CodeAction, token: unknown): Promise<vscode.CodeAction>;
};

const noCancel = new vscode.CancellationTokenSource().token;

describe("the extension with the real language client, server and model", { skip: skipReason }, () => {
  let api: HearthApi;
  let document: vscode.TextDocument;
  const project = mkdtempSync(join(tmpdir(), "hearth-e2e-"));
  const storage = join(project, ".storage");
  const file = join(project, "calc.py");

  before(async () => {
    writeFileSync(file, SOURCE);
    mkdirSync(storage);
    testing.reset();
    (vscode.workspace as { workspaceFolders: unknown }).workspaceFolders = [
      { uri: vscode.Uri.file(project), name: "project", index: 0 },
    ];
    // Settings the server should receive through initializationOptions and workspace/configuration.
    await vscode.workspace.getConfiguration("hearth").update("generation.maxTokens", 256);
    // The client traces messages when its channel logs at Trace, with the detail set here.
    testing.logLevel = vscode.LogLevel.Trace;
    await vscode.workspace.getConfiguration("hearth").update("trace.server", "verbose");
    const context = {
      subscriptions: [] as vscode.Disposable[],
      extensionPath: REPO,
      globalStorageUri: vscode.Uri.file(storage),
    } as unknown as vscode.ExtensionContext;
    api = activate(context);
    assert.equal(await api.serverReady(), true, `the server started\n--- output ---\n${outputLines()}`);
    document = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  });

  after(async () => {
    await deactivate();
  });

  it("found the server in the repository's .venv and sent the settings", async () => {
    const output = outputLines();
    assert.match(output, new RegExp(`Starting the server from the \\.venv in ${REPO}`));
    assert.match(
      output,
      /"initializationOptions": \{\s*"generation": \{\s*"maxTokens": 256\s*\}\s*\},/,
      "initializationOptions carry what the user set, and only that",
    );
    const answer = await waitFor("the answer to workspace/configuration", () =>
      /Sending response 'workspace\/configuration[^\n]*\n(?:.*\n)*?Result: (\[[\s\S]*?\n\])/.exec(outputLines())?.[1],
    );
    assert.deepEqual(JSON.parse(answer), [{ generation: { maxTokens: 256 } }]);
  });

  it("lists Generate at the stub and applies its resolved edit", async (t) => {
    const provider = await waitFor("a code action provider", () =>
      testing.provider("registerCodeActionsProvider") as CodeActionProvider | undefined,
    );
    const cursor = new vscode.Range(2, 4, 2, 4);
    const actions = await provider.provideCodeActions(document, cursor, { diagnostics: [], triggerKind: 1 }, noCancel);
    const generate = actions.find((action) => action.title === GENERATE_TITLE);
    assert.ok(generate, `"${GENERATE_TITLE}" is offered; got ${JSON.stringify(actions.map((a) => a.title))}`);
    assert.equal(generate.edit, undefined, "the edit is computed lazily, on resolve");

    const resolved = await provider.resolveCodeAction(generate, noCancel);
    assert.ok(resolved.edit, `the resolved action carries an edit\n--- output ---\n${outputLines()}`);
    if (Number.isInteger((resolved as { data?: { historyId?: unknown } }).data?.historyId)) {
      assert.ok(
        testing.messages.some((message) => message.items.includes("Good")),
        "feedback is offered for an answer in the history",
      );
    }
    assert.equal(await vscode.workspace.applyEdit(resolved.edit), true);

    const text = document.getText();
    diagnoseText(t, "after Generate on add():", text);
    assert.doesNotMatch(functionBody(text, "add"), /^\s*pass\s*$/m, `add() is implemented:\n${text}`);
    assert.match(text, /^def add\(a, b\):\n {4}"""Return the sum of a and b\."""\n/m);
    assert.match(functionBody(text, "scale"), /^\s*pass$/m, "the other stub is left alone");
    assert.match(text, /def untouched\(\):\n {4}return 42\n/);
  });

  async function putCursorInScale(): Promise<void> {
    const line = document.getText().split("\n").findIndex((text) => text.startsWith("def scale("));
    await vscode.window.showTextDocument(document, { selection: new vscode.Range(line + 2, 4, line + 2, 4) });
  }

  it("cancels a palette command from its progress notification", async () => {
    await putCursorInScale();
    testing.messages.length = 0; // the offer of feedback for the answer before
    const textBefore = document.getText();
    const running = vscode.commands.executeCommand("hearth.palette.generate");
    const progress = await waitFor("the progress notification", () =>
      testing.progress.find(
        (entry) => entry.options.location === vscode.ProgressLocation.Notification && !entry.done,
      ),
    );
    assert.equal(progress.options.title, "Hearth: Generate implementation");
    assert.equal(progress.options.cancellable, true);
    await waitFor("the server to start working", () =>
      api.statusBar.current.state === "busy" ? true : undefined,
    );
    progress.cancel();
    await running;
    assert.equal(
      document.getText(),
      textBefore,
      `nothing was applied\n--- output ---\n${outputLines().split("\n").filter((l) => /cancel|busy|executeCommand|applyEdit/i.test(l)).join("\n")}`,
    );
    assert.deepEqual(testing.messages, [], "a cancellation is not an error");
    assert.match(outputLines(), /hearth\.generate cancelled/);
  });

  it("runs Generate from the palette through workspace/executeCommand and applyEdit", async (t) => {
    await putCursorInScale();
    const versionBefore = document.version;
    await vscode.commands.executeCommand("hearth.palette.generate");

    assert.deepEqual(
      testing.messages.filter((message) => message.kind !== "information"),
      [],
      "no warnings or errors",
    );
    assert.ok(document.version > versionBefore, `the server applied an edit\n--- output ---\n${outputLines()}`);
    const text = document.getText();
    diagnoseText(t, "after Generate on scale():", text);
    assert.doesNotMatch(functionBody(text, "scale"), /^\s*pass\s*$/m, `scale() is implemented:\n${text}`);
    assert.match(text, /def untouched\(\):\n {4}return 42\n/);
  });

  it("shows the last action's time and confidence in the status bar", () => {
    assert.match(api.statusBar.current.state, /^ready$/);
    const item = testing.statusBarItems.at(-1);
    assert.match(item.text, /^\$\(check\) Hearth generate \d+(\.\d)? s/);
  });

  it("opens Explain's Markdown in a preview beside the editor", async (t) => {
    await vscode.window.showTextDocument(document, { selection: new vscode.Range(1, 4, 1, 4) });
    const offered = await vscode.commands.getCommands();
    if (!offered.includes("hearth.explain")) {
      testing.messages.length = 0;
      await vscode.commands.executeCommand("hearth.palette.explain");
      assert.deepEqual(
        testing.messages.map((message) => message.message),
        ["Hearth: this server does not offer hearth.explain yet; update Hearth."],
      );
      t.skip("the server does not offer hearth.explain yet: the preview is not tested");
      return;
    }
    const registered = testing.registrations
      .filter((entry) => entry.name === "registerTextDocumentContentProvider")
      .pop();
    assert.ok(registered, "the extension registered the preview's content provider");
    const [scheme, provider] = registered.args as [string, vscode.TextDocumentContentProvider];
    const seen: string[] = [];
    const listening = provider.onDidChange?.((uri) => seen.push(String(provider.provideTextDocumentContent(uri, new vscode.CancellationTokenSource().token))));
    await vscode.commands.executeCommand("hearth.palette.explain");
    listening?.dispose();
    const preview = testing.externalCommands.find((command) => command.id === "markdown.showPreviewToSide");
    assert.ok(preview, "the Markdown preview was opened");
    const uri = preview.args[0] as vscode.Uri;
    assert.equal(uri.scheme, scheme);
    const markdown = String(provider.provideTextDocumentContent(uri, new vscode.CancellationTokenSource().token));
    assert.ok(markdown.trim().length > 0, "the explanation is not empty");
    assert.equal(seen.at(-1), markdown, "the final document is shown last");
    // Partial text came while the model wrote (hearth/explainProgress), before the final one.
    const partial = seen.slice(0, -1);
    assert.ok(partial.length > 0, `the preview filled before the answer came\n--- output ---\n${outputLines()}`);
    assert.ok(partial.every((text) => text.startsWith("# Explanation of")), "each update is the document so far");
  });

  it("restarts the server when a setting it reads at start changes", async () => {
    const before = testing.registrations.filter((entry) => entry.name === "registerCodeActionsProvider").length;
    await vscode.workspace.getConfiguration("hearth").update("model.contextLength", 2048);
    assert.equal(await api.serverReady(), true, `the server restarted\n--- output ---\n${outputLines()}`);
    const afterRestart = testing.registrations.filter((entry) => entry.name === "registerCodeActionsProvider").length;
    assert.equal(afterRestart, before + 1, "the new client registered its providers again");
    assert.match(outputLines(), /restarting it/);
  });
});
