/**
 * The extension's entry point: wires the server session, the status bar and the commands (the
 * palette's actions, the history, inline completion, logs and restart).
 */
import * as vscode from "vscode";
import { PREVIEW_SCHEME } from "./explainPreview";
import { registerHistoryCommand } from "./historyPick";
import { registerInlineCompletionCommand } from "./inlineCompletion";
import { registerPaletteCommands } from "./palette";
import { RESTART_COMMAND, ServerSession, SHOW_LOGS_COMMAND } from "./session";
import { StatusBar } from "./status";

let session: ServerSession | undefined;

/** What activate() returns: lets other extensions and the end-to-end test wait for the server. */
export interface HearthApi {
  /** Settles when queued (re)starts are over; true when the server then runs. */
  serverReady(): Promise<boolean>;
  statusBar: StatusBar;
}

export function activate(context: vscode.ExtensionContext): HearthApi {
  const log = vscode.window.createOutputChannel("Hearth", { log: true });
  const statusBar = new StatusBar(SHOW_LOGS_COMMAND);
  const current = new ServerSession({
    extensionPath: context.extensionPath,
    log,
    status: statusBar,
  });
  session = current;
  context.subscriptions.push(
    log,
    statusBar,
    vscode.commands.registerCommand(SHOW_LOGS_COMMAND, () => log.show()),
    vscode.commands.registerCommand(RESTART_COMMAND, () => current.restart()),
    vscode.workspace.onDidChangeConfiguration((event) => current.onConfigurationChanged(event)),
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, current.preview),
    ...registerPaletteCommands(current, log),
    registerHistoryCommand(current, log),
    registerInlineCompletionCommand(),
  );
  void current.restart();
  return {
    serverReady: async () => (await current.runningClient()) !== undefined,
    statusBar,
  };
}

export async function deactivate(): Promise<void> {
  await session?.dispose();
  session = undefined;
}
