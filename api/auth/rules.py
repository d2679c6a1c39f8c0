"""The role table: which roles may call a route, by method and path template.

Rules are tried in order and the first match wins; the last rules are the method-based default,
so a route added later is covered without an entry: a read (GET, HEAD, OPTIONS) needs
``viewer`` or ``admin``, anything else needs ``admin``. ``None`` means public. The patterns
match a template (``/api/trials/{trial_id}/start``) and a concrete path alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from caviar.roles import Role

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    path: re.Pattern[str]
    roles: frozenset[Role] | None  # None: public
    why: str


def _rule(methods: frozenset[str], path: str, roles: tuple[Role, ...] | None, why: str) -> Rule:
    return Rule(methods, re.compile(path), None if roles is None else frozenset(roles), why)


RULES: tuple[Rule, ...] = (
    # Probes and the dashboard's own files carry no token.
    _rule(READ_METHODS, r"^/api/health$", None, "health probe"),
    _rule(READ_METHODS, r"^/vendor/", None, "the dashboard's vendored libraries"),
    # What a worker does with a trial it runs: claim, report, tell, heartbeat, checkpoint, and
    # panda mode's poll for commands and its pause.
    _rule(
        ANY - READ_METHODS,
        r"^/api/trials/[^/]+/(start|reports|tell|heartbeats?|checkpoints?|poll|paused)$",
        ("admin", "worker"),
        "a worker's call on its trial",
    ),
    # What a worker reads: its trials (and their checkpoints), datasets and their content.
    _rule(READ_METHODS, r"^/api/(trials|datasets)(/|$)", ("admin", "viewer", "worker"), "read"),
    # The default, by method.
    _rule(READ_METHODS, r"", ("admin", "viewer"), "read"),
    _rule(ANY - READ_METHODS, r"", ("admin",), "write"),
)


def roles_for(method: str, path_template: str) -> frozenset[Role] | None:
    """The roles allowed to call ``method path_template``; None if it is public."""
    for rule in RULES:
        if method in rule.methods and rule.path.search(path_template):
            return rule.roles
    return frozenset({"admin"})  # an unknown method
