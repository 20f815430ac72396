/**
 * The running Hearth server: finds it, starts it with the current settings, restarts it (one
 * restart at a time) and keeps the status bar up to date.
 */
import * as fs from "node:fs";
import * as vscode from "vscode";
import { DidChangeConfigurationNotification, State, type LanguageClient } from "vscode-languageclient/node";
import { createLanguageClient } from "./client";
import { presentationOf } from "./commands";
import { EXPLAIN_PROGRESS_NOTIFICATION, ExplainPreview, parseAnswerProgress } from "./explainPreview";
import { RestartQueue } from "./restartQueue";
import {
  describeFailures,
  findServer,
  INSTALL_URL,
  processProbe,
  serverCandidates,
  type Discovery,
  type Probe,
} from "./serverDiscovery";
import { affectsHearth, needsRestart, SECTION, toServerSettings, type ServerSettings } from "./settings";
import { parseStatus, STATUS_NOTIFICATION, type StatusBar } from "./status";

const PROBE_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
export const SHOW_LOGS_COMMAND = "hearth.showLogs";
export const RESTART_COMMAND = "hearth.restart";

export interface SessionDependencies {
  extensionPath: string;
  log: vscode.LogOutputChannel;
  status: StatusBar;
  probe?: Probe;
}

export class ServerSession implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly restarts = new RestartQueue(() => this.replaceServer());
  private readonly probe: Probe;
  /** Explain's Markdown, as it is written and when it is done; activate() registers it. */
  readonly preview = new ExplainPreview();

  constructor(private readonly deps: SessionDependencies) {
    this.probe = deps.probe ?? processProbe(PROBE_TIMEOUT_MS);
  }

  /** Starts the server, or restarts it when it runs; queued behind any restart under way. */
  restart(): Promise<void> {
    return this.restarts.request();
  }

  /** The client once queued restarts are over, if its server is running. */
  async runningClient(): Promise<LanguageClient | undefined> {
    await this.restarts.idle();
    return this.client?.isRunning() ? this.client : undefined;
  }

  readSettings(scopeUri?: string): ServerSettings {
    const scope = scopeUri ? vscode.Uri.parse(scopeUri) : undefined;
    return toServerSettings(vscode.workspace.getConfiguration(SECTION, scope));
  }

  onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    const affects = (section: string) => event.affectsConfiguration(section);
    if (!affectsHearth(affects)) {
      return;
    }
    if (needsRestart(affects)) {
      this.deps.log.info("A setting that the server reads at start changed: restarting it.");
      void this.restart();
    } else if (this.client?.isRunning()) {
      void this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: this.readSettings() },
      });
    }
  }

  async presentResult(command: string, result: unknown): Promise<void> {
    const presentation = presentationOf(command, result);
    if (presentation.markdown !== undefined) {
      await this.preview.showFinal(presentation.markdown);
    }
    if (presentation.message) {
      void vscode.window.showInformationMessage(`Hearth: ${presentation.message}`);
    }
  }

  private async replaceServer(): Promise<void> {
    await this.stopClient();
    const { log, status } = this.deps;
    status.update({ state: "starting" });
    const discovery = await this.discover();
    if (!discovery.server) {
      this.reportNoServer(discovery);
      return;
    }
    this.warnAboutSkippedSettings(discovery);
    const { command, args, source } = discovery.server;
    log.info(`Starting the server from ${source}: ${command} ${args.join(" ")}`);
    const client = createLanguageClient(discovery.server, {
      outputChannel: log,
      readSettings: (scopeUri) => this.readSettings(scopeUri),
      presentResult: (name, result) => this.presentResult(name, result),
    });
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      const update = parseStatus(params);
      if (update) {
        status.update(update);
      } else {
        log.warn(`Ignored a ${STATUS_NOTIFICATION} notification that does not fit: ${JSON.stringify(params)}`);
      }
    });
    client.onNotification(EXPLAIN_PROGRESS_NOTIFICATION, (params: unknown) => {
      const update = parseAnswerProgress(params);
      if (update) {
        void this.preview.showPartial(update);
      } else {
        log.warn(`Ignored a ${EXPLAIN_PROGRESS_NOTIFICATION} notification that does not fit`);
      }
    });
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Stopped && this.client === client) {
        status.update({ state: "stopped", message: "the server stopped; see the logs" });
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      log.error(`The server did not start: ${String(error)}`);
      status.update({ state: "error", message: "the server did not start; see the logs" });
      return;
    }
    if (status.current.state === "starting") {
      status.update({ state: "ready" });
    }
  }

  private async discover(): Promise<Discovery> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const workspaceRoots = vscode.workspace.isTrusted
      ? (vscode.workspace.workspaceFolders ?? [])
          .filter((folder) => folder.uri.scheme === "file")
          .map((folder) => folder.uri.fsPath)
      : [];
    const candidates = serverCandidates({
      serverPath: config.get<string | null>("server.path"),
      serverPython: config.get<string | null>("server.python"),
      developmentRoots: [...workspaceRoots, this.deps.extensionPath],
      platform: process.platform,
      exists: (file) => fs.existsSync(file),
    });
    const discovery = await findServer(candidates, this.probe);
    for (const { candidate, reason } of discovery.failures) {
      this.deps.log.warn(`Cannot use ${candidate.source} (${candidate.command}): ${reason}`);
    }
    return discovery;
  }

  private warnAboutSkippedSettings(discovery: Discovery): void {
    const skipped = discovery.failures.filter(({ candidate }) => candidate.source.startsWith("setting"));
    if (skipped.length > 0 && discovery.server) {
      void vscode.window.showWarningMessage(
        `Hearth: ${describeFailures(skipped)}. Using ${discovery.server.source} instead.`,
      );
    }
  }

  private reportNoServer(discovery: Discovery): void {
    const { log, status } = this.deps;
    log.error(`No Hearth server could be started. Tried:\n${describeFailures(discovery.failures)}`);
    status.update({ state: "error", message: "no Hearth server found" });
    const install = "How to install";
    const showLogs = "Show logs";
    void vscode.window
      .showErrorMessage(
        "Hearth: no Hearth server found. Install Hearth into a Python environment, or set " +
          "hearth.server.path or hearth.server.python.",
        install,
        showLogs,
      )
      .then((choice) => {
        if (choice === install) {
          void vscode.env.openExternal(vscode.Uri.parse(INSTALL_URL));
        } else if (choice === showLogs) {
          log.show();
        }
      });
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) {
      return;
    }
    try {
      // dispose() also stops a running server (shutdown, exit, then kill after the timeout).
      await client.dispose(STOP_TIMEOUT_MS);
    } catch (error) {
      this.deps.log.warn(`The server did not stop cleanly: ${String(error)}`);
    }
  }

  async dispose(): Promise<void> {
    await this.restarts.idle();
    await this.stopClient();
    this.preview.dispose();
  }
}
