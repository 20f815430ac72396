"""The program the execution ranker runs in the sandbox: import each candidate module, run its
docstring's examples and the generated calls, and send one record per module through the
sandbox's private channel (a "start" record first, so a module that takes the process down is
known): what a candidate prints cannot pass for a record. Standard library only; copied into the
sandbox as a file.

Usage: python <this file> SPEC_FILE (a JSON file: function, modules, inputs, doctests,
checks (examples the docstring gives in prose: a call, the literal it should equal or the name of
the exception it should raise) and the per-call and per-import time limits).
"""

import ast
import copy
import doctest
import importlib.util
import itertools
import json
import math
import reprlib
import signal
import sys

import _hearth_sandbox

# Taken before any candidate is imported: the channel's key is then gone from the environment.
SEND = _hearth_sandbox.open_channel()
with open(sys.argv[1], encoding="utf-8") as handle:
    SPEC = json.load(handle)


class Timeout(BaseException):
    pass


def alarm(*_):
    raise Timeout()


signal.signal(signal.SIGALRM, alarm)


def arm(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)


def emit(record):
    SEND(record)


STAND_IN = "__hearth_stand_in__"  # inputs.STAND_IN


class StandIn:
    """Takes the place of an object argument (a database connection, a settings object): every
    attribute, call and item is another stand-in that remembers how it was reached, iterating
    gives nothing. What a function returns from it says what it asked of it."""

    __slots__ = ("_hearth_path",)

    def __init__(self, path):
        object.__setattr__(self, "_hearth_path", path)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return StandIn(self._hearth_path + "." + name)

    def __setattr__(self, name, value):
        pass

    def __call__(self, *args, **kwargs):
        return StandIn(self._hearth_path + "(…)")

    def __getitem__(self, key):
        return StandIn(self._hearth_path + "[…]")

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def arguments_of(literal):
    arguments = copy.deepcopy(ast.literal_eval(literal))
    return tuple(StandIn(a[STAND_IN]) if isinstance(a, dict) and list(a) == [STAND_IN] else a
                 for a in arguments)


def normal(value, depth=0):
    if depth > 6:
        return "..."
    if isinstance(value, StandIn):
        return "stand-in:" + value._hearth_path
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
        pairs = (normal(k, depth + 1) + ":" + normal(v, depth + 1) for k, v in value.items())
        return "dict{" + ",".join(sorted(pairs)) + "}"
    return type(value).__name__


def same(got, wanted):
    """Equality as a docstring's reader means it: lists and tuples alike, floats to 1e-6."""
    if isinstance(wanted, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, wanted, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(wanted, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(got) == len(wanted) and all(same(g, w) for g, w in zip(got, wanted))
    return got == wanted


def materialised(result, wanted):
    """An iterator's first items when a list is expected (bounded: it may never end)."""
    if isinstance(wanted, (list, tuple)) and hasattr(result, "__next__"):
        return list(itertools.islice(result, len(wanted) + 1))
    return result


def check(module, call, expect, raises):
    try:
        arm(SPEC["call_s"])
        wanted = None if expect is None else ast.literal_eval(expect)
        result = materialised(eval(call, dict(vars(module))), wanted)
        arm(0)
    except BaseException as error:
        arm(0)
        passed = raises is not None and any(kind.__name__ == raises
                                            for kind in type(error).__mro__)
        return [passed, "raise " + type(error).__name__, "raises " + type(error).__name__]
    try:
        passed = raises is None and bool(same(result, wanted))
        shown = "returns " + reprlib.repr(result)
    except BaseException:
        passed, shown = False, "returns a " + type(result).__name__
    return [passed, normal(result), shown]


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


def doctests(module, name, path, specs):
    """The outcome of each example of ``specs``, run in order on a copy of the module's
    globals: [passed, what it printed or raised]."""
    examples = [doctest.Example(source, want, exc_msg) for source, want, exc_msg in specs]
    if not examples:
        return []
    recorder = Recorder()
    test = doctest.DocTest(examples, dict(vars(module)), name, path, 0, None)
    try:
        recorder.run(test, out=lambda text: None, clear_globs=True)
    except BaseException as error:
        recorder.outcomes.append([False, "raise " + type(error).__name__])
    return recorder.outcomes


def calls(function):
    """What ``function`` returns (its normal form) or raises on each of the spec's inputs."""
    outcomes = []
    for literal in SPEC["inputs"]:
        if "raise Timeout" in outcomes:
            outcomes.append("raise Timeout")  # one hang is enough to know
            continue
        try:
            arguments = arguments_of(literal)
            arm(SPEC["call_s"])
            result = function(*arguments)
            arm(0)
            outcomes.append(normal(result))
        except BaseException as error:
            arm(0)
            outcomes.append("raise " + type(error).__name__)
    return outcomes


def run(index, path):
    # A module of a package is loaded under its own dotted name, its package imported first,
    # so that its relative imports resolve as they do in the project.
    name = SPEC["module"] or "hearth_rank_%s" % ("original" if index < 0 else index)
    record = {"i": index, "load": None, "doctests": [], "checks": [], "calls": []}
    emit({"start": index})
    try:
        arm(SPEC["load_s"])
        if "." in name:
            importlib.import_module(name.rpartition(".")[0])
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        arm(0)
        function = getattr(module, SPEC["function"])
    except BaseException as error:
        arm(0)
        record["load"] = type(error).__name__
        emit(record)
        return
    if index < 0:
        # A fix must keep what the code did: the user's own code runs on the same inputs.
        # Twice: what differs between the runs (a random name, the time) is "unstable",
        # and no fix is held to it.
        if SPEC.get("original_calls"):
            first, again = calls(function), calls(function)
            record["calls"] = [outcome if outcome == repeated else "unstable"
                               for outcome, repeated in zip(first, again)]
        emit(record)
        return
    record["doctests"] = doctests(module, name, path, SPEC["doctests"])
    # The same examples with the iterables passed as iterators (pipeline.iterables).
    record["doctests_iter"] = doctests(module, name, path, SPEC.get("doctests_iter") or [])
    record["checks"] = [check(module, *spec) for spec in SPEC["checks"]]
    record["calls"] = calls(function)
    emit(record)


for index, path in SPEC["modules"]:
    run(index, path)
