"""(Re)build positions.json, the inline completion corpus: cursor positions inside the function
bodies of the pinned sdists of tests/quality_corpus/projects.json (their package modules, never
their tests), fetched and unpacked as the quality corpus does (tests/bench/corpus_tasks.py).

    .venv/bin/python tests/completion_corpus/build.py [--projects toolz,funcy] [--out FILE]
        [--dry-run]

Three kinds of position (see README.md beside this file):

- ``line``: a line start, the cursor after the indentation; the reference is the line's code.
- ``mid``: a cut inside a line's code after at least MIN_TYPED characters, at least MIN_REST
  before its end; the reference is the rest of the code.
- ``block``: the start of the first statement after a docstring, the reference the whole
  remaining body (at most MAX_BLOCK_LINES non-blank lines); a function that is a task of the
  quality corpus carries its id, so that the benchmark can run the task's hidden tests.

A line's code is the line without its indentation, its trailing comment and trailing blanks.
Never used: blank lines, comment lines, lines of strings or docstrings, lines of nothing but
closing brackets (and commas, colons), and lines whose string goes on to the next line.

A position is ``cross_file`` when its reference names a function or class that another module
of the same package defines (the quality corpus's definition, tests/quality_corpus/build.py),
there that identifier lies after the cursor.

Sampling is fixed by SALT: per project, QUOTAS positions of each kind, at most half of the
line and mid positions cross-file (they are scarce, and they are where workspace context
should help), at most half of the blocks quality tasks; the rest drawn from all candidates.
The split is a hash of the position id (SALT), about HELDOUT_SHARE held out. Tune on dev.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import logging
import random
import re
import sys
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "bench"))

from completion_tasks import load_by_path  # noqa: E402
from corpus_tasks import (  # noqa: E402
    CorpusError,
    FunctionNode,
    Project,
    _span,
    load_projects,
    load_tasks,
    locate,
    package_sources,
    unpacked,
)


# The quality corpus's reading of a package's imports is the one cross-file means here too.
quality = load_by_path("quality_corpus_build", REPO / "tests" / "quality_corpus" / "build.py")

log = logging.getLogger("completion_corpus_build")
POSITIONS = HERE / "positions.json"
SALT = "hearth-completion-corpus-1"  # changing it redraws and reshuffles everything: never do
HELDOUT_SHARE = 0.4
QUOTAS = {"line": 16, "mid": 16, "block": 8}  # per project
MIN_TYPED = 3  # a mid-line cut leaves at least this many characters of code typed
MIN_REST = 2  # ... and at least this many to complete
MAX_BLOCK_LINES = 15  # non-blank lines of a block's reference
CLOSERS_ONLY = re.compile(r"[\s)\]},;:]*")


@dataclass
class Position:
    id: str
    project: str
    path: str  # relative to the project root
    function: str  # qualified name of the innermost function (nested ones as outer.inner)
    kind: str  # "line" | "mid" | "block"
    line: int  # 0-based
    col: int  # 0-based, in code points
    end_line: int  # 0-based last line the document loses (the cursor's own for line, mid)
    prefix: str  # the cursor's line up to the cursor, as the document keeps it
    reference: str  # the text after the cursor that the document loses
    cross_file: bool
    helpers: list[str] = field(default_factory=list)
    split: str = ""
    task: str | None = None  # the quality corpus task whose body a block is


def split_of(position_id: str) -> str:
    """'heldout' for about HELDOUT_SHARE of the ids, 'dev' for the rest, fixed by the id."""
    value = int(hashlib.sha256(f"{SALT}:{position_id}".encode()).hexdigest()[:8], 16)
    return "heldout" if value / 0x1_0000_0000 < HELDOUT_SHARE else "dev"


# -- the lines of a module ----------------------------------------------------------------------
@dataclass
class Line:
    """A line that could hold a position: its code, from ``indent`` to ``end`` (columns)."""

    number: int  # 0-based
    text: str
    indent: int
    end: int

    @property
    def code(self) -> str:
        return self.text[self.indent:self.end]


def _docstring(node: ast.AST) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def functions(tree: ast.Module) -> list[tuple[str, FunctionNode]]:
    """Every function and method with its qualified name (``Class.method``, ``outer.inner``),
    in source order."""
    found: list[tuple[str, FunctionNode]] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{scope}.{child.name}" if scope else child.name
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child))
                visit(child, name)
            else:
                visit(child, scope)

    visit(tree, "")
    return sorted(found, key=lambda item: (item[1].lineno, item[1].col_offset))


def body_start(fn: FunctionNode) -> int | None:
    """0-based line of the first statement after the docstring; None when there is none."""
    rest = fn.body[1:] if _docstring(fn) is not None else fn.body
    return rest[0].lineno - 1 if rest else None


def owners(tree: ast.Module) -> dict[int, str]:
    """0-based line -> the innermost function whose body (after its docstring) holds it."""
    owner: dict[int, str] = {}
    for name, fn in functions(tree):  # outer first, so that inner functions overwrite
        start = body_start(fn)
        if start is not None:
            for number in range(start, fn.end_lineno):
                owner[number] = name
    return owner


def string_lines(tree: ast.Module) -> set[int]:
    """0-based lines of docstrings (of the module, its classes and functions)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        doc = _docstring(node) if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if doc is not None:
            lines.update(range(doc.lineno - 1, doc.end_lineno))
    return lines


def code_lines(source: str) -> dict[int, Line]:
    """The lines that start with a token at their indentation, with where their code ends
    (before a trailing comment); lines inside a string, and lines whose string goes on past
    them, are left out."""
    texts = source.splitlines()
    first: dict[int, tuple[int, int]] = {}  # line -> (column, type) of its first token
    comment: dict[int, int] = {}
    spills: set[int] = set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in skip:
            continue
        (row, col), (end_row, _) = token.start, token.end
        first.setdefault(row - 1, (col, token.type))
        if token.type == tokenize.COMMENT:
            comment[row - 1] = col
        if end_row > row:
            spills.add(row - 1)
    out = {}
    for number, (col, kind) in first.items():
        text = texts[number]
        indent = len(text) - len(text.lstrip())
        if kind == tokenize.COMMENT or col != indent or number in spills:
            continue
        end = len(text[: comment.get(number, len(text))].rstrip())
        if end > indent:
            out[number] = Line(number, text, indent, end)
    return out


def usable(line: Line) -> bool:
    return not CLOSERS_ONLY.fullmatch(line.code)


# -- cross-file names ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Use:
    """A name of another module of the package, where the function's code uses it."""

    label: str  # module.name
    start: tuple[int, int]  # (0-based line, column in code points)
    end: tuple[int, int]


def _column(lines: list[str], line: int, byte_offset: int) -> int:
    """ast's UTF-8 byte offset as a column in code points."""
    return len(lines[line].encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def cross_file_uses(fn: FunctionNode, lines: list[str], current: str,
                    bindings: dict[str, tuple[str, str | None]],
                    definitions: dict[str, set[str]]) -> list[Use]:
    """Where ``fn`` names a function or class defined in another module of the package:
    a name imported from it, or an attribute of that module imported whole. The rules are
    the quality corpus's (quality_corpus/build.py ``helpers_of``), with the place of each."""
    top = current.split(".")[0]
    inner = quality.same_package_bindings(fn, current, False, top, set(definitions))
    own = {**bindings, **inner}
    local = quality.local_names(fn) - set(inner)
    uses = []
    for node in ast.walk(fn):
        label = None
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                and node.id in own and node.id not in local:
            module, attribute = own[node.id]
            if attribute is not None and module != current \
                    and attribute in definitions.get(module, ()):
                label = f"{module}.{attribute}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in own and node.value.id not in local:
            module, attribute = own[node.value.id]
            if attribute is None and module != current \
                    and node.attr in definitions.get(module, ()):
                label = f"{module}.{node.attr}"
        if label is not None:
            start = (node.lineno - 1, _column(lines, node.lineno - 1, node.col_offset))
            end = (node.end_lineno - 1, _column(lines, node.end_lineno - 1,
                                                node.end_col_offset))
            uses.append(Use(label, start, end))
    return sorted(set(uses), key=lambda use: (use.start, use.label))


def named_after(uses: list[Use], line: int, col: int, end_line: int | None = None) -> list[str]:
    """The labels of the uses that end after (line, col) and start on or before ``end_line``
    (the cursor's line when None): those the reference at that cursor has to write."""
    last = line if end_line is None else end_line
    return sorted({use.label for use in uses if use.end > (line, col) and use.start[0] <= last})


# -- the candidates of one module ---------------------------------------------------------------
@dataclass
class ModuleCandidates:
    lines: list[tuple[str, Line, list[Use]]] = field(default_factory=list)  # (function, ...)
    blocks: list[Position] = field(default_factory=list)


def module_candidates(project: Project, relative: str, source: str,
                      definitions: dict[str, set[str]],
                      tasks: dict[tuple[str, str], str]) -> ModuleCandidates:
    """The lines (for ``line`` and ``mid``) and the blocks of one package module."""
    tree = ast.parse(source)
    texts = source.splitlines()
    current = quality.dotted(project, relative)
    top = quality.dotted(project, project.package + "/__init__.py")
    bindings = quality.same_package_bindings(
        ast.Module(body=list(quality.top_level_statements(tree)), type_ignores=[]),
        current, relative.endswith("__init__.py"), top, set(definitions))
    named = functions(tree)
    uses = {name: cross_file_uses(fn, texts, current, bindings, definitions)
            for name, fn in named}
    out = ModuleCandidates()
    docstrings = string_lines(tree)
    owner = owners(tree)
    for number, line in sorted(code_lines(source).items()):
        name = owner.get(number)
        if name is not None and number not in docstrings and usable(line):
            out.lines.append((name, line, uses[name]))
    for name, fn in named:
        block = block_candidate(project, relative, tree, texts, name, fn, uses[name])
        if block is not None:
            block.task = tasks.get((relative, name))
            out.blocks.append(block)
    return out


def block_candidate(project: Project, relative: str, tree: ast.Module, texts: list[str],
                    name: str, fn: FunctionNode, uses: list[Use]) -> Position | None:
    """The block hole of ``fn``: its body after the docstring, if the function can be found
    again by name (module level or a method), the docstring stands on lines of its own and the
    rest is short and not only ``pass`` or a ``raise``."""
    doc = _docstring(fn)
    if doc is None or len(fn.body) < 2:
        return None
    try:
        if locate(tree, name) is not fn:
            return None
    except CorpusError:
        return None
    if all(isinstance(s, (ast.Pass, ast.Raise)) for s in fn.body[1:]):
        return None
    first = fn.body[1]
    line = first.lineno - 1
    text = texts[line]
    col = len(text) - len(text.lstrip())
    if doc.end_lineno - 1 >= line or _column(texts, line, first.col_offset) != col:
        return None
    end = _span(texts, fn)[1]
    body = texts[line: end + 1]
    if sum(1 for row in body if row.strip()) > MAX_BLOCK_LINES:
        return None
    reference = "\n".join([body[0][col:]] + body[1:]).rstrip()
    helpers = named_after(uses, line, col, end)
    position_id = f"{relative}:{line + 1}:{col}:block"
    return Position(id=position_id, project=project.name, path=relative, function=name,
                    kind="block", line=line, col=col, end_line=end, prefix=text[:col],
                    reference=reference, cross_file=bool(helpers), helpers=helpers)


def line_position(project: Project, relative: str, function: str, line: Line, uses: list[Use],
                  kind: str, col: int) -> Position:
    helpers = named_after(uses, line.number, col)
    position_id = f"{relative}:{line.number + 1}:{col}:{kind}"
    return Position(id=position_id, project=project.name, path=relative, function=function,
                    kind=kind, line=line.number, col=col, end_line=line.number,
                    prefix=line.text[:col], reference=line.text[col:line.end],
                    cross_file=bool(helpers), helpers=helpers)


def mid_cut(line: Line, rng: random.Random) -> int | None:
    """A column inside the line's code: at least MIN_TYPED characters typed, MIN_REST left."""
    if len(line.code) < MIN_TYPED + MIN_REST:
        return None
    return line.indent + rng.randint(MIN_TYPED, len(line.code) - MIN_REST)


# -- sampling -----------------------------------------------------------------------------------
def draw(rng: random.Random, preferred: list, others: list, quota: int) -> list:
    """Up to half of ``quota`` from ``preferred``, the rest from all that is left."""
    first = rng.sample(preferred, min(len(preferred), quota // 2))
    rest = [item for item in preferred + others if item not in first]
    return first + rng.sample(rest, min(len(rest), quota - len(first)))


def project_positions(project: Project, quotas: dict[str, int],
                      tasks: dict[tuple[str, str], str]) -> tuple[list[Position], dict]:
    """The sampled positions of one project, and how many candidates of each kind it had."""
    root = unpacked(project)
    sources = package_sources(project, root)
    definitions = quality.definitions_of(sources, project)
    lines: list[tuple[str, str, Line, list[Use]]] = []
    blocks: list[Position] = []
    for relative, source in sources.items():
        found = module_candidates(project, relative, source, definitions, tasks)
        lines += [(relative, name, line, uses) for name, line, uses in found.lines]
        blocks += found.blocks
    rng = random.Random(f"{SALT}:{project.name}")
    starts = [line_position(project, rel, name, line, uses, "line", line.indent)
              for rel, name, line, uses in lines]
    chosen = draw(rng, [p for p in starts if p.cross_file],
                  [p for p in starts if not p.cross_file], quotas["line"])
    taken = {(p.path, p.line) for p in chosen}
    mids = []
    for rel, name, line, uses in lines:
        if (rel, line.number) in taken:
            continue
        col = mid_cut(line, random.Random(f"{SALT}:cut:{rel}:{line.number}"))
        if col is not None:
            mids.append(line_position(project, rel, name, line, uses, "mid", col))
    chosen += draw(rng, [p for p in mids if p.cross_file],
                   [p for p in mids if not p.cross_file], quotas["mid"])
    chosen += draw(rng, [p for p in blocks if p.task], [p for p in blocks if not p.task],
                   quotas["block"])
    for position in chosen:
        position.split = split_of(position.id)
    candidates = {"line": len(starts), "line_cross_file": sum(p.cross_file for p in starts),
                  "mid": len(mids), "mid_cross_file": sum(p.cross_file for p in mids),
                  "block": len(blocks), "block_cross_file": sum(p.cross_file for p in blocks),
                  "block_tasks": sum(bool(p.task) for p in blocks)}
    return chosen, candidates


def task_functions() -> dict[tuple[str, str], str]:
    """(path, qualname) -> id of each task of the quality corpus."""
    try:
        return {(task["path"], task["qualname"]): task["id"] for task in load_tasks()}
    except CorpusError:
        return {}


def counts(positions: list[dict]) -> str:
    def row(label: str, group: list[dict]) -> str:
        kinds = ", ".join(f"{kind} {sum(p['kind'] == kind for p in group)}"
                          for kind in QUOTAS)
        return (f"{label}: {len(group)} positions ({kinds}), "
                f"{sum(p['cross_file'] for p in group)} cross-file, "
                f"{sum(bool(p['task']) for p in group)} blocks with tests")
    out = [row("all", positions)]
    out += [row(split, [p for p in positions if p["split"] == split])
            for split in ("dev", "heldout")]
    out += [row(project, [p for p in positions if p["project"] == project])
            for project in sorted({p["project"] for p in positions})]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", default=None, help="comma-separated names (default all)")
    parser.add_argument("--out", type=Path, default=POSITIONS)
    parser.add_argument("--dry-run", action="store_true", help="print the counts only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    projects = load_projects()
    chosen = args.projects.split(",") if args.projects else list(projects)
    unknown = [name for name in chosen if name not in projects]
    if unknown:
        parser.error(f"unknown projects {unknown}; projects.json has {sorted(projects)}")
    tasks = task_functions()
    positions: list[Position] = []
    candidates = {}
    for name in chosen:
        found, candidates[name] = project_positions(projects[name], QUOTAS, tasks)
        log.info("%s: %s candidates, %d positions", name, candidates[name], len(found))
        positions += found
    positions.sort(key=lambda p: (p.project, p.path, p.line, p.col, p.kind))
    rows = [asdict(position) for position in positions]
    if args.dry_run:
        print(counts(rows))
        return
    data = {"built_with": "tests/completion_corpus/build.py"
                          + (f" --projects {args.projects}" if args.projects else ""),
            "salt": SALT, "quotas": QUOTAS, "heldout_share": HELDOUT_SHARE,
            "tune_on": "dev",
            "projects": {name: projects[name].requirement for name in chosen},
            "candidates": candidates, "positions": rows}
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(counts(rows))


if __name__ == "__main__":
    main()
