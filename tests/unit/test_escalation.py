"""The cascade: a larger model is asked once when the first model's answer is not trusted, and
its answer, ranked alone, replaces the first one unless it is less trusted. Scripted backends
stand in for the two models; the ranking runs for real in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.core.actions.generate import GenerateAction
from hearth.core.pipeline.defaults import default_validators
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.rank import ExecutionRanker
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from tests.unit.scripted import ScriptedModel

PROSE = '''def initials(name: str) -> str:
    """The initials of a name, in capitals."""
    pass
'''
EXAMPLE = '''def initials(name: str) -> str:
    """The initials of a name, in capitals: 'ada lovelace' -> 'AL'."""
    pass
'''
RIGHT = "    return ''.join(word[0].upper() for word in name.split())\n"
LOWER = "    return ''.join(word[0] for word in name.split())\n"


def run(tmp_path: Path, stub: str, small: list[str], large: list[str],
        when: str = "unverified"):
    path = tmp_path / "names.py"
    path.write_text(stub, encoding="utf-8")
    request = ActionRequest(stub, Pos(2, 4), path=path, workspace=tmp_path)
    first, second = ScriptedModel(small, name="small"), ScriptedModel(large, name="large")
    options = EngineOptions(samples=len(small), ranker=ExecutionRanker(tmp_path),
                            validators=default_validators(tmp_path), escalate_when=when)
    result = run_action(GenerateAction(), request, first, options, escalation=second)
    return result, first, second


def test_an_unverified_answer_is_asked_again_of_the_larger_model(tmp_path: Path) -> None:
    result, first, second = run(tmp_path, PROSE, [LOWER, LOWER], [RIGHT])
    assert (first.asked, second.asked) == (1, 1)
    assert RIGHT in (result.new_source or "") and result.method == "escalated"
    assert result.evidence[0] == ("answered by large, asked because no example or test "
                                  "could check the first model's answer")
    assert result.tokens == 3 * 20


def test_an_answer_its_docstring_confirms_is_kept(tmp_path: Path) -> None:
    result, first, second = run(tmp_path, EXAMPLE, [RIGHT, RIGHT], [LOWER])
    assert second.asked == 0 and RIGHT in (result.new_source or "")
    # An unverified answer is below the threshold too (the `unverified` finding), so
    # "low-confidence" asks for it as well; a confirmed one stays with the first model.
    result, first, second = run(tmp_path, PROSE, [LOWER, LOWER], [RIGHT],
                                when="low-confidence")
    assert second.asked == 1 and RIGHT in (result.new_source or "")
    result, first, second = run(tmp_path, EXAMPLE, [RIGHT], [LOWER], when="low-confidence")
    assert second.asked == 0 and RIGHT in (result.new_source or "")


@pytest.mark.parametrize("small", [[LOWER], [LOWER, LOWER]])
def test_a_less_trusted_larger_answer_does_not_replace_the_first(
        tmp_path: Path, small: list[str]) -> None:
    # The small model contradicts the docstring's example, so the larger one is asked; its
    # answer fails the example too and calls a name defined nowhere: the first answer stands,
    # marked low. (At equal confidence the larger model's answer would be taken.)
    result, first, second = run(tmp_path, EXAMPLE, small, ["    return initials_of(name)\n"])
    assert second.asked == 1
    assert result.method == "model" and result.low_confidence
