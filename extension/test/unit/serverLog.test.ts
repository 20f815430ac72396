import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PassThrough } from "node:stream";
import * as vscode from "vscode";
import { levelOfLine, serverStdio } from "../../src/serverLog";

describe("levelOfLine", () => {
  it("reads Python logging's level names", () => {
    assert.equal(levelOfLine("2026-11-21 13:13:03,533 INFO pygls.server: Starting", undefined), "info");
    assert.equal(levelOfLine("2026-11-21 13:13:03,533 WARNING hearth.settings: odd", "info"), "warn");
    assert.equal(levelOfLine("2026-11-21 13:13:03,533 CRITICAL hearth: down", "info"), "error");
    assert.equal(levelOfLine("DEBUG hearth.core: detail", "info"), "debug");
  });

  it("files continuation lines with their record", () => {
    assert.equal(levelOfLine('  File "x.py", line 3, in f', "error"), "error");
    assert.equal(levelOfLine("second line of an info message", "info"), "info");
  });

  it("treats output before any record as an error (a crash at start)", () => {
    assert.equal(levelOfLine("Traceback (most recent call last):", undefined), "error");
  });

  it("does not mistake a level word inside the text for the level", () => {
    assert.equal(levelOfLine("2026-11-21 13:13:03,533 INFO x: saw ERROR in file", undefined), "info");
  });
});

describe("serverStdio.stderr", () => {
  it("forwards each line to the channel at its level", async () => {
    const channel = vscode.window.createOutputChannel("stderr test", { log: true }) as unknown as
      vscode.LogOutputChannel & { lines: string[] };
    const input = new PassThrough();
    serverStdio.stderr(input, channel);
    input.end(
      [
        "2026-11-21 13:13:03,533 INFO pygls.server: Starting",
        "2026-11-21 13:13:04,000 ERROR hearth.lsp: failed",
        "Traceback (most recent call last):",
        "",
      ].join("\n"),
    );
    await new Promise((resolve) => input.on("end", resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(channel.lines, [
      "[info] 2026-11-21 13:13:03,533 INFO pygls.server: Starting",
      "[error] 2026-11-21 13:13:04,000 ERROR hearth.lsp: failed",
      "[error] Traceback (most recent call last):",
    ]);
  });
});
