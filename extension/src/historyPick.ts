/**
 * "Hearth: Show history": the server's history of answers (`hearth.history`) in a quick pick,
 * newest first; picking one rates it (`hearth.feedback`) or opens its file at its target.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  describeEntry,
  entryPlace,
  findTarget,
  HISTORY_COMMAND,
  parseHistory,
  type HistoryEntry,
  type Rating,
} from "./history";
import { clientOffering } from "./palette";
import type { ServerSession } from "./session";

export const SHOW_HISTORY_COMMAND = "hearth.showHistory";
/** The newest answers; typing in the quick pick filters them. */
export const HISTORY_LIMIT = 200;

export function registerHistoryCommand(session: ServerSession, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand(SHOW_HISTORY_COMMAND, () => showHistory(session, log));
}

async function showHistory(session: ServerSession, log: vscode.LogOutputChannel): Promise<void> {
  if (!(await clientOffering(session, HISTORY_COMMAND, log))) {
    return;
  }
  let answer: unknown;
  try {
    answer = await session.runServerCommand(HISTORY_COMMAND, { limit: HISTORY_LIMIT });
  } catch (error) {
    log.warn(`${HISTORY_COMMAND} failed: ${String(error)}`);
    void vscode.window.showErrorMessage(`Hearth: the server could not list its history: ${errorText(error)}`);
    return;
  }
  const page = parseHistory(answer);
  if (!page) {
    log.warn(`Ignored a ${HISTORY_COMMAND} answer that does not fit: ${JSON.stringify(answer)}`);
    void vscode.window.showErrorMessage("Hearth: the server's history answer does not fit; see the logs.");
    return;
  }
  if (!page.enabled) {
    void vscode.window.showInformationMessage(
      "Hearth: the history is off for this workspace (hearth.history.enabled), so there is nothing to show.",
    );
    return;
  }
  if (page.entries.length === 0) {
    void vscode.window.showInformationMessage(
      "Hearth: no answers in the history yet. Each Generate, Fix, Explain or Generate tests adds one.",
    );
    return;
  }
  const now = new Date();
  const picked = await vscode.window.showQuickPick(
    page.entries.map((entry) => ({ ...describeEntry(entry, now), entry })),
    {
      title: "Hearth: History",
      placeHolder: "Pick an answer to rate it or to open its code",
      matchOnDescription: true,
      matchOnDetail: true,
    },
  );
  if (picked) {
    await actOnEntry(session, picked.entry, picked.label);
  }
}

interface EntryChoice extends vscode.QuickPickItem {
  run: () => Promise<unknown>;
}

function ratingChoice(session: ServerSession, entry: HistoryEntry, rating: Rating): EntryChoice {
  const icon = rating === "good" ? "$(thumbsup)" : "$(thumbsdown)";
  return {
    label: `${icon} Mark ${rating}`,
    description: entry.feedback === rating ? "its rating now" : undefined,
    run: () => session.feedback.rate(entry.id, rating),
  };
}

async function actOnEntry(session: ServerSession, entry: HistoryEntry, label: string): Promise<void> {
  const choices = [ratingChoice(session, entry, "good"), ratingChoice(session, entry, "bad")];
  if (entry.file) {
    choices.push({
      label: "$(go-to-file) Open",
      description: entryPlace(entry),
      run: () => openEntry(entry),
    });
  }
  const choice = await vscode.window.showQuickPick(choices, { title: label, placeHolder: "Rate this answer or open its code" });
  await choice?.run();
}

/** The entry's file: absolute, a URI, or relative to the workspace folder that has it. */
export function entryUri(file: string): vscode.Uri | undefined {
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(file)) {
    return vscode.Uri.parse(file);
  }
  if (path.isAbsolute(file)) {
    return vscode.Uri.file(file);
  }
  const candidates = (vscode.workspace.workspaceFolders ?? []).map((folder) => vscode.Uri.joinPath(folder.uri, file));
  return candidates.find((uri) => fs.existsSync(uri.fsPath)) ?? candidates[0];
}

/** Opens the entry's file with the target (the function it was about) selected, when it is still there. */
async function openEntry(entry: HistoryEntry): Promise<void> {
  const file = entry.file ?? "";
  const uri = entryUri(file);
  if (!uri) {
    void vscode.window.showWarningMessage(`Hearth: open a workspace folder to open ${file}.`);
    return;
  }
  let document: vscode.TextDocument;
  try {
    document = await vscode.workspace.openTextDocument(uri);
  } catch (error) {
    void vscode.window.showWarningMessage(`Hearth: cannot open ${file}: ${errorText(error)}`);
    return;
  }
  const at = entry.target ? findTarget(document.getText(), entry.target) : undefined;
  const selection = at && new vscode.Range(at.line, at.character, at.line, at.character + at.length);
  await vscode.window.showTextDocument(document, selection ? { selection } : undefined);
  if (entry.target && !at) {
    vscode.window.setStatusBarMessage(`Hearth: ${entry.target} is no longer in ${file}`, 5000);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
