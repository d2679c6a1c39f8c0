"""The dashboard's hyperparameter importance (rank η² over equal-count bins): a
hyperparameter that decides the objective scores near 1, noise scores low, a categorical that
decides it scores high, and few values give 0."""

from __future__ import annotations

import random

from api.dashboard.importance import importance, per_configuration
from caviar.space import CategoricalParam, FloatParam

SPACE = {
    "lr": FloatParam(type="float", low=1e-4, high=1.0, scale="log"),
    "noise": FloatParam(type="float", low=0.0, high=1.0),
    "opt": CategoricalParam(type="categorical", choices=["a", "b", "c"]),
}


def sample(n: int, objective: str) -> tuple[dict[str, list[object]], list[float]]:
    rng = random.Random(5)
    params: dict[str, list[object]] = {"lr": [], "noise": [], "opt": []}
    values = []
    for _ in range(n):
        lr, noise, opt = 10 ** rng.uniform(-4, 0), rng.random(), rng.choice("abc")
        params["lr"].append(lr)
        params["noise"].append(noise)
        params["opt"].append(opt)
        values.append(lr if objective == "lr" else {"a": 0.0, "b": 1.0, "c": 2.0}[opt])
    return params, values


def test_the_deciding_hyperparameter_ranks_first() -> None:
    scores = importance(SPACE, *sample(200, "lr"))
    assert scores["lr"] > 0.9
    assert scores["noise"] < 0.15 and scores["opt"] < 0.15


def test_a_deciding_categorical_scores_high() -> None:
    scores = importance(SPACE, *sample(120, "opt"))
    assert scores["opt"] > 0.8 and scores["opt"] > 3 * max(scores["lr"], scores["noise"])


def test_few_trials_do_not_make_noise_look_important() -> None:
    scores = importance(SPACE, *sample(12, "lr"))  # 2 bins of 6, not 10 bins of about 1
    assert scores["noise"] < 0.5 and scores["lr"] > scores["noise"]
    assert importance(SPACE, *sample(7, "lr")) == {"lr": 0.0, "noise": 0.0, "opt": 0.0}


def test_repeats_of_a_few_configurations_count_once() -> None:
    """A re-test round runs two configurations many times: counted per configuration, the
    deciding hyperparameter still ranks first, instead of every score tying."""
    names = ["lr", "noise", "opt"]
    params, values = sample(40, "lr")
    for i in (0, 1):  # two configurations, 30 repeats each, with a little noise
        for k in range(30):
            for n in names:
                params[n].append(params[n][i])
            values.append(values[i] * (1 + 0.01 * (k % 3)))
    raw = importance(SPACE, params, values)
    once = importance(SPACE, *per_configuration(names, params, values))
    assert once["lr"] > 0.8 and once["lr"] > 3 * max(once["noise"], once["opt"])
    assert once["lr"] > raw["lr"]
