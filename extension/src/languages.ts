/** Which documents the extension gives the server, and what it asks the server about them. */

/** The language ids Hearth's server completes in; the client's document selector covers them. */
export const COMPLETION_LANGUAGES = [
  "python",
  "javascript",
  "javascriptreact",
  "typescript",
  "typescriptreact",
  "java",
  "c",
  "cpp",
  "go",
  "rust",
  "sql",
] as const;

/** The languages whose code actions the quick-fix menu asks the server for, as the palette does. */
export const CODE_ACTION_LANGUAGES: ReadonlySet<string> = new Set(["python"]);
