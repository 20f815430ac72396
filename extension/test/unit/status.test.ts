import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { testing } from "../stub/vscode.mjs";
import { describeStatus, formatLastAction, mergeStatus, parseStatus, StatusBar } from "../../src/status";

describe("parseStatus", () => {
  it("reads the server's notification", () => {
    assert.deepEqual(
      parseStatus({
        state: "ready",
        message: "model loaded",
        lastAction: { name: "generate", elapsed_s: 3.21, confidence: 0.82 },
      }),
      {
        state: "ready",
        message: "model loaded",
        percentage: undefined,
        lastAction: { name: "generate", elapsedS: 3.21, confidence: 0.82 },
      },
    );
  });

  it("rejects what does not fit, and drops malformed optional fields", () => {
    assert.equal(parseStatus(null), undefined);
    assert.equal(parseStatus({ state: "sleeping" }), undefined);
    assert.equal(parseStatus({ state: "starting" }), undefined, "starting is the extension's own state");
    assert.deepEqual(parseStatus({ state: "busy", percentage: "50", lastAction: { name: 1 } }), {
      state: "busy",
      message: undefined,
      percentage: undefined,
      lastAction: undefined,
    });
  });
});

describe("describeStatus", () => {
  const action = { name: "generate", elapsedS: 3.21, confidence: 0.82 };

  it("shows loading and indexing progress", () => {
    assert.equal(describeStatus({ state: "loading", percentage: 45.4 }).text, "$(sync~spin) Hearth loading model 45%");
    assert.equal(describeStatus({ state: "indexing", percentage: 10 }).text, "$(sync~spin) Hearth indexing 10%");
    assert.equal(describeStatus({ state: "indexing" }).text, "$(sync~spin) Hearth indexing");
  });

  it("shows the last action's time and confidence when ready", () => {
    assert.equal(describeStatus({ state: "ready" }).text, "$(check) Hearth");
    const view = describeStatus({ state: "ready", lastAction: action });
    assert.equal(view.text, "$(check) Hearth generate 3.2 s, confidence 82%");
    assert.match(view.tooltip, /Last action: generate 3.2 s, confidence 82%/);
    assert.equal(view.isError, false);
  });

  it("shows what the server is busy with", () => {
    assert.equal(describeStatus({ state: "busy", message: "explain" }).text, "$(sync~spin) Hearth explain");
    assert.equal(describeStatus({ state: "busy" }).text, "$(sync~spin) Hearth working");
    assert.equal(
      describeStatus({ state: "busy", message: "Hearth: Generate implementation" }).text,
      "$(sync~spin) Hearth Generate implementation",
    );
  });

  it("marks errors and a stopped server", () => {
    const error = describeStatus({ state: "error", message: "model file is missing" });
    assert.equal(error.isError, true);
    assert.match(error.tooltip, /model file is missing/);
    assert.equal(describeStatus({ state: "stopped" }).isError, true);
  });

  it("formats long actions in whole seconds and leaves out an unknown confidence", () => {
    assert.equal(formatLastAction({ name: "fix", elapsedS: 42.6 }), "fix 43 s");
  });
});

describe("mergeStatus", () => {
  it("keeps the last action until a new one replaces it", () => {
    const first = { name: "generate", elapsedS: 2, confidence: 0.5 };
    const second = { name: "fix", elapsedS: 1 };
    let status = mergeStatus({ state: "starting" }, { state: "ready", lastAction: first });
    status = mergeStatus(status, { state: "busy", message: "fix" });
    assert.deepEqual(status.lastAction, first);
    status = mergeStatus(status, { state: "ready", lastAction: second });
    assert.deepEqual(status.lastAction, second);
  });
});

describe("StatusBar", () => {
  it("shows the status on a visible item that opens the logs", () => {
    const bar = new StatusBar("hearth.showLogs");
    const item = testing.statusBarItems.at(-1)!;
    assert.equal(item.visible, true);
    assert.equal(item.command, "hearth.showLogs");
    assert.equal(item.text, "$(sync~spin) Hearth");
    bar.update({ state: "error", message: "boom" });
    assert.equal(item.text, "$(error) Hearth");
    assert.equal((item.backgroundColor as { id: string }).id, "statusBarItem.errorBackground");
    bar.update({ state: "ready" });
    assert.equal(item.backgroundColor, undefined);
    bar.dispose();
    assert.equal(item.visible, false);
  });
});
