"""A scripted stand-in for the model, for the unit tests of ranking and the engine's
decisions: fixed answers that continue the prompt's prefill, as a model's would."""

from __future__ import annotations

from hearth.core.cancel import CancelToken
from hearth.core.models.backend import Completion, GenerationRequest


class ScriptedModel:
    """Answers a candidates' prompt with ``bodies`` (one per sample asked) and a tests' prompt
    (generated_tests') with ``tests``; records every request."""

    loaded = True

    def __init__(self, bodies: list[str], tests: str = "", name: str = "scripted") -> None:
        self.name, self.bodies, self.tests = name, bodies, tests
        self.requests: list[GenerationRequest] = []

    @property
    def asked(self) -> int:
        return len(self.requests)

    def load(self, cancel: CancelToken | None = None) -> None:
        pass

    def generate(self, request: GenerationRequest, cancel=None, on_token=None):
        self.requests.append(request)
        if "test assertions" in request.messages[-1].content:
            text = self.tests.removeprefix(request.prefill.split("\n", 1)[1])
            return [Completion(request.prefill + text + "```\n", 30, "stop", 0.1,
                               prefilled=True)]
        return [Completion(request.prefill + body + "```\n", 20, "stop", 0.1, prefilled=True)
                for body in self.bodies[:len(request.params)]]

    def info(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        pass
