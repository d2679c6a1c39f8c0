"""Api tokens in the database: create, list, revoke, and a short-lived cache for lookups.

A token is 32 random bytes from ``secrets`` (256 bits), so the stored SHA-256 cannot be
reversed by guessing: slow password hashes (bcrypt, argon2) exist for low-entropy secrets that
people choose. A fast, unsalted hash also lets the api find a token by its hash in one indexed
lookup on every request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import ApiToken
from api.db.session import Database
from caviar.roles import Role

TOKEN_PREFIX = "cvr_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def _info(t: ApiToken) -> TokenInfo:
    return TokenInfo(t.id, t.name, t.role, t.created_at, t.revoked_at)


def create_token(session: Session, role: Role, name: str) -> tuple[TokenInfo, str]:
    """Store a new token of ``role``; returns its row and the token, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, token_hash=hash_token(token))
    session.add(row)
    session.flush()
    session.refresh(row)
    return _info(row), token


MIN_TOKEN_LENGTH = 32


def add_token(session: Session, role: Role, name: str, token: str) -> TokenInfo | None:
    """Store a token chosen elsewhere (e.g. a deployment's secret), unless already stored.

    Returns the new row, or None if that token exists. It must be at least 32 characters long:
    the hash is only as safe as the token is hard to guess.
    """
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"a token must be at least {MIN_TOKEN_LENGTH} characters long")
    if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))):
        return None
    row = ApiToken(name=name, role=role, token_hash=hash_token(token))
    session.add(row)
    session.flush()
    session.refresh(row)
    return _info(row)


def list_tokens(session: Session) -> list[TokenInfo]:
    return [_info(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(session: Session, token_id: int) -> bool:
    """Revoke a token; False if there is no such token or it was already revoked."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=db_now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def reopen(session: Session) -> int:
    """Forget every revoked token, so that a loopback api answers without a token again;
    returns how many were forgotten. Refused (``ValueError``) while a token is active."""
    if session.scalar(select(ApiToken.id).where(ApiToken.revoked_at.is_(None)).limit(1)):
        raise ValueError("a token is still active: revoke every token first (caviar token list)")
    result = session.execute(delete(ApiToken).where(ApiToken.revoked_at.is_not(None)))
    return int(result.rowcount)  # type: ignore[attr-defined]


class TokenCache:
    """The active tokens (hash → role), and whether any token was ever stored, reloaded at most
    every ``ttl`` seconds.

    A new or revoked token takes effect on every api replica within ``ttl`` seconds. The api
    is *closed* (every call needs a token) as soon as a token row exists, active or revoked:
    revoking the last token leaves it closed, and only ``caviar token reopen`` (which deletes
    the revoked rows) opens a loopback api again. ``local_token`` is ``caviar up``'s worker
    token (``CAVIAR_LOCAL_WORKER_TOKEN``): a worker's, never stored, and it closes nothing.
    """

    def __init__(self, db: Database, ttl: float = 2.0, local_token: str = "") -> None:
        self.db, self.ttl = db, ttl
        self._roles: dict[str, str] = {}
        self._closed = False
        self._local = hash_token(local_token) if len(local_token) >= MIN_TOKEN_LENGTH else None
        self._loaded_at = -float("inf")
        self._lock = threading.Lock()

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self.ttl

    def refresh(self) -> None:
        """Reload from the database (blocking: call it from a thread)."""
        with self._lock:
            if not self.stale:
                return
            with self.db.read_session() as s:
                rows = s.execute(select(ApiToken.token_hash, ApiToken.role, ApiToken.revoked_at))
                roles, closed = {}, False
                for digest, role, revoked_at in rows:
                    closed = True
                    if revoked_at is None:
                        roles[digest] = role
                self._roles, self._closed = roles, closed
            self._loaded_at = time.monotonic()

    @property
    def closed(self) -> bool:
        """Whether a token was ever stored (and not forgotten by ``reopen``)."""
        return self._closed

    def role_of(self, token: str) -> str | None:
        digest = hash_token(token)
        if digest == self._local:
            return "worker"
        return self._roles.get(digest)


def has_active_token(url: str) -> bool:
    """Whether the database at ``url`` holds a token that is not revoked."""
    db = Database(url)
    try:
        with db.read_session() as s:
            found = s.scalar(select(ApiToken.id).where(ApiToken.revoked_at.is_(None)).limit(1))
            return found is not None
    finally:
        db.dispose()
