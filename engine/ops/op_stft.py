"""STFT: short-time Fourier transform of a [batch, length, 1|2] signal: frames of ``frame_length`` every
``frame_step`` samples, times ``window``, DFT'd; output [batch, frames, bins, 2] (one-sided by default)."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import from_complex, to_complex
from engine.ops.registry import register


@register("STFT", since=17)
def stft(
    signal: np.ndarray,
    frame_step: np.ndarray,
    window: np.ndarray | None = None,
    frame_length: np.ndarray | None = None,
    *,
    onesided: int = 1,
) -> tuple[np.ndarray]:
    step = int(np.asarray(frame_step).reshape(-1)[0])
    if frame_length is not None:
        length = int(np.asarray(frame_length).reshape(-1)[0])
    elif window is not None:
        length = window.shape[0]
    else:
        raise ValueError("STFT needs a window or a frame_length")
    if window is not None and window.shape[0] != length:
        raise ValueError("STFT window length differs from frame_length")
    c = to_complex(signal)  # [batch, length]
    n_frames = 1 + (c.shape[1] - length) // step
    if n_frames <= 0 or step <= 0:
        raise ValueError("STFT signal is shorter than one frame")
    idx = np.arange(n_frames)[:, None] * step + np.arange(length)[None, :]
    frames = c[:, idx]  # [batch, frames, length]
    if window is not None:
        frames = frames * window.astype(np.float64)
    if onesided and np.isrealobj(frames):
        spec = np.fft.rfft(frames, n=length, axis=-1)
    else:
        spec = np.fft.fft(frames, n=length, axis=-1)
        if onesided:
            spec = spec[..., : length // 2 + 1]
    return (from_complex(spec, signal.dtype),)
