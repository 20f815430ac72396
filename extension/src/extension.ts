/** The extension's entry point: wires the server session, the status bar and the commands. */
import * as vscode from "vscode";
import { ExecuteCommandRequest } from "vscode-languageclient/node";
import {
  buildCommandArguments,
  CommandArgumentError,
  failureMessage,
  PALETTE_COMMANDS,
  type PaletteCommand,
} from "./commands";
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
    storageUri: context.globalStorageUri,
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
    ...PALETTE_COMMANDS.map((command) =>
      vscode.commands.registerCommand(command.palette, () => runPaletteCommand(current, command, log)),
    ),
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

/**
 * Sends the server's command itself rather than running the id the language client registered
 * for it: that way the request carries a cancellation token, tied to the progress notification's
 * Cancel button, which reaches the server as $/cancelRequest.
 */
async function runPaletteCommand(
  current: ServerSession,
  command: PaletteCommand,
  log: vscode.LogOutputChannel,
): Promise<void> {
  let args;
  try {
    args = buildCommandArguments(
      command,
      vscode.window.activeTextEditor,
      vscode.workspace.workspaceFolders?.[0]?.uri.toString(),
    );
  } catch (error) {
    if (error instanceof CommandArgumentError) {
      void vscode.window.showWarningMessage(`Hearth: ${error.message}`);
      return;
    }
    throw error;
  }
  const client = await current.runningClient();
  if (!client) {
    const choice = await vscode.window.showErrorMessage(
      "Hearth: the server is not running.",
      "Show logs",
      "Restart server",
    );
    if (choice === "Show logs") {
      log.show();
    } else if (choice === "Restart server") {
      await current.restart();
    }
    return;
  }
  const offered = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  if (!offered.includes(command.server)) {
    void vscode.window.showWarningMessage(
      `Hearth: this server does not offer ${command.server} yet; update Hearth.`,
    );
    return;
  }
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Hearth: ${command.title}`, cancellable: true },
      async (_progress, token) => {
        const params = { command: command.server, arguments: [args] };
        let result: unknown;
        try {
          result = await client.sendRequest(ExecuteCommandRequest.type, params, token);
        } catch (error) {
          if (token.isCancellationRequested) {
            log.info(`${command.server} cancelled`);
            return;
          }
          throw error;
        }
        await current.presentResult(command.server, result);
      },
    );
  } catch (error) {
    log.warn(`${command.server} failed: ${String(error)}`);
    const message = failureMessage(command, error);
    if (message) {
      void vscode.window.showErrorMessage(message);
    }
  }
}
