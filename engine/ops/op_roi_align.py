"""RoiAlign: per-RoI bilinear sampling on a grid of ``sampling_ratio`` (or adaptive) points per output bin,
averaged or max-pooled (max over samples of the largest weighted corner, as onnxruntime does); opset 10
reads coordinates as ``output_half_pixel`` (no -0.5 shift, RoI at least 1x1), opset 16 defaults to
``half_pixel``."""

from __future__ import annotations

import math

import numpy as np

from engine.ops.registry import register


def _axis_samples(start: float, bin_size: float, pooled: int, grid: int, size: int):
    """Sample positions along one axis -> (low index, high index, low weight, high weight), zero weights for
    samples outside [-1, size]."""
    p = np.arange(pooled)[:, None]
    i = np.arange(grid)[None, :]
    pos = (start + p * bin_size + (i + 0.5) * bin_size / grid).reshape(-1)
    outside = (pos < -1.0) | (pos > size)
    pos = np.maximum(pos, 0.0)
    low = pos.astype(np.int64)
    at_edge = low >= size - 1
    low = np.where(at_edge, size - 1, low)
    high = np.where(at_edge, size - 1, low + 1)
    pos = np.where(at_edge, low, pos)
    lw = pos - low
    hw = 1.0 - lw
    hw[outside] = 0.0
    lw[outside] = 0.0
    return low, high, hw, lw


def _roi_align(x, rois, batch_indices, *, mode, output_height, output_width, sampling_ratio, spatial_scale,
               half_pixel):
    n_rois = rois.shape[0]
    _, channels, height, width = x.shape
    ct = np.float32 if x.dtype == np.float16 else x.dtype.type
    y = np.zeros((n_rois, channels, output_height, output_width), dtype=ct)
    offset = 0.5 if half_pixel else 0.0
    rois = np.asarray(rois, dtype=np.float64)
    for n in range(n_rois):
        sw, sh, ew, eh = (float(v) * float(spatial_scale) - offset for v in rois[n, :4])
        roi_w, roi_h = ew - sw, eh - sh
        if not half_pixel:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / output_height, roi_w / output_width
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / output_height)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / output_width)
        if grid_h <= 0 or grid_w <= 0:
            continue
        yl, yh, wyl, wyh = _axis_samples(sh, bin_h, output_height, grid_h, height)
        xl, xh, wxl, wxh = _axis_samples(sw, bin_w, output_width, grid_w, width)
        img = x[int(batch_indices[n])].astype(ct, copy=False)
        corners = []
        for yi, wy in ((yl, wyl), (yh, wyh)):
            rows = img[:, yi, :]
            for xi, wx in ((xl, wxl), (xh, wxh)):
                w = np.outer(wy, wx).astype(ct)
                corners.append(rows[:, :, xi] * w)  # [C, Ny, Nx]
        shape = (channels, output_height, grid_h, output_width, grid_w)
        if mode == "avg":
            total = corners[0] + corners[1] + corners[2] + corners[3]
            y[n] = total.reshape(shape).sum(axis=(2, 4)) / ct(max(grid_h * grid_w, 1))
        elif mode == "max":
            best = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
            y[n] = best.reshape(shape).max(axis=(2, 4))
        else:
            raise ValueError(f"RoiAlign: unknown mode {mode!r}")
    return (y.astype(x.dtype, copy=False),)


@register("RoiAlign", since=10)
def roi_align_10(x, rois, batch_indices, *, mode="avg", output_height=1, output_width=1, sampling_ratio=0,
                 spatial_scale=1.0):
    return _roi_align(x, rois, batch_indices, mode=mode, output_height=output_height,
                      output_width=output_width, sampling_ratio=sampling_ratio, spatial_scale=spatial_scale,
                      half_pixel=False)


@register("RoiAlign", since=16)
def roi_align(x, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg",
              output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0):
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise ValueError(f"RoiAlign: unknown coordinate_transformation_mode {coordinate_transformation_mode}")
    return _roi_align(x, rois, batch_indices, mode=mode, output_height=output_height,
                      output_width=output_width, sampling_ratio=sampling_ratio, spatial_scale=spatial_scale,
                      half_pixel=coordinate_transformation_mode == "half_pixel")
