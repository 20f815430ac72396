"""The `hearth` command: the language server, and every action without an editor.

Every subcommand prints one JSON object on stdout with ``--json``, exits 0 on success and
non-zero with a clear message otherwise. Every setting can be overridden with a flag.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from hearth import __version__
from hearth.core.errors import HearthError, NoAnswer
from hearth.core.memory.settings import EMBEDDING_MODELS
from hearth.logs import setup_logging
from hearth.settings import Settings, load_settings

log = logging.getLogger("hearth.cli")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHANGED = 3
EXIT_CANCELLED = 130


class CliError(HearthError):
    def __init__(self, message: str, hint: str | None = None, code: int = EXIT_ERROR) -> None:
        super().__init__(message, hint)
        self.code = code


# -- settings flags -------------------------------------------------------------------------
SETTING_FLAGS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("--model", "model.name", "model name from the manifest", {}),
    ("--model-path", "model.path", "a GGUF file to use instead of --model", {}),
    ("--backend", "model.backend", "llama-cpp (in-process) or openai (a server)",
     {"choices": ["llama-cpp", "openai"]}),
    ("--threads", "model.threads", "decoding threads", {"type": int}),
    ("--context-length", "model.contextLength", "context window in tokens", {"type": int}),
    ("--prompt-lookup", "model.promptLookup",
     "draft tokens from the prompt verified per decode step (0: off)", {"type": int}),
    ("--unload-after", "model.unloadAfter",
     "seconds the language server keeps an unused model loaded (0: until it ends)",
     {"type": int}),
    ("--base-url", "openai.baseUrl", "OpenAI-compatible server URL", {}),
    ("--openai-model", "openai.model", "model name on that server", {}),
    ("--api-key-env", "openai.apiKeyEnv", "environment variable holding the API key", {}),
    ("--timeout", "openai.timeoutS", "request timeout in seconds", {"type": float}),
    ("--samples", "generation.samples", "candidates sampled per action", {"type": int}),
    ("--max-tokens", "generation.maxTokens", "tokens per candidate", {"type": int}),
    ("--confidence-threshold", "generation.confidenceThreshold",
     "below it a result is marked low confidence", {"type": float}),
    ("--generated-tests", "generation.generatedTests",
     "rank Generate's candidates with tests the model writes from the docstring",
     {"action": argparse.BooleanOptionalAction}),
    ("--escalate-to", "generation.escalateTo",
     "a larger model asked once when the answer is not trusted", {}),
    ("--escalate-when", "generation.escalateWhen",
     "low-confidence, or unverified (also when no example or test passed)",
     {"choices": ["low-confidence", "unverified"]}),
    ("--repairs", "generation.repairs",
     "times an answer a check found wrong is shown to the model with the reason (0-3)",
     {"type": int}),
    ("--self-check", "generation.selfCheck",
     "ask the model whether each of its answers does what was asked",
     {"action": argparse.BooleanOptionalAction}),
    ("--guardrails", "guardrails.policy", "block, warn or off",
     {"choices": ["block", "warn", "off"]}),
    ("--exclude", "index.exclude",
     "gitignore-style pattern left out of the index (repeat for more)",
     {"action": "append", "metavar": "PATTERN"}),
    ("--max-file-bytes", "index.maxFileBytes", "larger files are not indexed", {"type": int}),
    ("--max-files", "index.maxFiles", "files indexed per folder at most", {"type": int}),
    ("--context-tokens", "index.contextTokens", "token budget of retrieved context",
     {"type": int}),
    ("--embedding-model", "index.embeddingModel",
     "auto (code-tuned once made), base or tuned", {"choices": list(EMBEDDING_MODELS)}),
    ("--tune-in-background", "index.tuneInBackground",
     "let the language server make the code-tuned embedder in the background",
     {"action": argparse.BooleanOptionalAction}),
    ("--completion", "completion.enabled", "inline completion on or off",
     {"action": argparse.BooleanOptionalAction}),
    ("--completion-trigger", "completion.trigger",
     "automatic (as the user types) or onRequest", {"choices": ["automatic", "onRequest"]}),
    ("--completion-disabled-language", "completion.disabledLanguages",
     "no inline completion in this language id (repeat for more)",
     {"action": "append", "metavar": "LANGUAGE"}),
    ("--completion-max-lines", "completion.maxLines", "lines of a multi-line suggestion",
     {"type": int}),
    ("--completion-context-tokens", "completion.contextTokens",
     "workspace code in an inline completion's prompt, in tokens", {"type": int}),
    ("--completion-prefix-lines", "completion.prefixLines",
     "lines before the cursor an inline completion sees", {"type": int}),
    ("--completion-suffix-lines", "completion.suffixLines",
     "lines after the cursor an inline completion sees", {"type": int}),
    ("--completion-model", "completion.model", "the model of inline completion", {}),
    ("--history", "history.enabled", "keep a history of actions in the user data folder",
     {"action": argparse.BooleanOptionalAction}),
    ("--history-cache", "history.cache",
     "answer a repeated request from the history (--no-cache: this once)",
     {"action": argparse.BooleanOptionalAction}),
    ("--history-learn", "history.learn",
     "show accepted answers as examples, penalise rejected ones",
     {"action": argparse.BooleanOptionalAction}),
    ("--history-example-tokens", "history.exampleTokens",
     "prompt budget of past accepted answers, in tokens", {"type": int}),
    ("--history-max-age-days", "history.maxAgeDays",
     "history entries older than this go (0: any age)", {"type": int}),
    ("--history-max-entries", "history.maxEntries", "history entries kept at most",
     {"type": int}),
    ("--history-max-megabytes", "history.maxMegabytes",
     "megabytes of history entries kept at most (0: no limit)", {"type": int}),
]


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override pyproject.toml [tool.hearth])")
    for flag, key, help_text, extra in SETTING_FLAGS:
        group.add_argument(flag, dest="set:" + key, help=help_text, default=None, **extra)


def flag_layer(args: argparse.Namespace) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in vars(args).items():
        if name.startswith("set:") and value is not None:
            section, key = name[4:].split(".")
            layer.setdefault(section, {})[key] = value
    return layer


def project_root(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return None


def settings_for(args: argparse.Namespace, root: Path | None) -> Settings:
    settings, problems = load_settings(root, flag_layer(args))
    for problem in problems:
        print(f"hearth: warning: {problem}", file=sys.stderr)
    return settings


# -- output -----------------------------------------------------------------------------------
def emit(args: argparse.Namespace, payload: dict[str, Any], text: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"ok": True, **payload}, ensure_ascii=False))
    elif text is not None:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def fail(args: argparse.Namespace, exc: HearthError, code: int) -> int:
    entry_id = exc.history_id if isinstance(exc, NoAnswer) else None
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint,
                          **({"history_id": entry_id} if entry_id is not None else {})}))
    print(f"hearth: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"  {exc.hint}", file=sys.stderr)
    if entry_id is not None:
        print(f"hearth: history #{entry_id}; to say what it should do, then ask again: "
              f'hearth feedback {entry_id} bad --note "..."', file=sys.stderr)
    return code


def progress_printer(args: argparse.Namespace) -> Callable[[str, int | None], None]:
    def report(message: str, percentage: int | None) -> None:
        if not getattr(args, "quiet", False):
            suffix = f" ({percentage}%)" if percentage is not None else ""
            print(f"hearth: {message}{suffix}", file=sys.stderr, flush=True)
    return report


# -- file positions ---------------------------------------------------------------------------
def parse_location(spec: str) -> tuple[Path, int, int | None, int | None]:
    """FILE:LINE, FILE:LINE:COL or FILE:LINE-LINE (1-based, as editors show them)."""
    path_part, _, rest = spec.rpartition(":")
    col = None
    if path_part and ":" in path_part and rest.isdigit():
        maybe_path, _, line_part = path_part.rpartition(":")
        if line_part.isdigit():
            path_part, rest, col = maybe_path, line_part, int(rest)
    if not path_part or not rest:
        raise CliError(f"Expected FILE:LINE, got {spec!r}.", "For example: src/app.py:12",
                       EXIT_USAGE)
    first, _, last = rest.partition("-")
    if not first.isdigit() or (last and not last.isdigit()) or int(first) < 1:
        raise CliError(f"Bad line in {spec!r}.", "Lines count from 1, e.g. app.py:12 or "
                       "app.py:12-30.", EXIT_USAGE)
    return Path(path_part), int(first), int(last) if last else None, col


def read_source(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CliError(f"{path} does not exist.", code=EXIT_USAGE) from None
    except IsADirectoryError:
        raise CliError(f"{path} is a folder, not a file.", code=EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text.", code=EXIT_USAGE) from None


def write_if_unchanged(path: Path, original: str, new_text: str) -> None:
    """Write only if the file still holds what the edit was computed from."""
    if read_source(path) != original:
        raise CliError(f"{path} changed while Hearth was working; nothing was written.",
                       "Run the command again.", EXIT_CHANGED)
    tmp = path.with_name(f".{path.name}.hearth-{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            handle.write(new_text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def unified_diff(path: Path, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f"a/{path}", f"b/{path}"))


# -- subcommands ------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    if args.tcp:
        from hearth.lsp.server import create_server

        host, _, port = args.tcp.rpartition(":")
        if not port.isdigit():
            raise CliError(f"--tcp expects HOST:PORT, got {args.tcp!r}.", code=EXIT_USAGE)
        create_server().start_tcp(host or "127.0.0.1", int(port))
        return 0
    # Reading stdin starts before the server loads, so that a cached answer to `initialize`
    # goes out while it does (hearth.lsp.early); `hearth.entry` starts it even earlier.
    from hearth.lsp.early import EarlyStart

    early = args.early or EarlyStart.begin(sys.stdin.buffer, sys.stdout.buffer)
    from hearth.lsp.server import create_server

    create_server().start_io(early=early)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from hearth.core.models.manifest import load_manifest, model_file

    manifest = load_manifest()
    if args.models_command == "list":
        rows = [{"name": spec.name, "default": spec.name == manifest.default,
                 "description": spec.description, "size": spec.size, "sha256": spec.sha256,
                 "path": str(model_file(spec)), "present": model_file(spec).is_file()}
                for spec in manifest.models.values()]
        text = "\n".join(f"{'*' if r['default'] else ' '} {r['name']:<22} "
                         f"{r['size'] / 1e6:>7.0f} MB  "
                         f"{'present' if r['present'] else 'not pulled':<10}  {r['description']}"
                         for r in rows)
        emit(args, {"models": rows}, text)
        return 0
    if args.models_command == "path":
        spec = manifest.get(args.name)
        path = model_file(spec)
        emit(args, {"name": spec.name, "path": str(path), "present": path.is_file()}, str(path))
        return 0
    if args.name:
        names = [manifest.get(args.name).name]
    else:
        from hearth.core.session import models_in_use

        names = list(models_in_use(settings_for(args, project_root(Path.cwd()))))
    pulled = [_pull(args, manifest.get(name)) for name in names]
    if len(pulled) == 1:
        emit(args, pulled[0], f"{pulled[0]['name']}: {pulled[0]['path']} (sha256 verified)")
    else:
        emit(args, {"models": pulled}, "\n".join(
            f"{p['name']}: {p['path']} (sha256 verified)" for p in pulled))
    return 0


def _pull(args: argparse.Namespace, spec: Any) -> dict[str, Any]:
    from hearth.core.models.provision import pull

    last = [-1]

    def report(stage: str, done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent >= last[0] + 10 and not args.json:
            last[0] = percent
            print(f"hearth: {stage} {spec.name}: {percent}%", file=sys.stderr, flush=True)

    start = time.perf_counter()
    path = pull(spec, force=args.force, progress=report)
    return {"name": spec.name, "path": str(path), "sha256": spec.sha256, "verified": True,
            "elapsed_s": round(time.perf_counter() - start, 2)}


def cmd_action(args: argparse.Namespace) -> int:
    """Any action at FILE:LINE, through the same core Session as the language server."""
    from hearth.core.session import Session
    from hearth.core.text import Pos

    path, line, last, col = parse_location(args.location)
    source = read_source(path)
    root = project_root(path.resolve().parent)
    settings = settings_for(args, root)
    lines = source.splitlines() or [""]
    if max(line, last or line) > len(lines):
        raise CliError(f"{path} has {len(lines)} lines; line {max(line, last or line)} is past "
                       "the end.", code=EXIT_USAGE)
    position = Pos(line - 1, (col or 1) - 1)
    end = Pos(last, 0) if last is not None else None  # a FILE:A-B range selects whole lines
    if end is None and getattr(args, "instruction", None):
        end = Pos(line, 0)  # an instruction without a range applies to that line
    session = Session(settings, root)
    action = session.action(args.action)
    request = session.request(source, position, path=path, end=end,
                              instruction=getattr(args, "instruction", None))
    streamed = StreamedText(sys.stdout) if action.streams and sys.stdout.isatty() \
        and not args.json else None
    progress = progress_printer(args)
    try:
        if root is not None and settings.index.enabled and not args.no_context:
            session.open_index(root).build(progress=terminal_progress(args, "hearth: indexing"))
        result = session.run(action, request,
                             progress=streamed.quiet(progress) if streamed else progress,
                             on_text=streamed, use_cache=not args.no_cache)
        written = []
        if args.write:
            if result.new_source is not None and result.new_source != source:
                write_if_unchanged(path, source, result.new_source)
                written.append(str(path))
            for change in result.files:
                write_file_change(change)
                written.append(str(change.path))
            if written and result.history_id is not None:
                session.history.store.set_outcome(result.history_id, "applied")
    finally:
        session.close()
    payload: dict[str, Any] = {
        "action": action.name, "file": str(path), "title": result.title,
        "confidence": result.confidence, "low_confidence": result.low_confidence,
        "reasons": result.reasons, "samples": result.samples, "tokens": result.tokens,
        "elapsed_s": round(result.elapsed_s, 3), "written": written,
        "context": [{"path": c.path, "name": c.name, "start_line": c.start_line,
                     "end_line": c.end_line, "score": round(c.score, 4)}
                    for c in result.context]}
    text_out = ""
    if result.new_source is not None:
        payload["new_text"] = result.new_source
        payload["diff"] = text_out = unified_diff(path, source, result.new_source)
    for change in result.files:
        text_out += unified_diff(change.path, change.old_text or "", change.new_text)
    payload.update(result.report())
    if result.markdown is not None:
        text_out = streamed.rest(result.markdown) if streamed else result.markdown
    emit(args, payload, text_out)
    if not args.json:
        how = "a rule-based fix, no model" if result.method == "rule" \
            else f"{result.model}, {result.samples} sample(s), {result.tokens} tokens"
        if result.cached:
            how = f"from the history (#{result.cached_from}; --no-cache asks the model)"
        print(f"hearth: {result.title}: confidence {result.confidence}, {how}, "
              f"{result.elapsed_s:.1f} s"
              + ("" if args.write or not (result.edits or result.files)
                 else " (not written; use --write)"), file=sys.stderr)
        for label, items in (("for", result.evidence), ("against", result.reasons)):
            if items:
                print(f"hearth: {label}: " + "; ".join(items), file=sys.stderr)
        if result.history_id is not None:
            print(f"hearth: history #{result.history_id}"
                  + (f" (with past answers {', '.join(f'#{i}' for i in result.examples)} as "
                     "examples)" if result.examples else "")
                  + f"; rate it: hearth feedback {result.history_id} good|bad",
                  file=sys.stderr)
    return 0


def history_session(args: argparse.Namespace):
    """The history of the project the current folder is in (or of files outside any)."""
    from hearth.core.session import Session

    root = project_root(Path.cwd())
    session = Session(settings_for(args, root), root,
                      on_problem=lambda message: print(f"hearth: warning: {message}",
                                                       file=sys.stderr))
    if session.history.store is None:
        session.close()
        raise CliError("The history is off (history.enabled is false).",
                       "Turn it on in [tool.hearth.history] or with --history.")
    return session


def cmd_history(args: argparse.Namespace) -> int:
    from hearth.core.history import details, summary

    session = history_session(args)
    try:
        store = session.history.store
        if args.history_command == "show":
            entry = store.get(args.id)
            if entry is None:
                raise CliError(f"There is no history entry #{args.id}.",
                               "`hearth history` lists them.", EXIT_USAGE)
            shown = details(entry)
            emit(args, {"entry": shown}, "\n".join(
                f"{key}: {value}" for key, value in shown.items()
                if key not in ("answer", "target_text", "final") and value not in (None, [], ""))
                + (f"\n\n{entry.answer}" if entry.answer else "")
                + (f"\n\nas you saved it:\n{entry.final}" if entry.final else ""))
        elif args.history_command == "clear":
            gone = store.clear()
            emit(args, {"removed": gone, "path": str(store.path)},
                 f"removed {gone} entries from {store.path}")
        else:
            if args.limit is not None and args.limit < 1:
                raise CliError("--limit must be at least 1.", code=EXIT_USAGE)
            rows = [summary(e) for e in store.entries(action=args.action, limit=args.limit)]
            emit(args, {"entries": rows, "path": str(store.path)}, "\n".join(
                f"#{r['id']:<5} {r['time']}  {r['action']:<9} {r['file'] or '-'}:"
                f"{r['target'] or '-'}  confidence {r['confidence']}"
                + (f"  {r['outcome']}" if r["outcome"] else "")
                + (f"  [{r['feedback']}]" if r["feedback"] else "")
                + ("  (cached)" if r["cached"] else "") for r in rows) or "no history yet")
    finally:
        session.close()
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    session = history_session(args)
    try:
        if not session.history.rate(args.id, args.rating, args.note):
            raise CliError(f"There is no history entry #{args.id}.",
                           "`hearth history` lists them.", EXIT_USAGE)
    finally:
        session.close()
    emit(args, {"id": args.id, "rating": args.rating, "note": args.note},
         f"#{args.id}: {args.rating}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    session = history_session(args)
    try:
        stats = session.history.stats()
    finally:
        session.close()
    lines = [f"{stats['entries']} entries"]
    for name, figures in stats["actions"].items():
        rate = figures["acceptance_rate"]
        lines.append(f"  {name:<9} {figures['requests']} requests, accepted "
                     f"{figures['accepted']} / rejected {figures['rejected']}"
                     + (f" ({rate:.0%})" if rate is not None else "")
                     + (f", median {figures['median_s']} s" if figures["median_s"] else ""))
    cache = stats["cache"]
    lines.append(f"  cache: {cache['hits']} hits of {cache['lookups']} lookups"
                 + (f" ({cache['hit_rate']:.0%})" if cache["hit_rate"] is not None else ""))
    emit(args, stats, "\n".join(lines))
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    """An inline completion at FILE:LINE:COL, through the same core Session as the server."""
    from hearth.core.completion import CompletionRequest
    from hearth.core.pipeline.types import language_of
    from hearth.core.session import Session
    from hearth.core.text import Pos, offset_of, split_lines

    path, line, last, col = parse_location(args.location)
    if last is not None:
        raise CliError("complete takes one position, FILE:LINE:COL, not a range.",
                       code=EXIT_USAGE)
    source = read_source(path)
    root = project_root(path.resolve().parent)
    settings = settings_for(args, root)
    lines = split_lines(source) or [""]
    if line > len(lines):  # (a last line after the final newline counts: one can type there)
        raise CliError(f"{path} has {len(source.splitlines())} lines; line {line} is past "
                       "the end.", code=EXIT_USAGE)
    text = lines[line - 1].rstrip("\r\n") if line <= len(lines) else ""
    column = len(text) + 1 if col is None else col
    if column > len(text) + 1:
        raise CliError(f"Line {line} of {path} has {len(text)} characters; column {column} "
                       "is past its end.", code=EXIT_USAGE)
    mode = "block" if args.block else "line" if args.line else "auto"
    request = CompletionRequest(source, Pos(line - 1, column - 1), path,
                                language_of(path) or "text", mode=mode, trigger="invoked")
    session = Session(settings, root)
    try:
        if root is not None and settings.index.enabled and not args.no_context:
            session.open_index(root).build(progress=terminal_progress(args, "hearth: indexing"))
        result = session.complete(request, use_context=not args.no_context)
    finally:
        session.close()
    written = []
    if args.write and result.text:
        offset = offset_of(lines, request.position)
        write_if_unchanged(path, source, source[:offset] + result.text + source[offset:])
        written.append(str(path))
    emit(args, {"file": str(path), "line": line, "column": column, **result.to_json(),
                "written": written}, result.text)
    if not args.json:
        why = f" ({result.why_empty})" if not result.text else ""
        print(f"hearth: completion{why}: {result.model}, {result.tokens} tokens, prompt "
              f"{result.prompt.tokens} tokens, {result.elapsed_s:.2f} s"
              + (" (not written; use --write)" if result.text and not args.write else ""),
              file=sys.stderr)
    return 0


class StreamedText:
    """An answer printed as the model writes it (Explain on a terminal): each update prints
    what extends the text already printed, trailing blanks held back (the next token may not
    keep them); ``rest`` is what the final document adds."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.printed = ""

    def __call__(self, text: str) -> None:
        text = text.rstrip()
        if len(text) > len(self.printed) and text.startswith(self.printed):
            self.out.write(text[len(self.printed):])
            self.out.flush()
            self.printed = text

    def quiet(self, progress: Callable[[str, int | None], None]
              ) -> Callable[[str, int | None], None]:
        """``progress``, silent once text is printed (its lines would cut into the text)."""
        def report(message: str, percentage: int | None) -> None:
            if not self.printed:
                progress(message, percentage)
        return report

    def rest(self, final: str) -> str:
        if final.startswith(self.printed):
            return final[len(self.printed):]
        # The final document is not what was shown (it does not start the same): print it
        # whole, apart from the text shown so far.
        return "\n\n---\n\n" + final


def open_index(root: Path, settings: Settings):
    from hearth.core.session import Session

    return Session(settings, root).open_index(root)


def terminal_progress(args: argparse.Namespace, what: str) -> Callable[[int, int], None]:
    """A one-line progress bar on a terminal; nothing when piped or with --json."""
    live = sys.stderr.isatty() and not getattr(args, "json", False)

    def report(done: int, total: int) -> None:
        if live:
            width = 30
            filled = width * done // max(total, 1)
            sys.stderr.write(f"\r{what} [{'#' * filled}{'.' * (width - filled)}] "
                             f"{done}/{total} files")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return report


def cmd_index(args: argparse.Namespace) -> int:
    root = Path(args.path).resolve() if args.path else (project_root(Path.cwd()) or Path.cwd())
    settings = settings_for(args, root)
    index = open_index(root, settings)
    try:
        stats = index.build(progress=terminal_progress(args, "hearth: indexing"))
    finally:
        index.close()
    if stats.truncated:
        print(f"hearth: indexed only the first {settings.index.max_files} files of {root} "
              "(index.maxFiles); raise it with --max-files or leave folders out with "
              "--exclude.", file=sys.stderr)
    emit(args, {"root": str(root), "files": stats.files, "chunks": stats.chunks,
                "embedded": stats.embedded, "removed": stats.removed,
                "rebuilt": stats.rebuilt, "truncated": stats.truncated,
                "elapsed_s": round(stats.elapsed_s, 3)},
         f"{root}: {stats.files} files, {stats.chunks} chunks ({stats.embedded} embedded) in "
         f"{stats.elapsed_s:.1f} s" + (" (rebuilt)" if stats.rebuilt else ""))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    root = Path(args.path).resolve() if args.path else (project_root(Path.cwd()) or Path.cwd())
    settings = settings_for(args, root)
    index = open_index(root, settings)
    try:
        index.build(progress=terminal_progress(args, "hearth: indexing"))
        hits = index.search(args.query, k=args.k, mode=args.mode)
    finally:
        index.close()
    results = [{"path": str(hit.path.relative_to(root)) if hit.path.is_relative_to(root)
                else str(hit.path), "name": hit.name, "kind": hit.kind,
                "start_line": hit.start_line, "end_line": hit.end_line,
                "score": round(hit.score, 4)} for hit in hits]
    emit(args, {"root": str(root), "query": args.query, "results": results},
         "\n".join(f"{r['score']:.3f}  {r['path']}:{r['start_line']}-{r['end_line']}  "
                   f"{r['name']}" for r in results) or "no results")
    return 0


def cmd_tune_embedder(args: argparse.Namespace) -> int:
    from hearth.core.memory.cache import cache_base
    from hearth.core.memory.tune import tune_embedder

    live = sys.stderr.isatty() and not args.json

    def report(step: int, total: int) -> None:
        if live:
            filled = 30 * step // max(total, 1)
            sys.stderr.write(f"\rhearth: tuning the embedder [{'#' * filled}"
                             f"{'.' * (30 - filled)}] step {step}/{total}")
            if step >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    if not args.json:
        print("hearth: tuning all-MiniLM-L6-v2 on this Python's standard library (once; about "
              "10 minutes on 2 cores)", file=sys.stderr)
    result = tune_embedder(cache_base(), force=args.force, progress=report)
    emit(args, {"model_dir": str(result.model_dir), "created": result.created,
                "pairs": result.pairs, "steps": result.steps,
                "first_loss": round(result.first_loss, 4),
                "last_loss": round(result.last_loss, 4),
                "elapsed_s": round(result.elapsed_s, 1)},
         (f"tuned in {result.elapsed_s:.0f} s on {result.pairs} pairs: " if result.created
          else "already tuned: ") + str(result.model_dir))
    return 0


def write_file_change(change) -> None:
    """Create or replace another file (a test module), if it is still as it was read."""
    current = read_source(change.path) if change.path.exists() else None
    if current != change.old_text:
        raise CliError(f"{change.path} changed while Hearth was working; nothing was written.",
                       "Run the command again.", EXIT_CHANGED)
    change.path.parent.mkdir(parents=True, exist_ok=True)
    if current is None:
        change.path.write_text(change.new_text, encoding="utf-8")
    else:
        write_if_unchanged(change.path, current, change.new_text)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _embedding_report(choice: str) -> dict[str, Any]:
    """Which retrieval embedder the index would use, without loading it."""
    from hearth.core.memory.cache import cache_base
    from hearth.core.memory.embed import resolve_model, tuning_hint

    try:
        model = resolve_model(choice, cache_base())
    except HearthError as exc:
        return {"setting": choice, "using": None, "path": None, "problem": str(exc)}
    report: dict[str, Any] = {"setting": choice, "using": "tuned" if model.tuned else "base",
                              "path": str(model.directory)}
    if note := tuning_hint(choice, model):
        report["note"] = note
    return report


def _model_report(path: Path, spec: Any, actions: str, settings: Settings,
                  args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    """One local model for `hearth doctor`: present, its sha256 as the manifest has it, and
    (unless --no-load or a problem) a short generation's speed."""
    from hearth.core.models.backend import ChatMessage, GenerationRequest, SamplingParams
    from hearth.core.models.llama_cpp import LlamaCppBackend
    from hearth.core.models.provision import check_gguf, verify_file

    model: dict[str, Any] = {"actions": actions, "name": spec.name if spec else None,
                             "path": str(path), "present": path.is_file()}
    found = len(problems)
    if spec is None and not path.is_file():
        problems.append(f"model.path {path} does not exist.")
    elif spec is not None and path.is_file():
        model["expected_sha256"] = spec.sha256
        check = verify_file(path, spec, use_cache=not args.full_verify)
        model.update(sha256=check.sha256, sha256_verified=check.verified, size=check.size,
                     verification_cached=check.cached)
        if not check.verified:
            problems.append(f"{path} does not match the manifest: run "
                            f"`hearth models pull {spec.name} --force`.")
    elif spec is not None:
        problems.append(f"{spec.name} is not downloaded: run `hearth models pull "
                        f"{spec.name}` (or `hearth models pull` for every model in use).")
    if args.no_load or len(problems) > found:
        return model
    try:
        check_gguf(path)
        backend = LlamaCppBackend(path, n_ctx=settings.model.context_length,
                                  n_threads=settings.model.threads)
        backend.load()
        completion = backend.generate(GenerationRequest(
            messages=[ChatMessage("user", "Count from 1 to 40, separated by spaces.")],
            params=[SamplingParams(temperature=0.0, max_tokens=48)]))[0]
        model.update(load_s=round(backend.load_s or 0, 3), threads=backend.n_threads,
                     tokens=completion.tokens,
                     tokens_per_s=round(completion.tokens / completion.elapsed_s, 1))
        backend.close()
    except HearthError as exc:
        problems.append(str(exc))
    return model


def cmd_doctor(args: argparse.Namespace) -> int:
    from hearth.core.models.manifest import load_manifest, model_file
    from hearth.core.models.threads import ThreadPolicy, usable_cores
    from hearth.core.session import models_in_use

    settings = settings_for(args, project_root(Path.cwd()))
    problems: list[str] = []
    report: dict[str, Any] = {
        "hearth": __version__,
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": {name: _version(name) for name in (
            "llama-cpp-python", "pygls", "lsprotocol", "flake8", "jedi", "cattrs",
            "platformdirs")},
        "cpu": {"cores": os.cpu_count(), "usable_cores": usable_cores(),
                "threads": ThreadPolicy(fixed=settings.model.threads).describe()},
    }
    if report["packages"]["llama-cpp-python"] is None:
        problems.append("llama-cpp-python is not installed: run `make setup`.")
    report["models"] = models = []
    if settings.model.backend == "openai":
        models.append({"backend": "openai", "base_url": settings.openai.base_url,
                       "model": settings.openai.model, "actions": "all"})
    elif settings.model.path:
        models.append(_model_report(Path(settings.model.path).expanduser(), None, "all",
                                    settings, args, problems))
    else:
        manifest = load_manifest()
        for name, actions in models_in_use(settings).items():
            try:
                spec = manifest.get(name)
            except HearthError as exc:
                problems.append(str(exc))
                continue
            models.append(_model_report(model_file(spec), spec, ", ".join(actions), settings,
                                        args, problems))
    report["embedding"] = embedding = _embedding_report(settings.index.embedding_model)
    if embedding.get("problem"):
        problems.append(embedding["problem"])
    report["problems"] = problems
    report["healthy"] = not problems
    lines = [f"Hearth {__version__} on Python {report['python']['version']}"]
    lines += [f"  {name}: {version or 'MISSING'}" for name, version in report["packages"].items()]
    cpu = report["cpu"]
    lines.append(f"  cpu: {cpu['usable_cores']} usable cores, decoding threads {cpu['threads']}")
    for model in models:
        lines.append(f"  model for {model['actions']}:")
        lines += [f"    {k}: {v}" for k, v in model.items() if k != "actions"]
    lines.append(f"  embedding model: {embedding['using']} ({embedding['path']})"
                 + (f"; {embedding['note']}" if embedding.get("note") else ""))
    lines += [f"  problem: {p}" for p in problems] or ["  all good"]
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print("\n".join(lines))
    return 0 if not problems else EXIT_ERROR


# -- the parser -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP port instead")
    serve.set_defaults(func=cmd_serve)

    models = sub.add_parser("models", help="list, download and locate models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    for name, help_text in (("list", "known models"), ("pull", "download and verify a model"),
                            ("path", "where a model's file lives")):
        command = models_sub.add_parser(name, help=help_text)
        if name == "pull":
            command.add_argument("name", nargs="?", default=None,
                                 help="model name (default: every model the actions use)")
        elif name == "path":
            command.add_argument("name", nargs="?", default=None,
                                 help="model name (default: the manifest's default)")
        if name == "pull":
            command.add_argument("--force", action="store_true", help="download again")
        command.add_argument("--json", action="store_true", help="one JSON object on stdout")
    models.set_defaults(func=cmd_models)

    from hearth.core.actions import all_actions

    for action in all_actions():
        command = sub.add_parser(action.name, help=action.cli_help)
        command.add_argument("location", metavar="FILE:LINE",
                             help="FILE:LINE, FILE:LINE:COL or FILE:FIRST-LAST (lines from 1)")
        if action.takes_instruction:
            command.add_argument("--instruction", help="what to write, for a line or a range")
        command.add_argument("--write", action="store_true", help="write the result")
        command.add_argument("--json", action="store_true", help="one JSON object on stdout")
        command.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
        command.add_argument("--no-context", action="store_true",
                             help="do not index the project or retrieve context from it")
        command.add_argument("--no-cache", action="store_true",
                             help="ask the model even if the history holds this answer")
        add_setting_flags(command)
        command.set_defaults(func=cmd_action, action=action.name)

    complete = sub.add_parser("complete", help="an inline completion at FILE:LINE:COL")
    complete.add_argument("location", metavar="FILE:LINE:COL",
                          help="the cursor (lines and columns from 1; no column: the line's "
                               "end)")
    shape = complete.add_mutually_exclusive_group()
    shape.add_argument("--line", action="store_true", help="finish the line only")
    shape.add_argument("--block", action="store_true", help="may write several lines")
    complete.add_argument("--write", action="store_true", help="insert the suggestion")
    complete.add_argument("--json", action="store_true", help="one JSON object on stdout")
    complete.add_argument("--no-context", action="store_true",
                          help="the file alone: no index, no workspace code in the prompt")
    add_setting_flags(complete)
    complete.set_defaults(func=cmd_complete)

    history = sub.add_parser("history", help="the actions asked in this project, newest first")
    history_sub = history.add_subparsers(dest="history_command")
    show = history_sub.add_parser("show", help="one entry, whole")
    show.add_argument("id", type=int)
    clear = history_sub.add_parser("clear", help="forget this project's history")
    for command in (history, show, clear):
        command.add_argument("--json", action="store_true", help="one JSON object on stdout")
        add_setting_flags(command)
    history.add_argument("--action", choices=[a.name for a in all_actions()],
                         help="only this action's entries")
    history.add_argument("--limit", type=int, default=20, help="at most this many (20)")
    history.set_defaults(func=cmd_history)

    feedback = sub.add_parser("feedback", help="say whether an answer was good or bad")
    feedback.add_argument("id", type=int, help="the history entry (`hearth history`)")
    feedback.add_argument("rating", choices=["good", "bad"])
    feedback.add_argument("--note", help="why, in a few words")
    feedback.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_setting_flags(feedback)
    feedback.set_defaults(func=cmd_feedback)

    stats = sub.add_parser("stats", help="acceptance, latency and cache figures of the history")
    stats.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_setting_flags(stats)
    stats.set_defaults(func=cmd_stats)

    index = sub.add_parser("index", help="index a project for retrieval (incremental)")
    index.add_argument("path", nargs="?", help="the project folder (default: this project)")
    index.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_setting_flags(index)
    index.set_defaults(func=cmd_index)

    search = sub.add_parser("search", help="search the project's index")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=8, help="how many results (default 8)")
    search.add_argument("--mode", choices=["hybrid", "vector", "bm25"], default="hybrid")
    search.add_argument("--path", help="the project folder (default: this project)")
    search.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_setting_flags(search)
    search.set_defaults(func=cmd_search)

    tune = sub.add_parser("tune-embedder",
                          help="tune the retrieval embedder for code, once (about 10 min)")
    tune.add_argument("--force", action="store_true", help="tune again even if it is done")
    tune.add_argument("--json", action="store_true", help="one JSON object on stdout")
    tune.set_defaults(func=cmd_tune_embedder)

    doctor = sub.add_parser("doctor", help="check the installation and the model")
    doctor.add_argument("--json", action="store_true", help="one JSON object on stdout")
    doctor.add_argument("--full-verify", action="store_true",
                        help="hash the model file again even if it was verified before")
    doctor.add_argument("--no-load", action="store_true", help="do not load the model")
    add_setting_flags(doctor)
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None, early: Any = None) -> int:
    """The CLI; ``early`` is the stdio reader `hearth.entry` started for `hearth serve`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.early = early
    serving = args.command == "serve"
    quiet = logging.INFO if serving else logging.WARNING
    setup_logging(logging.DEBUG if args.verbose else quiet, to_file=serving)
    try:
        return args.func(args)
    except CliError as exc:
        return fail(args, exc, exc.code)
    except HearthError as exc:
        return fail(args, exc, EXIT_ERROR)
    except KeyboardInterrupt:
        return fail(args, HearthError("Cancelled."), EXIT_CANCELLED)
    except BrokenPipeError:  # `hearth ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
