"""The engine's imports run one way: core never reaches pygls or the LSP layer, no core
module imports a higher layer, and no core modules import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "server" / "hearth" / "core"
# Low to high; a top-level core module outside these (the Session) stands above them all.
BASE = {"text", "errors", "cancel", "sandbox", "inference", "__init__"}
LAYER = {"analysis": 1, "memory": 1, "models": 1, "guardrails": 2, "pipeline": 3, "actions": 4,
         "history": 4}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parents[1]).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 3:
        return 0
    return LAYER.get(parts[2], 0 if parts[2] in BASE else 5)


def imports_of(path: Path, module: str, modules: frozenset[str] = frozenset()) -> set[str]:
    """The modules ``path`` imports. ``from pkg import sub`` imports the submodule ``pkg.sub``
    when ``modules`` has it, not what ``pkg/__init__.py`` collects."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            found.update(names)
            if not all(name in modules for name in names):
                found.add(base)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in CORE.rglob("*.py")}
    modules = frozenset(files)
    return {module: {name for name in imports_of(path, module, modules) if name in files}
            - {module} for module, path in files.items()}


def test_core_never_imports_pygls_or_the_lsp_layer():
    offending = sorted(
        f"{module_name(path)} imports {name}" for path in CORE.rglob("*.py")
        for name in imports_of(path, module_name(path))
        if name.split(".")[0] in ("pygls", "lsprotocol") or name.startswith("hearth.lsp"))
    assert offending == []


def test_no_core_module_imports_a_higher_layer():
    upward = sorted(f"{module} -> {target}" for module, targets in graph().items()
                    for target in targets if layer(target) > layer(module))
    assert upward == []


def test_no_circles_among_core_modules():
    edges = graph()
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []
