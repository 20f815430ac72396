/**
 * Feedback on answers, sent to the server's history as `hearth.feedback`: offered once right
 * after an answer, in a notification that never blocks (VS Code files it away if nobody clicks),
 * and given from "Hearth: Show history" for any earlier answer.
 */
import * as vscode from "vscode";
import { REQUEST_FAILED } from "./commands";
import { feedbackArgument, FEEDBACK_COMMAND, withoutHearthPrefix, type AnswerRecord, type Rating } from "./history";
import { SECTION } from "./settings";

/** Read by the extension only (settings.ts keeps it from the server). */
export const ASK_FOR_FEEDBACK_KEY = "history.askForFeedback";

const GOOD = "Good";
const BAD = "Bad";
const SAY = "Say what it should do";
const DONT_ASK = "Don't ask again";
/** How many answers are remembered as offered (ids only); older ones are forgotten. */
const REMEMBERED_OFFERS = 200;

export interface FeedbackDependencies {
  /** Runs a command of the running server. */
  run: (command: string, argument?: unknown) => Promise<unknown>;
  /** Whether the running server offers the command. */
  offers: (command: string) => boolean;
  log: vscode.LogOutputChannel;
  /** Called once the server has recorded a rating (its figures changed). */
  recorded: () => void;
}

/** An answer as it arrives: its history entry, its title and any message it carries. */
export interface Answer {
  record: AnswerRecord | undefined;
  title?: string;
  message?: string;
}

export function askingForFeedback(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>(ASK_FOR_FEEDBACK_KEY, true) !== false;
}

export class Feedback {
  private readonly offered = new Set<number>();

  constructor(private readonly deps: FeedbackDependencies) {}

  /**
   * Offers Good / Bad for an answer, at most once per history entry, and only when the answer
   * has one, the setting is on and the server takes feedback. The answer's message, if any,
   * becomes the text of the offer (one notification, not two). Returns whether it offered;
   * never waits for the user.
   */
  offer(answer: Answer): boolean {
    const { record } = answer;
    if (!record || this.offered.has(record.historyId) || !askingForFeedback()) {
      return false;
    }
    if (!this.deps.offers(FEEDBACK_COMMAND)) {
      return false;
    }
    this.remember(record.historyId);
    void vscode.window
      .showInformationMessage(offerText(answer), GOOD, BAD, DONT_ASK)
      .then((choice) => this.onChoice(record.historyId, choice));
    return true;
  }

  /**
   * Sends a rating; "bad" first asks what was wrong (optional: Escape sends the rating without
   * a note). Returns whether the server recorded it.
   */
  async rate(id: number, rating: Rating): Promise<boolean> {
    const note = rating === "bad" ? await askForNote() : undefined;
    return this.send(id, rating, note);
  }

  /**
   * Shows an action's failure that names its history entry (no answer passed the checks; the
   * server leaves it to this extension), with "Say what it should do": the note goes with the
   * request when it is asked again. Returns whether the error was such a failure (shown);
   * never waits for the user.
   */
  offerAfterFailure(error: unknown): boolean {
    const failure = failureOf(error);
    if (!failure) {
      return false;
    }
    const text = `Hearth: ${failure.message}`;
    if (!askingForFeedback() || !this.deps.offers(FEEDBACK_COMMAND)) {
      void vscode.window.showWarningMessage(text);
      return true;
    }
    void vscode.window.showWarningMessage(text, SAY).then(async (choice) => {
      if (choice === SAY) {
        const note = await askWhatToDo();
        if (note) {
          await this.send(failure.historyId, "bad", note, "Hearth: noted; ask again to use it");
        }
      }
    });
    return true;
  }

  private async send(id: number, rating: Rating, note: string | undefined, thanks?: string): Promise<boolean> {
    try {
      await this.deps.run(FEEDBACK_COMMAND, feedbackArgument(id, rating, note));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.deps.log.warn(`${FEEDBACK_COMMAND} for entry ${id} failed: ${reason}`);
      void vscode.window.showWarningMessage(`Hearth: the rating was not recorded: ${reason}`);
      return false;
    }
    vscode.window.setStatusBarMessage(thanks ?? `Hearth: answer rated ${rating}`, 3000);
    this.deps.recorded();
    return true;
  }

  private async onChoice(id: number, choice: string | undefined): Promise<void> {
    if (choice === GOOD || choice === BAD) {
      await this.rate(id, choice === GOOD ? "good" : "bad");
    } else if (choice === DONT_ASK) {
      await vscode.workspace
        .getConfiguration(SECTION)
        .update(ASK_FOR_FEEDBACK_KEY, false, vscode.ConfigurationTarget.Global);
      vscode.window.setStatusBarMessage(
        `Hearth: no more feedback offers; ${SECTION}.${ASK_FOR_FEEDBACK_KEY} turns them on again`,
        5000,
      );
    }
  }

  private remember(id: number): void {
    this.offered.add(id);
    if (this.offered.size > REMEMBERED_OFFERS) {
      const [oldest] = this.offered;
      this.offered.delete(oldest);
    }
  }
}

function offerText(answer: Answer): string {
  const cached = answer.record?.cached ? " (from the cache)" : "";
  if (answer.message) {
    return `Hearth: ${answer.message.trim().replace(/\.$/, "")}${cached}. Was the answer good?`;
  }
  const what = answer.title ? withoutHearthPrefix(answer.title) : "the answer";
  return `Hearth: ${what}${cached}. Was it good?`;
}

/** A failed action's error that names its history entry: `{code: RequestFailed, data: {historyId}}`. */
export function failureOf(error: unknown): { historyId: number; message: string } | undefined {
  if (typeof error !== "object" || error === null) {
    return undefined;
  }
  const { code, data, message } = error as { code?: unknown; data?: unknown; message?: unknown };
  const historyId = typeof data === "object" && data !== null ? (data as { historyId?: unknown }).historyId : undefined;
  if (code !== REQUEST_FAILED || !Number.isInteger(historyId) || typeof message !== "string") {
    return undefined;
  }
  return { historyId: historyId as number, message };
}

/** What the answer to a request that got none should do; undefined when left empty or dismissed. */
function askWhatToDo(): Promise<string | undefined> {
  return askText({
    title: "Hearth: what should the answer do?",
    prompt:
      "Hearth keeps this with the request and follows it when you ask again. Enter sends it, " +
      "Escape sends nothing.",
    placeHolder: "e.g. format_day does not exist: dates are shown with show_date() from library.dates",
  });
}

/** The optional note of a bad rating; undefined when left empty or dismissed. */
function askForNote(): Promise<string | undefined> {
  return askText({
    title: "Hearth: what was wrong with this answer?",
    prompt:
      "Optional: Hearth follows it when you ask for this again. Enter sends " +
      "the rating with this note, Escape sends it without one.",
    placeHolder: "e.g. bad input raises AppError, never ValueError",
  });
}

async function askText(options: vscode.InputBoxOptions): Promise<string | undefined> {
  const text = await vscode.window.showInputBox(options);
  return text?.trim() || undefined;
}
