"""The one small interface every model backend implements: chat messages in, text out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from hearth.core.cancel import CancelToken

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 0.9
    top_k: int = 40
    repeat_penalty: float = 1.05
    max_tokens: int = 384
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass
class Completion:
    """One sample. ``text`` starts with the prefill when the backend honoured it."""

    text: str
    tokens: int
    finish_reason: Literal["stop", "length", "cancelled", "stop_when"]
    elapsed_s: float
    prompt_tokens: int = 0
    prefilled: bool = False
    # Of ``prompt_tokens``, those the backend took from its cache of the previous prompt
    # instead of evaluating them (None: the backend does not say). All samples of one request
    # share one prompt evaluation, so they carry the same counts.
    prompt_reused: int | None = None

    @property
    def prompt(self) -> PromptUse:
        return PromptUse(self.prompt_tokens, self.prompt_reused)


@dataclass(frozen=True)
class PromptUse:
    """The prompt tokens of one or more model requests, and how many of them were reused from
    the model's cache rather than evaluated (None: a backend did not say)."""

    tokens: int = 0
    reused: int | None = None

    @property
    def evaluated(self) -> int | None:
        return None if self.reused is None else self.tokens - self.reused

    def __add__(self, other: PromptUse) -> PromptUse:
        reused = None if self.reused is None or other.reused is None \
            else self.reused + other.reused
        return PromptUse(self.tokens + other.tokens, reused)


# Called with the text decoded so far (after the prefill); True stops that sample early.
StopWhen = Callable[[str], bool]
# Called, on the thread that decodes, with each new piece of the first sample's text: the
# pieces joined are that sample's text after the prefill when the backend ``prefills``, its
# whole text otherwise. It must return at once (the decoder waits for it).
OnToken = Callable[[str], None]


@dataclass
class GenerationRequest:
    messages: Sequence[ChatMessage]
    params: Sequence[SamplingParams] = field(default_factory=lambda: [SamplingParams()])
    prefill: str = ""  # the start of the assistant's answer, when the backend supports it
    stop_when: StopWhen | None = None
    # The first token may not end the answer or start a code fence (where the backend can
    # say so: llama.cpp; a server is not told).
    must_continue: bool = False
    # The whole prompt as the model reads it, special tokens included, instead of ``messages``
    # through the chat template: fill-in-the-middle for inline completion (a server gets it
    # on its /completions endpoint).
    raw_prompt: str | None = None
    # Which of the backend's prompt caches serves this request: inline completion keeps its
    # own, so that an action's prompt never evicts the one the next keystroke extends.
    lane: Literal["actions", "completion"] = "actions"
    # Text the answer must start with, taken off the end of the prompt by the caller (token
    # healing); only a backend that ``heals`` honours it (the others are never given one).
    heal: str = ""


class ModelBackend(Protocol):
    name: str  # the model, as results name what answered them
    # Whether the answer continues ``GenerationRequest.prefill`` (llama.cpp) or starts from
    # scratch (a chat server cannot be prefilled).
    prefills: bool
    # Whether ``GenerationRequest.heal`` is honoured (llama.cpp).
    heals: bool

    def load(self, cancel: CancelToken | None = None) -> None:
        """Load the model (idempotent, may take seconds; call it from a worker thread)."""

    @property
    def loaded(self) -> bool: ...

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None,
                 on_token: OnToken | None = None) -> list[Completion]:
        """One completion per entry of ``request.params``; raises Cancelled when cancelled."""

    def info(self) -> dict[str, object]:
        """What to show in `hearth doctor` and logs."""

    def close(self) -> None: ...
