import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import * as vscode from "vscode";
import { testing } from "../stub/vscode.mjs";
import { ExplainPreview, parseAnswerProgress, PREVIEW_SCHEME } from "../../src/explainPreview";
import { ServerSession } from "../../src/session";
import { StatusBar } from "../../src/status";

function previewsOpened(): string[] {
  return testing.externalCommands
    .filter((command) => command.id === "markdown.showPreviewToSide")
    .map((command) => String(command.args[0]));
}

/** The preview's content each time it says it changed, as VS Code would read it then. */
function watch(preview: ExplainPreview): string[] {
  const seen: string[] = [];
  preview.onDidChange((uri) => seen.push(preview.provideTextDocumentContent(uri)));
  return seen;
}

describe("parseAnswerProgress", () => {
  it("reads the server's notification", () => {
    assert.deepEqual(parseAnswerProgress({ id: 7, uri: "file:///a.py", action: "explain", text: "# A" }), {
      id: 7,
      text: "# A",
    });
    assert.deepEqual(parseAnswerProgress({ id: "r1", text: "" }), { id: "r1", text: "" });
  });

  it("rejects what does not fit", () => {
    assert.equal(parseAnswerProgress(undefined), undefined);
    assert.equal(parseAnswerProgress({ id: 7 }), undefined);
    assert.equal(parseAnswerProgress({ id: 7, text: 3 }), undefined);
    assert.equal(parseAnswerProgress({ id: null, text: "# A" }), undefined);
    assert.equal(parseAnswerProgress({ id: { nested: 1 }, text: "# A" }), undefined);
  });
});

describe("ExplainPreview", () => {
  beforeEach(() => testing.reset());

  it("fills one virtual Markdown document as the text arrives, and opens its preview once", async () => {
    const preview = new ExplainPreview();
    const seen = watch(preview);
    assert.equal(preview.uri.scheme, PREVIEW_SCHEME);
    await preview.showPartial({ id: 1, text: "# Explanation\n\n## What it does\nIt" });
    await preview.showPartial({ id: 1, text: "# Explanation\n\n## What it does\nIt adds." });
    assert.deepEqual(seen, ["# Explanation\n\n## What it does\nIt", "# Explanation\n\n## What it does\nIt adds."]);
    assert.deepEqual(previewsOpened(), [preview.uri.toString()], "one preview for the request");
    assert.equal(preview.provideTextDocumentContent(vscode.Uri.parse("hearth-explain:/other.md")), "");
  });

  it("replaces the partial text with the final document and shows it", async () => {
    const preview = new ExplainPreview();
    const seen = watch(preview);
    await preview.showPartial({ id: 1, text: "# Explanation\n\n## What it" });
    await preview.showFinal("# Explanation\n\n## What it does\nIt adds.\n\n## Found by Hearth's checks\nNothing.\n");
    assert.equal(seen.length, 2);
    assert.match(preview.current, /Found by Hearth's checks/);
    assert.equal(previewsOpened().length, 2, "the final document is shown even if the preview was closed");
  });

  it("follows the newest request", async () => {
    const preview = new ExplainPreview();
    await preview.showPartial({ id: 1, text: "# First" });
    await preview.showFinal("# First, final");
    await preview.showPartial({ id: 2, text: "# Second" });
    assert.equal(preview.current, "# Second");
    assert.equal(previewsOpened().length, 3);
  });
});

describe("ServerSession and the preview", () => {
  beforeEach(() => testing.reset());

  it("shows Explain's answer in the preview, and other commands' answers not", async () => {
    const session = new ServerSession({
      extensionPath: "/nonexistent",
      log: vscode.window.createOutputChannel("Hearth test", { log: true }),
      status: new StatusBar("hearth.showLogs"),
      probe: async () => "not used",
    });
    await session.presentResult("hearth.generate", { markdown: "# not shown" });
    assert.equal(session.preview.current, "");
    await session.presentResult("hearth.explain", { markdown: "# Explanation of `add`" });
    assert.equal(session.preview.current, "# Explanation of `add`");
    assert.deepEqual(previewsOpened(), [session.preview.uri.toString()]);
    await session.dispose();
  });
});
