"""Tests for the guardrails' audit log: format, privacy, rotation, thread safety."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from pathlib import Path

import platformdirs
import pytest

from hearth.core.guardrails import (
    AuditLog,
    check_instruction,
    check_output,
    default_audit_path,
    redact_secrets,
    subject_digest,
)
from hearth.settings import GuardrailSettings

GITHUB_TOKEN = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"


@pytest.fixture
def audit(tmp_path: Path):
    log = AuditLog(tmp_path / "logs" / "audit.jsonl")
    yield log
    log.close()


def entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_record_is_one_json_line_with_time_action_rule_decision(audit: AuditLog) -> None:
    audit.record("generate", "HG203", "block", subject_hash=subject_digest("rm -rf /"))
    [entry] = entries(audit.path)
    assert set(entry) == {"time", "action", "rule", "decision", "subject"}
    assert (entry["action"], entry["rule"], entry["decision"]) == ("generate", "HG203", "block")
    assert re.fullmatch(r"[0-9a-f]{16}", entry["subject"])
    moment = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
    assert entry["time"].endswith("Z") and moment.utcoffset().total_seconds() == 0


def test_subject_is_optional(audit: AuditLog) -> None:
    audit.record("fix", "HG311", "block")
    assert "subject" not in entries(audit.path)[0]


def test_the_digest_is_a_stable_sha256_prefix() -> None:
    assert subject_digest("abc") == "ba7816bf8f01cfea"  # sha256("abc"), first 16 hex digits
    assert subject_digest("abc") != subject_digest("abd")


def test_no_source_or_secret_reaches_the_log(audit: AuditLog) -> None:
    settings = GuardrailSettings(policy="warn")
    source = f'TOKEN = "{GITHUB_TOKEN}"\n\ndef f():\n    ...\n'
    candidate = source.replace("    ...", "    import os\n    os.system(f'rm -rf {path}')")
    instruction = "then rm -rf ~ and DROP TABLE users"
    redaction = redact_secrets(source, settings)
    audit.record_findings("generate", check_instruction(instruction, settings),
                          subject=instruction)
    audit.record_findings("generate", [redaction.finding], subject=source)
    audit.record_findings("generate", check_output(source, candidate, settings=settings),
                          subject=candidate)
    text = audit.path.read_text(encoding="utf-8")
    assert [(e["rule"], e["decision"]) for e in entries(audit.path)] == [
        ("HG202", "warn"), ("HG203", "warn"), ("HG301", "allow"), ("HS102", "warn")]
    for forbidden in (GITHUB_TOKEN, "TOKEN", "rm -rf", "DROP TABLE", "os.system", "def f"):
        assert forbidden not in text
    assert subject_digest(instruction) in text and subject_digest(source) in text


def test_fields_that_are_not_identifiers_are_hashed_not_written(audit: AuditLog) -> None:
    audit.record("generate", f'password = "{GITHUB_TOKEN}"', "warn", subject_hash=GITHUB_TOKEN)
    text = audit.path.read_text(encoding="utf-8")
    assert GITHUB_TOKEN not in text and "password" not in text
    [entry] = entries(audit.path)
    assert entry["rule"].startswith("sha256:")
    assert entry["subject"] == subject_digest(GITHUB_TOKEN)


def test_concurrent_records_are_whole_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    threads, per_thread = 8, 200

    def write(number: int) -> None:
        for index in range(per_thread):
            log.record(f"action{number}", f"HG{index:03d}", "warn")

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()
    lines = entries(log.path)
    assert len(lines) == threads * per_thread
    for number in range(threads):
        rules = [e["rule"] for e in lines if e["action"] == f"action{number}"]
        assert rules == [f"HG{index:03d}" for index in range(per_thread)]


def test_two_logs_on_one_file_share_it(tmp_path: Path) -> None:
    first, second = AuditLog(tmp_path / "a.jsonl"), AuditLog(tmp_path / "." / "a.jsonl")
    first.record("generate", "HG201", "warn")
    second.record("fix", "HG202", "block")
    first.close()
    assert [e["rule"] for e in entries(tmp_path / "a.jsonl")] == ["HG201", "HG202"]


def test_rotation_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=1000, backups=3)
    for index in range(200):
        log.record("generate", f"HG{index:03d}", "warn")
    log.close()
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    assert all(path.stat().st_size <= 1000 for path in tmp_path.iterdir())
    assert entries(tmp_path / "audit.jsonl")[-1]["rule"] == "HG199"


def test_default_path_honours_hearth_log_dir(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("HEARTH_LOG_DIR", str(tmp_path / "custom"))
    assert default_audit_path() == tmp_path / "custom" / "audit.jsonl"
    log = AuditLog()
    log.record("explain", "HG311", "block")
    log.close()
    assert (tmp_path / "custom" / "audit.jsonl").is_file()


def test_default_path_is_the_platform_log_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTH_LOG_DIR", raising=False)
    expected = platformdirs.user_log_path("hearth", appauthor=False) / "audit.jsonl"
    assert default_audit_path() == expected


def test_an_unusable_folder_disables_the_log_without_raising(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    log = AuditLog(blocker / "audit.jsonl")
    log.record("generate", "HG201", "warn")
    log.record("generate", "HG202", "warn")
    assert "Audit log disabled" in caplog.text
    assert caplog.text.count("Audit log disabled") == 1
