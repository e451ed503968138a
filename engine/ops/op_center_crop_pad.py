"""CenterCropPad: center-crop or zero-pad each of ``axes`` to the size in ``shape``.

An odd difference puts the extra element at the end (crop keeps floor((d - s) / 2) at the start; pad adds
floor((s - d) / 2) before).
"""

from __future__ import annotations

import numpy as np

from engine.ops._tensor import int_list, normalize_axes
from engine.ops.registry import register


@register("CenterCropPad", since=18)
def center_crop_pad(data: np.ndarray, shape: np.ndarray, *,
                    axes: list[int] | None = None) -> tuple[np.ndarray]:
    sizes = int_list(shape)
    axes = normalize_axes(axes, data.ndim) if axes is not None else list(range(data.ndim))
    if len(sizes) != len(axes):
        raise ValueError(f"CenterCropPad: shape has {len(sizes)} values for {len(axes)} axes")
    out_shape = list(data.shape)
    src = [slice(None)] * data.ndim
    dst = [slice(None)] * data.ndim
    for axis, size in zip(axes, sizes, strict=True):
        if size < 0:
            raise ValueError(f"CenterCropPad: negative size {size}")
        dim = data.shape[axis]
        out_shape[axis] = size
        if size < dim:
            start = (dim - size) // 2
            src[axis] = slice(start, start + size)
        elif size > dim:
            start = (size - dim) // 2
            dst[axis] = slice(start, start + dim)
    cropped = data[tuple(src)]
    if tuple(out_shape) == cropped.shape:
        return (cropped,)
    out = np.zeros(out_shape, dtype=data.dtype)
    out[tuple(dst)] = cropped
    return (out,)
