"""Typed settings and how their layers merge.

Layers, later ones winning: the defaults below, ``[tool.hearth]`` in the workspace's
pyproject.toml, the client's initializationOptions, its ``workspace/configuration`` answer for
section ``hearth``, and (for the CLI) command-line flags. Keys are camelCase as in the editor's
settings; snake_case and kebab-case are accepted too. A value that does not fit is reported and
replaced by its default, so one typo never costs the user every other setting.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

if TYPE_CHECKING:
    from hearth.core.memory.settings import IndexSettings as CoreIndexSettings


def _between(name: str, value: float | int, minimum: float | int,
             maximum: float | int) -> None:
    """Every number a setting holds is bounded: a value no one means (10**20 seconds, NaN)
    otherwise reaches the operating system or a library and fails there, far from the
    setting (the long fuzz run: a socket timeout of 1e20 s raised OverflowError)."""
    if not minimum <= value <= maximum:  # NaN fails too
        shown = repr(value)
        shown = shown if len(shown) <= 24 else shown[:20] + "..."
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {shown}")


@dataclass
class ModelSettings:
    # A model from `hearth models list` for every action; None: each action's own choice,
    # measured on the quality corpus (Generate the 1.5B model, the others the 0.5B model:
    # docs/quality.md).
    name: str | None = None
    path: str | None = None  # any GGUF file; overrides name
    backend: Literal["llama-cpp", "openai"] = "llama-cpp"
    threads: int | None = None  # None: chosen per request by load (core.models.threads)
    context_length: int = 4096
    # Speculative decoding with the prompt as the draft: tokens that followed the text's last
    # words earlier in the prompt, verified per step once one sample is left; 0 turns it off.
    prompt_lookup: int = 0
    # Seconds a loaded model may stay unused before its memory is freed (the language server
    # checks; the next action that needs it loads it again); 0 keeps every model loaded.
    unload_after: int = 600

    def __post_init__(self) -> None:
        _between("unloadAfter", self.unload_after, 0, 604_800)  # a week
        if self.threads is not None:
            _between("threads", self.threads, 1, 256)
        _between("contextLength", self.context_length, 512, 131_072)
        _between("promptLookup", self.prompt_lookup, 0, 32)


@dataclass
class OpenAISettings:
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "default"
    api_key_env: str = "HEARTH_API_KEY"  # the key itself never sits in a settings file
    timeout_s: float = 120.0
    retries: int = 2
    # Concurrent requests for several samples. llama-cpp-python's server interrupts a running
    # request when another arrives, so 1 is the safe default; vLLM and llama.cpp's own server
    # (with --parallel) serve several at once.
    parallel: int = 1

    def __post_init__(self) -> None:
        if not re.match(r"^https?://", self.base_url):
            raise ValueError(f"baseUrl must start with http:// or https://, got {self.base_url!r}")
        _between("timeoutS", self.timeout_s, 1, 3600)
        _between("retries", self.retries, 0, 10)
        _between("parallel", self.parallel, 1, 64)


@dataclass
class GenerationSettings:
    # Several candidates, decoded together, checked and ranked; 1 is one greedy answer.
    # None: each action's own number, measured like its model (Generate and Explain 1, Fix
    # and Generate tests 5).
    samples: int | None = None
    max_tokens: int = 384
    # Calibrated on the quality benchmark (docs/quality.md): scoring.THRESHOLD.
    confidence_threshold: float = 0.8875
    # Ask the model for tests from the docstring, to rank Generate's candidates by (CodeT's
    # dual agreement); one more greedy request per Generate (docs/quality.md).
    generated_tests: bool = False
    # A larger local model asked once when the answer is not trusted (a cascade): a model
    # name from `hearth models list`, or None. `escalate_when` says what "not trusted" means:
    # below the confidence threshold, or also "unverified" (no example or test passed).
    escalate_to: str | None = None
    escalate_when: Literal["low-confidence", "unverified"] = "unverified"
    # When the answer is below the threshold for a reason a check names (a failed example, a
    # crash, an undefined name), show the model its answer and the reason and ask again, at
    # most this many times (docs/quality.md, "Repair").
    repairs: int = 0
    # Ask the model whether each of its answers does what was asked (one Yes/No read from
    # the logits, nothing decoded); a "no" lowers the confidence (docs/quality.md).
    self_check: bool = False

    def __post_init__(self) -> None:
        _between("repairs", self.repairs, 0, 3)
        if self.samples is not None:
            _between("samples", self.samples, 1, 16)
        _between("maxTokens", self.max_tokens, 16, 32_768)
        _between("confidenceThreshold", self.confidence_threshold, 0, 1)


@dataclass
class GuardrailSettings:
    # block by default: a destructive instruction is refused and an answer that adds a
    # dangerous construct is rejected, with the reason; "warn" only lowers the confidence.
    policy: Literal["block", "warn", "off"] = "block"
    disabled_rules: list[str] = field(default_factory=list)
    max_instruction_chars: int = 2000

    def __post_init__(self) -> None:
        _between("maxInstructionChars", self.max_instruction_chars, 1, 100_000)


@dataclass
class DiagnosticsSettings:
    flake8: bool = True
    security: bool = True
    # Security findings in test code (tests/, test_*.py, *_test.py, conftest.py, test_*
    # functions, Test* classes): mostly eval/pickle of the test's own data, so hints by default.
    security_in_tests: Literal["hint", "information", "warning", "error", "rule", "off"] = "hint"
    debounce_ms: int = 300

    def __post_init__(self) -> None:
        _between("debounceMs", self.debounce_ms, 0, 10_000)


@dataclass
class IndexSettings:
    enabled: bool = True
    exclude: list[str] = field(default_factory=list)
    max_file_bytes: int = 1_000_000
    # The crawl of a folder stops here, so that a huge tree cannot keep the indexer busy.
    max_files: int = 50_000
    context_tokens: int = 1024
    # "auto": the code-tuned embedder once `hearth tune-embedder` has made it, else the base.
    embedding_model: Literal["auto", "base", "tuned"] = "auto"
    # With "auto" and no tuned embedder yet, the language server makes it in a background
    # process at the lowest priority and switches its indexes to it when it is ready.
    tune_in_background: bool = True

    def __post_init__(self) -> None:
        _between("maxFileBytes", self.max_file_bytes, 1, 100_000_000)
        _between("maxFiles", self.max_files, 1, 10_000_000)
        _between("contextTokens", self.context_tokens, 0, 8192)

    def for_core(self) -> CoreIndexSettings:
        """The engine's index settings these user settings stand for."""
        from hearth.core.memory.settings import IndexSettings as CoreIndexSettings

        return CoreIndexSettings(exclude=list(self.exclude), max_file_bytes=self.max_file_bytes,
                                 max_files=self.max_files, embedding_model=self.embedding_model)


@dataclass
class CompletionSettings:
    """Inline completion (ghost text, ``textDocument/inlineCompletion``)."""

    enabled: bool = True
    # "automatic": as the user types; "onRequest": only when the editor's command asks.
    trigger: Literal["automatic", "onRequest"] = "automatic"
    disabled_languages: list[str] = field(default_factory=list)  # LSP language ids
    max_lines: int = 8  # of a multi-line suggestion
    # Workspace code in the prompt (the names the code uses, then the index's best chunks).
    context_tokens: int = 384
    # The lines around the cursor the model sees: 32 and 8 matched 64 and 16 on the dev
    # positions at 70% of the prompt (docs/BENCHMARKS.md, "Inline completion").
    prefix_lines: int = 32
    suffix_lines: int = 8
    # A model from `hearth models list`; None: `model.name` when set, else the measured choice
    # (core.session.COMPLETION_MODEL, the 1.5B model).
    model: str | None = None

    def __post_init__(self) -> None:
        _between("maxLines", self.max_lines, 1, 40)
        _between("contextTokens", self.context_tokens, 0, 2048)
        _between("prefixLines", self.prefix_lines, 1, 10_000)
        _between("suffixLines", self.suffix_lines, 0, 10_000)


@dataclass
class HistorySettings:
    """The history of actions per workspace (docs/history.md)."""

    enabled: bool = True  # off: nothing is stored, nothing is cached or learned
    cache: bool = True  # the same request on the same text answered from the history
    # Accepted answers shown as examples, rejected ones penalised, accepted code favoured in
    # retrieval.
    learn: bool = True
    example_tokens: int = 512  # the prompt budget of past answers
    max_age_days: int = 90  # 0: any age
    max_entries: int = 5000
    max_megabytes: int = 100  # what the entries hold, at most; 0: no limit

    def __post_init__(self) -> None:
        _between("exampleTokens", self.example_tokens, 0, 4096)
        _between("maxAgeDays", self.max_age_days, 0, 36_500)
        _between("maxEntries", self.max_entries, 1, 10_000_000)
        _between("maxMegabytes", self.max_megabytes, 0, 1_000_000)


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    history: HistorySettings = field(default_factory=HistorySettings)


SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "openai": OpenAISettings,
    "generation": GenerationSettings,
    "guardrails": GuardrailSettings,
    "diagnostics": DiagnosticsSettings,
    "index": IndexSettings,
    "completion": CompletionSettings,
    "history": HistorySettings,
}


def camel(name: str) -> str:
    head, *rest = re.split(r"[_-]", name)
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for cls in SECTIONS.values():
        renames = {f.name: override(rename=camel(f.name)) for f in dataclasses.fields(cls)}
        converter.register_structure_hook(
            cls, make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **renames))
        converter.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, converter, **renames))
    return converter


CONVERTER = _make_converter()


def _normalise(value: Any) -> Any:
    """Accept snake_case and kebab-case keys as well as camelCase."""
    if isinstance(value, Mapping):
        return {camel(str(key)): _normalise(item) for key, item in value.items()}
    return value


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        elif value is not None or key not in merged:
            merged[key] = value
    return merged


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _explain(exc: BaseException) -> str:
    """One readable sentence per problem, without cattrs' internals."""
    messages = []
    for leaf in _leaves(exc):
        text = str(leaf)
        literal = re.match(r"(.*) not in literal typing\.Literal\[(.*)\]", text)
        if literal:
            text = f"{literal.group(1)!r} is not one of {literal.group(2)}"
        elif "extra fields" in text.lower():
            text = text.replace("Extra fields in constructor for", "unknown key in")
        messages.append(text)
    return "; ".join(messages)


def _structure_section(name: str, cls: type, raw: Any, problems: list[str]) -> Any:
    if not isinstance(raw, Mapping):
        problems.append(f"hearth.{name} must be an object, got {type(raw).__name__}")
        return cls()
    try:
        return CONVERTER.structure(dict(raw), cls)
    except Exception:  # noqa: BLE001 - any failure falls back key by key below
        pass
    good: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            CONVERTER.structure({key: value}, cls)
            good[key] = value
        except Exception as exc:  # noqa: BLE001
            problems.append(f"hearth.{name}.{key}: {_explain(exc)} (using the default)")
    try:
        return CONVERTER.structure(good, cls)
    except Exception as exc:  # noqa: BLE001 - values valid alone but not together
        problems.append(f"hearth.{name}: {_explain(exc)} (using the defaults)")
        return cls()


def structure_settings(raw: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
    """Typed settings from one merged camelCase mapping, plus what was wrong with it."""
    problems: list[str] = []
    raw = _normalise(raw or {})
    sections = {}
    for key, value in raw.items():
        if key not in SECTIONS:
            problems.append(f"hearth.{key} is not a Hearth setting (ignored)")
            continue
        sections[key] = _structure_section(key, SECTIONS[key], value, problems)
    return Settings(**sections), problems


def unstructure_settings(settings: Settings) -> dict[str, Any]:
    return {name: CONVERTER.unstructure(getattr(settings, name)) for name in SECTIONS}


def read_pyproject(root: Path | None) -> tuple[dict[str, Any], list[str]]:
    """The ``[tool.hearth]`` table of ``root/pyproject.toml``, if any."""
    if root is None:
        return {}, []
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: cannot read [tool.hearth] ({exc})"]
    table = data.get("tool", {}).get("hearth", {})
    if not isinstance(table, dict):
        return {}, [f"{path}: [tool.hearth] must be a table"]
    return _normalise(table), []


def merge_layers(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged = deep_merge(merged, _normalise(layer))
    return merged


def load_settings(root: Path | None,
                  *layers: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
    """Defaults, then ``[tool.hearth]`` under ``root``, then each of ``layers`` in order."""
    table, problems = read_pyproject(root)
    settings, more = structure_settings(merge_layers(table, *layers))
    return settings, problems + more
