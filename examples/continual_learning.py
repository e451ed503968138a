"""Continual learning through RONN's Python API: the experiment runner, then the learner the agent uses.

Needs the demo extra (scikit-learn for its digits): pip install "ronn[demo]"

1. Class-incremental split digits: five tasks of two digits, naive fine-tuning against replay of 20 stored
   episodes per class (the same code as ``ronn experiment split-digits``).
2. The bundled digits model learns from feedback: fast weights at once (pushed into a live session), slow
   weights in a consolidation under online EWC, saved to bytes; then its ternary System 1 is distilled from it.
"""

from __future__ import annotations

import numpy as np

from cognition.distillation import distill, system1_graph
from cognition.experiment import ExperimentConfig, run_experiment
from cognition.learning import Learner, LearningConfig
from engine.session import InferenceSession
from ronn.demo import MODEL, load_digits_split

# 1. The experiment, two seeds.
for name in ("naive", "replay", "joint"):
    result = run_experiment(ExperimentConfig(benchmark="split-digits", scenario="class", strategy=name), 2)
    print(f"split digits, class-incremental, {name:>6}: average accuracy {result.mean('average_accuracy'):.3f}, "
          f"forgetting {result.mean('forgetting'):.3f}")

# 2. The learner on a live session. Its new task: digits shown upside down (a domain shift).
x_test, y_test, x_train, y_train = load_digits_split()
flip = np.arange(64).reshape(8, 8)[::-1].reshape(-1)
new_x, new_y = x_train[:400][:, flip], y_train[:400]
session = InferenceSession(MODEL)
learner = Learner.from_model(session, LearningConfig(strategy="replay_online_ewc", ewc_lambda=10.0))
learner.update_fisher(x_train, y_train)  # what the model knows now is worth protecting


def accuracy(x: np.ndarray, y: np.ndarray) -> float:
    (logits,) = session.run(["logits"], {"pixels": x})
    return float((logits.argmax(1) == y).mean())


print(f"before: upright {accuracy(x_test, y_test):.3f}, upside down {accuracy(x_test[:, flip], y_test):.3f}")
for i in range(200):  # feedback, one episode at a time: fast weights, pushed at once
    learner.feedback(new_x[i:i + 1], new_y[i:i + 1])
    learner.push(session)
print(f"after 200 feedbacks (fast weights): upright {accuracy(x_test, y_test):.3f}, "
      f"upside down {accuracy(x_test[:, flip], y_test):.3f}")
stored = (x_train[:200], y_train[:200])  # episodes kept from before, replayed in sleep
stats = learner.consolidate(new_x, new_y, replay=stored)
learner.update_fisher(new_x, new_y)
learner.push(session)
print(f"after consolidation ({stats.steps} steps, penalty {stats.penalty:.3f}): upright "
      f"{accuracy(x_test, y_test):.3f}, upside down {accuracy(x_test[:, flip], y_test):.3f}")
blob = learner.state_dict()
print(f"learner state: {len(blob):,} bytes (slow and fast weights, Fisher, anchor)")

# System 1 keeps up: ternarize the new weights, or distill them into a ternary student first.
replayed = np.concatenate([new_x, stored[0]])
student, report = distill(learner.head, learner.weights("slow"), replayed, epochs=20)
fast_session = InferenceSession(system1_graph(session.graph, student))
(logits1,) = fast_session.run(["logits"], {"pixels": x_test[:, flip]})
print(f"System 1 agreement with System 2 on replayed inputs: {report.agreement_before:.3f} (ternarized) -> "
      f"{report.agreement_after:.3f} (distilled); System 1 upside-down accuracy "
      f"{float((logits1.argmax(1) == y_test).mean()):.3f}")
