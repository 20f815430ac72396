"""Hearth's security guardrail rules (HS1xx): an AST scan for dangerous calls, injectable SQL,
weak permissions and hard-coded secrets, shared by diagnostics and by the AI pipeline's checks.

Rules resolve import aliases (``import subprocess as sp``, ``from pickle import loads as l``)
module-wide, and a name that is never imported stands for itself, so ``os.system(...)`` in a
snippet without its imports is still found. A finding is silenced by ``# noqa: HS101`` (codes
as in flake8, prefixes allowed) on any line of the flagged call, assignment or literal. A bare
``# noqa`` does not silence these rules: a guardrail has to be waived by name, so neither a
blanket comment written for flake8 nor one a model adds to its own output can hide a finding.
"""

from __future__ import annotations

import ast
import io
import logging
import re
import stat
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from types import MappingProxyType

from hearth.core.analysis.findings import (
    Finding,
    Severity,
    source_lines,
    utf8_offset_to_column,
    without_lone_surrogates,
)
from hearth.core.analysis.security_testcode import (
    is_test_function,
    is_test_path,
    severity_for_tests,
)
from hearth.core.analysis.security_values import Bindings, Scope, Values, short

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecurityRule:
    """What a rule is called, says, and explains (``message`` may name the call: ``{name}``)."""

    id: str
    name: str
    message: str
    explanation: str
    alternative: str
    severity: Severity
    cwe: int

    @property
    def url(self) -> str:
        return f"https://cwe.mitre.org/data/definitions/{self.cwe}.html"


_RULE_LIST = (
    SecurityRule(
        "HS101", "dynamic-code-execution", "{name}() of `{arg}`, {origin}: the code in it runs",
        "eval, exec and compile run whatever text they are given; when that text is not a "
        "literal, anyone who can influence it can run arbitrary code in your process.",
        "ast.literal_eval for data, json for serialised values, a dict of allowed operations.",
        Severity.ERROR, 95,
    ),
    SecurityRule(
        "HS102", "shell-command",
        "{name}() of `{arg}`, {origin}: the shell parses it, so ';', '|' or '$()' in it "
        "run more commands",
        "The command string is interpreted by /bin/sh, so quotes, ';', '|' or '$()' in any "
        "interpolated value become shell syntax (command injection).",
        "subprocess.run([...], check=True) with an argument list and no shell.",
        Severity.WARNING, 78,
    ),
    SecurityRule(
        "HS103", "subprocess-shell-true",
        "{name}() with shell=True of `{arg}`, {origin}: the shell parses it, so ';', '|' or "
        "'$()' in it run more commands",
        "With shell=True the command is parsed by the shell, so any value formatted into it "
        "can inject further commands.",
        "Pass the command as a list of arguments and leave shell at its default (False).",
        Severity.WARNING, 78,
    ),
    SecurityRule(
        "HS104", "unsafe-deserialization",
        "{name}() of `{arg}`, {origin}: data in it can name any function to call while it loads",
        "pickle, marshal and dill reconstruct objects by calling code named in the data; "
        "loading data an attacker can touch executes the attacker's code.",
        "json, or a schema-checked format; keep pickle for data this process wrote itself.",
        Severity.WARNING, 502,
    ),
    SecurityRule(
        "HS105", "yaml-unsafe-load",
        "{name}() of `{arg}` without a safe Loader, {origin}: a !!python tag in it calls any "
        "function",
        "PyYAML's full and unsafe loaders honour tags such as !!python/object/apply, which "
        "call arbitrary functions while the document is parsed.",
        "yaml.safe_load(...) or yaml.load(..., Loader=yaml.SafeLoader) (or CSafeLoader).",
        Severity.WARNING, 502,
    ),
    SecurityRule(
        "HS106", "sql-string-formatting",
        "SQL passed to {name}() is formatted from `{arg}`, {origin}: a quote in it changes the "
        "query",
        "Values formatted into SQL text are parsed as SQL, so a quote in the value changes the "
        "query (SQL injection).",
        "Placeholders with parameters: cursor.execute('... WHERE id = ?', (user_id,)).",
        Severity.WARNING, 89,
    ),
    SecurityRule(
        "HS107", "world-writable-permissions",
        "{name}() with mode {arg}: every local user may write to the file",
        "A mode with the 'others may write' bit (0o002, e.g. 0o777) lets any local user "
        "replace or tamper with the file.",
        "The narrowest mode that works, e.g. 0o600 for private files, 0o644 or 0o755 otherwise.",
        Severity.WARNING, 732,
    ),
    SecurityRule(
        "HS108", "insecure-temp-file",
        "{name}() only picks a name: another process can create that file first (a race)",
        "mktemp only invents a name; between choosing it and opening it another process can "
        "create the file or a symlink there (a race).",
        "tempfile.NamedTemporaryFile, tempfile.mkstemp or tempfile.TemporaryDirectory.",
        Severity.WARNING, 377,
    ),
    SecurityRule(
        "HS109", "hard-coded-token", "Hard-coded {name} in a string literal",
        "Credentials in source code end up in version control, logs and packages, where they "
        "cannot be revoked quietly; this literal has the format of a real key or token.",
        "Read it at run time from the environment or a secrets manager, and revoke this one.",
        Severity.ERROR, 798,
    ),
    SecurityRule(
        "HS110", "hard-coded-password", "Hard-coded secret assigned to '{name}'",
        "A password, token or key written into the source is shared with everyone who can "
        "read the code and cannot be rotated without a release.",
        "os.environ['NAME'] (or a secrets manager, or keyring) instead of a literal.",
        Severity.ERROR, 798,
    ),
    SecurityRule(
        "HS111", "tls-verification-disabled",
        "{name}() with verify=False: the server's certificate is not checked, so anyone on the "
        "network path can pose as it",
        "Without certificate verification anyone on the network path can impersonate the "
        "server and read or change the traffic.",
        "Keep verify=True (the default); for a private CA pass verify='/path/to/ca-bundle.pem'.",
        Severity.WARNING, 295,
    ),
)

RULES: Mapping[str, SecurityRule] = MappingProxyType({rule.id: rule for rule in _RULE_LIST})


def unknown_rule_ids(rule_ids: Iterable[str]) -> list[str]:
    """The ids in ``rule_ids`` that name no rule (for validating a disabledRules setting)."""
    return [rule_id for rule_id in rule_ids if rule_id.strip().upper() not in RULES]


def scan(source: str, disabled: Iterable[str] = (), *, path: str | PurePath | None = None,
         test_severity: str = "hint", include_constant: bool = False) -> list[Finding]:
    """Run every rule not in ``disabled`` over ``source``; never raises on any source.

    A source that does not parse yields no findings (flake8 reports the syntax error).
    ``path`` (relative to the workspace, best) says whether the file is test code; so does a
    ``test_*`` function or a ``Test*`` class. Findings in test code get ``test_severity``
    ("hint" by default; "rule" keeps the rule's own, "off" drops them), except HS109: a real
    key leaks from a test file as from any other. ``include_constant`` also reports calls whose
    dangerous argument is fixed in the source (``os.system('ls')``): the output guard wants
    those from a model, the diagnostics do not. A bad ``test_severity`` is a ValueError.
    """
    in_tests = severity_for_tests(test_severity)
    if isinstance(source, str):  # positions are kept; ast.parse refuses lone surrogates
        source = without_lone_surrogates(source)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return []
    try:
        return _scan_tree(source, tree, {rule_id.strip().upper() for rule_id in disabled},
                          test_file=is_test_path(path), in_tests=in_tests,
                          include_constant=include_constant)
    except RecursionError:
        logger.warning("Security scan skipped: the source is nested too deeply")
    except Exception:
        logger.exception("Security scan failed")
    return []


# ---------------------------------------------------------------------------------------------
# Turning hits into findings


@dataclass(frozen=True)
class _Hit:
    rule_id: str
    node: ast.AST  # what to highlight
    anchor: ast.AST  # a `# noqa` on any line of this node silences the hit
    message: str
    # A narrower (line, column, end_line, end_column) in code points than ``node``'s.
    span: tuple[int, int, int, int] | None = None
    in_test: bool = False  # inside a test function or class


# A leaked key is as live in a test file as anywhere else.
_SEVERITY_KEPT_IN_TESTS = frozenset({"HS109"})


def _scan_tree(source: str, tree: ast.Module, disabled: set[str], *, test_file: bool,
               in_tests: Severity | None | bool, include_constant: bool) -> list[Finding]:
    unknown = disabled - RULES.keys()
    if unknown:
        logger.warning("Unknown security rule ids in disabledRules: %s", ", ".join(sorted(unknown)))
    lines = source_lines(source)
    imports = _Imports(tree)
    scanner = _Scanner(imports, lines, Values(Bindings(tree), imports.qualified_names),
                       include_constant=include_constant)
    scanner.visit(tree)
    # Tokenizing the whole file for its comments is a fifth of a scan: only when a hit
    # could be waived, and some line says noqa.
    waivers = _noqa_codes_by_line(lines) if scanner.hits and "noqa" in source.lower() \
        else {}
    findings = set()
    for hit in scanner.hits:
        if hit.rule_id in disabled or _is_waived(hit, waivers):
            continue
        severity = RULES[hit.rule_id].severity
        if (test_file or hit.in_test) and hit.rule_id not in _SEVERITY_KEPT_IN_TESTS:
            if in_tests is False:
                continue
            severity = in_tests or severity
        findings.add(_to_finding(hit, lines, severity))
    return sorted(findings, key=lambda f: (f.line, f.column, f.code))


def _to_finding(hit: _Hit, lines: list[str], severity: Severity) -> Finding:
    rule = RULES[hit.rule_id]
    line, column, end_line, end_column = hit.span or _node_span(hit.node, lines)
    return Finding(
        code=rule.id,
        message=hit.message,
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        severity=severity,
        source="hearth",
        url=rule.url,
        explanation=rule.explanation,
    )


def _line_text(lines: list[str], index: int) -> str:
    return lines[index] if 0 <= index < len(lines) else ""


def _node_span(node: ast.AST, lines: list[str]) -> tuple[int, int, int, int]:
    line = node.lineno - 1
    end_line = (node.end_lineno or node.lineno) - 1
    column = utf8_offset_to_column(_line_text(lines, line), node.col_offset)
    end_column = utf8_offset_to_column(_line_text(lines, end_line), node.end_col_offset or 0)
    return line, column, end_line, end_column


_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)", re.IGNORECASE)


def _noqa_codes_by_line(lines: list[str]) -> dict[int, tuple[str, ...]]:
    """0-based line -> the codes its ``# noqa: ...`` comment names."""
    try:
        comments = [
            (token.start[0] - 1, token.string)
            for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        # The source parsed, so this is rare; reading the raw lines is the best remaining guess.
        comments = [(index, text) for index, text in enumerate(lines) if "#" in text]
    waivers = {}
    for index, comment in comments:
        match = _NOQA.search(comment)
        if match:
            waivers[index] = tuple(re.split(r"[,\s]+", match.group("codes").upper()))
    return waivers


def _is_waived(hit: _Hit, waivers: dict[int, tuple[str, ...]]) -> bool:
    first = hit.anchor.lineno - 1
    last = (hit.anchor.end_lineno or hit.anchor.lineno) - 1
    return any(
        hit.rule_id.startswith(waivers.get(line, ("\0",))) for line in range(first, last + 1)
    )


# ---------------------------------------------------------------------------------------------
# Names


class _Imports:
    """Which fully qualified names each local name may stand for, from every import in a module."""

    def __init__(self, tree: ast.Module) -> None:
        self._bindings: dict[str, set[str]] = defaultdict(set)
        self._star_modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self._bindings[alias.asname].add(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        self._bindings[top].add(top)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self._star_modules.add(node.module)
                    else:
                        local_name = alias.asname or alias.name
                        self._bindings[local_name].add(f"{node.module}.{alias.name}")

    def qualified_names(self, node: ast.AST) -> set[str]:
        """``sp.run`` -> {"subprocess.run"}; an unknown expression -> set()."""
        attributes = []
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return set()
        attributes.reverse()
        bases = set(self._bindings.get(node.id, ()))
        if not bases:
            bases = {node.id} | {f"{module}.{node.id}" for module in self._star_modules}
        return {".".join([base, *attributes]).removeprefix("builtins.") for base in bases}


def _display_name(names: set[str], wanted: Iterable[str]) -> str:
    return min(names & set(wanted))


# ---------------------------------------------------------------------------------------------
# Literals


def _is_literal(node: ast.AST) -> bool:
    """True for text fixed in the source: a constant, an f-string without fields, or a sum."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(value, ast.Constant) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_literal(node.left) and _is_literal(node.right)
    return False


def _string_value(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _keyword_node(call: ast.Call, name: str) -> ast.keyword | None:
    return next((keyword for keyword in call.keywords if keyword.arg == name), None)


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    if len(call.args) > position and not any(
        isinstance(arg, ast.Starred) for arg in call.args[: position + 1]
    ):
        return call.args[position]
    return _keyword(call, name)


def _constant_int(node: ast.AST | None, imports: _Imports) -> int | None:
    """The value of an integer expression made of literals and ``stat.S_*`` constants."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.Add, ast.BitAnd)):
        left, right = _constant_int(node.left, imports), _constant_int(node.right, imports)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.BitAnd):
            return left & right
        return left | right if isinstance(node.op, ast.BitOr) else left + right
    for name in sorted(imports.qualified_names(node) if node is not None else ()):
        module, _, attribute = name.rpartition(".")
        if module == "stat" and attribute.startswith("S_"):
            value = getattr(stat, attribute, None)
            if type(value) is int:
                return value
    return None


# ---------------------------------------------------------------------------------------------
# Secrets

_TOKEN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    (
        "private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,300}?[A-Za-z0-9+/]{32}"
        ),
    ),
    (
        "GitHub token",
        re.compile(r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    ),
    ("Slack token", re.compile(r"(?<!\w)xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])")),
    ("Stripe live key", re.compile(r"(?<!\w)[sr]k_live_[0-9A-Za-z]{16,}")),
    (
        "JSON Web Token",
        re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
)

# A real key is random; "ghp_xxxx..." or "AKIA0000000000000000" is a placeholder.
_MIN_DISTINCT_CHARACTERS = 8


def _token_in(text: str) -> tuple[str, re.Match[str]] | None:
    for kind, pattern in _TOKEN_FORMATS:
        for match in pattern.finditer(text):
            token = match.group()
            if len(set(token)) >= _MIN_DISTINCT_CHARACTERS and "EXAMPLE" not in token:
                return kind, match
    return None


_SECRET_NAME = re.compile(
    r"(?:^|_)(?:pass(?:word|wd|phrase)|secret|secret_?key|api_?key|token|access_?key|private_?key)$"
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PLACEHOLDER_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "changeme", "change_me", "change-me", "none",
     "null", "todo", "fixme", "tbd", "example", "dummy", "fake", "test", "placeholder",
     "redacted", "hidden", "api_key", "apikey"}
)
_PLACEHOLDER = re.compile(
    r"<[^<>]*>|\$\{[^}]*\}|\{\{.*\}\}|%\([^)]*\)s|\{[^{}]*\}|\$[A-Za-z_]\w*"  # templates
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"  # the name of an environment variable
    r"|(?i:(?:your|my)[\s_-].*|(?:test|dummy|fake|example|sample|placeholder).*)"
    r"|(?i:.*(?:changeme|x{3,}|\*{3,}).*)",
    re.DOTALL,
)


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(_CAMEL_BOUNDARY.sub("_", name).lower()))


def _is_placeholder(value: str) -> bool:
    stripped = value.strip()
    return (
        len(set(stripped)) <= 2
        or stripped.lower() in _PLACEHOLDER_WORDS
        or _PLACEHOLDER.fullmatch(stripped) is not None
    )


def _target_name(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return _string_value(target.slice)
    return None


# ---------------------------------------------------------------------------------------------
# SQL

_SQL_KEYWORDS = re.compile(
    r"\b(?:select|insert|update|delete|replace|create|drop|alter|truncate|merge|pragma|grant|"
    r"revoke|where|values|from|join|into|order\s+by|group\s+by|having|limit|union)\b",
    re.IGNORECASE,
)
_SQL_METHODS = frozenset({"execute", "executemany", "executescript"})
_SQL_TEXT_WRAPPERS = frozenset(
    {"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "text"}
)


def _string_parts(node: ast.AST) -> Iterator[ast.AST]:
    """The pieces of a string built with ``+``, in order."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        yield from _string_parts(node.left)
        yield from _string_parts(node.right)
    else:
        yield node


def _literal_text(parts: Iterable[ast.AST]) -> str:
    texts = []
    for part in parts:
        if isinstance(part, ast.JoinedStr):
            texts.append(_literal_text(part.values))
        else:
            texts.append(_string_value(part) or " ? ")
    return "".join(texts)


def _is_formatted_sql(node: ast.AST) -> bool:
    """True for SQL text that interpolates values: f-string, ``%``, ``.format`` or ``+``."""
    if isinstance(node, ast.JoinedStr):
        formatted = any(isinstance(value, ast.FormattedValue) for value in node.values)
        return formatted and bool(_SQL_KEYWORDS.search(_literal_text(node.values)))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        template = _string_value(node.left)
        return template is not None and bool(_SQL_KEYWORDS.search(template))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        template = _string_value(node.func.value)
        return template is not None and bool(_SQL_KEYWORDS.search(template))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = list(_string_parts(node))
        if all(_is_literal(part) for part in parts):
            return False
        return bool(_SQL_KEYWORDS.search(_literal_text(parts)))
    return False


# ---------------------------------------------------------------------------------------------
# The scan


_DYNAMIC_CODE = frozenset({"eval", "exec", "compile"})
_SHELL_COMMANDS = frozenset(
    {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
     "asyncio.create_subprocess_shell"}
)
_SUBPROCESS_CALLS = frozenset(
    {f"subprocess.{name}" for name in ("run", "call", "check_call", "check_output", "Popen")}
)
_PICKLE_MODULES = ("pickle", "cPickle", "_pickle", "dill", "marshal")
_DESERIALISERS = frozenset(
    f"{module}.{name}"
    for module in _PICKLE_MODULES
    for name in ("load", "loads", "Unpickler")
    if not (module == "marshal" and name == "Unpickler")
)
# Data this process serialised itself: loading it back runs nothing an attacker chose.
_SERIALISERS = frozenset(f"{module}.dumps" for module in _PICKLE_MODULES)
_YAML_LOADS = frozenset({"yaml.load", "yaml.load_all"})
_YAML_UNSAFE_LOADS = frozenset({"yaml.unsafe_load", "yaml.unsafe_load_all"})
_YAML_SAFE_LOADERS = frozenset(
    {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
)
_CHMOD_FUNCTIONS = frozenset({"os.chmod", "os.lchmod", "os.fchmod"})
_HTTP_MODULES = ("requests.", "httpx.")
_HTTP_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream"}
)
# What turns a code object into something callable without an exec or eval in sight.
_CODE_RUNNERS = frozenset({"types.FunctionType", "types.LambdaType", "FunctionType"})
_ONLY_AST = 0x400  # ast.PyCF_ONLY_AST: compile() then only parses

CallRule = Callable[["_Scanner", ast.Call, set[str]], Iterator[_Hit]]


class _Scanner(ast.NodeVisitor):
    """Walks a module once, in source order, collecting every rule's hits."""

    def __init__(self, imports: _Imports, lines: list[str], values: Values, *,
                 include_constant: bool = False) -> None:
        self.imports = imports
        self.lines = lines
        self.values = values
        self.include_constant = include_constant
        self.hits: list[_Hit] = []
        self.scope: Scope = values.bindings.module
        self._test_depth = 0
        self._parents: list[ast.AST] = []

    def visit(self, node: ast.AST) -> None:
        self._parents.append(node)
        try:
            super().visit(node)
        finally:
            self._parents.pop()

    def _hit(self, rule_id: str, node: ast.AST, anchor: ast.AST, message: str,
             span: tuple[int, int, int, int] | None = None) -> _Hit:
        return _Hit(rule_id, node, anchor, message, span, in_test=self._test_depth > 0)

    # -- scopes

    def _visit_in_scope(self, owner: ast.AST, nodes: Iterable[ast.AST]) -> None:
        outer = self.scope
        self.scope = self.values.bindings.scope_of.get(id(owner), outer)
        test = is_test_function(owner)
        self._test_depth += test
        try:
            for node in nodes:
                self.visit(node)
        finally:
            self.scope = outer
            self._test_depth -= test

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._check_default_secrets(node.args)
        self.visit(node.args)
        if node.returns:
            self.visit(node.returns)
        self._visit_in_scope(node, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._check_default_secrets(node.args)
        self.visit(node.args)
        self._visit_in_scope(node, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        self._visit_in_scope(node, node.body)

    def _visit_comprehension(self, node: ast.AST) -> None:
        self._visit_in_scope(node, list(ast.iter_child_nodes(node)))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    # -- values

    def _is_fixed(self, node: ast.AST | None, *, shell: bool = False) -> bool:
        return not self.include_constant and self.values.is_constant(node, self.scope,
                                                                     shell=shell)

    def _describe(self, node: ast.AST | None) -> tuple[str, str]:
        """(the argument as written, where its value comes from) for a message."""
        if node is None:
            return "…", "an argument not shown"
        if self.values.is_constant(node, self.scope):
            return short(node), "fixed in the source"
        part = self.values.first_varying_part(node, self.scope)
        if part is not None and part is not node and not isinstance(node, ast.Name):
            return short(node), (f"formatted from `{short(part)}`, "
                                 f"{self.values.origin(part, self.scope)}")
        return short(node), self.values.origin(node, self.scope)

    def _message(self, rule_id: str, name: str, argument: ast.AST | None) -> str:
        arg, origin = self._describe(argument)
        return RULES[rule_id].message.format(name=name, arg=arg, origin=origin)

    # -- assignments and secrets

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_named_secret(_target_name(target), node.value, anchor=node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._check_named_secret(_target_name(node.target), node.value, anchor=node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            found = _token_in(node.value)
            if found:
                kind, match = found
                message = RULES["HS109"].message.format(name=kind)
                self.hits.append(self._hit("HS109", node, node, message,
                                           self._narrow(node, match.group())))

    def _narrow(self, node: ast.AST, text: str) -> tuple[int, int, int, int] | None:
        """The span of ``text`` if it is written out verbatim on the literal's first line."""
        line, column, _, _ = _node_span(node, self.lines)
        start = _line_text(self.lines, line).find(text, column)
        return (line, start, line, start + len(text)) if start >= 0 else None

    def _check_named_secret(self, name: str | None, value: ast.AST | None, anchor: ast.AST) -> None:
        text = _string_value(value)
        if (
            value is not None
            and name
            and text is not None
            and _is_secret_name(name)
            and not _is_placeholder(text)
            and _token_in(text) is None  # HS109 reports those, more precisely
        ):
            message = RULES["HS110"].message.format(name=name)
            self.hits.append(self._hit("HS110", value, anchor, message))

    def _check_default_secrets(self, arguments: ast.arguments) -> None:
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = [
            *zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults),
            *zip(arguments.kwonlyargs, arguments.kw_defaults),
        ]
        for argument, default in pairs:
            self._check_named_secret(argument.arg, default, anchor=default or argument)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values):
            self._check_named_secret(_string_value(key), value, anchor=value)
        self.generic_visit(node)

    # -- calls

    def visit_Call(self, node: ast.Call) -> None:
        names = self.imports.qualified_names(node.func)
        for rule in _CALL_RULES:
            self.hits.extend(rule(self, node, names))
        for keyword in node.keywords:
            self._check_named_secret(keyword.arg, keyword.value, anchor=keyword)
        self.generic_visit(node)

    def dynamic_code(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if not names & _DYNAMIC_CODE:
            return
        name = _display_name(names, _DYNAMIC_CODE)
        source = _argument(call, 0, "source")
        if source is None or self._is_fixed(source) or self._is_fixed_code(source):
            return
        if name == "compile":
            fate = self._compiled_fate(call)
            if fate is not None:
                arg, origin = self._describe(source)
                yield self._hit("HS101", call.func, call,
                                f"compile() of `{arg}`, {origin}: {fate}")
            return
        yield self._hit("HS101", call.func, call, self._message("HS101", name, source))

    def _is_fixed_code(self, node: ast.AST) -> bool:
        """A code object compiled from text fixed in the source (``exec(compile(CODE, ...))``)."""
        if self.include_constant:
            return False
        if isinstance(node, ast.Name):
            bindings, where = self.values.bindings.lookup(node.id, self.scope)
            return bool(bindings) and all(
                binding.kind == "assign" and isinstance(binding.value, ast.Call)
                and self._compiles_fixed_text(binding.value, where or self.scope)
                for binding in bindings)
        return isinstance(node, ast.Call) and self._compiles_fixed_text(node, self.scope)

    def _compiles_fixed_text(self, call: ast.Call, scope: Scope) -> bool:
        return "compile" in self.imports.qualified_names(call.func) and \
            self.values.is_constant(_argument(call, 0, "source"), scope)

    def _compiled_fate(self, call: ast.Call) -> str | None:
        """What runs the code object ``compile`` makes, in words, or None.

        compile itself runs nothing: the finding belongs where the code object is run. An exec
        or eval reports it, with the compiled text as its origin, in this function or in the
        one the code object is passed or returned to; so compile reports only a code object
        made into a function here (``types.FunctionType``), which no exec will show. Parsing
        (PyCF_ONLY_AST), a syntax check and disassembly therefore report nothing.
        """
        flags = _argument(call, 3, "flags")
        if flags is not None and self._has_only_ast(flags):
            return None
        parent = self._parents[-2] if len(self._parents) > 1 else None
        if isinstance(parent, ast.Attribute):  # compile(...).co_consts
            parent = self._parents[-3] if len(self._parents) > 2 else None
        if isinstance(parent, ast.Call) and call is not parent.func:
            return self._fate_as_argument(parent)
        target = None
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
        elif isinstance(parent, ast.AnnAssign):
            target = parent.target
        if isinstance(target, ast.Name):
            return self._fate_of_name(target.id)
        return None

    def _fate_as_argument(self, call: ast.Call) -> str | None:
        if self.imports.qualified_names(call.func) & _CODE_RUNNERS:
            return f"the code object it makes becomes a function through `{short(call.func)}()`"
        return None

    def _fate_of_name(self, name: str) -> str | None:
        owner = self.scope.node
        body = owner.body if isinstance(getattr(owner, "body", None), list) else [owner]
        for statement in body:
            for node in ast.walk(statement):
                if not isinstance(node, ast.Call):
                    continue
                for argument in ast.walk(node):
                    if isinstance(argument, ast.Name) and argument.id == name and \
                            argument is not node.func:
                        fate = self._fate_as_argument(node)
                        if fate is not None:
                            return fate
        return None

    def _has_only_ast(self, flags: ast.AST, depth: int = 0) -> bool:
        for node in ast.walk(flags):
            if isinstance(node, ast.Attribute) and node.attr == "PyCF_ONLY_AST":
                return True
            if isinstance(node, ast.Name) and node.id == "PyCF_ONLY_AST":
                return True
            if isinstance(node, ast.Constant) and type(node.value) is int and \
                    node.value & _ONLY_AST:
                return True
            if isinstance(node, ast.Name) and depth < 3:
                # `flags = PyCF_ONLY_AST` then `flags |= PyCF_TYPE_COMMENTS`, as ast.parse does
                bindings, _ = self.values.bindings.lookup(node.id, self.scope)
                if any(binding.value is not None and binding.value is not flags
                       and self._has_only_ast(binding.value, depth + 1) for binding in bindings):
                    return True
        return False

    def shell_command(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if names & _SHELL_COMMANDS:
            command = _argument(call, 0, "cmd") or _keyword(call, "command")
            if command is not None and self._is_fixed(command, shell=True):
                return
            name = _display_name(names, _SHELL_COMMANDS)
            yield self._hit("HS102", call.func, call, self._message("HS102", name, command))

    def subprocess_shell(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        shell = _keyword_node(call, "shell")
        if (
            names & _SUBPROCESS_CALLS
            and shell is not None
            and isinstance(shell.value, ast.Constant)
            and shell.value.value
        ):
            command = _argument(call, 0, "args")
            if command is not None and self._is_fixed(command, shell=True):
                return
            name = _display_name(names, _SUBPROCESS_CALLS)
            yield self._hit("HS103", shell, call, self._message("HS103", name, command))

    def deserialisation(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if names & _DESERIALISERS:
            data = _argument(call, 0, "data") or _keyword(call, "file")
            if data is not None and (self._is_fixed(data) or (
                    not self.include_constant
                    and self.values.is_built_by(data, self.scope, _SERIALISERS))):
                return
            name = _display_name(names, _DESERIALISERS)
            message = self._message("HS104", name, data)
            if name.startswith("marshal."):
                # marshal builds only code and plain values; bad data crashes rather than calls.
                message = message.replace("data in it can name any function to call while it "
                                          "loads", "marshal is not safe for data others can "
                                          "write: crafted data can crash the process")
            yield self._hit("HS104", call.func, call, message)

    def yaml_load(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if not names & (_YAML_LOADS | _YAML_UNSAFE_LOADS):
            return
        stream = _argument(call, 0, "stream")
        if stream is not None and self._is_fixed(stream):
            return
        if names & _YAML_UNSAFE_LOADS:
            name = _display_name(names, _YAML_UNSAFE_LOADS)
            yield self._hit("HS105", call.func, call, self._message("HS105", name, stream))
        elif names & _YAML_LOADS:
            loader = _argument(call, 1, "Loader")
            loaders = self.imports.qualified_names(loader) if loader is not None else set()
            if not loaders or not loaders <= _YAML_SAFE_LOADERS:
                name = _display_name(names, _YAML_LOADS)
                yield self._hit("HS105", call.func, call, self._message("HS105", name, stream))

    def sql_formatting(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if not (isinstance(call.func, ast.Attribute) and call.func.attr in _SQL_METHODS):
            return
        query = _argument(call, 0, "sql") or _keyword(call, "query") or _keyword(call, "operation")
        if isinstance(query, ast.Call) and (
            self.imports.qualified_names(query.func) & _SQL_TEXT_WRAPPERS
        ):
            query = _argument(query, 0, "text")
        if query is None:
            return
        scope = self.scope
        if isinstance(query, ast.Name):
            bindings, where = self.values.bindings.lookup(query.id, self.scope)
            candidates = [b.value for b in bindings if b.kind == "assign" and b.value is not None]
            scope = where or scope
        else:
            candidates = [query]
        for candidate in candidates:
            if _is_formatted_sql(candidate) and not (
                    not self.include_constant
                    and self.values.is_constant(candidate, scope, sql=True)):
                part = self.values.first_varying_part(candidate, scope) or candidate
                message = RULES["HS106"].message.format(
                    name=call.func.attr, arg=short(part), origin=self.values.origin(part, scope))
                yield self._hit("HS106", query, call, message)
                return

    def world_writable(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if names & _CHMOD_FUNCTIONS:
            mode, name = _argument(call, 1, "mode"), _display_name(names, _CHMOD_FUNCTIONS)
        elif isinstance(call.func, ast.Attribute) and call.func.attr == "chmod":
            mode, name = _argument(call, 0, "mode"), "chmod"
        else:
            return
        value = _constant_int(mode, self.imports)
        if mode is not None and value is not None and value & stat.S_IWOTH:
            message = RULES["HS107"].message.format(name=name, arg=f"{value:#o}")
            yield self._hit("HS107", mode, call, message)

    def insecure_temp_file(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        if "tempfile.mktemp" in names:
            message = RULES["HS108"].message.format(name="tempfile.mktemp")
            yield self._hit("HS108", call.func, call, message)

    def tls_unverified(self, call: ast.Call, names: set[str]) -> Iterator[_Hit]:
        verify = _keyword_node(call, "verify")
        if not (
            verify is not None
            and isinstance(verify.value, ast.Constant)
            and verify.value.value is not None
            and not verify.value.value
        ):
            return
        http_names = {name for name in names if name.startswith(_HTTP_MODULES)}
        if http_names:
            name = min(http_names)
        elif isinstance(call.func, ast.Attribute) and call.func.attr in _HTTP_METHODS:
            name = ast.unparse(call.func)
        else:
            return
        yield self._hit("HS111", verify, call, RULES["HS111"].message.format(name=name))


_CALL_RULES: tuple[CallRule, ...] = (
    _Scanner.dynamic_code,
    _Scanner.shell_command,
    _Scanner.subprocess_shell,
    _Scanner.deserialisation,
    _Scanner.yaml_load,
    _Scanner.sql_formatting,
    _Scanner.world_writable,
    _Scanner.insecure_temp_file,
    _Scanner.tls_unverified,
)
