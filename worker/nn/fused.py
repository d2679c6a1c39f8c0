"""Fused training: K trials of one study trained as one network stacked along a trials axis.

Each member is an ordinary run of :class:`worker.nn.training.Trainer`: it is built by one (so its
``rng`` draws the same initial weights), draws its own shuffle from its own ``rng`` at every
epoch, keeps its own hyperparameters, optimizer state and counters, and its values (weights,
losses, metrics) equal those of the same run trained alone, to floating-point tolerance, when
members are grouped by shape (the default; see Groups). What it shares with the others is the
arithmetic: one batched matmul per layer for all the members of a group.

Groups. Members train together when they agree on the shape (depth, widths), the activation,
the batch size and their place in the epoch; a member that agrees with no other trains as a
group of one. Grouped by shape, a member's values are those of its alone run bit for bit on
this machine's BLAS (the tests allow float32 rounding). With ``pad=True`` members that differ in
width share a group, their layers padded with zeros to the widest member's: a padded unit's
weights, gamma, β and gradients stay exactly 0, so in exact arithmetic it changes nothing, but
BLAS may then sum a real unit's terms in another order. gd and momentum stay within float32
rounding of the alone run; adam and rmsprop divide each gradient by its own running size, so a
parameter whose gradient is rounding noise (a nearly constant input) takes a different full
step, and the runs drift apart like two chaotic runs (rmsprop at its default rate on digits,
width 17 padded to 64: val losses 0.32 and 0.52 within three epochs). Padding to the
widest member also makes every member cost what the widest costs (bench/bench_fused.py:
0.3-0.7x on the README's digits study), so the worker fuses by shape (:func:`plan_fusion`).
Optimizer kinds share a group; its rows are ordered by kind and each kind updates its own
contiguous rows, so no member pays for another kind's moments (measured, one step of 8 members
of four kinds, two runs: 54-73 us at width 32 and 168-172 us at width 128, against 57-64 us and
255-258 us for 8 adam members, the least a mask over every kind would cost: a tie where per-call
overhead dominates, 1.5x less work where the arithmetic does).

Membership. :meth:`FusedTrainer.add` joins a trial (fresh, or from a :class:`TrainingState`
saved by the alone trainer or by :meth:`FusedTrainer.state`); :meth:`FusedTrainer.remove` takes
one out (pruned, paused, stopped, fenced) and returns its state, which the alone trainer
resumes; :meth:`FusedTrainer.apply_overrides` changes one member's live hyperparameters. A
membership change rebuilds the group from its members' states (a copy, exact).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from caviar.trainer_params import TrainerConfig
from worker.datasets.dataset import Dataset
from worker.nn.layers import relu_backward, relu_forward, tanh_backward, tanh_forward
from worker.nn.model import EVAL_CHUNK
from worker.nn.schedules import decayed_learning_rate
from worker.nn.softmax import cross_entropy
from worker.nn.stacked import (
    StackedBatchNormCache,
    stacked_affine_backward,
    stacked_affine_forward,
    stacked_batchnorm_backward,
    stacked_batchnorm_forward,
    stacked_dense_backward,
    stacked_dense_forward,
    stacked_softmax_cross_entropy,
)
from worker.nn.training import Trainer, TrainingDiverged, TrainingState, batch_stop

Key = Hashable
FusedHook = Callable[["FusedTrainer", list[Key]], None]
_FORWARD = {"relu": relu_forward, "tanh": tanh_forward}
_BACKWARD = {"relu": relu_backward, "tanh": tanh_backward}
_KINDS = ("gd", "momentum", "rmsprop", "adam")
# Optimizer state names of the alone optimizers -> the group's stacked moment they live in.
_MOMENTS = {
    "gd": {},
    "momentum": {"_velocity": "first"},
    "rmsprop": {"_squares": "second"},
    "adam": {"_first": "first", "_second": "second"},
}
_BETA_MOMENT = {
    "momentum": {"beta": "first"},
    "rmsprop": {"beta2": "second"},
    "adam": {"beta1": "first", "beta2": "second"},
}


@dataclass
class _Member:
    """A member's own run: what is not an array row of its group."""

    key: Key
    rng: np.random.Generator
    base_hp: dict[str, Any]
    overrides: dict[str, Any]
    config: TrainerConfig
    learning_rate: float  # the base rate (a decay schedule applies to it)
    hidden: tuple[int, ...]
    state: TrainingState  # the latest exported state; the group's rows are newer while it trains


def _layout(
    n_features: int, n_classes: int, hidden: Sequence[int], padded: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Where a network of ``hidden`` widths sits inside one of ``padded`` widths: indices
    (P,) of its flat parameters and (2T,) of its running averages in the padded vectors."""
    widths, pwidths = [n_features, *hidden, n_classes], [n_features, *padded, n_classes]
    blocks: list[np.ndarray] = []
    offset = 0
    for i in range(len(widths) - 1):
        rows, cols = pwidths[i], pwidths[i + 1]
        full = np.arange(offset, offset + rows * cols).reshape(rows, cols)
        blocks.append(full[: widths[i], : widths[i + 1]].ravel())
        offset += rows * cols
    for real, pad in zip(hidden, padded, strict=True):
        blocks.append(np.arange(offset, offset + real))  # gamma
        blocks.append(np.arange(offset + pad, offset + pad + real))  # β
        offset += 2 * pad
    blocks.append(np.arange(offset, offset + n_classes))
    total = sum(padded)
    starts = np.cumsum([0, *padded])[:-1]
    means = [np.arange(s, s + real) for s, real in zip(starts, hidden, strict=True)]
    running = np.concatenate([*means, *(m + total for m in means)]) if hidden else np.zeros(0)
    return np.concatenate(blocks), running.astype(np.intp)


def _padded_size(n_features: int, n_classes: int, padded: Sequence[int]) -> int:
    widths = [n_features, *padded, n_classes]
    return sum(a * b for a, b in itertools.pairwise(widths)) + 2 * sum(padded) + (n_classes)


class _Group:
    """Members trained as one stacked network: rows of ``params`` (K, P), ``running`` (K, 2T),
    the optimizer's moments ``first``, ``second`` (K, P) and step counts ``t`` (K,), with every
    hidden layer padded to ``widths``. Built from its members' states; rebuilt on any change."""

    def __init__(self, data: Dataset, members: list[_Member], widths: tuple[int, ...]) -> None:
        kinds = {kind: i for i, kind in enumerate(_KINDS)}
        members = sorted(members, key=lambda m: kinds[m.config.optimizer])
        self.data = data
        self.members = members
        self.widths = widths
        first = members[0]
        self.layers = first.config.layers
        self.activation = first.config.activation
        self.batch_size = first.config.batch_size
        k, d, c = len(members), data.n_features, data.n_classes
        size = _padded_size(d, c, widths)
        total = sum(widths)
        self.params = np.zeros((k, size), dtype=np.float32)
        self.first = np.zeros((k, size), dtype=np.float32)
        self.second = np.zeros((k, size), dtype=np.float32)
        self.running = np.zeros((k, 2 * total), dtype=np.float32)
        self.t = np.zeros(k, dtype=np.int64)
        self.layouts = [_layout(d, c, m.hidden, widths) for m in members]
        states = [m.state for m in members]
        for row, (member, state, (pidx, ridx)) in enumerate(
            zip(members, states, self.layouts, strict=True)
        ):
            self.params[row, pidx] = state.params
            self.running[row, ridx] = state.running
            for name, moment in _MOMENTS[member.config.optimizer].items():
                getattr(self, moment)[row, pidx] = state.optimizer[name]
            if member.config.optimizer == "adam":
                self.t[row] = int(state.optimizer["t"])
        self.epochs_done = np.array([s.epochs_done for s in states], dtype=np.int64)
        self.batches_done = np.array([s.batches_done for s in states], dtype=np.int64)
        self.epoch_total = np.array([s.epoch_total for s in states], dtype=np.float64)
        self.position = states[0].position
        self.epoch_batches = states[0].epoch_batches
        self.orders: np.ndarray | None = (
            None if states[0].order is None else np.stack([s.order for s in states])
        )
        self.kind_rows: list[tuple[str, slice]] = []
        for kind in _KINDS:
            rows = [i for i, m in enumerate(members) if m.config.optimizer == kind]
            if rows:
                self.kind_rows.append((kind, slice(rows[0], rows[-1] + 1)))
        # Views of each layer's weights, gamma, β, the output bias, and the running averages.
        self.n_weights = size - 2 * total - c
        pw = [d, *widths, c]
        offset = 0
        self.weights: list[np.ndarray] = []
        self.weight_grads: list[Callable[[np.ndarray], np.ndarray]] = []
        for i in range(len(pw) - 1):
            end = offset + pw[i] * pw[i + 1]
            shape = (k, pw[i], pw[i + 1])
            self.weights.append(self.params[:, offset:end].reshape(shape))
            self.weight_grads.append(
                lambda grads, a=offset, b=end, shape=shape: grads[:, a:b].reshape(shape)
            )
            offset = end
        self.gammas: list[np.ndarray] = []
        self.betas: list[np.ndarray] = []
        for width in widths:
            self.gammas.append(self.params[:, offset : offset + width])
            self.betas.append(self.params[:, offset + width : offset + 2 * width])
            offset += 2 * width
        self.bias = self.params[:, offset:]
        starts = np.cumsum([0, *widths])
        self.running_means = [self.running[:, a:b] for a, b in itertools.pairwise(starts)]
        self.running_vars = [
            self.running[:, total + a : total + b] for a, b in itertools.pairwise(starts)
        ]
        self.refresh()

    @property
    def keys(self) -> list[Key]:
        return [m.key for m in self.members]

    def refresh(self) -> None:
        """Recompute the per-member columns (K, 1) from the members' configs and epochs."""

        def column(values: Sequence[float]) -> np.ndarray:
            return np.array(values, dtype=np.float32)[:, None]

        configs = [m.config for m in self.members]
        self.lr64 = np.array(
            [
                decayed_learning_rate(m.learning_rate, c.lr_decay_kind, c.lr_decay, int(e))
                for m, c, e in zip(self.members, configs, self.epochs_done, strict=True)
            ]
        )
        self.l2 = column([c.l2 for c in configs])
        self.any_l2 = any(c.l2 for c in configs)
        self.bn_keep = column([c.bn_momentum for c in configs])
        self.bn_take = column([1.0 - c.bn_momentum for c in configs])
        self.beta = np.array([c.beta for c in configs])
        self.beta1 = np.array([c.beta1 for c in configs])
        self.beta2 = np.array([c.beta2 for c in configs])
        self.epsilon = np.array([c.epsilon for c in configs])
        self.beta_col, self.beta1_col = column(self.beta), column(self.beta1)
        self.beta2_col = column(self.beta2)
        self.lr_col = column(self.lr64)
        self.momentum_step = column(self.lr64 * (1.0 - self.beta))
        root = np.sqrt(1.0 - self.beta2)
        self.rms_eps = column(self.epsilon / root)
        self.rms_step = column(self.lr64 / root)

    def export(self, row: int) -> TrainingState:
        """Member ``row``'s state, in the layout of its own network (copies)."""
        member = self.members[row]
        pidx, ridx = self.layouts[row]
        optimizer: dict[str, Any] = {
            name: getattr(self, moment)[row, pidx].copy()
            for name, moment in _MOMENTS[member.config.optimizer].items()
        }
        if member.config.optimizer == "adam":
            optimizer["t"] = np.array(int(self.t[row]))
        return TrainingState(
            params=self.params[row, pidx].copy(),
            running=self.running[row, ridx].copy(),
            optimizer=optimizer,
            order=None if self.orders is None else self.orders[row].copy(),
            rng=member.rng.bit_generator.state,
            epochs_done=int(self.epochs_done[row]),
            batches_done=int(self.batches_done[row]),
            position=self.position,
            epoch_batches=self.epoch_batches,
            epoch_total=float(self.epoch_total[row]),
            base_hp=dict(member.base_hp),
            overrides=dict(member.overrides),
        )

    def start_epoch(self) -> None:
        if self.orders is None:
            n = self.data.X_train.shape[0]
            self.orders = np.stack([m.rng.permutation(n) for m in self.members])
            self.position, self.epoch_batches = 0, 0
            self.epoch_total[:] = 0.0

    def step(self) -> tuple[np.ndarray, list[int]]:
        """Train every member on its next mini-batch; returns the losses (K,) and the rows
        whose loss diverged (their rows are then undefined; the others are stepped)."""
        assert self.orders is not None
        n = self.data.X_train.shape[0]
        start = self.position
        stop = batch_stop(start, n, self.batch_size)
        index = self.orders[:, start:stop]
        x = np.take(self.data.X_train, index, axis=0)  # (K, B, D)
        y = np.take(self.data.y_train, index)  # (K, B)
        grads = np.empty_like(self.params)
        losses = self._forward_backward(x, y, grads)
        bad = np.flatnonzero(~np.isfinite(losses))
        self._optimizer_step(grads)
        self.epoch_total += losses * (stop - start)
        self.position = stop
        self.batches_done += 1
        self.epoch_batches += 1
        return losses, [int(i) for i in bad]

    def _forward_backward(self, x: np.ndarray, y: np.ndarray, grads: np.ndarray) -> np.ndarray:
        forward, backward = _FORWARD[self.activation], _BACKWARD[self.activation]
        dense_caches: list[tuple] = []
        bn_caches: list[StackedBatchNormCache] = []
        posts: list[np.ndarray] = []
        h = x
        for layer in range(self.layers):
            pre, cache = stacked_dense_forward(h, self.weights[layer])
            dense_caches.append(cache)
            post, bn = stacked_batchnorm_forward(
                pre,
                self.gammas[layer],
                self.betas[layer],
                mode="train",
                running_mean=self.running_means[layer],
                running_var=self.running_vars[layer],
            )
            assert bn is not None
            bn_caches.append(bn)
            h, _ = forward(post, out=post)
            posts.append(h)
        logits, out_cache = stacked_affine_forward(h, self.weights[-1], self.bias)
        losses, dlogits = stacked_softmax_cross_entropy(logits, y)
        dh, _, _ = stacked_affine_backward(
            dlogits,
            out_cache,
            need_dx=self.layers > 0,
            dw_out=self.weight_grads[-1](grads),
            db_out=grads[:, grads.shape[1] - self.bias.shape[1] :],
        )
        nw = self.n_weights
        bn_offset = nw + 2 * np.cumsum([0, *self.widths])
        for layer in range(self.layers - 1, -1, -1):
            assert dh is not None
            dh = backward(dh, posts[layer], out=dh)
            dh, dgamma, dbeta = stacked_batchnorm_backward(dh, bn_caches[layer])
            width = self.widths[layer]
            grads[:, bn_offset[layer] : bn_offset[layer] + width] = dgamma
            grads[:, bn_offset[layer] + width : bn_offset[layer + 1]] = dbeta
            dh, _ = stacked_dense_backward(
                dh,
                dense_caches[layer],
                need_dx=layer > 0,
                dw_out=self.weight_grads[layer](grads),
            )
        if self.layers:
            stats = np.concatenate(
                [*(c.mean for c in bn_caches), *(c.var for c in bn_caches)], axis=1
            )
            self.running *= self.bn_keep
            stats *= self.bn_take
            self.running += stats
        if self.any_l2:
            grads[:, :nw] += self.params[:, :nw] * self.l2
        return losses

    def _optimizer_step(self, grads: np.ndarray) -> None:
        """Each kind's update on its own rows, with the members' coefficients as columns: the
        arithmetic of :mod:`worker.nn.optimizers`, value for value."""
        for kind, rows in self.kind_rows:
            g, p = grads[rows], self.params[rows]
            if kind == "gd":
                g *= self.lr_col[rows]
            elif kind == "momentum":
                v = self.first[rows]
                v *= self.beta_col[rows]
                v += g
                np.multiply(v, self.momentum_step[rows], out=g)
            elif kind == "rmsprop":
                s = self.second[rows]
                scratch = np.square(g)
                s *= self.beta2_col[rows]
                s += scratch
                np.sqrt(s, out=scratch)
                scratch += self.rms_eps[rows]
                np.divide(g, scratch, out=g)
                g *= self.rms_step[rows]
            else:
                self.t[rows] += 1
                t = self.t[rows].astype(np.float64)
                b1, b2 = self.beta1[rows], self.beta2[rows]
                a = (1.0 - b1) / (1.0 - b1**t)
                b = np.sqrt((1.0 - b2) / (1.0 - b2**t))
                m, v = self.first[rows], self.second[rows]
                m *= self.beta1_col[rows]
                m += g
                np.square(g, out=g)
                v *= self.beta2_col[rows]
                v += g
                np.sqrt(v, out=g)
                g += (self.epsilon[rows] / b)[:, None].astype(np.float32)
                np.divide(m, g, out=g)
                g *= (self.lr64[rows] * a / b)[:, None].astype(np.float32)
            p -= g

    def evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        """Test-mode (mean cross-entropy (K,), accuracy (K,)) on the validation split."""
        X, y = self.data.X_val, self.data.y_val
        k = len(self.members)
        total = np.zeros(k)
        correct = np.zeros(k, dtype=np.int64)
        forward = _FORWARD[self.activation]
        for start in range(0, len(X), EVAL_CHUNK):
            h: np.ndarray = X[start : start + EVAL_CHUNK]
            for layer in range(self.layers):
                pre, _ = stacked_dense_forward(h, self.weights[layer])
                post, _ = stacked_batchnorm_forward(
                    pre,
                    self.gammas[layer],
                    self.betas[layer],
                    mode="test",
                    running_mean=self.running_means[layer],
                    running_var=self.running_vars[layer],
                )
                h, _ = forward(post, out=post)
            logits, _ = stacked_affine_forward(h, self.weights[-1], self.bias)
            for row in range(k):
                loss, hits = cross_entropy(logits[row], y[start : start + EVAL_CHUNK])
                total[row] += loss
                correct[row] += hits
        return total / len(X), correct / len(X)


@dataclass
class FusedTrainer:
    """Members of one study (same dataset) trained together, each keyed by the caller's
    ``key`` (a trial id). ``on_batch(fused, keys)`` is called before every fused mini-batch
    with the keys about to train: it may call :meth:`apply_overrides`, :meth:`state` or
    :meth:`remove` for any member. ``pad=True``: members that differ in width share a group,
    padded (see the module doc); by default they are grouped by exact shape."""

    data: Dataset
    on_batch: FusedHook | None = None
    pad: bool = False
    groups: list[_Group] = field(default_factory=list)
    diverged: dict[Key, TrainingDiverged] = field(default_factory=dict)
    _hooked: dict[Key, int] = field(default_factory=dict, repr=False)

    def __contains__(self, key: Key) -> bool:
        return any(key in g.keys for g in self.groups)

    def __len__(self) -> int:
        return sum(len(g.members) for g in self.groups)

    @property
    def keys(self) -> list[Key]:
        return [key for g in self.groups for key in g.keys]

    def add(
        self,
        key: Key,
        hp: Mapping[str, Any],
        rng: np.random.Generator,
        *,
        state: TrainingState | None = None,
    ) -> None:
        """Join a trial: exactly as ``Trainer(data, hp, rng)`` (and ``load_state(state)``)
        would start it alone. ``ValueError`` for a bad hyperparameter or a key already here."""
        if key in self:
            raise ValueError(f"member {key!r} is already in the fused run")
        trainer = Trainer(self.data, hp, rng)
        if state is not None:
            trainer.load_state(state)
        self._place([self._member(key, trainer)])

    def _member(self, key: Key, trainer: Trainer) -> _Member:
        return _Member(
            key=key,
            rng=trainer.rng,
            base_hp=dict(trainer.base_hp),
            overrides=dict(trainer.overrides),
            config=trainer.config,
            learning_rate=trainer.learning_rate,
            hidden=trainer.network.hidden_units,
            state=trainer.state(),
        )

    def _find(self, key: Key) -> tuple[_Group, int]:
        for group in self.groups:
            if key in group.keys:
                return group, group.keys.index(key)
        raise KeyError(key)

    def state(self, key: Key) -> TrainingState:
        """Member ``key``'s state, the one its alone :class:`Trainer` would save now."""
        group, row = self._find(key)
        return group.export(row)

    def config(self, key: Key) -> TrainerConfig:
        """Member ``key``'s hyperparameters as they stand (with its live changes)."""
        group, row = self._find(key)
        return group.members[row].config

    def epochs_done(self, key: Key) -> int:
        """Member ``key``'s completed epochs."""
        group, row = self._find(key)
        return int(group.epochs_done[row])

    def remove(self, key: Key) -> TrainingState:
        """Take member ``key`` out of the fused run (the others go on); returns its state."""
        group, row = self._find(key)
        state = group.export(row)
        self._rebuild(group, drop={key})
        return state

    def apply_overrides(self, key: Key, values: Mapping[str, Any]) -> None:
        """Change member ``key``'s live hyperparameters from its next mini-batch on, as
        :meth:`Trainer.apply_overrides` does; a new batch size moves it to another group."""
        group, row = self._find(key)
        member = group.members[row]
        trainer = Trainer(self.data, member.base_hp, np.random.default_rng(0))
        trainer.load_state(group.export(row))
        trainer.rng = member.rng
        trainer.apply_overrides(values)
        updated = self._member(key, trainer)
        if updated.config.batch_size == member.config.batch_size:
            self._rebuild(group, replace=updated)
        else:
            self._rebuild(group, drop={key})
            self._place([updated])

    def _sync(self, group: _Group) -> list[_Member]:
        for row, member in enumerate(group.members):
            member.state = group.export(row)
        return group.members

    def _rebuild(
        self, group: _Group, drop: set[Key] | None = None, replace: _Member | None = None
    ) -> None:
        """Rebuild ``group`` from its members' states, without ``drop`` and with ``replace``
        (a member of the group whose state was changed outside it)."""
        members = [m for m in self._sync(group) if m.key not in (drop or set())]
        if replace is not None:
            members = [replace if m.key == replace.key else m for m in members]
        index = self.groups.index(group)
        if members:
            self.groups[index] = _Group(self.data, members, group.widths)
        else:
            del self.groups[index]

    def _group_key(self, member: _Member) -> tuple:
        config, state = member.config, member.state
        key: tuple = (
            config.layers,
            config.activation,
            config.batch_size,
            state.position,
            state.order is None,
        )
        return key if self.pad else (*key, member.hidden)

    def _place(self, newcomers: list[_Member]) -> None:
        """Put members into the group of their key (rebuilt, widened if needed) or a new one."""
        for member in newcomers:
            wanted = self._group_key(member)
            for group in self.groups:
                if self._group_key(group.members[0]) == wanted:
                    members = [*self._sync(group), member]
                    widths = tuple(max(ws) for ws in zip(*(m.hidden for m in members), strict=True))
                    self.groups[self.groups.index(group)] = _Group(self.data, members, widths)
                    break
            else:
                self.groups.append(_Group(self.data, [member], member.hidden))

    def run_epoch(self) -> dict[Key, dict[str, float] | TrainingDiverged]:
        """Train (the rest of) one epoch of every member and return each one's metrics, as
        :meth:`Trainer.run_epoch` does; a member whose loss diverged leaves the run and gets
        its :class:`TrainingDiverged` instead (also kept in :attr:`diverged`)."""
        results: dict[Key, dict[str, float] | TrainingDiverged] = {}
        while True:
            group = next((g for g in self.groups if not set(g.keys) & set(results)), None)
            if group is None:
                break
            results.update(self._group_epoch(group, results))
        self._merge()
        return results

    def _unhooked(self, group: _Group) -> bool:
        """Whether some member of ``group`` has not yet seen the hook before its next
        mini-batch; marks them all as having seen it (the hook runs once per mini-batch, as
        the alone trainer's does, even when it rebuilds the group)."""
        marks = [(key, int(done)) for key, done in zip(group.keys, group.batches_done, strict=True)]
        fresh = any(self._hooked.get(key) != done for key, done in marks)
        self._hooked.update(marks)
        return fresh

    def _successor(self, keys: Sequence[Key], done: Mapping[Key, Any]) -> _Group | None:
        """The group that now holds the first of ``keys`` still training this epoch."""
        for key in keys:
            if key in done:
                continue
            for group in self.groups:
                if key in group.keys:
                    return group
        return None

    def _group_epoch(
        self, group: _Group, done: Mapping[Key, Any]
    ) -> dict[Key, dict[str, float] | TrainingDiverged]:
        out: dict[Key, dict[str, float] | TrainingDiverged] = {}
        n = self.data.X_train.shape[0]
        group.start_epoch()
        with np.errstate(all="ignore"):  # divergence is detected from the loss, not warnings
            while group.position < n:
                if self.on_batch is not None and self._unhooked(group):
                    keys = group.keys
                    self.on_batch(self, keys)
                    if group not in self.groups:  # membership changed: the rebuilt group
                        successor = self._successor(keys, done)
                        if successor is None:
                            return out
                        group = successor
                        group.start_epoch()
                        continue
                losses, bad = group.step()
                if bad:
                    keys = group.keys
                    for row in bad:
                        key = group.members[row].key
                        error = TrainingDiverged(
                            int(group.epochs_done[row]) + 1,
                            group.epoch_batches,
                            "the mini-batch loss",
                            float(losses[row]),
                        )
                        self.diverged[key] = out[key] = error
                    self._rebuild(group, drop={keys[row] for row in bad})
                    successor = self._successor(keys, {**done, **out})
                    if successor is None:
                        return out
                    group = successor
            val_loss, val_accuracy = group.evaluate()
        group.orders = None
        for row, member in enumerate(group.members):
            epoch = int(group.epochs_done[row]) + 1
            if not math.isfinite(val_loss[row]):
                out[member.key] = self.diverged[member.key] = TrainingDiverged(
                    epoch, None, "the validation loss", float(val_loss[row])
                )
                continue
            out[member.key] = {
                "train_loss": float(group.epoch_total[row]) / n,
                "val_loss": float(val_loss[row]),
                "val_accuracy": float(val_accuracy[row]),
                "learning_rate": decayed_learning_rate(
                    member.learning_rate,
                    member.config.lr_decay_kind,
                    member.config.lr_decay,
                    epoch - 1,
                ),
            }
            group.epochs_done[row] = epoch
        group.refresh()
        gone = {key for key in group.keys if isinstance(out[key], TrainingDiverged)}
        if gone:
            self._rebuild(group, drop=gone)
        return out

    def _merge(self) -> None:
        """Between epochs, groups that now agree (same key) become one."""
        seen: dict[tuple, _Group] = {}
        for group in list(self.groups):
            key = self._group_key(self._sync(group)[0])
            if key in seen:
                self.groups.remove(group)
                self._place(group.members)
            else:
                seen[key] = group


FusedEpochCallback = Callable[[Key, int, dict[str, float]], bool]


@dataclass(eq=False)
class FusedFitResult:
    """One member's outcome of :func:`fit_fused`: its metrics per epoch run here, whether
    ``on_epoch`` stopped it, and its final state (``None`` when it diverged, with ``error``, or
    left the run from ``on_batch``)."""

    history: list[dict[str, float]]
    stopped_early: bool = False
    state: TrainingState | None = None
    error: TrainingDiverged | None = None


def fit_fused(
    data: Dataset,
    trials: Mapping[Key, tuple[Mapping[str, Any], np.random.Generator]],
    on_epoch: FusedEpochCallback | None = None,
    *,
    on_batch: FusedHook | None = None,
    resume: Mapping[Key, TrainingState] | None = None,
    pad: bool = False,
) -> dict[Key, FusedFitResult]:
    """:func:`worker.nn.training.fit` for several trials at once: each trial ``key`` ->
    ``(hp, rng)`` trains to its own ``hp["epochs"]``, fused with the others, and gets the
    history ``fit`` would give it alone. After each of its epochs ``on_epoch(key, epoch,
    metrics)`` is called; ``False`` takes that member out (pruned, stopped). ``resume``: states
    to continue from, by key. A member whose loss diverges leaves with its
    :class:`TrainingDiverged` in ``error``; the others go on."""
    fused = FusedTrainer(data, on_batch=on_batch, pad=pad)
    for key, (hp, rng) in trials.items():
        fused.add(key, hp, rng, state=(resume or {}).get(key))
    results = {key: FusedFitResult(history=[]) for key in trials}
    for key in fused.keys:
        if fused.epochs_done(key) >= fused.config(key).epochs:
            results[key].state = fused.remove(key)
    while len(fused):
        for key, metrics in fused.run_epoch().items():
            result = results[key]
            if isinstance(metrics, TrainingDiverged):
                result.error = metrics
                continue
            result.history.append(metrics)
            epoch = fused.epochs_done(key)
            stop = on_epoch is not None and not on_epoch(key, epoch, dict(metrics))
            if stop or epoch >= fused.config(key).epochs:
                result.stopped_early = stop
                result.state = fused.remove(key)
    return results


# When fusing pays (bench/bench_fused.py, one BLAS thread, one epoch with validation, three runs
# on a shared 2-core machine): K equal members of width 32 on digits run 1.5x faster than one
# by one at K=4, 1.9-2.1x at 8, 2.4-2.7x at 16, 2.6-2.8x at 32; width 64: 1.3x, 1.6-1.8x,
# 1.6-2.0x, 1.4-2.0x; width 128: 0.9-1.2x (run to run), width 256: 0.75-1.06x (the arithmetic,
# not the per-call overhead, dominates once a member's activations pass ~4k floats); two members
# 0.9-1.06x; one member through the fused path 0.6-0.9x. A 784-feature input at width 32 still
# gains (1.2x at 4, 1.3-1.5x at 8); at width 128 it does not (0.87-1.07x). Digits at width 128
# gained 1.1-1.4x at K >= 4 in three of four runs: left out, since the same width on a 784-feature
# input loses, and the rule keeps to what held in every run.
FUSE_MAX_ELEMENTS = 64 * 64  # batch_size x widest hidden layer of one member
FUSE_MIN_MEMBERS = 3
FUSE_MAX_MEMBERS = 16


def choose_fusion(batch_size: int, widest: int, available: int) -> int:
    """How many of ``available`` trials of one shape (same depth, widths, activation, batch
    size) to fuse: 1 means train them one by one. Fuses when one member's activations
    (``batch_size`` x ``widest`` hidden layer) are small enough that per-call overhead
    dominates, at least :data:`FUSE_MIN_MEMBERS` and at most :data:`FUSE_MAX_MEMBERS` at
    once."""
    if batch_size * widest > FUSE_MAX_ELEMENTS or available < FUSE_MIN_MEMBERS:
        return 1
    return min(available, FUSE_MAX_MEMBERS)


def plan_fusion(configs: Sequence[TrainerConfig], *, pad: bool = False) -> list[list[int]]:
    """Split candidate trials (their parsed hyperparameters) into fused runs: lists of indices
    into ``configs``, each sized by :func:`choose_fusion`; a list of one index means: train it
    alone. Each run holds one exact shape, or with ``pad`` (for ``FusedTrainer(pad=True)``)
    trials of any width small enough to fuse, neighbours in width, padded to the widest."""
    by_shape: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        small = config.batch_size * config.hidden_units <= FUSE_MAX_ELEMENTS
        width = None if pad and small else config.hidden_units
        shape = (config.layers, width, config.activation, config.batch_size)
        by_shape.setdefault(shape, []).append(index)
    plan: list[list[int]] = []
    for (layers, _, _, batch), indices in by_shape.items():
        indices = sorted(indices, key=lambda i: configs[i].hidden_units)
        while indices:
            widest = max(configs[i].hidden_units for i in indices) if layers else 0
            k = choose_fusion(batch, widest, len(indices))
            plan.append(indices[:k])
            indices = indices[k:]
    return plan
