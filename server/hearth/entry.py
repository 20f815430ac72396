"""The `hearth` command's first step: for `hearth serve` over stdio, the reader of stdin starts
here, before the CLI and the server load, so that a cached answer to ``initialize`` goes out
while they do (hearth.lsp.early). Everything else goes straight to `hearth.cli.main`."""

from __future__ import annotations

import sys
from typing import Any


def early_start(argv: list[str]) -> Any:
    """The `EarlyStart` for ``argv`` if it asks for the stdio server, else None (the CLI
    parses ``argv`` all the same, and refuses it if it is wrong)."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command != "serve" or any(arg in ("-h", "--help", "--version") or arg.startswith("--tcp")
                                 for arg in argv):
        return None
    from hearth.lsp.early import EarlyStart

    return EarlyStart.begin(sys.stdin.buffer, sys.stdout.buffer)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    early = early_start(args)
    from hearth.cli import main as cli_main

    return cli_main(args, early=early)
