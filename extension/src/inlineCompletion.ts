/**
 * Inline completion (ghost text). vscode-languageclient 11 sends textDocument/inlineCompletion
 * itself: its built-in InlineCompletionItemFeature declares the client capability and, once the
 * server advertises `inlineCompletionProvider`, registers VS Code's provider for the client's
 * document selector, passing VS Code's cancellation token to the request. What is left here is
 * a command that asks for a suggestion now (the languages are in languages.ts).
 */
import * as vscode from "vscode";

export const TRIGGER_INLINE_COMPLETION_COMMAND = "hearth.triggerInlineCompletion";

/**
 * "Hearth: Suggest inline completion", for `hearth.completion.trigger: onRequest`: VS Code's
 * own trigger, which asks every inline completion provider with triggerKind Invoke (the server
 * answers only those requests then).
 */
export function registerInlineCompletionCommand(): vscode.Disposable {
  return vscode.commands.registerCommand(TRIGGER_INLINE_COMPLETION_COMMAND, () =>
    vscode.commands.executeCommand("editor.action.inlineSuggest.trigger"),
  );
}
