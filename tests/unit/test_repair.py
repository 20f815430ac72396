"""Repair: an answer a check found wrong is shown to the model with what was found, and the
model is asked again (``generation.repairs`` times at most). Scripted answers stand in for the
model; the checks and the ranking run for real in the sandbox."""

from __future__ import annotations

from pathlib import Path

from hearth.core.actions.generate import GenerateAction
from hearth.core.models.backend import GenerationRequest
from hearth.core.pipeline.defaults import default_validators
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.rank import ExecutionRanker
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from tests.unit.scripted import ScriptedModel

DOCTEST = '''def initials(name: str) -> str:
    """The initials of a name, in capitals.

    >>> initials('ada lovelace')
    'AL'
    """
    pass
'''
PROSE = '''def initials(name: str) -> str:
    """The initials of a name, in capitals."""
    pass
'''
RIGHT = "    return ''.join(word[0].upper() for word in name.split())\n"
LOWER = "    return ''.join(word[0] for word in name.split())\n"


class Turns(ScriptedModel):
    """Each request answered with the next answer of ``answers``."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__([])
        self.answers = list(answers)

    def generate(self, request: GenerationRequest, cancel=None, on_token=None):
        self.bodies = [self.answers.pop(0)]
        return super().generate(request, cancel, on_token)


def run(tmp_path: Path, stub: str, answers: list[str], repairs: int = 1):
    path = tmp_path / "names.py"
    path.write_text(stub, encoding="utf-8")
    request = ActionRequest(stub, Pos(stub.count("\n") - 1, 4), path=path, workspace=tmp_path)
    model = Turns(answers)
    options = EngineOptions(samples=1, ranker=ExecutionRanker(tmp_path),
                            validators=default_validators(tmp_path), repairs=repairs)
    return run_action(GenerateAction(), request, model, options), model


def test_an_answer_that_fails_its_docstring_is_shown_to_the_model_with_the_failure(
        tmp_path: Path) -> None:
    result, model = run(tmp_path, DOCTEST, [LOWER, RIGHT])
    assert model.asked == 2
    assert RIGHT in (result.new_source or "") and result.method == "repaired"
    assert not result.low_confidence
    first, again = model.requests
    # The same conversation, then the wrong answer and what running it showed.
    assert list(again.messages[:len(first.messages)]) == list(first.messages)
    said, told = again.messages[len(first.messages):]
    assert said.role == "assistant" and LOWER in said.content \
        and said.content.rstrip().endswith("```")
    assert told.role == "user"
    assert "fails 1 of the 1 example(s) in its docstring (`initials('ada lovelace')` should " \
           "give 'AL', it gave 'al')" in told.content
    assert again.prefill == first.prefill
    # Sampled: a greedy decode of the same prefill copied the wrong answer word for word.
    assert first.params[0].temperature == 0 and again.params[0].temperature > 0
    assert result.evidence[0].startswith("written again after the first answer fails 1 of")
    assert result.samples == 2 and result.tokens == 2 * 20


def test_an_answer_nothing_can_check_or_that_passes_is_not_asked_again(tmp_path: Path) -> None:
    # Unverified is below the threshold, but nothing says what is wrong: no repair.
    result, model = run(tmp_path, PROSE, [LOWER, RIGHT])
    assert model.asked == 1 and result.method == "model"
    result, model = run(tmp_path, DOCTEST, [RIGHT, LOWER])
    assert model.asked == 1 and RIGHT in (result.new_source or "")
    result, model = run(tmp_path, DOCTEST, [LOWER, RIGHT], repairs=0)
    assert model.asked == 1 and result.low_confidence


def test_a_repair_no_better_than_the_answer_leaves_it_and_stops(tmp_path: Path) -> None:
    result, model = run(tmp_path, DOCTEST, [LOWER, LOWER, RIGHT], repairs=3)
    assert model.asked == 2
    assert result.method == "model" and result.low_confidence
    assert LOWER in (result.new_source or "")
