"""A small external trainer on the runner, run as a process by the tests: gradient descent on
J(w) = (w - 5)², one step every ``DELAY`` seconds for ``STEPS`` steps, babysittable.

    python -m tests.caviar.runner_trainer API_URL STUDY_ID
"""

from __future__ import annotations

import json
import os
import sys
import time

from caviar.client import Client
from caviar.runner import Trial

STEPS = int(os.environ.get("STEPS", "5"))
DELAY = float(os.environ.get("DELAY", "0.2"))


def train(trial: Trial) -> float:
    print(f"trial #{trial.number} attempt {trial.attempt} from step {trial.start_step}")
    w = json.loads(trial.restore() or b'{"w": 0.0}')["w"]
    for step in range(trial.start_step, STEPS):
        for _ in range(4):
            if trial.should_pause():
                trial.pause(json.dumps({"w": w}).encode())
            time.sleep(DELAY / 4)
        w -= trial.live("learning_rate") * 2 * (w - 5)
        trial.report(step + 1, (w - 5) ** 2, {"learning_rate": trial.live("learning_rate")})
    return (w - 5) ** 2


if __name__ == "__main__":
    with Client(sys.argv[1]) as client:
        ran = client.optimize(int(sys.argv[2]), train)
    print(f"ran {ran}")
