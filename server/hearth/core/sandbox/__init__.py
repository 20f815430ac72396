"""Run untrusted Python (generated tests, candidate code) in a throw-away folder, with limits.

The kernel enforces what this machine allows (namespaces, a dropped uid, rlimits, Landlock's
read, write and execute rules, a seccomp filter); the host bounds the whole tree's memory and
disk and gives a private channel for results; an audit hook in every sandboxed interpreter is a
second, clearer line. ``host`` starts and watches
the interpreter; ``bootstrap`` (standard library only, copied into each sandbox) confines it
before the sandboxed code runs. docs/sandbox.md says which layer holds what.
"""

from hearth.core.sandbox.host import Launcher, SandboxResult, run_python

__all__ = ["Launcher", "SandboxResult", "run_python"]
