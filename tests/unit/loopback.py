"""A loopback HTTP server for the tests that stand in for an OpenAI-compatible one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

H = TypeVar("H", bound=type[BaseHTTPRequestHandler])


@contextmanager
def serving(handler: H) -> Iterator[H]:
    """Serve ``handler`` on a free port of 127.0.0.1; its ``base_url`` is the API's root."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    handler.base_url = f"http://127.0.0.1:{httpd.server_port}/v1"
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()
