"""The loopback rules: which addresses count as this machine, and which Host headers a
loopback api accepts (so that a page on another site cannot drive it by DNS rebinding)."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_host_headers(port: int, extra: str = "") -> frozenset[str]:
    """The Host header values a loopback api on ``port`` accepts (lower case)."""
    extras = [n.strip().lower() for n in extra.split(",") if n.strip()]
    names = [*LOOPBACK_NAMES, *extras]
    allowed = {f"{n}:{port}" for n in names}
    if port == 80:
        allowed.update(names)
    allowed.update(extras)  # an extra name is also accepted exactly as configured
    return frozenset(allowed)
