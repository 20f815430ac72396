"""The self-check (pipeline/review.py, ``generation.selfCheck``): each usable answer of the model
is shown back to it with one question, its P(yes) is kept on the candidate, and a "no" is a
``self-doubt`` finding. A scripted backend stands in for the model's probabilities; the real
model's reading of them is tests/e2e/test_llama_batch.py's."""

from __future__ import annotations

from pathlib import Path

from hearth.core.actions.generate import GenerateAction
from hearth.core.errors import HearthError
from hearth.core.pipeline import review
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from tests.unit.scripted import ScriptedModel

STUB = '''def initials(name: str) -> str:
    """The initials of a name, in capitals."""
    pass
'''
RIGHT = "    return ''.join(word[0].upper() for word in name.split())\n"
LOWER = "    return ''.join(word[0] for word in name.split())\n"


class Reviewing(ScriptedModel):
    """Answers with ``bodies``; asked about an answer, says Yes with the probability given
    for the body that answer holds."""

    def __init__(self, bodies: list[str], yes: dict[str, float]) -> None:
        super().__init__(bodies)
        self.yes = yes
        self.questions: list = []

    def choice_probabilities(self, request, choices, cancel=None):
        self.questions.append(request)
        answer = request.messages[-2].content
        p = next(p for body, p in self.yes.items() if body in answer)
        return {"Yes": p, "No": 1 - p}


def run(tmp_path: Path, model, self_check: bool = True):
    path = tmp_path / "names.py"
    path.write_text(STUB, encoding="utf-8")
    request = ActionRequest(STUB, Pos(2, 4), path=path, workspace=tmp_path)
    return run_action(GenerateAction(), request, model,
                      EngineOptions(samples=len(model.bodies), self_check=self_check))


def test_an_answer_the_model_says_no_to_loses_confidence_with_the_reason(tmp_path) -> None:
    model = Reviewing([LOWER], {LOWER: 0.2})
    result = run(tmp_path, model)
    [question] = model.questions
    # The conversation as it was, the model's own answer, then the one question.
    assert [m.role for m in question.messages[-3:]] == ["user", "assistant", "user"]
    assert LOWER.strip() in question.messages[-2].content
    assert question.messages[-1].content == review.QUESTION
    assert result.confidence == 0.7
    assert result.reasons == ["asked whether this answer does what was asked, the model that "
                              "wrote it says no (P(yes) 0.20)"]


def test_the_answer_it_says_yes_to_is_chosen_over_one_it_doubts(tmp_path) -> None:
    model = Reviewing([LOWER, RIGHT], {LOWER: 0.3, RIGHT: 0.9})
    result = run(tmp_path, model)
    assert len(model.questions) == 2
    assert RIGHT in result.new_source and result.confidence == 1.0 and result.reasons == []


def test_off_by_default_and_never_for_a_backend_that_cannot_tell(tmp_path) -> None:
    model = Reviewing([LOWER], {LOWER: 0.2})
    assert run(tmp_path, model, self_check=False).confidence == 1.0
    assert model.questions == [] and EngineOptions().self_check is False
    plain = ScriptedModel([LOWER])  # no choice_probabilities: an OpenAI-compatible server
    assert not review.supported(plain)
    assert run(tmp_path, plain).confidence == 1.0


def test_only_a_no_is_a_finding() -> None:
    assert review.doubt(0.5) is None and review.doubt(0.97) is None
    assert review.doubt(0.49).rule == "self-doubt"


def test_a_review_that_fails_leaves_the_answer_as_it_was(tmp_path) -> None:
    class Failing(Reviewing):
        def choice_probabilities(self, request, choices, cancel=None):
            raise HearthError("The inference server refused the request: HTTP 400")

    result = run(tmp_path, Failing([LOWER], {}))
    assert result.confidence == 1.0 and LOWER in result.new_source
