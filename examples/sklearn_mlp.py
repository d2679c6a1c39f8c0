"""scikit-learn's MLPClassifier on the digits, tuned by Caviar, and babysittable.

    .venv/bin/python examples/sklearn_mlp.py [API_URL [STUDY_ID]]

API_URL defaults to CAVIAR_API_URL (else http://127.0.0.1:8000), STUDY_ID to CAVIAR_STUDY;
without one, the script creates the external study below and prints its id. Run it in as many
terminals as you like: each asks for trials until the study is finished. From another one,
`caviar trial set ID learning_rate=0.01`, `caviar trial pause ID` and `caviar trial resume ID`
steer a trial: the new rate applies at the next mini-batch, a pause stores the model, and the
resumed trial continues from it in whichever copy asks first. Lines marked `# caviar` are the
glue.
"""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from caviar.client import Client  # caviar
from caviar.runner import Trial  # caviar

EPOCHS = int(os.environ.get("EPOCHS", "12"))
STUDY = {
    "name": "sklearn-mlp-digits",
    "direction": "minimize",
    "objective": {"kind": "external"},
    "space": {
        "learning_rate": {"type": "float", "low": 1e-3, "high": 0.3, "scale": "log"},
        "hidden_units": {"type": "int", "low": 16, "high": 128, "scale": "log"},
        "l2": {"type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"},
    },
    "strategy": {"name": "coarse_to_fine"},
    "pruner": {"name": "asha"},
    "max_trials": 12,
    "parallelism": 2,
}
CLASSES = np.arange(10)
X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def set_learning_rate(model: MLPClassifier, rate: float) -> None:  # caviar
    model.learning_rate_init = rate  # before the first partial_fit  # caviar
    if hasattr(model, "_optimizer"):  # SGD keeps its own copy after it  # caviar
        model._optimizer.learning_rate = rate  # caviar


def train(trial: Trial) -> float:  # caviar
    p = trial.params  # caviar
    print(f"trial #{trial.number} attempt {trial.attempt} from step {trial.start_step}")  # caviar
    model = MLPClassifier(
        hidden_layer_sizes=(p["hidden_units"],),
        alpha=p["l2"],
        solver="sgd",
        momentum=0.9,
        random_state=trial.number,
    )
    if (state := trial.restore()) is not None:  # a resumed or forked trial  # caviar
        model = pickle.loads(state)  # caviar
    rng = np.random.default_rng(trial.number)
    loss = float("nan")
    for epoch in range(trial.start_step, EPOCHS):  # caviar
        for batch in np.array_split(rng.permutation(len(X_train)), 12):
            if trial.should_pause():  # caviar
                trial.pause(pickle.dumps(model))  # the epoch restarts on resume  # caviar
            set_learning_rate(model, trial.live("learning_rate"))  # caviar
            model.partial_fit(X_train[batch], y_train[batch], classes=CLASSES)
        loss = log_loss(y_val, model.predict_proba(X_val), labels=CLASSES)
        metrics = {"val_accuracy": model.score(X_val, y_val)}
        metrics["learning_rate"] = trial.live("learning_rate")  # caviar
        trial.report(epoch + 1, loss, metrics)  # raises Pruned or Stopped  # caviar
    return loss


def main(argv: list[str]) -> None:  # caviar
    url = argv[0] if argv else os.environ.get("CAVIAR_API_URL", "http://127.0.0.1:8000")  # caviar
    study = argv[1] if len(argv) > 1 else os.environ.get("CAVIAR_STUDY")  # caviar
    with Client(url) as client:  # caviar
        if study is None:  # caviar
            study = client.create_study(STUDY).id  # caviar
            print(f"study {study}")  # caviar
        ran = client.optimize(int(study), train)  # caviar
        print(f"ran {ran} trials; study {study} is {client.study(int(study)).status}")  # caviar


if __name__ == "__main__":
    main(sys.argv[1:])
