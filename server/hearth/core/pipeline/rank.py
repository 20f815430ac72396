"""Ranking by self-consistency: run the candidates on their docstring's examples and on inputs
made from the signature's type hints (all of them in one sandboxed process), group candidates
that behave identically, and answer from the largest group of confident ones.

A candidate that fails its own docstring's examples, raises on import, or disagrees with the
other candidates gets findings for it (``scoring.RULES``), so its confidence says so too.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.core.guardrails.rules import excerpt
from hearth.core.pipeline.edited import quoted_names
from hearth.core.pipeline.examples import Example, examples_from_docstring, examples_in
from hearth.core.pipeline.inputs import STAND_IN, doctest_examples, inputs_for, object_parameters
from hearth.core.pipeline.iterables import iterator_variant
from hearth.core.pipeline.properties import raises_on_valid_inputs, wrong_return
from hearth.core.pipeline.types import ActionRequest, Candidate, Finding, FunctionNode, Ranker
from hearth.core.pipeline.scoring import THRESHOLD, confidence, finding
from hearth.core.sandbox import run_python

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 1.0  # per call or docstring example, inside the sandbox
LOAD_TIMEOUT_S = 3.0  # per module import, inside the sandbox
HARNESS = "hearth_rank_harness.py"
HARNESS_PROGRAM = Path(__file__).with_name("rank_harness_program.py")
SPEC = "hearth_rank_spec.json"
ORIGINAL = -1  # the index the user's own file runs under, to tell its import errors apart


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


@dataclass(frozen=True)
class Behaviour:
    """What one candidate did: its import, each docstring example, each generated call."""

    load_error: str | None
    doctests: tuple[tuple[bool, str], ...]
    calls: tuple[str, ...]
    crashed: bool = False  # it ended the process (os._exit, a segfault, the sandbox's limits)
    # The docstring's examples in prose: (passed, the value's normal form, what a reader sees).
    checks: tuple[tuple[bool, str, str], ...] = ()
    # The doctests again with the iterables as iterators (pipeline.iterables), if any changed.
    iter_doctests: tuple[tuple[bool, str], ...] = ()

    @property
    def key(self) -> tuple:
        return (self.load_error, tuple(got for _, got in self.doctests),
                tuple(got for _, got, _ in self.checks), self.calls)

    @property
    def doctests_failed(self) -> int:
        return sum(1 for passed, _ in self.doctests if not passed)


def execute(request: ActionRequest, candidates: Sequence[Candidate], indices: Sequence[int],
            fn: FunctionNode, workspace: Path | None,
            prose: Sequence[Example] = (), inputs: Sequence[str] | None = None,
            original_calls: bool = False) -> dict[int, Behaviour]:
    """Run the candidates at ``indices`` (and the original) in one sandboxed process, on the
    docstring's doctests, its examples in prose and ``inputs`` (by default, from the
    signature); ``original_calls``: the original runs on the inputs too. If a candidate takes
    the process down, it is marked crashed and the rest run in another."""
    files = {f"hearth_rank_c{i}.py": candidates[i].new_source or "" for i in indices}
    files["hearth_rank_original.py"] = request.source
    files[HARNESS] = HARNESS_PROGRAM.read_text(encoding="utf-8")
    pending = [[ORIGINAL, "hearth_rank_original.py"]]
    pending += [[i, f"hearth_rank_c{i}.py"] for i in indices]
    inputs = list(inputs_for(fn) if inputs is None else inputs)
    examples = doctest_examples(fn)
    checks = [[e.call, e.expect, e.raises] for e in prose]
    module, top = module_name(request.path)
    # A package's module finds its siblings through the package; its folder on the path would
    # let a sibling named like the standard library (funcy/types.py) shadow it.
    here = request.path.parent if request.path and module is None else None
    extra = [p for p in (top, workspace, here) if p]
    behaviours: dict[int, Behaviour] = {}
    while pending:
        files[SPEC] = json.dumps({"function": fn.name, "modules": pending, "module": module,
                                  "inputs": inputs, "doctests": examples,
                                  "doctests_iter": iterator_variant(fn, examples),
                                  "checks": checks,
                                  "original_calls": original_calls,
                                  "call_s": CALL_TIMEOUT_S, "load_s": LOAD_TIMEOUT_S})
        budget = 5 + len(pending) * (LOAD_TIMEOUT_S + CALL_TIMEOUT_S * (
            2 + 2 * len(examples) + len(checks) + (2 * len(inputs) if original_calls else 0)))
        result = run_python(files, [HARNESS, SPEC], timeout_s=min(budget, 60.0), memory_mb=1024,
                            extra_path=list(dict.fromkeys(extra)), channel=True)
        if result.rejected_records:
            log.info("The ranking harness's channel held %d forged or torn records",
                     result.rejected_records)
        started = _read(result.records, behaviours)
        if started is None:
            if result.returncode != 0 and not behaviours:
                log.info("The ranking harness failed: %s", result.stderr[-2000:])
            break
        behaviours[started] = Behaviour(None, (), ("crash",), crashed=True)
        pending = [entry for entry in pending if entry[0] not in behaviours]
    return behaviours


def module_name(path: Path | None) -> tuple[str | None, Path | None]:
    """The dotted name a file of a package is imported as, and the folder its top package
    sits in; (None, None) for a file outside any package."""
    if path is None:
        return None, None
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        return None, None
    return ".".join(parts), folder


def _read(records: Sequence[object], behaviours: dict[int, Behaviour]) -> int | None:
    """Record the harness's results; the index it started but never finished, if any. A record
    that does not have the harness's shape counts as that candidate crashing."""
    started = None
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("start"), int):
            started = record["start"]
            continue
        behaviour = _behaviour(record)
        index = record.get("i") if isinstance(record, dict) else None
        if behaviour is None or index != started:
            if started is not None:
                behaviours[started] = Behaviour(None, (), ("malformed record",), crashed=True)
        else:
            behaviours[index] = behaviour
        started = None
    return started


def _behaviour(record: object) -> Behaviour | None:
    """A finished module's record as a Behaviour; None for anything of another shape."""
    try:
        if not isinstance(record, dict) or not isinstance(record["i"], int):
            return None
        load = record["load"]
        if load is not None and not isinstance(load, str):
            return None
        doctests = tuple((bool(p), str(g)) for p, g in record["doctests"])
        iter_doctests = tuple((bool(p), str(g)) for p, g in record.get("doctests_iter", ()))
        checks = tuple((bool(p), str(g), str(shown)) for p, g, shown in record["checks"])
        calls = record["calls"]
        if not isinstance(calls, list) or not all(isinstance(c, str) for c in calls):
            return None
    except (KeyError, TypeError, ValueError):
        return None
    return Behaviour(load, doctests, tuple(calls), checks=checks, iter_doctests=iter_doctests)


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
        behaviours, checks, fn, inputs = self._behaviours(request, candidates)
        # The candidates that ran every check (not crashed, imported).
        ran = {i: b for i, b in behaviours.items() if i >= 0 and len(b.checks) == len(checks)}
        # A generated test no candidate passes says more about the test than the candidates.
        useful = {n for n, example in enumerate(checks) if example.origin == "generated"
                  and any(b.checks[n][0] for b in ran.values())}
        doctests = doctest_examples(fn) if fn is not None else []
        variant = iterator_variant(fn, doctests) if fn is not None else []
        for index, behaviour in behaviours.items():
            if index != ORIGINAL:
                self._judge(candidates[index], behaviour, behaviours, candidates, checks,
                            useful, doctests, variant)
                self._promised(candidates[index], behaviour, fn)
                if fn is not None and _keeps_behaviour(candidates[index]):
                    _kept(candidates[index], behaviour, behaviours.get(ORIGINAL), fn, inputs)
        for candidate in candidates:
            candidate.confidence = confidence(candidate.findings) if candidate.usable else 0.0
        keys = {i: b.key for i, b in behaviours.items() if i >= 0}
        support = {i: sum(1 for n in useful if b.checks[n][0]) for i, b in ran.items()}
        return order(candidates, keys, self.threshold, support), keys

    def _behaviours(self, request: ActionRequest, candidates: list[Candidate]
                    ) -> tuple[dict[int, Behaviour], list[Example], FunctionNode | None,
                               list[str]]:
        indices = [i for i, c in enumerate(candidates) if c.usable and c.new_source]
        if request.language != "python" or not indices:
            return {}, [], None, []
        fn = _target(request, [candidates[i] for i in indices])
        if fn is None:
            return {}, [], None, []
        # A fix keeps what the code did: the original runs on the same inputs, and the
        # parameters it uses as objects get stand-ins (a `db` whose rows it returns).
        fixing = all(_keeps_behaviour(candidates[i]) for i in indices)
        inputs = inputs_for(fn, stand_ins=object_parameters(fn) if fixing else ())
        # The user's docstring, not a candidate's, and the instruction the user gave with the
        # request; then the tests the model wrote from the docstring.
        checks = examples_from_docstring(fn)
        stated = {(e.call, e.expect, e.raises) for e in checks}
        for text, origin in ((request.instruction or "", "instruction"),
                             ("\n".join(request.notes), "note")):
            for example in examples_in(fn, text, origin):
                if (example.call, example.expect, example.raises) not in stated:
                    stated.add((example.call, example.expect, example.raises))
                    checks.append(example)
        checks += list(request.generated_checks)
        try:
            return execute(request, candidates, indices, fn, self.workspace, checks, inputs,
                           original_calls=fixing), checks, fn, inputs
        except (OSError, ValueError) as error:
            log.warning("Could not run the candidates to rank them: %s", error)
            return {}, checks, fn, inputs

    @staticmethod
    def _promised(candidate: Candidate, behaviour: Behaviour, fn: FunctionNode | None) -> None:
        """What the signature promises: the annotated return type, and no exception on every
        well-typed input unless the docstring mentions one (pipeline.properties)."""
        # As for `unverified`: a Fix of a region keeps whatever its function already did.
        if fn is None or candidate.function is None or behaviour.crashed or behaviour.load_error:
            return
        wrong, returned, first = wrong_return(fn, behaviour.calls)
        if wrong:
            annotation = ast.unparse(fn.returns) if fn.returns is not None else ""
            candidate.findings.append(finding(
                "wrong-return-type", f"returns {_form(first)} where the signature says "
                f"`{annotation}` ({wrong} of {returned} generated inputs)",
                scale=wrong / returned))
        error = raises_on_valid_inputs(fn, behaviour.calls)
        if error:
            candidate.findings.append(finding(
                "raises-on-valid-inputs", f"raises {error} on every one of the "
                f"{len(behaviour.calls)} well-typed inputs tried, and its docstring mentions "
                "no exception"))

    @staticmethod
    def _judge(candidate: Candidate, behaviour: Behaviour, behaviours: dict[int, Behaviour],
               candidates: list[Candidate], checks: Sequence[Example],
               useful: set[int], doctests: Sequence[Sequence[str | None]] = (),
               variant: Sequence[Sequence[str | None]] = ()) -> None:
        original = behaviours.get(ORIGINAL)
        if behaviour.crashed:
            candidate.findings.append(finding(
                "run-error", "running it ended the process (a crash or the sandbox's limits)"))
            return
        if behaviour.load_error:
            if original is not None and original.load_error is None:
                candidate.findings.append(finding(
                    "run-error", f"importing the module raises {behaviour.load_error}"))
            elif candidate.function is not None:
                # The module does not load here as the user wrote it either (a dependency
                # the sandbox lacks): nothing ran the answer, which must not read as checked.
                # It did, at confidence 1.0, on the quality corpus (funcy's once_per).
                candidate.findings.append(finding(
                    "unverified", "nothing checked it: the module could not be loaded to run "
                    f"its examples ({behaviour.load_error})"))
            return
        outcomes = list(zip(checks, behaviour.checks))
        prose = [(example, outcome) for example, outcome in outcomes
                 if example.origin in ("docstring", "instruction", "note")]
        failed, total = _doctest_counts(behaviour, doctests, candidate.function)
        examples = total + len(prose)
        passed = total - failed + sum(1 for _, (ok, _, _) in prose if ok)
        candidate.checks_passed = passed + sum(
            1 for n, (example, (ok, _, _)) in enumerate(outcomes)
            if example.origin == "generated" and ok and n in useful)
        # Only an answer that writes a function is judged against its docstring; a Fix of a
        # region keeps the behaviour the user's code already had.
        if candidate.checks_passed == 0 and candidate.function is not None:
            candidate.findings.append(finding(
                "unverified", "nothing checked it: no example or test its docstring gives "
                "passed" if examples or len(outcomes) else "nothing checked it: its docstring "
                "gives no example to run"))
        if examples and passed == examples:
            givers = _givers({example.origin for example, _ in prose} | (
                {"docstring"} if total else set()))
            candidate.evidence.append(f"passes the {_count(examples, 'example')} {givers} "
                                      f"give{'s' if ' and ' not in givers else ''}")
        elif not examples:
            candidate.evidence.append("its docstring gives no example to check it against")
        if failed:
            candidate.findings.append(finding(
                "doctest-failed", f"fails {failed} of the {total} example(s) in its docstring"
                + _first_failure(behaviour, doctests), scale=failed / total))
        elif candidate.function is not None:  # a Fix keeps what its function already did
            candidate.findings.extend(_iterator_findings(behaviour, doctests, variant))
        missed = [(example, shown) for example, (ok, _, shown) in prose if not ok]
        if missed:
            example, shown = missed[0]
            more = (f" ({len(missed)} of the {len(prose)} examples given in prose fail)"
                    if len(missed) > 1 else "")
            source = _SOURCES[example.origin]
            candidate.findings.append(finding(
                "example-failed", f"contradicts {source}: {example.describe()}, but it "
                f"{shown}{more}", scale=len(missed) / len(prose)))
        generated = [(n, example, outcome) for n, (example, outcome) in enumerate(outcomes)
                     if example.origin == "generated"]
        if generated:
            ok_count = sum(1 for _, _, (ok, _, _) in generated if ok)
            candidate.evidence.append(f"passes {ok_count} of the {len(generated)} tests the "
                                      "model wrote from its docstring")
            lost = [(example, shown) for n, example, (ok, _, shown) in generated
                    if n in useful and not ok]
            if lost:
                example, shown = lost[0]
                candidate.findings.append(finding(
                    "generated-test-failed", f"fails {len(lost)} of the {len(useful)} tests "
                    f"written from its docstring that other candidates pass (`{example.call} "
                    f"== {example.expect}`, but it {shown})", scale=len(lost) / len(useful)))
        peers = [b for i, b in behaviours.items() if i >= 0 and candidates[i].usable]
        if len(peers) >= 2:
            agreeing = sum(1 for b in peers if b.key == behaviour.key)
            if agreeing < len(peers):
                candidate.findings.append(finding(
                    "disagreement", f"only {agreeing} of {len(peers)} candidates behave like "
                    "this one", scale=1 - agreeing / len(peers)))
            else:
                candidate.evidence.append(f"all {len(peers)} candidates behave the same on "
                                          f"{_count(len(behaviour.calls), 'generated input')}")


def _keeps_behaviour(candidate: Candidate) -> bool:
    """A Fix of a region: an edit that must leave what the code does as it was."""
    return candidate.function is None and candidate.region is not None


def _kept(candidate: Candidate, behaviour: Behaviour, original: Behaviour | None,
          fn: FunctionNode, inputs: Sequence[str]) -> None:
    """A fix that returns something else than the code before it, on an input where that
    code returned normally, and the same in two runs (not a random name or the time). With
    a stand-in argument, only a value the code got from the stand-in counts: what else it
    computed from a stand-in says little about real data."""
    if original is None or behaviour.crashed or behaviour.load_error or \
            original.load_error or len(original.calls) != len(inputs) or \
            len(behaviour.calls) != len(inputs):
        return
    changed = [(literal, before, after) for literal, before, after
               in zip(inputs, original.calls, behaviour.calls)
               if before != after and not before.startswith("raise ") and before != "unstable"
               and (STAND_IN not in literal or "stand-in:" in before)]
    if not changed:
        return
    literal, before, after = changed[0]
    call, stand_ins = _shown_call(fn.name, literal)
    more = f" ({len(changed)} of {len(inputs)} inputs)" if len(changed) > 1 else ""
    told = (f", {quoted_names(stand_ins)} being a stand-in that records what is asked of it"
            if stand_ins else "")
    candidate.findings.append(finding(
        "behaviour-changed", f"`{call}` {_outcome(after)} after the fix and "
        f"{_outcome(before).replace('returns', 'returned', 1)} before it{told}{more}"))


def _shown_call(name: str, literal: str) -> tuple[str, list[str]]:
    """``literal`` (an argument tuple of ``inputs_for``) as a call a reader can check, and
    the names of the stand-ins in it."""
    try:
        arguments = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return f"{name}{literal}", []
    shown, stand_ins = [], []
    for argument in arguments:
        if isinstance(argument, dict) and list(argument) == [STAND_IN]:
            stand_ins.append(str(argument[STAND_IN]))
            shown.append(stand_ins[-1])
        else:
            shown.append(excerpt(repr(argument)))
    return f"{name}({', '.join(shown)})", stand_ins


def _outcome(normal: str) -> str:
    """A harness normal form as what a call did: "raises KeyError", "returns `'on'`"."""
    if normal.startswith("raise "):
        return "raises " + normal[len("raise "):]
    text = re.sub(r"(?<![\w.])(?:int|str|bytes|f):", "", normal).replace("stand-in:", "")
    return f"returns `{excerpt(text)}`"


def _iterator_findings(behaviour: Behaviour, doctests: Sequence[Sequence[str | None]],
                       variant: Sequence[Sequence[str | None]]) -> list[Finding]:
    """``iterator-failed`` when an example it passes fails once its iterables are passed as
    iterators (pipeline.iterables); judged only for an answer that passes every example."""
    plain, again = behaviour.doctests, behaviour.iter_doctests
    if not again or not len(again) == len(plain) == len(doctests) == len(variant):
        return []
    lost = [index for index, ((ok, _), (still, _)) in enumerate(zip(plain, again))
            if ok and not still]
    if not lost:
        return []
    rewritten = next(source for (source, _, _), (before, _, _) in zip(variant, doctests)
                     if source != before)
    failed = excerpt((doctests[lost[0]][0] or "").strip())
    return [finding("iterator-failed",
                    f"takes an iterable, yet with one passed as an iterator "
                    f"(`{excerpt((rewritten or '').strip())}`) its docstring's example "
                    f"`{failed}` fails ({len(lost)} of {len(plain)})")]


def _doctest_counts(behaviour: Behaviour, doctests: Sequence[Sequence[str | None]],
                    function: str | None) -> tuple[int, int]:
    """(failed, total) of the docstring's examples that check something: an expected output
    or exception, or a use of the function. A line that only sets up the next ones
    (``>>> accounts = {...}``) checks nothing, and passing it is no evidence (toolz'
    ``itemmap`` was "passing the 1 example its docstring gives" with its only check marked
    +SKIP). Every example counts when the outcomes do not line up with the examples."""
    if len(doctests) != len(behaviour.doctests) or not function:
        return behaviour.doctests_failed, len(behaviour.doctests)
    name = re.compile(r"\b%s\b" % re.escape(function.rpartition(".")[2]))
    checking = [bool((want or "").strip() or exc_msg or name.search(source or ""))
                for source, want, exc_msg in doctests]
    outcomes = [passed for (passed, _), checks in zip(behaviour.doctests, checking) if checks]
    return sum(1 for passed in outcomes if not passed), len(outcomes)


def _first_failure(behaviour: Behaviour, doctests: Sequence[Sequence[str | None]]) -> str:
    """The first failed doctest as a reader would check it: " (`f(2)` should give 4, it
    gave 5)"; empty when the examples and the outcomes do not line up."""
    if len(doctests) != len(behaviour.doctests):
        return ""
    for (source, want, exc_msg), (passed, got) in zip(doctests, behaviour.doctests):
        if passed:
            continue
        expected = (want or "").strip() or (f"raise {exc_msg.strip()}" if exc_msg else "nothing")
        return (f" (`{excerpt(source or '')}` should give {excerpt(expected)}, it gave "
                f"{excerpt(got or 'nothing')})")
    return ""


def _form(normal: str) -> str:
    """A harness normal form as a reader would say it: "a str", "None", "a list"."""
    kind = re.split(r"[:\[{]", normal, maxsplit=1)[0]
    kind = {"f": "float", "True": "bool", "False": "bool"}.get(kind, kind)
    return "None" if kind == "None" else f"a {kind}"


# Where an example the ranker runs was read, as its messages name it.
_SOURCES = {"docstring": "its docstring", "instruction": "the instruction",
            "note": "your note on a rejected answer"}


def _givers(origins: set[str]) -> str:
    """"its docstring", "its docstring and the instruction", ...: who gave the examples."""
    named = [_SOURCES[origin] for origin in _SOURCES if origin in origins]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def order(candidates: list[Candidate], keys: dict[int, tuple], threshold: float,
          support: dict[int, int] | None = None) -> list[Candidate]:
    """Best first: the pick from the strongest behaviour group among the confident, then the
    rest by confidence (earlier samples first among equals). A group is as strong as its size,
    times the generated tests it passes when there are any (``support``, CodeT's dual
    agreement); then its size, its best confidence and its earliest sample."""
    support = support or {}
    usable = [i for i, c in enumerate(candidates) if c.usable]
    if not usable:
        return sorted(candidates, key=lambda c: -c.confidence)
    pool = [i for i in usable if candidates[i].confidence >= threshold] or usable
    groups: dict[tuple, list[int]] = {}
    for i in pool:
        groups.setdefault(keys.get(i, ("unrun", i)), []).append(i)

    def strength(members: list[int]) -> tuple:
        best = max(candidates[i].confidence for i in members)
        return (len(members) * support.get(members[0], 0), len(members), best, -min(members))

    chosen_group = max(groups.values(), key=strength)
    chosen = min(chosen_group, key=lambda i: (-candidates[i].confidence, i))
    rest = sorted((i for i in range(len(candidates)) if i != chosen),
                  key=lambda i: (-candidates[i].confidence, i))
    return [candidates[chosen]] + [candidates[i] for i in rest]


def default_ranker(workspace: Path | None = None,
                   confidence_threshold: float = THRESHOLD) -> Ranker:
    return ExecutionRanker(workspace, confidence_threshold)
