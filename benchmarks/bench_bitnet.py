"""BitNet provider: speed against numpy float32 at batch 1, weight sizes, and accuracy, measured honestly.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_bitnet.py

One thread for numpy's BLAS and for numba (set ``RONN_BENCH_THREADS=2`` to give both two). Sections:
single layers (768x768, 768x3072, 4096x4096), end to end on the MLP and BERT-style encoder of tests/data, and
accuracy of a 64-256-256-10 MLP trained here in numpy on scikit-learn's digits (float32 vs ternary vs binary).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
THREADS = os.environ.get("RONN_BENCH_THREADS", "1")
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = THREADS

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from benchmarks._common import Stats, environment, markdown_table  # noqa: E402
from engine.kernels import ternary  # noqa: E402
from engine.quantize import QuantizedLayer, ternarize  # noqa: E402
from engine.session import InferenceSession  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def timed(fn, repeats: int = 200, min_seconds: float = 0.5) -> Stats:
    for _ in range(5):
        fn()
    samples: list[int] = []
    start = time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t)
        if len(samples) > 20 * repeats:
            break
    return Stats.from_ns(samples)


def layers() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for k, n in [(768, 768), (768, 3072), (4096, 4096)]:
        w = rng.standard_normal((k, n)).astype(np.float32)       # ONNX MatMul layout [K, N]
        x = rng.standard_normal((1, k)).astype(np.float32)
        f32 = timed(lambda x=x, w=w: x @ w)
        for mode, bits in (("ternary", 2), ("binary", 1)):
            codes, scale = ternary.quantize_weights(np.ascontiguousarray(w.T), bits)
            packed = ternary.pack(codes, bits)
            q = timed(lambda x=x, p=packed, s=scale, k=k, b=bits: ternary.matmul(x, p, s, k, b))  # noqa: B023
            rows.append([f"{k}x{n}", mode, f"{f32.p50_ms * 1e3:.1f}", f"{q.p50_ms * 1e3:.1f}",
                         f"{f32.p50_ms / q.p50_ms:.2f}x", f"{w.nbytes / 2**20:.2f}",
                         f"{(packed.nbytes + scale.nbytes) / 2**20:.3f}",
                         f"{w.nbytes / (packed.nbytes + scale.nbytes):.1f}x"])
    print("\n### Single layer, batch 1 (P50 µs)\n")
    print(markdown_table(["K x N", "mode", "numpy f32", "BitNet", "speed-up", "f32 MiB", "packed MiB",
                          "smaller"], rows))


def end_to_end() -> None:
    rows = []
    for stem in ("mlp_dynamo_static", "bert_dynamo_static"):
        refs = np.load(DATA / f"{stem}.npz")
        feeds = {k[6:]: v for k, v in refs.items() if k.startswith("input:")}
        path = str(DATA / f"{stem}.onnx")
        full = InferenceSession(path)
        report: list[QuantizedLayer] = []
        quantized = InferenceSession(ternarize(path, report=report))
        reference = InferenceSession(ternarize(path), providers=["CPUExecutionProvider"])
        a, b = full.run(None, feeds)[0], quantized.run(None, feeds)[0]
        assert np.array_equal(b, reference.run(None, feeds)[0])
        cosine = float(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b))
        t_full = timed(lambda s=full, f=feeds: s.run(None, f))
        t_q = timed(lambda s=quantized, f=feeds: s.run(None, f))
        t_ref = timed(lambda s=reference, f=feeds: s.run(None, f), repeats=50)
        fb = sum(r.float_bytes for r in report)
        pb = sum(r.packed_bytes for r in report)
        rows.append([stem, len(report), f"{t_full.p50_ms:.3f}", f"{t_q.p50_ms:.3f}", f"{t_ref.p50_ms:.3f}",
                     f"{fb / 1024:.0f} → {pb / 1024:.0f}", f"{cosine:.4f}"])
    print("\n### End to end, batch 1 (P50 ms; RONN float32 session vs the same model ternarized)\n")
    print(markdown_table(["model", "layers quantized", "float32", "BitNet provider", "CPU reference kernels",
                          "quantized weights KiB", "cosine(first output)"], rows))


def digits_mlp(epochs: int = 40, seed: int = 0):
    """A 64-256-256-10 MLP trained with Adam in numpy; returns (weights, test x, test y)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    sizes = [64, 256, 256, 10]
    params = []
    for i, o in zip(sizes[:-1], sizes[1:], strict=True):
        he = np.float32(np.sqrt(2 / i))
        params += [rng.standard_normal((i, o)).astype(np.float32) * he, np.zeros(o, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(xtr))
        for s in range(0, len(order), 64):
            idx = order[s:s + 64]
            acts = [xtr[idx]]
            for j in range(0, len(params), 2):
                z = acts[-1] @ params[j] + params[j + 1]
                acts.append(np.maximum(z, 0) if j < len(params) - 2 else z)
            p = np.exp(acts[-1] - acts[-1].max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(idx)), ytr[idx]] -= 1
            grad = p / len(idx)
            grads = [None] * len(params)
            for j in range(len(params) - 2, -1, -2):
                grads[j], grads[j + 1] = acts[j // 2].T @ grad, grad.sum(0)
                grad = (grad @ params[j].T) * (acts[j // 2] > 0)
            step += 1
            for i, g in enumerate(grads):
                assert g is not None  # the backward loop above fills every slot
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                mh, vh = m[i] / (1 - 0.9**step), v[i] / (1 - 0.999**step)
                params[i] -= (1e-3 * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params, xte, yte


def mlp_model(params: list[np.ndarray]) -> bytes:
    nodes, inits, prev = [], [], "x"
    for j in range(0, len(params), 2):
        w, b, out = f"w{j}", f"b{j}", f"h{j}"
        nodes.append(helper.make_node("Gemm", [prev, w, b], [out], name=f"fc{j // 2}"))
        inits += [numpy_helper.from_array(params[j], w), numpy_helper.from_array(params[j + 1], b)]
        prev = out
        if j < len(params) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"r{j}"]))
            prev = f"r{j}"
    graph = helper.make_graph(nodes, "digits",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["n", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def accuracy() -> None:
    start = time.perf_counter()
    params, xte, yte = digits_mlp()
    trained = time.perf_counter() - start
    blob = mlp_model(params)
    float_pred = InferenceSession(blob).run(None, {"x": xte})[0].argmax(1)
    rows = [["float32", f"{(float_pred == yte).mean():.1%}", "100.0%"]]
    for mode in ("ternary", "binary"):
        for exclude, label in (((), "all layers"), (("fc2",), "classifier kept float32")):
            sess = InferenceSession(ternarize(blob, mode=mode, exclude=exclude))
            pred = sess.run(None, {"x": xte})[0].argmax(1)
            rows.append([f"{mode}, {label}", f"{(pred == yte).mean():.1%}",
                         f"{(pred == float_pred).mean():.1%}"])
    print(f"\n### Digits MLP 64-256-256-10 (trained here in {trained:.1f} s; {len(yte)} test images; "
          "post-training quantization, no fine-tuning)\n")
    print(markdown_table(["model", "top-1 accuracy", "agreement with float32"], rows))


def main() -> None:
    env = environment()
    print(f"# bench_bitnet: {env['cpu']}, {env['cpu_count']} CPUs, threads {THREADS}, numpy {env['numpy']}, "
          f"OPENBLAS_CORETYPE={env['env'].get('OPENBLAS_CORETYPE')}")
    layers()
    end_to_end()
    accuracy()


if __name__ == "__main__":
    main()
