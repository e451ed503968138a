"""Helpers shared by the benchmarks: thread limits, timing statistics, environment record, tables.

Import this module before numpy (or anything that imports it): :func:`pin_single_thread` must set the BLAS
thread variables before the BLAS library is loaded.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pin_single_thread() -> None:
    """One thread for every math library, unless the caller already chose (an explicit value wins)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


@dataclass(frozen=True)
class Stats:
    """Latency percentiles in milliseconds over ``count`` timed calls."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    count: int

    @classmethod
    def from_ns(cls, samples_ns: Sequence[int]) -> Stats:
        import numpy as np

        ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
        p50, p95 = np.percentile(ms, [50, 95])
        return cls(float(p50), float(p95), float(ms.mean()), len(ms))


def environment() -> dict[str, Any]:
    """What a reader needs to compare two benchmark runs."""
    import numpy as np

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "argv": sys.argv,
        "env": {k: os.environ.get(k) for k in (*THREAD_VARIABLES, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for pool in threadpool_info()
        ]
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers should already be formatted as strings."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def big_mlp(width: int = 2048, layers: int = 8, batch: int | str = 1) -> bytes:
    """A 1024-2048x8-10 ReLU MLP (~130 MB of float32 weights): batch-1 GEMVs bound by memory, >= 5 ms here.
    ``batch``: the input's first dimension (a name makes it dynamic)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    sizes = [1024] + [width] * layers + [10]
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"w{i}"),
            numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}"),
        ]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"]))
        prev = f"h{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "big_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1024])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, 10])],
        inits,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9  # onnxruntime 1.30 reads IR <= 13
    ).SerializeToString()
