/**
 * Explain's Markdown in a preview beside the editor, filled as the model writes it: a virtual
 * document (scheme `hearth-explain`) whose content provider fires onDidChange on every update,
 * shown by VS Code's own Markdown preview, which re-renders when its document changes.
 *
 * Why not a webview: the Markdown preview already renders (and themes, and scrolls) Markdown the
 * way users know, and a content provider is plain data the tests can read through the stub. Why
 * not the file the extension wrote before: a write per update goes through the disk and the file
 * watcher, and a half-written answer would be left on disk.
 */
import * as vscode from "vscode";
import { isRecord } from "./json";

/** What the server sends while an action that streams is answered (see docs/vscode.md). */
export const EXPLAIN_PROGRESS_NOTIFICATION = "hearth/explainProgress";
export const PREVIEW_SCHEME = "hearth-explain";
const PREVIEW_PATH = "/Hearth explanation.md";

export interface AnswerProgress {
  /** The id of the request being answered. */
  id: number | string;
  /** The whole answer so far (not a delta: an update may replace any earlier one). */
  text: string;
}

export function parseAnswerProgress(params: unknown): AnswerProgress | undefined {
  if (!isRecord(params) || typeof params.text !== "string") {
    return undefined;
  }
  const { id } = params;
  if (typeof id !== "number" && typeof id !== "string") {
    return undefined;
  }
  return { id, text: params.text };
}

/**
 * One preview document, rewritten by each explanation, so the open preview follows the newest
 * one (as the file it replaces did). The server sends every partial text of a request before
 * that request's answer, so a partial text that comes after a final one belongs to a newer
 * request, and rightly replaces it.
 */
export class ExplainPreview implements vscode.TextDocumentContentProvider, vscode.Disposable {
  readonly uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: PREVIEW_PATH });
  private readonly changes = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changes.event;
  private text = "";
  /** The request whose partial text is shown; undefined once its final text has come. */
  private streaming: number | string | undefined;
  /** How many times the content changed, for the tests and the log. */
  updates = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return uri.toString() === this.uri.toString() ? this.text : "";
  }

  /** The answer so far of request `update.id`; the preview opens with the first one. */
  async showPartial(update: AnswerProgress): Promise<void> {
    this.replace(update.text);
    if (update.id !== this.streaming) {
      this.streaming = update.id;
      await this.reveal();
    }
  }

  /**
   * The final document: replaces whatever partial text is shown, and shows the preview again
   * (VS Code reuses the open preview of the same document; one closed meanwhile reopens).
   */
  async showFinal(markdown: string): Promise<void> {
    this.streaming = undefined;
    this.replace(markdown);
    await this.reveal();
  }

  get current(): string {
    return this.text;
  }

  private replace(text: string): void {
    this.text = text;
    this.updates++;
    this.changes.fire(this.uri);
  }

  private async reveal(): Promise<void> {
    await vscode.commands.executeCommand("markdown.showPreviewToSide", this.uri);
  }

  dispose(): void {
    this.changes.dispose();
  }
}
