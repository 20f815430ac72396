"""The prompt-side guard: refuses (or warns about) an instruction that is too long or asks for
something destructive, before any of it reaches the model."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hearth.core.errors import HearthError
from hearth.core.guardrails.rules import (
    RULES,
    GuardFinding,
    excerpt,
    is_enabled,
    verdict,
)
from hearth.core.guardrails.normalise import readings
from hearth.settings import GuardrailSettings

_I = re.IGNORECASE


def _inflected(*words: str) -> str:
    """An alternation of ``words`` that also matches their -s, -es, -ed and -ing forms."""
    return r"\b(?:" + "|".join(re.escape(word) for word in words) + r")(?:s|es|ed|ing)?\b"


# -- HG202: SQL that destroys tables or every row of one
_TABLE_WORDS = r"(?:tables?|databases?|db|schemas?|collections?|keyspaces?)"
_TABLE_NAME = r"[`\"\[]?[\w.]++[`\"\]]?"
# "the table's", "the table name", "the database connection": a part of it, not the table
_NOT_THE_TABLE_ITSELF = (r"(?!'s|\s+(?:rows?|columns?|entr(?:y|ies)|duplicates|nulls?|"
                         r"connections?|sessions?|cursors?|handles?|locks?|pools?|caches?|"
                         r"clients?|validation|objects?|names?|prefix(?:es)?|suffix(?:es)?|"
                         r"fields?)\b)")
_DESTRUCTIVE_SQL = (
    re.compile(r"\bdrop\s+(?:table|database|schema|view|index|collection|keyspace|user|role)"
               r"\b(?:\s+if\s+exists)?\s*[\w.`\"\[]", _I),
    re.compile(r"\bdrop\s+(?:(?:all|every|the)\s+)?(?:of\s+the\s+)?(?:\w+\s+){0,2}?"
               + _TABLE_WORDS + r"\b" + _NOT_THE_TABLE_ITSELF, _I),
    re.compile(r"\btruncate\s+(?:table\b|(?:all|every|the|each)\s+(?:\w+\s+){0,2}?"
               + _TABLE_WORDS + r"\b" + _NOT_THE_TABLE_ITSELF + ")", _I),
    re.compile(r"\bTRUNCATE\s+" + _TABLE_NAME + r"\s*(?:;|$)"),
    # A DELETE statement with no WHERE before the statement ends: written in capitals, or
    # ending right after the table name ("delete from the cart the item" is English).
    re.compile(r"\bDELETE\s+FROM\s+" + _TABLE_NAME + r"(?![^;]*\b(?i:where)\b)"),
    re.compile(r"\bdelete\s+from\s+" + _TABLE_NAME + r"\s*(?:;|$|[\"'`)])", _I),
    re.compile(r"\b(?:delete|remove|erase|wipe|purge|clear)\s+(?:all|every(?:thing)?)\s+"
               r"(?:of\s+)?(?:the\s+)?(?:\w+\s+){0,2}?(?:in|from)\s+(?:the\s+)?(?:\w+\s+){0,2}?"
               + _TABLE_WORDS + r"\b", _I),
    re.compile(r"\b(?:wipe|erase|purge|nuke|destroy)\s+(?:out\s+)?(?:the\s+|all\s+|my\s+)?"
               r"(?:\w+\s+)?(?:database|db|tables)\b", _I),
)

# -- HG203: rm -rf and its relatives aimed at /, ~, *, .., $HOME or a system directory
_DANGEROUS_PATH = (
    r"[\"']?(?:/\*?|~/?\*?|\*|\.{1,2}/?\*?|\$\{?HOME\}?/?\*?|\$env:USERPROFILE|%USERPROFILE%"
    r"|/(?:home|etc|usr|var|bin|sbin|boot|lib|lib64|root|opt|srv|dev|System|Users|Library)/?\*?"
    r"|[A-Za-z]:\\\*?)[\"']?(?=\s|$|[;&|)`])"
)
_RECURSIVE_DELETE = (
    # rm with a recursive flag anywhere in the command, and a dangerous path among its arguments
    re.compile(r"\brm(?=[^\n;&|]*\s(?:-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)(?=\s))[^\n;&|]*?\s"
               + _DANGEROUS_PATH),
    re.compile(r"--no-preserve-root\b"),
    re.compile(r"\b(?:shutil\.)?rmtree\(\s*(?:[rRbB]?[\"'](?:/|~/?|[A-Za-z]:\\\\?)[\"']"
               r"|os\.path\.expanduser\(\s*[\"']~/?[\"']\s*\)|(?:pathlib\.)?Path\.home\(\)"
               r"|(?:pathlib\.)?Path\(\s*[\"'](?:/|~)[\"']\s*\)"
               r"|os\.environ\[\s*[\"']HOME[\"']\s*\]|os\.getenv\(\s*[\"']HOME[\"']\s*\))"),
    re.compile(r"\b(?:rd|rmdir)\s+/s\s+(?:/q\s+)?[\"']?[A-Za-z]:\\?[\"']?(?=\s|$)", _I),
    re.compile(r"\bdel\s+(?:/[a-z]\s+)*[\"']?[A-Za-z]:\\\*?(?:\.\*)?[\"']?(?=\s|$)", _I),
    re.compile(r"\bRemove-Item\b(?=[^\n]*-Recurse)[^\n]*?\s" + _DANGEROUS_PATH, _I),
    re.compile(r"\b(?:delete|remove|erase|wipe|nuke|destroy)\s+(?:all\s+|every\s+)?(?:the\s+)?"
               r"(?:files?\s+(?:on|in|from|under)\s+)?(?:the\s+|my\s+|their\s+|a\s+)?"
               r"(?:entire\s+|whole\s+|user'?s\s+)?(?:file\s*system|root\s+(?:directory|folder|"
               r"partition|dir)|home\s+(?:directory|folder|dir)|system\s+(?:files|directory))\b",
               _I),
    re.compile(r"\b(?:delete|remove|erase|wipe)\s+everything\s+(?:on|in|from)\s+(?:the\s+|my\s+|"
               r"this\s+|a\s+)?(?:computer|machine|system|server|disk|drive|home)\b", _I),
)

# -- HG204: formatting or overwriting a disk
_BLOCK_DEVICE = r"/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d|rdisk\d|md\d)"
_DISK_WIPE = (
    re.compile(r"\bmkfs(?:\.\w+)?\b"),
    re.compile(r"\bdd\b[^\n]*\bof=" + _BLOCK_DEVICE),
    re.compile(r"(?:>|\btee\s+)\s*" + _BLOCK_DEVICE),
    re.compile(r"\b(?:shred|wipefs|blkdiscard)\b[^\n]*" + _BLOCK_DEVICE),
    re.compile(r"\bsgdisk\s+(?:-Z|--zap-all)\b|\bwipefs\s+-a\b|\bdiskpart\b", _I),
    re.compile(r"\bformat\s+[A-Za-z]:(?=[\s\\/\"',.;]|$)", _I),
    re.compile(r"\b(?:Format-Volume|Clear-Disk|Initialize-Disk)\b", _I),
    re.compile(r"\b(?:format|re-?format|wipe|erase|zero(?:\s+out)?|re-?partition|overwrite)\s+"
               r"(?:the\s+|my\s+|a\s+|all\s+|every\s+|their\s+)?(?:(?:entire|whole|system|main|"
               r"primary|boot|usb|external|internal|hard)\s+){0,2}(?:disk|drive|partition|ssd|"
               r"hdd|volume)s?\b"
               # "format the disk usage as a string" formats a number about the disk
               r"(?!\s*(?:usage|space|size|quotas?|i/?o|stats?|statistics|names?|labels?|ids?|"
               r"counts?|info|information|metrics?|utili[sz]ation|capacity|path|letter|type|"
               r"model|serial|usage)\b)", _I),
)

# -- HG205: fork bombs
_FORK_BOMB = (
    # :(){ :|:& };:  and the same with any function name
    re.compile(r"(?<![\w:.])(?P<f>[\w:.]++)\s*\(\)\s*\{\s*(?P=f)\s*\|\s*(?P=f)\s*&\s*;?\s*\}"
               r"\s*;\s*(?P=f)"),
    re.compile(r"%0\s*\|\s*%0"),
    re.compile(r"\bwhile\s*\(?\s*(?:True|1|true)\s*\)?\s*:?\s*\{?\s*(?:os\.)?fork\s*\(\s*\)"),
    re.compile(r"\bfor\s*\(\s*;\s*;\s*\)\s*\{?\s*fork\s*\(\s*\)"),
    re.compile(r"\b(?:write|create|make|generate|run|implement|build|code|craft|launch|execute|"
               r"start|give\s+me)\s+(?:me\s+)?(?:a\s+|an\s+|the\s+|some\s+|another\s+)?"
               r"(?:\w+\s+){0,2}?fork[\s-]?bombs?\b", _I),
    re.compile(r"\bspawn\w*\s+(?:\w+\s+){0,3}?process(?:es)?\s+(?:\w+\s+){0,3}?"
               r"(?:forever|endlessly|infinitely|without\s+(?:end|limit)|until\s+the\s+"
               r"(?:machine|system|computer|server)\s+(?:crashes|freezes|hangs|dies))\b", _I),
)

# -- HG206: turning a security check off
_WORLD_WRITABLE_MODE = r"(?:0?777|0?666|a\+rwx|a\+w|o\+w|o\+rwx|ugo\+rwx)"
# Atomic, so that "csrf token field" cannot shrink to "csrf" to get past the exclusions below.
_SECURITY_OBJECT = (
    r"(?>auth(?:entication|orization)?(?:\s+checks?)?|login\s+(?:checks?|requirements?)|"
    r"csrf(?:\s+(?:protection|checks?|tokens?|validation))?|firewall|selinux|apparmor|antivirus|"
    r"(?:windows\s+)?defender|(?:ssl|tls|https|certificate|cert|host\s*name)\s+(?:verification|"
    r"validation|checks?|checking)|security\s+(?:checks?|features?|controls?|scanning|rules?|"
    r"policies|policy)|permission\s+checks?|access\s+control|2fa|mfa|two[\s-]factor(?:\s+auth"
    r"(?:entication)?)?|password\s+(?:checks?|requirements?|verification)|signature\s+"
    r"(?:verification|checks?|validation)|sandbox(?:ing)?|guardrails?|same[\s-]origin\s+policy|"
    r"cors\s+(?:checks?|restrictions?)|content\s+security\s+policy|aslr)"
)
_SECURITY_DISABLED = (
    re.compile(r"\bverify\s*=\s*(?:False|0)\b|\bverify_ssl\s*=\s*False\b"
               r"|\bcheck_hostname\s*=\s*False\b|\bssl\._create_unverified_context\b"
               r"|\bCERT_NONE\b|\bInsecureSkipVerify\s*:\s*true\b"
               r"|\brejectUnauthorized\s*:\s*false\b"),
    re.compile(r"\b(?:NODE_TLS_REJECT_UNAUTHORIZED|PYTHONHTTPSVERIFY|GIT_SSL_NO_VERIFY)"
               r"\s*=\s*[\"']?(?:0|1|true)\b"),
    re.compile(r"\bcurl\b[^\n|;]*\s(?:-k|--insecure)(?=\s|$)|\bwget\b[^\n|;]*\s"
               r"--no-check-certificate\b"),
    re.compile(r"\bsetenforce\s+(?:0|permissive)\b|\bSELINUX\s*=\s*(?:disabled|permissive)\b"
               r"|\bufw\s+disable\b|\biptables\s+(?:-F|--flush)\b"
               r"|\bsystemctl\s+(?:stop|disable|mask)\s+(?:firewalld|ufw|apparmor|iptables|"
               r"nftables)\b|\bnetsh\s+advfirewall\s+set\s+\w+\s+state\s+off\b"
               r"|\bSet-MpPreference\b[^\n]*-Disable\w+", _I),
    re.compile(r"@?\bcsrf_exempt\b|\bWTF_CSRF_ENABLED\s*=\s*False\b|\bCSRF_ENABLED\s*=\s*False\b"
               r"|\bcsrf\s*=\s*False\b"),
    re.compile(r"\bchmod\s+(?:-\w+\s+)*(?:-R|--recursive)\s+(?:-\w+\s+)*" + _WORLD_WRITABLE_MODE
               + r"\b|\bchmod\s+" + _WORLD_WRITABLE_MODE + r"\s+(?:-R|--recursive)\b"
               r"|\bchmod\s+(?:-\w+\s+)*" + _WORLD_WRITABLE_MODE + r"\s+" + _DANGEROUS_PATH),
    re.compile(r"\b(?:disable|turn\s+off|switch\s+off|deactivate|remove|bypass|skip|circumvent|"
               r"get\s+rid\s+of|strip\s+out|comment\s+out|rip\s+out)\s+(?:all\s+|any\s+|every\s+)?"
               r"(?:the\s+|of\s+the\s+|its\s+|our\s+|my\s+)?(?:\w+\s+)?" + _SECURITY_OBJECT
               # "remove the unused auth import" is about code, not about a check
               + r"\b(?!\s*(?:imports?|modules?|tests?|comments?|docstrings?|log(?:ging|s)?|"
               r"messages?|parameters?|arguments?|variables?|helpers?|typos?|warnings?|"
               r"fixtures?|mocks?|docs?|documentation|buttons?|links?|pages?|forms?|screens?|"
               r"views?|headers?|fields?|labels?|icons?|menus?|columns?|class(?:es)?|"
               r"functions?|methods?|files?|folders?|directory|directories|errors?|exceptions?)"
               r"\b)", _I),
)

# -- HG207: sending host secrets somewhere else
_HOST_SECRET = (
    r"(?:(?:the\s+)?(?:environment\s+variables?|env\s+vars?|env(?:ironment)?)\b|os\.environ\b"
    r"|process\.env\b|\$ENV\b|~?/?\.ssh\b(?:/[\w.]+)?|(?:ssh\s+|gpg\s+|pgp\s+)?private\s+"
    r"(?:ssh\s+|gpg\s+|pgp\s+)?keys?\b"
    r"|id_(?:rsa|ed25519|ecdsa|dsa)\b|~?/?\.aws(?:/credentials)?\b|aws\s+(?:credentials|keys)\b"
    r"|\.env\s+files?\b|\.env\b|/etc/(?:shadow|passwd)\b|\.netrc\b|\.pgpass\b|\.npmrc\b"
    r"|\.pypirc\b|\.git-credentials\b|kube-?config\b|\.kube/config\b|keychain\b"
    r"|browser\s+(?:cookies|passwords|history)\b|(?:saved|stored)\s+passwords\b"
    r"|(?:all|every)\s+(?:of\s+)?(?:the\s+|my\s+|our\s+|their\s+|user'?s?\s+)?(?:\w+\s+)?"
    r"(?:credentials|tokens|passwords|secrets|api\s+keys|private\s+keys|cookies)\b)"
)
_SENDING = _inflected("send", "upload", "post", "exfiltrate", "transmit", "forward", "leak",
                      "ship", "beacon", "copy", "sync", "pipe", "push", "dump", "email", "mail",
                      "smuggle", "stream") + r"|\bsent\b|\bcopies\b"
_DIRECT_OBJECT_FILLER = (r"(?:(?:all|the|every|of|my|our|their|user'?s?|contents?|whole|entire|"
                         r"full|current|process'?s?|local|machine'?s?|system|this|these|those)"
                         r"\s+){0,4}")
_REMOTE = (
    r"\b(?:to|into|onto|at|via|over\s+to|towards?)\s+(?:a\s+|an\s+|the\s+|my\s+|our\s+|some\s+|"
    r"this\s+|that\s+|their\s+)?(?:https?://|s?ftp://|[\w.+-]+@[\w-]+\.\w+"
    r"|(?:(?:remote|external|third[\s-]party|attacker'?s?|personal|public|evil|foreign|outside|"
    r"secret|hidden|unknown)\s+)?(?:url|uri|server|endpoint|webhook|host|ip(?:\s+address)?|domain|"
    r"pastebin|gist|discord|telegram|ngrok|requestbin|bucket|s3|ftp|api|website|site|collector|"
    r"c2|machine|computer|service|location|address|channel)\b"
    r"|[\w-]+\.(?:com|net|org|io|ru|cn|xyz|sh|site|top|info)\b)"
)
_SECRET_EXFILTRATION = (
    re.compile("(?:" + _SENDING + r")\s+" + _DIRECT_OBJECT_FILLER + _HOST_SECRET
               + r"[^\n]{0,80}?" + _REMOTE, _I),
    re.compile(_HOST_SECRET + r"[^\n]{0,80}?\b(?:and|then)\s+(?:" + _SENDING
               + r")\s+(?:them|it|those|everything|all\s+of\s+(?:them|it))\s+[^\n]{0,40}?"
               + _REMOTE, _I),
    re.compile(r"\b(?:requests|httpx|urllib\.request|urllib3|aiohttp|session|client)\.\w+\("
               r"[^\n]*?(?:os\.environ\b(?!\s*(?:\[|\.get\())|dict\(os\.environ\)|~/\.ssh|id_rsa"
               r"|\.aws/credentials)"),
    re.compile(r"\bfetch\([^\n]*?JSON\.stringify\(\s*process\.env\s*\)"),
    re.compile(r"\b(?:curl|wget|nc|ncat|netcat|scp|rsync)\b[^\n]*?(?:~/\.ssh|\.ssh/|id_rsa"
               r"|\.aws/credentials|\$\((?:env|printenv)\)|`(?:env|printenv)`|/etc/shadow"
               r"|\.git-credentials|\.netrc)"),
    re.compile(r"\b(?:env|printenv|cat\s+[^\n|]*?(?:\.ssh|id_rsa|credentials|\.env|shadow|netrc))"
               r"\s*\|\s*(?:curl|nc|ncat|netcat|wget|ssh)\b"),
)

# -- Paraphrases, and the same requests in the major European languages. Each needs a verb of
# destruction and an object that is the whole machine, its disk, its files or its database, so
# "delete the cached entry" or "lösche den Eintrag aus dem Cache" stay allowed.
_ALL_FILES_EN = (
    re.compile(r"\b(?:delete|remove|erase|wipe(?:\s+out)?|destroy|nuke|obliterate|trash|shred|"
               r"get\s+rid\s+of|clear\s+out)\s+(?:all|every|each)\s+(?:single\s+)?(?:of\s+)?"
               r"(?:the\s+)?(?:files?|data|documents?|folders?)\s+(?:on|in|from|under|across)\s+"
               r"(?:the\s+|my\s+|this\s+|your\s+|their\s+)?(?:\w+\s+)?(?:computer|machine|"
               r"system|server|disk|drive|host|laptop|pc|hard\s*drive|file\s*system)\b", _I),
    re.compile(r"\b(?:destroy|obliterate|annihilate|nuke|wipe\s+out)\s+(?:all\s+|every\s+)?"
               r"(?:the\s+|my\s+|their\s+)?(?:data|files|system|machine|computer|server)\b", _I),
    re.compile(r"\bmake\s+(?:the\s+)?(?:machine|computer|system|server)\s+(?:unbootable|"
               r"unusable)\b", _I),
)
_EUROPEAN_WIPE = (
    # German
    re.compile(r"\b(?:lösch\w*|entfern\w*|vernicht\w*|formatier\w*|platt\s*machen)\b"
               r"[^\n.]{0,40}?\b(?:alle\s+dateien|alles\s+auf|gesamte\w*\s+(?:festplatte|system|"
               r"datenbank)|(?:die\s+)?festplatte|(?:die\s+)?datenbank|home-?verzeichnis|"
               r"wurzelverzeichnis|stammverzeichnis)\b"
               r"|\b(?:alle\s+dateien|die\s+festplatte|die\s+datenbank|alles\s+auf\s+dem\s+"
               r"(?:rechner|computer|server))[^\n.]{0,30}?\b(?:lösch|entfern|vernicht|formatier)",
               _I),
    # French
    re.compile(r"\b(?:supprim|effac|détrui|detrui|format|vid)\w*\s+(?:\w+\s+){0,2}?"
               r"(?:tous\s+les\s+fichiers|tout\s+(?:le\s+(?:disque|système|systeme|contenu\s+du"
               r"\s+disque)|sur\s+(?:le|la|l')\s*\w+)|le\s+disque(?:\s+dur)?|la\s+base\s+de\s+"
               r"données|la\s+base\s+de\s+donnees|le\s+répertoire\s+personnel|la\s+racine)", _I),
    # Spanish and Portuguese
    re.compile(r"\b(?:borr|elimin|destru|format|apag|exclu|limp)\w*\s+(?:\w+\s+){0,2}?"
               r"(?:tod[oa]s\s+l[oa]s\s+(?:archivos|ficheros|arquivos|datos|dados)"
               r"|tod[oa]s\s+os\s+(?:arquivos|dados|ficheiros)|todo\s+(?:el|en\s+el)\s+"
               r"(?:disco|sistema|servidor)|tudo\s+(?:no|do)\s+(?:disco|sistema|servidor)"
               r"|el\s+disco(?:\s+duro)?|o\s+disco(?:\s+rígido)?|la\s+base\s+de\s+datos"
               r"|o\s+banco\s+de\s+dados|a\s+base\s+de\s+dados)", _I),
    # Italian
    re.compile(r"\b(?:cancell|elimin|distrugg|formatt|svuot)\w*\s+(?:\w+\s+){0,2}?"
               r"(?:tutti\s+i\s+file|tutto\s+(?:il|sul)\s+(?:disco|sistema|server)"
               r"|il\s+disco(?:\s+rigido)?|il\s+database|la\s+base\s+(?:di\s+)?dati)", _I),
    # Dutch
    re.compile(r"\b(?:verwijder|wis|vernietig|formatteer|formatteren)\w*\s+(?:\w+\s+){0,2}?"
               r"(?:alle\s+bestanden|alles\s+op|de\s+(?:harde\s+)?schijf|de\s+database|"
               r"de\s+thuismap)", _I),
    # Polish
    re.compile(r"\b(?:usuń|usun|skasuj|wymaż|wymaz|zniszcz|sformatuj|wyczyść|wyczysc)\w*\s+"
               r"(?:\w+\s+){0,2}?(?:wszystkie\s+pliki|wszystko\s+(?:z|na)|dysk|bazę\s+danych|"
               r"baze\s+danych|katalog\s+domowy)", _I),
)
_EUROPEAN_EXFILTRATION = (
    re.compile(r"\b(?:send|schick|sende|übertrag|lade|envo|envi|enví|mand|invia|stuur|verstuur|"
               r"wyślij|wyslij|prześlij|przeslij)\w*\s+[^\n]{0,60}?\b(?:passwörter|passwort|"
               r"schlüssel|zugangsdaten|umgebungsvariablen|mots\s+de\s+passe|clés|cles|"
               r"identifiants|variables\s+d'environnement|contraseñas|contrasenas|claves|"
               r"credenciales|senhas|chaves|credenciais|password|chiavi|credenziali|wachtwoorden|"
               r"sleutels|inloggegevens|hasła|hasla|klucze|dane\s+logowania)\b[^\n]{0,60}?"
               r"(?:https?://|\b(?:an|auf|à|a|vers|para|al|naar|na|do)\s+(?:\w+\s+){0,2}?"
               r"(?:server|servidor|serveur|serwer|url|webhook|adres\w*|adresse|endpoint|"
               r"e-?mail|\S+\.(?:com|net|org|io|ru)))", _I),
)

# A database a test owns: resetting it between tests is how fixtures work, not an attack.
_TEST_SCOPED = re.compile(r"\b(?:tests?|testing|fixtures?|in-memory|:memory:|temporary|scratch)"
                          r"\b", _I)
_NOT_ONLY_TESTS = re.compile(r"\b(?:prod|production|live|real|customers?|users'?)\b", _I)


def _test_scoped(sentence: str) -> bool:
    return bool(_TEST_SCOPED.search(sentence)) and not _NOT_ONLY_TESTS.search(sentence)


_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "HG202": _DESTRUCTIVE_SQL,
    "HG203": _RECURSIVE_DELETE + _ALL_FILES_EN + _EUROPEAN_WIPE,
    "HG204": _DISK_WIPE,
    "HG205": _FORK_BOMB,
    "HG206": _SECURITY_DISABLED,
    "HG207": _SECRET_EXFILTRATION + _EUROPEAN_EXFILTRATION,
}


def _first_match(patterns: Iterable[re.Pattern[str]],
                 texts: list[str]) -> re.Match[str] | None:
    return next((match for pattern in patterns for text in texts
                 if (match := pattern.search(text))), None)


def _sentence(match: re.Match[str]) -> str:
    """The sentence of the text ``match`` was found in that holds it."""
    text = match.string
    start = max(text.rfind(mark, 0, match.start()) for mark in ".;!?\n") + 1
    ends = [end for mark in ".;!?\n" if (end := text.find(mark, match.end())) != -1]
    return text[start:min(ends, default=len(text))]


def check_instruction(instruction: str | None, settings: GuardrailSettings) -> list[GuardFinding]:
    """What the guardrails make of the user's instruction: one finding per rule that matched.

    An empty list means the instruction may go to the model as it is. Under policy ``block``
    a finding is ``fatal`` (the request is refused: see ``refuse_if_blocked``).
    """
    if not instruction:
        return []
    findings = []
    if is_enabled("HG201", settings) and len(instruction) > settings.max_instruction_chars:
        findings.append(verdict("HG201", (
            f"HG201 {RULES['HG201'].name}: the instruction has {len(instruction):,} characters, "
            f"more than the limit of {settings.max_instruction_chars:,}"), settings, penalty=0.0))
    texts = readings(instruction)
    for rule_id, patterns in _PATTERNS.items():
        if not is_enabled(rule_id, settings):
            continue
        match = _first_match(patterns, texts)
        if match and rule_id == "HG202" and _test_scoped(_sentence(match)):
            match = None
        if match:
            rule = RULES[rule_id]
            findings.append(verdict(rule_id, (
                f"{rule.id} {rule.name}: the instruction {rule.summary} "
                f"(matched \"{excerpt(match.group())}\")"), settings, penalty=0.0))
    return findings


def refuse_if_blocked(findings: Iterable[GuardFinding]) -> None:
    """Raise the ``HearthError`` that refuses a request if any finding blocks it."""
    blocking = [finding for finding in findings if finding.fatal]
    if not blocking:
        return
    rule_ids = ", ".join(f'"{finding.rule}"' for finding in blocking)
    raise HearthError(
        "Hearth refused the instruction: " + "; ".join(f.reason for f in blocking) + ".",
        "Rephrase the instruction. If this is really what you want, set "
        "hearth.guardrails.policy to \"warn\" or add " + rule_ids
        + " to hearth.guardrails.disabledRules.")
