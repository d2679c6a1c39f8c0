"""Claims: a worker token alone can write only to the attempts its holder claimed.

Two workers, each with its own worker token, on one api with tokens: the second cannot report,
tell, pause, store a checkpoint or poll for the attempt the first holds (409, and nothing
changes), on SQLite and PostgreSQL. An external trial's tell without its claim is 409 too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.auth.token_store import create_token
from api.db.migrate import upgrade
from api.db.session import Database
from caviar.client import Client, Conflict
from tests.services import Backend, api_server

SPACE = {"w": {"type": "float", "low": -10, "high": 10}}


@pytest.fixture(scope="module")
def tokens(be: Backend) -> dict[str, str]:
    upgrade(be.database_url)
    db = Database(be.database_url)
    try:
        with db.session() as s:
            made = {
                "admin": create_token(s, "admin", "claims admin")[1],
                "first": create_token(s, "worker", "first worker")[1],
                "second": create_token(s, "worker", "second worker")[1],
            }
            s.commit()
    finally:
        db.dispose()
    return made


@pytest.fixture(scope="module")
def url(be: Backend, tokens: dict[str, str]) -> Iterator[str]:
    with api_server(be, CAVIAR_RECONCILE_INTERVAL="0.3") as u:
        yield u


def worker_study(admin: Client) -> int:
    """A study whose trials wait for workers (no worker runs here)."""
    return admin.create_study(
        {
            "name": "claims",
            "objective": {"kind": "function", "name": "quadratic"},
            "space": SPACE,
            "max_trials": 1,
            "parallelism": 1,
        }
    ).id


def test_a_second_worker_cannot_write_to_the_first_workers_attempt(
    url: str, tokens: dict[str, str]
) -> None:
    with (
        Client(url, token=tokens["admin"]) as admin,
        Client(url, token=tokens["first"], worker="first:1") as first,
        Client(url, token=tokens["second"], worker="second:2") as second,
    ):
        sid = worker_study(admin)
        [t] = admin.trials(sid).data
        held = first.start(t.id, 1)
        assert held.claim
        first.report(t.id, 1, step=0, value=3.0)
        admin.command(t.id, "set", {"learning_rate": 0.5})
        before = admin.trial(t.id)

        forged = "x" * 32
        attempts = {
            "report": lambda claim: second.report(t.id, 1, step=1, value=-1e300, claim=claim),
            "tell": lambda claim: second.tell(t.id, 1, "completed", -1e300, claim=claim),
            "heartbeat": lambda claim: second.heartbeat(t.id, 1, claim=claim),
            "paused": lambda claim: second.paused(t.id, 1, 1, claim=claim),
            "checkpoint": lambda claim: second.put_checkpoint(t.id, 1, 1, b"forged", claim=claim),
            "poll": lambda claim: second.poll(
                t.id, 1, [{"id": 1, "step": 1, "error": "refused by a forger"}], claim=claim
            ),
        }
        for name, write in attempts.items():
            for claim in (None, forged):  # no claim, and a made-up one
                with pytest.raises(Conflict) as e:
                    write(claim)
                assert e.value.detail["field"] == "Caviar-Claim", (name, e.value.detail)

        after = admin.trial(t.id)
        assert (after.state, after.value, after.attempt) == ("running", None, 1)
        assert after.finished_at is None and before.state == "running"
        assert [(r.step, r.value) for r in admin.reports(t.id).data] == [(0, 3.0)]
        assert admin.checkpoints(t.id).count == 0
        assert [c.state for c in admin.commands(t.id).data] == ["pending"]
        assert admin.study(sid).best is None

        # The holder's own writes still land, with its claim (kept by its client).
        assert first.poll(t.id, 1).commands[0].action == "set"
        done = first.tell(t.id, 1, "completed", 2.0)
        assert (done.state, done.value) == ("completed", 2.0)
        assert admin.study(sid).best.value == 2.0


def test_an_external_trials_tell_without_its_claim_is_409(url: str, tokens: dict[str, str]) -> None:
    with (
        Client(url, token=tokens["admin"]) as admin,
        Client(url, token=tokens["first"]) as first,
    ):
        sid = admin.create_study(
            {"name": "ext", "objective": {"kind": "external"}, "space": SPACE, "max_trials": 2}
        ).id
        [t] = admin.ask(sid, 1)
        assert t.claim
        bare = httpx.post(
            f"{url}/api/trials/{t.id}/tell",
            json={"attempt": 1, "state": "completed", "value": -5.0},
            headers={"authorization": f"Bearer {tokens['first']}"},
        )
        assert bare.status_code == 409, bare.text
        assert bare.json()["field"] == "Caviar-Claim"
        with pytest.raises(Conflict):
            first.tell(t.id, 1, "completed", -5.0, claim="not-the-claim-" * 2)
        assert admin.trial(t.id).state == "running"
        # The claim from ask, sent by a process that did not ask itself, is enough.
        told = first.tell(t.id, 1, "completed", 1.0, claim=t.claim)
        assert told.value == 1.0
