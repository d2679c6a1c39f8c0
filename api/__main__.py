"""``python -m api``: migrate the database (unless ``--no-migrate``), then serve the api with
uvicorn."""

from __future__ import annotations

import os
import sys

# One BLAS thread per request thread: the model-based strategies work on small matrices, and
# several requests run at once in the thread pool; more threads only contend for the cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import logging  # noqa: E402

import uvicorn  # noqa: E402

from api.auth.loopback import is_loopback  # noqa: E402
from api.auth.token_store import has_active_token  # noqa: E402
from api.db.migrate import upgrade  # noqa: E402
from api.main import create_app  # noqa: E402
from caviar.settings import Settings  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        default=os.environ.get("CAVIAR_MIGRATE", "1") == "0",
        help="skip the upgrade (a migrate job ran before); also CAVIAR_MIGRATE=0",
    )
    parser.add_argument(
        "--migrate-only", action="store_true", help="upgrade the database, then exit"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_migrate or args.migrate_only:
        upgrade(settings.resolved_database_url)
    if args.migrate_only:
        return
    if not is_loopback(args.host) and not has_active_token(settings.resolved_database_url):
        print(
            f"refusing to listen on {args.host}: it is not a loopback address and no api token "
            "exists. Create one first (`caviar token create --role admin`), or listen on "
            "127.0.0.1.",
            file=sys.stderr,
        )
        sys.exit(2)
    proxies = settings.trusted_proxies.strip()
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # X-Forwarded-For / -Proto are believed only from the configured proxies.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )


if __name__ == "__main__":
    main()
