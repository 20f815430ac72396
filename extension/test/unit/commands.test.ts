import assert from "node:assert/strict";
import { describe, it } from "node:test";
import manifest from "../../../package.json";
import {
  actionsFromServer,
  buildCommandArguments,
  CommandArgumentError,
  failureMessage,
  PALETTE_COMMANDS,
  presentationOf,
  RUN_ACTION_PALETTE,
  type EditorLike,
} from "../../src/commands";

const generate = PALETTE_COMMANDS.find((command) => command.server === "hearth.generate")!;
const index = PALETTE_COMMANDS.find((command) => command.server === "hearth.indexWorkspace")!;

function editor(
  selection: [number, number, number, number],
  languageId = "python",
  cursorAtStart = false,
): EditorLike {
  const [startLine, startCharacter, endLine, endCharacter] = selection;
  const start = { line: startLine, character: startCharacter };
  const end = { line: endLine, character: endCharacter };
  return {
    document: { uri: { toString: () => "file:///p/add.py" }, version: 7, languageId },
    selection: {
      start,
      end,
      active: cursorAtStart ? start : end,
      isEmpty: startLine === endLine && startCharacter === endCharacter,
    },
  };
}

describe("palette commands", () => {
  it("are contributed in package.json with their own ids, apart from the server's", () => {
    const contributed = manifest.contributes.commands.map((command) => command.command);
    for (const command of PALETTE_COMMANDS) {
      assert.ok(contributed.includes(command.palette), command.palette);
      assert.ok(!contributed.includes(command.server), `${command.server} is the server's to register`);
    }
    assert.ok(contributed.includes("hearth.showLogs"));
    assert.ok(contributed.includes("hearth.restart"));
  });

  it("carry the titles the palette shows", () => {
    for (const command of PALETTE_COMMANDS) {
      const contributed = manifest.contributes.commands.find((entry) => entry.command === command.palette)!;
      assert.equal(contributed.title, command.title);
      assert.equal(contributed.category, "Hearth");
    }
  });

  it("cover the five server commands", () => {
    assert.deepEqual(
      PALETTE_COMMANDS.map((command) => command.server),
      ["hearth.generate", "hearth.fix", "hearth.explain", "hearth.generateTests", "hearth.indexWorkspace"],
    );
  });
});

describe("buildCommandArguments", () => {
  it("sends the cursor, the version and no range for an empty selection", () => {
    assert.deepEqual(buildCommandArguments(generate, editor([2, 4, 2, 4]), undefined), {
      uri: "file:///p/add.py",
      position: { line: 2, character: 4 },
      version: 7,
    });
  });

  it("sends the selection as the range", () => {
    assert.deepEqual(buildCommandArguments(generate, editor([1, 0, 3, 8], "python", true), "file:///p"), {
      uri: "file:///p/add.py",
      position: { line: 1, character: 0 },
      range: { start: { line: 1, character: 0 }, end: { line: 3, character: 8 } },
      version: 7,
    });
  });

  it("sends plain JSON positions, not the editor's objects", () => {
    const args = buildCommandArguments(generate, editor([0, 1, 0, 2]), undefined);
    assert.deepEqual(Object.keys(args.position!), ["line", "character"]);
  });

  it("asks for a Python editor when there is none", () => {
    assert.throws(() => buildCommandArguments(generate, undefined, "file:///p"), CommandArgumentError);
    assert.throws(
      () => buildCommandArguments(generate, editor([0, 0, 0, 0], "markdown"), "file:///p"),
      /Open a Python file/,
    );
  });

  it("indexes the workspace folder without an editor", () => {
    assert.deepEqual(buildCommandArguments(index, undefined, "file:///p"), { uri: "file:///p" });
    assert.throws(() => buildCommandArguments(index, undefined, undefined), /Open a folder/);
  });
});

describe("presentationOf", () => {
  it("shows Explain's Markdown", () => {
    assert.deepEqual(presentationOf("hearth.explain", { markdown: "# add\nAdds.", confidence: 0.9 }), {
      markdown: "# add\nAdds.",
    });
  });

  it("shows a message from any command", () => {
    assert.deepEqual(presentationOf("hearth.indexWorkspace", { message: "Indexed 12 files" }), {
      message: "Indexed 12 files",
    });
  });

  it("shows nothing for results without either", () => {
    assert.deepEqual(presentationOf("hearth.generate", { markdown: "only explain previews" }), {});
    assert.deepEqual(presentationOf("hearth.generate", null), {});
    assert.deepEqual(presentationOf("hearth.explain", "text"), {});
    assert.deepEqual(presentationOf("hearth.fix", { message: "  " }), {});
  });
});

describe("failureMessage", () => {
  const error = (code: number, message: string) => Object.assign(new Error(message), { code });

  it("adds nothing to a cancellation or to an error the server has shown", () => {
    assert.equal(failureMessage(generate, error(-32800, "Cancelled")), undefined);
    assert.equal(failureMessage(generate, error(-32803, "The model file is missing")), undefined);
  });

  it("passes on the server's word when the document changed", () => {
    assert.equal(
      failureMessage(generate, error(-32801, "The document changed; run it again.")),
      "Hearth: The document changed; run it again.",
    );
  });

  it("names the command for anything else", () => {
    assert.equal(
      failureMessage(generate, error(-32602, "hearth.generate needs a position")),
      "Hearth: Generate implementation failed: hearth.generate needs a position",
    );
    assert.equal(failureMessage(index, "connection closed"), "Hearth: Index workspace failed: connection closed");
  });
});

describe("actionsFromServer", () => {
  it("turns the server's list into palette commands, a new action included", () => {
    const listed = {
      actions: [
        { command: "hearth.generate", name: "generate", title: "Generate implementation", makesEdits: true },
        { command: "hearth.docstring", name: "docstring", title: "Write docstring", makesEdits: true },
      ],
    };
    assert.deepEqual(actionsFromServer(listed), [
      { palette: RUN_ACTION_PALETTE, server: "hearth.generate", title: "Generate implementation", needsEditor: true },
      { palette: RUN_ACTION_PALETTE, server: "hearth.docstring", title: "Write docstring", needsEditor: true },
    ]);
  });

  it("leaves out malformed entries and answers that are not a list", () => {
    assert.deepEqual(actionsFromServer({ actions: [{ command: 3, title: "x" }, null, "hearth.fix"] }), []);
    assert.deepEqual(actionsFromServer(null), []);
    assert.deepEqual(actionsFromServer({ actions: "hearth.fix" }), []);
  });

  it("has its palette entry contributed in package.json", () => {
    const contributed = manifest.contributes.commands.map((command) => command.command);
    assert.ok(contributed.includes(RUN_ACTION_PALETTE));
  });
});
