"""Deterministic studies for the dashboard tests, made through the REST API (ask/report/tell).

``python -m tests.web.seed URL`` seeds a running api by hand (to look at the dashboard).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from caviar.client import Client

SPACE: dict[str, Any] = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "beta": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
    "hidden_units": {"type": "int", "low": 16, "high": 256, "scale": "log"},
    "optimizer": {"type": "categorical", "choices": ["momentum", "rmsprop", "adam"]},
}
EPOCHS = 6


def loss(params: dict[str, Any]) -> float:
    """A smooth bowl: best near learning_rate 10^-2.5 and beta 0.99; the others matter less."""
    lr = math.log10(params["learning_rate"]) + 2.5
    beta = -math.log10(1.0 - params["beta"]) - 2.0
    units = math.log2(params["hidden_units"] / 64) / 4
    opt = {"momentum": 0.05, "rmsprop": 0.02, "adam": 0.0}[params["optimizer"]]
    return round(0.1 + lr * lr + 0.5 * beta * beta + 0.05 * units * units + opt, 6)


def curve(final: float, step: int) -> float:
    """The learning curve that ends at ``final`` after ``EPOCHS`` steps."""
    return round(final + 2.0 * math.exp(-0.8 * step) * (1 + final), 6)


def study_body(name: str, strategy: dict[str, Any], max_trials: int, **over: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "objective": {"kind": "external"},
        "space": SPACE,
        "strategy": strategy,
        "max_trials": max_trials,
        "parallelism": 4,
        "seed": 7,
    }
    body.update(over)
    return body


def run_trial(c: Client, trial: Any) -> None:
    """Report a learning curve, stop early when pruned, tell the result."""
    final = loss(trial.params)
    value = final
    for step in range(EPOCHS):
        value = curve(final, step)
        answer = c.report(trial.id, trial.attempt, step, value, {"val_accuracy": 1 / (1 + value)})
        if answer.prune:
            c.tell(trial.id, trial.attempt, "pruned", value)
            return
    c.tell(trial.id, trial.attempt, "completed", final)


def run(c: Client, study_id: int, n: int, batch: int = 4) -> None:
    """Ask, train and tell ``n`` trials, ``batch`` at a time."""
    done = 0
    while done < n:
        trials = c.ask(study_id, min(batch, n - done))
        if not trials:
            return
        for t in trials:
            run_trial(c, t)
        done += len(trials)


def seed(c: Client) -> dict[str, int]:
    """The studies the dashboard tests read: name → id."""
    ids: dict[str, int] = {}
    c2f = c.create_study(
        study_body(
            "c2f-demo",
            {"name": "coarse_to_fine", "stage_trials": 12, "sampler": "sobol"},
            64,
        )
    )
    run(c, c2f.id, 64)
    ids["c2f-demo"] = c2f.id
    rnd = c.create_study(
        study_body(
            "random-demo",
            {"name": "random"},
            40,
            pruner={"name": "median", "warmup_steps": 2, "min_trials": 4},
        )
    )
    run(c, rnd.id, 24)
    ids["random-demo"] = rnd.id
    decades = c.create_study(study_body("decades-demo", {"name": "random"}, 20))
    for t in c.ask(decades.id, 20):  # no reports; values over four decades
        c.tell(t.id, t.attempt, "completed", round(t.params["learning_rate"], 8))
    ids["decades-demo"] = decades.id
    return ids


if __name__ == "__main__":
    with Client(sys.argv[1]) as client:
        print(seed(client))
