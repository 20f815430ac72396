"""Decode N samples of one prompt together: llama.cpp evaluates the prompt once into sequence 0,
shares its KV cells with sequences 1..N, and decodes one token of every live sequence per step.

Built on llama-cpp-python's own thin wrappers (``llama_cpp._internals``: the context, batch and
sampler-chain objects its ``Llama`` class uses, which free native memory in the right order);
the version is pinned in pyproject.toml because these wrappers are not a public API.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.errors import HearthError
from hearth.core.models.backend import OnToken, PromptUse, SamplingParams, StopWhen
from hearth.core.models.threads import StepWatch

log = logging.getLogger(__name__)

PROMPT_SEQUENCE = 0
# Prompt tokens per llama_decode call. A cancellation is noticed between calls, so this bounds
# how long a cancelled prompt evaluation goes on (tests/bench/bench_sampling.py: 128 costs a few
# percent of prefill speed against 512 and answers a cancel in ~0.3 s on a busy 2-core machine).
PREFILL_CHUNK = 128
# Sequences the context is first made for: the prompt plus up to 9 samples, the largest ladder
# the engine is benchmarked with; a larger request makes a larger context once.
DEFAULT_SEQUENCES = 10
# The sampling details that SamplingParams leaves open take llama-cpp-python's defaults for
# create_completion, which the backend used before batching.
PENALTY_LAST_N = 64
MIN_P = 0.05
CELL_ROUNDING = 512
# Prompt lookup (speculative decoding with the prompt as the draft): the longest n-gram that
# ends the text so far is looked up earlier in it, and what followed it there is verified in one
# decode call. Code repeats its context (names, signatures, the lines around an edit), and on
# these CPUs a row verified in a batch costs a fraction of a decode step.
LOOKUP_NGRAM_MAX = 3
LOOKUP_NGRAM_MIN = 2

FinishReason = str  # "stop" | "length" | "stop_when", as Completion.finish_reason


@dataclass
class SampleText:
    """One decoded sequence: the text after the prompt, and why it ended."""

    text: str
    tokens: int
    finish_reason: FinishReason
    elapsed_s: float
    drafted: int = 0  # tokens proposed by prompt lookup, and of them accepted
    accepted: int = 0


@dataclass
class TextTail:
    """The text of one sequence, grown a token at a time, with the request's stop rules.

    Token pieces are bytes that may cut a UTF-8 character in two: the incremental decoder keeps
    the partial bytes until the character is complete. A character left incomplete when the
    sequence ends (max_tokens in the middle of an emoji) is dropped.
    """

    stops: Sequence[str]
    stop_when: StopWhen | None
    max_tokens: int
    text: str = ""
    tokens: int = 0
    finish: FinishReason | None = None
    streamed: int = 0
    _utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))

    def end(self, reason: FinishReason) -> None:
        self.finish = reason

    def push(self, piece: bytes) -> None:
        """Append one token's bytes and apply, in order: stop strings, stop_when, max_tokens."""
        self.tokens += 1
        added = self._utf8.decode(piece)
        if added:
            before = len(self.text)
            self.text += added
            cut = self._first_stop(before)
            if cut is not None:
                self.text = self.text[:cut]
                self.end("stop")
                return
            if self.stop_when is not None and self.stop_when(self.text):
                self.end("stop_when")
                return
        if self.tokens >= self.max_tokens:
            self.end("length")

    def _first_stop(self, before: int) -> int | None:
        cuts = []
        for stop in self.stops:
            index = self.text.find(stop, max(0, before - len(stop) + 1))
            if index >= 0:
                cuts.append(index)
        return min(cuts) if cuts else None

    def unstreamed(self) -> str:
        """New text that can be shown: all of it once finished, else all but a possible stop."""
        end = len(self.text) if self.finish else len(self.text) - self._held_back()
        piece = self.text[self.streamed:end]
        self.streamed = max(self.streamed, end)
        return piece

    def _held_back(self) -> int:
        """Length of the longest end of the text that could still grow into a stop string."""
        held = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.text)), held, -1):
                if self.text.endswith(stop[:size]):
                    held = size
                    break
        return held


@dataclass
class _Sequence:
    seq_id: int
    sampler: object  # llama_cpp._internals.LlamaSampler
    tail: TextTail
    token: int = -1
    elapsed_s: float = 0.0
    n_past: int = 0  # cells of this sequence in the KV cache (the prompt's included)
    history: list[int] = field(default_factory=list)  # the prompt's tokens, then its own
    drafted: int = 0
    accepted: int = 0


def lookup_draft(history: Sequence[int], limit: int, *, ngram_max: int = LOOKUP_NGRAM_MAX,
                 ngram_min: int = LOOKUP_NGRAM_MIN) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of the longest
    n-gram (``ngram_max`` down to ``ngram_min`` tokens) that ends ``history``; [] if none."""
    size = len(history)
    for n in range(min(ngram_max, size - 1), ngram_min - 1, -1):
        tail = list(history[size - n:])
        for start in range(size - n - 1, -1, -1):
            if history[start] == tail[0] and list(history[start:start + n]) == tail:
                return list(history[start + n:start + n + limit])
    return []


class PieceTable:
    """Each token's text, by its first character, to find the tokens that agree with a text
    (token healing); the last few answers are kept, as typing asks the same ones again."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        by_first: dict[str, list[tuple[int, str]]] = {}
        for token, raw in enumerate(pieces):
            try:
                piece = raw.decode("utf-8")
            except UnicodeDecodeError:  # part of a character: never agrees with whole text
                continue
            if piece:
                by_first.setdefault(piece[0], []).append((token, piece))
        self._by_first = by_first
        self._answers: dict[str, list[int]] = {}

    def agreeing(self, text: str) -> list[int]:
        """The tokens whose text is a start of ``text``, or starts with it and goes on with
        something else than blanks (a token of more indentation than ``text`` ends with would
        make the answer start deeper than the line it heals)."""
        if not text:
            return []
        found = self._answers.get(text)
        if found is None:
            found = [token for token, piece in self._by_first.get(text[0], ())
                     if text.startswith(piece) or (piece.startswith(text)
                                                   and not piece[len(text)].isspace())]
            if len(self._answers) >= 64:
                self._answers.clear()
            self._answers[text] = found
        return found


class BatchDecoder:
    """A llama_context of its own on a loaded model, for decoding N samples per prompt.

    It keeps the last prompt in sequence 0 between requests, so a prompt that starts like the
    previous one (the same system prompt, the same file) evaluates only the new tokens.
    ``last_prompt`` says how many it reused for the latest request, and
    ``prompt_tokens_evaluated`` counts the prompt tokens it has evaluated in all.
    Not thread-safe: the backend serialises calls.
    """

    def __init__(self, llm, *, n_ctx: int, n_threads: int, exact_reuse: bool = False,
                 sequences: int = DEFAULT_SEQUENCES, prefill_chunk: int = PREFILL_CHUNK) -> None:
        """``exact_reuse``: reuse the whole common prefix of the previous prompt, not only
        its whole chunks (faster, but the logits may differ slightly from a cold start's).
        ``sequences``: the prompt and samples the context is first made for.
        ``prefill_chunk``: prompt tokens per llama_decode call (at most PREFILL_CHUNK): a
        cancellation is noticed between calls, and what was evaluated before it is kept."""
        import llama_cpp

        self._llama_cpp = llama_cpp
        self._model = llm._model  # llama-cpp-python's LlamaModel wrapper: weights are shared
        self._vocab = llm._model.vocab
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.exact_reuse = exact_reuse
        self._sequences = sequences
        self.prefill_chunk = min(prefill_chunk, PREFILL_CHUNK)
        self._ctx = None
        self._batch = None
        self._n_seq_max = 0
        self._n_cells = 0
        self._cached_prompt: list[int] = []
        self.last_prompt = PromptUse()
        self.prompt_tokens_evaluated = 0
        self._piece_buffer = ctypes.create_string_buffer(64)
        self._watch: StepWatch | None = None
        self._ending_tokens: list[int] | None = None  # found once, when first needed
        self._pieces: PieceTable | None = None  # every token's text, for healing

    # -- the context -------------------------------------------------------------------------

    def _ensure_context(self, n_sequences: int, n_cells: int) -> None:
        if self._ctx is not None and n_sequences <= self._n_seq_max and n_cells <= self._n_cells:
            return
        from llama_cpp import _internals

        self._free_context()
        n_seq_max = max(n_sequences, self._sequences)
        cells = max(self.n_ctx, -(-n_cells // CELL_ROUNDING) * CELL_ROUNDING)
        params = self._llama_cpp.llama_context_default_params()
        params.n_ctx = cells
        params.n_batch = params.n_ubatch = max(PREFILL_CHUNK, n_seq_max)
        params.n_seq_max = n_seq_max
        # One KV buffer for all sequences: the prompt's cells are shared by reference, not
        # copied, and a sequence may use any free cell (llama.cpp's split cache would give each
        # sequence n_ctx / n_seq_max cells and copy the prompt into each).
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = self.n_threads
        params.no_perf = True
        try:
            self._ctx = _internals.LlamaContext(model=self._model, params=params, verbose=False)
        except ValueError as exc:
            raise HearthError(
                f"llama.cpp could not make a context of {cells} cells for {n_sequences - 1} "
                f"samples ({exc}).",
                "Lower generation.samples, generation.maxTokens or model.contextLength.",
            ) from None
        self._batch = _internals.LlamaBatch(n_tokens=params.n_batch, embd=0, n_seq_max=1,
                                            verbose=False)
        self._n_seq_max = n_seq_max
        self._n_cells = cells
        self._cached_prompt = []
        log.info("Batch context: %d cells, %d sequences, %d threads", cells, n_seq_max,
                 self.n_threads)

    def _free_context(self) -> None:
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None
        self._cached_prompt = []

    def close(self) -> None:
        self._free_context()

    def forget_prompt(self) -> None:
        """Make the next request evaluate its whole prompt (for measurements)."""
        self._cached_prompt = []

    def set_threads(self, n_threads: int) -> None:
        self.n_threads = n_threads
        if self._ctx is not None:
            self._ctx.set_n_threads(n_threads, n_threads)

    @property
    def _memory(self):
        return self._ctx.memory

    # -- decoding ----------------------------------------------------------------------------

    def decode(self, prompt: list[int], params: Sequence[SamplingParams], seeds: Sequence[int],
               *, stops: Sequence[str] = (), stop_when: StopWhen | None = None,
               cancel: CancelToken | None = None, on_token: OnToken | None = None,
               max_parallel: int | None = None, draft: int = 0,
               must_continue: bool = False, heal: str = "",
               watch: StepWatch | None = None) -> list[SampleText]:
        """One text per entry of ``params``; ``on_token`` streams the first sample's text.

        ``heal``: text every answer must start with (token healing: the caller took it off
        the end of the prompt, where it may stop in the middle of a token the model would
        never have seen there). Until an answer has it, only tokens that agree with it can be
        drawn; the text returned starts with it.

        ``must_continue``: no sequence's first token ends it or starts with a backtick.

        ``draft``: while one sequence is left decoding, up to this many tokens found by prompt
        lookup are verified with each step (0: never). A drafted token is kept only where it
        is what the sampler drew from the logits that follow the tokens before it; those
        logits come from a larger batch, which llama.cpp computes slightly differently, so at
        a near-tie the text can part from plain decoding's (docs/BENCHMARKS.md).

        ``stops`` are stop strings for every sample, on top of each one's ``params.stop``.
        ``max_parallel`` decodes the samples in waves of that many (1: one after another, still
        on one prompt evaluation); None decodes them all at once.

        ``prompt`` must be shorter than ``n_ctx``; each sample's max_tokens is cut to the room
        the context has after the prompt. Raises Cancelled within one decode step (or one
        prompt chunk) of ``cancel`` being set.

        ``watch`` times the decode steps; when it reports them slowed down, the rest of the
        request decodes with ``watch.fewer_threads``.
        """
        if not prompt:
            raise HearthError("The prompt is empty.", "Give the model something to answer.")
        start = time.perf_counter()
        room = self.n_ctx - len(prompt)
        budgets = [max(1, min(p.max_tokens, room)) for p in params]
        self._ensure_context(len(params) + 1, len(prompt) + sum(budgets) + draft)
        sequences = [
            _Sequence(PROMPT_SEQUENCE + 1 + index, self._sampler(p, seed),
                      TextTail(stops=(*p.stop, *stops), stop_when=stop_when,
                               max_tokens=budget), n_past=len(prompt),
                      history=list(prompt) if draft else [])
            for index, (p, seed, budget) in enumerate(zip(params, seeds, budgets))]
        self._watch = watch
        try:
            evaluated = self._evaluate_prompt(prompt, cancel)
            self.last_prompt = PromptUse(len(prompt), len(prompt) - evaluated)
            if must_continue:
                self._forbid_ending(-1)
            if heal:
                self._heal(-1, heal)
            # Every first token comes from the prompt's logits, which the next decode replaces.
            for sequence in sequences:
                self._llama_cpp.llama_memory_seq_cp(self._memory, PROMPT_SEQUENCE,
                                                    sequence.seq_id, -1, -1)
                sequence.token = sequence.sampler.sample(self._ctx, -1)
            wave = max_parallel or len(sequences)
            for first in range(0, len(sequences), wave):
                self._run(sequences[first:first + wave], start, cancel,
                          on_token if first == 0 else None, draft, heal)
        finally:
            for sequence in sequences:
                self._llama_cpp.llama_memory_seq_rm(self._memory, sequence.seq_id, -1, -1)
                sequence.sampler.close()
        if draft:
            log.debug("Prompt lookup: %d of %d drafted tokens accepted",
                      sum(s.accepted for s in sequences), sum(s.drafted for s in sequences))
        return [SampleText(s.tail.text, s.tail.tokens, s.tail.finish or "length", s.elapsed_s,
                           s.drafted, s.accepted)
                for s in sequences]

    def next_token_logprobs(self, prompt: list[int], tokens: Sequence[int],
                            cancel: CancelToken | None = None) -> list[float]:
        """The log-probability of each of ``tokens`` being the one that follows ``prompt``
        (the prompt is evaluated as decode's is, reusing the previous one's prefix)."""
        import numpy as np

        if not prompt:
            raise HearthError("The prompt is empty.", "Give the model something to answer.")
        self._ensure_context(1, len(prompt) + 1)
        evaluated = self._evaluate_prompt(prompt, cancel)
        self.last_prompt = PromptUse(len(prompt), len(prompt) - evaluated)
        logits = np.ctypeslib.as_array(
            self._llama_cpp.llama_get_logits_ith(self._ctx.ctx, -1),
            shape=(self._n_vocab,)).astype(np.float64)
        top = logits.max()
        log_total = top + np.log(np.exp(logits - top).sum())
        return [float(logits[token] - log_total) for token in tokens]

    def _run(self, sequences: list[_Sequence], start: float, cancel: CancelToken | None,
             on_token: OnToken | None, draft: int, heal: str = "") -> None:
        """Take each live sequence's sampled token, then decode all those still going."""
        first = sequences[0]
        while True:
            live = []
            for sequence in sequences:
                if sequence.tail.finish is None:
                    self._accept(sequence, start)
                    if sequence.tail.finish is None:
                        live.append(sequence)
            if on_token is not None:
                piece = first.tail.unstreamed()
                if piece:
                    on_token(piece)
            if cancel is not None:
                cancel.checkpoint()
                if cancel.cancelled:
                    raise Cancelled()
            if not live:
                return
            # The pending token is not in the history until it is decoded: look up after it.
            proposal = (lookup_draft([*live[0].history, live[0].token], draft)
                        if draft and len(live) == 1 else [])
            if proposal:
                self._speculate(live[0], proposal, start)
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                continue
            began = time.perf_counter()
            self._decode_step(live)
            self._observe(len(live), time.perf_counter() - began)
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            for row, sequence in enumerate(live):
                if heal and len(sequence.tail.text) < len(heal):
                    self._heal(row, heal[len(sequence.tail.text):])
                sequence.token = sequence.sampler.sample(self._ctx, row)

    def _observe(self, rows: int, seconds: float) -> None:
        if self._watch is None or not self._watch.slowed(rows, seconds):
            return
        fewer, self._watch = self._watch.fewer_threads, None
        if fewer < self.n_threads:
            log.info("Decode steps slowed down (another process took a core): %d -> %d "
                     "threads for the rest of the request", self.n_threads, fewer)
            self.set_threads(fewer)

    def _speculate(self, sequence: _Sequence, proposal: list[int], start: float) -> None:
        """Decode the pending token and ``proposal`` in one call, keep the drafted tokens the
        sampler draws in turn, and leave the first token it drew differently pending.

        Not timed for the thread watch: a step of several rows is meant to take longer."""
        batch = self._batch.batch
        rows = [sequence.token, *proposal]
        for row, token in enumerate(rows):
            batch.token[row] = token
            batch.pos[row] = sequence.n_past + row
            batch.n_seq_id[row] = 1
            batch.seq_id[row][0] = sequence.seq_id
            batch.logits[row] = 1
        batch.n_tokens = len(rows)
        self._check(self._llama_cpp.llama_decode(self._ctx.ctx, batch))
        sequence.n_past += 1
        sequence.history.append(sequence.token)
        sequence.drafted += len(proposal)
        for row, guess in enumerate(proposal):
            sequence.token = sequence.sampler.sample(self._ctx, row)
            if sequence.token != guess:
                break
            sequence.accepted += 1
            self._accept(sequence, start)
            if sequence.tail.finish is not None:
                return  # its cells are freed already
            sequence.n_past += 1
            sequence.history.append(guess)
        else:
            sequence.token = sequence.sampler.sample(self._ctx, len(proposal))
        # The rejected guesses' cells: the next step writes the drawn token where they began.
        self._llama_cpp.llama_memory_seq_rm(self._memory, sequence.seq_id, sequence.n_past, -1)

    def _accept(self, sequence: _Sequence, start: float) -> None:
        if self._llama_cpp.llama_vocab_is_eog(self._vocab, sequence.token):
            sequence.tail.end("stop")
        else:
            sequence.tail.push(self._piece(sequence.token))
        if sequence.tail.finish is not None:
            sequence.elapsed_s = time.perf_counter() - start
            # Free the finished sequence's cells at once: attention then spans fewer cells.
            self._llama_cpp.llama_memory_seq_rm(self._memory, sequence.seq_id, -1, -1)

    def _decode_step(self, live: list[_Sequence]) -> None:
        batch = self._batch.batch
        for row, sequence in enumerate(live):
            batch.token[row] = sequence.token
            batch.pos[row] = sequence.n_past
            if sequence.history:
                sequence.history.append(sequence.token)
            sequence.n_past += 1
            batch.n_seq_id[row] = 1
            batch.seq_id[row][0] = sequence.seq_id
            # Every row is sampled, so every row must output logits: sampling a row without
            # them makes llama.cpp abort the whole process.
            batch.logits[row] = 1
        batch.n_tokens = len(live)
        self._check(self._llama_cpp.llama_decode(self._ctx.ctx, batch))

    def _evaluate_prompt(self, prompt: list[int], cancel: CancelToken | None) -> int:
        """Put ``prompt`` in sequence 0, reusing a prefix of the previous prompt; the number
        of tokens evaluated (the rest were reused).

        Without ``exact_reuse`` the reused prefix ends on a chunk boundary, so the rest is
        evaluated in the very chunks a fresh evaluation would use: llama.cpp's results depend
        slightly on how tokens are batched, and this keeps the logits (and so a greedy answer)
        the same whether or not the cache was warm. At least the last chunk is evaluated:
        sampling needs its logits.
        """
        common = 0
        for old, new in zip(self._cached_prompt, prompt[:-1]):
            if old != new:
                break
            common += 1
        size = self.prefill_chunk
        keep = common if self.exact_reuse else common // size * size
        memory = self._memory
        self._llama_cpp.llama_memory_seq_keep(memory, PROMPT_SEQUENCE)
        if not self._llama_cpp.llama_memory_seq_rm(memory, PROMPT_SEQUENCE, keep, -1):
            self._llama_cpp.llama_memory_clear(memory, True)
            keep = 0
        self._cached_prompt = []
        batch = self._batch.batch
        for chunk_start in range(keep, len(prompt), size):
            if cancel is not None:
                cancel.checkpoint()  # urgent work (a completion) may run here, elsewhere
            if cancel is not None and cancel.cancelled:
                # The chunks evaluated so far stay: the next prompt (the user typed on) most
                # likely starts with them, and need not evaluate them again.
                self._llama_cpp.llama_memory_seq_rm(memory, PROMPT_SEQUENCE, chunk_start, -1)
                self._cached_prompt = list(prompt[:chunk_start])
                raise Cancelled()
            chunk = prompt[chunk_start:chunk_start + size]
            for row, token in enumerate(chunk):
                batch.token[row] = token
                batch.pos[row] = chunk_start + row
                batch.n_seq_id[row] = 1
                batch.seq_id[row][0] = PROMPT_SEQUENCE
                batch.logits[row] = 0
            batch.logits[len(chunk) - 1] = 1
            batch.n_tokens = len(chunk)
            try:
                self._check(self._llama_cpp.llama_decode(self._ctx.ctx, batch))
            except HearthError:
                self._llama_cpp.llama_memory_clear(memory, True)
                raise
            self.prompt_tokens_evaluated += len(chunk)
        self._cached_prompt = list(prompt)
        log.debug("Prompt: %d tokens, %d reused from the previous one", len(prompt), keep)
        return len(prompt) - keep

    def _forbid_ending(self, row: int) -> None:
        """Make every token that would end the answer, or start a fence, impossible in the
        logits of ``row`` (the samplers read them from the context)."""
        if self._ending_tokens is None:
            self._ending_tokens = [
                token for token in range(self._n_vocab)
                if self._llama_cpp.llama_vocab_is_eog(self._vocab, token)
                or self._piece(token).lstrip().startswith(b"`")]
        logits = self._llama_cpp.llama_get_logits_ith(self._ctx.ctx, row)
        for token in self._ending_tokens:
            logits[token] = float("-inf")

    def _heal(self, row: int, remaining: str) -> None:
        """Make impossible, in the logits of ``row``, every token that disagrees with
        ``remaining``: only one that is its start, or starts with it, may be drawn. Nothing
        changes when no token agrees (the text is then the model's own)."""
        import numpy as np

        if self._pieces is None:
            self._pieces = PieceTable([self._piece(t) for t in range(self._n_vocab)])
        allowed = self._pieces.agreeing(remaining)
        if not len(allowed):
            return
        logits = np.ctypeslib.as_array(
            self._llama_cpp.llama_get_logits_ith(self._ctx.ctx, row), shape=(self._n_vocab,))
        kept = logits[allowed].copy()
        logits[:] = -np.inf
        logits[allowed] = kept

    def _check(self, status: int) -> None:
        if status != 0:
            raise HearthError(
                f"llama.cpp could not decode the batch (llama_decode returned {status}).",
                "Lower generation.samples or generation.maxTokens; if it persists, run "
                "`hearth doctor`.")

    def _sampler(self, params: SamplingParams, seed: int):
        """A llama.cpp sampler chain for ``params``: create_completion's, with top-k first.

        llama-cpp-python applies the repeat penalty before top-k, which scans the whole
        vocabulary (152k tokens for Qwen) on every token: ~1 ms per sequence and step, 10% of
        a 9-sequence step. After top-k it costs a third of that. The penalty only lowers the
        logits of tokens already generated, so the greedy choice is the same unless 40 of them
        outrank every fresh token; at a temperature the top-40 set may keep a penalised token
        that the other order would have swapped for the 41st.
        """
        from llama_cpp import _internals

        sampler = _internals.LlamaSampler()
        sampler.add_top_k(params.top_k)
        sampler.add_penalties(self._n_vocab, PENALTY_LAST_N, params.repeat_penalty, 0.0, 0.0)
        if params.temperature <= 0:
            sampler.add_greedy()
        else:
            sampler.add_top_p(params.top_p, 1)
            sampler.add_min_p(MIN_P, 1)
            sampler.add_temp(params.temperature)
            sampler.add_dist(seed & 0xFFFFFFFF)
        return sampler

    def _piece(self, token: int) -> bytes:
        size = self._llama_cpp.llama_token_to_piece(
            self._vocab, token, self._piece_buffer, len(self._piece_buffer), 0, False)
        if size < 0:  # the buffer is too small: llama.cpp says how large it must be
            self._piece_buffer = ctypes.create_string_buffer(-size)
            size = self._llama_cpp.llama_token_to_piece(
                self._vocab, token, self._piece_buffer, len(self._piece_buffer), 0, False)
        return self._piece_buffer.raw[:size]
