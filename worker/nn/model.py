"""Caviar's network: ``layers`` x (Dense without bias → Batch Norm → ReLU or tanh) → Dense with a
bias → softmax, trained with cross-entropy.

The output layer is a Dense layer *with* a bias and no Batch Norm: normalising the logits would
pin their scale, and the softmax needs no normalised input. Hidden weights are He-initialised for
ReLU and Xavier-initialised for tanh; the output weights are Xavier-initialised; gamma starts at 1,
β and the output bias at 0, the running μ at 0 and the running σ² at 1.

All parameters live in one flat vector :attr:`Network.params` (weights first, then each layer's
gamma and β, then the output bias) and :attr:`Network.grads` has the same layout, so the optimizers
update everything in a few vectorised passes. :attr:`weights`, :attr:`gammas`, :attr:`betas` and
:attr:`output_bias` are views into it. A training step reuses buffers preallocated for its batch
size and skips the gradient with respect to the input data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from worker.nn.batchnorm import (
    DEFAULT_EPS,
    BatchNormCache,
    batchnorm_backward,
    batchnorm_forward,
)
from worker.nn.initializers import he_normal, xavier_normal
from worker.nn.layers import (
    affine_backward,
    affine_forward,
    dense_backward,
    dense_forward,
    relu_backward,
    relu_forward,
    tanh_backward,
    tanh_forward,
)
from worker.nn.softmax import cross_entropy, softmax_cross_entropy

Activation = Literal["relu", "tanh"]
_FORWARD: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "relu": relu_forward,
    "tanh": tanh_forward,
}
_BACKWARD: dict[str, Callable[..., np.ndarray]] = {"relu": relu_backward, "tanh": tanh_backward}
EVAL_CHUNK = 4096


@dataclass
class _Workspace:
    """Buffers of one batch size N: per hidden layer (N, H) arrays, and the (N, C) logits."""

    pre: list[np.ndarray]  # Dense output (centred in place when Batch Norm needs to)
    post: list[np.ndarray]  # Batch Norm output, then the activation in place
    grad: list[np.ndarray]  # gradient w.r.t. ``post``, then w.r.t. ``pre`` in place
    scratch: list[np.ndarray]
    logits: np.ndarray  # logits, then their gradient in place


class Network:
    """A Batch-Norm classifier of ``n_features`` inputs and ``n_classes`` outputs.

    ``hidden_units`` is the width of every hidden layer, or a sequence of ``layers`` widths.
    ``activation`` is "relu" or "tanh". ``rng`` draws the initial weights; ``dtype`` is float32
    for training and float64 for gradient checks. Inputs ``x`` are (N, n_features) arrays of
    ``dtype``; labels ``y`` are (N,) integers in [0, n_classes).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden_units: int | Sequence[int],
        layers: int,
        activation: str,
        rng: np.random.Generator,
        dtype: type = np.float32,
        bn_eps: float = DEFAULT_EPS,
    ) -> None:
        if activation not in _FORWARD:
            raise ValueError(f"activation must be 'relu' or 'tanh', not {activation!r}")
        hidden = [hidden_units] * layers if isinstance(hidden_units, int) else list(hidden_units)
        if len(hidden) != layers:
            raise ValueError(f"expected {layers} hidden widths, got {hidden}")
        self.n_features = n_features
        self.n_classes = n_classes
        self.hidden_units = tuple(hidden)
        self.layers = layers
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.bn_eps = bn_eps
        widths = [n_features, *hidden]
        weight_shapes = [(widths[i], widths[i + 1]) for i in range(layers)]
        weight_shapes.append((widths[-1], n_classes))
        self.n_weights = sum(rows * cols for rows, cols in weight_shapes)
        size = self.n_weights + 2 * sum(hidden) + n_classes
        self.params = np.zeros(size, dtype=self.dtype)
        self.grads = np.zeros(size, dtype=self.dtype)
        self._l2_scratch = np.zeros(0, dtype=self.dtype)

        def carve(shape: tuple[int, ...], offset: int) -> tuple[np.ndarray, np.ndarray, int]:
            end = offset + int(np.prod(shape))
            return (
                self.params[offset:end].reshape(shape),
                self.grads[offset:end].reshape(shape),
                end,
            )

        offset = 0
        self.weights: list[np.ndarray] = []
        self._weight_grads: list[np.ndarray] = []
        for shape in weight_shapes:
            weight, grad, offset = carve(shape, offset)
            self.weights.append(weight)
            self._weight_grads.append(grad)
        self.gammas: list[np.ndarray] = []
        self.betas: list[np.ndarray] = []
        self._gamma_grads: list[np.ndarray] = []
        self._beta_grads: list[np.ndarray] = []
        for width in hidden:
            gamma, grad, offset = carve((width,), offset)
            self.gammas.append(gamma)
            self._gamma_grads.append(grad)
            beta, grad, offset = carve((width,), offset)
            self.betas.append(beta)
            self._beta_grads.append(grad)
        self.output_bias, self._bias_grad, offset = carve((n_classes,), offset)
        assert offset == size

        hidden_init = he_normal if activation == "relu" else xavier_normal
        for weight in self.weights[:-1]:
            weight[...] = hidden_init(rng, *weight.shape, dtype=self.dtype.type)
        self.weights[-1][...] = xavier_normal(rng, *self.weights[-1].shape, dtype=self.dtype.type)
        for gamma in self.gammas:
            gamma.fill(1)
        # Running and mini-batch μ and σ² of every layer, each in one vector [μ..., σ²...], so
        # one vectorised step updates all the running averages.
        total = sum(hidden)
        self._running = np.concatenate([np.zeros(total), np.ones(total)]).astype(self.dtype)
        self._batch_stats = np.zeros(2 * total, dtype=self.dtype)
        self._stats_scratch = np.zeros(2 * total, dtype=self.dtype)
        bounds = np.cumsum([0, *hidden])
        self.running_means = [self._running[a:b] for a, b in itertools.pairwise(bounds)]
        self.running_vars = [
            self._running[total + a : total + b] for a, b in itertools.pairwise(bounds)
        ]
        self._batch_means = [self._batch_stats[a:b] for a, b in itertools.pairwise(bounds)]
        self._batch_vars = [
            self._batch_stats[total + a : total + b] for a, b in itertools.pairwise(bounds)
        ]
        self._workspaces: dict[int, _Workspace] = {}

    def _workspace(self, n: int) -> _Workspace:
        workspace = self._workspaces.get(n)
        if workspace is None:

            def buffers() -> list[np.ndarray]:
                return [np.empty((n, width), dtype=self.dtype) for width in self.hidden_units]

            workspace = _Workspace(
                pre=buffers(),
                post=buffers(),
                grad=buffers(),
                scratch=buffers(),
                logits=np.empty((n, self.n_classes), dtype=self.dtype),
            )
            self._workspaces[n] = workspace
        return workspace

    def _check_input(self, x: np.ndarray) -> None:
        if x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected inputs of shape (N, {self.n_features}) and dtype {self.dtype}, "
                f"got {x.shape} {x.dtype}"
            )

    def _forward_train(self, x: np.ndarray, ws: _Workspace) -> list[BatchNormCache]:
        """Train-mode forward of x (N, D) into ``ws``; returns each layer's Batch Norm cache."""
        forward = _FORWARD[self.activation]
        caches: list[BatchNormCache] = []
        h = x
        for layer in range(self.layers):
            pre, _ = dense_forward(h, self.weights[layer], out=ws.pre[layer])
            post, cache = batchnorm_forward(
                pre,
                self.gammas[layer],
                self.betas[layer],
                mode="train",
                running_mean=self.running_means[layer],
                running_var=self.running_vars[layer],
                eps=self.bn_eps,
                out=ws.post[layer],
                centred_out=pre,
                mean_out=self._batch_means[layer],
                var_out=self._batch_vars[layer],
            )
            assert cache is not None
            caches.append(cache)
            h, _ = forward(post, out=post)
        affine_forward(h, self.weights[-1], self.output_bias, out=ws.logits)
        return caches

    def forward_backward(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        l2: float = 0.0,
        bn_momentum: float | None = None,
    ) -> float:
        """One train-mode pass over a mini-batch x (N, D), y (N,) with N ≥ 2.

        Returns the batch's mean cross-entropy (without the L2 term) and fills :attr:`grads` with
        the gradient of cross-entropy + (l2/2)·Σ‖W‖² (weights only: not gamma, β or the bias).
        With a ``bn_momentum`` the Batch Norm running averages take one step towards the batch's
        statistics.
        """
        self._check_input(x)
        ws = self._workspace(x.shape[0])
        caches = self._forward_train(x, ws)
        loss, dlogits = softmax_cross_entropy(ws.logits, y, dlogits_out=ws.logits)
        last = self.layers - 1
        h_last = ws.post[last] if self.layers else x
        affine_backward(
            dlogits,
            (h_last, self.weights[-1]),
            need_dx=self.layers > 0,
            dx_out=ws.grad[last] if self.layers else None,
            dw_out=self._weight_grads[-1],
            db_out=self._bias_grad,
        )
        backward = _BACKWARD[self.activation]
        for layer in range(last, -1, -1):
            grad = ws.grad[layer]
            backward(grad, ws.post[layer], out=grad)
            batchnorm_backward(
                grad,
                caches[layer],
                dx_out=grad,
                dgamma_out=self._gamma_grads[layer],
                dbeta_out=self._beta_grads[layer],
                scratch=ws.scratch[layer],
            )
            below = ws.post[layer - 1] if layer else x
            dense_backward(
                grad,
                (below, self.weights[layer]),
                need_dx=layer > 0,
                dx_out=ws.grad[layer - 1] if layer else None,
                dw_out=self._weight_grads[layer],
            )
        if bn_momentum is not None and self.layers:
            # running ← momentum·running + (1 - momentum)·batch, for every layer's μ and σ²
            self._running *= bn_momentum
            np.multiply(self._batch_stats, 1.0 - bn_momentum, out=self._stats_scratch)
            self._running += self._stats_scratch
        if l2:
            if self._l2_scratch.size != self.n_weights:
                self._l2_scratch = np.empty(self.n_weights, dtype=self.dtype)
            np.multiply(self.params[: self.n_weights], l2, out=self._l2_scratch)
            self.grads[: self.n_weights] += self._l2_scratch
        return loss

    def train_loss(self, x: np.ndarray, y: np.ndarray, *, l2: float = 0.0) -> float:
        """Train-mode cross-entropy + (l2/2)·Σ‖W‖² of x (N, D), y (N,): the function whose
        gradient :meth:`forward_backward` computes. Leaves the running averages alone."""
        self._check_input(x)
        ws = self._workspace(x.shape[0])
        self._forward_train(x, ws)
        loss, _ = cross_entropy(ws.logits, y)
        weights = self.params[: self.n_weights]
        return loss / x.shape[0] + 0.5 * l2 * float(np.dot(weights, weights))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Test-mode logits (N, C) of x (N, D): Batch Norm uses the running averages."""
        self._check_input(x)
        forward = _FORWARD[self.activation]
        h = x
        for layer in range(self.layers):
            pre, _ = dense_forward(h, self.weights[layer])
            post, _ = batchnorm_forward(
                pre,
                self.gammas[layer],
                self.betas[layer],
                mode="test",
                running_mean=self.running_means[layer],
                running_var=self.running_vars[layer],
                eps=self.bn_eps,
                out=pre,
            )
            h, _ = forward(post, out=post)
        out, _ = affine_forward(h, self.weights[-1], self.output_bias)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Test-mode class predictions (N,) of x (N, D)."""
        return np.concatenate(
            [
                self.logits(x[i : i + EVAL_CHUNK]).argmax(axis=1)
                for i in range(0, len(x), EVAL_CHUNK)
            ]
        )

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Test-mode (mean cross-entropy, accuracy) of x (N, D), y (N,) with N ≥ 1."""
        if len(x) == 0:
            raise ValueError("cannot evaluate on an empty set")
        total = 0.0
        correct = 0
        for start in range(0, len(x), EVAL_CHUNK):
            stop = start + EVAL_CHUNK
            loss, hits = cross_entropy(self.logits(x[start:stop]), y[start:stop])
            total += loss
            correct += hits
        return total / len(x), correct / len(x)
