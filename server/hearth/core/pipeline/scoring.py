"""What each validation finding costs in confidence, the threshold below which an answer is
offered as "(low confidence)", and the calibration that fits both to the quality benchmark.

The confidence of a candidate is ``1 - sum(penalties)``, clipped to [0, 1]; any fatal finding
makes it 0 (``hearth.core.pipeline.engine.score``). The weights and the threshold were fitted by
``calibrate`` on the HumanEval runs recorded in docs/quality.md (644 candidates, 2026-11-21),
not set by hand: ``doctest-failed`` 0.5 -> 0.55, ``disagreement`` 0.3 -> 0.15, threshold
0.6 -> 0.8875. Rules that HumanEval never (or too rarely) triggers keep issue 6's starting
weights.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hearth.core.analysis.checks import Finding


@dataclass(frozen=True)
class Rule:
    weight: float  # the confidence a finding of this rule costs (times its scale)
    fatal: bool
    meaning: str


# One table for every rule the pipeline reports; docs/quality.md shows the same table.
RULES: dict[str, Rule] = {
    # Found by the actions themselves (Generate): the answer is unusable.
    "syntax": Rule(0.0, True, "the file does not parse after the edit"),
    "no-function": Rule(0.0, True, "the answer does not contain the function asked for"),
    "empty": Rule(0.0, True, "the answer has no code"),
    "repeats-context": Rule(0.0, True, "the answer repeats the code around a TODO"),
    "trivial-body": Rule(0.0, True, "the body is a stub, or a constant/unchanged argument "
                                    "that the docstring's own examples contradict"),
    # The shared validators (hearth.core.pipeline.validate).
    "placeholder": Rule(0.3, False, "a TODO/FIXME comment, `pass`/`...` block or "
                                    "\"your code here\" the original did not have"),
    "missing-function": Rule(0.4, False, "calls a function that is defined nowhere "
                                         "(a hallucinated name)"),
    "undefined-name": Rule(0.4, False, "uses a name that is defined nowhere (pyflakes F821)"),
    "unresolved-import": Rule(0.2, False, "imports a module the workspace's environment "
                                          "does not have"),
    "unknown-attribute": Rule(0.3, False, "uses an attribute that a resolved module, class or "
                                          "built-in type does not have (jedi)"),
    "wrong-arity": Rule(0.3, False, "calls a project function with arguments its signature "
                                    "does not accept (jedi)"),
    "flake8-error": Rule(0.2, False, "a new flake8 finding of error severity (other than "
                                     "undefined names)"),
    "flake8-warning": Rule(0.1, False, "a new pyflakes warning: unused import or variable, "
                                       "redefinition, ..."),
    "flake8-style": Rule(0.0, False, "a new pycodestyle finding (layout only)"),
    "ignores-parameters": Rule(0.2, False, "the body returns a constant and uses none of the "
                                           "function's parameters"),
    # Fix: the targeted finding must go, and nothing else may break (actions/fix.py).
    "unchanged": Rule(0.0, True, "the answer repeats the code as it was"),
    "not-fixed": Rule(0.0, True, "the diagnostic the fix was for is still reported"),
    "new-diagnostic": Rule(0.0, True, "the edit introduces a new flake8 or security finding"),
    "misplaced-import": Rule(0.0, True, "the fix needs an import that cannot go at the top"),
    "dropped-input": Rule(0.0, True, "the edit stops reading one of the function's "
                                     "parameters"),
    "lost-function": Rule(0.0, True, "a function defined in the fixed region is gone"),
    # Fix: the edit must stay where it was asked for (actions/fix_checks.py).
    "removed-function": Rule(0.4, False, "a function the original defined is gone"),
    "signature-changed": Rule(0.4, False, "a function the original defined has a new "
                                          "signature"),
    "outside-region": Rule(0.2, False, "lines outside the fixed region changed (new imports "
                                       "excepted)"),
    "return-type-changed": Rule(0.5, False, "a fixed function returns another type than "
                                            "before (jedi)"),
    "behaviour-changed": Rule(0.5, False, "a fixed function returns something else than "
                                          "before on an input where it returned normally "
                                          "(run on inputs from its signature, objects it "
                                          "uses stood in for)"),
    # Generate tests (actions/tests.py), from running the generated tests.
    "no-tests": Rule(0.0, True, "the answer has no pytest test functions"),
    "no-passing-test": Rule(0.0, True, "none of the generated tests passes against the code"),
    "dropped-tests": Rule(0.5, False, "generated tests that failed were dropped (scaled by "
                                      "the share dropped)"),
    "redefinition": Rule(0.05, False, "the answer redefined the function under test (that "
                                      "copy is removed)"),
    # Explain (actions/explain.py).
    "missing-sections": Rule(0.1, False, "the explanation lacks a section (per section)"),
    # The ranker (hearth.core.pipeline.rank), from running the candidates.
    "run-error": Rule(0.6, False, "the module raises when imported (the original did not), "
                                  "or running it ends the process"),
    "doctest-failed": Rule(0.55, False, "fails the examples in its own docstring (scaled by "
                                        "the share failed)"),
    "example-failed": Rule(0.55, False, "contradicts an example its docstring or the "
                                        "instruction gives in prose (`f(x) -> y`, \"raises E "
                                        "on ...\"; scaled by the share failed)"),
    "generated-test-failed": Rule(0.1, False, "fails tests the model wrote from the docstring "
                                              "that other candidates pass (scaled by the "
                                              "share failed)"),
    # 2026-12-07: a first guess, enough to put an answer below THRESHOLD; not calibrated.
    "iterator-failed": Rule(0.3, False, "passes its docstring's examples, but not with their "
                                        "iterables passed as iterators (pipeline.iterables)"),
    "wrong-return-type": Rule(0.3, False, "returns another builtin type than its signature "
                                          "annotates (scaled by the share of inputs)"),
    "raises-on-valid-inputs": Rule(0.2, False, "raises on every well-typed generated input, "
                                               "though its docstring mentions no exception"),
    # Chosen on the quality corpus's dev runs (2026-12-03, docs/quality.md): the least weight
    # that puts an answer nothing checked below THRESHOLD; AUROC 0.91 -> 0.94 on the
    # default's runs. (The AUROC fit alone gave 0.05, which left them looking confident.)
    "unverified": Rule(0.12, False, "no docstring example, doctest or generated test passed: "
                                    "only the checks and the candidates' agreement vouch "
                                    "for it"),
    # The package's conventions (pipeline.conventions). 2026-12-07: a first guess, enough to
    # put an answer below THRESHOLD; not calibrated (the quality corpus never triggers it).
    "bypasses-helper": Rule(0.3, False, "calls a method directly that the package calls only "
                                        "inside one helper of its own (the helper is named)"),
    # The model's review of its own answer (pipeline.review, generation.selfCheck).
    "self-doubt": Rule(0.3, False, "asked whether the answer does what was asked, the model "
                                   "that wrote it says no"),
    # The history (core.history.learn): the user rejected this very answer before.
    "repeats-rejected": Rule(0.5, False, "repeats an answer the user marked bad or undid "
                                         "for the same code"),
    "disagreement": Rule(0.15, False, "other candidates behave differently on the same inputs "
                                      "(scaled by the share that disagrees)"),
}

# Rules whose weight ``calibrate`` may change (the fatal ones stay fatal).
TUNABLE = tuple(name for name, rule in RULES.items() if not rule.fatal)

# Below it, the action is titled "(low confidence)". Calibrated (Youden's J on the benchmark):
# any value in (0.8833, 0.8875] classifies its candidates the same way.
THRESHOLD = 0.8875


def finding(rule: str, reason: str, scale: float = 1.0,
            weights: Mapping[str, float] | None = None) -> Finding:
    """A Finding for ``rule`` costing its weight times ``scale`` (a share in (0, 1], or a
    count for the rules weighed per item)."""
    spec = RULES[rule]
    weight = (weights or {}).get(rule, spec.weight)
    return Finding(rule, reason, penalty=round(weight * scale, 4), fatal=spec.fatal)


def confidence(findings: Iterable[Finding]) -> float:
    """1 minus the penalties, clipped to [0, 1]; 0 if any finding is fatal (as engine.score)."""
    findings = list(findings)
    if any(f.fatal for f in findings):
        return 0.0
    return max(0.0, min(1.0, 1.0 - sum(f.penalty for f in findings)))


# -- calibration -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """One benchmark candidate: how much of each rule it triggered, and whether it passed."""

    magnitudes: Mapping[str, float]  # rule -> scale (1.0 for an unscaled finding)
    fatal: bool
    passed: bool
    group: str = ""  # the problem it belongs to (cross-validation folds split by group)


@dataclass
class Calibration:
    weights: dict[str, float]
    threshold: float
    auroc: float  # on the observations it was fitted on
    support: dict[str, int] = field(default_factory=dict)  # candidates that triggered each rule


def confidence_of(observation: Observation, weights: Mapping[str, float]) -> float:
    if observation.fatal:
        return 0.0
    penalty = sum(weights.get(rule, RULES[rule].weight) * scale
                  for rule, scale in observation.magnitudes.items() if rule in RULES)
    return max(0.0, min(1.0, 1.0 - penalty))


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The probability that a random positive scores above a random negative (ties count
    half): the Mann-Whitney statistic. NaN when one class is empty."""
    positives = [s for s, y in zip(scores, labels) if y]
    negatives = [s for s, y in zip(scores, labels) if not y]
    if not positives or not negatives:
        return float("nan")
    ranked = sorted(itertools.chain(((s, 1) for s in positives), ((s, 0) for s in negatives)))
    # Average ranks over ties, then the rank-sum form of the U statistic.
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        average = (index + end) / 2 + 1
        rank_sum += average * sum(label for _, label in ranked[index:end + 1])
        index = end + 1
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def best_threshold(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The cut that maximises Youden's J (true-positive rate minus false-positive rate) for
    "confidence >= threshold" predicting "passes"; the lowest such cut wins ties."""
    n_pos = sum(labels) or 1
    n_neg = (len(labels) - sum(labels)) or 1
    best, best_j = THRESHOLD, -1.0
    for cut in sorted(set(scores)):
        tpr = sum(1 for s, y in zip(scores, labels) if y and s >= cut) / n_pos
        fpr = sum(1 for s, y in zip(scores, labels) if not y and s >= cut) / n_neg
        if tpr - fpr > best_j + 1e-12:
            best, best_j = cut, tpr - fpr
    return best


def calibrate(observations: Sequence[Observation], *, min_support: int = 5,
              grid: Sequence[float] = tuple(i / 20 for i in range(21)),
              rounds: int = 4) -> Calibration:
    """Fit the tunable weights by coordinate ascent on AUROC (confidence vs passing).

    Each round tries every grid value for one rule at a time, keeping the others fixed, in a
    fixed order; a rule triggered by fewer than ``min_support`` candidates keeps its current
    weight. Among weights with equal AUROC the one closest to the current weight is kept, so
    unused freedom does not drift. The threshold then maximises Youden's J.
    """
    weights = {name: RULES[name].weight for name in TUNABLE}
    support = {name: sum(1 for o in observations if not o.fatal and o.magnitudes.get(name))
               for name in TUNABLE}
    labels = [o.passed for o in observations]

    def objective(candidate: Mapping[str, float]) -> float:
        return auroc([confidence_of(o, candidate) for o in observations], labels)

    current = objective(weights)
    for _ in range(rounds):
        improved = False
        for name in TUNABLE:
            if support[name] < min_support:
                continue
            for value in sorted(grid, key=lambda v: abs(v - weights[name])):
                trial = {**weights, name: value}
                score = objective(trial)
                if score > current + 1e-9:
                    weights, current, improved = trial, score, True
        if not improved:
            break
    scores = [confidence_of(o, weights) for o in observations]
    return Calibration(weights=weights, threshold=best_threshold(scores, labels),
                       auroc=current, support=support)


def cross_validated_auroc(observations: Sequence[Observation], folds: int = 2,
                          seed: int = 0, **options) -> float:
    """AUROC on held-out problems: fit on all folds but one, score the one left out, pooled."""
    groups = sorted({o.group for o in observations})
    random.Random(seed).shuffle(groups)
    fold_of = {group: index % folds for index, group in enumerate(groups)}
    scores, labels = [], []
    for fold in range(folds):
        train = [o for o in observations if fold_of[o.group] != fold]
        test = [o for o in observations if fold_of[o.group] == fold]
        if not train or not test:
            continue
        fitted = calibrate(train, **options)
        scores += [confidence_of(o, fitted.weights) for o in test]
        labels += [o.passed for o in test]
    return auroc(scores, labels)
