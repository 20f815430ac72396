/**
 * The server's per-workspace history of answers (issue "Learning from the user"): which history
 * entry an answer is, the `hearth.history` list, and how an entry reads in a quick pick. Plain
 * data in and out, so that the tests need neither VS Code nor a server.
 */
import { isRecord } from "./json";

export const FEEDBACK_COMMAND = "hearth.feedback";
export const HISTORY_COMMAND = "hearth.history";

export type Rating = "good" | "bad";
export type Outcome = "applied" | "kept" | "edited" | "undone" | "not applied";

const OUTCOMES: readonly string[] = ["applied", "kept", "edited", "undone", "not applied"];
const RATINGS: readonly string[] = ["good", "bad"];

/** What an action's answer says about its history entry. */
export interface AnswerRecord {
  historyId: number;
  /** The answer came from the server's response cache, not from the model. */
  cached: boolean;
}

/**
 * The history entry of an answer: the summary of an action command, or the `data` of a code
 * action resolved through `codeAction/resolve`. Undefined when the server keeps no history (no
 * `historyId`), and for anything else.
 */
export function answerRecord(answer: unknown): AnswerRecord | undefined {
  if (!isRecord(answer) || !Number.isInteger(answer.historyId)) {
    return undefined;
  }
  return { historyId: answer.historyId as number, cached: answer.cached === true };
}

/** The one argument of `hearth.feedback`; a blank note is left out. */
export function feedbackArgument(id: number, rating: Rating, note?: string): Record<string, unknown> {
  const trimmed = note?.trim();
  return trimmed ? { id, rating, note: trimmed } : { id, rating };
}

export interface HistoryEntry {
  id: number;
  time: string;
  action: string;
  /** Workspace-relative or absolute. */
  file?: string;
  /** E.g. the function's name, possibly dotted (`Class.method`). */
  target?: string;
  title: string;
  confidence?: number;
  outcome?: Outcome;
  feedback?: Rating;
  cached: boolean;
  elapsedS?: number;
}

export interface HistoryPage {
  enabled: boolean;
  /** Newest first, as the server sends them. */
  entries: HistoryEntry[];
}

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function oneOf<T extends string>(value: unknown, allowed: readonly string[]): T | undefined {
  return typeof value === "string" && allowed.includes(value) ? (value as T) : undefined;
}

function parseEntry(raw: unknown): HistoryEntry | undefined {
  if (!isRecord(raw) || !Number.isInteger(raw.id) || typeof raw.action !== "string") {
    return undefined;
  }
  return {
    id: raw.id as number,
    time: typeof raw.time === "string" ? raw.time : "",
    action: raw.action,
    file: optionalString(raw.file),
    target: optionalString(raw.target),
    title: optionalString(raw.title) ?? raw.action,
    confidence: optionalNumber(raw.confidence),
    outcome: oneOf<Outcome>(raw.outcome, OUTCOMES),
    feedback: oneOf<Rating>(raw.feedback, RATINGS),
    cached: raw.cached === true,
    elapsedS: optionalNumber(raw.elapsed_s),
  };
}

/** The `hearth.history` answer; malformed entries are left out, a malformed answer gives undefined. */
export function parseHistory(answer: unknown): HistoryPage | undefined {
  if (!isRecord(answer) || !Array.isArray(answer.entries)) {
    return undefined;
  }
  const entries = answer.entries.map(parseEntry).filter((entry) => entry !== undefined);
  return { enabled: answer.enabled !== false, entries };
}

export function withoutHearthPrefix(title: string): string {
  return title.replace(/^Hearth:\s*/, "");
}

export function formatSeconds(seconds: number): string {
  return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
}

export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** "just now", "5 min ago", "3 h ago", then the local date and time. */
export function formatWhen(iso: string, now: Date): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) {
    return iso;
  }
  const minutes = Math.floor((now.getTime() - time.getTime()) / 60_000);
  if (minutes < 1) {
    return "just now";
  }
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  if (minutes < 24 * 60) {
    return `${Math.floor(minutes / 60)} h ago`;
  }
  const pad = (value: number) => String(value).padStart(2, "0");
  return (
    `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ` +
    `${pad(time.getHours())}:${pad(time.getMinutes())}`
  );
}

/** Where the entry's answer went: `file:target`, either part, or undefined. */
export function entryPlace(entry: HistoryEntry): string | undefined {
  if (entry.file && entry.target) {
    return `${entry.file}:${entry.target}`;
  }
  return entry.file ?? entry.target;
}

const RATING_ICONS: Record<Rating, string> = { good: "$(thumbsup)", bad: "$(thumbsdown)" };

/** The three lines of a quick pick item: label, description, detail. */
export interface EntryView {
  label: string;
  description: string;
  detail: string;
}

export function describeEntry(entry: HistoryEntry, now: Date): EntryView {
  const icon = entry.feedback ? `${RATING_ICONS[entry.feedback]} ` : "";
  const place = entryPlace(entry);
  const facts = [
    formatWhen(entry.time, now),
    entry.confidence === undefined ? undefined : `confidence ${formatPercent(entry.confidence)}`,
    entry.outcome,
    entry.feedback ? `rated ${entry.feedback}` : undefined,
    entry.cached ? "cached" : undefined,
    entry.elapsedS === undefined ? undefined : formatSeconds(entry.elapsedS),
  ];
  return {
    label: `${icon}${withoutHearthPrefix(entry.title)}`,
    description: place ? `${entry.action} · ${place}` : entry.action,
    detail: facts.filter((fact) => fact).join(" · "),
  };
}

export interface TextPosition {
  line: number;
  character: number;
  length: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Where `target` is defined in `text`: each part of a dotted target (`Class.method`) is looked
 * for as a definition (`def`, `class`) after the line of the part before it, and failing that
 * as a word; undefined when the name is nowhere.
 */
export function findTarget(text: string, target: string): TextPosition | undefined {
  const lines = text.split("\n");
  const parts = target.split(/[.:]+/).filter((part) => part);
  let found: TextPosition | undefined;
  for (const part of parts) {
    const name = escapeRegExp(part);
    const definition = new RegExp(`^(\\s*(?:async\\s+)?(?:def|class)\\s+)(${name})\\b`);
    const word = new RegExp(`\\b${name}\\b`);
    const from = found ? found.line : 0;
    const at = (pattern: RegExp): TextPosition | undefined => {
      for (let line = from; line < lines.length; line++) {
        const match = pattern.exec(lines[line]);
        if (match) {
          const character = match.length > 2 ? match[1].length : match.index;
          return { line, character, length: part.length };
        }
      }
      return undefined;
    };
    found = at(definition) ?? at(word) ?? found;
  }
  return found;
}
