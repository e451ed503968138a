"""Small ONNX models the agent tests build: an MLP of any width (test modules import this, as
tests/memory_store imports writer_child)."""

from __future__ import annotations

import numpy as np


def mlp(inputs: int, hidden: int, classes: int, *, seed: int = 0, name: str = "x", scaled: bool = False) -> bytes:
    """``inputs`` -> MatMul -> ReLU (``hidden``) -> MatMul -> ``classes`` scores, one sample per run (input
    ``name``); ``scaled``: the first layer's weights divided by √inputs (wide inputs keep unit activations)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    first = rng.standard_normal((inputs, hidden))
    if scaled:
        first /= np.sqrt(inputs)
    w1 = numpy_helper.from_array(first.astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((hidden, classes)).astype(np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [name, "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, inputs])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])],
        [w1, w2],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def conv_head(classes: int = 4, *, seed: int = 0) -> bytes:
    """3x8x8 images -> Conv -> ReLU -> global pool -> Flatten -> Gemm (``wf``, ``bf``) -> ``classes`` scores: a
    dense head behind a frozen feature extractor (the learner runs the extractor as a session of its own)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal((8, classes)).astype(np.float32), "wf"),
        numpy_helper.from_array(np.zeros(classes, np.float32), "bf"),
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("GlobalAveragePool", ["r"], ["p"]),
            helper.make_node("Flatten", ["p"], ["f"]),
            helper.make_node("Gemm", ["f", "wf", "bf"], ["y"]),
        ],
        "conv_head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
