"""What the agent benchmarks share (``bench_agent.py`` and ``agent_probes.py``): the routing pinned to one system,
the CNNs built here, and sample inputs for a session."""

from __future__ import annotations

import numpy as np

from engine.session import InferenceSession

PINNED = dict(
    cache_size=0,
    initial_threshold=0.0,
    novelty_quantile=1.0,
    complexity_quantile=1.0,
    near_duplicate_similarity=None,
)


def conv_net(size: int = 96, dense_head: bool = True) -> bytes:
    """Six 3x3 conv + ReLU layers (3->32->64/2->64->128/2->128->128), global pooling and a 10-way softmax.
    ``dense_head=False``: the last conv layer gives the 10 scores (fully convolutional, as SqueezeNet): no
    penultimate activations, so the agent projects the input itself."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    last = 128 if dense_head else 10
    for i, (cin, cout, stride) in enumerate(
        [(3, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, last, 1)]
    ):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1] * 4, strides=[stride] * 2))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features" if dense_head else "logits"]),
    ]
    if dense_head:
        inits += [
            numpy_helper.from_array((rng.standard_normal((128, 10)) / np.sqrt(128)).astype(np.float32), "wf"),
            numpy_helper.from_array(np.zeros(10, np.float32), "bf"),
        ]
        nodes.append(helper.make_node("Gemm", ["features", "wf", "bf"], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=9,  # onnxruntime 1.30 reads IR <= 13
    ).SerializeToString()


def sample_inputs(session: InferenceSession, n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` seeded uniform float32 inputs of the session's first input (a dynamic dimension taken as 1)."""
    spec = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in spec.shape]
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(n)]
