"""The roles of api tokens, defined once.

``admin`` may do everything; ``viewer`` may read; ``worker`` may claim, report, tell, heartbeat,
poll, pause (``paused``) and checkpoint trials, and read trials and datasets.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "viewer", "worker"]
ROLES: tuple[Role, ...] = ("admin", "viewer", "worker")
