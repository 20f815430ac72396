"""Reading LSP messages off a byte stream as real clients frame them.

pygls' reader wants exactly ``Content-Length: N\\r\\n`` and allocates whatever N says. Clients
and proxies also send ``content-length`` and LF-only lines, and a broken or hostile one can
declare a terabyte. `MessageReader` accepts header names in any case and either line ending,
refuses a length over `MAX_CONTENT_LENGTH` without allocating it, and after any framing
problem finds the next ``Content-Length`` header instead of going deaf. `read_stdin` is the
stdio loop's reading half, on a daemon thread of its own so that it can never keep the process
alive.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

# Larger than any document Hearth analyses (1 M characters, up to 4 bytes each, escaped in
# JSON) or any editor sends, small enough that a lie costs no memory worth mentioning.
MAX_CONTENT_LENGTH = 64 * 1024 * 1024
MAX_HEADER_LINE = 8192
CHUNK = 64 * 1024
# How many messages the reader runs ahead of the event loop: memory stays bounded while the
# loop is busy, yet the reader keeps reading (and so sees `exit`) meanwhile.
MAX_PENDING = 64
_HEADER = b"content-length:"


class _Buffer:
    """A byte buffer over ``stream`` that never holds more than one message plus a chunk."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._data = bytearray()
        self._eof = False

    def _fill(self, wanted: int = CHUNK) -> bool:
        if self._eof:
            return False
        # read1: what is there now, never waiting for all of ``wanted``; at most 1 MiB at a
        # time, as a larger read1 allocates all it is asked for.
        chunk = self._stream.read1(min(max(wanted, 1), 1 << 20))
        if not chunk:
            self._eof = True
            return False
        self._data += chunk
        return True

    def _take(self, size: int) -> bytes:
        out = bytes(self._data[:size])
        del self._data[:size]
        return out

    def readline(self, limit: int) -> bytes:
        """A line with its ending; ``limit`` bytes when the line is longer; b"" at the end."""
        while True:
            end = self._data.find(b"\n", 0, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self._data) >= limit or not self._fill():
                return self._take(min(limit, len(self._data)))

    def read(self, size: int) -> bytes:
        """``size`` bytes, or fewer at the end of the stream."""
        while len(self._data) < size and self._fill(size - len(self._data)):
            pass
        return self._take(min(size, len(self._data)))

    def skip_to(self, pattern: bytes) -> bool:
        """Discard bytes up to the next ``pattern`` (lower case; matched in any case)."""
        while True:
            found = bytes(self._data).lower().find(pattern)
            if found >= 0:
                del self._data[:found]
                return True
            keep = len(pattern) - 1  # the pattern may straddle two chunks
            if len(self._data) > keep:
                del self._data[:len(self._data) - keep]
            if not self._fill():
                return False


class MessageReader:
    """Splits a stream into message bodies; `read` returns None at its end."""

    def __init__(self, stream: BinaryIO, max_length: int = MAX_CONTENT_LENGTH) -> None:
        self._buffer = _Buffer(stream)
        self.max_length = max_length

    def read(self) -> bytes | None:
        while True:
            headers = self._headers()
            if headers is None:
                return None
            length = self._length(headers) if headers else None
            if length is None:
                # The body's end is unknown: the next message starts at its header, which
                # follows a body directly (bodies end without a newline), so look anywhere.
                if not self._buffer.skip_to(_HEADER):
                    return None
                continue
            body = self._buffer.read(length)
            if len(body) < length:
                return None
            return body

    def _headers(self) -> dict[bytes, bytes] | None:
        """One message's headers, lower-case names; {} after a line that is not a header."""
        headers: dict[bytes, bytes] = {}
        while True:
            line = self._buffer.readline(MAX_HEADER_LINE)
            if not line:
                return None
            if not line.endswith(b"\n"):
                log.warning("Skipped a header line longer than %d bytes", MAX_HEADER_LINE)
                return {}
            text = line.strip()
            if not text:
                if headers:
                    return headers
                continue  # blank lines between messages are harmless
            name, colon, value = text.partition(b":")
            if not colon:
                log.warning("Skipped input that is not a message header: %r", text[:80])
                return {}
            headers[name.strip().lower()] = value.strip()

    def _length(self, headers: dict[bytes, bytes]) -> int | None:
        raw = headers.get(b"content-length")
        if raw is None:
            log.warning("Skipped a message without a Content-Length header (headers: %s)",
                        b", ".join(headers).decode("ascii", "replace"))
            return None
        if not raw.isdigit():
            log.warning("Skipped a message whose Content-Length is not a number: %r", raw[:40])
            return None
        if len(raw) > len(str(self.max_length)) or int(raw) > self.max_length:
            log.warning("Skipped a message of Content-Length %s: over Hearth's limit of "
                        "%d bytes", raw[:40].decode("ascii"), self.max_length)
            return None
        return int(raw)


class Unparsable:
    """A body that is not JSON: the protocol answers it with a Parse error."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return Unparsable(f"{type(exc).__name__}: {exc}"[:300])


Deliver = Callable[[Any, Callable[[], None], Any], None]


def read_stdin(stream: BinaryIO, deliver: Deliver, on_exit: Callable[[], None],
               on_shutdown: Callable[[], None], on_end: Callable[[], None],
               answer_first: Callable[[dict], Any] | None = None) -> threading.Thread:
    """Start the daemon thread that reads ``stream`` and hands each parsed message to
    ``deliver(message, release, answered)``, which must call ``release`` once done with the
    message. ``answered`` is what ``answer_first`` returned for the first message (an
    ``initialize`` it answered itself, hearth.lsp.early), else None.

    The ``exit`` notification is acted on here, not behind the event loop: the loop may be busy
    for seconds in a handler, and `exit` must end the process within one. For the same reason
    the thread notes a ``shutdown`` request as it reads it (`on_shutdown`: `exit`'s code).
    """
    pending = threading.BoundedSemaphore(MAX_PENDING)
    initialized = False

    def run() -> None:
        nonlocal initialized
        reader = MessageReader(stream)
        first = True
        try:
            while (body := reader.read()) is not None:
                message = parse(body)
                method = message.get("method") if isinstance(message, dict) else None
                if method == "exit" and "id" not in message:
                    on_exit()
                    return
                answered = None
                if method == "initialize" and "id" in message:
                    if first and answer_first is not None:
                        answered = answer_first(message)
                    initialized = True
                elif method == "shutdown" and "id" in message and initialized:
                    on_shutdown()
                first = False
                pending.acquire()
                deliver(message, pending.release, answered)
        except (OSError, ValueError) as exc:  # stdin itself failed or was closed under us
            log.warning("Reading from the client failed: %s", exc)
        except RuntimeError:  # the event loop is gone: the process is ending anyway
            return
        on_end()

    thread = threading.Thread(target=run, name="hearth-stdin", daemon=True)
    thread.start()
    return thread
