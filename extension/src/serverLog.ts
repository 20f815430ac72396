/**
 * Forwards the server's stderr to the log channel at the level each line was logged with (the
 * language client's default would file every line as an error).
 */
import * as readline from "node:readline";
import type { Readable } from "node:stream";
import type * as vscode from "vscode";

export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error";

const PYTHON_LEVELS: Record<string, LogLevelName> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
  CRITICAL: "error",
};

const LEVEL_WORD = /^(?:\S+ \S+ )?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b/;

/**
 * The level of one line of Python `logging` output ("2026-01-02 10:00:00,123 INFO name: text").
 * A line without a level continues the previous record (a traceback, a long message); output
 * before any record is most likely a crash, so it counts as an error.
 */
export function levelOfLine(line: string, previous: LogLevelName | undefined): LogLevelName {
  const match = LEVEL_WORD.exec(line);
  if (match) {
    return PYTHON_LEVELS[match[1]];
  }
  return previous ?? "error";
}

function forwardLines(input: Readable, each: (line: string) => void): void {
  readline
    .createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 })
    .on("line", each);
}

/** The language client's `stdioOptions` (stdout is only piped for transports other than stdio). */
export const serverStdio = {
  stdout(input: Readable, channel: vscode.LogOutputChannel): void {
    forwardLines(input, (line) => channel.info(line));
  },
  stderr(input: Readable, channel: vscode.LogOutputChannel): void {
    let level: LogLevelName | undefined;
    forwardLines(input, (line) => {
      level = levelOfLine(line, level);
      channel[level](line);
    });
  },
};
