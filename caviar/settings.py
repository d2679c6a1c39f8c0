"""One settings class for every Caviar process, read from ``CAVIAR_*`` environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of the api, the workers and the CLI.

    Empty ``database_url`` / ``broker_url`` mean the embedded default: SQLite files in ``data_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="CAVIAR_", extra="ignore")

    data_dir: Path = Path("./caviar-data")
    database_url: str = ""
    broker_url: str = ""
    api_url: str = "http://127.0.0.1:8000"
    trial_queue: str = "caviar.trials"
    # Seconds between reconciler passes (heartbeat reaper, lost-message redispatch).
    reconcile_interval: float = 2.0
    # A queued trial whose message has not started after this many seconds is sent again
    # (doubling each time); duplicates are harmless because starting a trial is a claim.
    redispatch_after: float = 120.0
    # Seconds a worker keeps retrying one api call (start, heartbeat, report, tell, dataset
    # fetch) through transport errors and 5xx answers, with backoff, before giving up.
    worker_retry_for: float = 300.0
    # A train objective without ``checkpoint_every`` checkpoints every 5 epochs, but no sooner
    # than this many seconds after its previous checkpoint (and always at the end).
    checkpoint_seconds: float = 2.0
    # The most trials a worker trains at once as one fused network (worker/nn/fused.py), within
    # what the fusion rule allows (3 to 16). 1, the default: never fuse. A fused run takes the
    # queued trials other workers would have run, so it pays only when a study has many more
    # trials in flight than there are workers (docs/trial-life.md, "Fused runs").
    fuse_max: int = Field(default=1, ge=1, le=256)
    task_soft_time_limit: int = 3540
    task_time_limit: int = 3600
    # Seconds between re-test scheduler passes (close finished rounds, fire due ones).
    retest_interval: float = 1.0
    # Largest accepted dataset upload, in bytes.
    max_upload_bytes: int = 20 * 1024 * 1024
    # The bearer token that the CLI, the Client and the workers send (``Authorization``).
    token: str = ""
    # Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are believed
    # (uvicorn's forwarded_allow_ips); empty: none, the peer's address is the client's.
    trusted_proxies: str = ""
    # Comma-separated extra Host names accepted on a loopback api (besides 127.0.0.1,
    # localhost and [::1]), e.g. the name a local reverse proxy passes on. A request under such
    # a name always needs a token: it never opens a tokenless api to other hosts.
    allowed_hosts: str = ""
    # Comma-separated origins (``https://tuning.example.com``) whose web pages may change
    # things through the api, besides the api's own origin (scheme://Host of the request).
    allowed_origins: str = ""
    # Largest accepted request body, in bytes, for every route that does not set its own (the
    # checkpoint and dataset uploads do): 413 before the body is parsed. 8 MiB fits the largest
    # study the schema allows (64 hyperparameters of 256 choices of 256 characters, 4.3 MB of
    # JSON) and any report (32 metrics).
    max_body_bytes: int = 8 * 1024 * 1024
    # A worker token that ``caviar up`` makes at start for the workers it starts, and hands to
    # its api: accepted as a worker's, never stored, and it never closes a tokenless api.
    local_worker_token: str = ""
    # Largest accepted training checkpoint, in bytes, and how many a trial keeps.
    max_checkpoint_bytes: int = 256 * 1024 * 1024
    checkpoints_kept: int = 3

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'caviar.db').resolve()}"

    @cached_property
    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"
