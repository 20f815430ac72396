/**
 * The history of answers: reading the server's answers, the offer of feedback after an answer,
 * "Hearth: Show history" and the figures in the status item's tooltip. The last three run the
 * real vscode-languageclient, started by the extension's own ServerSession, against the scripted
 * language server (test/fixtures/scriptedServer.mjs), with VS Code replaced by the stub.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import manifest from "../../../package.json";
import { testing } from "../stub/vscode.mjs";
import {
  answerRecord,
  describeEntry,
  feedbackArgument,
  findTarget,
  formatWhen,
  parseHistory,
  type HistoryEntry,
} from "../../src/history";
import { HISTORY_LIMIT, registerHistoryCommand, SHOW_HISTORY_COMMAND } from "../../src/historyPick";
import { registerPaletteCommands } from "../../src/palette";
import { ServerSession } from "../../src/session";
import { serverSettingKeys, toServerSettings } from "../../src/settings";
import { formatStats, parseStats, StatsRefresher, type HistoryStats } from "../../src/stats";
import { StatusBar } from "../../src/status";
import { waitFor } from "./waitFor";

// out/test/unit/ -> test/fixtures/
const SCRIPTED_SERVER = join(__dirname, "..", "..", "..", "test", "fixtures", "scriptedServer.mjs");
const NOW = new Date("2026-03-02T12:00:00Z");

const tick = () => new Promise((resolve) => setImmediate(resolve));

function entry(fields: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    id: 1,
    time: "2026-03-02T11:55:00Z",
    action: "generate",
    title: "Hearth: Generate implementation",
    cached: false,
    ...fields,
  };
}

describe("answerRecord", () => {
  it("reads the history entry of a command's answer and of a resolved code action's data", () => {
    assert.deepEqual(answerRecord({ title: "Hearth: Fix", historyId: 12, cached: true }), { historyId: 12, cached: true });
    assert.deepEqual(answerRecord({ action: "generate", uri: "file:///a.py", historyId: 3 }), {
      historyId: 3,
      cached: false,
    });
  });

  it("gives nothing when the server keeps no history", () => {
    assert.equal(answerRecord({ title: "Hearth: Fix", cached: false }), undefined);
    assert.equal(answerRecord({ historyId: "12" }), undefined);
    assert.equal(answerRecord({ historyId: 1.5 }), undefined);
    assert.equal(answerRecord(null), undefined);
  });
});

describe("feedbackArgument", () => {
  it("sends the id and the rating, and a note only when it says something", () => {
    assert.deepEqual(feedbackArgument(4, "good"), { id: 4, rating: "good" });
    assert.deepEqual(feedbackArgument(4, "bad", "  "), { id: 4, rating: "bad" });
    assert.deepEqual(feedbackArgument(4, "bad", " wrong name "), { id: 4, rating: "bad", note: "wrong name" });
  });
});

describe("parseHistory", () => {
  const fix = {
    id: 5,
    time: "2026-03-02T11:00:00Z",
    action: "fix",
    file: "src/app.py",
    target: "load",
    title: "Hearth: Fix E999",
    confidence: 0.4,
    outcome: "undone",
    feedback: "bad",
    cached: true,
  };

  it("reads the entries in camelCase, nulls left out", () => {
    const nulls = { file: null, target: null, confidence: null, outcome: null, feedback: null };
    const page = parseHistory({
      enabled: true,
      entries: [
        { ...fix, elapsed_s: 2.25 },
        { id: 4, time: "2026-03-02T10:00:00Z", action: "explain", title: "Hearth: Explain", cached: false, ...nulls },
      ],
    });
    assert.equal(page?.enabled, true);
    assert.deepEqual(page?.entries[0], { ...fix, elapsedS: 2.25 });
    const [, explain] = page!.entries;
    assert.deepEqual(
      Object.entries(explain).filter(([, value]) => value !== undefined),
      [["id", 4], ["time", "2026-03-02T10:00:00Z"], ["action", "explain"], ["title", "Hearth: Explain"], ["cached", false]],
    );
  });

  it("leaves out malformed entries and unknown values, and rejects what is not a page", () => {
    const page = parseHistory({ enabled: true, entries: [null, { id: "x", action: "fix" }, { id: 2, action: "fix", outcome: "maybe" }] });
    assert.equal(page?.entries.length, 1);
    assert.equal(page?.entries[0].outcome, undefined);
    assert.equal(page?.entries[0].title, "fix", "an entry without a title is named by its action");
    assert.deepEqual(parseHistory({ enabled: false, entries: [] }), { enabled: false, entries: [] });
    assert.equal(parseHistory({ entries: "none" }), undefined);
    assert.equal(parseHistory(null), undefined);
  });
});

describe("describeEntry", () => {
  it("shows the title, the action and where, then the facts", () => {
    const view = describeEntry(
      entry({ file: "src/app.py", target: "Cart.total", confidence: 0.82, outcome: "kept", feedback: "good", cached: true, elapsedS: 3.21 }),
      NOW,
    );
    assert.deepEqual(view, {
      label: "$(thumbsup) Generate implementation",
      description: "generate · src/app.py:Cart.total",
      detail: "5 min ago · confidence 82% · kept · rated good · cached · 3.2 s",
    });
  });

  it("leaves out what the entry does not have", () => {
    assert.deepEqual(describeEntry(entry({ action: "explain", title: "Explain", time: "2026-03-02T12:00:00Z" }), NOW), {
      label: "Explain",
      description: "explain",
      detail: "just now",
    });
  });
});

describe("formatWhen", () => {
  it("says how long ago, then the date", () => {
    assert.equal(formatWhen("2026-03-02T09:30:00Z", NOW), "2 h ago");
    assert.match(formatWhen("2026-02-20T09:30:00Z", NOW), /^2026-02-2\d \d\d:\d\d$/);
    assert.equal(formatWhen("not a time", NOW), "not a time");
  });
});

describe("findTarget", () => {
  const source = [
    "import total",
    "",
    "def total(items):",
    "    return sum(items)",
    "",
    "class Cart:",
    "    async def total(self):",
    "        return total(self.items)",
  ].join("\n");

  it("finds a function's definition, not an earlier use of its name", () => {
    assert.deepEqual(findTarget(source, "total"), { line: 2, character: 4, length: 5 });
  });

  it("finds a method after its class", () => {
    assert.deepEqual(findTarget(source, "Cart.total"), { line: 6, character: 14, length: 5 });
  });

  it("falls back to the name as a word, and gives nothing for a name that is gone", () => {
    assert.deepEqual(findTarget("x = items\n", "items"), { line: 0, character: 4, length: 5 });
    assert.equal(findTarget(source, "checkout"), undefined);
  });
});

const STATS = {
  enabled: true,
  entries: 14,
  actions: {
    generate: { requests: 10, accepted: 6, rejected: 2, acceptance_rate: 0.75, median_s: 3.42 },
    fix: { requests: 4, accepted: 0, rejected: 0, acceptance_rate: null, median_s: 12.4 },
  },
  cache: { lookups: 25, hits: 3, hit_rate: 0.12 },
};

describe("the figures (hearth.stats)", () => {
  it("read in camelCase and show per action and for the cache", () => {
    const stats = parseStats(STATS)!;
    assert.deepEqual(stats.actions[1], {
      name: "fix",
      requests: 4,
      accepted: 0,
      rejected: 0,
      acceptanceRate: undefined,
      medianS: 12.4,
    });
    assert.deepEqual(formatStats(stats), [
      "History: 14 answers",
      "  generate: 10 requests, 6 accepted, 2 rejected (75% accepted), median 3.4 s",
      "  fix: 4 requests, median 12 s",
      "Cache: 3 of 25 lookups answered (12%)",
    ]);
  });

  it("say when the history is off or empty", () => {
    assert.deepEqual(formatStats(parseStats({ ...STATS, enabled: false })!), ["History: off"]);
    assert.deepEqual(formatStats(parseStats({ enabled: true, entries: 0, actions: {}, cache: {} })!), [
      "History: no answers yet",
    ]);
  });

  it("reject what does not fit", () => {
    assert.equal(parseStats({ entries: 3 }), undefined);
    assert.equal(parseStats(null), undefined);
  });
});

describe("StatsRefresher", () => {
  it("asks once more, not once per call, when refreshes are asked for while one runs", async () => {
    let fetches = 0;
    let release: () => void = () => undefined;
    const shown: HistoryStats[] = [];
    const refresher = new StatsRefresher(
      () => {
        fetches++;
        return new Promise((resolve) => {
          release = () => resolve(STATS);
        });
      },
      (stats) => shown.push(stats),
      () => undefined,
    );
    const first = refresher.refresh();
    const second = refresher.refresh();
    const third = refresher.refresh();
    release();
    await tick();
    release();
    await Promise.all([first, second, third]);
    assert.equal(fetches, 2);
    assert.equal(shown.length, 2);
  });

  it("keeps the figures shown when the request fails or the server has none", async () => {
    const warnings: string[] = [];
    const shown: HistoryStats[] = [];
    const answers: (() => Promise<unknown>)[] = [
      () => Promise.reject(new Error("Unknown command")),
      () => Promise.resolve({ nonsense: true }),
      () => Promise.resolve(undefined),
    ];
    const refresher = new StatsRefresher(() => answers.shift()!(), (stats) => shown.push(stats), (w) => warnings.push(w));
    for (let i = 0; i < 3; i++) {
      await refresher.refresh();
    }
    assert.deepEqual(shown, []);
    assert.equal(warnings.length, 2, "an older server's silence is no warning");
    assert.match(warnings[0], /hearth\.stats failed: Unknown command/);
  });
});

describe("the status item's tooltip", () => {
  it("shows the figures between the status and the click hint", () => {
    const bar = new StatusBar("hearth.showLogs");
    const item = testing.statusBarItems.at(-1)!;
    bar.update({ state: "ready", lastAction: { name: "generate", elapsedS: 3.21, confidence: 0.82 } });
    const before = item.tooltip;
    assert.equal(before, "Hearth: ready\nLast action: generate 3.2 s, confidence 82%\nClick to show the logs.");
    bar.showStats(parseStats(STATS)!);
    assert.equal(
      item.tooltip,
      "Hearth: ready\nLast action: generate 3.2 s, confidence 82%\n\n" +
        "History: 14 answers\n" +
        "  generate: 10 requests, 6 accepted, 2 rejected (75% accepted), median 3.4 s\n" +
        "  fix: 4 requests, median 12 s\n" +
        "Cache: 3 of 25 lookups answered (12%)\n" +
        "\nClick to show the logs.",
    );
    bar.update({ state: "busy", message: "fix" });
    assert.match(item.tooltip, /History: 14 answers/, "a new status keeps the figures");
    bar.dispose();
  });
});

describe("hearth.history.askForFeedback", () => {
  it("is contributed, on by default, and never sent to the server", () => {
    const schema = manifest.contributes.configuration.properties["hearth.history.askForFeedback"];
    assert.equal(schema.type, "boolean");
    assert.equal(schema.default, true);
    assert.ok(!serverSettingKeys().includes("history.askForFeedback"));
    const set = { globalValue: false, workspaceValue: undefined, workspaceFolderValue: undefined };
    assert.deepEqual(toServerSettings({ inspect: (key) => (key === "history.askForFeedback" ? set : undefined) }), {});
  });

  it("and Show history are contributed", () => {
    const command = manifest.contributes.commands.find((entry) => entry.command === SHOW_HISTORY_COMMAND);
    assert.equal(command?.title, "Show history");
    assert.equal(command?.category, "Hearth");
  });
});

interface Received {
  method: string;
  params: any;
}

describe("the history with a scripted server", () => {
  let session: ServerSession;
  let client: LanguageClient;
  let item: { tooltip?: string };
  const registrations: vscode.Disposable[] = [];
  const received = () => client.sendRequest("scripted/received") as Promise<Received[]>;
  const commandsSent = async (command: string) =>
    (await received()).filter(
      (message) => message.method === "workspace/executeCommand" && message.params.command === command,
    );
  const answer = (command: string, result: unknown) =>
    client.sendRequest("scripted/answer", { command, answer: { result } });
  const fail = (command: string, code: number, message: string) =>
    client.sendRequest("scripted/answer", { command, answer: { error: { code, message } } });
  /** The arguments of the `count`-th hearth.feedback the server received, once it has. */
  const feedbackSent = (count: number) =>
    waitFor(`hearth.feedback number ${count}`, async () => (await commandsSent("hearth.feedback"))[count - 1]?.params.arguments);
  const offers = () => testing.messages.filter((message) => message.items.includes("Good"));

  before(async () => {
    testing.reset();
    await vscode.workspace.getConfiguration("hearth").update("server.path", SCRIPTED_SERVER);
    const log = vscode.window.createOutputChannel("Hearth test", { log: true });
    const status = new StatusBar("hearth.showLogs");
    item = testing.statusBarItems.at(-1);
    session = new ServerSession({
      extensionPath: join(__dirname, "no-such-checkout"),
      log,
      status,
      probe: async () => undefined,
    });
    registrations.push(...registerPaletteCommands(session, log), registerHistoryCommand(session, log));
    await session.restart();
    const running = await session.runningClient();
    assert.ok(running, "the scripted server runs");
    client = running;
    const document = await vscode.workspace.openTextDocument({ language: "python", content: "def add(a, b):\n    pass\n" });
    await vscode.window.showTextDocument(document, { selection: new vscode.Range(1, 4, 1, 4) });
  });

  beforeEach(async () => {
    testing.reset();
    await vscode.workspace.getConfiguration("hearth").update("server.path", SCRIPTED_SERVER);
  });

  after(async () => {
    registrations.forEach((registration) => registration.dispose());
    await session.dispose();
    testing.reset();
  });

  describe("the offer of feedback", () => {
    it("comes once the palette's answer arrives, and Good sends hearth.feedback with its id", async () => {
      testing.messageAnswers.push("Good");
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.deepEqual(offers(), [
        {
          kind: "information",
          message: "Hearth: Generate implementation. Was it good?",
          items: ["Good", "Bad", "Don't ask again"],
        },
      ]);
      assert.deepEqual(await feedbackSent(1), [{ id: 7, rating: "good" }]);
      await waitFor("the thanks", async () => (testing.statusBarMessages.length > 0 ? true : undefined));
      assert.deepEqual(testing.statusBarMessages, ["Hearth: answer rated good"]);
    });

    it("is made once per answer", async () => {
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.deepEqual(offers(), [], "entry 7 was offered already");
    });

    it("asks for an optional note after Bad, and sends it", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 8, cached: true });
      testing.messageAnswers.push("Bad");
      testing.inputBoxAnswers.push("  it calls a function that does not exist ");
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.equal(offers()[0].message, "Hearth: Generate implementation (from the cache). Was it good?");
      const sent = await feedbackSent(2);
      assert.deepEqual(sent, [{ id: 8, rating: "bad", note: "it calls a function that does not exist" }]);
      assert.equal(testing.inputBoxes.length, 1);
    });

    it("sends Bad without a note when the note is dismissed", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 11, cached: false });
      testing.messageAnswers.push("Bad");
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.deepEqual(await feedbackSent(3), [{ id: 11, rating: "bad" }]);
    });

    it("sends nothing when the offer is dismissed", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 12, cached: false });
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.equal(offers().length, 1);
      await tick();
      assert.equal((await commandsSent("hearth.feedback")).length, 3);
    });

    it("is not made for an answer without historyId (history off), whose message still shows", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", message: "Nothing to generate", cached: false });
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.deepEqual(testing.messages, [{ kind: "information", message: "Hearth: Nothing to generate", items: [] }]);
    });

    it("carries the answer's message when there is one", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", message: "Wrote add.", historyId: 13 });
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.deepEqual(testing.messages.map((message) => message.message), ["Hearth: Wrote add. Was the answer good?"]);
    });

    it("comes after the client's own command too (a code action that carries a command)", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 14, cached: false });
      testing.messageAnswers.push("Good");
      await vscode.commands.executeCommand("hearth.generate", { uri: "untitled:Untitled-1", position: { line: 1, character: 4 } });
      assert.equal(offers().length, 1);
      assert.deepEqual(await feedbackSent(4), [{ id: 14, rating: "good" }]);
    });

    it("comes after codeAction/resolve, from the resolved action's data", async () => {
      const provider = testing.provider("registerCodeActionsProvider") as vscode.CodeActionProvider;
      const document = vscode.window.activeTextEditor!.document;
      const token = new vscode.CancellationTokenSource().token;
      const context = { diagnostics: [], only: undefined, triggerKind: vscode.CodeActionTriggerKind.Invoke };
      const [action] = ((await provider.provideCodeActions(document, new vscode.Range(1, 4, 1, 4), context, token)) ??
        []) as vscode.CodeAction[];
      testing.messageAnswers.push("Good");
      const resolved = await provider.resolveCodeAction!(action, token);
      assert.ok(resolved?.edit, "the edit still reaches VS Code");
      assert.deepEqual(offers().map((message) => message.message), [
        "Hearth: Generate implementation of add (from the cache). Was it good?",
      ]);
      assert.deepEqual(await feedbackSent(5), [{ id: 9, rating: "good" }]);
    });

    it("is not made after a resolve without historyId", async () => {
      await client.sendRequest("scripted/answer", { command: "codeAction/resolve", answer: { cached: false } });
      const provider = testing.provider("registerCodeActionsProvider") as vscode.CodeActionProvider;
      const action = Object.assign(new vscode.CodeAction("Hearth: Generate implementation"), { data: { action: "generate" } });
      await provider.resolveCodeAction!(action, new vscode.CancellationTokenSource().token);
      assert.deepEqual(offers(), []);
    });

    it("is not made when hearth.history.askForFeedback is off, and Don't ask again turns it off", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 15 });
      testing.messageAnswers.push("Don't ask again");
      await vscode.commands.executeCommand("hearth.palette.generate");
      const setting = () => vscode.workspace.getConfiguration("hearth").get("history.askForFeedback");
      await waitFor("the setting to change", async () => (setting() === false ? true : undefined));
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 16 });
      await vscode.commands.executeCommand("hearth.palette.generate");
      assert.equal(offers().length, 1, "no offer for entry 16");
    });

    it("warns when the server does not record the rating", async () => {
      await fail("hearth.feedback", -32602, "no history entry 17");
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 17 });
      testing.messageAnswers.push("Good");
      await vscode.commands.executeCommand("hearth.palette.generate");
      const warning = await waitFor("the warning", async () =>
        testing.messages.find((message) => message.kind === "warning"),
      );
      assert.equal(warning.message, "Hearth: the rating was not recorded: no history entry 17");
      await client.sendRequest("scripted/answer", { command: "hearth.feedback", answer: null });
    });

    describe("after a request no answer passed (the error names its history entry)", () => {
      const failed = "Generate add: none of 1 candidate(s) passed the checks (undefined name 'sum2').";
      const failWith = (command: string, historyId: number) =>
        client.sendRequest("scripted/answer", {
          command,
          answer: { error: { code: -32803, message: failed, data: { historyId } } },
        });
      const lastFeedback = (id: number) =>
        waitFor(`hearth.feedback for ${id}`, async () => {
          const sent = (await commandsSent("hearth.feedback")).at(-1);
          return sent?.params.arguments[0].id === id ? sent.params.arguments : undefined;
        });

      it("shows the failure once, with Say what it should do, and sends that as a bad rating's note", async () => {
        await failWith("hearth.generate", 21);
        testing.messageAnswers.push("Say what it should do");
        testing.inputBoxAnswers.push("  add the two numbers with +  ");
        await vscode.commands.executeCommand("hearth.palette.generate");
        assert.deepEqual(testing.messages, [
          { kind: "warning", message: `Hearth: ${failed}`, items: ["Say what it should do"] },
        ]);
        assert.deepEqual(await lastFeedback(21), [{ id: 21, rating: "bad", note: "add the two numbers with +" }]);
        assert.equal(testing.inputBoxes.at(-1)?.title, "Hearth: what should the answer do?");
        await waitFor("the thanks", async () => (testing.statusBarMessages.length > 0 ? true : undefined));
        assert.deepEqual(testing.statusBarMessages, ["Hearth: noted; ask again to use it"]);
      });

      it("does so after the client's own command too, and sends nothing when the note is dismissed", async () => {
        await failWith("hearth.generate", 22);
        testing.messageAnswers.push("Say what it should do");
        const before = (await commandsSent("hearth.feedback")).length;
        await vscode.commands.executeCommand("hearth.generate", {
          uri: "untitled:Untitled-1",
          position: { line: 1, character: 4 },
        });
        // One notification: the language client does not show the failure as well.
        assert.deepEqual(testing.messages.map((message) => message.items), [["Say what it should do"]]);
        await waitFor("the input box", async () => (testing.inputBoxes.length > 0 ? true : undefined));
        await tick();
        assert.equal((await commandsSent("hearth.feedback")).length, before);
      });

      it("is shown without the offer when hearth.history.askForFeedback is off", async () => {
        await vscode.workspace.getConfiguration("hearth").update("history.askForFeedback", false);
        try {
          await failWith("hearth.generate", 23);
          await vscode.commands.executeCommand("hearth.palette.generate");
          assert.deepEqual(testing.messages, [{ kind: "warning", message: `Hearth: ${failed}`, items: [] }]);
        } finally {
          await vscode.workspace.getConfiguration("hearth").update("history.askForFeedback", true);
        }
      });
    });
  });

  describe("Hearth: Show history", () => {
    const folder = mkdtempSync(join(tmpdir(), "hearth-history-"));
    writeFileSync(join(folder, "cart.py"), "class Cart:\n    def total(self):\n        return 0\n");
    const entries = [
      { id: 41, time: new Date().toISOString(), action: "fix", file: "cart.py", target: "Cart.total",
        title: "Hearth: Fix E999", confidence: 0.4, outcome: "undone", feedback: null, cached: false, elapsed_s: 2.2 },
      { id: 40, time: "2026-01-05T09:00:00Z", action: "explain", file: null, target: null,
        title: "Hearth: Explain", confidence: null, outcome: null, feedback: "good", cached: true, elapsed_s: 0.4 },
    ];

    it("lists the entries and sends the rating picked for one", async () => {
      await answer("hearth.history", { enabled: true, entries });
      testing.quickPickAnswers.push(
        (items: vscode.QuickPickItem[]) => items[0],
        (items: vscode.QuickPickItem[]) => items.find((choice) => choice.label.includes("Mark bad")),
      );
      await vscode.commands.executeCommand(SHOW_HISTORY_COMMAND);
      const [asked] = (await commandsSent("hearth.history")).slice(-1);
      assert.deepEqual(asked.params.arguments, [{ limit: HISTORY_LIMIT }]);
      const [list, actions] = testing.quickPicks;
      assert.deepEqual(
        list.items.map((choice: vscode.QuickPickItem) => [choice.label, choice.description, choice.detail]),
        [
          ["Fix E999", "fix · cart.py:Cart.total", "just now · confidence 40% · undone · 2.2 s"],
          ["$(thumbsup) Explain", "explain", describeEntry(parseHistory({ entries })!.entries[1], new Date()).detail],
        ],
      );
      assert.match(list.items[1].detail, /rated good · cached · 0\.4 s$/);
      assert.deepEqual(
        actions.items.map((choice: vscode.QuickPickItem) => choice.label),
        ["$(thumbsup) Mark good", "$(thumbsdown) Mark bad", "$(go-to-file) Open"],
      );
      const sent = await waitFor("hearth.feedback", async () => (await commandsSent("hearth.feedback")).at(-1));
      assert.deepEqual(sent.params.arguments, [{ id: 41, rating: "bad" }]);
    });

    it("offers no Open for an entry without a file, and says which rating it has", async () => {
      testing.quickPickAnswers.push((items: vscode.QuickPickItem[]) => items[1]);
      await vscode.commands.executeCommand(SHOW_HISTORY_COMMAND);
      const actions = testing.quickPicks[1].items as vscode.QuickPickItem[];
      assert.deepEqual(
        actions.map((choice) => [choice.label, choice.description]),
        [
          ["$(thumbsup) Mark good", "its rating now"],
          ["$(thumbsdown) Mark bad", undefined],
        ],
      );
    });

    it("opens the entry's file at its target", async () => {
      const workspace = vscode.workspace as { workspaceFolders: unknown };
      workspace.workspaceFolders = [{ uri: vscode.Uri.file(folder), name: "shop", index: 0 }];
      try {
        testing.quickPickAnswers.push(
          (items: vscode.QuickPickItem[]) => items[0],
          (items: vscode.QuickPickItem[]) => items.find((choice) => choice.label.includes("Open")),
        );
        await vscode.commands.executeCommand(SHOW_HISTORY_COMMAND);
        const editor = vscode.window.activeTextEditor!;
        assert.equal(editor.document.uri.fsPath, join(folder, "cart.py"));
        const { start, end } = editor.selection;
        assert.deepEqual([start.line, start.character, end.line, end.character], [1, 8, 1, 13]);
      } finally {
        workspace.workspaceFolders = undefined;
      }
    });

    it("says so when the history is off", async () => {
      await answer("hearth.history", { enabled: false, entries: [] });
      await vscode.commands.executeCommand(SHOW_HISTORY_COMMAND);
      assert.equal(testing.quickPicks.length, 0);
      assert.match(testing.messages[0].message, /the history is off for this workspace/);
    });

    it("says so when the history is empty", async () => {
      await answer("hearth.history", { enabled: true, entries: [] });
      await vscode.commands.executeCommand(SHOW_HISTORY_COMMAND);
      assert.equal(testing.quickPicks.length, 0);
      assert.match(testing.messages[0].message, /no answers in the history yet/);
    });

    it("reports a failing hearth.history", async () => {
      await fail("hearth.history", -32603, "database is locked");
      await vscode.commands.executeCommand(SHOW_HISTORY_COMMAND);
      assert.deepEqual(testing.messages.map((message) => [message.kind, message.message]), [
        ["error", "Hearth: the server could not list its history: database is locked"],
      ]);
    });
  });

  describe("the tooltip's figures", () => {
    it("come from hearth.stats after an answer", async () => {
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 50 });
      await answer("hearth.stats", STATS);
      await vscode.commands.executeCommand("hearth.palette.generate");
      await waitFor("the figures", async () => (item.tooltip?.includes("History: 14 answers") ? true : undefined));
      assert.match(item.tooltip!, /generate: 10 requests, 6 accepted, 2 rejected \(75% accepted\), median 3\.4 s/);
      assert.match(item.tooltip!, /Cache: 3 of 25 lookups answered \(12%\)/);
    });

    it("are asked again when an action ends (hearth/status busy, then ready)", async () => {
      const asked = (await commandsSent("hearth.stats")).length;
      await client.sendRequest("scripted/notify", { method: "hearth/status", params: { state: "busy", message: "fix" } });
      await client.sendRequest("scripted/notify", {
        method: "hearth/status",
        params: { state: "ready", lastAction: { name: "fix", elapsed_s: 1.2, confidence: 0.9 } },
      });
      await waitFor("hearth.stats", async () => ((await commandsSent("hearth.stats")).length > asked ? true : undefined));
    });

    it("stay as they were when hearth.stats fails", async () => {
      const before = item.tooltip;
      const asked = (await commandsSent("hearth.stats")).length;
      await fail("hearth.stats", -32601, "Unknown command hearth.stats");
      await answer("hearth.generate", { title: "Hearth: Generate implementation", historyId: 51 });
      await vscode.commands.executeCommand("hearth.palette.generate");
      await waitFor("hearth.stats", async () => ((await commandsSent("hearth.stats")).length > asked ? true : undefined));
      await session.refreshStats();
      assert.equal(item.tooltip, before);
      assert.deepEqual(
        testing.messages.filter((message) => message.kind !== "information"),
        [],
        "no error shown for the figures",
      );
    });
  });
});
