"""The base every action extends: the optional members of ``hearth.core.pipeline.types.Action``
with their defaults, so an action writes only what it does differently."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from hearth.core.errors import HearthError
from hearth.core.models.backend import Completion
from hearth.core.pipeline.prompt import ContextSnippet
from hearth.core.pipeline.types import ActionRequest, Candidate, TestsRequest

T = TypeVar("T")


class BaseAction(Generic[T]):
    makes_edits: ClassVar[bool] = True
    takes_instruction: ClassVar[bool] = False
    max_samples: ClassVar[int | None] = None
    default_model: ClassVar[str | None] = None
    default_samples: ClassVar[int] = 5
    streams: ClassVar[bool] = False
    title: ClassVar[str]

    def not_applicable(self, what: str, hint: str | None = None) -> HearthError:
        """The error ``resolve`` raises where the action has nothing to work on."""
        return HearthError(f"{what} ({self.title} does not apply at this position).",
                           hint or "Place the cursor where the editor offers the action.")

    def title_for(self, target: T) -> str:
        return getattr(target, "title", None) or self.title

    def rule_answers(self, request: ActionRequest, target: T) -> list[Completion]:
        return []

    def finish(self, target: T, best: Candidate, context: list[ContextSnippet]) -> None:
        return None

    def preview(self, request: ActionRequest, target: T, text: str) -> str:
        return text

    def tests_request(self, request: ActionRequest, target: T) -> TestsRequest | None:
        return None
