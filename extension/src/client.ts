/**
 * Builds the language client for one server process: stdio transport, the documents of every
 * language Hearth completes in (code actions for Python only), settings as initializationOptions
 * and as the `workspace/configuration` answer, and the presentation of server command results
 * whichever way the command was run (and of resolved code actions: the offer of feedback).
 */
import * as vscode from "vscode";
import {
  type ClientCapabilities,
  type FeatureState,
  LanguageClient,
  type LanguageClientOptions,
  type MessageSignature,
  type ServerOptions,
  type StaticFeature,
} from "vscode-languageclient/node";
import { CODE_ACTION_LANGUAGES, COMPLETION_LANGUAGES } from "./languages";
import type { ServerCommand } from "./serverDiscovery";
import { serverStdio } from "./serverLog";
import { answerConfiguration, type ServerSettings } from "./settings";

export const CLIENT_ID = "hearth";
export const CLIENT_NAME = "Hearth";

export interface ClientHooks {
  outputChannel: vscode.LogOutputChannel;
  readSettings: (scopeUri?: string) => ServerSettings;
  /** Called with every server command's result, from the palette or from a code action. */
  presentResult: (command: string, result: unknown) => Promise<void>;
  /**
   * Called with each code action the server resolved (`codeAction/resolve`), before VS Code
   * applies its edit; the server's `data` then says which history entry the answer is.
   */
  codeActionResolved: (action: vscode.CodeAction) => void;
  /**
   * Called with each failed request the language client handles itself (a command run from a
   * code action, `codeAction/resolve`). One that names a history entry (no answer passed the
   * checks) is not shown by the server to this client (it declares `ratesFailures`): the hook
   * shows it and returns true, and the client then shows nothing more. False: the client
   * handles it as usual.
   */
  actionFailed: (error: unknown) => boolean;
}

export function createLanguageClient(server: ServerCommand, hooks: ClientHooks): LanguageClient {
  const serverOptions: ServerOptions = { command: server.command, args: server.args };
  const clientOptions: LanguageClientOptions = {
    documentSelector: COMPLETION_LANGUAGES.flatMap((language) => [
      { scheme: "file", language },
      { scheme: "untitled", language },
    ]),
    outputChannel: hooks.outputChannel,
    stdioOptions: serverStdio,
    initializationOptions: () => hooks.readSettings(),
    middleware: {
      // The selector covers every language for inline completion; code actions stay Python's.
      provideCodeActions: (document, range, context, token, next) =>
        CODE_ACTION_LANGUAGES.has(document.languageId) ? next(document, range, context, token) : [],
      resolveCodeAction: async (item, token, next) => {
        const resolved = await next(item, token);
        if (resolved && !token.isCancellationRequested) {
          try {
            hooks.codeActionResolved(resolved);
          } catch (error) {
            // The edit matters more than the offer of feedback: it reaches VS Code regardless.
            hooks.outputChannel.warn(`After codeAction/resolve: ${String(error)}`);
          }
        }
        return resolved;
      },
      workspace: {
        configuration: async (params, token, next) => {
          const defaults = await next(params, token);
          if (!Array.isArray(defaults)) {
            return defaults;
          }
          return answerConfiguration(params.items, defaults, hooks.readSettings);
        },
      },
      executeCommand: async (command, args, next) => {
        const result = await next(command, args);
        await hooks.presentResult(command, result);
        return result;
      },
    },
  };
  const client = new HearthLanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions, hooks.actionFailed);
  client.registerFeature(new ShowsMarkdownFeature());
  return client;
}

/**
 * The language client, but a failed request that the extension shows itself (`actionFailed`)
 * is not also shown by the client as "Request ... failed" with "Go to output".
 */
class HearthLanguageClient extends LanguageClient {
  constructor(
    id: string,
    name: string,
    serverOptions: ServerOptions,
    clientOptions: LanguageClientOptions,
    private readonly shownByHook: (error: unknown) => boolean,
  ) {
    super(id, name, serverOptions, clientOptions);
  }

  override handleFailedRequest<T>(
    type: MessageSignature,
    token: vscode.CancellationToken | undefined,
    error: unknown,
    defaultValue: T,
    showNotification?: boolean,
    throwOnCancel?: boolean,
  ): T {
    if (this.shownByHook(error)) {
      return defaultValue;
    }
    return super.handleFailedRequest(type, token, error, defaultValue, showNotification, throwOnCancel);
  }
}

/**
 * Tells the server that this extension shows Explain's Markdown itself (a preview beside the
 * editor), so the server does not also open the file with window/showDocument, and that it
 * shows the Markdown as it is written (`hearth/explainProgress`, see explainPreview.ts), and
 * that it shows an action's failure that names a history entry itself, with a way to say what
 * the answer should do (`ratesFailures`, see feedback.ts).
 */
class ShowsMarkdownFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.experimental = {
      ...(capabilities.experimental as object),
      hearth: { showsMarkdown: true, streamsMarkdown: true, ratesFailures: true },
    };
  }
  getState(): FeatureState {
    return { kind: "static" };
  }
  initialize(): void {}
  clear(): void {}
}
