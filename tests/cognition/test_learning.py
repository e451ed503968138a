"""Fast and slow weights, online EWC, persistence and the System 1 refresh, on the bundled digits model."""

from __future__ import annotations

import numpy as np
import pytest

from cognition.distillation import agreement, distill, system1_graph, ternary_logits
from cognition.gradients import forward, softmax_cross_entropy
from cognition.learning import Learner, LearningConfig
from cognition.strategies import ReplayBuffer, strategy
from engine.errors import InvalidInputError
from engine.session import InferenceSession
from ronn.cli import DATA

MODEL = DATA / "digits_mlp.onnx"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    pytest.importorskip("sklearn")
    from ronn.demo import load_digits_split

    x, y, _, _ = load_digits_split()  # the 360 images the bundled model did not train on
    return x, y


def _loss(learner: Learner, x: np.ndarray, y: np.ndarray, which: str = "effective") -> float:
    return softmax_cross_entropy(learner.logits(x, which=which), y)[0]


def test_feedback_moves_only_fast_weights_and_they_decay(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    learner = Learner.from_model(MODEL, LearningConfig(fast_lr=0.5, fast_decay=0.5))
    slow = {n: v.copy() for n, v in learner.slow.items()}
    wrong = (y[:1] + 1) % 10
    before = _loss(learner, x[:1], wrong)
    learner.feedback(x[:1], wrong)
    assert _loss(learner, x[:1], wrong) < before
    assert all(np.array_equal(slow[n], learner.slow[n]) for n in slow)
    size = sum(float(np.abs(v).sum()) for v in learner.fast.values())
    assert size > 0
    lr1 = learner.fast_lr()
    learner.config = LearningConfig(fast_lr=0.0, fast_decay=0.5)
    learner.feedback(x[:1], wrong)  # a zero step: only the decay
    assert sum(float(np.abs(v).sum()) for v in learner.fast.values()) == pytest.approx(size / 2, rel=1e-5)
    assert LearningConfig(fast_lr=0.5).fast_lr / lr1 > 1  # the learning rate decays with the step count


def test_push_swaps_effective_weights_into_a_session(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    session = InferenceSession(MODEL)
    learner = Learner.from_model(session)
    for i in range(5):
        learner.feedback(x[i:i + 1], (y[i:i + 1] + 3) % 10)
    learner.push(session)
    (logits,) = session.run(["logits"], {"pixels": x[:20]})
    np.testing.assert_allclose(logits, learner.logits(x[:20]), rtol=1e-5, atol=1e-5)
    assert all(w.dtype == np.float32 for w in learner.effective_weights().values())
    with pytest.raises(InvalidInputError):
        session.update_weights({"w1": np.zeros((3, 3), np.float32)})


def test_consolidate_learns_and_clears_fast_weights(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    learner = Learner.from_model(MODEL, LearningConfig(strategy="naive", epochs=5))
    shuffled = np.roll(y, 1)  # a new "task": relabelled digits
    learner.feedback(x[:1], shuffled[:1])
    before = _loss(learner, x, shuffled, "slow")
    stats = learner.consolidate(x, shuffled)
    assert _loss(learner, x, shuffled, "slow") < before / 2
    assert stats.steps > 0 and stats.penalty == 0.0
    assert all(not v.any() for v in learner.fast.values())


def test_online_ewc_fisher_is_decayed_and_accumulated(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    learner = Learner.from_model(MODEL, LearningConfig(strategy="online_ewc", fisher_gamma=0.5, epochs=1))
    f1 = learner.fisher(x, y)
    learner.update_fisher(x, y)
    assert len(learner.anchors) == 1
    learner.consolidate(x[:50], (y[:50] + 1) % 10)
    f2 = learner.fisher(x, y)
    learner.update_fisher(x, y)
    assert len(learner.anchors) == 1
    for n in f1:
        np.testing.assert_allclose(learner.anchors[0].fisher[n], 0.5 * f1[n] + f2[n], rtol=1e-6)
        np.testing.assert_array_equal(learner.anchors[0].weights[n], learner.slow[n])
    ewc = Learner.from_model(MODEL, LearningConfig(strategy="ewc"))
    ewc.update_fisher(x, y)
    ewc.update_fisher(x, y)
    assert len(ewc.anchors) == 2  # one term per consolidation


def test_penalty_gradient_matches_finite_differences(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    learner = Learner.from_model(MODEL, LearningConfig(strategy="ewc", ewc_lambda=3.0))
    learner.update_fisher(x, y)
    rng = np.random.default_rng(0)
    for v in learner.slow.values():
        v += rng.normal(0, 0.1, v.shape).astype(np.float32)
    learner.update_fisher(x[:40], y[:40])
    grads = learner.penalty_gradients()
    name, index, eps = "b1", (3,), 1e-2
    old = learner.slow[name][index]
    learner.slow[name][index] = old + eps
    up = learner.penalty()
    learner.slow[name][index] = old - eps
    down = learner.penalty()
    learner.slow[name][index] = old
    assert grads[name][index] == pytest.approx((up - down) / (2 * eps), rel=1e-2, abs=1e-6)


def test_ewc_forgets_less_than_naive(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    new_task = (y + 5) % 10
    accuracy = {}
    for name in ("naive", "online_ewc"):
        learner = Learner.from_model(MODEL, LearningConfig(strategy=name, ewc_lambda=1000.0, epochs=3))
        learner.update_fisher(x, y)
        learner.consolidate(x[:40], new_task[:40])
        accuracy[name] = float((learner.predict(x, which="slow") == y).mean())
    assert accuracy["online_ewc"] > accuracy["naive"] + 0.2


def test_state_dict_round_trip(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    learner = Learner.from_model(MODEL, LearningConfig(strategy="ewc", epochs=1))
    learner.consolidate(x, (y + 1) % 10)
    learner.update_fisher(x, y)
    learner.feedback(x[:1], y[:1])
    blob = learner.state_dict()
    assert isinstance(blob, bytes)
    restored = Learner.from_model(MODEL, LearningConfig(strategy="ewc"))
    restored.load_state_dict(blob)
    np.testing.assert_array_equal(restored.logits(x), learner.logits(x))
    assert restored.penalty() == learner.penalty() and restored.feedback_steps == 1
    assert restored.consolidations == 1 and len(restored.anchors) == 1
    other = Learner.from_model(DATA.parent.parent / "tests" / "data" / "mlp_dynamo_static.onnx")
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(blob)


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="replay_online_ewc"):
        LearningConfig(strategy="magic")
    assert strategy("joint").joint


def test_replay_buffer_is_class_balanced_and_bounded() -> None:
    buffer = ReplayBuffer(3, seed=0)
    buffer.add(np.arange(40, dtype=np.float32).reshape(20, 2), np.array([0] * 15 + [1] * 5))
    assert buffer.counts() == {0: 3, 1: 3}
    bx, by = buffer.arrays()
    assert bx.shape == (6, 2) and list(by) == [0, 0, 0, 1, 1, 1]


def test_system1_refresh_and_distillation(digits: tuple[np.ndarray, np.ndarray]) -> None:
    from engine.loader import load_model

    x, y = digits
    graph = load_model(MODEL)
    learner = Learner.from_model(graph, LearningConfig(strategy="naive", epochs=3))
    learner.consolidate(x, y)
    teacher = learner.weights("slow")
    teacher_logits = forward(learner.head, teacher, x)[0]
    student, report = distill(learner.head, teacher, x, epochs=20)
    assert report.agreement_after > report.agreement_before
    assert report.agreement_after >= 0.95
    for weights in (teacher, student):  # the engine runs what the numpy simulation says
        session = InferenceSession(system1_graph(graph, weights))
        (logits,) = session.run(["logits"], {"pixels": x})
        assert agreement(logits, ternary_logits(learner.head, weights, x)) >= 0.99
    (logits,) = InferenceSession(system1_graph(graph, student)).run(["logits"], {"pixels": x})
    assert agreement(logits, teacher_logits) == pytest.approx(report.agreement_after, abs=0.02)
