"""A backend for OpenAI-compatible servers (llama.cpp server, vLLM, Ollama) on a bigger machine."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.errors import HearthError
from hearth.core.models.backend import Completion, GenerationRequest, OnToken, SamplingParams

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
TOP_LOGPROBS = 20  # the most OpenAI's API allows


class OpenAIBackend:
    prefills = False  # a chat API answers from scratch
    heals = False  # it is never asked to (GenerationRequest.heal)

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "HEARTH_API_KEY",
                 timeout_s: float = 120.0, retries: int = 2, parallel: int = 1) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model} at {self.base_url}"
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.retries = retries
        self.parallel = parallel
        self._client: httpx.Client | None = None

    @property
    def loaded(self) -> bool:
        return self._client is not None

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def load(self, cancel: CancelToken | None = None) -> None:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url, headers=self._headers(),
                timeout=httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)))

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None,
                 on_token: OnToken | None = None) -> list[Completion]:
        self.load()
        if len(request.params) == 1 or self.parallel == 1:
            return [self._sample(request, params, cancel, on_token if index == 0 else None)
                    for index, params in enumerate(request.params)]
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(request.params))) as pool:
            futures = [pool.submit(self._sample, request, params, cancel, None)
                       for params in request.params]
            return [future.result() for future in futures]

    def _payload(self, request: GenerationRequest, params: SamplingParams) -> dict:
        if request.raw_prompt is not None:  # fill-in-the-middle: the completions endpoint
            prompt: dict[str, object] = {"prompt": request.raw_prompt}
        else:
            prompt = {"messages": [{"role": m.role, "content": m.content}
                                   for m in request.messages]}
        payload = {
            "model": self.model, **prompt, "stream": True,
            # The last event then carries the usage: the prompt's tokens and, where the
            # server says, how many of them it took from its cache.
            "stream_options": {"include_usage": True},
            "max_tokens": params.max_tokens, "temperature": params.temperature,
            "top_p": params.top_p, "stop": list(params.stop) or None,
        }
        if params.seed is not None:
            payload["seed"] = params.seed
        # Extensions that llama.cpp server and vLLM accept; others ignore unknown keys.
        payload["top_k"] = params.top_k
        payload["repeat_penalty"] = params.repeat_penalty
        return {key: value for key, value in payload.items() if value is not None}

    def _sample(self, request: GenerationRequest, params: SamplingParams,
                cancel: CancelToken | None, on_token: OnToken | None) -> Completion:
        payload = self._payload(request, params)
        attempt = 0
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                return self._stream(request, payload, cancel, on_token)
            except _Retryable as exc:
                attempt += 1
                if attempt > self.retries:
                    raise HearthError(
                        f"The inference server at {self.base_url} failed {attempt} times: "
                        f"{exc}.",
                        "Check that it is running and reachable (openai.baseUrl), or switch "
                        "model.backend back to llama-cpp.",
                    ) from None
                delay = min(8.0, 0.5 * 2 ** (attempt - 1))
                log.warning("%s; retrying in %.1f s (%d/%d)", exc, delay, attempt, self.retries)
                time.sleep(delay)

    def _stream(self, request: GenerationRequest, payload: dict, cancel: CancelToken | None,
                on_token: OnToken | None) -> Completion:
        assert self._client is not None
        # stop_when judges the text that follows the prefill; a chat API cannot prefill, so the
        # answer starts from scratch and only the server's own stops apply.
        stop_when = None if request.prefill else request.stop_when
        start = time.perf_counter()
        text = ""
        tokens = 0
        finish = "stop"
        prompt_tokens = 0
        cached: int | None = None
        try:
            endpoint = "/completions" if "prompt" in payload else "/chat/completions"
            with self._client.stream("POST", endpoint, json=payload) as response:
                if response.status_code in RETRYABLE_STATUS:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    body = response.read().decode("utf-8", errors="replace")[:300]
                    raise HearthError(
                        f"The inference server refused the request: HTTP "
                        f"{response.status_code} {body}",
                        "Check openai.model and the API key in "
                        f"${self.api_key_env}.",
                    )
                for line in response.iter_lines():
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    if event.get("usage"):
                        prompt_tokens, cached = prompt_usage(event["usage"])
                    if not event.get("choices"):
                        continue
                    choice = event["choices"][0]
                    # a chat answer's piece is in its delta, a completion's in its text
                    piece = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                    if piece:
                        tokens += 1
                        text += piece
                        if on_token:
                            on_token(piece)
                        if stop_when is not None and stop_when(text):
                            finish = "stop_when"
                            break
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError,
                httpx.ConnectTimeout) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise HearthError(f"The inference server sent malformed data: {exc}.") from None
        return Completion(text=text, tokens=tokens, finish_reason=finish,
                          elapsed_s=time.perf_counter() - start, prompt_tokens=prompt_tokens,
                          prefilled=False, prompt_reused=cached)

    def choice_probabilities(self, request: GenerationRequest, choices: Sequence[str],
                             cancel: CancelToken | None = None) -> dict[str, float] | None:
        """As the local backend's: one token asked for, with the server's most likely first
        tokens (``logprobs``/``top_logprobs``, which vLLM and llama.cpp's server return).
        None when the server returns none, or none of the choices is among them; a choice
        not among them counts as likely as the least likely token listed (an upper bound)."""
        self.load()
        if cancel is not None:
            cancel.raise_if_cancelled()
        assert self._client is not None
        payload = {"model": self.model, "max_tokens": 1, "temperature": 0.0,
                   "logprobs": True, "top_logprobs": TOP_LOGPROBS,
                   "messages": [{"role": m.role, "content": m.content}
                                for m in request.messages]}
        try:
            response = self._client.post("/chat/completions", json=payload)
            response.raise_for_status()
            content = response.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            listed = [(str(entry["token"]).strip(), float(entry["logprob"]))
                      for entry in content]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("%s gave no token probabilities (%s): the self-check is skipped",
                        self.base_url, exc)
            return None
        if not listed:
            return None
        floor = min(value for _, value in listed)
        best = {choice: max((value for token, value in listed if token == choice),
                            default=None) for choice in choices}
        if all(value is None for value in best.values()):
            return None
        values = [floor if value is None else value for value in best.values()]
        top = max(values)
        weights = [math.exp(value - top) for value in values]
        return {choice: weight / sum(weights) for choice, weight in zip(choices, weights)}

    def info(self) -> dict[str, object]:
        return {"backend": "openai", "base_url": self.base_url, "model": self.model,
                "api_key_env": self.api_key_env,
                "api_key_set": bool(os.environ.get(self.api_key_env))}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def prompt_usage(usage: object) -> tuple[int, int | None]:
    """The prompt's tokens and, when the server says (``prompt_tokens_details.cached_tokens``),
    how many it reused from its cache; whatever else a server sends counts as not said."""
    if not isinstance(usage, dict):
        return 0, None
    tokens = usage.get("prompt_tokens")
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None

    def count(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    tokens = tokens if count(tokens) else 0
    return tokens, cached if count(cached) and cached <= tokens else None


class _Retryable(Exception):
    pass
