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
  const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  client.registerFeature(new ShowsMarkdownFeature());
  return client;
}

/**
 * Tells the server that this extension shows Explain's Markdown itself (a preview beside the
 * editor), so the server does not also open the file with window/showDocument, and that it
 * shows the Markdown as it is written (`hearth/explainProgress`, see explainPreview.ts).
 */
class ShowsMarkdownFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.experimental = {
      ...(capabilities.experimental as object),
      hearth: { showsMarkdown: true, streamsMarkdown: true },
    };
  }
  getState(): FeatureState {
    return { kind: "static" };
  }
  initialize(): void {}
  clear(): void {}
}
