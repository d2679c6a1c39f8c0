"""``python -m worker``: a Celery worker of the trial queue, talking to the api over REST."""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

from celery.signals import worker_ready


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--api", help="the api's URL (default: CAVIAR_API_URL)")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--fuse-max",
        type=int,
        default=None,
        help="most trials trained at once as one fused network, within the fusion rule's "
        "3 to 16 (default: CAVIAR_FUSE_MAX, else 1: never fuse)",
    )
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--hostname", default=None)
    parser.add_argument(
        "--quiet", action="store_true", help="no start-up banner, no superuser SecurityWarning"
    )
    parser.add_argument("--ready-file", default=None, help="touched once the worker is ready")
    args = parser.parse_args(argv)
    # One BLAS thread per pool process: scale out with --concurrency instead. Two processes
    # each spinning two BLAS threads on two cores slow each other down many times over.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if args.fuse_max is not None:
        os.environ["CAVIAR_FUSE_MAX"] = str(args.fuse_max)
    if args.api:
        os.environ["CAVIAR_API_URL"] = args.api
    if args.quiet:
        # `caviar up` runs the worker as the user who runs it; the warning is for services.
        warnings.filterwarnings("ignore", message=".*superuser privileges.*")
    from worker.celery_app import app, settings

    if args.ready_file:
        ready = Path(args.ready_file)
        worker_ready.connect(lambda **_: ready.touch(), weak=False)
    worker_args = [
        *(["--quiet"] if args.quiet else []),
        "worker",
        f"--loglevel={args.loglevel}",
        f"--concurrency={args.concurrency}",
        f"--queues={settings.trial_queue}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
    ]
    if args.hostname:
        worker_args.append(f"--hostname={args.hostname}")
    app.worker_main(worker_args)


if __name__ == "__main__":
    main()
