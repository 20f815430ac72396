/**
 * Turns the editor's `hearth.*` settings into the server's settings object and decides which
 * setting changes need a server restart. The setting keys come from package.json, the only list.
 */
import manifest from "../../package.json";

export const SECTION = "hearth";

/** Groups the extension itself reads; the server never sees them. */
const EXTENSION_ONLY_GROUPS = new Set(["server", "trace"]);

/**
 * Single settings the extension itself reads, in a group the server may have settings of its
 * own in (a whole group left out here would hide those from it).
 */
const EXTENSION_ONLY_KEYS = new Set(["history.askForFeedback"]);

/** Groups the server reads once, at start: a change needs a new server process. */
const RESTART_GROUPS = ["model", "openai", "server"];

/** Settings in those groups that the running server applies itself. */
const LIVE_KEYS = new Set(["model.unloadAfter"]);

/** The part of `vscode.WorkspaceConfiguration` needed here (so tests need no VS Code). */
export interface SettingsReader {
  inspect(key: string):
    | { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown }
    | undefined;
}

/** The nested camelCase object the server accepts, e.g. `{model: {name: "..."}}`. */
export type ServerSettings = Record<string, Record<string, unknown>>;

/** Keys of every contributed setting without the `hearth.` prefix, e.g. `model.name`. */
export function contributedKeys(): string[] {
  const prefix = `${SECTION}.`;
  return Object.keys(manifest.contributes.configuration.properties)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length));
}

export function serverSettingKeys(): string[] {
  return contributedKeys().filter(
    (key) => !EXTENSION_ONLY_GROUPS.has(key.split(".")[0]) && !EXTENSION_ONLY_KEYS.has(key),
  );
}

/**
 * Only values the user set somewhere (user, workspace or folder settings) are sent: the server
 * owns the defaults, and a default sent from here would hide the project's `[tool.hearth]`.
 */
export function toServerSettings(config: SettingsReader): ServerSettings {
  const settings: ServerSettings = {};
  for (const key of serverSettingKeys()) {
    const value = explicitValue(config.inspect(key));
    if (value === undefined) {
      continue;
    }
    const [group, name] = key.split(".", 2);
    settings[group] ??= {};
    settings[group][name] = value;
  }
  return settings;
}

function explicitValue(
  inspection: ReturnType<SettingsReader["inspect"]>,
): unknown {
  if (!inspection) {
    return undefined;
  }
  return inspection.workspaceFolderValue ?? inspection.workspaceValue ?? inspection.globalValue;
}

/** `affects` is `ConfigurationChangeEvent.affectsConfiguration`. */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return contributedKeys().some(
    (key) =>
      RESTART_GROUPS.includes(key.split(".")[0]) && !LIVE_KEYS.has(key) && affects(`${SECTION}.${key}`),
  );
}

export function affectsHearth(affects: (section: string) => boolean): boolean {
  return affects(SECTION);
}

export interface ConfigurationItemLike {
  section?: string | null;
  scopeUri?: string | null;
}

/**
 * The answer to `workspace/configuration`: Hearth's own sections are answered with
 * `readSettings` (the same object as the initializationOptions), every other section with the
 * language client's default answer.
 */
export function answerConfiguration(
  items: ConfigurationItemLike[],
  defaultAnswers: unknown[],
  readSettings: (scopeUri?: string) => ServerSettings,
): unknown[] {
  return items.map((item, index) => {
    const section = item.section ?? "";
    if (section !== SECTION && !section.startsWith(`${SECTION}.`)) {
      return defaultAnswers[index] ?? null;
    }
    const path = section.split(".").slice(1);
    const settings = readSettings(item.scopeUri ?? undefined);
    if (path.length === 0) {
      return settings;
    }
    if (path.length === 1) {
      return settings[path[0]] ?? {};
    }
    return settings[path[0]]?.[path[1]] ?? null;
  });
}
