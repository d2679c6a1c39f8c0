"""The dashboard's endpoints against a real api: snapshot (all trials or a sample), updates past
a cursor (every trial seen finishing exactly once), the trials table, CSV, options, Plotly."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.dashboard.vendor import PLOTLY_BASIC_JS, PLOTLY_JS
from caviar.client import Client
from caviar.states import TRIAL_STATES
from tests.services import ROOT, wait_for
from tests.web.conftest import Site
from tests.web.seed import SPACE, loss, study_body


def get(site: Site, path: str, **params: Any) -> Any:
    r = httpx.get(f"{site.url}/api{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def all_trials(site: Site, study_id: int) -> list[dict[str, Any]]:
    return get(site, f"/studies/{study_id}/trials", limit=10_000)["data"]


def best_so_far(trials: list[dict[str, Any]]) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for t in sorted(trials, key=lambda t: t["number"]):
        if t["state"] == "completed" and (not out or t["value"] < out[-1][1]):
            out.append((t["number"], t["value"]))
    return out


def test_snapshot_of_a_small_study_has_every_finished_trial(site: Site) -> None:
    study_id = site.ids["c2f-demo"]
    snap = get(site, f"/studies/{study_id}/dashboard")
    trials = all_trials(site, study_id)
    assert not snap["sampled"] and snap["cursor"] == 63 and snap["pending"] == []
    assert snap["trials"]["number"] == [t["number"] for t in trials]
    assert snap["trials"]["stage"] == [t["stage"] for t in trials]
    assert set(snap["trials"]["params"]) == set(SPACE)
    best = list(zip(snap["best"]["number"], snap["best"]["value"], strict=True))
    assert best == [(n, pytest.approx(v, rel=1e-5)) for n, v in best_so_far(trials)]
    assert set(snap["importance"]) == set(SPACE) and len(snap["pair"]) == 2
    assert snap["pair"][0] == max(snap["importance"], key=snap["importance"].get)
    curves = snap["curves"]
    assert {c["number"] for c in curves["trials"]} == set(range(64))
    assert len(curves["step"]) == 64 * 6 and set(curves["metrics"]) == {"val_accuracy"}


def test_snapshot_of_a_large_study_is_a_sample_with_the_best_and_an_exact_best_line(
    site: Site,
) -> None:
    with Client(site.url) as c:
        s = c.create_study(study_body("many", {"name": "random"}, 400, seed=5))
        trials = c.ask(s.id, 200) + c.ask(s.id, 200)  # at most 256 per request
        for t in trials:
            c.tell(t.id, 1, "completed", loss(t.params))
    snap = get(site, f"/studies/{s.id}/dashboard", max_points=100)
    everything = all_trials(site, s.id)
    assert snap["sampled"] and snap["total"] == 400 and snap["finished"] == 400
    numbers = snap["trials"]["number"]
    assert 80 <= len(numbers) <= 110 and numbers == sorted(numbers)
    best10 = sorted(everything, key=lambda t: t["value"])[:10]
    assert {t["number"] for t in best10} <= set(numbers)
    assert max(numbers) - min(numbers) > 300, "the sample spreads over the whole study"
    best = list(zip(snap["best"]["number"], snap["best"]["value"], strict=True))
    assert best == [(n, pytest.approx(v, rel=1e-5)) for n, v in best_so_far(everything)]


def test_updates_show_every_trial_finishing_exactly_once(site: Site) -> None:
    with Client(site.url) as c:
        s = c.create_study(study_body("cursor", {"name": "random"}, 10, seed=9))
        t0, t1, t2 = c.ask(s.id, 3)
        snap = get(site, f"/studies/{s.id}/dashboard")
        assert (snap["cursor"], snap["pending"], snap["trials"]["number"]) == (2, [0, 1, 2], [])

        c.tell(t1.id, 1, "completed", 1.0)
        t3, t4 = c.ask(s.id, 2)
        c.report(t3.id, 1, 0, 3.0)
        c.tell(t4.id, 1, "pruned", 2.0)
        u = get(site, f"/studies/{s.id}/dashboard/updates", after=2, watch="0-2")
        assert (u["cursor"], u["pending"], u["trials"]["number"]) == (4, [0, 2, 3], [1, 4])
        assert u["trials"]["state"] == ["completed", "pruned"] and not u["more"]
        assert {c["number"]: c["state"] for c in u["curves"]["trials"]} == {3: "running"}

        for t in (t0, t2, t3):
            c.tell(t.id, 1, "completed", 0.5)
        u = get(site, f"/studies/{s.id}/dashboard/updates", after=4, watch="0,2,3")
        assert (u["cursor"], u["pending"], u["trials"]["number"]) == (4, [], [0, 2, 3])
        u = get(site, f"/studies/{s.id}/dashboard/updates", after=4, watch="")
        assert u["trials"]["number"] == [] and u["cursor"] == 4

        more = c.ask(s.id, 5)
        for t in more:
            c.tell(t.id, 1, "completed", 0.1)
        u = get(site, f"/studies/{s.id}/dashboard/updates", after=4, limit=2)
        assert (u["cursor"], u["more"], u["trials"]["number"]) == (6, True, [5, 6])


def test_the_trials_table_sorts_filters_and_pages_on_the_server(site: Site) -> None:
    study_id = site.ids["c2f-demo"]
    trials = all_trials(site, study_id)
    page = get(
        site, f"/studies/{study_id}/dashboard/trials", sort="params.learning_rate", desc="true"
    )
    lrs = sorted((t["params"]["learning_rate"] for t in trials), reverse=True)
    assert page["count"] == 64 and [t["params"]["learning_rate"] for t in page["data"]] == lrs[:50]
    r = httpx.get(
        f"{site.url}/api/studies/{study_id}/dashboard/trials?state=completed&stage=1&stage=2"
        "&sort=value&offset=2&limit=3"
    )
    chosen = sorted(
        (t for t in trials if t["state"] == "completed" and t["stage"] in (1, 2)),
        key=lambda t: (t["value"], t["number"]),
    )
    assert r.json()["count"] == len(chosen)
    assert [t["number"] for t in r.json()["data"]] == [t["number"] for t in chosen[2:5]]
    bad = httpx.get(f"{site.url}/api/studies/{study_id}/dashboard/trials", params={"sort": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "sort"
    bad = httpx.get(
        f"{site.url}/api/studies/{study_id}/dashboard/trials", params={"state": "sleeping"}
    )
    assert bad.status_code == 422


def test_csv_export_streams_the_filtered_trials(site: Site) -> None:
    study_id = site.ids["random-demo"]
    r = httpx.get(f"{site.url}/api/studies/{study_id}/dashboard/trials.csv?state=pruned")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    pruned = [t for t in all_trials(site, study_id) if t["state"] == "pruned"]
    assert [int(r["number"]) for r in rows] == [t["number"] for t in pruned]
    assert all('"pruner": "median"' in r["prune_reason"] for r in rows)
    assert float(rows[0]["learning_rate"]) == pruned[0]["params"]["learning_rate"]


def test_options_follow_the_contract(site: Site) -> None:
    opts = get(site, "/dashboard/options")
    assert set(opts["strategies"]) == {"random", "grid", "coarse_to_fine"}
    assert set(opts["pruners"]) == {"none", "median", "asha"}
    c2f = opts["strategies"]["coarse_to_fine"]["properties"]
    assert c2f["stage_trials"]["default"] == 16 and "name" not in c2f
    assert "quadratic" in opts["objective"]["functions"]
    assert "digits" in opts["objective"]["datasets"]
    assert opts["objective"]["trainer_params"]["learning_rate"]["kind"] == "float"
    assert opts["trial_states"] == list(TRIAL_STATES)


def test_grid_against_random_distinct_values(site: Site) -> None:
    with Client(site.url) as c:
        s = c.create_study(study_body("grid", {"name": "grid", "points_per_param": 3}, 81, seed=1))
    d = get(site, f"/studies/{s.id}/dashboard/distinct")
    assert d["trials"] == 81 and d["points_per_param"] == 3
    assert d["params"]["learning_rate"] == {"grid": 3, "random": 81}


def test_unknown_study_is_404(site: Site) -> None:
    for path in (
        "dashboard",
        "dashboard/updates?after=-1",
        "dashboard/trials",
        "dashboard/distinct",
    ):
        r = httpx.get(f"{site.url}/api/studies/987654/{path}")
        assert r.status_code == 404 and "987654" in r.json()["detail"], path


def test_plot_data_and_plotly_are_gzip_compressed(site: Site) -> None:
    r = httpx.get(f"{site.url}/vendor/plotly.min.js")
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.content) == PLOTLY_JS.stat().st_size
    assert int(r.headers["content-length"]) < PLOTLY_JS.stat().st_size / 2
    r = httpx.get(f"{site.url}/api/studies/{site.ids['c2f-demo']}/dashboard")
    assert r.headers["content-encoding"] == "gzip"


def test_the_basic_plotly_bundle_is_served_compressed_and_matches_the_full_ones_version(
    site: Site,
) -> None:
    r = httpx.get(f"{site.url}/vendor/plotly-basic.min.js")
    assert r.headers["content-encoding"] == "gzip"
    assert r.content == PLOTLY_BASIC_JS.read_bytes()
    assert int(r.headers["content-length"]) < PLOTLY_BASIC_JS.stat().st_size / 2

    def version(path: Path) -> str:
        head = path.read_text()[:200]
        match = re.search(r"plotly\.js (?:\(basic - minified\) )?v(\d+\.\d+\.\d+)", head)
        assert match, head
        return match.group(1)

    # web/vendor/plotly-basic.min.js follows the pinned plotly package's bundle
    assert version(PLOTLY_BASIC_JS) == version(PLOTLY_JS)


def test_index_preloads_every_module() -> None:
    web = ROOT / "web"
    html = (web / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/([^"]+)">', html))
    modules = {str(p.relative_to(web)) for p in Path(web / "js").rglob("*.js")}
    assert preloaded == modules


def test_curves_show_a_requeued_trials_continued_curve(site: Site) -> None:
    """Attempt 1 reported steps 0-2, attempt 2 continued from step 1: one curve, 0 from the
    first attempt and 1-2 from the second, as GET /trials/{id}/reports serves it."""
    with Client(site.url) as c:
        body = study_body("requeued", {"name": "random"}, 1, heartbeat_grace=1.0)
        s = c.create_study(body)
        [t] = c.ask(s.id, 1)
        for step in range(3):
            c.report(t.id, 1, step, 10.0 + step)
        wait_for(lambda: c.trials(s.id).data[0].attempt == 2, 15, "the requeue")
        c.ask(s.id, 1)
        c.report(t.id, 2, 1, 5.0)
        c.report(t.id, 2, 2, 4.0)
        served = [(r.step, r.value) for r in c.reports(t.id).data]
    curves = get(site, f"/studies/{s.id}/dashboard")["curves"]
    assert list(zip(curves["step"], curves["value"], strict=True)) == served
    assert served == [(0, 10.0), (1, 5.0), (2, 4.0)]


def test_importance_leaves_out_steered_trials(site: Site) -> None:
    """Unsteered trials' values rise with x; steered ones (a person changed their learning
    rate) fall with it. Counted together, x would look unimportant."""
    c = Client(site.url)
    unit = {"type": "float", "low": 0.0, "high": 1.0}
    space = {"x": unit, "y": unit}
    sid = c.create_study(
        {"name": "steered", "objective": {"kind": "external"}, "space": space, "max_trials": 40}
    ).id
    for i, t in enumerate(c.ask(sid, 40)):
        x = t.params["x"]
        if i % 2:
            command = c.command(t.id, "set", {"learning_rate": 0.01})
            c.report(t.id, 1, 1, 1.0 - x, applied=[{"id": command.id, "step": 1}])
        c.tell(t.id, 1, "completed", 1.0 - x if i % 2 else x)
    snap = get(site, f"/studies/{sid}/dashboard")
    assert snap["importance"]["x"] > 0.8 > snap["importance"]["y"]
