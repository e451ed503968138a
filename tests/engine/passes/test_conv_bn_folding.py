"""conv_bn_folding: an inference BatchNormalization after a Conv is folded into its weights."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "conv_bn_folding"


def _bn_weights(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "scale": rng.uniform(0.5, 2, 4).astype(np.float32),
        "bias": rng.normal(size=4).astype(np.float32),
        "mean": rng.normal(size=4).astype(np.float32),
        "var": rng.uniform(0.1, 2, 4).astype(np.float32),
    }


@pytest.mark.parametrize("with_bias", [True, False])
def test_bn_is_folded_into_conv(with_bias: bool) -> None:
    conv_inputs = ["x", "w", "b"] if with_bias else ["x", "w"]
    weights = {"w": rand(4, 3, 3, 3), "b": rand(4, seed=2), **_bn_weights()}
    if not with_bias:
        del weights["b"]
    m = model(
        [
            helper.make_node("Conv", conv_inputs, ["c"], pads=[1, 1, 1, 1]),
            helper.make_node(
                "BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3
            ),
        ],
        [tensor("x", [1, 3, 5, 5])],
        [tensor("y", [1, 4, 5, 5])],
        weights,
    )
    graph = run_pass(m, NAME, "dead_code_elimination")
    assert ops(graph) == ["Conv"]
    assert "w" not in graph.initializers  # the original weight is no longer read: update_weights refuses it
    assert_same_outputs(m, graph, {"x": rand(1, 3, 5, 5)}, rtol=1e-4, atol=1e-5)


def test_conv_output_read_elsewhere_is_not_folded() -> None:
    m = model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"]),
            helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"]),
        ],
        [tensor("x", [1, 3, 5, 5])],
        [tensor("y", [1, 4, 3, 3]), tensor("c", [1, 4, 3, 3])],
        {"w": rand(4, 3, 3, 3), **_bn_weights()},
    )
    assert ops(run_pass(m, NAME)) == ["Conv", "BatchNormalization"]
