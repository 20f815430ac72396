import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  expandHome,
  findServer,
  processProbe,
  serverCandidates,
  venvPython,
  type DiscoveryOptions,
  type Probe,
} from "../../src/serverDiscovery";

function options(overrides: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  return {
    developmentRoots: [],
    platform: "linux",
    exists: () => false,
    homeDir: "/home/me",
    ...overrides,
  };
}

const commandLines = (opts: DiscoveryOptions) =>
  serverCandidates(opts).map((candidate) => [candidate.command, ...candidate.args].join(" "));

describe("serverCandidates", () => {
  it("tries the path setting, the python setting, development venvs, then python3", () => {
    const lines = commandLines(
      options({
        serverPath: "/opt/hearth/bin/hearth",
        serverPython: "/usr/bin/python3.11",
        developmentRoots: ["/work/project", "/ext"],
        exists: (file) => file === "/work/project/.venv/bin/python" || file === "/ext/.venv/bin/python",
      }),
    );
    assert.deepEqual(lines, [
      "/opt/hearth/bin/hearth serve --stdio",
      "/usr/bin/python3.11 -m hearth serve --stdio",
      "/work/project/.venv/bin/python -m hearth serve --stdio",
      "/ext/.venv/bin/python -m hearth serve --stdio",
      "python3 -m hearth serve --stdio",
    ]);
  });

  it("falls back to python3 alone when nothing is set and no venv exists", () => {
    assert.deepEqual(commandLines(options({ developmentRoots: ["/work/project"] })), [
      "python3 -m hearth serve --stdio",
    ]);
  });

  it("ignores blank settings and repeated roots", () => {
    const lines = commandLines(
      options({ serverPath: "  ", serverPython: "", developmentRoots: ["/r", "/r"], exists: () => true }),
    );
    assert.deepEqual(lines, ["/r/.venv/bin/python -m hearth serve --stdio", "python3 -m hearth serve --stdio"]);
  });

  it("uses Scripts\\python.exe and python on Windows", () => {
    const lines = commandLines(
      options({ platform: "win32", developmentRoots: ["C:\\work\\project"], exists: () => true }),
    );
    assert.deepEqual(lines, [
      "C:\\work\\project\\.venv\\Scripts\\python.exe -m hearth serve --stdio",
      "python -m hearth serve --stdio",
    ]);
  });

  it("expands ~ in the settings", () => {
    const [first] = serverCandidates(options({ serverPath: "~/bin/hearth" }));
    assert.equal(first.command, "/home/me/bin/hearth");
    assert.equal(expandHome("~", "/h"), "/h");
    assert.equal(expandHome("/a/~/b", "/h"), "/a/~/b");
  });

  it("probes an executable with --version and a Python by importing hearth", () => {
    const [executable, python] = serverCandidates(options({ serverPath: "hearth", serverPython: "py" }));
    assert.deepEqual(executable.probeArgs, ["--version"]);
    assert.deepEqual(python.probeArgs, ["-c", "import hearth"]);
    assert.equal(venvPython("/r", "linux"), "/r/.venv/bin/python");
  });
});

describe("findServer", () => {
  const candidates = serverCandidates(
    options({ serverPath: "/bad/hearth", developmentRoots: ["/dev"], exists: () => true }),
  );

  it("returns the first candidate that passes its probe, with the failures before it", async () => {
    const probed: string[] = [];
    const probe: Probe = async (command) => {
      probed.push(command);
      return command === "/bad/hearth" ? "not found" : undefined;
    };
    const discovery = await findServer(candidates, probe);
    assert.deepEqual(probed, ["/bad/hearth", "/dev/.venv/bin/python"]);
    assert.equal(discovery.server?.command, "/dev/.venv/bin/python");
    assert.deepEqual(discovery.server?.args, ["-m", "hearth", "serve", "--stdio"]);
    assert.deepEqual(
      discovery.failures.map((failure) => [failure.candidate.command, failure.reason]),
      [["/bad/hearth", "not found"]],
    );
  });

  it("reports every failure when nothing works", async () => {
    const discovery = await findServer(candidates, async () => "No module named hearth");
    assert.equal(discovery.server, undefined);
    assert.equal(discovery.failures.length, candidates.length);
  });
});

describe("processProbe", () => {
  const folder = mkdtempSync(join(tmpdir(), "hearth-probe-"));
  const script = (name: string, body: string) => {
    const file = join(folder, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const probe = processProbe(2_000);

  it("accepts a command that exits with status 0", async () => {
    assert.equal(await probe(script("ok", "exit 0"), []), undefined);
  });

  it("explains a missing command", async () => {
    assert.equal(await probe(join(folder, "missing"), []), "not found");
  });

  it("explains a failing command with its last line of stderr", async () => {
    const reason = await probe(script("fails", "echo 'Traceback' >&2; echo 'No module named hearth' >&2; exit 1"), []);
    assert.equal(reason, "No module named hearth");
  });

  it("gives up on a command that hangs", async () => {
    const reason = await processProbe(300)(script("hangs", "exec sleep 5"), []);
    assert.equal(reason, "no answer within 0.3 s");
  });
});
