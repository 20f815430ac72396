"""A stand-in for core/memory/tuner_process.py, so that tests never run a 10-minute tuning.

Like the real one it takes the machine's tuning lock (or exits 3), then leaves in the cache
what a tuning leaves: a model folder with the tuning record (here the packaged model's files,
linked) and that folder's ONNX export (here the packaged model's export, copied: the same
weights give the same export). `python tests/unit/fake_tuner.py CACHE BASE_EXPORT [--go FILE]`
waits for FILE to exist before it makes the model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from hearth.core.memory.model_files import TUNE_INFO_FILE, bundled_model_dir, tuned_model_dir
from hearth.core.memory.onnx_export import onnx_model_path
from hearth.core.memory.tune_lock import TAKE_PATIENCE_S, TuneLock, tune_lock_path


def make_tuned_copy(cache: Path, base_export: Path) -> Path:
    """The default recipe's tuned-model folder in ``cache``, made from the packaged model."""
    base = bundled_model_dir()
    target = tuned_model_dir(cache, base)
    scratch = target.with_name(".tune-fake")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(base, scratch, copy_function=os.symlink)
    (scratch / TUNE_INFO_FILE).write_text(json.dumps(
        {"pairs": 0, "steps": 0, "first_loss": 0.0, "last_loss": 0.0, "fake": True}))
    os.replace(scratch, target)
    export = onnx_model_path(target, cache)
    export.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base_export, export)
    return target


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache", type=Path)
    parser.add_argument("base_export", type=Path)
    parser.add_argument("--go", type=Path, default=None)
    args = parser.parse_args()
    lock = TuneLock(tune_lock_path(args.cache))
    if not lock.acquire(wait=False, patience_s=TAKE_PATIENCE_S):
        return 3
    deadline = time.monotonic() + 120
    while args.go is not None and not args.go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    make_tuned_copy(args.cache, args.base_export)
    return 0


if __name__ == "__main__":
    sys.exit(main())
