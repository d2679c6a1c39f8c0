"""Warm starts against a real api: the earlier study's best configurations come first, its
results seed the strategy's observations, and another space keeps what fits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.db.models import Study
from api.db.session import Database
from api.studies.scheduling import observations
from api.trials.study import config_of
from caviar.client import Client
from tests.api.test_retests import run_out
from tests.services import api_server, backend

EARLIER_SPACE = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "kind": {"type": "categorical", "choices": ["a", "b"]},
}
NEW_SPACE = {
    "x": {"type": "float", "low": 0.0, "high": 0.5},
    "z": {"type": "int", "low": 1, "high": 9},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("warm")) as be,
        api_server(be) as url,
    ):
        yield url, be.database_url


def test_warm_start_from_another_space(site: tuple[str, str]) -> None:
    url, database_url = site
    with Client(url) as c:
        earlier = c.create_study(
            {
                "name": "earlier",
                "objective": {"kind": "external"},
                "space": EARLIER_SPACE,
                "max_trials": 12,
                "seed": 3,
            }
        )
        run_out(c, earlier.id, lambda x: (x - 0.45) ** 2)
        ranked = sorted(c.trials(earlier.id).data, key=lambda t: t.value or 0.0)
        # top_k 4 is filled with the best four that fit (x <= 0.5); those that do not are
        # dropped on the way there
        fits = [t for t in ranked if t.params["x"] <= 0.5][:4]
        fitting = [t.params["x"] for t in fits]
        passed = ranked[: ranked.index(fits[-1]) + 1]
        dropped = sum(t.params["x"] > 0.5 for t in passed)

        new = c.create_study(
            {
                "name": "later",
                "objective": {"kind": "external"},
                "space": NEW_SPACE,
                "strategy": {"name": "coarse_to_fine", "stage_trials": 4},
                "max_trials": 10,
                "seed": 4,
                "warm_start": {"study_id": earlier.id, "top_k": 4},
            }
        )
        report = new.warm_start_report
        assert report is not None and report.study_id == earlier.id
        assert report.dropped_params == ["kind"]
        assert report.configurations == len(fitting) == 4
        assert report.dropped_configurations == dropped
        assert report.observations == sum(t.params["x"] <= 0.5 for t in ranked)
        assert any("z is new" in n for n in report.notes)
        first = c.ask(new.id, count=len(fitting))
        assert [t.params["x"] for t in first] == fitting  # the earlier best, best first
        assert all(t.params["z"] == 5 for t in first)  # the new param at its centre
        assert c.study(new.id).counts["running"] == len(fitting)
        for t in first:
            c.tell(t.id, t.attempt, "completed", (t.params["x"] - 0.45) ** 2)
        more = c.ask(new.id, count=4)  # coarse_to_fine, with the borrowed results in hand
        assert len(more) == 4 and all(0 <= t.params["x"] <= 0.5 for t in more)

    db = Database(database_url)
    try:
        with db.read_session() as s:
            study = s.get_one(Study, new.id)
            seen = observations(s, study, config_of(study))
    finally:
        db.dispose()
    borrowed = [o for o in seen if o.number < 0]
    assert len(borrowed) == report.observations
    assert min(o.value for o in borrowed) == pytest.approx(ranked[0].value)


def test_warm_start_from_an_unknown_study_names_the_field(site: tuple[str, str]) -> None:
    r = httpx.post(
        f"{site[0]}/api/studies",
        json={
            "name": "cold",
            "objective": {"kind": "external"},
            "space": NEW_SPACE,
            "warm_start": {"study_id": 424242},
        },
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["detail"]] == ["warm_start.study_id"]


def test_a_warm_started_study_never_replays_the_earlier_studys_draws(
    site: tuple[str, str],
) -> None:
    """Same seed, same space: the new study's own trials are new draws; only the warm start's
    configurations come from the earlier study."""
    url, _ = site
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    body = {"objective": {"kind": "external"}, "space": space, "max_trials": 12, "seed": 7}
    with Client(url) as c:
        earlier = c.create_study({**body, "name": "earlier"}).id
        run_out(c, earlier, lambda x: (x - 0.3) ** 2)
        later = c.create_study(
            {**body, "name": "later", "warm_start": {"study_id": earlier, "top_k": 2}}
        ).id
        run_out(c, later, lambda x: (x - 0.3) ** 2)
        before = {t.params["x"] for t in c.trials(earlier).data}
        after = [t.params["x"] for t in c.trials(later).data]
    assert len(after) == 12
    assert sum(x in before for x in after) == 2  # the two warm-start configurations


def test_pruned_trials_fill_top_k_ranked_at_a_common_step(site: tuple[str, str]) -> None:
    """An earlier study whose pruner cut most trials: the warm start keeps its completed one,
    fills top_k with the pruned ones that were best at the step all of them reached, and says
    so in its notes."""
    url, _ = site
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    with Client(url) as c:
        earlier = c.create_study(
            {"name": "pruned", "objective": {"kind": "external"}, "space": space, "max_trials": 6}
        ).id
        trials = c.ask(earlier, 6)
        for i, t in enumerate(trials):
            c.report(t.id, t.attempt, 1, float(i))  # step 1: trial i scores i
            if i == 5:
                c.report(t.id, t.attempt, 2, 0.5)
                c.tell(t.id, t.attempt, "completed", 0.5)
            else:
                c.tell(t.id, t.attempt, "pruned", float(i))
        later = c.create_study(
            {
                "name": "from pruned",
                "objective": {"kind": "external"},
                "space": space,
                "max_trials": 6,
                "warm_start": {"study_id": earlier, "top_k": 3},
            }
        )
        first = c.ask(later.id, 3)
    assert [t.params["x"] for t in first] == [
        trials[5].params["x"],  # the completed one
        trials[0].params["x"],  # then the pruned ones best at step 1
        trials[1].params["x"],
    ]
    report = later.warm_start_report
    assert report is not None and report.configurations == 3
    assert any("filled 2 from pruned trials" in n and "step 1" in n for n in report.notes)


def test_a_warm_started_coarse_to_fine_study_starts_zoomed(site: tuple[str, str]) -> None:
    """The earlier study's results count toward the first zoom: the new study's first own
    suggestions come from a region around the earlier best, not from the whole space."""
    url, _ = site
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    with Client(url) as c:
        earlier = c.create_study(
            {
                "name": "evidence",
                "objective": {"kind": "external"},
                "space": space,
                "max_trials": 24,
                "seed": 5,
            }
        ).id
        run_out(c, earlier, lambda x: (x - 0.3) ** 2)
        later = c.create_study(
            {
                "name": "zoomed",
                "objective": {"kind": "external"},
                "space": space,
                "strategy": {"name": "coarse_to_fine", "stage_trials": 8, "explore_fraction": 0},
                "max_trials": 10,
                "seed": 5,
                "warm_start": {"study_id": earlier, "top_k": 2},
            }
        ).id
        handed = c.ask(later, 4)
        regions = c.regions(later)
    own = handed[2:]  # after the two warm-start configurations
    assert all(t.stage >= 1 for t in own)
    zoomed = [r for r in regions if r.stage >= 1]
    assert zoomed
    low, high = zoomed[0].bounds["x"]["low"], zoomed[0].bounds["x"]["high"]
    assert low <= 0.3 <= high and high - low < 0.9
    assert all(low <= t.params["x"] <= high for t in own)
