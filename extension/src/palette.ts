/**
 * The palette commands that run a server command: argument from the active editor, a running
 * server that offers the command, and a cancellable progress notification while it works.
 */
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import {
  actionsFromServer,
  buildCommandArguments,
  CommandArgumentError,
  failureMessage,
  LIST_ACTIONS_COMMAND,
  PALETTE_COMMANDS,
  RUN_ACTION_PALETTE,
  type CommandArguments,
  type PaletteCommand,
} from "./commands";
import type { ServerSession } from "./session";

export function registerPaletteCommands(
  session: ServerSession,
  log: vscode.LogOutputChannel,
): vscode.Disposable[] {
  return [
    ...PALETTE_COMMANDS.map((command) =>
      vscode.commands.registerCommand(command.palette, () => runPaletteCommand(session, command, log)),
    ),
    vscode.commands.registerCommand(RUN_ACTION_PALETTE, () => pickAndRun(session, log)),
  ];
}

/** "Hearth: Run an action…": the actions the running server lists, picked from a quick pick. */
async function pickAndRun(session: ServerSession, log: vscode.LogOutputChannel): Promise<void> {
  const client = await clientOffering(session, LIST_ACTIONS_COMMAND, log);
  if (!client) {
    return;
  }
  let actions: PaletteCommand[];
  try {
    const listed = await client.sendRequest(ExecuteCommandRequest.type, {
      command: LIST_ACTIONS_COMMAND,
      arguments: [],
    });
    actions = actionsFromServer(listed);
  } catch (error) {
    log.warn(`${LIST_ACTIONS_COMMAND} failed: ${String(error)}`);
    void vscode.window.showErrorMessage(`Hearth: the server could not list its actions: ${String(error)}`);
    return;
  }
  const index = PALETTE_COMMANDS.filter((command) => !command.needsEditor);
  const choice = await vscode.window.showQuickPick(
    [...actions, ...index].map((command) => ({ label: command.title, command })),
    { placeHolder: "Hearth: run an action on the code at the cursor" },
  );
  if (choice) {
    await runPaletteCommand(session, choice.command, log);
  }
}

async function runPaletteCommand(
  session: ServerSession,
  command: PaletteCommand,
  log: vscode.LogOutputChannel,
): Promise<void> {
  const args = argumentsFromEditor(command);
  if (!args) {
    return;
  }
  const client = await clientOffering(session, command.server, log);
  if (!client) {
    return;
  }
  try {
    await sendWithProgress(client, session, command, args, log);
  } catch (error) {
    log.warn(`${command.server} failed: ${String(error)}`);
    if (session.feedback.offerAfterFailure(error)) {
      return;
    }
    const message = failureMessage(command, error);
    if (message) {
      void vscode.window.showErrorMessage(message);
    }
  }
}

function argumentsFromEditor(command: PaletteCommand): CommandArguments | undefined {
  try {
    return buildCommandArguments(
      command,
      vscode.window.activeTextEditor,
      vscode.workspace.workspaceFolders?.[0]?.uri.toString(),
    );
  } catch (error) {
    if (error instanceof CommandArgumentError) {
      void vscode.window.showWarningMessage(`Hearth: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

/**
 * The running client, once any restart is over, if its server offers the command; otherwise
 * says why not (with a way out) and gives undefined.
 */
export async function clientOffering(
  session: ServerSession,
  command: string,
  log: vscode.LogOutputChannel,
): Promise<LanguageClient | undefined> {
  const client = await session.runningClient();
  if (!client) {
    const choice = await vscode.window.showErrorMessage(
      "Hearth: the server is not running.",
      "Show logs",
      "Restart server",
    );
    if (choice === "Show logs") {
      log.show();
    } else if (choice === "Restart server") {
      await session.restart();
    }
    return undefined;
  }
  const offered = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  if (!offered.includes(command)) {
    void vscode.window.showWarningMessage(`Hearth: this server does not offer ${command} yet; update Hearth.`);
    return undefined;
  }
  return client;
}

/**
 * Sends the command itself rather than running the id the language client registered for it:
 * that way the request carries a cancellation token, tied to the notification's Cancel button,
 * which reaches the server as $/cancelRequest.
 */
async function sendWithProgress(
  client: LanguageClient,
  session: ServerSession,
  command: PaletteCommand,
  args: CommandArguments,
  log: vscode.LogOutputChannel,
): Promise<void> {
  const options = {
    location: vscode.ProgressLocation.Notification,
    title: `Hearth: ${command.title}`,
    cancellable: true,
  };
  await vscode.window.withProgress(options, async (_progress, token) => {
    let result: unknown;
    try {
      const params = { command: command.server, arguments: [args] };
      result = await client.sendRequest(ExecuteCommandRequest.type, params, token);
    } catch (error) {
      if (token.isCancellationRequested) {
        log.info(`${command.server} cancelled`);
        return;
      }
      throw error;
    }
    await session.presentResult(command.server, result);
  });
}
