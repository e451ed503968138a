"""Per-kernel timing: RONN's numba override vs the numpy reference vs onnxruntime on a single-node model, at
layer shapes from ResNet-18, MobileNetV2 and BERT-base (batch 1).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_kernels.py [--threads N]

``--threads`` (default 1) limits BLAS and numba (engine.kernels.threads) and onnxruntime's intra-op pool.
The three are timed interleaved, one call each per round, and the table gives each one's median in ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import helper  # noqa: E402

from benchmarks._common import markdown_table  # noqa: E402
from engine.kernels.threads import intra_op_threads  # noqa: E402
from engine.ops.registry import lookup  # noqa: E402

RNG = np.random.default_rng(0)


def _r(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _conv(name, c, m, hw, k, s, group=1, activation=""):  # type: ignore[no-untyped-def]
    x, w, b = _r(1, c, hw, hw), _r(m, c // group, k, k), _r(m)
    attrs = {"group": group, "pads": [k // 2] * 4, "strides": [s, s], "kernel_shape": [k, k]}
    if activation:  # FusedConv; onnxruntime gets Conv -> Clip, which its own optimizer fuses
        params = [0.0, 6.0]
        onnx_nodes = [("Conv", ["x", "w", "b"], ["t"], attrs, ""),
                      ("Clip", ["t", "lo", "hi"], ["y"], {}, "")]
        consts = {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
        return (name, "FusedConv", "ai.ronn", 1, [x, w, b],
                {**attrs, "activation": activation, "activation_params": params}, onnx_nodes,
                {"x": x}, {"w": w, "b": b, **consts})
    return (name, "Conv", "", 17, [x, w, b], attrs, [("Conv", ["x", "w", "b"], ["y"], attrs, "")],
            {"x": x}, {"w": w, "b": b})


def _pool(name, op, c, hw):  # type: ignore[no-untyped-def]
    x = _r(1, c, hw, hw)
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    return (name, op, "", 19, [x], attrs, [(op, ["x"], ["y"], attrs, "")], {"x": x}, {})


def _unary(name, op, opset, x, attrs=None):  # type: ignore[no-untyped-def]
    attrs = attrs or {}
    return (name, op, "", opset, [x], attrs, [(op, ["x"], ["y"], attrs, "")], {"x": x}, {})


def cases() -> list[tuple]:  # type: ignore[type-arg]
    x, g, b = _r(1, 128, 768), _r(768), _r(768)
    a, wff, bff = _r(1, 128, 768), _r(768, 3072), _r(3072)
    return [
        _conv("ResNet conv1 7x7/2 3->64 @224", 3, 64, 224, 7, 2),
        _conv("ResNet 3x3 64->64 @56", 64, 64, 56, 3, 1),
        _conv("ResNet 3x3/2 64->128 @56", 64, 128, 56, 3, 2),
        _conv("ResNet 3x3 128->128 @28", 128, 128, 28, 3, 1),
        _conv("ResNet 3x3 256->256 @14", 256, 256, 14, 3, 1),
        _conv("ResNet 3x3 512->512 @7", 512, 512, 7, 3, 1),
        _conv("ResNet 1x1/2 64->128 @56", 64, 128, 56, 1, 2),
        _conv("MobileNetV2 1x1 24->144 @56", 24, 144, 56, 1, 1),
        _conv("MobileNetV2 dw 3x3/2 96 @112", 96, 96, 112, 3, 2, group=96),
        _conv("MobileNetV2 dw 3x3 144 @56", 144, 144, 56, 3, 1, group=144),
        _conv("MobileNetV2 dw 3x3 384 @14", 384, 384, 14, 3, 1, group=384),
        _conv("MobileNetV2 dw 3x3 960 @7", 960, 960, 7, 3, 1, group=960),
        _conv("MobileNetV2 dw 3x3 144 @56 + Clip", 144, 144, 56, 3, 1, group=144, activation="Clip"),
        _conv("ResNeXt-ish 3x3 128->128 g32 @28", 128, 128, 28, 3, 1, group=32),
        _pool("ResNet MaxPool 3x3/2 64 @112", "MaxPool", 64, 112),
        _pool("AveragePool 3x3/2 64 @112", "AveragePool", 64, 112),
        ("BERT LayerNorm 128x768", "LayerNormalization", "", 17, [x, g, b], {"epsilon": 1e-12},
         [("LayerNormalization", ["x", "g", "b"], ["y"], {"epsilon": 1e-12}, "")],
         {"x": x}, {"g": g, "b": b}),
        _unary("BERT Erf 128x3072", "Erf", 13, _r(1, 128, 3072)),
        _unary("BERT Gelu 128x3072", "Gelu", 20, _r(1, 128, 3072)),
        _unary("BERT Softmax 12x128x128 (no override)", "Softmax", 13, _r(1, 12, 128, 128)),
        ("BERT FFN MatMul+Add+Gelu 128x768x3072", "FusedMatMul", "ai.ronn", 1, [a, wff, bff],
         {"activation": "Gelu"}, [("MatMul", ["x", "w"], ["t"], {}, ""), ("Add", ["t", "b"], ["u"], {}, ""),
                                  ("Gelu", ["u"], ["y"], {}, "")], {"x": a}, {"w": wff, "b": bff}),
    ]


def _ort_session(nodes, feeds, consts, threads):  # type: ignore[no-untyped-def]
    graph = helper.make_graph(
        [helper.make_node(op, i, o, domain=d, **attrs) for op, i, o, attrs, d in nodes], "g",
        [helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, v.shape) for k, v in feeds.items()],
        [helper.make_value_info("y", onnx.TypeProto())],
        [onnx.numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feeds)


def _median_ms(fns, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    for fn in fns:  # warm-up (compiles the numba kernel)
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    deadline = time.perf_counter() + 3.0
    for i in range(rounds):
        for fn, out in zip(fns, samples, strict=True):
            start = time.perf_counter_ns()
            fn()
            out.append((time.perf_counter_ns() - start) / 1e6)
        if i >= 5 and time.perf_counter() > deadline:
            break
    return [float(np.median(s)) for s in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    rows = []
    with intra_op_threads(args.threads):
        for name, op, domain, opset, inputs, attrs, nodes, feeds, consts in cases():
            fast = lookup(op, domain, opset)
            ref = lookup(op, domain, opset, reference=True)
            ort_run = _ort_session(nodes, feeds, consts, args.threads)
            np.testing.assert_allclose(fast.fn(*inputs, **attrs)[0], ort_run()[0], rtol=1e-3, atol=1e-3)
            ours, reference, onnxrt = _median_ms(
                [lambda f=fast, i=inputs, a=attrs: f.fn(*i, **a),
                 lambda f=ref, i=inputs, a=attrs: f.fn(*i, **a), ort_run], args.rounds)
            rows.append([name, f"{ours:.3f}", f"{reference:.3f}", f"{onnxrt:.3f}",
                         f"{reference / ours:.1f}x", f"{ours / onnxrt:.2f}"])
            print(" | ".join(rows[-1]), flush=True)
    header = ["kernel", "ours ms", "numpy ref ms", "onnxruntime ms", "speed-up vs ref", "ours / ort"]
    print(f"\nthreads={args.threads}\n")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
