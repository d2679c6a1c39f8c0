"""Caviar's NumPy networks: layers, Batch Norm, softmax, optimizers, the model and its training.

The worker's ``train`` objective calls :func:`fit`.
"""

from worker.nn.model import Network
from worker.nn.training import FitResult, Trainer, TrainingDiverged, fit

__all__ = ["FitResult", "Network", "Trainer", "TrainingDiverged", "fit"]
