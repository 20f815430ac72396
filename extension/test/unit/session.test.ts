import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, it } from "node:test";
import * as vscode from "vscode";
import { testing } from "../stub/vscode.mjs";
import { INSTALL_URL, type Probe } from "../../src/serverDiscovery";
import { ServerSession } from "../../src/session";
import { StatusBar } from "../../src/status";

const tick = () => new Promise((resolve) => setImmediate(resolve));

function sessionWithoutServer() {
  const probed: string[] = [];
  const probe: Probe = async (command) => {
    probed.push(command);
    return "No module named hearth";
  };
  const log = vscode.window.createOutputChannel("Hearth test", { log: true });
  const status = new StatusBar("hearth.showLogs");
  const session = new ServerSession({
    extensionPath: mkdtempSync(join(tmpdir(), "hearth-ext-")),
    log,
    status,
    probe,
  });
  return { session, status, probed, log: log as unknown as { lines: string[]; shown?: number } };
}

/** A configuration change event for one changed key. */
function changeOf(key: string): vscode.ConfigurationChangeEvent {
  return { affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`) };
}

describe("ServerSession without any server", () => {
  beforeEach(() => testing.reset());

  it("says so, with a way to install and a way to see the logs", async () => {
    const { session, status, log } = sessionWithoutServer();
    testing.messageAnswers.push("How to install");
    await session.restart();
    await tick();
    const [message] = testing.messages;
    assert.equal(message.kind, "error");
    assert.match(message.message, /no Hearth server found/);
    assert.deepEqual(message.items, ["How to install", "Show logs"]);
    assert.deepEqual(testing.openedExternally, [INSTALL_URL]);
    assert.equal(status.current.state, "error");
    assert.ok(log.lines.some((line) => line.includes("python3 on PATH (python3): No module named hearth")));
    assert.equal(await session.runningClient(), undefined);
  });

  it("opens the logs from the message", async () => {
    const { session, log } = sessionWithoutServer();
    testing.messageAnswers.push("Show logs");
    await session.restart();
    await tick();
    assert.equal(log.shown, 1);
  });

  it("tries the configured server first", async () => {
    const { session, probed } = sessionWithoutServer();
    await vscode.workspace.getConfiguration("hearth").update("server.python", "/opt/py/bin/python");
    await session.restart();
    assert.deepEqual(probed, ["/opt/py/bin/python", "python3"]);
  });

  it("looks for the server again when a setting read at start changes, and only then", async () => {
    const { session, probed } = sessionWithoutServer();
    await session.restart();
    assert.equal(probed.length, 1);
    session.onConfigurationChanged(changeOf("hearth.generation.samples"));
    session.onConfigurationChanged(changeOf("editor.fontSize"));
    await session.runningClient();
    assert.equal(probed.length, 1);
    session.onConfigurationChanged(changeOf("hearth.model.name"));
    session.onConfigurationChanged(changeOf("hearth.openai.baseUrl"));
    await session.runningClient();
    assert.equal(probed.length, 2, "two changes in a row restart once");
  });
});
