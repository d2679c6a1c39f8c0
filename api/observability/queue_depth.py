"""How many trial messages wait in the broker's queue."""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import ChannelError

log = logging.getLogger("caviar.metrics")


def queue_depth(sender: Any) -> int | None:
    """Messages waiting in ``sender.queue`` on ``sender.app``'s broker; None if unknown.

    A queue that the broker does not know yet (Redis drops empty lists) holds 0 messages.
    """
    app, queue = getattr(sender, "app", None), getattr(sender, "queue", None)
    if app is None or queue is None:
        return None
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            try:
                return int(conn.default_channel.queue_declare(queue=queue, passive=True)[1])
            except ChannelError:
                return 0
    except Exception as exc:  # the broker is down: the scrape still answers
        log.warning("queue depth of %s unknown: %s", queue, exc)
        return None
