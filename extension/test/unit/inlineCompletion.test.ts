/**
 * Inline completion through the real vscode-languageclient, started by the extension's own
 * ServerSession against a scripted language server (test/fixtures/scriptedServer.mjs), with VS
 * Code replaced by the stub.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import manifest from "../../../package.json";
import { testing } from "../stub/vscode.mjs";
import { registerInlineCompletionCommand, TRIGGER_INLINE_COMPLETION_COMMAND } from "../../src/inlineCompletion";
import { COMPLETION_LANGUAGES } from "../../src/languages";
import { ServerSession } from "../../src/session";
import { StatusBar } from "../../src/status";
import { waitFor } from "./waitFor";

// out/test/unit/ -> test/fixtures/
const SCRIPTED_SERVER = join(__dirname, "..", "..", "..", "test", "fixtures", "scriptedServer.mjs");

interface Received {
  method: string;
  params: any;
}

const invoked = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };
const automatic = { triggerKind: vscode.InlineCompletionTriggerKind.Automatic, selectedCompletionInfo: undefined };

describe("inline completion with a scripted server", () => {
  let session: ServerSession;
  let client: LanguageClient;
  const received = () => client.sendRequest("scripted/received") as Promise<Received[]>;
  const receivedNamed = async (method: string) => (await received()).filter((message) => message.method === method);

  before(async () => {
    testing.reset();
    const hearth = vscode.workspace.getConfiguration("hearth");
    await hearth.update("server.path", SCRIPTED_SERVER);
    await hearth.update("completion.trigger", "onRequest");
    await hearth.update("completion.disabledLanguages", ["sql"]);
    session = new ServerSession({
      extensionPath: join(__dirname, "no-such-checkout"),
      log: vscode.window.createOutputChannel("Hearth test", { log: true }),
      status: new StatusBar("hearth.showLogs"),
      probe: async () => undefined,
    });
    await session.restart();
    const running = await session.runningClient();
    assert.ok(running, "the scripted server runs");
    client = running;
  });

  after(async () => {
    await session.dispose();
    testing.reset();
  });

  /** The provider vscode-languageclient registered with VS Code, and the selector it used. */
  function registered(): { selector: vscode.DocumentSelector; provider: vscode.InlineCompletionItemProvider } {
    const registration = testing.registrations
      .filter((entry) => entry.name === "registerInlineCompletionItemProvider")
      .pop();
    assert.ok(registration, "an inline completion provider is registered");
    return { selector: registration.args[0], provider: registration.args[1] };
  }

  async function openDocument(language: string, content: string): Promise<vscode.TextDocument> {
    const document = await vscode.workspace.openTextDocument({ language, content });
    // The server must have the text before it is asked about it.
    await waitFor(`didOpen of ${language}`, async () =>
      (await receivedNamed("textDocument/didOpen")).find(
        (message) => message.params.textDocument.uri === document.uri.toString(),
      ),
    );
    return document;
  }

  it("declares the inlineCompletion client capability, so the server offers it", async () => {
    const [initialize] = await receivedNamed("initialize");
    assert.deepEqual(initialize.params.capabilities.textDocument.inlineCompletion, { dynamicRegistration: true });
    assert.deepEqual(client.initializeResult?.capabilities.inlineCompletionProvider, {});
  });

  it("sends the completion settings as initializationOptions and as workspace/configuration", async () => {
    const expected = { completion: { trigger: "onRequest", disabledLanguages: ["sql"] } };
    const [initialize] = await receivedNamed("initialize");
    assert.deepEqual(initialize.params.initializationOptions, expected);
    const [answer] = await waitFor("the workspace/configuration answer", async () => {
      const answers = await receivedNamed("answer to workspace/configuration");
      return answers.length > 0 ? answers : undefined;
    });
    assert.deepEqual(answer.params, [expected]);
  });

  it("tells the running server about a completion setting change, without a restart", async () => {
    await vscode.workspace.getConfiguration("hearth").update("completion.maxLines", 2);
    session.onConfigurationChanged({
      affectsConfiguration: (section) => "hearth.completion.maxLines".startsWith(section),
    });
    const [change] = await waitFor("didChangeConfiguration", async () => {
      const changes = await receivedNamed("workspace/didChangeConfiguration");
      return changes.length > 0 ? changes : undefined;
    });
    assert.deepEqual(change.params.settings.hearth.completion, {
      trigger: "onRequest",
      disabledLanguages: ["sql"],
      maxLines: 2,
    });
    assert.equal(await session.runningClient(), client, "the same client, not a restarted one");
  });

  it("registers the provider for every language Hearth completes in, in files and untitled documents", () => {
    const { selector } = registered();
    for (const language of COMPLETION_LANGUAGES) {
      for (const uri of [vscode.Uri.file(`/p/code.${language}`), vscode.Uri.parse(`untitled:Untitled-${language}`)]) {
        const document = { languageId: language, uri } as vscode.TextDocument;
        assert.ok(vscode.languages.match(selector, document) > 0, `${language} in ${uri.scheme}`);
      }
    }
    const markdown = { languageId: "markdown", uri: vscode.Uri.file("/p/README.md") } as vscode.TextDocument;
    assert.equal(vscode.languages.match(selector, markdown), 0);
  });

  it("turns the server's items into InlineCompletionItems with VS Code ranges", async () => {
    const document = await openDocument("typescript", "function add(a: number, b: number) {\n  ret\n}\n");
    const { provider } = registered();
    const token = new vscode.CancellationTokenSource().token;
    const result = await provider.provideInlineCompletionItems(document, new vscode.Position(1, 5), invoked, token);
    assert.ok(result instanceof vscode.InlineCompletionList, "a list, as the server answered");
    const [withRange, withoutRange] = result.items;
    assert.ok(withRange instanceof vscode.InlineCompletionItem);
    assert.equal(withRange.insertText, "return a + b;");
    assert.ok(withRange.range instanceof vscode.Range);
    assert.deepEqual(
      [withRange.range.start.line, withRange.range.start.character, withRange.range.end.line, withRange.range.end.character],
      [1, 0, 1, 5],
    );
    assert.equal(withoutRange.insertText, "return b + a;");
    assert.equal(withoutRange.range, undefined, "no range: VS Code inserts at the cursor");

    const [request] = (await receivedNamed("textDocument/inlineCompletion")).slice(-1);
    assert.equal(request.params.textDocument.uri, document.uri.toString());
    assert.deepEqual(request.params.position, { line: 1, character: 5 });
    assert.equal(request.params.context.triggerKind, 1, "Invoke is LSP's Invoked (1)");
  });

  it("sends an automatic trigger as LSP's Automatic (2)", async () => {
    const document = await openDocument("rust", "fn main() {\n    let x\n}\n");
    await registered().provider.provideInlineCompletionItems(
      document,
      new vscode.Position(1, 9),
      automatic,
      new vscode.CancellationTokenSource().token,
    );
    const [request] = (await receivedNamed("textDocument/inlineCompletion")).slice(-1);
    assert.equal(request.params.textDocument.uri, document.uri.toString());
    assert.equal(request.params.context.triggerKind, 2);
  });

  it("gives VS Code nothing when the server answers null", async () => {
    const document = await openDocument("go", "// no suggestion here\npackage main\n");
    const result = await registered().provider.provideInlineCompletionItems(
      document,
      new vscode.Position(1, 12),
      invoked,
      new vscode.CancellationTokenSource().token,
    );
    assert.equal(result ?? undefined, undefined);
    const [request] = (await receivedNamed("textDocument/inlineCompletion")).slice(-1);
    assert.equal(request.params.textDocument.uri, document.uri.toString(), "the server was asked");
  });

  it("cancels the server's request when VS Code cancels the token", async () => {
    const document = await openDocument("python", "def slow():\n    \n");
    const source = new vscode.CancellationTokenSource();
    const asked = (await receivedNamed("textDocument/inlineCompletion")).length;
    const answer = registered().provider.provideInlineCompletionItems(
      document,
      new vscode.Position(1, 4),
      automatic,
      source.token,
    );
    await waitFor("the request to reach the server", async () =>
      (await receivedNamed("textDocument/inlineCompletion")).length > asked ? true : undefined,
    );
    source.cancel();
    assert.equal((await answer) ?? undefined, undefined, "no items for a cancelled request");
    const [cancelled] = await waitFor("the server to see $/cancelRequest", async () => {
      const seen = await receivedNamed("cancelled textDocument/inlineCompletion");
      return seen.length > 0 ? seen : undefined;
    });
    assert.equal(cancelled.params.textDocument.uri, document.uri.toString());
  });

  it("asks the server for code actions in Python only", async () => {
    const provider = testing.provider("registerCodeActionsProvider") as vscode.CodeActionProvider;
    assert.ok(provider, "a code action provider is registered");
    const context = { diagnostics: [], only: undefined, triggerKind: vscode.CodeActionTriggerKind.Invoke };
    const range = new vscode.Range(1, 0, 1, 0);
    const token = new vscode.CancellationTokenSource().token;

    const typescript = await openDocument("typescript", "// TODO: add two numbers\n\n");
    assert.deepEqual(await provider.provideCodeActions(typescript, range, context, token), []);
    const python = await openDocument("python", "def add(a, b):\n    pass\n");
    const actions = (await provider.provideCodeActions(python, range, context, token)) ?? [];
    assert.deepEqual(
      actions.map((action) => action.title),
      ["Hearth: Generate implementation"],
    );
    const asked = (await receivedNamed("textDocument/codeAction")).map((message) => message.params.textDocument.uri);
    assert.deepEqual(asked, [python.uri.toString()]);
  });
});

describe("Hearth: Suggest inline completion", () => {
  after(() => testing.reset());

  it("runs VS Code's inline suggestion trigger", async () => {
    const registration = registerInlineCompletionCommand();
    try {
      await vscode.commands.executeCommand(TRIGGER_INLINE_COMPLETION_COMMAND);
      assert.deepEqual(
        testing.externalCommands.map((command) => command.id),
        ["editor.action.inlineSuggest.trigger"],
      );
    } finally {
      registration.dispose();
    }
  });

  it("is in the palette in the languages Hearth completes in, and nowhere else", () => {
    const entry = manifest.contributes.menus.commandPalette.find(
      (item) => item.command === TRIGGER_INLINE_COMPLETION_COMMAND,
    );
    assert.ok(entry, "contributed to the palette");
    const pattern = /^editorLangId =~ \/(.*)\/$/.exec(entry.when);
    assert.ok(pattern, entry.when);
    const languageId = new RegExp(pattern[1]);
    for (const language of COMPLETION_LANGUAGES) {
      assert.ok(languageId.test(language), language);
    }
    for (const language of ["markdown", "plaintext", "csharp", "pythonx"]) {
      assert.ok(!languageId.test(language), language);
    }
  });
});

describe("package.json and the completion languages", () => {
  it("activates the extension in every language Hearth completes in", () => {
    assert.deepEqual(
      [...manifest.activationEvents].sort(),
      COMPLETION_LANGUAGES.map((language) => `onLanguage:${language}`).sort(),
    );
  });

  it("offers the same languages in hearth.completion.disabledLanguages", () => {
    const schema = manifest.contributes.configuration.properties["hearth.completion.disabledLanguages"];
    assert.deepEqual(schema.items.enum, [...COMPLETION_LANGUAGES]);
  });
});
