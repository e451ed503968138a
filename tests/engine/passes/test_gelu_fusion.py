"""gelu_fusion: the Erf and Tanh forms of GELU, in the orders exporters write them, become one Gelu."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper
from passes_helpers import assert_same_outputs, model, ops, rand, run_pass, tensor

NAME = "gelu_fusion"
C = {
    "half": np.array(0.5, np.float32),
    "one": np.array(1.0, np.float32),
    "sqrt2": np.array(math.sqrt(2), np.float32),
    "rsqrt2": np.array(math.sqrt(0.5), np.float32),
    "k": np.array(math.sqrt(2 / math.pi), np.float32),
    "c": np.array(0.044715, np.float32),
    "three": np.array(3.0, np.float32),
}
mk = helper.make_node

ERF_TORCHSCRIPT = [
    mk("Div", ["x", "sqrt2"], ["a"]),
    mk("Erf", ["a"], ["e"]),
    mk("Add", ["e", "one"], ["p"]),
    mk("Mul", ["x", "p"], ["xp"]),
    mk("Mul", ["xp", "half"], ["y"]),
]
ERF_HALF_FIRST = [
    mk("Mul", ["x", "rsqrt2"], ["a"]),
    mk("Erf", ["a"], ["e"]),
    mk("Add", ["one", "e"], ["p"]),
    mk("Mul", ["half", "x"], ["hx"]),
    mk("Mul", ["hx", "p"], ["y"]),
]
TANH_POW = [
    mk("Pow", ["x", "three"], ["x3"]),
    mk("Mul", ["c", "x3"], ["cx3"]),
    mk("Add", ["x", "cx3"], ["in"]),
    mk("Mul", ["k", "in"], ["t0"]),
    mk("Tanh", ["t0"], ["t"]),
    mk("Add", ["t", "one"], ["p"]),
    mk("Mul", ["half", "p"], ["hp"]),
    mk("Mul", ["x", "hp"], ["y"]),
]
TANH_CUBE = [
    mk("Mul", ["x", "x"], ["x2"]),
    mk("Mul", ["x2", "x"], ["x3"]),
    mk("Mul", ["x3", "c"], ["cx3"]),
    mk("Add", ["cx3", "x"], ["in"]),
    mk("Mul", ["in", "k"], ["t0"]),
    mk("Tanh", ["t0"], ["t"]),
    mk("Add", ["t", "one"], ["p"]),
    mk("Mul", ["x", "half"], ["hx"]),
    mk("Mul", ["hx", "p"], ["y"]),
]


@pytest.mark.parametrize(
    ("nodes", "approximate"),
    [(ERF_TORCHSCRIPT, "none"), (ERF_HALF_FIRST, "none"), (TANH_POW, "tanh"), (TANH_CUBE, "tanh")],
    ids=["erf", "erf-half-first", "tanh-pow", "tanh-cube"],
)
@pytest.mark.parametrize("opset", [18, 20])
def test_gelu_forms_are_fused(nodes, approximate: str, opset: int) -> None:
    m = model(nodes, [tensor("x", [2, 5])], [tensor("y", [2, 5])], C, opset=opset)
    graph = run_pass(m, NAME, "dead_code_elimination")
    assert ops(graph) == (["Gelu"] if opset >= 20 else ["ai.ronn::Gelu"])
    assert graph.nodes[0].attrs.get("approximate", "none") == approximate
    assert_same_outputs(m, graph, {"x": rand(2, 5) * 3}, rtol=1e-5, atol=1e-6)


def test_wrong_constant_is_not_fused() -> None:
    wrong = dict(C, half=np.array(0.4, np.float32))
    m = model(ERF_TORCHSCRIPT, [tensor("x", [2, 5])], [tensor("y", [2, 5])], wrong)
    assert "ai.ronn::Gelu" not in ops(run_pass(m, NAME))


def test_shared_intermediate_is_not_fused() -> None:
    m = model(ERF_TORCHSCRIPT, [tensor("x", [2, 5])], [tensor("y", [2, 5]), tensor("e", [2, 5])], C)
    assert "ai.ronn::Gelu" not in ops(run_pass(m, NAME))
