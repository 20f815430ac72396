/**
 * The palette commands that run a server command: the arguments they send (built from the active
 * editor) and what is shown with the server's answer (Explain's Markdown, messages).
 */
import { isRecord } from "./json";

export interface PaletteCommand {
  /** The id contributed to the palette, registered by this extension. */
  palette: string;
  /** The id the server registers through executeCommandProvider. */
  server: string;
  /** As in the palette, after "Hearth: ". */
  title: string;
  /** Whether the command works on the code at the cursor rather than on the whole workspace. */
  needsEditor: boolean;
}

export const PALETTE_COMMANDS: readonly PaletteCommand[] = [
  { palette: "hearth.palette.generate", server: "hearth.generate", title: "Generate implementation", needsEditor: true },
  { palette: "hearth.palette.fix", server: "hearth.fix", title: "Fix", needsEditor: true },
  { palette: "hearth.palette.explain", server: "hearth.explain", title: "Explain", needsEditor: true },
  { palette: "hearth.palette.generateTests", server: "hearth.generateTests", title: "Generate tests", needsEditor: true },
  { palette: "hearth.palette.indexWorkspace", server: "hearth.indexWorkspace", title: "Index workspace", needsEditor: false },
];

export const EXPLAIN_COMMAND = "hearth.explain";

/** The server command that lists the actions it runs, and the palette entry built on it. */
export const LIST_ACTIONS_COMMAND = "hearth.listActions";
export const RUN_ACTION_PALETTE = "hearth.palette.run";

/**
 * The server's actions from its `hearth.listActions` answer, as palette commands: a fifth
 * action added to the server shows up here without a change to the extension. Entries that are
 * not well-formed are left out; an answer that is not a list gives none.
 */
export function actionsFromServer(result: unknown): PaletteCommand[] {
  const listed = isRecord(result) && Array.isArray(result.actions) ? result.actions : [];
  const actions: PaletteCommand[] = [];
  for (const entry of listed) {
    if (isRecord(entry) && typeof entry.command === "string" && typeof entry.title === "string") {
      actions.push({ palette: RUN_ACTION_PALETTE, server: entry.command, title: entry.title, needsEditor: true });
    }
  }
  return actions;
}

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

/** The one argument every Hearth server command takes. */
export interface CommandArguments {
  uri: string;
  position?: LspPosition;
  range?: LspRange;
  version?: number;
}

/** The parts of `vscode.TextEditor` the arguments come from. */
export interface EditorLike {
  document: { uri: { toString(): string }; version: number; languageId: string };
  selection: { start: LspPosition; end: LspPosition; active: LspPosition; isEmpty: boolean };
}

export class CommandArgumentError extends Error {}

function plainPosition(position: LspPosition): LspPosition {
  return { line: position.line, character: position.character };
}

/**
 * Arguments from the active editor: the cursor, and the selection when there is one (an empty
 * selection is left out so that the server picks the code around the cursor). Index workspace
 * also runs without an editor, on the first workspace folder.
 */
export function buildCommandArguments(
  command: PaletteCommand,
  editor: EditorLike | undefined,
  workspaceFolderUri: string | undefined,
): CommandArguments {
  if (!editor || editor.document.languageId !== "python") {
    if (!command.needsEditor && workspaceFolderUri) {
      return { uri: workspaceFolderUri };
    }
    throw new CommandArgumentError(
      command.needsEditor
        ? "Open a Python file and put the cursor in the code first."
        : "Open a folder or a Python file first.",
    );
  }
  const { document, selection } = editor;
  const args: CommandArguments = {
    uri: document.uri.toString(),
    position: plainPosition(selection.active),
    version: document.version,
  };
  if (!selection.isEmpty) {
    args.range = { start: plainPosition(selection.start), end: plainPosition(selection.end) };
  }
  return args;
}

/** What to show for a server command's result. */
export interface Presentation {
  markdown?: string;
  message?: string;
}

export function presentationOf(command: string, result: unknown): Presentation {
  if (!isRecord(result)) {
    return {};
  }
  const presentation: Presentation = {};
  if (command === EXPLAIN_COMMAND && typeof result.markdown === "string") {
    presentation.markdown = result.markdown;
  }
  if (typeof result.message === "string" && result.message.trim()) {
    presentation.message = result.message;
  }
  return presentation;
}

// LSP error codes that decide what the user is told about a failed command.
const REQUEST_CANCELLED = -32800;
const CONTENT_MODIFIED = -32801;
export const REQUEST_FAILED = -32803;

/**
 * What to tell the user when a server command fails, or undefined when there is nothing to add:
 * a cancellation is the user's own doing, and for RequestFailed the server has already shown
 * its message (with a hint) through window/showMessage.
 */
export function failureMessage(command: PaletteCommand, error: unknown): string | undefined {
  const code = isRecord(error) && typeof error.code === "number" ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (code === REQUEST_CANCELLED || code === REQUEST_FAILED) {
    return undefined;
  }
  if (code === CONTENT_MODIFIED) {
    return `Hearth: ${message}`;
  }
  return `Hearth: ${command.title} failed: ${message}`;
}
