"""Eight clients ask and tell on one external study at once: unique trial numbers, no lost
tells, no deadlock — on every backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from caviar.client import Client

CLIENTS, ROUNDS = 8, 10


def test_eight_clients_ask_and_tell_at_once(api_url: str) -> None:
    with Client(api_url) as c:
        sid = c.create_study(
            {
                "name": "race",
                "objective": {"kind": "external"},
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "max_trials": CLIENTS * ROUNDS * 2,
            }
        ).id

    def worker(k: int) -> list[tuple[int, int, float]]:
        told = []
        with Client(api_url, timeout=30) as c:
            for i in range(ROUNDS):
                for t in c.ask(sid, 2 if i % 2 else 1):
                    value = t.params["x"] + k
                    c.report(t.id, 1, 0, value)
                    c.tell(t.id, 1, "completed", value)
                    told.append((t.id, t.number, value))
        return told

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(worker, k) for k in range(CLIENTS)]]
    told = [x for r in results for x in r]
    numbers = [n for _, n, _ in told]
    assert len(numbers) == len(set(numbers)) == CLIENTS * ROUNDS * 3 // 2
    assert sorted(numbers) == list(range(len(numbers)))
    with Client(api_url) as c:
        stored = {t.id: t for t in c.trials(sid, limit=10_000).data}
        assert len(stored) == len(told)
        for trial_id, _, value in told:
            assert stored[trial_id].state == "completed" and stored[trial_id].value == value
        assert c.study(sid).counts["completed"] == len(told)
