"""Fast and slow weights of the model's dense head, with online EWC.

The :class:`Learner` owns two copies of the head's parameters (see :mod:`cognition.gradients`):

* **fast weights**, changed at once by every :meth:`Learner.feedback` with a high learning rate that decays
  with the number of feedback steps, and shrinking toward zero at each step (they hold what was just learned);
* **slow weights**, changed only by :meth:`Learner.consolidate` (sleep): minibatch SGD on replayed episodes
  under the strategy's penalty (:mod:`cognition.strategies`), after which the fast weights are cleared and the
  Fisher estimate is refreshed by :meth:`Learner.update_fisher`.

The sessions run the effective weights, ``slow + fast``, in their own dtype: :meth:`Learner.push` swaps them
in with ``InferenceSession.update_weights`` (atomic between runs).

    >>> learner = Learner.from_model("ronn/data/digits_mlp.onnx")              # doctest: +SKIP
    >>> learner.feedback(pixels, np.array([3]))                                # doctest: +SKIP
    >>> learner.push(session)                                                  # doctest: +SKIP
    >>> learner.consolidate(replayed_x, replayed_y); learner.update_fisher(replayed_x, replayed_y)  # doctest: +SKIP
    >>> blob = learner.state_dict()  # bytes, for the database                 # doctest: +SKIP

Online EWC penalty: ``λ Σ_i F_i (θ_i − θ*_i)²`` where ``F`` is the empirical diagonal Fisher (mean squared
per-sample gradient of the log-likelihood of the observed labels) and ``θ*`` the slow weights after the last
consolidation; after each consolidation ``F ← γ F + F_new``.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine import ir

from .gradients import (
    DenseHead,
    Params,
    backward,
    find_dense_head,
    forward,
    softmax_cross_entropy,
    squared_gradient_sums,
)
from .strategies import Strategy, strategy

STATE_VERSION = 1


@dataclass(frozen=True)
class LearningConfig:
    """How the head learns. ``strategy`` is one of :data:`cognition.strategies.STRATEGIES`."""

    strategy: str = "replay_online_ewc"
    fast_lr: float = 0.1           # first feedback step's learning rate ...
    fast_lr_decay: float = 0.01    # ... then fast_lr / (1 + fast_lr_decay * steps)
    fast_decay: float = 0.995      # fast weights shrink by this before each feedback step (half-life ~140)
    slow_lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 10
    ewc_lambda: float = 100.0
    fisher_gamma: float = 0.9
    fisher_samples: int = 1024
    max_grad_norm: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        strategy(self.strategy)  # raises ValueError naming the known strategies
        if not 0.0 <= self.fast_decay <= 1.0 or not 0.0 <= self.fisher_gamma <= 1.0:
            raise ValueError("fast_decay and fisher_gamma must lie in [0, 1]")


@dataclass(frozen=True)
class ConsolidationStats:
    """What one :meth:`Learner.consolidate` did."""

    steps: int
    samples: int
    replayed: int
    loss: float      # mean data loss over the last epoch
    penalty: float   # the EWC penalty at the end


@dataclass
class _Anchor:
    fisher: Params
    weights: Params


@dataclass
class Learner:
    """Fast/slow weights of one dense head. Not thread-safe: one task (the agent's learner) drives it."""

    head: DenseHead
    slow: Params
    config: LearningConfig = field(default_factory=LearningConfig)
    dtypes: dict[str, np.dtype] = field(default_factory=dict)  # the sessions' dtypes, by parameter
    fast: Params = field(default_factory=dict)
    anchors: list[_Anchor] = field(default_factory=list)  # online: at most one; ewc: one per consolidation
    feedback_steps: int = 0
    consolidations: int = 0

    def __post_init__(self) -> None:
        missing = [n for n in self.head.parameter_names if n not in self.slow]
        if missing:
            raise ValueError(f"parameters missing for the head: {missing}")
        for name in self.head.parameter_names:
            self.dtypes.setdefault(name, np.dtype(self.slow[name].dtype))
            self.slow[name] = np.array(self.slow[name], np.float32)
            self.fast.setdefault(name, np.zeros_like(self.slow[name]))
        self._rng = np.random.default_rng(self.config.seed)

    @classmethod
    def from_model(cls, model: Any, config: LearningConfig | None = None) -> Learner:
        """A learner for the dense head of ``model`` (path, bytes, ModelProto, Graph or InferenceSession)."""
        graph = _graph_of(model)
        head = find_dense_head(graph)
        return cls(head, head.parameters(graph), config or LearningConfig())

    @property
    def strategy(self) -> Strategy:
        return strategy(self.config.strategy)

    # --- prediction ----------------------------------------------------------------------------------------

    def weights(self, which: str = "effective") -> Params:
        """``"slow"``, ``"fast"`` or ``"effective"`` (slow + fast) parameters, float32."""
        if which == "slow":
            return self.slow
        if which == "fast":
            return self.fast
        if which == "effective":
            return {n: self.slow[n] + self.fast[n] for n in self.head.parameter_names}
        raise ValueError(f"which must be 'slow', 'fast' or 'effective', got {which!r}")

    def logits(self, x: np.ndarray, *, which: str = "effective") -> np.ndarray:
        return forward(self.head, self.weights(which), np.asarray(x, np.float32))[0]

    def predict(self, x: np.ndarray, *, mask: np.ndarray | None = None, which: str = "effective") -> np.ndarray:
        z = self.logits(x, which=which)
        if mask is not None:
            z = np.where(mask, z, -np.inf)
        return z.argmax(axis=1)

    # --- fast weights ----------------------------------------------------------------------------------------

    def fast_lr(self) -> float:
        return self.config.fast_lr / (1.0 + self.config.fast_lr_decay * self.feedback_steps)

    def feedback(self, x: np.ndarray, labels: np.ndarray, *, mask: np.ndarray | None = None) -> float:
        """One SGD step of the fast weights on labelled inputs (features of the head); returns the loss before it.

        The fast weights first shrink by ``fast_decay``; the gradient is taken at the effective weights.
        """
        x = np.asarray(x, np.float32).reshape(len(np.atleast_1d(labels)), -1)
        labels = np.asarray(labels, np.int64).reshape(-1)
        for v in self.fast.values():
            v *= np.float32(self.config.fast_decay)
        params = self.weights("effective")
        logits, cache = forward(self.head, params, x)
        loss, dlogits = softmax_cross_entropy(logits, labels, mask=mask)
        grads = _clipped(backward(self.head, params, cache, dlogits), self.config.max_grad_norm)
        lr = np.float32(self.fast_lr())
        for name, g in grads.items():
            self.fast[name] -= lr * g.astype(np.float32)
        self.feedback_steps += 1
        return loss

    def effective_weights(self) -> dict[str, np.ndarray]:
        """``slow + fast`` in each session initializer's own dtype, ready for ``update_weights``."""
        return {n: (self.slow[n] + self.fast[n]).astype(self.dtypes[n]) for n in self.head.parameter_names}

    def push(self, *sessions: Any) -> None:
        """Swap the effective weights into each session (each swap is atomic between that session's runs)."""
        weights = self.effective_weights()
        for session in sessions:
            session.update_weights(weights)

    # --- slow weights ----------------------------------------------------------------------------------------

    def consolidate(
        self,
        x: np.ndarray,
        labels: np.ndarray,
        *,
        replay: tuple[np.ndarray, np.ndarray] | None = None,
        epochs: int | None = None,
        mask: np.ndarray | None = None,
        replay_mask: np.ndarray | None = None,
    ) -> ConsolidationStats:
        """Train the slow weights on ``(x, labels)`` under the strategy's penalty; then clear the fast weights.

        With ``replay`` (stored episodes, used when the strategy replays), every minibatch of new data is joined
        by a minibatch of the same size drawn from it. ``mask``/``replay_mask`` restrict the softmax to some
        classes (bool [classes] or per row). Call :meth:`update_fisher` afterwards to move the anchor.
        """
        cfg = self.config
        x = np.asarray(x, np.float32)
        labels = np.asarray(labels, np.int64)
        use_replay = replay is not None and self.strategy.replay and len(replay[1]) > 0
        velocity = {n: np.zeros_like(v) for n, v in self.slow.items()}
        lr, mu = np.float32(cfg.slow_lr), np.float32(cfg.momentum)
        steps, last_loss = 0, float("nan")
        n, bs = len(labels), cfg.batch_size
        for _ in range(cfg.epochs if epochs is None else epochs):
            order = self._rng.permutation(n)
            losses = []
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                xb, yb = x[idx], labels[idx]
                mb = _rows(mask, idx, len(idx))
                if use_replay:
                    assert replay is not None
                    ridx = self._rng.integers(0, len(replay[1]), len(idx))
                    xb = np.concatenate([xb, np.asarray(replay[0][ridx], np.float32)])
                    yb = np.concatenate([yb, np.asarray(replay[1][ridx], np.int64)])
                    rm = _rows(replay_mask if replay_mask is not None else mask, ridx, len(ridx))
                    mb = None if mb is None and rm is None else np.concatenate(
                        [_full(mb, len(idx), self._classes()), _full(rm, len(ridx), self._classes())])
                logits, cache = forward(self.head, self.slow, xb)
                loss, dlogits = softmax_cross_entropy(logits, yb, mask=mb)
                grads = backward(self.head, self.slow, cache, dlogits)
                for name, g in self.penalty_gradients().items():
                    grads[name] = grads[name] + g
                grads = _clipped(grads, cfg.max_grad_norm)
                for name, g in grads.items():
                    v = velocity[name]
                    v *= mu
                    v += g.astype(np.float32)
                    self.slow[name] -= lr * v
                losses.append(loss)
                steps += 1
            last_loss = float(np.mean(losses)) if losses else float("nan")
        for v in self.fast.values():
            v[...] = 0
        self.consolidations += 1
        return ConsolidationStats(steps, n, steps * bs if use_replay else 0, last_loss, self.penalty())

    def penalty(self) -> float:
        """The current EWC penalty of the slow weights (0 without one)."""
        lam = self.config.ewc_lambda
        return float(sum(lam * float((a.fisher[n] * (self.slow[n] - a.weights[n]) ** 2).sum())
                         for a in self.anchors for n in self.head.parameter_names))

    def penalty_gradients(self) -> Params:
        """``d penalty / d θ = 2 λ Σ F (θ − θ*)`` for every parameter (empty without a penalty)."""
        if not self.anchors:
            return {}
        two_lam = np.float32(2.0 * self.config.ewc_lambda)
        grads: Params = {}
        for name in self.head.parameter_names:
            total = np.zeros_like(self.slow[name])
            for a in self.anchors:
                total += a.fisher[name] * (self.slow[name] - a.weights[name])
            grads[name] = two_lam * total
        return grads

    def fisher(self, x: np.ndarray, labels: np.ndarray, *, mask: np.ndarray | None = None) -> Params:
        """Empirical diagonal Fisher of the slow weights: the mean squared per-sample gradient of
        ``−log p(label | x)``, over at most ``fisher_samples`` of the inputs."""
        x = np.asarray(x, np.float32)
        labels = np.asarray(labels, np.int64)
        if len(labels) > self.config.fisher_samples:
            keep = self._rng.choice(len(labels), self.config.fisher_samples, replace=False)
            x, labels, mask = x[keep], labels[keep], _rows(mask, keep, len(keep))
        logits, cache = forward(self.head, self.slow, x)
        _, per_sample = softmax_cross_entropy(logits, labels, mask=mask, per_sample=True)
        sums = squared_gradient_sums(self.head, self.slow, cache, per_sample)
        return {n: (s / max(len(labels), 1)).astype(np.float32) for n, s in sums.items()}

    def update_fisher(self, x: np.ndarray, labels: np.ndarray, *, mask: np.ndarray | None = None) -> None:
        """After a consolidation: estimate the Fisher on ``(x, labels)`` and move the anchor to the slow weights.

        online_ewc: ``F ← γ F + F_new``, one anchor; ewc: one more (F_new, θ) term; other strategies: nothing.
        """
        kind = self.strategy.penalty
        if kind == "none" or len(np.atleast_1d(labels)) == 0:
            return
        new = self.fisher(x, labels, mask=mask)
        anchor = {n: v.copy() for n, v in self.slow.items()}
        if kind == "online" and self.anchors:
            gamma = np.float32(self.config.fisher_gamma)
            old = self.anchors[0].fisher
            self.anchors = [_Anchor({n: gamma * old[n] + new[n] for n in new}, anchor)]
        else:
            self.anchors.append(_Anchor(new, anchor))

    # --- persistence -----------------------------------------------------------------------------------------

    def state_dict(self) -> bytes:
        """Everything learned (slow and fast weights, Fishers, anchors, counters, config) as ``.npz`` bytes."""
        arrays: dict[str, np.ndarray] = {}
        for name in self.head.parameter_names:
            arrays[f"slow/{name}"] = self.slow[name]
            arrays[f"fast/{name}"] = self.fast[name]
            for i, a in enumerate(self.anchors):
                arrays[f"fisher{i}/{name}"] = a.fisher[name]
                arrays[f"anchor{i}/{name}"] = a.weights[name]
        meta = {"version": STATE_VERSION, "parameters": list(self.head.parameter_names),
                "anchors": len(self.anchors), "feedback_steps": self.feedback_steps,
                "consolidations": self.consolidations, "config": asdict(self.config)}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    def load_state_dict(self, blob: bytes) -> None:
        """Restore what :meth:`state_dict` saved. ValueError if it was saved for other parameters."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("version") != STATE_VERSION:
                raise ValueError(f"learner state version {meta.get('version')}, expected {STATE_VERSION}")
            if meta["parameters"] != list(self.head.parameter_names):
                raise ValueError(
                    f"the state holds parameters {meta['parameters']}, this head has {list(self.head.parameter_names)}"
                )
            for name in self.head.parameter_names:
                for store, key in ((self.slow, "slow"), (self.fast, "fast")):
                    array = data[f"{key}/{name}"]
                    if array.shape != self.slow[name].shape:
                        raise ValueError(f"{key}/{name}: shape {array.shape}, expected {self.slow[name].shape}")
                    store[name] = np.array(array, np.float32)
            self.anchors = [
                _Anchor({n: np.array(data[f"fisher{i}/{n}"]) for n in self.head.parameter_names},
                        {n: np.array(data[f"anchor{i}/{n}"]) for n in self.head.parameter_names})
                for i in range(int(meta["anchors"]))
            ]
            self.feedback_steps = int(meta["feedback_steps"])
            self.consolidations = int(meta["consolidations"])

    def _classes(self) -> int:
        last = self.head.layers[-1]
        w = self.slow[last.weight]
        return int(w.shape[0] if last.trans_b else w.shape[1])


def _graph_of(model: Any) -> ir.Graph:
    if isinstance(model, ir.Graph):
        return model
    graph = getattr(model, "graph", None)
    if isinstance(graph, ir.Graph):
        return graph
    from engine.loader import load_model

    return load_model(model)


def _rows(mask: np.ndarray | None, idx: np.ndarray, n: int) -> np.ndarray | None:
    """Rows ``idx`` of a per-row mask; a per-class mask applies to every row as it is."""
    if mask is None or mask.ndim == 1:
        return mask
    return mask[idx]


def _full(mask: np.ndarray | None, n: int, classes: int) -> np.ndarray:
    if mask is None:
        return np.ones((n, classes), bool)
    return np.broadcast_to(mask, (n, classes))


def _clipped(grads: Params, max_norm: float) -> Params:
    norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values())))
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / norm
        return {n: g * scale for n, g in grads.items()}
    return grads
