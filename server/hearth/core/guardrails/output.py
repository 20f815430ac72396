"""The output guard: a candidate may not bring in what the user's code did not already have: a
new security finding (HS1xx), a dangerous call disguised from the security rules (HG403), a
redacted secret in a new place (HG302), or a network call or file deletion in a function that
looks pure (HG401, HG402)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator

from hearth.core.analysis import RULES as SECURITY_RULES
from hearth.core.analysis import new_findings, scan

# Private helper of the security rules, reused for the same alias resolution.
from hearth.core.analysis.security import _Imports
from hearth.core.guardrails.rules import RULES, GuardFinding, is_enabled, verdict
from hearth.core.guardrails.secrets import PLACEHOLDER
from hearth.core.analysis.python_targets import find_function
from hearth.settings import GuardrailSettings

NETWORK_MODULES = frozenset({
    "socket", "ssl", "urllib.request", "urllib3", "requests", "httpx", "http.client", "aiohttp",
    "ftplib", "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc.client", "paramiko",
    "websocket", "websockets", "grpc", "pycurl", "asyncio.open_connection",
    "asyncio.open_unix_connection", "asyncio.start_server",
})
DELETION_CALLS = frozenset({
    "os.remove", "os.unlink", "os.rmdir", "os.removedirs", "shutil.rmtree",
    "send2trash.send2trash",
})
# Path.unlink(), Path.rmdir() and friends: the receiver cannot be resolved, the method name is
# distinctive enough.
DELETION_METHODS = frozenset({"unlink", "rmdir", "rmtree", "removedirs"})

# Words in a function's name or docstring that say it is meant to touch the network or files.
IO_WORDS = frozenset({
    "download", "upload", "fetch", "request", "requests", "http", "https", "url", "urls", "uri",
    "api", "socket", "sockets", "connect", "connection", "send", "post", "client", "server",
    "network", "remote", "web", "ping", "scrape", "crawl", "webhook", "email", "mail", "smtp",
    "ftp", "sync", "delete", "remove", "clean", "cleanup", "purge", "prune", "unlink", "rmtree",
    "rm", "wipe", "erase", "file", "files", "dir", "dirs", "directory", "directories", "folder",
    "path", "paths", "disk", "tmp", "temp", "tempdir", "cache", "save", "write", "fs", "io",
})

# A model could add "# noqa: HS102" to hide what it added, so the output check reads no waivers.
_WAIVER = re.compile(r"(#\s*)noqa\b", re.IGNORECASE)


def _is_network(name: str) -> bool:
    return any(name == module or name.startswith(module + ".") for module in NETWORK_MODULES)


def _side_effects(tree: ast.Module) -> Iterator[tuple[str, str, int]]:
    """(rule id, call name, 1-based line) for every network call and file deletion."""
    imports = _Imports(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        names = imports.qualified_names(node.func)
        network = sorted(name for name in names if _is_network(name))
        deletion = sorted(names & DELETION_CALLS)
        if network:
            yield "HG401", network[0], node.lineno
        elif deletion:
            yield "HG402", deletion[0], node.lineno
        elif isinstance(node.func, ast.Attribute) and node.func.attr in DELETION_METHODS:
            yield "HG402", f".{node.func.attr}()", node.lineno


# Names of the modules whose attributes run programs or delete files, and those attributes.
_RISKY_MODULES = frozenset({"os", "subprocess", "builtins", "posix", "pty", "shutil", "nt"})
_RISKY_ATTRIBUTES = frozenset({
    "system", "popen", "execv", "execve", "execvp", "execl", "execlp", "spawnv", "spawnl",
    "spawnlp", "spawnvp", "startfile", "call", "run", "Popen", "check_call", "check_output",
    "getoutput", "getstatusoutput", "spawn", "remove", "unlink", "rmtree", "rmdir", "eval",
    "exec", "__import__",
})
_SUBPROCESS_CALLS = frozenset({"subprocess.run", "subprocess.call", "subprocess.Popen",
                               "subprocess.check_call", "subprocess.check_output"})
# Calls that replace the process with a program or start one without the shell rules' names.
_PROGRAM_RUNNERS = ("os.exec", "os.spawn", "os.posix_spawn", "pty.spawn", "os.startfile")
_ROOTS = frozenset({"/", "~", "~/", "/home", "/root", "/etc", "/usr", "/var", "/bin", "/boot",
                    "/lib", "/opt", "C:\\", "C:/", "$HOME", "%USERPROFILE%"})
_NETWORK_DATA = re.compile(r"\.(?:recv|recvfrom|recv_into|content|text|body)\b|urlopen\(|"
                           r"\brequests\.|\bhttpx\.|\bsocket\.|\bconn\w*\.read\(")


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_risky_module(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _RISKY_MODULES
    if isinstance(node, ast.Call):  # __import__('os'), importlib.import_module('os')
        name = ast.unparse(node.func)
        return (name in ("__import__", "importlib.import_module", "import_module")
                and _string(node.args[0] if node.args else None) in _RISKY_MODULES)
    return False


def _shell_dicts(tree: ast.Module) -> set[str]:
    """Names assigned a dict that sets shell=True ({"shell": True} or dict(shell=True))."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _sets_shell(node.value):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _sets_shell(node: ast.AST) -> bool:
    if isinstance(node, ast.Dict):
        return any(_string(key) == "shell" and isinstance(value, ast.Constant) and value.value
                   for key, value in zip(node.keys, node.values))
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "dict":
        return any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value
                   for k in node.keywords)
    return False


_HOME_OR_ROOT_CODE = re.compile(
    r"os\.path\.expanduser\(['\"]~/?['\"]\)|(?:pathlib\.)?Path\.home\(\)"
    r"|(?:pathlib\.)?Path\(['\"](?:/|~)['\"]\)|os\.environ\[['\"]HOME['\"]\]"
    r"|os\.getenv\(['\"]HOME['\"]\)|os\.environ\.get\(['\"]HOME['\"]\)")


def _is_root_or_home(node: ast.AST) -> bool:
    text = _string(node)
    if text is not None:
        return text.rstrip("*") in _ROOTS or text.rstrip("/*") in _ROOTS
    return _HOME_OR_ROOT_CODE.fullmatch(ast.unparse(node)) is not None


def _disguised_calls(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """(what, 1-based line) for each dangerous call hidden from the security rules' names."""
    imports = _Imports(tree)
    shell_dicts = _shell_dicts(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr" and node.args \
                and _is_risky_module(node.args[0]) and (
                    len(node.args) < 2 or _string(node.args[1]) is None
                    or _string(node.args[1]) in _RISKY_ATTRIBUTES):
            yield f"getattr({ast.unparse(node.args[0])}, ...)", node.lineno
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call) \
                and _is_risky_module(node.value) and node.attr in _RISKY_ATTRIBUTES:
            yield f"{ast.unparse(node.value)}.{node.attr}", node.lineno
        if not isinstance(node, ast.Call):
            continue
        names = imports.qualified_names(node.func)
        if names & _SUBPROCESS_CALLS and any(
                k.arg is None and (_sets_shell(k.value) or (
                    isinstance(k.value, ast.Name) and k.value.id in shell_dicts))
                for k in node.keywords):
            yield f"{sorted(names & _SUBPROCESS_CALLS)[0]}(**{{'shell': True}})", node.lineno
        if any(name.startswith(_PROGRAM_RUNNERS) for name in names):
            yield f"{sorted(names)[0]}()", node.lineno
        if names & DELETION_CALLS and node.args and _is_root_or_home(node.args[0]):
            yield f"{sorted(names & DELETION_CALLS)[0]}({ast.unparse(node.args[0])})", node.lineno
        if names & {"pickle.loads", "pickle.load", "marshal.loads", "dill.loads"} and node.args \
                and _NETWORK_DATA.search(ast.unparse(node.args[0])):
            yield f"{sorted(names)[0]}() of network data", node.lineno


def _new_disguised_calls(original_tree: ast.Module | None, candidate_tree: ast.Module,
                         settings: GuardrailSettings) -> list[GuardFinding]:
    if not is_enabled("HG403", settings):
        return []
    before = Counter(what for what, _ in _disguised_calls(original_tree)) \
        if original_tree is not None else Counter()
    rule = RULES["HG403"]
    findings = []
    for what, line in _disguised_calls(candidate_tree):
        if before[what] > 0:
            before[what] -= 1
            continue
        findings.append(verdict(
            "HG403", f"HG403 {rule.name}: the answer adds {what} at line {line}", settings))
    return findings


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _imports_network(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(_is_network(alias.name) for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if _is_network(node.module) or any(
                    _is_network(f"{node.module}.{alias.name}") for alias in node.names):
                return True
    return False


def _words(text: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    return {word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word}


def looks_pure(original_source: str, target_name: str | None) -> bool:
    """Whether the function being written should have no network or file-deleting side effects.

    True when the original module imports no network module and makes no network call or file
    deletion anywhere, and the target function is not ``async`` and has no I/O word (``IO_WORDS``:
    fetch, url, file, delete, ...) in its name or docstring. A module that does not parse, or a
    target that cannot be found, is not called pure.
    """
    tree = _parse(original_source)
    if tree is None or _imports_network(tree) or next(_side_effects(tree), None) is not None:
        return False
    if target_name is None:
        return True
    function = find_function(tree, target_name.rpartition(".")[2])
    if function is None or isinstance(function, ast.AsyncFunctionDef):
        return False
    described = f"{function.name} {ast.get_docstring(function) or ''}"
    return not _words(described) & IO_WORDS


def _new_security_findings(original: str, candidate: str,
                           settings: GuardrailSettings) -> list[GuardFinding]:
    # HG ids share the setting; scan would log them as unknown security rules.
    disabled = [rule_id for rule_id in settings.disabled_rules
                if rule_id.strip().upper() in SECURITY_RULES]
    # Constant arguments too: a model that adds os.system("...") adds a command, whatever it is.
    before = scan(_WAIVER.sub(r"\1", original), disabled=disabled, include_constant=True)
    after = scan(_WAIVER.sub(r"\1", candidate), disabled=disabled, include_constant=True)
    return [
        verdict(finding.code, (
            f"{finding.code} {SECURITY_RULES[finding.code].name}: new in the answer at line "
            f"{finding.line + 1}: {finding.message}"),
            settings)
        for finding in new_findings(before, after)
    ]


def _misplaced_secrets(original: str, candidate: str,
                       settings: GuardrailSettings) -> list[GuardFinding]:
    if not is_enabled("HG302", settings):
        return []
    added = Counter(PLACEHOLDER.findall(candidate)) - Counter(PLACEHOLDER.findall(original))
    rule = RULES["HG302"]
    return [verdict("HG302", f"HG302 {rule.name}: the answer {rule.summary}: {placeholder}",
                    settings) for placeholder in sorted(added)]


def _new_side_effects(original_tree: ast.Module | None, candidate_tree: ast.Module,
                      settings: GuardrailSettings) -> list[GuardFinding]:
    before: Counter[tuple[str, str]] = Counter()
    if original_tree is not None:
        before.update((rule_id, name) for rule_id, name, _ in _side_effects(original_tree))
    findings = []
    for rule_id, name, line in _side_effects(candidate_tree):
        if before[(rule_id, name)] > 0:
            before[(rule_id, name)] -= 1
        elif is_enabled(rule_id, settings):
            rule = RULES[rule_id]
            findings.append(verdict(rule_id, (
                f"{rule_id} {rule.name}: the answer {rule.summary}: {name} at line {line}"),
                settings))
    return findings


def check_output(original_source: str, candidate_source: str | None, *,
                 target_name: str | None = None, pure: bool | None = None,
                 settings: GuardrailSettings) -> list[GuardFinding]:
    """What the guardrails make of a candidate: one finding per thing it newly brings in.

    ``candidate_source`` is the whole document after the candidate's edit (None: nothing to
    check). Only occurrences beyond those the original already has count, so a fix that keeps
    an existing ``os.system`` call is not blamed for it. ``pure`` (None: ``looks_pure``) turns
    the network and file-deletion checks on. Under ``block`` a finding is fatal; under ``warn``
    it costs ``WARN_PENALTY`` confidence; under ``off`` there are none.
    """
    if candidate_source is None or settings.policy == "off":
        return []
    findings = _new_security_findings(original_source, candidate_source, settings)
    findings += _misplaced_secrets(original_source, candidate_source, settings)
    if pure is None:
        pure = looks_pure(original_source, target_name)
    candidate_tree = _parse(candidate_source)
    original_tree = _parse(original_source)
    if candidate_tree is not None:
        findings += _new_disguised_calls(original_tree, candidate_tree, settings)
    if pure and candidate_tree is not None:
        findings += _new_side_effects(original_tree, candidate_tree, settings)
    return findings
