/**
 * The status bar item: what the server reports through `hearth/status` (model loading, indexing,
 * ready, busy, errors) and the last action's time and confidence.
 */
import * as vscode from "vscode";
import { formatPercent, formatSeconds } from "./history";
import { isRecord } from "./json";
import { formatStats, type HistoryStats } from "./stats";

export const STATUS_NOTIFICATION = "hearth/status";

const SERVER_STATES = ["loading", "indexing", "ready", "busy", "error"] as const;
type ServerState = (typeof SERVER_STATES)[number];
/** States the extension sets itself, before the server can speak or when it cannot. */
type ClientState = "starting" | "stopped";

export interface LastAction {
  name: string;
  elapsedS: number;
  confidence?: number;
}

export interface HearthStatus {
  state: ServerState | ClientState;
  message?: string;
  percentage?: number;
  lastAction?: LastAction;
}

export interface StatusView {
  text: string;
  tooltip: string;
  isError: boolean;
}

function parseLastAction(raw: unknown): LastAction | undefined {
  if (!isRecord(raw) || typeof raw.name !== "string" || typeof raw.elapsed_s !== "number") {
    return undefined;
  }
  const confidence = typeof raw.confidence === "number" ? raw.confidence : undefined;
  return { name: raw.name, elapsedS: raw.elapsed_s, confidence };
}

/** The params of a `hearth/status` notification, or undefined when they do not fit. */
export function parseStatus(params: unknown): HearthStatus | undefined {
  if (!isRecord(params) || !SERVER_STATES.includes(params.state as ServerState)) {
    return undefined;
  }
  return {
    state: params.state as ServerState,
    message: typeof params.message === "string" ? params.message : undefined,
    percentage: typeof params.percentage === "number" ? params.percentage : undefined,
    lastAction: parseLastAction(params.lastAction),
  };
}

/** A new status keeps the last action it does not replace: "ready" after "busy" still shows it. */
export function mergeStatus(previous: HearthStatus, next: HearthStatus): HearthStatus {
  return { ...next, lastAction: next.lastAction ?? previous.lastAction };
}

function formatPercentage(percentage: number | undefined): string {
  return percentage === undefined ? "" : ` ${Math.round(percentage)}%`;
}

export function formatLastAction(action: LastAction): string {
  const confidence = action.confidence === undefined ? "" : `, confidence ${formatPercent(action.confidence)}`;
  return `${action.name} ${formatSeconds(action.elapsedS)}${confidence}`;
}

/** Action titles start with "Hearth: ", which the item already says. */
function withoutPrefix(message: string | undefined): string | undefined {
  return message?.replace(/^Hearth:\s*/, "");
}

export function describeStatus(status: HearthStatus): StatusView {
  const detail = status.message ? `: ${status.message}` : "";
  const last = status.lastAction ? `\nLast action: ${formatLastAction(status.lastAction)}` : "";
  const spin = "$(sync~spin) Hearth";
  switch (status.state) {
    case "starting":
      return { text: spin, tooltip: `Hearth: starting the server${detail}`, isError: false };
    case "loading":
      return {
        text: `${spin} loading model${formatPercentage(status.percentage)}`,
        tooltip: `Hearth: loading the model${detail}`,
        isError: false,
      };
    case "indexing":
      return {
        text: `${spin} indexing${formatPercentage(status.percentage)}`,
        tooltip: `Hearth: indexing the workspace${detail}${last}`,
        isError: false,
      };
    case "busy":
      return {
        text: `${spin} ${withoutPrefix(status.message) || "working"}${formatPercentage(status.percentage)}`,
        tooltip: `Hearth: working${detail}${last}`,
        isError: false,
      };
    case "ready":
      return {
        text: status.lastAction
          ? `$(check) Hearth ${formatLastAction(status.lastAction)}`
          : "$(check) Hearth",
        tooltip: `Hearth: ready${detail}${last}`,
        isError: false,
      };
    case "error":
      return { text: "$(error) Hearth", tooltip: `Hearth: error${detail}${last}`, isError: true };
    case "stopped":
      return { text: "$(circle-slash) Hearth", tooltip: `Hearth: not running${detail}`, isError: true };
  }
}

/** Owns the VS Code status bar item; clicking it shows the logs. */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private status: HearthStatus = { state: "starting" };
  private stats: HistoryStats | undefined;

  constructor(showLogsCommand: string) {
    this.item = vscode.window.createStatusBarItem("hearth.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "Hearth";
    this.item.command = showLogsCommand;
    this.render();
    this.item.show();
  }

  get current(): HearthStatus {
    return this.status;
  }

  update(next: HearthStatus): void {
    this.status = mergeStatus(this.status, next);
    this.render();
  }

  /** The figures of `hearth.stats`, shown in the tooltip until newer ones come. */
  showStats(stats: HistoryStats): void {
    this.stats = stats;
    this.render();
  }

  private render(): void {
    const view = describeStatus(this.status);
    const figures = this.stats ? `\n\n${formatStats(this.stats).join("\n")}\n` : "";
    this.item.text = view.text;
    this.item.tooltip = `${view.tooltip}${figures}\nClick to show the logs.`;
    this.item.backgroundColor = view.isError
      ? new vscode.ThemeColor("statusBarItem.errorBackground")
      : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
