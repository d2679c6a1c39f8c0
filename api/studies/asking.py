"""``ask`` as the route serves it: suggestions computed off the study's lock, asks batched.

Contract of ``answer``: the same answers as ``scheduling.ask`` called once per request under the
study's lock, except that concurrent asks of one study in this process are served together
(``ask_batches``) and that their suggestions come from a snapshot read without the lock:

1. ``plan_ask`` reads the study (history, trials in flight, regions) in a read transaction and
   computes the suggestions for every ask of the batch;
2. the write transaction locks the study, hands out waiting trials first, and writes the
   planned trials only if ``scheduling.plan_holds`` (no trial or region created since the
   snapshot); otherwise it rolls back and plans again. After ``OFF_LOCK_TRIES`` stale plans
   (other api replicas, forks or re-test rounds creating trials at the same time) the last try
   computes under the lock, as an ask always did, so every ask ends.

The lock is then held only to write: no suggestion is computed under it, unless a plan went
stale ``OFF_LOCK_TRIES`` times in a row. ``caviar_ask_plans_total{outcome}`` counts the plans
that held, went stale, and the asks computed under the lock.
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy.orm import Session

from api.db.models import Trial
from api.publish import trial_public
from api.studies import scheduling
from api.studies.ask_batches import Batches
from caviar.schemas import AskAnswer

#: Plans tried without the lock before one ask computes under it.
OFF_LOCK_TRIES = 3

PLANS = Counter(
    "caviar_ask_plans",
    "Asks' suggestion plans computed without the study's lock, by outcome: held (written), "
    "stale (planned again), locked (computed under the lock after stale plans)",
    ["outcome"],
    registry=None,
)

#: The api process's batches of concurrent asks, by database and study.
BATCHES: Batches[AskAnswer] = Batches()


def answer(session: Session, reader: Session, study_id: int, count: int) -> AskAnswer:
    """The answer to one ask of ``count`` trials (see the module docstring); commits."""
    key = (str(session.get_bind().url), study_id)  # one app per database, even in one process
    return BATCHES.run(key, count, lambda counts: serve(session, reader, study_id, counts))


def serve(session: Session, reader: Session, study_id: int, counts: list[int]) -> list[AskAnswer]:
    """One batch: the answers to asks of ``counts`` trials, in order, written in one
    transaction (committed here)."""
    trials = ask_off_lock(session, reader, study_id, sum(counts))
    answers, start = [], 0
    for count in counts:
        mine = trials[start : start + count]
        start += len(mine)
        answers.append(
            AskAnswer(
                data=[trial_public(t, claim=True) for t in mine],
                count=len(mine),
                retry_after=None if mine else scheduling.retry_after(session, study_id),
            )
        )
    session.commit()  # after the answers: no query after the commit holds SQLite's write lock
    return answers


def ask_off_lock(
    session: Session, reader: Session, study_id: int, count: int, tries: int = OFF_LOCK_TRIES
) -> list[Trial]:
    """``scheduling.ask`` with the suggestions planned in ``reader`` without the lock, planned
    again while they go stale; the last of ``tries`` computes under the lock. Not committed."""
    for attempt in range(tries):
        if attempt == tries - 1:
            PLANS.labels("locked").inc()
            return scheduling.ask(session, study_id, count)
        ahead = scheduling.plan_ask(reader, study_id, count)
        reader.rollback()
        try:
            trials = scheduling.ask(session, study_id, count, ahead, strict=True)
        except scheduling.StalePlan:
            session.rollback()
            PLANS.labels("stale").inc()
            continue
        if ahead is not None:
            PLANS.labels("held").inc()
        return trials
    raise AssertionError("unreachable")
