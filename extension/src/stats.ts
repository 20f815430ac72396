/**
 * The figures of `hearth.stats` (acceptance per action, median latency, the response cache's hit
 * rate) for the status item's tooltip, fetched again after each answer.
 */
import { formatPercent, formatSeconds } from "./history";
import { isRecord } from "./json";

export const STATS_COMMAND = "hearth.stats";

export interface ActionStats {
  name: string;
  requests: number;
  accepted: number;
  rejected: number;
  acceptanceRate?: number;
  medianS?: number;
}

export interface HistoryStats {
  enabled: boolean;
  entries: number;
  actions: ActionStats[];
  cache: { lookups: number; hits: number; hitRate?: number };
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function fraction(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The `hearth.stats` answer, or undefined when it does not fit. */
export function parseStats(answer: unknown): HistoryStats | undefined {
  if (!isRecord(answer) || typeof answer.enabled !== "boolean") {
    return undefined;
  }
  const actions = Object.entries(isRecord(answer.actions) ? answer.actions : {})
    .filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]))
    .map(([name, raw]) => ({
      name,
      requests: count(raw.requests),
      accepted: count(raw.accepted),
      rejected: count(raw.rejected),
      acceptanceRate: fraction(raw.acceptance_rate),
      medianS: fraction(raw.median_s),
    }));
  const cache = isRecord(answer.cache) ? answer.cache : {};
  return {
    enabled: answer.enabled,
    entries: count(answer.entries),
    actions,
    cache: { lookups: count(cache.lookups), hits: count(cache.hits), hitRate: fraction(cache.hit_rate) },
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function describeAction(action: ActionStats): string {
  const parts = [plural(action.requests, "request")];
  if (action.accepted + action.rejected > 0) {
    const rate = action.acceptanceRate === undefined ? "" : ` (${formatPercent(action.acceptanceRate)} accepted)`;
    parts.push(`${action.accepted} accepted, ${action.rejected} rejected${rate}`);
  }
  if (action.medianS !== undefined) {
    parts.push(`median ${formatSeconds(action.medianS)}`);
  }
  return `  ${action.name}: ${parts.join(", ")}`;
}

/** The tooltip's lines for the figures. */
export function formatStats(stats: HistoryStats): string[] {
  if (!stats.enabled) {
    return ["History: off"];
  }
  if (stats.entries === 0) {
    return ["History: no answers yet"];
  }
  const { lookups, hits, hitRate } = stats.cache;
  const cache =
    lookups === 0
      ? "Cache: no lookups yet"
      : `Cache: ${hits} of ${plural(lookups, "lookup")} answered${hitRate === undefined ? "" : ` (${formatPercent(hitRate)})`}`;
  return [`History: ${plural(stats.entries, "answer")}`, ...stats.actions.map(describeAction), cache];
}

/**
 * Fetches the figures and hands them on, one request at a time: a refresh asked for while one
 * runs makes one more run after it (so the figures are never older than the last answer), and
 * any number asked meanwhile make just that one. A failure (an older server, an error) is
 * logged and leaves the figures shown as they were.
 */
export class StatsRefresher {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly fetch: () => Promise<unknown>,
    private readonly show: (stats: HistoryStats) => void,
    private readonly warn: (message: string) => void,
  ) {}

  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.fetchOnce();
    } while (this.again);
  }

  private async fetchOnce(): Promise<void> {
    let answer: unknown;
    try {
      answer = await this.fetch();
    } catch (error) {
      this.warn(`${STATS_COMMAND} failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (answer === undefined) {
      return;
    }
    const stats = parseStats(answer);
    if (stats) {
      this.show(stats);
    } else {
      this.warn(`Ignored a ${STATS_COMMAND} answer that does not fit: ${JSON.stringify(answer)}`);
    }
  }
}
