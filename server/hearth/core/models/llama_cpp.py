"""The default backend: a GGUF model run in-process by llama-cpp-python."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from hearth.core.cancel import CancelToken
from hearth.core.errors import HearthError
from hearth.core.models.backend import (
    Completion,
    GenerationRequest,
    OnToken,
)
from hearth.core.models.llama_batch import BatchDecoder
from hearth.core.models.provision import check_gguf
from hearth.core.models.threads import ThreadPolicy

log = logging.getLogger(__name__)

UNUSED_LLAMA_CONTEXT = 256
# Prompt tokens per llama.cpp call on the completion lane: a newer keystroke cancels within
# one call, and every call finished before it stays in the cache for that keystroke's prompt.
COMPLETION_CHUNK = 64
# An inline completion decodes with the threads chosen for a request at most this many seconds
# before, instead of looking at the machine again (150 ms) in front of each: while the user
# types, the machine is as busy as it was a moment ago.
COMPLETION_THREADS_REUSE_S = 2.0


class LlamaCppBackend:
    prefills = True
    heals = True

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, n_threads: int | None = None,
                 seed: int = 0, max_parallel: int | None = None,
                 name: str | None = None, prompt_lookup: int = 0) -> None:
        self.model_path = model_path
        # What results say answered them: the manifest's name, else the file's.
        self.name = name or model_path.stem
        self.n_ctx = n_ctx
        # n_threads None: chosen per request by load (core.models.threads).
        self.threads = ThreadPolicy(fixed=n_threads)
        self.seed = seed
        # Samples decoded together per step (None: all of a request's samples); 1 decodes
        # them one after another on one prompt evaluation, the baseline batching is measured
        # against.
        self.max_parallel = max_parallel
        # Tokens of the prompt verified per step once one sample is left (llama_batch.py).
        self.prompt_lookup = prompt_lookup
        self.load_s: float | None = None
        self._llm = None
        self._decoder: BatchDecoder | None = None
        # Inline completion's own context: its prompt cache survives the actions' requests,
        # and a completion may run between two decode steps of an action (core.inference).
        self._completion_decoder: BatchDecoder | None = None
        self._formatter = None
        self._lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self._completion_lock = threading.Lock()

    @property
    def n_threads(self) -> int:
        """The threads the last request ended with (before any: the load-time choice)."""
        return self._decoder.n_threads if self._decoder is not None else self.threads.initial()

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(self, cancel: CancelToken | None = None) -> None:
        with self._lock:
            if self._llm is not None:
                return
            check_gguf(self.model_path)
            start = time.perf_counter()
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as exc:
                raise HearthError(
                    f"llama-cpp-python is not installed ({exc}).",
                    "Run `make setup`, or `pip install llama-cpp-python`.",
                ) from None
            try:
                # Decoding happens in the BatchDecoder's own context; the one Llama always makes
                # is never decoded in, so it is kept small (its KV cache alone would be ~50 MB).
                llm = Llama(model_path=str(self.model_path), n_ctx=UNUSED_LLAMA_CONTEXT,
                            n_batch=UNUSED_LLAMA_CONTEXT, n_threads=self.n_threads,
                            n_threads_batch=self.n_threads, seed=self.seed, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise HearthError(
                    f"llama.cpp could not load {self.model_path}: {exc}.",
                    "Check that the file is a complete GGUF model (`hearth doctor`).",
                ) from None
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise HearthError(
                    f"{self.model_path.name} has no chat template in its GGUF metadata.",
                    "Use an instruction-tuned GGUF model that ships its chat template.",
                )
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=_token_text(llm, llm.token_eos()),
                bos_token=_token_text(llm, llm.token_bos()),
            )
            self._decoder = BatchDecoder(llm, n_ctx=self.n_ctx, n_threads=self.n_threads)
            self._llm = llm
            self.load_s = time.perf_counter() - start
            log.info("Loaded %s in %.2f s (%d threads, n_ctx %d)", self.model_path.name,
                     self.load_s, self.n_threads, self.n_ctx)

    def render_prompt(self, request: GenerationRequest) -> tuple[str, list[str]]:
        """The prompt text from the GGUF's own chat template, with the prefill appended."""
        assert self._formatter is not None
        rendered = self._formatter(messages=[{"role": m.role, "content": m.content}
                                             for m in request.messages])
        stops = rendered.stop if isinstance(rendered.stop, list) else (
            [rendered.stop] if rendered.stop else [])
        return rendered.prompt + request.prefill, stops

    def count_tokens(self, text: str) -> int:
        self.load()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None,
                 on_token: OnToken | None = None) -> list[Completion]:
        """All samples of ``request`` decoded together in one batch per step.

        ``on_token`` streams the first sample's text (the greedy one in the engine's ladder).
        """
        self.load(cancel)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not request.params:
            return []
        if request.raw_prompt is not None:
            prompt, template_stops = request.raw_prompt, []
        else:
            prompt, template_stops = self.render_prompt(request)
        prompt_tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(prompt_tokens) >= self.n_ctx - 16:
            raise HearthError(
                f"The prompt is {len(prompt_tokens)} tokens, more than the context window "
                f"({self.n_ctx}).",
                "Select less code, or raise model.contextLength.",
            )
        seeds = [p.seed if p.seed is not None else self.seed + index
                 for index, p in enumerate(request.params)]
        completion = request.lane == "completion"
        with self._completion_lock if completion else self._decode_lock:
            decoder = self._lane_decoder(completion)
            threads = self.threads.for_request(
                reuse_s=COMPLETION_THREADS_REUSE_S if completion else 0.0)
            if threads != decoder.n_threads:
                decoder.set_threads(threads)
            samples = decoder.decode(prompt_tokens, request.params, seeds,
                                     stops=template_stops, stop_when=request.stop_when,
                                     cancel=cancel, on_token=on_token,
                                     max_parallel=self.max_parallel,
                                     draft=0 if completion else self.prompt_lookup,
                                     must_continue=request.must_continue,
                                     heal=request.heal, watch=self.threads.watch(threads))
            used = decoder.last_prompt
        return [Completion(text=request.prefill + sample.text, tokens=sample.tokens,
                           finish_reason=sample.finish_reason, elapsed_s=sample.elapsed_s,
                           prompt_tokens=used.tokens, prefilled=True,
                           prompt_reused=used.reused)
                for sample in samples]

    def choice_probabilities(self, request: GenerationRequest, choices: Sequence[str],
                             cancel: CancelToken | None = None) -> dict[str, float]:
        """How likely the model's answer to ``request`` starts with each of ``choices`` (one
        word each, such as "Yes" and "No"), normalised over them: the first token of each is
        read from the logits after the prompt, nothing is decoded."""
        self.load(cancel)
        prompt, _ = self.render_prompt(request)
        prompt_tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(prompt_tokens) >= self.n_ctx - 16:
            raise HearthError(
                f"The prompt is {len(prompt_tokens)} tokens, more than the context window "
                f"({self.n_ctx}).", "Raise model.contextLength.")
        firsts = [self._llm.tokenize(choice.encode("utf-8"), add_bos=False, special=False)[0]
                  for choice in choices]
        with self._decode_lock:
            decoder = self._lane_decoder(False)
            logprobs = decoder.next_token_logprobs(prompt_tokens, firsts, cancel)
        top = max(logprobs)
        weights = [math.exp(value - top) for value in logprobs]
        return {choice: weight / sum(weights) for choice, weight in zip(choices, weights)}

    def _lane_decoder(self, completion: bool) -> BatchDecoder:
        if not completion:
            assert self._decoder is not None
            return self._decoder
        if self._completion_decoder is None:
            # Reuses any common prefix, not whole chunks: a keystroke adds a token or two to
            # the previous prompt, and a suggestion need not be bit-identical warm and cold.
            self._completion_decoder = BatchDecoder(
                self._llm, n_ctx=self.n_ctx, n_threads=self._decoder.n_threads,
                exact_reuse=True, sequences=2, prefill_chunk=COMPLETION_CHUNK)
        return self._completion_decoder

    @property
    def prompt_tokens_evaluated(self) -> int:
        """Prompt tokens the model has evaluated since it was loaded (the decoders' count)."""
        return sum(d.prompt_tokens_evaluated
                   for d in (self._decoder, self._completion_decoder) if d is not None)

    def info(self) -> dict[str, object]:
        return {"backend": "llama-cpp", "model": self.name, "model_path": str(self.model_path),
                "threads": self.n_threads, "thread_policy": self.threads.describe(),
                "context_length": self.n_ctx,
                "max_parallel": self.max_parallel, "prompt_lookup": self.prompt_lookup,
                "loaded": self.loaded, "load_s": self.load_s,
                "prompt_tokens_evaluated": self.prompt_tokens_evaluated}

    def close(self) -> None:
        with self._lock, self._decode_lock, self._completion_lock:
            for decoder in (self._decoder, self._completion_decoder):
                if decoder is not None:
                    decoder.close()
            self._decoder = self._completion_decoder = None
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def _token_text(llm, token_id: int) -> str:
    if token_id < 0:
        return ""
    return llm.detokenize([token_id], special=True).decode("utf-8", errors="ignore")
