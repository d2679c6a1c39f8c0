"""Mini-batch optimizers over one flat parameter vector.

Every optimizer updates ``params`` (P,) in place from ``grads`` (P,) with learning rate alpha:

- ``gd``:       w ← w - alpha·g
- ``momentum``: v ← β·v + (1 - β)·g;                 w ← w - alpha·v     (no bias correction)
- ``rmsprop``:  s ← β₂·s + (1 - β₂)·g²;              w ← w - alpha·g/(√s + ε)
- ``adam``:     m ← β₁·m + (1 - β₁)·g;  v ← β₂·v + (1 - β₂)·g²;  t ← t + 1
                m̂ = m/(1 - β₁ᵗ);  v̂ = v/(1 - β₂ᵗ);   w ← w - alpha·m̂/(√v̂ + ε)

The model keeps every parameter in one contiguous vector, so a step is a handful of vectorised
passes instead of a few per layer. The state is kept scaled, e.g. v/(1 - β) instead of v, which
saves one pass per moment; the constant factors are folded into the step, so the updates equal
the formulas above. ``grads`` is consumed: the step uses it as scratch space (one vector less to
stream through the cache), so its contents are undefined afterwards.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

OptimizerName = Literal["gd", "momentum", "rmsprop", "adam"]
OPTIMIZERS: tuple[OptimizerName, ...] = ("gd", "momentum", "rmsprop", "adam")


class Optimizer(ABC):
    """Updates a flat parameter vector of ``size`` elements of ``dtype``."""

    def __init__(self, size: int, dtype: type = np.float32) -> None:
        self.size = size
        self.dtype = dtype

    @abstractmethod
    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """w ← update(w, g) in place, with learning rate ``lr``; overwrites ``grads``."""

    def state(self) -> dict[str, np.ndarray]:
        """The optimizer's moments and step count, by name (copies), for a checkpoint."""
        return {name: np.array(getattr(self, name), copy=True) for name in self._state_names()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned (bit for bit)."""
        for name in self._state_names():
            current = getattr(self, name)
            if isinstance(current, np.ndarray):
                current[...] = state[name]
            else:
                setattr(self, name, type(current)(state[name]))

    def _state_names(self) -> tuple[str, ...]:
        return ()

    def set_betas(self, **betas: float) -> None:
        """Change β, β₁ or β₂ mid-run. The moments keep their meaning: a scaled moment
        m/(1 - β) is rescaled to m/(1 - β') so the next step continues from the same m."""
        for name, new in betas.items():
            if not hasattr(self, name):
                continue
            old = getattr(self, name)
            if new != old:
                moment = self._moment_of(name)
                if moment is not None:
                    moment *= (1.0 - old) / (1.0 - new)
                setattr(self, name, new)

    def _moment_of(self, beta_name: str) -> np.ndarray | None:
        return None


class GradientDescent(Optimizer):
    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        grads *= lr
        params -= grads


class Momentum(Optimizer):
    def __init__(self, size: int, dtype: type = np.float32, *, beta: float = 0.9) -> None:
        super().__init__(size, dtype)
        self.beta = beta
        self._velocity = np.zeros(size, dtype=dtype)  # v/(1 - β)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        self._velocity *= self.beta
        self._velocity += grads
        np.multiply(self._velocity, lr * (1.0 - self.beta), out=grads)
        params -= grads

    def _state_names(self) -> tuple[str, ...]:
        return ("_velocity",)

    def _moment_of(self, beta_name: str) -> np.ndarray | None:
        return self._velocity if beta_name == "beta" else None


class RMSprop(Optimizer):
    def __init__(
        self,
        size: int,
        dtype: type = np.float32,
        *,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(size, dtype)
        self.beta2 = beta2
        self.epsilon = epsilon
        self._squares = np.zeros(size, dtype=dtype)  # s/(1 - β₂)
        self._scratch = np.zeros(size, dtype=dtype)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        scratch = self._scratch
        np.square(grads, out=scratch)
        self._squares *= self.beta2
        self._squares += scratch
        root = math.sqrt(1.0 - self.beta2)  # √s = root·√(s/(1 - β₂))
        np.sqrt(self._squares, out=scratch)
        scratch += self.epsilon / root
        np.divide(grads, scratch, out=grads)
        grads *= lr / root
        params -= grads

    def _state_names(self) -> tuple[str, ...]:
        return ("_squares",)

    def _moment_of(self, beta_name: str) -> np.ndarray | None:
        return self._squares if beta_name == "beta2" else None


class Adam(Optimizer):
    def __init__(
        self,
        size: int,
        dtype: type = np.float32,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(size, dtype)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.t = 0
        self._first = np.zeros(size, dtype=dtype)  # m/(1 - β₁)
        self._second = np.zeros(size, dtype=dtype)  # v/(1 - β₂)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        self.t += 1
        # m̂ = a·first and √v̂ = b·√second, so the step is (alpha·a/b)·first/(√second + ε/b).
        a = (1.0 - self.beta1) / (1.0 - self.beta1**self.t)
        b = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t))
        self._first *= self.beta1
        self._first += grads
        np.square(grads, out=grads)
        self._second *= self.beta2
        self._second += grads
        np.sqrt(self._second, out=grads)
        grads += self.epsilon / b
        np.divide(self._first, grads, out=grads)
        grads *= lr * a / b
        params -= grads

    def _state_names(self) -> tuple[str, ...]:
        return ("_first", "_second", "t")

    def _moment_of(self, beta_name: str) -> np.ndarray | None:
        return {"beta1": self._first, "beta2": self._second}.get(beta_name)


def make_optimizer(
    name: str,
    size: int,
    dtype: type = np.float32,
    *,
    beta: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
) -> Optimizer:
    """The optimizer called ``name`` (one of :data:`OPTIMIZERS`) for ``size`` parameters."""
    if name == "gd":
        return GradientDescent(size, dtype)
    if name == "momentum":
        return Momentum(size, dtype, beta=beta)
    if name == "rmsprop":
        return RMSprop(size, dtype, beta2=beta2, epsilon=epsilon)
    if name == "adam":
        return Adam(size, dtype, beta1=beta1, beta2=beta2, epsilon=epsilon)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
