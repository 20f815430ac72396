"""The background tuning's own process, ``python -m hearth.core.memory.tuner_process``.

The language server starts it (core/memory/background_tune.py). It lowers its priority
before anything else, so that every thread it makes (torch's) runs only on time nobody else
wants; takes the machine's tuning lock or ends at once; tunes with one core fewer than the
machine has; and ends by itself within a second of its parent, even if the parent was
killed without a chance to stop it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

EXIT_TUNED = 0
EXIT_FAILED = 1
EXIT_BUSY = 3  # another process holds the lock: it is making the same model
EXIT_ORPHANED = 4  # the parent ended first

log = logging.getLogger("hearth.tuner")


def lowest_priority() -> None:
    """Linux's idle scheduling class where there is one (runs only on otherwise idle CPU
    time), and nice 19 everywhere it exists. Applies to threads made from now on."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            log.info("No idle scheduling class: %s", exc)
    if hasattr(os, "nice"):
        try:
            os.nice(19)  # an increment; the system caps it at 19
        except OSError as exc:
            log.info("Cannot lower the priority: %s", exc)


def end_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """Exit once ``parent`` has ended (this process is then re-parented). POSIX only: on
    Windows the parent pid never changes, and the server's own stop is what ends it."""
    if sys.platform == "win32":
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        log.warning("The language server (pid %d) ended: stopping the tuning", parent)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="hearth-tuner-parent", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth-tuner", description=__doc__)
    parser.add_argument("--cache", type=Path, required=True, help="Hearth's cache folder")
    parser.add_argument("--parent", type=int, default=None, help="end when this pid ends")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    lowest_priority()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.parent is not None:
        end_with_parent(args.parent)

    from hearth.core.errors import HearthError
    from hearth.core.memory.tune import TuningBusy, tune_embedder

    log.info("Tuning the embedder in the background (pid %d, %s threads)", os.getpid(),
             args.threads or "all")
    try:
        result = tune_embedder(args.cache, wait=False, threads=args.threads)
    except TuningBusy as exc:
        log.info("%s", exc)
        return EXIT_BUSY
    except HearthError as exc:
        log.error("Tuning failed: %s", exc)
        return EXIT_FAILED
    log.info("Tuned model ready: %s", json.dumps({
        "model_dir": str(result.model_dir), "created": result.created,
        "elapsed_s": round(result.elapsed_s, 1)}))
    return EXIT_TUNED


if __name__ == "__main__":
    sys.exit(main())
