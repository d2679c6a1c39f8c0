"""The trial life's races, driven with two real connections (PostgreSQL, where writers run at
once), and its rules that a request cannot show: a pause is never overwritten by ``ask``, a
command is never left pending on a finished trial, a fork never fails under its parent's
checkpoint pruning, identical checkpoints never race, waiting trials are never resent, a
cancelled study is never re-tested, and the multi-fidelity ranking reads every attempt."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update

from api.datasets import service as dataset_service
from api.db.migrate import upgrade
from api.db.models import Checkpoint, RetestRound, Study, Trial, TrialCommand, TrialReport
from api.db.session import Database
from api.panda import checkpoints as checkpoint_service
from api.panda import commands as command_service
from api.panda import forks as fork_service
from api.retests import rounds  # noqa: F401  (registers its new-version listener)
from api.studies import scheduling
from api.studies import service as study_service
from api.studies.search_history import HISTORY
from api.trials import lifecycle
from api.trials import service as trial_service
from api.trials.dispatch import Dispatcher
from api.trials.reconciler import LostMessages
from api.trials.study import config_of
from caviar.schemas import CommandCreate, ForkCreate, StudyCreate, TellCreate, TrialDispatch
from tests.services import ROOT, backend

SPACE = {"w": {"type": "float", "low": -1, "high": 1}}


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    with backend("postgres", tmp_path) as be:
        upgrade(be.database_url)
        db = Database(be.database_url)
        yield db
        db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with backend(request.param, tmp_path) as be:
        upgrade(be.database_url)
        d = Database(be.database_url)
        yield d
        d.dispose()


def external_study(db: Database, **over: Any) -> int:
    config = StudyCreate.model_validate(
        {"name": "race", "objective": {"kind": "external"}, "space": SPACE, "max_trials": 3} | over
    )
    with db.session() as s:
        study, _ = study_service.create(s, config)
        s.commit()
        return study.id


def handed_out(db: Database, study_id: int) -> Trial:
    with db.session() as s:
        [trial] = scheduling.ask(s, study_id, 1)
        s.commit()
        return trial


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = work()
        except Exception as exc:  # the test inspects it
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_pause_between_asks_read_and_write_is_never_overwritten(pg: Database) -> None:
    """A person pauses a requeued trial just after ``ask`` read it as queued. Either the pause
    wins (the trial stays paused, its command applied, ask hands out nothing) or ask does (the
    trial runs and the pause waits, pending, for its trainer): never a trial that runs under a
    pause that reads "applied"."""
    sid = external_study(pg)
    trial = handed_out(pg, sid)
    with pg.session() as s:  # silent: back to the queue with attempt 2
        assert lifecycle.requeue_silent(s, trial.id, 1, -1.0, last_try=False, reason="test")
        s.commit()
    fired: list[threading.Thread] = []

    def pause() -> None:
        with pg.session() as other:  # its own connection
            command_service.create(other, trial.id, CommandCreate(action="pause"))
            other.commit()

    def pause_now(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        queued = "queued" in str(params)
        if not fired and statement.lstrip().startswith("SELECT") and queued:
            thread = threading.Thread(target=pause)
            fired.append(thread)
            thread.start()
            thread.join(1.0)  # it lands now, or waits for ask's locks

    event.listen(pg.write_engine, "after_cursor_execute", pause_now)
    try:
        with pg.session() as s:
            given = scheduling.ask(s, sid, 1)
            s.commit()
    finally:
        event.remove(pg.write_engine, "after_cursor_execute", pause_now)
    assert fired
    fired[0].join(10)
    with pg.read_session() as s:
        state = s.get_one(Trial, trial.id).state
        [command] = s.scalars(select(TrialCommand).where(TrialCommand.trial_id == trial.id))
    if trial.id in [t.id for t in given]:
        assert (state, command.state) == ("running", "pending")
    else:
        assert (state, command.state) == ("paused", "applied")


def test_a_command_racing_a_tell_is_never_left_pending(pg: Database) -> None:
    sid = external_study(pg)
    trial = handed_out(pg, sid)
    with pg.session() as telling:
        trial_service.tell(
            telling, trial.id, TellCreate(attempt=1, state="completed", value=1.0), trial.claim
        )  # not committed yet: the trial's row is locked by the tell

        def command() -> Any:
            with pg.session() as s:
                made = command_service.create(
                    s, trial.id, CommandCreate(action="set", params={"learning_rate": 0.1})
                )
                s.commit()
                return made

        thread, out = in_thread(command)
        time.sleep(0.5)
        telling.commit()
    thread.join(10)
    with pg.read_session() as s:
        pending = s.scalars(
            select(TrialCommand).where(
                TrialCommand.trial_id == trial.id, TrialCommand.state == "pending"
            )
        ).all()
    assert pending == []
    assert "finished trial takes no commands" in str(out.get("error"))


def running_with_checkpoint(db: Database, content: bytes) -> Trial:
    sid = external_study(db)
    trial = handed_out(db, sid)
    with db.session() as s:
        s.add(
            TrialReport(trial_id=trial.id, attempt=1, step=1, study_id=sid, value=1.0, metrics={})
        )
        checkpoint_service.store(s, trial.id, 1, trial.claim, 1, content, keep=1)
        s.commit()
    return trial


def test_a_fork_waits_for_its_parents_checkpoint_pruning(pg: Database) -> None:
    """The parent stores a checkpoint (pruning the one a fork would copy) while the fork runs:
    the fork copies the checkpoint that is left, and never fails on a dropped blob."""
    parent = running_with_checkpoint(pg, b"state at step 1")
    with pg.session() as storing:
        checkpoint_service.store(storing, parent.id, 1, parent.claim, 2, b"step 2", keep=1)

        def fork() -> Trial:
            with pg.session() as s:
                child = fork_service.fork(s, parent.id, ForkCreate(params={}))
                s.commit()
                return child

        thread, out = in_thread(fork)
        time.sleep(0.5)
        storing.commit()
    thread.join(10)
    assert "error" not in out, out.get("error")
    child = out["value"]
    with pg.read_session() as s:
        copied = s.scalars(select(Checkpoint).where(Checkpoint.trial_id == child.id)).one()
        assert copied.step == 2
        assert checkpoint_service.content(s, copied.sha256) == b"step 2"


def test_identical_checkpoints_stored_at_once_share_one_blob(pg: Database) -> None:
    first = running_with_checkpoint(pg, b"first")
    second = running_with_checkpoint(pg, b"second")
    with pg.session() as one:
        checkpoint_service.store(one, first.id, 1, first.claim, 2, b"the same bytes", keep=3)

        def other() -> None:
            with pg.session() as s:
                checkpoint_service.store(s, second.id, 1, second.claim, 2, b"the same bytes", 3)
                s.commit()

        thread, out = in_thread(other)
        time.sleep(0.5)
        one.commit()
    thread.join(10)
    assert "error" not in out, out.get("error")
    with pg.read_session() as s:
        shas = s.scalars(select(Checkpoint.sha256).where(Checkpoint.step == 2)).all()
        assert len(shas) == 2 and len(set(shas)) == 1


class Queue:
    """A broker whose queue holds exactly the messages sent (nothing lost)."""

    def __init__(self) -> None:
        self.messages: list[TrialDispatch] = []

    def send(self, message: TrialDispatch) -> None:
        self.messages.append(message)

    def queue_depth(self) -> int:
        return len(self.messages)


def test_trials_that_only_wait_their_turn_are_never_resent(db: Database) -> None:
    config = StudyCreate.model_validate(
        {
            "name": "busy fleet",
            "objective": {"kind": "function", "name": "quadratic"},
            "space": SPACE,
            "max_trials": 4,
            "parallelism": 4,
        }
    )
    queue = Queue()
    dispatcher = Dispatcher(db, queue)
    with db.session() as s:
        _, queued = study_service.create(s, config)
        s.commit()
    dispatcher.dispatch(queued)
    assert len(queue.messages) == 4
    with db.session() as s:  # sent an hour ago, and still waiting for a free worker
        s.execute(update(Trial).values(dispatched_at=datetime.now(UTC) - timedelta(hours=1)))
        s.commit()
    lost = LostMessages(after=1.0)
    assert lost.run(db, dispatcher) == 0
    assert lost.run(db, dispatcher) == 0
    assert len(queue.messages) == 4


def test_a_new_dataset_version_never_retests_a_cancelled_study(db: Database) -> None:
    csv = b"a,b,label\n" + b"".join(f"{i},{i % 3},{i % 2}\n".encode() for i in range(40))
    with db.session() as s:
        dataset_service.upload(s, "drift", csv, 10**6)
        s.commit()
    config = StudyCreate.model_validate(
        {
            "name": "on new data",
            "objective": {"kind": "train", "dataset": "drift", "epochs": 1},
            "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1}},
            "max_trials": 1,
            "parallelism": 1,
            "retest": {"on_new_data": True, "top_k": 1, "repeats": 1, "explore": 0},
        }
    )
    with db.session() as s:
        study, [trial] = study_service.create(s, config)
        s.execute(update(Trial).where(Trial.id == trial.id).values(value=0.5, state="completed"))
        study_service.cancel(s, s.get_one(Study, study.id))
        s.commit()
    with db.session() as s:
        dataset_service.upload(s, "drift", csv + b"41,2,1\n", 10**6)
        started = dataset_service.new_version(s, "drift")
        s.commit()
    assert started == []
    with db.read_session() as s:
        assert s.scalars(select(RetestRound)).all() == []


def test_the_multi_fidelity_ranking_reads_every_attempts_reports(db: Database) -> None:
    """A trial requeued after step 2 continues from its checkpoint: its values at steps 1 and 2
    (reported by attempt 1) still rank it there, as its served curve shows them."""
    sid = external_study(db, strategy={"name": "coarse_to_fine"})
    trial = handed_out(db, sid)
    with db.session() as s:
        for step in (1, 2):
            s.add(
                TrialReport(
                    trial_id=trial.id, attempt=1, step=step, study_id=sid, value=9.0, metrics={}
                )
            )
        assert lifecycle.requeue_silent(s, trial.id, 1, -1.0, last_try=False, reason="test")
        s.commit()
    with db.session() as s:
        [again] = scheduling.ask(s, sid, 1)
        assert (again.id, again.attempt) == (trial.id, 2)
        for step in (3, 4):
            s.add(
                TrialReport(
                    trial_id=trial.id, attempt=2, step=step, study_id=sid, value=1.0, metrics={}
                )
            )
        s.commit()
        trial_service.tell(
            s, trial.id, TellCreate(attempt=2, state="completed", value=1.0), again.claim
        )
        s.commit()
    with db.read_session() as s:
        study = s.get_one(Study, sid)
        HISTORY.read(s, study, config_of(study))
        at = HISTORY.values_at(s, study)
        number = trial.number
        assert at(1)[number] == 9.0 and at(2)[number] == 9.0 and at(4)[number] == 1.0


def test_only_the_transition_table_writes_a_trials_state_or_attempt() -> None:
    """Every ``update(Trial)`` and ``insert(Trial)`` of the api outside ``trials/lifecycle.py``
    leaves ``state`` and ``attempt`` alone."""
    offenders = []
    for path in sorted((ROOT / "api").rglob("*.py")):
        if path.name == "lifecycle.py" and path.parent.name == "trials":
            continue
        text = path.read_text()
        for match in re.finditer(r"(update|insert)\(Trial\)", text):
            statement = text[match.start() : text.find("\n\n", match.start())]
            if re.search(r"\b(state|attempt)\s*=", statement):
                offenders.append(
                    f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start())}"
                )
        if re.search(r"\btrial\.(state|attempt)\s*=[^=]", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
