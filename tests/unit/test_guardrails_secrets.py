"""Tests for secret redaction and the restore rule (HG301; HG302 is in the output tests)."""

from __future__ import annotations

import textwrap

import pytest

from hearth.core.guardrails import PLACEHOLDER, find_secrets, redact_secrets
from hearth.settings import GuardrailSettings

# Built at run time so that this file does not itself contain anything that looks like a key.
GITHUB_TOKEN = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
SLACK_TOKEN = "xoxb-" + "2718281828-3141592653-Zq8Xw7Vu6Ts5"
PASSWORD = "correct-horse-battery"

CODE = textwrap.dedent(f'''\
    import os

    API_TOKEN = "{GITHUB_TOKEN}"
    DB_PASSWORD = "{PASSWORD}"
    HOST = "db.internal"


    def connect(user, password="s3cr3t-Default!"):
        """Open a connection."""
        ...
    ''')


def test_tokens_and_named_secrets_become_numbered_placeholders() -> None:
    redaction = redact_secrets(CODE)
    assert redaction.mapping == {
        "HEARTH_SECRET_1": GITHUB_TOKEN,
        "HEARTH_SECRET_2": PASSWORD,
        "HEARTH_SECRET_3": "s3cr3t-Default!",
    }
    assert 'API_TOKEN = "HEARTH_SECRET_1"' in redaction.text
    assert 'DB_PASSWORD = "HEARTH_SECRET_2"' in redaction.text
    assert 'def connect(user, password="HEARTH_SECRET_3"):' in redaction.text
    assert 'HOST = "db.internal"' in redaction.text
    for secret in redaction.mapping.values():
        assert secret not in redaction.text


def test_the_same_secret_gets_the_same_placeholder() -> None:
    code = f'TOKEN = "{GITHUB_TOKEN}"\n# rotate {GITHUB_TOKEN} monthly\n'
    redaction = redact_secrets(code)
    assert list(redaction.mapping) == ["HEARTH_SECRET_1"]
    assert redaction.text.count("HEARTH_SECRET_1") == 2


def test_placeholders_and_environment_lookups_are_not_secrets() -> None:
    code = textwrap.dedent('''\
        import os
        password = "changeme"
        token = os.environ["API_TOKEN"]
        api_key = "<your api key>"
        secret = ""
        ''')
    assert find_secrets(code) == []
    assert redact_secrets(code).text == code


def test_a_literal_waived_by_name_is_not_a_secret() -> None:
    code = 'fixture_password = "hunter2-for-tests"  # noqa: HS110\n'
    assert redact_secrets(code).mapping == {}


def test_text_that_is_not_python_is_read_by_name() -> None:
    code = "const apiKey = 'abcd1234efgh';\nconst name = 'bob';\nlet x = {password: \"pa55word!x\"}"
    redaction = redact_secrets(code)
    assert redaction.text == ("const apiKey = 'HEARTH_SECRET_1';\nconst name = 'bob';\n"
                              "let x = {password: \"HEARTH_SECRET_2\"}")


def test_a_secret_is_not_replaced_inside_a_longer_word() -> None:
    code = 'password = "abc123x"\nabc123xyz = 1\n'
    assert redact_secrets(code).text == 'password = "HEARTH_SECRET_1"\nabc123xyz = 1\n'


def test_numbers_already_used_in_the_code_are_skipped() -> None:
    code = f'LABEL = "HEARTH_SECRET_1"\nTOKEN = "{GITHUB_TOKEN}"\n'
    redaction = redact_secrets(code)
    assert redaction.mapping == {"HEARTH_SECRET_2": GITHUB_TOKEN}
    assert redaction.restore(redaction.text) == code


def test_round_trip_restores_every_line_the_code_had() -> None:
    redaction = redact_secrets(CODE)
    assert redaction.restore(redaction.text) == CODE


def test_restored_where_the_answer_repeats_the_users_line() -> None:
    redaction = redact_secrets(CODE)
    # A completion starts with the (redacted) prefill: the signature the model was shown.
    answer = textwrap.dedent('''\
        def connect(user, password='HEARTH_SECRET_3'):
            """Open a connection."""
            return open_db(HOST, user, password)
        ''')
    assert redaction.restore(answer).startswith(
        "def connect(user, password='s3cr3t-Default!'):\n")


def test_a_placeholder_copied_to_a_new_place_is_not_restored() -> None:
    redaction = redact_secrets(CODE)
    answer = textwrap.dedent('''\
        def connect(user, password="HEARTH_SECRET_3"):
            log.info("connecting with HEARTH_SECRET_2")
            return open_db(HOST, user, password or "HEARTH_SECRET_1")
        ''')
    restored = redaction.restore(answer)
    assert 'password="s3cr3t-Default!"' in restored
    assert 'log.info("connecting with HEARTH_SECRET_2")' in restored
    assert 'password or "HEARTH_SECRET_1"' in restored
    assert PASSWORD not in restored and GITHUB_TOKEN not in restored


def test_a_line_is_restored_only_if_all_its_placeholders_are_the_users() -> None:
    redaction = redact_secrets(f'TOKEN = "{GITHUB_TOKEN}"\n')
    context = redaction.redact(f'SLACK = "{SLACK_TOKEN}"\n')
    assert context == 'SLACK = "HEARTH_SECRET_2"\n'
    # Even the context's own line, repeated by the model, does not get the context's secret.
    assert redaction.restore(context) == context
    mixed = 'pair = ("HEARTH_SECRET_1", "HEARTH_SECRET_2")\n'
    assert redaction.restore(mixed) == mixed


def test_redact_applies_known_secrets_to_other_texts() -> None:
    redaction = redact_secrets(CODE)
    message = f"The module sets DB_PASSWORD = '{PASSWORD}' near the top."
    assert redaction.redact(message) == (
        "The module sets DB_PASSWORD = 'HEARTH_SECRET_2' near the top.")


def test_redact_leaves_the_codes_own_judgement_alone() -> None:
    code = 'fixture_password = "hunter2-for-tests"  # noqa: HS110\n'
    redaction = redact_secrets(code)
    assert redaction.redact("fixture_password = \"hunter2-for-tests\"") == (
        'fixture_password = "hunter2-for-tests"')


def test_disabled_redaction_changes_nothing() -> None:
    for settings in (GuardrailSettings(policy="off"), GuardrailSettings(disabled_rules=["HG301"])):
        redaction = redact_secrets(CODE, settings)
        assert redaction.text == CODE and redaction.mapping == {}
        assert redaction.redact(f"x = '{SLACK_TOKEN}'") == f"x = '{SLACK_TOKEN}'"
        assert redaction.finding is None


def test_the_finding_counts_the_codes_secrets() -> None:
    finding = redact_secrets(CODE).finding
    assert finding is not None
    assert (finding.rule, finding.decision, finding.fatal) == ("HG301", "allow", False)
    assert "3 secret(s)" in finding.reason
    assert redact_secrets("x = 1\n").finding is None


def test_no_secret_in_repr() -> None:
    text = repr(redact_secrets(CODE))
    assert GITHUB_TOKEN not in text and PASSWORD not in text


def test_placeholder_pattern_matches_whole_placeholders_only() -> None:
    assert PLACEHOLDER.findall("HEARTH_SECRET_12 MY_HEARTH_SECRET_1 HEARTH_SECRET_") == [
        "HEARTH_SECRET_12"]


def test_windows_line_endings_round_trip() -> None:
    code = CODE.replace("\n", "\r\n")
    redaction = redact_secrets(code)
    assert len(redaction.mapping) == 3
    assert redaction.restore(redaction.text) == code


# Key material made at run time, so that this file holds nothing a secret scanner would flag.
KEY_LINES = ["MIIEpAIBAAKCAQEA" + "q7Zx9Lm2Kp4Wn8Rt" * 3, "Vb5Hc1Jd6Fg0Ss3A" * 4,
             "Tz0Ye8Ui2Oo4Pp6Q" * 2 + "=="]
BEGIN, END = "-----BEGIN {}-----", "-----END {}-----"


def _pem(kind: str, lines: list[str] = KEY_LINES) -> str:
    return "\n".join([BEGIN.format(kind), *lines, END.format(kind)])


@pytest.mark.parametrize("kind", ["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY",
                                  "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"])
def test_a_private_key_block_is_redacted_whole(kind: str) -> None:
    code = f'KEY = """{_pem(kind)}"""\nprint(KEY)\n'
    redaction = redact_secrets(code)
    assert redaction.text == 'KEY = """HEARTH_SECRET_1"""\nprint(KEY)\n'
    assert redaction.restore(redaction.text) == code


def test_an_encrypted_pem_keeps_no_header_or_body_line() -> None:
    pem = _pem("RSA PRIVATE KEY", ["Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,0A1B2C",
                                   "", *KEY_LINES])
    text = redact_secrets(pem + "\n").text
    assert text == "HEARTH_SECRET_1\n"


def test_a_key_in_an_escaped_literal_followed_by_letters_is_redacted() -> None:
    escaped = _pem("EC PRIVATE KEY").replace("\n", "\\n")
    code = f'KEY = "{escaped}\\nabc"\n'
    text = redact_secrets(code).text
    assert text == 'KEY = "HEARTH_SECRET_1\\nabc"\n'


def test_a_key_without_its_footer_loses_its_whole_body() -> None:
    escaped = "\\n".join([BEGIN.format("RSA PRIVATE KEY"), *KEY_LINES])
    code = f'KEY = "{escaped}"\nrun(KEY)\n'
    text = redact_secrets(code).text
    assert not any(line in text for line in KEY_LINES)
    assert text.endswith('"\nrun(KEY)\n')


def test_a_key_split_over_concatenated_literals_is_redacted() -> None:
    code = "KEY = (\n" + "".join(f'    "{line}\\n"\n' for line in _pem("PRIVATE KEY").split("\n"))
    code += ")\n"
    text = redact_secrets(code).text
    assert not any(line in text for line in KEY_LINES) and "HEARTH_SECRET_1" in text


RANDOM = "Zq8Xw7Vu6Ts5Rr4Qp3Oo2Nn1Mm0Ll9Kk8Jj7Ii6Hh5Gg4Ff3Ee2Dd1Cc0Bb9Aa8"


@pytest.mark.parametrize("token", [
    "sk-proj-" + RANDOM,
    "github_pat_" + RANDOM[:22] + "_" + RANDOM[:40],
    "glpat-" + RANDOM[:20],
    "npm_" + RANDOM[:36],
    "pypi-AgEIcHlwaS5vcmc" + RANDOM + RANDOM,
    "xoxb-123456789012-1234567890123-" + RANDOM[:24],
    "AIza" + RANDOM[:35],
    "sk_live_" + RANDOM[:24],
    "hf_" + RANDOM[:34],
    "SG." + RANDOM[:22] + "." + RANDOM[:43],
])
def test_common_token_formats_are_redacted(token: str) -> None:
    code = f'cfg = {{"endpoint": "https://api.example.com", "credential": "{token}"}}\n'
    redaction = redact_secrets(code)
    assert token not in redaction.text and list(redaction.mapping.values()) == [token]


def test_the_password_in_a_url_is_redacted_and_the_address_kept() -> None:
    code = 'DATABASE_URL = "postgres://app:Tr0ub4dor-3x@db.internal:5432/app"\n'
    assert redact_secrets(code).text == (
        'DATABASE_URL = "postgres://app:HEARTH_SECRET_1@db.internal:5432/app"\n')
    placeholder = 'DATABASE_URL = "postgres://user:password@localhost/app"\n'
    assert redact_secrets(placeholder).mapping == {}


def test_an_azure_connection_string_loses_its_key() -> None:
    key = (RANDOM + RANDOM)[:86] + "=="
    code = (f"conn = 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={key};"
            "EndpointSuffix=core.windows.net'\n")
    text = redact_secrets(code).text
    assert key not in text and "AccountName=acme" in text


@pytest.mark.parametrize("line", [
    'digest = "d41d8cd98f00b204e9800998ecf8427e"',
    'request_id = "123e4567-e89b-12d3-a456-426614174000"',
    "pkg/__init__.py,sha256=n2Pj0bTqJYzR1EFLSzmAFQpP7bc0mrGZ5w0Oa6xHUqo,1234",
    'token = "ghp_' + "x" * 36 + '"',
])
def test_hashes_uuids_and_placeholders_are_not_secrets(line: str) -> None:
    assert find_secrets(line + "\n") == []
