"""Continual-learning experiments on scikit-learn's digits, run by the agent's own learner.

A benchmark is a sequence of tasks, each a train and a test set:

* ``split-digits``: five tasks of two classes each, (0, 1), (2, 3), ..., (8, 9);
* ``permuted-digits``: five tasks with all ten classes, each with its own fixed permutation of the 64 pixels
  (the first task keeps the images as they are).

The scenario says what the model is asked (van de Ven & Tolias 2019):

* ``task``: the task identity is given; the softmax covers only that task's classes (a head per task);
* ``domain``: no task identity, one shared set of outputs: the digit parity for split digits (2 outputs),
  the digit itself for permuted digits (10 outputs);
* ``class``: no task identity and every class seen so far is a candidate: 10 outputs for split digits,
  10 per task for permuted digits.

The model is an MLP (64 → hidden → hidden → outputs, ReLU) written as an ONNX graph; its dense head, which is
the whole MLP, is read by :func:`cognition.gradients.find_dense_head` and trained by
:class:`cognition.learning.Learner`, the code the agent runs. After each task the learner's weights are pushed
into an :class:`engine.session.InferenceSession` and the final accuracies are computed by the engine, not by
numpy (the two are checked to agree).

Metrics, as Avalanche defines them (``R[i, j]`` = accuracy on task ``j``'s test set after training on task
``i``, ``T`` tasks): average accuracy ``ACC = mean_j R[T-1, j]``; forgetting of task ``j`` = ``R[j, j] −
R[T-1, j]`` (accuracy right after learning it minus at the end), averaged over ``j < T-1``; backward transfer
``BWT = mean_{j < T-1} (R[T-1, j] − R[j, j])``, the negative of forgetting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .learning import Learner, LearningConfig
from .strategies import STRATEGIES, ReplayBuffer, strategy

BENCHMARKS = ("split-digits", "permuted-digits")
SCENARIOS = ("task", "domain", "class")
DEMO_EXTRA = 'pip install "ronn[demo]"'
# λ chosen per strategy from {10, 100, 1000, 10000} on seeds 0-2 of both benchmarks (docs/learning.md): with
# replay, a strong penalty holds the weights where the class-balanced replay cannot correct them.
DEFAULT_LAMBDA = {"ewc": 1000.0, "online_ewc": 1000.0, "replay_online_ewc": 10.0}


@dataclass(frozen=True)
class Task:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mask: np.ndarray | None  # bool [outputs]: the classes the softmax covers (task scenario), else None


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a benchmark, a scenario, a strategy and how the learner trains."""

    benchmark: str = "split-digits"
    scenario: str = "class"
    strategy: str = "replay"
    hidden: int = 128
    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 32
    per_class: int = 20            # replay buffer: stored episodes per class
    sleep_epochs: int = 30         # class-balanced replay of the buffer after each task (replay strategies)
    ewc_lambda: float | None = None  # None: DEFAULT_LAMBDA[strategy]
    fisher_gamma: float = 1.0
    tasks: int = 5
    test_fraction: float = 0.3

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; known: {', '.join(BENCHMARKS)}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; known: {', '.join(SCENARIOS)}")
        strategy(self.strategy)
        if self.benchmark == "split-digits" and self.tasks != 5:
            raise ValueError("split-digits has exactly 5 tasks")

    @property
    def lam(self) -> float:
        """The EWC λ in use."""
        return self.ewc_lambda if self.ewc_lambda is not None else DEFAULT_LAMBDA.get(self.strategy, 0.0)


@dataclass(frozen=True)
class RunResult:
    """One seed: the accuracy matrix and its summaries (see the module docstring)."""

    seed: int
    accuracy: list[list[float]]   # R[i][j]
    average_accuracy: float
    forgetting: float
    backward_transfer: float
    engine_agreement: float       # share of final test predictions where the engine session agrees with numpy
    seconds: float


@dataclass(frozen=True)
class ExperimentResult:
    config: ExperimentConfig
    runs: list[RunResult] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        return float(np.mean([getattr(r, metric) for r in self.runs]))

    def std(self, metric: str) -> float:
        return float(np.std([getattr(r, metric) for r in self.runs]))

    def mean_matrix(self) -> np.ndarray:
        return np.mean([np.asarray(r.accuracy) for r in self.runs], axis=0)

    def to_dict(self) -> dict[str, Any]:
        summary = {m: {"mean": self.mean(m), "std": self.std(m)}
                   for m in ("average_accuracy", "forgetting", "backward_transfer", "engine_agreement")}
        return {"config": asdict(self.config), "summary": summary, "mean_accuracy_matrix":
                self.mean_matrix().tolist(), "runs": [asdict(r) for r in self.runs]}


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as float32 pixels in [0, 1] and int64 labels; ImportError naming the extra."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(f"the continual-learning experiment needs scikit-learn (its digits): {DEMO_EXTRA}") from None
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


def outputs_of(config: ExperimentConfig) -> int:
    if config.benchmark == "split-digits":
        return 2 if config.scenario == "domain" else 10
    return 10 if config.scenario == "domain" else 10 * config.tasks


def make_tasks(config: ExperimentConfig, seed: int, data: tuple[np.ndarray, np.ndarray] | None = None) -> list[Task]:
    """The benchmark's tasks for ``seed`` (which draws the stratified train/test split and the permutations)."""
    x, y = data if data is not None else load_digits_arrays()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):  # stratified split
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: int(round(config.test_fraction * len(idx)))]] = True
    xtr, ytr, xte, yte = x[~test], y[~test], x[test], y[test]
    outputs = outputs_of(config)
    tasks = []
    if config.benchmark == "split-digits":
        for t in range(5):
            classes = (2 * t, 2 * t + 1)
            tr, te = np.isin(ytr, classes), np.isin(yte, classes)
            relabel = (lambda v: v % 2) if config.scenario == "domain" else (lambda v: v)
            mask = None
            if config.scenario == "task":
                mask = np.zeros(outputs, bool)
                mask[list(classes)] = True
            tasks.append(Task(xtr[tr], relabel(ytr[tr]), xte[te], relabel(yte[te]), mask))
    else:
        for t in range(config.tasks):
            perm = np.arange(x.shape[1]) if t == 0 else rng.permutation(x.shape[1])
            offset = 0 if config.scenario == "domain" else 10 * t
            mask = None
            if config.scenario == "task":
                mask = np.zeros(outputs, bool)
                mask[offset:offset + 10] = True
            tasks.append(Task(xtr[:, perm], ytr + offset, xte[:, perm], yte + offset, mask))
    return tasks


def mlp_model(inputs: int, hidden: int, outputs: int, seed: int) -> onnx.ModelProto:
    """An MLP ``inputs → hidden → hidden → outputs`` (Gemm with transB = 1 and ReLU, like a torch export),
    He-initialized from ``seed``; outputs ``logits``."""
    rng = np.random.default_rng(seed)
    sizes = [inputs, hidden, hidden, outputs]
    nodes, inits, h = [], [], "x"
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = (rng.standard_normal((n, k)) * np.sqrt(2.0 / k)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"), numpy_helper.from_array(np.zeros(n, np.float32),
                                                                                       f"fc{i}.bias")]
        last = i == len(sizes) - 2
        out = "logits" if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, f"fc{i}.weight", f"fc{i}.bias"], [out], transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"]))
            h = f"h{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", inputs])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", outputs])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def accuracy(learner: Learner, task: Task) -> float:
    return float((learner.predict(task.x_test, mask=task.mask, which="slow") == task.y_test).mean())


def run_seed(config: ExperimentConfig, seed: int, *, data: tuple[np.ndarray, np.ndarray] | None = None,
             progress: Callable[[], None] | None = None) -> RunResult:
    """Train on the tasks in order with ``config.strategy``; evaluate every task after each one."""
    from threadpoolctl import threadpool_limits

    # The matrices are small (batch 32-64, width 128): a second BLAS thread costs more than it gives, 10x
    # more on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_seed(config, seed, data, progress)


def _run_seed(config: ExperimentConfig, seed: int, data: tuple[np.ndarray, np.ndarray] | None,
              progress: Callable[[], None] | None) -> RunResult:
    import time

    from engine.session import InferenceSession

    start = time.perf_counter()
    tasks = make_tasks(config, seed, data)
    model = mlp_model(tasks[0].x_train.shape[1], config.hidden, outputs_of(config), seed)
    learner = Learner.from_model(model, LearningConfig(
        strategy=config.strategy, slow_lr=config.lr, batch_size=config.batch_size, epochs=config.epochs,
        ewc_lambda=config.lam, fisher_gamma=config.fisher_gamma, seed=seed))
    chosen = STRATEGIES[config.strategy]
    buffer = ReplayBuffer(config.per_class, seed=seed)
    buffer_masks: dict[int, np.ndarray] = {}  # label -> its task's mask (task scenario)
    matrix = np.zeros((len(tasks), len(tasks)))
    for i, task in enumerate(tasks):
        if chosen.joint:
            seen = tasks[: i + 1]
            x = np.concatenate([t.x_train for t in seen])
            y = np.concatenate([t.y_train for t in seen])
            mask = None if task.mask is None else np.concatenate(
                [np.broadcast_to(t.mask, (len(t.y_train), len(t.mask))) for t in seen if t.mask is not None])
            learner.consolidate(x, y, mask=mask)
        else:
            replay = buffer.arrays() if len(buffer) else None
            replay_mask = _label_masks(buffer_masks, replay[1]) if replay is not None and buffer_masks else None
            learner.consolidate(task.x_train, task.y_train, mask=task.mask, replay=replay, replay_mask=replay_mask)
            if chosen.replay:
                buffer.add(task.x_train, task.y_train)
                if task.mask is not None:
                    buffer_masks.update({int(c): task.mask for c in np.unique(task.y_train)})
                if config.sleep_epochs and i:  # sleep: class-balanced replay of every stored episode
                    bx, by = buffer.arrays()
                    bmask = _label_masks(buffer_masks, by) if buffer_masks else None
                    learner.consolidate(bx, by, mask=bmask, epochs=config.sleep_epochs)
            learner.update_fisher(task.x_train, task.y_train, mask=task.mask)
        for j, other in enumerate(tasks):
            matrix[i, j] = accuracy(learner, other)
        if progress is not None:
            progress()
    session = InferenceSession(model)
    learner.push(session)
    agree = []
    for task in tasks:
        (logits,) = session.run(["logits"], {"x": task.x_test})
        ours = learner.predict(task.x_test, mask=task.mask, which="slow")
        theirs = np.where(task.mask, logits, -np.inf).argmax(1) if task.mask is not None else logits.argmax(1)
        agree.append(ours == theirs)
    last = matrix[-1]
    diag = np.diag(matrix)
    forgetting = float(np.mean(diag[:-1] - last[:-1])) if len(tasks) > 1 else 0.0
    return RunResult(seed, matrix.tolist(), float(last.mean()), forgetting, -forgetting,
                     float(np.concatenate(agree).mean()), time.perf_counter() - start)


def _label_masks(masks: dict[int, np.ndarray], labels: np.ndarray) -> np.ndarray:
    return np.stack([masks[int(label)] for label in labels])


def run_experiment(config: ExperimentConfig, seeds: int | list[int] = 5, *,
                   progress: Callable[[], None] | None = None) -> ExperimentResult:
    """Run ``config`` for each seed (``seeds`` = a count, meaning 0..n-1, or a list)."""
    data = load_digits_arrays()
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    return ExperimentResult(config, [run_seed(config, s, data=data, progress=progress) for s in seed_list])


def plot(results: list[ExperimentResult], path: Any) -> None:
    """A PNG: for each strategy, the accuracy on each task (one line per task) after each training task."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"the experiment's plot needs matplotlib: {DEMO_EXTRA}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(results))
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), sharey=True, squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.set_visible(False)
    for ax, result in zip(axes.flat, results, strict=False):
        matrix = result.mean_matrix()
        steps = np.arange(1, matrix.shape[0] + 1)
        for j in range(matrix.shape[1]):
            ax.plot(steps[j:], matrix[j:, j], marker="o", ms=3, label=f"task {j + 1}")
        seen = [matrix[i, : i + 1].mean() for i in range(len(steps))]
        ax.plot(steps, seen, color="black", lw=2, ls="--", label="mean over tasks seen")
        ax.set_title(f"{result.config.strategy}\nACC {result.mean('average_accuracy'):.3f}", fontsize=9)
        ax.set_xlabel("after training task")
        ax.set_xticks(steps)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("test accuracy")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    cfg = results[0].config
    fig.suptitle(f"{cfg.benchmark}, {cfg.scenario}-incremental, {len(results[0].runs)} seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
