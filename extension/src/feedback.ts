/**
 * Feedback on answers, sent to the server's history as `hearth.feedback`: offered once right
 * after an answer, in a notification that never blocks (VS Code files it away if nobody clicks),
 * and given from "Hearth: Show history" for any earlier answer.
 */
import * as vscode from "vscode";
import { feedbackArgument, FEEDBACK_COMMAND, withoutHearthPrefix, type AnswerRecord, type Rating } from "./history";
import { SECTION } from "./settings";

/** Read by the extension only (settings.ts keeps it from the server). */
export const ASK_FOR_FEEDBACK_KEY = "history.askForFeedback";

const GOOD = "Good";
const BAD = "Bad";
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
    try {
      await this.deps.run(FEEDBACK_COMMAND, feedbackArgument(id, rating, note));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.deps.log.warn(`${FEEDBACK_COMMAND} for entry ${id} failed: ${reason}`);
      void vscode.window.showWarningMessage(`Hearth: the rating was not recorded: ${reason}`);
      return false;
    }
    vscode.window.setStatusBarMessage(`Hearth: answer rated ${rating}`, 3000);
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

/** The optional note of a bad rating; undefined when left empty or dismissed. */
async function askForNote(): Promise<string | undefined> {
  const note = await vscode.window.showInputBox({
    title: "Hearth: what was wrong with this answer?",
    prompt:
      "Optional: Hearth follows it when you ask again and in similar requests. Enter sends " +
      "the rating with this note, Escape sends it without one.",
    placeHolder: "e.g. bad input raises AppError, never ValueError",
  });
  return note?.trim() || undefined;
}
