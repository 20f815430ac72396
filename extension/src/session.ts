/**
 * The running Hearth server: finds it, starts it with the current settings, restarts it (one
 * restart at a time) and keeps the status bar up to date.
 */
import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  State,
  type LanguageClient,
} from "vscode-languageclient/node";
import { createLanguageClient } from "./client";
import { presentationOf } from "./commands";
import { EXPLAIN_PROGRESS_NOTIFICATION, ExplainPreview, parseAnswerProgress } from "./explainPreview";
import { Feedback } from "./feedback";
import { answerRecord } from "./history";
import { isRecord } from "./json";
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
import { STATS_COMMAND, StatsRefresher } from "./stats";
import { parseStatus, STATUS_NOTIFICATION, type HearthStatus, type StatusBar } from "./status";

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
  /** Ratings of answers for the server's history; "Hearth: Show history" rates through it too. */
  readonly feedback: Feedback;
  /** The history's figures in the status item's tooltip. */
  private readonly stats: StatsRefresher;

  constructor(private readonly deps: SessionDependencies) {
    this.probe = deps.probe ?? processProbe(PROBE_TIMEOUT_MS);
    this.feedback = new Feedback({
      run: (command, argument) => this.runServerCommand(command, argument),
      offers: (command) => this.serverOffers(command),
      log: deps.log,
      recorded: () => void this.refreshStats(),
    });
    this.stats = new StatsRefresher(
      async () => (this.serverOffers(STATS_COMMAND) ? this.runServerCommand(STATS_COMMAND) : undefined),
      (stats) => deps.status.showStats(stats),
      (message) => deps.log.warn(message),
    );
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

  /** Whether the running server offers the command (its executeCommandProvider). */
  serverOffers(command: string): boolean {
    const offered = this.client?.isRunning()
      ? this.client.initializeResult?.capabilities.executeCommandProvider?.commands
      : undefined;
    return offered?.includes(command) ?? false;
  }

  /**
   * Runs a server command that is not an action (history, feedback, figures) on the running
   * server, outside the palette's presentation: nothing is shown with its answer.
   */
  async runServerCommand(command: string, argument?: unknown): Promise<unknown> {
    const client = await this.runningClient();
    if (!client) {
      throw new Error("the server is not running");
    }
    const params = { command, arguments: argument === undefined ? [] : [argument] };
    return client.sendRequest(ExecuteCommandRequest.type, params);
  }

  /** Fetches the history's figures for the tooltip again; never fails. */
  refreshStats(): Promise<void> {
    return this.stats.refresh();
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

  /**
   * Shows a server command's answer: Explain's Markdown, then one notification, which offers
   * feedback when the answer is in the history and otherwise carries the answer's message.
   */
  async presentResult(command: string, result: unknown): Promise<void> {
    const presentation = presentationOf(command, result);
    if (presentation.markdown !== undefined) {
      await this.preview.showFinal(presentation.markdown);
    }
    const offered = this.feedback.offer({
      record: answerRecord(result),
      title: isRecord(result) && typeof result.title === "string" ? result.title : undefined,
      message: presentation.message,
    });
    if (!offered && presentation.message) {
      void vscode.window.showInformationMessage(`Hearth: ${presentation.message}`);
    }
    void this.refreshStats();
  }

  /** A code action resolved by the server, whose edit VS Code applies next. */
  private onCodeActionResolved(action: vscode.CodeAction): void {
    const data = (action as { data?: unknown }).data;
    this.feedback.offer({ record: answerRecord(data), title: action.title });
    void this.refreshStats();
  }

  /** A status that ends an action (busy, then ready or an error) changes the figures. */
  private onStatus(previous: HearthStatus, next: HearthStatus): void {
    if (previous.state === "busy" && (next.state === "ready" || next.state === "error")) {
      void this.refreshStats();
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
      codeActionResolved: (action) => this.onCodeActionResolved(action),
      actionFailed: (error) => this.feedback.offerAfterFailure(error),
    });
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      const update = parseStatus(params);
      if (update) {
        const previous = status.current;
        status.update(update);
        this.onStatus(previous, update);
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
    // The figures of earlier sessions, before this one's first answer.
    void this.refreshStats();
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
