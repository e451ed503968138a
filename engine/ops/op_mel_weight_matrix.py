"""MelWeightMatrix: [dft_length//2+1, num_mel_bins] triangular mel filterbank with band edges snapped to
integer FFT bins (floor((dft_length+1) * hz / sample_rate)), as the ONNX reference builds it."""

from __future__ import annotations

import numpy as np

from engine.ops._elementwise import onnx_to_numpy_dtype
from engine.ops._tensor import scalar
from engine.ops.registry import register


@register("MelWeightMatrix", since=17)
def mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *,
                      output_datatype: int = 1) -> tuple[np.ndarray]:
    n_mel, n_dft, rate = int(scalar(num_mel_bins)), int(scalar(dft_length)), int(scalar(sample_rate))
    lo, hi = float(scalar(lower_edge_hertz)), float(scalar(upper_edge_hertz))
    n_spec = n_dft // 2 + 1
    low_mel = 2595 * np.log1p(lo / 700) / np.log(10)
    high_mel = 2595 * np.log1p(hi / 700) / np.log(10)
    mels = np.arange(n_mel + 2) * ((high_mel - low_mel) / (n_mel + 2)) + low_mel
    hz = 700 * np.expm1(mels / 2595 * np.log(10))
    edges = (((n_dft + 1) * hz) // rate).astype(np.int64)
    out = np.zeros((n_spec, n_mel), dtype=np.float64)
    for i in range(n_mel):
        left, center, right = edges[i], edges[i + 1], edges[i + 2]
        if center == left:
            out[center, i] = 1.0
        else:
            j = np.arange(left, center + 1)
            out[j, i] = (j - left) / (center - left)
        if right > center:
            j = np.arange(center, right)
            out[j, i] = (right - j) / (right - center)
    return (out.astype(onnx_to_numpy_dtype(output_datatype)),)
