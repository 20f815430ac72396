"""Ranking by self-consistency: run the candidates on their docstring's examples and on inputs
made from the signature's type hints (all of them in one sandboxed process), group candidates
that behave identically, and answer from the largest group of confident ones.

A candidate that fails its own docstring's examples, raises on import, or disagrees with the
other candidates gets findings for it (``scoring.RULES``), so its confidence says so too.
"""

from __future__ import annotations

import ast
import doctest
import json
import logging
import secrets
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.core.pipeline.types import ActionRequest, Candidate
from hearth.core.pipeline.types import Ranker
from hearth.core.pipeline.scoring import THRESHOLD, confidence, finding

log = logging.getLogger(__name__)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
CALL_TIMEOUT_S = 1.0  # per call or docstring example, inside the sandbox
LOAD_TIMEOUT_S = 3.0  # per module import, inside the sandbox
MAX_INPUTS = 8
HARNESS = "hearth_rank_harness.py"
SPEC = "hearth_rank_spec.json"
ORIGINAL = -1  # the index the user's own file runs under, to tell its import errors apart

# A handful of small values per type, edge cases first.
SCALARS: dict[str, list[object]] = {
    "int": [0, 1, -3, 7, 12, 2],
    "float": [0.0, 1.5, -2.25, 3.0, 10.0],
    "str": ["", "a", "Hello World", "héllo ✓", "abba", "a1 b2 c3"],
    "bool": [True, False],
    "bytes": [b"", b"ab", b"\x00\xff"],
    "None": [None],
}
UNTYPED: list[object] = [1, 0, "abc", [1, 2, 3], -2, ""]
SEQUENCES = {"list", "List", "Sequence", "Iterable", "Collection", "MutableSequence",
             "Iterator", "Generator"}
MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping", "DefaultDict", "OrderedDict"}
SETS = {"set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet"}


# -- inputs -----------------------------------------------------------------------------------
def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return ""


def _hashable(values: list[object]) -> list[object]:
    kept = []
    for value in values:
        try:
            hash(value)
        except TypeError:
            continue
        kept.append(value)
    return kept or [0, 1, "a"]


def _interleave(groups: list[list[object]]) -> list[object]:
    merged: list[object] = []
    for index in range(max(map(len, groups), default=0)):
        merged += [group[index] for group in groups if index < len(group)]
    return merged


def values_for(annotation: ast.expr | None) -> list[object]:
    """Small example values for a parameter annotated ``annotation`` (None: unannotated)."""
    if annotation is None:
        return list(UNTYPED)
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            return values_for(ast.parse(annotation.value, mode="eval").body)
        except SyntaxError:
            return list(UNTYPED)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _interleave([values_for(annotation.left), values_for(annotation.right)])
    name = _base_name(annotation.value if isinstance(annotation, ast.Subscript) else annotation)
    if not isinstance(annotation, ast.Subscript):
        if name in SCALARS:
            return list(SCALARS[name])
        if name in SEQUENCES:
            return [[], [1, 2, 3], ["a", "b"]]
        if name in MAPPINGS:
            return [{}, {"a": 1, "b": 2}]
        if name in SETS:
            return [set(), {1, 2}]
        if name in ("tuple", "Tuple"):
            return [(), (1, 2)]
        return list(UNTYPED)
    inner = annotation.slice
    args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    if name == "Optional":
        return [None] + values_for(args[0])
    if name == "Union":
        return _interleave([values_for(arg) for arg in args])
    if name in SEQUENCES:
        items = values_for(args[0])
        return [[], items[1:2] or items[:1], items[:3], [items[-1], *items[:3], items[-1]]]
    if name in SETS:
        items = _hashable(values_for(args[0]))
        return [set(), set(items[:1]), set(items[:4])]
    if name in MAPPINGS:
        keys = _hashable(values_for(args[0]))
        values = values_for(args[-1]) if len(args) > 1 else list(UNTYPED)
        return [{}, {keys[0]: values[0]},
                {k: values[(i + 1) % len(values)] for i, k in enumerate(keys[:4])}]
    if name in ("tuple", "Tuple"):
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            items = values_for(args[0])
            return [(), tuple(items[:1]), tuple(items[:3])]
        columns = [values_for(arg) for arg in args]
        return [tuple(column[(row + i) % len(column)] for i, column in enumerate(columns))
                for row in range(3)]
    return list(UNTYPED)


def inputs_for(fn: FunctionNode, limit: int = MAX_INPUTS) -> list[str]:
    """Up to ``limit`` argument tuples for ``fn``, as Python literals, varying every
    parameter at once (a diagonal through the values, not their product)."""
    params = [a for a in fn.args.posonlyargs + fn.args.args if a.arg not in ("self", "cls")]
    required = len(params) - len(fn.args.defaults)
    if fn.args.kwonlyargs and any(d is None for d in fn.args.kw_defaults):
        return []  # required keyword-only arguments: not worth guessing
    columns = [values_for(a.annotation) for a in params[:max(required, 0)]]
    if not columns:
        return ["()"]
    rows: list[str] = []
    for row in range(max(limit * 2, max(map(len, columns)))):
        text = repr(tuple(column[(row + i) % len(column)] for i, column in enumerate(columns)))
        if text not in rows:
            rows.append(text)
        if len(rows) >= limit:
            break
    return rows


def _function(tree: ast.Module, qualname: str) -> FunctionNode | None:
    """A module-level function by name (methods and nested functions cannot be run alone)."""
    return next((node for node in tree.body if isinstance(node, (ast.FunctionDef,
                 ast.AsyncFunctionDef)) and node.name == qualname), None)


def _target(request: ActionRequest, candidates: Sequence[Candidate]) -> FunctionNode | None:
    """The original's module-level function that the candidates (re)write, if there is one."""
    tree = request.tree
    if tree is None:
        return None
    names = {c.function for c in candidates if c.function}
    if len(names) == 1:
        return _function(tree, names.pop())
    regions = {c.region for c in candidates if c.region is not None}
    if len(regions) == 1:
        start, end = (line + 1 for line in regions.pop())
        return next((node for node in tree.body if isinstance(node, (ast.FunctionDef,
                     ast.AsyncFunctionDef)) and node.lineno <= start
                     and end <= (node.end_lineno or node.lineno)), None)
    return None


def doctest_examples(fn: FunctionNode) -> list[list[str | None]]:
    """The examples of ``fn``'s docstring as [source, want, exc_msg] (the user's spec)."""
    docstring = ast.get_docstring(fn, clean=True)
    if not docstring:
        return []
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return []
    return [[e.source, e.want, e.exc_msg] for e in examples]


# -- running ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Behaviour:
    """What one candidate did: its import, each docstring example, each generated call."""

    load_error: str | None
    doctests: tuple[tuple[bool, str], ...]
    calls: tuple[str, ...]
    crashed: bool = False  # it ended the process (os._exit, a segfault, the sandbox's limits)

    @property
    def key(self) -> tuple:
        return (self.load_error, tuple(got for _, got in self.doctests), self.calls)

    @property
    def doctests_failed(self) -> int:
        return sum(1 for passed, _ in self.doctests if not passed)


HARNESS_SOURCE = textwrap.dedent('''\
    """Run candidate modules on docstring examples and generated inputs; print marked JSON."""
    import ast, copy, doctest, importlib.util, json, math, os, signal, sys

    with open("%(spec)s", encoding="utf-8") as handle:
        SPEC = json.load(handle)
    OUT = os.dup(1)


    class Timeout(BaseException):
        pass


    def alarm(*_):
        raise Timeout()


    signal.signal(signal.SIGALRM, alarm)


    def arm(seconds):
        signal.setitimer(signal.ITIMER_REAL, seconds)


    def emit(record):
        os.write(OUT, ("\\n" + SPEC["mark"] + json.dumps(record) + "\\n").encode())


    def normal(value, depth=0):
        if depth > 6:
            return "..."
        if isinstance(value, bool) or value is None:
            return repr(value)
        if isinstance(value, float):
            return "f:" + (repr(round(value, 6)) if math.isfinite(value) else repr(value))
        if isinstance(value, (int, str, bytes)):
            text = type(value).__name__ + ":" + repr(value)
            return text if len(text) <= 300 else text[:300] + "#" + str(hash(text))
        if isinstance(value, (list, tuple)):
            items = ",".join(normal(v, depth + 1) for v in value[:50])
            return type(value).__name__ + "[" + items + "]"
        if isinstance(value, (set, frozenset)):
            return "set{" + ",".join(sorted(normal(v, depth + 1) for v in value)) + "}"
        if isinstance(value, dict):
            return "dict{" + ",".join(sorted(normal(k, depth + 1) + ":" + normal(v, depth + 1)
                                              for k, v in value.items())) + "}"
        return type(value).__name__


    class Recorder(doctest.DocTestRunner):
        def __init__(self):
            super().__init__(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            self.outcomes = []

        def report_start(self, out, test, example):
            arm(SPEC["call_s"])

        def report_success(self, out, test, example, got):
            arm(0)
            self.outcomes.append([True, got.strip()])

        def report_failure(self, out, test, example, got):
            arm(0)
            self.outcomes.append([False, got.strip()])

        def report_unexpected_exception(self, out, test, example, exc_info):
            arm(0)
            self.outcomes.append([False, "raise " + exc_info[0].__name__])


    def run(index, path):
        name = "hearth_rank_%%s" %% ("original" if index < 0 else index)
        record = {"i": index, "load": None, "doctests": [], "calls": []}
        emit({"start": index})
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            arm(SPEC["load_s"])
            spec.loader.exec_module(module)
            arm(0)
            function = getattr(module, SPEC["function"])
        except BaseException as error:
            arm(0)
            record["load"] = type(error).__name__
            emit(record)
            return
        if index < 0:
            emit(record)
            return
        examples = [doctest.Example(source, want, exc_msg) for source, want, exc_msg
                    in SPEC["doctests"]]
        if examples:
            recorder = Recorder()
            test = doctest.DocTest(examples, dict(vars(module)), name, path, 0, None)
            try:
                recorder.run(test, out=lambda text: None, clear_globs=True)
            except BaseException as error:
                recorder.outcomes.append([False, "raise " + type(error).__name__])
            record["doctests"] = recorder.outcomes
        for literal in SPEC["inputs"]:
            if "raise Timeout" in record["calls"]:
                record["calls"].append("raise Timeout")  # one hang is enough to know
                continue
            try:
                arguments = copy.deepcopy(ast.literal_eval(literal))
                arm(SPEC["call_s"])
                result = function(*arguments)
                arm(0)
                record["calls"].append(normal(result))
            except BaseException as error:
                arm(0)
                record["calls"].append("raise " + type(error).__name__)
        emit(record)


    for index, path in SPEC["modules"]:
        run(index, path)
''') % {"spec": SPEC}


def execute(request: ActionRequest, candidates: Sequence[Candidate], indices: Sequence[int],
            fn: FunctionNode, workspace: Path | None) -> dict[int, Behaviour]:
    """Run the candidates at ``indices`` (and the original) in one sandboxed process; if a
    candidate takes the process down, it is marked crashed and the rest run in another."""
    from hearth.core.sandbox import run_python

    files = {f"hearth_rank_c{i}.py": candidates[i].new_source or "" for i in indices}
    files["hearth_rank_original.py"] = request.source
    files[HARNESS] = HARNESS_SOURCE
    pending = [[ORIGINAL, "hearth_rank_original.py"]]
    pending += [[i, f"hearth_rank_c{i}.py"] for i in indices]
    inputs, examples = inputs_for(fn), doctest_examples(fn)
    extra = [p for p in (workspace, request.path.parent if request.path else None) if p]
    behaviours: dict[int, Behaviour] = {}
    while pending:
        mark = f"@@hearth-rank-{secrets.token_hex(6)}@@"
        files[SPEC] = json.dumps({"mark": mark, "function": fn.name, "modules": pending,
                                  "inputs": inputs, "doctests": examples,
                                  "call_s": CALL_TIMEOUT_S, "load_s": LOAD_TIMEOUT_S})
        budget = 5 + len(pending) * (LOAD_TIMEOUT_S + CALL_TIMEOUT_S * (2 + len(examples)))
        result = run_python(files, [HARNESS], timeout_s=min(budget, 60.0), memory_mb=1024,
                            extra_path=list(dict.fromkeys(extra)))
        started = _read(result.stdout, mark, behaviours)
        if started is None:
            if result.returncode != 0 and not behaviours:
                log.info("The ranking harness failed: %s", result.stderr[-2000:])
            break
        behaviours[started] = Behaviour(None, (), ("crash",), crashed=True)
        pending = [entry for entry in pending if entry[0] not in behaviours]
    return behaviours


def _read(stdout: str, mark: str, behaviours: dict[int, Behaviour]) -> int | None:
    """Record the harness's results; the index it started but never finished, if any."""
    started = None
    for line in stdout.splitlines():
        if not line.startswith(mark):
            continue
        record = json.loads(line[len(mark):])
        if "start" in record:
            started = record["start"]
            continue
        started = None
        behaviours[record["i"]] = Behaviour(
            record["load"], tuple((bool(p), str(g)) for p, g in record["doctests"]),
            tuple(record["calls"]))
    return started


# -- choosing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecutionRanker:
    """Score first; among candidates at or above the threshold (all usable ones when none
    is), the largest group of identical behaviour wins; ties go to the higher confidence, then
    the earlier sample. Never sees a benchmark's hidden tests: only the docstring."""

    workspace: Path | None = None
    threshold: float = THRESHOLD

    def __call__(self, request: ActionRequest, candidates: list[Candidate]) -> list[Candidate]:
        return self.rank(request, candidates)[0]

    def rank(self, request: ActionRequest,
             candidates: list[Candidate]) -> tuple[list[Candidate], dict[int, tuple]]:
        """The candidates best first, and each run candidate's behaviour (by sample index)."""
        behaviours = self._behaviours(request, candidates)
        for index, behaviour in behaviours.items():
            if index != ORIGINAL:
                self._judge(candidates[index], behaviour, behaviours, candidates)
        for candidate in candidates:
            candidate.confidence = confidence(candidate.findings) if candidate.usable else 0.0
        keys = {i: b.key for i, b in behaviours.items() if i >= 0}
        return order(candidates, keys, self.threshold), keys

    def _behaviours(self, request: ActionRequest,
                    candidates: list[Candidate]) -> dict[int, Behaviour]:
        indices = [i for i, c in enumerate(candidates) if c.usable and c.new_source]
        if request.language != "python" or not indices:
            return {}
        fn = _target(request, [candidates[i] for i in indices])
        if fn is None:
            return {}
        try:
            return execute(request, candidates, indices, fn, self.workspace)
        except (OSError, ValueError) as error:
            log.warning("Could not run the candidates to rank them: %s", error)
            return {}

    @staticmethod
    def _judge(candidate: Candidate, behaviour: Behaviour, behaviours: dict[int, Behaviour],
               candidates: list[Candidate]) -> None:
        original = behaviours.get(ORIGINAL)
        if behaviour.crashed:
            candidate.findings.append(finding(
                "run-error", "running it ended the process (a crash or the sandbox's limits)"))
            return
        if behaviour.load_error:
            if original is not None and original.load_error is None:
                candidate.findings.append(finding(
                    "run-error", f"importing the module raises {behaviour.load_error}"))
            return
        failed, total = behaviour.doctests_failed, len(behaviour.doctests)
        if failed:
            candidate.findings.append(finding(
                "doctest-failed", f"fails {failed} of the {total} example(s) in its docstring",
                scale=failed / total))
        peers = [b for i, b in behaviours.items() if i >= 0 and candidates[i].usable]
        if len(peers) >= 2:
            agreeing = sum(1 for b in peers if b.key == behaviour.key)
            if agreeing < len(peers):
                candidate.findings.append(finding(
                    "disagreement", f"only {agreeing} of {len(peers)} candidates behave like "
                    "this one", scale=1 - agreeing / len(peers)))


def order(candidates: list[Candidate], keys: dict[int, tuple], threshold: float) -> list[Candidate]:
    """Best first: the pick from the largest behaviour group among the confident, then the
    rest by confidence (earlier samples first among equals)."""
    usable = [i for i, c in enumerate(candidates) if c.usable]
    if not usable:
        return sorted(candidates, key=lambda c: -c.confidence)
    pool = [i for i in usable if candidates[i].confidence >= threshold] or usable
    groups: dict[tuple, list[int]] = {}
    for i in pool:
        groups.setdefault(keys.get(i, ("unrun", i)), []).append(i)

    def strength(members: list[int]) -> tuple:
        best = max(candidates[i].confidence for i in members)
        return (len(members), best, -min(members))

    chosen_group = max(groups.values(), key=strength)
    chosen = min(chosen_group, key=lambda i: (-candidates[i].confidence, i))
    rest = sorted((i for i in range(len(candidates)) if i != chosen),
                  key=lambda i: (-candidates[i].confidence, i))
    return [candidates[chosen]] + [candidates[i] for i in rest]


def default_ranker(workspace: Path | None = None,
                   confidence_threshold: float = THRESHOLD) -> Ranker:
    return ExecutionRanker(workspace, confidence_threshold)
