"""Resize: separable nearest/linear/cubic resampling by scales or sizes, with every coordinate transformation
mode, nearest_mode, exclude_outside, tf_crop_and_resize extrapolation, antialias (opset 18), axes and
keep_aspect_ratio_policy; opset 10 behaves like Upsample (asymmetric coordinates, floor for nearest)."""

from __future__ import annotations

import numpy as np

from engine.ops._nn_resize import resize_nd
from engine.ops.registry import register


def _opt(a):
    return None if a is None or np.asarray(a).size == 0 else a


@register("Resize", since=10)
def resize_v10(x, scales, *, mode: str = "nearest") -> tuple[np.ndarray]:
    return (resize_nd(x, kind=mode, coord_mode="asymmetric", scales=scales, nearest_mode="floor"),)


@register("Resize", since=11)
def resize(x, roi=None, scales=None, sizes=None, *, antialias: int = 0, axes: list[int] | None = None,
           coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
           exclude_outside: int = 0, extrapolation_value: float = 0.0,
           keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
           nearest_mode: str = "round_prefer_floor") -> tuple[np.ndarray]:
    scales, sizes = _opt(scales), _opt(sizes)
    if scales is not None and sizes is not None:
        raise ValueError("Resize: only one of scales and sizes may be given")
    if mode == "nearest" and antialias:
        raise ValueError("Resize: antialias is not defined for nearest mode")
    y = resize_nd(
        x, kind=mode, coord_mode=coordinate_transformation_mode, scales=scales, sizes=sizes, axes=axes,
        roi=_opt(roi), keep_aspect_ratio_policy=keep_aspect_ratio_policy, nearest_mode=nearest_mode,
        cubic_a=cubic_coeff_a, antialias=bool(antialias), exclude_outside=bool(exclude_outside),
        extrapolation_value=extrapolation_value,
    )
    return (y,)
