"""A PyTorch MLP with Batch Norm on the digits, tuned by Caviar, and babysittable.

    .venv/bin/python examples/torch_mlp.py [API_URL [STUDY_ID]]

Needs torch (`pip install -e '.[bench]'`). API_URL defaults to CAVIAR_API_URL (else
http://127.0.0.1:8000), STUDY_ID to CAVIAR_STUDY; without one, the script creates the external
study below and prints its id. Run it in as many terminals as you like: each asks for trials
until the study is finished. `caviar trial set ID learning_rate=0.01` applies at the next
mini-batch; `caviar trial pause ID` stores the model and the optimizer, and after `caviar trial
resume ID` the copy that asks first continues from them. Lines marked `# caviar` are the glue.
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from caviar.client import Client  # caviar
from caviar.runner import Trial  # caviar

EPOCHS = int(os.environ.get("EPOCHS", "12"))
STUDY = {
    "name": "torch-mlp-digits",
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
torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
split = train_test_split((X / 16.0).astype(np.float32), y, test_size=0.25, random_state=0)
X_train, X_val, y_train, y_val = (torch.as_tensor(a) for a in split)


def train(trial: Trial) -> float:  # caviar
    units = trial.params["hidden_units"]  # caviar
    print(f"trial #{trial.number} attempt {trial.attempt} from step {trial.start_step}")  # caviar
    torch.manual_seed(trial.number)
    model = nn.Sequential(
        nn.Linear(64, units, bias=False), nn.BatchNorm1d(units), nn.ReLU(), nn.Linear(units, 10)
    )
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=trial.params["learning_rate"],  # caviar
        momentum=0.9,
        weight_decay=trial.params["l2"],  # caviar
    )
    if (state := trial.restore()) is not None:  # a resumed or forked trial  # caviar
        saved = torch.load(io.BytesIO(state))  # caviar
        model.load_state_dict(saved[0])  # caviar
        optimizer.load_state_dict(saved[1])  # caviar
    generator = torch.Generator().manual_seed(trial.number)
    loss = float("nan")
    for epoch in range(trial.start_step, EPOCHS):  # caviar
        model.train()
        for batch in torch.randperm(len(X_train), generator=generator).split(64):
            if trial.should_pause():  # the epoch restarts on resume  # caviar
                buffer = io.BytesIO()  # caviar
                torch.save([model.state_dict(), optimizer.state_dict()], buffer)  # caviar
                trial.pause(buffer.getvalue())  # caviar
            for group in optimizer.param_groups:  # caviar
                group["lr"] = trial.live("learning_rate")  # caviar
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
        loss = nn.functional.cross_entropy(logits, y_val).item()
        metrics = {"val_accuracy": (logits.argmax(1) == y_val).float().mean().item()}
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
