/**
 * Finds a runnable Hearth server: the configured executable, the configured Python, a
 * development `.venv`, then `python3`, each probed before it is chosen.
 */
import { execFile, type ExecFileException } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

export const INSTALL_URL = "https://github.com/hearth-dev/hearth#quick-start";

/** How to start the server; `args` already end in `serve --stdio`. */
export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the command came from, for messages and logs. */
  source: string;
}

export interface Candidate extends ServerCommand {
  /** Arguments that succeed quickly when the command can run the server. */
  probeArgs: string[];
}

export interface DiscoveryOptions {
  serverPath?: string | null;
  serverPython?: string | null;
  /** Folders whose `.venv` may hold a development install (workspace folders, the extension). */
  developmentRoots: string[];
  platform: NodeJS.Platform;
  exists: (file: string) => boolean;
  homeDir?: string;
}

const SERVE_ARGS = ["serve", "--stdio"];
const IMPORT_PROBE = ["-c", "import hearth"];

function executableCandidate(executable: string, source: string): Candidate {
  return { command: executable, args: [...SERVE_ARGS], probeArgs: ["--version"], source };
}

function pythonCandidate(python: string, source: string): Candidate {
  return { command: python, args: ["-m", "hearth", ...SERVE_ARGS], probeArgs: IMPORT_PROBE, source };
}

export function venvPython(root: string, platform: NodeJS.Platform): string {
  return platform === "win32"
    ? path.win32.join(root, ".venv", "Scripts", "python.exe")
    : path.posix.join(root, ".venv", "bin", "python");
}

export function expandHome(file: string, homeDir: string = os.homedir()): string {
  return file === "~" || file.startsWith("~/") ? homeDir + file.slice(1) : file;
}

/** Every candidate in the order they are tried. */
export function serverCandidates(options: DiscoveryOptions): Candidate[] {
  const candidates: Candidate[] = [];
  const serverPath = options.serverPath?.trim();
  if (serverPath) {
    candidates.push(
      executableCandidate(expandHome(serverPath, options.homeDir), "setting hearth.server.path"),
    );
  }
  const serverPython = options.serverPython?.trim();
  if (serverPython) {
    candidates.push(
      pythonCandidate(expandHome(serverPython, options.homeDir), "setting hearth.server.python"),
    );
  }
  const seen = new Set<string>();
  for (const root of options.developmentRoots) {
    const python = venvPython(root, options.platform);
    if (!seen.has(python) && options.exists(python)) {
      seen.add(python);
      candidates.push(pythonCandidate(python, `the .venv in ${root}`));
    }
  }
  const systemPython = options.platform === "win32" ? "python" : "python3";
  candidates.push(pythonCandidate(systemPython, `${systemPython} on PATH`));
  return candidates;
}

/** Resolves to undefined when the command works, else to the reason it does not. */
export type Probe = (command: string, args: string[]) => Promise<string | undefined>;

export interface ProbeFailure {
  candidate: Candidate;
  reason: string;
}

export interface Discovery {
  server?: ServerCommand;
  failures: ProbeFailure[];
}

export async function findServer(candidates: Candidate[], probe: Probe): Promise<Discovery> {
  const failures: ProbeFailure[] = [];
  for (const candidate of candidates) {
    const reason = await probe(candidate.command, candidate.probeArgs);
    if (reason === undefined) {
      const { command, args, source } = candidate;
      return { server: { command, args, source }, failures };
    }
    failures.push({ candidate, reason });
  }
  return { failures };
}

/** A probe that runs the command and waits at most `timeoutMs` for it to exit with status 0. */
export function processProbe(timeoutMs: number): Probe {
  return (command, args) =>
    new Promise((resolve) => {
      execFile(command, args, { timeout: timeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
        if (!error) {
          resolve(undefined);
        } else {
          resolve(describeProbeError(error, stderr, timeoutMs));
        }
      });
    });
}

function describeProbeError(
  error: ExecFileException,
  stderr: string,
  timeoutMs: number,
): string {
  if (error.code === "ENOENT") {
    return "not found";
  }
  if (error.code === "EACCES") {
    return "not executable";
  }
  if (error.killed) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  const lastLine = stderr.trim().split(/\r?\n/).pop();
  return lastLine ? lastLine : error.message;
}

export function describeFailures(failures: ProbeFailure[]): string {
  return failures
    .map(({ candidate, reason }) => `${candidate.source} (${candidate.command}): ${reason}`)
    .join("\n");
}
