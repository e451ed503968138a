"""DynamicQuantizeLinear: uint8 quantization of x, scale and zero point from min(0, x) / max(0, x)."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import saturate_round
from engine.ops.registry import register


@register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = np.float32(min(0.0, float(x.min()))) if x.size else np.float32(0.0)
    hi = np.float32(max(0.0, float(x.max()))) if x.size else np.float32(0.0)
    scale = np.float32((hi - lo) / np.float32(255.0))
    if scale == 0:
        zp: np.ndarray | np.uint8 = np.uint8(0)
        y = np.zeros(x.shape, dtype=np.uint8)
    else:
        zp = saturate_round(np.asarray(np.float32(0.0) - lo / scale), np.dtype(np.uint8))
        y = saturate_round(np.rint(x.astype(np.float32) / scale) + np.float32(zp), np.dtype(np.uint8))
    return y, np.asarray(scale, dtype=np.float32), np.asarray(zp, dtype=np.uint8)
