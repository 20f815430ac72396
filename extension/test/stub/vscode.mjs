// A small stand-in for the `vscode` module, enough for the extension's logic and for the real
// vscode-languageclient to run in plain Node. Documents live in memory; settings start from the
// defaults in package.json; what the code asks of VS Code (messages, commands it runs, providers
// it registers) is recorded in `testing` for the tests to inspect.
import { readFileSync } from "node:fs";
import { mkdir, readFile, stat as fsStat, writeFile } from "node:fs/promises";
import { URI, Utils } from "vscode-uri";
import manifest from "../../../package.json";

export const version = "1.91.0";

// ---------------------------------------------------------------- events and lifetimes

export class Disposable {
  constructor(callOnDispose) {
    this.callOnDispose = callOnDispose;
  }
  static from(...disposables) {
    return new Disposable(() => disposables.forEach((item) => item?.dispose()));
  }
  dispose() {
    this.callOnDispose?.();
    this.callOnDispose = undefined;
  }
}

export class EventEmitter {
  listeners = new Set();
  event = (listener, thisArg, disposables) => {
    const bound = thisArg ? listener.bind(thisArg) : listener;
    this.listeners.add(bound);
    const disposable = new Disposable(() => this.listeners.delete(bound));
    disposables?.push(disposable);
    return disposable;
  };
  fire(value) {
    for (const listener of [...this.listeners]) {
      listener(value);
    }
  }
  dispose() {
    this.listeners.clear();
  }
}

export class CancellationError extends Error {
  constructor() {
    super("Canceled");
    this.name = "Canceled";
  }
}

export class CancellationTokenSource {
  emitter = new EventEmitter();
  token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel() {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.emitter.fire(undefined);
    }
  }
  dispose() {
    this.emitter.dispose();
  }
}

// ---------------------------------------------------------------- text values

export class Uri extends URI {
  static [Symbol.hasInstance](value) {
    return URI.isUri(value);
  }
  static joinPath = Utils.joinPath;
}

export class Position {
  constructor(line, character) {
    this.line = line;
    this.character = character;
  }
  compareTo(other) {
    return this.line - other.line || this.character - other.character;
  }
  isBefore(other) {
    return this.compareTo(other) < 0;
  }
  isBeforeOrEqual(other) {
    return this.compareTo(other) <= 0;
  }
  isAfter(other) {
    return this.compareTo(other) > 0;
  }
  isAfterOrEqual(other) {
    return this.compareTo(other) >= 0;
  }
  isEqual(other) {
    return this.compareTo(other) === 0;
  }
  translate(lineDelta = 0, characterDelta = 0) {
    return new Position(this.line + lineDelta, this.character + characterDelta);
  }
  with(line = this.line, character = this.character) {
    return new Position(line, character);
  }
}

export class Range {
  constructor(startOrLine, endOrCharacter, endLine, endCharacter) {
    if (typeof startOrLine === "number") {
      this.start = new Position(startOrLine, endOrCharacter);
      this.end = new Position(endLine, endCharacter);
    } else {
      this.start = startOrLine;
      this.end = endOrCharacter;
    }
  }
  get isEmpty() {
    return this.start.isEqual(this.end);
  }
  get isSingleLine() {
    return this.start.line === this.end.line;
  }
  contains(positionOrRange) {
    if (positionOrRange instanceof Range) {
      return this.contains(positionOrRange.start) && this.contains(positionOrRange.end);
    }
    return this.start.isBeforeOrEqual(positionOrRange) && this.end.isAfterOrEqual(positionOrRange);
  }
  with(start = this.start, end = this.end) {
    return new Range(start, end);
  }
}

export class Selection extends Range {
  constructor(anchor, active) {
    const [start, end] = anchor.isBeforeOrEqual(active) ? [anchor, active] : [active, anchor];
    super(start, end);
    this.anchor = anchor;
    this.active = active;
  }
  get isReversed() {
    return this.active.isBefore(this.anchor);
  }
}

export class Location {
  constructor(uri, rangeOrPosition) {
    this.uri = uri;
    this.range = rangeOrPosition instanceof Position ? new Range(rangeOrPosition, rangeOrPosition) : rangeOrPosition;
  }
}

export class TextEdit {
  constructor(range, newText) {
    this.range = range;
    this.newText = newText;
  }
  static replace(range, newText) {
    return new TextEdit(range, newText);
  }
  static insert(position, newText) {
    return new TextEdit(new Range(position, position), newText);
  }
  static delete(range) {
    return new TextEdit(range, "");
  }
}

export class SnippetString {
  constructor(value = "") {
    this.value = value;
  }
}

export class SnippetTextEdit {
  constructor(range, snippet) {
    this.range = range;
    this.snippet = snippet;
  }
}

export class MarkdownString {
  constructor(value = "", supportThemeIcons = false) {
    this.value = value;
    this.supportThemeIcons = supportThemeIcons;
  }
  appendMarkdown(value) {
    this.value += value;
    return this;
  }
  appendText(value) {
    this.value += value;
    return this;
  }
  appendCodeblock(code, language = "") {
    this.value += `\n\`\`\`${language}\n${code}\n\`\`\`\n`;
    return this;
  }
}

/** Text edits by document, plus file operations, in the order they were added. */
export class WorkspaceEdit {
  textEdits = new Map();
  fileOperations = [];
  get size() {
    return this.textEdits.size + this.fileOperations.length;
  }
  editsFor(uri) {
    const key = uri.toString();
    if (!this.textEdits.has(key)) {
      this.textEdits.set(key, { uri, edits: [] });
    }
    return this.textEdits.get(key).edits;
  }
  replace(uri, range, newText) {
    this.editsFor(uri).push(new TextEdit(range, newText));
  }
  insert(uri, position, newText) {
    this.editsFor(uri).push(TextEdit.insert(position, newText));
  }
  delete(uri, range) {
    this.editsFor(uri).push(TextEdit.delete(range));
  }
  has(uri) {
    return this.textEdits.has(uri.toString());
  }
  set(uri, edits) {
    const list = this.editsFor(uri);
    list.length = 0;
    for (const entry of edits ?? []) {
      list.push(Array.isArray(entry) ? entry[0] : entry);
    }
  }
  get(uri) {
    return [...(this.textEdits.get(uri.toString())?.edits ?? [])];
  }
  entries() {
    return [...this.textEdits.values()].map(({ uri, edits }) => [uri, [...edits]]);
  }
  createFile(uri, options) {
    this.fileOperations.push({ kind: "create", uri, options });
  }
  deleteFile(uri, options) {
    this.fileOperations.push({ kind: "delete", uri, options });
  }
  renameFile(oldUri, newUri, options) {
    this.fileOperations.push({ kind: "rename", oldUri, newUri, options });
  }
}

// ---------------------------------------------------------------- language feature values

export class CodeActionKind {
  static sep = ".";
  constructor(value) {
    this.value = value;
  }
  append(part) {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
  intersects(other) {
    return this.contains(other) || other.contains(this);
  }
  contains(other) {
    return this.value === "" || other.value === this.value || other.value.startsWith(`${this.value}.`);
  }
}
for (const [name, value] of Object.entries({
  Empty: "",
  QuickFix: "quickfix",
  Refactor: "refactor",
  RefactorExtract: "refactor.extract",
  RefactorInline: "refactor.inline",
  RefactorMove: "refactor.move",
  RefactorRewrite: "refactor.rewrite",
  Source: "source",
  SourceOrganizeImports: "source.organizeImports",
  SourceFixAll: "source.fixAll",
  Notebook: "notebook",
})) {
  CodeActionKind[name] = new CodeActionKind(value);
}

export class CodeAction {
  constructor(title, kind) {
    this.title = title;
    this.kind = kind;
  }
}

export class Diagnostic {
  constructor(range, message, severity = DiagnosticSeverity.Error) {
    this.range = range;
    this.message = message;
    this.severity = severity;
  }
}

export class DiagnosticRelatedInformation {
  constructor(location, message) {
    this.location = location;
    this.message = message;
  }
}

/** Value classes whose fields the tests never look into: they keep their arguments. */
function valueClass(name, ...fields) {
  return {
    [name]: class {
      constructor(...args) {
        fields.forEach((field, index) => {
          this[field] = args[index];
        });
      }
    },
  }[name];
}

export const Hover = valueClass("Hover", "contents", "range");
export const CodeLens = valueClass("CodeLens", "range", "command");
export const CompletionItem = valueClass("CompletionItem", "label", "kind");
export const CompletionList = valueClass("CompletionList", "items", "isIncomplete");
export const DocumentLink = valueClass("DocumentLink", "range", "target");
export const InlayHint = valueClass("InlayHint", "position", "label", "kind");
export const InlayHintLabelPart = valueClass("InlayHintLabelPart", "value");
export const TypeHierarchyItem = valueClass("TypeHierarchyItem", "kind", "name", "detail", "uri", "range", "selectionRange");
export const CallHierarchyItem = valueClass("CallHierarchyItem", "kind", "name", "detail", "uri", "range", "selectionRange");
export const CallHierarchyIncomingCall = valueClass("CallHierarchyIncomingCall", "from", "fromRanges");
export const CallHierarchyOutgoingCall = valueClass("CallHierarchyOutgoingCall", "to", "fromRanges");
export const SymbolInformation = valueClass("SymbolInformation", "name", "kind", "containerName", "location");
export const DocumentSymbol = valueClass("DocumentSymbol", "name", "detail", "kind", "range", "selectionRange");
export const DocumentHighlight = valueClass("DocumentHighlight", "range", "kind");
export const SignatureHelp = valueClass("SignatureHelp");
export const SignatureInformation = valueClass("SignatureInformation", "label", "documentation");
export const ParameterInformation = valueClass("ParameterInformation", "label", "documentation");
export const FoldingRange = valueClass("FoldingRange", "start", "end", "kind");
export const SelectionRange = valueClass("SelectionRange", "range", "parent");
export const SemanticTokens = valueClass("SemanticTokens", "data", "resultId");
export const SemanticTokensEdit = valueClass("SemanticTokensEdit", "start", "deleteCount", "data");
export const SemanticTokensEdits = valueClass("SemanticTokensEdits", "edits", "resultId");
export const SemanticTokensLegend = valueClass("SemanticTokensLegend", "tokenTypes", "tokenModifiers");
export const LinkedEditingRanges = valueClass("LinkedEditingRanges", "ranges", "wordPattern");
export const Color = valueClass("Color", "red", "green", "blue", "alpha");
export const ColorInformation = valueClass("ColorInformation", "range", "color");
export const ColorPresentation = valueClass("ColorPresentation", "label");
export const InlineValueText = valueClass("InlineValueText", "range", "text");
export const InlineValueVariableLookup = valueClass("InlineValueVariableLookup", "range", "variableName", "caseSensitiveLookup");
export const InlineValueEvaluatableExpression = valueClass("InlineValueEvaluatableExpression", "range", "expression");
export const InlineCompletionItem = valueClass("InlineCompletionItem", "insertText", "range", "command");
export const InlineCompletionList = valueClass("InlineCompletionList", "items");
export const RelativePattern = valueClass("RelativePattern", "base", "pattern");
export const ThemeColor = valueClass("ThemeColor", "id");
export const ThemeIcon = valueClass("ThemeIcon", "id", "color");
export const TabInputText = valueClass("TabInputText", "uri");
export const TabInputTextDiff = valueClass("TabInputTextDiff", "original", "modified");
export const TabInputCustom = valueClass("TabInputCustom", "uri", "viewType");
export const TabInputNotebook = valueClass("TabInputNotebook", "uri", "notebookType");

// ---------------------------------------------------------------- enums

export const DiagnosticSeverity = { Error: 0, Warning: 1, Information: 2, Hint: 3 };
export const DiagnosticTag = { Unnecessary: 1, Deprecated: 2 };
export const CodeActionTriggerKind = { Invoke: 1, Automatic: 2 };
export const CompletionItemKind = Object.fromEntries(
  ["Text", "Method", "Function", "Constructor", "Field", "Variable", "Class", "Interface", "Module",
    "Property", "Unit", "Value", "Enum", "Keyword", "Snippet", "Color", "File", "Reference", "Folder",
    "EnumMember", "Constant", "Struct", "Event", "Operator", "TypeParameter", "User", "Issue"]
    .map((name, index) => [name, index]),
);
export const CompletionItemTag = { Deprecated: 1 };
export const CompletionTriggerKind = { Invoke: 0, TriggerCharacter: 1, TriggerForIncompleteCompletions: 2 };
export const SymbolKind = Object.fromEntries(
  ["File", "Module", "Namespace", "Package", "Class", "Method", "Property", "Field", "Constructor",
    "Enum", "Interface", "Function", "Variable", "Constant", "String", "Number", "Boolean", "Array",
    "Object", "Key", "Null", "EnumMember", "Struct", "Event", "Operator", "TypeParameter"]
    .map((name, index) => [name, index]),
);
export const SymbolTag = { Deprecated: 1 };
export const DocumentHighlightKind = { Text: 0, Read: 1, Write: 2 };
export const FoldingRangeKind = { Comment: 1, Imports: 2, Region: 3 };
export const SignatureHelpTriggerKind = { Invoke: 1, TriggerCharacter: 2, ContentChange: 3 };
export const InlayHintKind = { Type: 1, Parameter: 2 };
export const InlineCompletionTriggerKind = { Invoke: 0, Automatic: 1 };
export const TextDocumentSaveReason = { Manual: 1, AfterDelay: 2, FocusOut: 3 };
export const FileType = { Unknown: 0, File: 1, Directory: 2, SymbolicLink: 64 };
export const NotebookCellKind = { Markup: 1, Code: 2 };
export const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 };
export const StatusBarAlignment = { Left: 1, Right: 2 };
export const ConfigurationTarget = { Global: 1, Workspace: 2, WorkspaceFolder: 3 };
export const ExtensionMode = { Production: 1, Development: 2, Test: 3 };
export const EndOfLine = { LF: 1, CRLF: 2 };
export const UIKind = { Desktop: 1, Web: 2 };
export const LogLevel = { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 };

// ---------------------------------------------------------------- what the tests inspect

export const testing = {
  /** [{kind: "error" | "warning" | "information", message, items}] */
  /** @type {any[]} */
  messages: [],
  /** Answers for the next show*Message calls, first in first out; undefined when empty. */
  /** @type {any[]} */
  messageAnswers: [],
  /** Commands run through commands.executeCommand that nobody registered here (VS Code's own). */
  /** @type {any[]} */
  externalCommands: [],
  /** [{name, args}] for every languages.register* and workspace.register* call */
  /** @type {any[]} */
  registrations: [],
  /** @type {any[]} */
  statusBarItems: [],
  /** @type {any[]} */
  outputChannels: [],
  /** @type {any[]} */
  openedExternally: [],
  /** window.withProgress calls: [{options, reports, cancel(), done}] */
  /** @type {any[]} */
  progress: [],
  /** window.showQuickPick calls: [{items, options}] (items once their promise settled). */
  /** @type {any[]} */
  quickPicks: [],
  /**
   * Answers for the next showQuickPick calls, first in first out: a label (the first item with
   * it), a function of the items, or undefined (dismissed, also when none is left).
   */
  /** @type {any[]} */
  quickPickAnswers: [],
  /** window.showInputBox calls: [options] */
  /** @type {any[]} */
  inputBoxes: [],
  /** Answers for the next showInputBox calls, first in first out; undefined (Escape) when empty. */
  /** @type {any[]} */
  inputBoxAnswers: [],
  /** window.setStatusBarMessage texts. */
  /** @type {string[]} */
  statusBarMessages: [],
  /** The log level of output channels created from now on (the language client traces at Trace). */
  logLevel: LogLevel.Info,
  reset() {
    this.messages.length = 0;
    this.messageAnswers.length = 0;
    this.quickPicks.length = 0;
    this.quickPickAnswers.length = 0;
    this.inputBoxes.length = 0;
    this.inputBoxAnswers.length = 0;
    this.statusBarMessages.length = 0;
    this.externalCommands.length = 0;
    this.openedExternally.length = 0;
    this.progress.length = 0;
    userSettings.clear();
  },
  /** The provider object passed to the newest languages.register<name>. */
  provider(name) {
    const found = this.registrations.filter((entry) => entry.name === name).pop();
    return found?.args[1];
  },
};

// ---------------------------------------------------------------- documents and editors

function lineStarts(text) {
  const starts = [0];
  for (let index = 0; index < text.length; index++) {
    if (text[index] === "\n") {
      starts.push(index + 1);
    }
  }
  return starts;
}

class TextDocument {
  constructor(uri, languageId, text) {
    this.uri = uri;
    this.languageId = languageId;
    this.text = text;
    this.version = 1;
    this.isClosed = false;
    this.isDirty = false;
    this.eol = EndOfLine.LF;
    this.encoding = "utf8";
  }
  get fileName() {
    return this.uri.fsPath;
  }
  get isUntitled() {
    return this.uri.scheme === "untitled";
  }
  get lineCount() {
    return lineStarts(this.text).length;
  }
  offsetAt(position) {
    const starts = lineStarts(this.text);
    if (position.line >= starts.length) {
      return this.text.length;
    }
    const lineEnd = position.line + 1 < starts.length ? starts[position.line + 1] - 1 : this.text.length;
    return Math.min(starts[position.line] + position.character, lineEnd);
  }
  positionAt(offset) {
    const starts = lineStarts(this.text);
    let line = 0;
    while (line + 1 < starts.length && starts[line + 1] <= offset) {
      line++;
    }
    return new Position(line, offset - starts[line]);
  }
  getText(range) {
    return range ? this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end)) : this.text;
  }
  lineAt(lineOrPosition) {
    const line = typeof lineOrPosition === "number" ? lineOrPosition : lineOrPosition.line;
    const text = this.text.split("\n")[line] ?? "";
    const range = new Range(line, 0, line, text.length);
    return { lineNumber: line, text, range, rangeIncludingLineBreak: range, isEmptyOrWhitespace: !text.trim() };
  }
  validatePosition(position) {
    return this.positionAt(this.offsetAt(position));
  }
  validateRange(range) {
    return new Range(this.validatePosition(range.start), this.validatePosition(range.end));
  }
  getWordRangeAtPosition() {
    return undefined;
  }
  save() {
    return Promise.resolve(true);
  }
  /** Applies non-overlapping edits (their ranges refer to the text before any of them). */
  applyEdits(edits) {
    const ordered = [...edits].sort((a, b) => b.range.start.compareTo(a.range.start));
    const contentChanges = [];
    for (const edit of ordered) {
      const startOffset = this.offsetAt(edit.range.start);
      const endOffset = this.offsetAt(edit.range.end);
      contentChanges.push({
        range: new Range(this.positionAt(startOffset), this.positionAt(endOffset)),
        rangeOffset: startOffset,
        rangeLength: endOffset - startOffset,
        text: edit.newText,
      });
      this.text = this.text.slice(0, startOffset) + edit.newText + this.text.slice(endOffset);
    }
    this.version++;
    this.isDirty = true;
    return contentChanges;
  }
}

const documents = new Map();
const didOpenTextDocument = new EventEmitter();
const didCloseTextDocument = new EventEmitter();
const didChangeTextDocument = new EventEmitter();
const didSaveTextDocument = new EventEmitter();
const didChangeConfiguration = new EventEmitter();
const didChangeActiveTextEditor = new EventEmitter();
const didChangeVisibleTextEditors = new EventEmitter();

function openDocument(uri, languageId, text) {
  const existing = documents.get(uri.toString());
  if (existing) {
    return existing;
  }
  const document = new TextDocument(uri, languageId, text);
  documents.set(uri.toString(), document);
  didOpenTextDocument.fire(document);
  return document;
}

function languageOf(uri) {
  return uri.path.endsWith(".py") ? "python" : uri.path.endsWith(".md") ? "markdown" : "plaintext";
}

// ---------------------------------------------------------------- settings

const defaults = Object.fromEntries(
  Object.entries(manifest.contributes.configuration.properties).map(([key, schema]) => [key, schema.default]),
);
const userSettings = new Map();

function effectiveValue(key) {
  if (userSettings.has(key)) {
    return userSettings.get(key);
  }
  if (key in defaults) {
    return defaults[key];
  }
  const prefix = `${key}.`;
  const nested = {};
  let found = false;
  for (const fullKey of new Set([...Object.keys(defaults), ...userSettings.keys()])) {
    if (fullKey.startsWith(prefix)) {
      found = true;
      const path = fullKey.slice(prefix.length).split(".");
      let target = nested;
      for (const part of path.slice(0, -1)) {
        target = target[part] ??= {};
      }
      target[path[path.length - 1]] = effectiveValue(fullKey);
    }
  }
  return found ? nested : undefined;
}

function configuration(section) {
  const full = (key) => (section ? `${section}.${key}` : key);
  return {
    get(key, defaultValue) {
      const value = effectiveValue(full(key));
      return value === undefined ? defaultValue : value;
    },
    has(key) {
      return effectiveValue(full(key)) !== undefined;
    },
    inspect(key) {
      const name = full(key);
      return { key: name, defaultValue: defaults[name], globalValue: userSettings.get(name) };
    },
    update(key, value) {
      updateSetting(full(key), value);
      return Promise.resolve();
    },
  };
}

function updateSetting(key, value) {
  if (value === undefined) {
    userSettings.delete(key);
  } else {
    userSettings.set(key, value);
  }
  didChangeConfiguration.fire({
    affectsConfiguration: (section) => key === section || key.startsWith(`${section}.`),
  });
}

// ---------------------------------------------------------------- namespaces

function noEvent() {
  return new Disposable();
}

/** Namespaces answer unknown onDid* / onWill* with an event that never fires. */
function withQuietEvents(name, members) {
  return new Proxy(members, {
    get(target, property) {
      if (property in target) {
        return target[property];
      }
      if (typeof property === "string" && /^on(Did|Will)/.test(property)) {
        return noEvent;
      }
      return undefined;
    },
  });
}

function recordRegistration(name) {
  return (...args) => {
    testing.registrations.push({ name, args });
    return new Disposable();
  };
}

function matchesFilter(filter, document) {
  if (typeof filter === "string") {
    return filter === "*" || filter === document.languageId;
  }
  return (
    (!filter.language || filter.language === "*" || filter.language === document.languageId) &&
    (!filter.scheme || filter.scheme === "*" || filter.scheme === document.uri.scheme)
  );
}

const languageRegistrations = Object.fromEntries(
  [
    "CodeActionsProvider", "CompletionItemProvider", "HoverProvider", "DefinitionProvider",
    "SignatureHelpProvider", "DocumentSymbolProvider", "WorkspaceSymbolProvider", "ReferenceProvider",
    "CodeLensProvider", "DocumentFormattingEditProvider", "DocumentRangeFormattingEditProvider",
    "OnTypeFormattingEditProvider", "RenameProvider", "DocumentLinkProvider", "DocumentHighlightProvider",
    "TypeDefinitionProvider", "ImplementationProvider", "DeclarationProvider", "FoldingRangeProvider",
    "SelectionRangeProvider", "CallHierarchyProvider", "TypeHierarchyProvider",
    "DocumentSemanticTokensProvider", "DocumentRangeSemanticTokensProvider", "LinkedEditingRangeProvider",
    "InlayHintsProvider", "InlineValuesProvider", "InlineCompletionItemProvider", "ColorProvider",
  ].map((kind) => [`register${kind}`, recordRegistration(`register${kind}`)]),
);

export const languages = withQuietEvents("languages", {
  ...languageRegistrations,
  match(selector, document) {
    const filters = Array.isArray(selector) ? selector : [selector];
    return filters.some((filter) => matchesFilter(filter, document)) ? 10 : 0;
  },
  createDiagnosticCollection(name) {
    const entries = new Map();
    return {
      name,
      set(uri, diagnostics) {
        entries.set(uri.toString(), diagnostics ?? []);
      },
      get(uri) {
        return entries.get(uri.toString());
      },
      delete(uri) {
        entries.delete(uri.toString());
      },
      clear() {
        entries.clear();
      },
      forEach(callback) {
        entries.forEach((diagnostics, uri) => callback(Uri.parse(uri), diagnostics, this));
      },
      dispose() {
        entries.clear();
      },
    };
  },
  getLanguages: () => Promise.resolve(["python", "markdown", "plaintext"]),
  setTextDocumentLanguage: (document) => Promise.resolve(document),
});

let activeTextEditor;

function showMessage(kind) {
  return (message, ...rest) => {
    const items = rest.filter((item) => typeof item === "string" || item?.title);
    testing.messages.push({ kind, message, items });
    return Promise.resolve(testing.messageAnswers.shift());
  };
}

function createLogOutputChannel(name) {
  const lines = [];
  const log = (level) => (message, ...args) => {
    lines.push(`[${level}] ${message}${args.length ? ` ${args.map(String).join(" ")}` : ""}`);
  };
  const channel = {
    name,
    lines,
    logLevel: testing.logLevel,
    onDidChangeLogLevel: noEvent,
    append: (text) => lines.push(text),
    appendLine: (text) => lines.push(text),
    replace: (text) => lines.splice(0, lines.length, text),
    clear: () => lines.splice(0),
    show: () => {
      channel.shown = (channel.shown ?? 0) + 1;
    },
    hide: () => undefined,
    dispose: () => undefined,
    trace: log("trace"),
    debug: log("debug"),
    info: log("info"),
    warn: log("warning"),
    error: log("error"),
  };
  testing.outputChannels.push(channel);
  return channel;
}

export const window = withQuietEvents("window", {
  get activeTextEditor() {
    return activeTextEditor;
  },
  get visibleTextEditors() {
    return activeTextEditor ? [activeTextEditor] : [];
  },
  onDidChangeActiveTextEditor: didChangeActiveTextEditor.event,
  onDidChangeVisibleTextEditors: didChangeVisibleTextEditors.event,
  tabGroups: { all: [], onDidChangeTabs: noEvent, onDidChangeTabGroups: noEvent },
  visibleNotebookEditors: [],
  showErrorMessage: showMessage("error"),
  showWarningMessage: showMessage("warning"),
  showInformationMessage: showMessage("information"),
  createOutputChannel: (name) => createLogOutputChannel(name),
  async showQuickPick(itemsOrPromise, options) {
    const items = await itemsOrPromise;
    testing.quickPicks.push({ items, options });
    const answer = testing.quickPickAnswers.shift();
    if (typeof answer === "function") {
      return answer(items);
    }
    return answer === undefined ? undefined : items.find((item) => (item.label ?? item) === answer);
  },
  async showInputBox(options) {
    testing.inputBoxes.push(options);
    return testing.inputBoxAnswers.shift();
  },
  setStatusBarMessage(text) {
    testing.statusBarMessages.push(text);
    return new Disposable();
  },
  createStatusBarItem(id, alignment, priority) {
    const item = { id, alignment, priority, text: "", visible: false };
    item.show = () => {
      item.visible = true;
    };
    item.hide = () => {
      item.visible = false;
    };
    item.dispose = () => {
      item.visible = false;
    };
    testing.statusBarItems.push(item);
    return item;
  },
  async showTextDocument(target, options) {
    // VS Code takes a document or a Uri (vscode-languageclient passes a Uri for
    // window/showDocument).
    const document = target instanceof Uri ? await workspace.openTextDocument(target) : target;
    const selection = options?.selection
      ? new Selection(options.selection.start, options.selection.end)
      : new Selection(new Position(0, 0), new Position(0, 0));
    activeTextEditor = { document, selection, selections: [selection], options: {}, viewColumn: 1 };
    didChangeActiveTextEditor.fire(activeTextEditor);
    didChangeVisibleTextEditors.fire([activeTextEditor]);
    return activeTextEditor;
  },
  async withProgress(options, task) {
    const source = new CancellationTokenSource();
    const entry = { options, reports: [], cancel: () => source.cancel(), done: false };
    testing.progress.push(entry);
    try {
      return await task({ report: (value) => entry.reports.push(value) }, source.token);
    } finally {
      entry.done = true;
    }
  },
});

const workspaceFs = {
  createDirectory: (uri) => mkdir(uri.fsPath, { recursive: true }).then(() => undefined),
  writeFile: (uri, content) => writeFile(uri.fsPath, content),
  readFile: (uri) => readFile(uri.fsPath),
  async stat(uri) {
    const info = await fsStat(uri.fsPath);
    return { type: info.isDirectory() ? FileType.Directory : FileType.File, size: info.size, ctime: info.ctimeMs, mtime: info.mtimeMs };
  },
};

export const workspace = withQuietEvents("workspace", {
  workspaceFolders: undefined,
  isTrusted: true,
  name: undefined,
  notebookDocuments: [],
  get textDocuments() {
    return [...documents.values()].filter((document) => !document.isClosed);
  },
  fs: workspaceFs,
  onDidOpenTextDocument: didOpenTextDocument.event,
  onDidCloseTextDocument: didCloseTextDocument.event,
  onDidChangeTextDocument: didChangeTextDocument.event,
  onDidSaveTextDocument: didSaveTextDocument.event,
  onDidChangeConfiguration: didChangeConfiguration.event,
  getConfiguration: (section) => configuration(section),
  getWorkspaceFolder: (uri) =>
    workspace.workspaceFolders?.find((folder) => uri.toString().startsWith(folder.uri.toString())),
  registerTextDocumentContentProvider: recordRegistration("registerTextDocumentContentProvider"),
  registerFileSystemProvider: recordRegistration("registerFileSystemProvider"),
  createFileSystemWatcher: () => ({
    onDidCreate: noEvent,
    onDidChange: noEvent,
    onDidDelete: noEvent,
    dispose: () => undefined,
  }),
  async openTextDocument(target) {
    if (target === undefined || (typeof target === "object" && !(target instanceof Uri) && !target.path)) {
      const uri = Uri.from({ scheme: "untitled", path: `Untitled-${documents.size + 1}` });
      return openDocument(uri, target?.language ?? "plaintext", target?.content ?? "");
    }
    const uri = typeof target === "string" ? Uri.file(target) : target;
    return openDocument(uri, languageOf(uri), readFileSync(uri.fsPath, "utf8"));
  },
  /** Applies text edits to documents opened here, and tells listeners as VS Code does. */
  async applyEdit(edit) {
    for (const [uri, edits] of edit.entries()) {
      const document = documents.get(uri.toString());
      if (!document) {
        return false;
      }
      const contentChanges = document.applyEdits(edits);
      didChangeTextDocument.fire({ document, contentChanges, reason: undefined });
    }
    return true;
  },
  async save(uri) {
    return uri;
  },
});

const commandHandlers = new Map();

export const commands = {
  registerCommand(id, handler, thisArg) {
    if (commandHandlers.has(id)) {
      throw new Error(`command '${id}' already exists`);
    }
    commandHandlers.set(id, thisArg ? handler.bind(thisArg) : handler);
    return new Disposable(() => commandHandlers.delete(id));
  },
  registerTextEditorCommand(id, handler) {
    return commands.registerCommand(id, () => handler(activeTextEditor));
  },
  async executeCommand(id, ...args) {
    const handler = commandHandlers.get(id);
    if (handler) {
      return handler(...args);
    }
    testing.externalCommands.push({ id, args });
    return undefined;
  },
  getCommands: () => Promise.resolve([...commandHandlers.keys()]),
};

export const env = {
  appName: "Visual Studio Code (stub)",
  appRoot: "",
  language: "en",
  machineId: "stub",
  sessionId: "stub",
  uiKind: UIKind.Desktop,
  remoteName: undefined,
  openExternal(uri) {
    testing.openedExternally.push(uri.toString());
    return Promise.resolve(true);
  },
};

export const extensions = { getExtension: () => undefined, all: [], onDidChange: noEvent };
export const notebooks = withQuietEvents("notebooks", {});
export const l10n = {
  t: (message, ...args) =>
    typeof message === "string"
      ? message.replace(/\{(\d+)\}/g, (_, index) => String(args[Number(index)]))
      : message.message,
};
