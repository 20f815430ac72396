"""Where the value a security rule looks at comes from: fixed in the source (literals and names
bound only to literals) or from somewhere at run time (a parameter, a call, an attribute...).

The security rules use it to stay quiet when the dangerous argument cannot change
(``eval('True')``, ``os.system(CMD)`` with a module constant) and to say in a finding's message
which input makes it dangerous. One ``Bindings`` is built per module, before the rules run, so
a constant defined below the function that uses it is still known.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

# What a name was bound by, when the binding is not a plain ``name = value``.
PARAMETER = "parameter"
LOOP = "loop"
IMPORT = "import"
OTHER = "other"

# Values the interpreter fixes, not the program's input: safe to format into a command.
TRUSTED_VALUES = frozenset({
    "sys.executable", "sys.prefix", "sys.exec_prefix", "sys.base_prefix", "sys.platform",
    "sys.version_info", "sys.version", "sys.maxsize", "os.devnull", "os.sep", "os.curdir",
    "os.pardir", "os.pathsep", "os.linesep", "os.name", "string.ascii_letters",
    "string.ascii_lowercase", "string.ascii_uppercase", "string.digits", "string.hexdigits",
    "string.punctuation", "string.whitespace", "__file__", "__name__",
})

# Functions that return a constant when every argument is one.
_PURE_FUNCTIONS = frozenset({
    "str", "bytes", "int", "float", "repr", "len", "tuple", "list", "sorted", "dict", "set",
    "frozenset", "chr", "ord", "min", "max", "textwrap.dedent", "textwrap.indent",
    "os.path.join", "os.path.dirname", "os.path.basename", "os.path.abspath",
    "os.path.normpath", "os.fsencode", "os.fsdecode", "bytes.fromhex",
})
_PURE_METHODS = frozenset({
    "join", "format", "encode", "decode", "strip", "lstrip", "rstrip", "lower", "upper",
    "replace", "split", "splitlines", "ljust", "rjust", "center", "expandtabs", "removeprefix",
    "removesuffix", "title", "casefold", "zfill",
})
# A value passed through these cannot break out of its quotes in a shell command.
SHELL_QUOTERS = frozenset({"shlex.quote", "shlex.join", "pipes.quote"})

_MAX_DEPTH = 12  # how far through names and expressions a value is followed


@dataclass
class Binding:
    kind: str  # "assign", or one of PARAMETER, LOOP, IMPORT, OTHER
    value: ast.AST | None = None  # the assigned value (for OTHER: what it was taken from)


@dataclass
class Scope:
    node: ast.AST
    parent: Scope | None
    is_class: bool = False
    names: dict[str, list[Binding]] = field(default_factory=lambda: defaultdict(list))
    name: str = ""


class Bindings:
    """Every name each scope of a module binds, and how; then lookups by scope."""

    def __init__(self, tree: ast.Module) -> None:
        self.module = Scope(tree, None)
        self.scope_of: dict[int, Scope] = {id(tree): self.module}
        self._global_names: set[str] = set()
        self._collect(tree.body, self.module)
        for name in self._global_names:
            self.module.names[name].append(Binding(OTHER))

    # -- collecting, in source order (an augmented assignment extends the value before it)

    def _collect(self, body: list[ast.stmt] | list[ast.AST], scope: Scope) -> None:
        for node in body:
            self._statement(node, scope)

    def _new_scope(self, node: ast.AST, parent: Scope, *, is_class: bool = False,
                   name: str = "") -> Scope:
        scope = Scope(node, parent, is_class=is_class, name=name)
        self.scope_of[id(node)] = scope
        return scope

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
                  scope: Scope) -> None:
        inner = self._new_scope(node, scope, name=getattr(node, "name", "lambda"))
        arguments = node.args
        for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                         arguments.vararg, arguments.kwarg):
            if argument is not None:
                inner.names[argument.arg].append(Binding(PARAMETER))
        if isinstance(node, ast.Lambda):
            self._expression(node.body, inner)
        else:
            self._collect(node.body, inner)

    def _statement(self, node: ast.AST, scope: Scope) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope.names[node.name].append(Binding(OTHER, node))
            for child in (*node.decorator_list, *node.args.defaults,
                          *[d for d in node.args.kw_defaults if d is not None]):
                self._expression(child, scope)
            self._function(node, scope)
            return
        if isinstance(node, ast.ClassDef):
            scope.names[node.name].append(Binding(OTHER, node))
            inner = self._new_scope(node, scope, is_class=True, name=node.name)
            self._collect(node.body, inner)
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind_target(target, node.value, scope)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._bind_target(node.target, node.value, scope)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            earlier = scope.names.get(node.target.id)
            left = earlier[-1].value if earlier and earlier[-1].value is not None else node.target
            combined = ast.BinOp(left=left, op=node.op, right=node.value)
            ast.copy_location(combined, node)
            scope.names[node.target.id].append(Binding("assign", combined))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._bind_all(node.target, scope, LOOP, node.iter)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self._bind_all(item.optional_vars, scope, OTHER, item.context_expr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                scope.names[local].append(Binding(IMPORT))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.names[node.name].append(Binding(OTHER))
        elif isinstance(node, ast.Global) and scope is not self.module:
            self._global_names.update(node.names)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self._bind_all(target, scope, OTHER, None)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt) or isinstance(child, ast.ExceptHandler) or (
                    isinstance(child, ast.match_case)):
                self._statement(child, scope)
            elif isinstance(child, ast.expr):
                self._expression(child, scope)
            elif isinstance(child, ast.pattern):
                for sub in ast.walk(child):
                    for name in _pattern_names(sub):
                        scope.names[name].append(Binding(OTHER))

    def _expression(self, node: ast.AST, scope: Scope) -> None:
        for sub in _walk_same_scope(node):
            if isinstance(sub, ast.Lambda):
                self._function(sub, scope)
            elif isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                scope.names[sub.target.id].append(Binding("assign", sub.value))
            elif isinstance(sub, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                inner = self._new_scope(sub, scope)
                for generator in sub.generators:
                    self._bind_all(generator.target, inner, LOOP, generator.iter)
                    for sub_expression in (generator.iter, *generator.ifs):
                        self._expression(sub_expression, inner)
                for element in (getattr(sub, "elt", None), getattr(sub, "key", None),
                                getattr(sub, "value", None)):
                    if element is not None:
                        self._expression(element, inner)

    def _bind_target(self, target: ast.AST, value: ast.AST, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            scope.names[target.id].append(Binding("assign", value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) \
                    and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts)):
                for element, element_value in zip(target.elts, value.elts):
                    self._bind_target(element, element_value, scope)
            else:
                self._bind_all(target, scope, OTHER, value)
        elif isinstance(target, ast.Starred):
            self._bind_all(target, scope, OTHER, value)

    def _bind_all(self, target: ast.AST, scope: Scope, kind: str, value: ast.AST | None) -> None:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                scope.names[sub.id].append(Binding(kind, value))

    # -- lookups

    def lookup(self, name: str, scope: Scope) -> tuple[list[Binding], Scope | None]:
        """The bindings ``name`` resolves to from ``scope`` (Python's rules, roughly)."""
        current: Scope | None = scope
        first = True
        while current is not None:
            # A class body's names are not visible from the functions inside it.
            if (first or not current.is_class) and name in current.names:
                return current.names[name], current
            first = False
            current = current.parent
        return [], None

    def enclosing_function(self, scope: Scope) -> Scope | None:
        current: Scope | None = scope
        while current is not None and (current.is_class or current is self.module):
            current = current.parent
        return current


def _pattern_names(node: ast.AST) -> Iterator[str]:
    for attribute in ("name", "rest"):
        value = getattr(node, attribute, None)
        if isinstance(value, str):
            yield value


def _walk_same_scope(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` that does not enter lambdas and comprehensions (they get their own scope)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                                    ast.GeneratorExp)):
            stack.extend(reversed(list(ast.iter_child_nodes(current))))


# ---------------------------------------------------------------------------------------------
# Judging a value


class Values:
    """Answers, for an expression at a place in a module, whether it is fixed in the source and,
    if not, where it comes from (in words, for a finding's message)."""

    def __init__(self, bindings: Bindings, qualified_names) -> None:
        self.bindings = bindings
        self.qualified_names = qualified_names  # node -> the full names it may stand for

    # -- constancy

    def is_constant(self, node: ast.AST | None, scope: Scope, *, shell: bool = False,
                    sql: bool = False, depth: int = 0, seen: frozenset[int] = frozenset()
                    ) -> bool:
        """True when ``node`` is built only from literals, names bound only to such values
        (also by a loop over a fixed collection), and values the interpreter fixes
        (``sys.executable``). With ``shell``, a value passed through ``shlex.quote`` counts as
        fixed too, and with ``sql`` one whose quotes are doubled (``.replace('"', '""')``):
        neither can leave its quotes."""
        if node is None or depth > _MAX_DEPTH:
            return False
        again = lambda child: self.is_constant(  # noqa: E731 - the same call, one level down
            child, scope, shell=shell, sql=sql, depth=depth + 1, seen=seen)
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(again(value) for value in node.values)
        if isinstance(node, ast.FormattedValue):
            return again(node.value) and (node.format_spec is None or again(node.format_spec))
        if isinstance(node, ast.BinOp):
            return again(node.left) and again(node.right)
        if isinstance(node, ast.UnaryOp):
            return again(node.operand)
        if isinstance(node, ast.BoolOp):
            return all(again(value) for value in node.values)
        if isinstance(node, ast.IfExp):
            return again(node.body) and again(node.orelse)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(again(element) for element in node.elts)
        if isinstance(node, ast.Starred):
            return again(node.value)
        if isinstance(node, ast.Dict):
            return all(key is None or again(key) for key in node.keys) and all(
                again(value) for value in node.values)
        if isinstance(node, ast.Subscript):
            return again(node.value) and again(node.slice)
        if isinstance(node, ast.Slice):
            return all(part is None or again(part) for part in (node.lower, node.upper, node.step))
        if isinstance(node, (ast.Name, ast.Attribute)) and \
                self.qualified_names(node) & TRUSTED_VALUES:
            return True
        if isinstance(node, ast.Name):
            return self._name_is_constant(node, scope, shell, sql, depth, seen)
        if isinstance(node, ast.Call):
            return self._call_is_constant(node, scope, shell, sql, depth, seen)
        return False

    def _name_is_constant(self, node: ast.Name, scope: Scope, shell: bool, sql: bool,
                          depth: int, seen: frozenset[int]) -> bool:
        bindings, where = self.bindings.lookup(node.id, scope)
        if not bindings or where is None or id(node) in seen:
            return False
        seen = seen | {id(node)}
        # A loop over a fixed collection binds fixed values: `for cmd in ('ver', 'cmd /c ver')`.
        return all(
            binding.kind in ("assign", LOOP) and binding.value is not None
            and self.is_constant(binding.value, where, shell=shell, sql=sql, depth=depth + 1,
                                 seen=seen)
            for binding in bindings
        )

    def _call_is_constant(self, node: ast.Call, scope: Scope, shell: bool, sql: bool,
                          depth: int, seen: frozenset[int]) -> bool:
        names = self.qualified_names(node.func)
        if shell and names & SHELL_QUOTERS:
            return True
        if sql and _doubles_quotes(node):
            return True
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        constant_arguments = all(
            self.is_constant(argument, scope, shell=shell, sql=sql, depth=depth + 1, seen=seen)
            for argument in arguments)
        if names & _PURE_FUNCTIONS:
            return constant_arguments
        if isinstance(node.func, ast.Attribute) and node.func.attr in _PURE_METHODS:
            return constant_arguments and self.is_constant(
                node.func.value, scope, shell=shell, sql=sql, depth=depth + 1, seen=seen)
        return False

    def is_built_by(self, node: ast.AST | None, scope: Scope, makers: frozenset[str],
                    depth: int = 0) -> bool:
        """True when ``node`` is the result of a call to one of ``makers`` (or a literal), also
        through names: ``data = pickle.dumps(x); pickle.loads(data)``."""
        if node is None or depth > _MAX_DEPTH:
            return False
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Call):
            if self.qualified_names(node.func) & makers:
                return True
            # A wrapper that keeps the bytes it is given (pickletools.optimize, bytes(...)).
            return bool(self.qualified_names(node.func) & {"pickletools.optimize", "bytes"}) \
                and bool(node.args) and self.is_built_by(node.args[0], scope, makers, depth + 1)
        if isinstance(node, ast.Name):
            bindings, where = self.bindings.lookup(node.id, scope)
            return bool(bindings) and where is not None and all(
                binding.kind == "assign"
                and self.is_built_by(binding.value, where, makers, depth + 1)
                for binding in bindings)
        return False

    # -- origins, in words

    def origin(self, node: ast.AST, scope: Scope, depth: int = 0) -> str:
        """Where ``node``'s value comes from: "a parameter of `f()`", "the result of `g()`"..."""
        if depth > 4:
            return "a value computed at run time"
        if isinstance(node, ast.Name):
            bindings, where = self.bindings.lookup(node.id, scope)
            if not bindings or where is None:
                return "a name defined elsewhere"
            varying = [b for b in bindings if not (
                b.kind == "assign" and b.value is not None and self.is_constant(b.value, where))]
            binding = (varying or bindings)[0]
            if binding.kind == PARAMETER:
                return f"a parameter of `{where.name}()`"
            if binding.kind == LOOP:
                return f"a loop variable over `{short(binding.value)}`" if binding.value \
                    else "a loop variable"
            if binding.kind == IMPORT:
                return "an imported name"
            if binding.kind == "assign" and binding.value is not None:
                if isinstance(binding.value, ast.Name) and binding.value.id == node.id:
                    return "a value computed at run time"
                return self.origin(binding.value, where, depth + 1)
            if binding.value is not None:
                return f"a value taken from `{short(binding.value)}`"
            return "a value bound at run time"
        if isinstance(node, ast.Call):
            if "compile" in self.qualified_names(node.func) and node.args:
                source = node.args[0]
                return f"code compiled from `{short(source)}`, " \
                    f"{self.origin(source, scope, depth + 1)}"
            return f"the result of `{short(node.func)}()`"
        if isinstance(node, ast.Attribute):
            return f"the attribute `{short(node)}`, set at run time"
        if isinstance(node, ast.Subscript):
            return f"an item of `{short(node.value)}`"
        part = self.first_varying_part(node, scope)
        if part is not None and part is not node:
            return f"text formatted from `{short(part)}`, {self.origin(part, scope, depth + 1)}"
        return "a value computed at run time"

    def first_varying_part(self, node: ast.AST, scope: Scope) -> ast.AST | None:
        """The first piece of a built string (or collection) that is not fixed in the source."""
        if isinstance(node, ast.JoinedStr):
            pieces = [value.value for value in node.values if isinstance(value, ast.FormattedValue)]
        elif isinstance(node, ast.BinOp):
            pieces = [node.left, node.right]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _PURE_METHODS:
            pieces = [node.func.value, *node.args, *(k.value for k in node.keywords)]
        elif isinstance(node, (ast.Tuple, ast.List)):
            pieces = list(node.elts)
        else:
            return None if self.is_constant(node, scope) else node
        for piece in pieces:
            if not self.is_constant(piece, scope):
                inner = self.first_varying_part(piece, scope)
                return inner if inner is not None else piece
        return None


def _doubles_quotes(call: ast.Call) -> bool:
    """``name.replace('"', '""')``: SQL's own escape for a quoted identifier or string."""
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "replace"
            and len(call.args) == 2):
        return False
    old, new = (arg.value if isinstance(arg, ast.Constant) else None for arg in call.args)
    return old in ('"', "'") and new == old * 2


def short(node: ast.AST | None, limit: int = 40) -> str:
    """The source text of ``node`` on one line, cut to ``limit`` characters."""
    if node is None:
        return ""
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # noqa: BLE001 - unparse of a hand-made node; a name is enough
        return type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
