"""numba overrides of Conv and FusedConv (2-D, float32): im2col + one BLAS call per group, or a direct
loop for depthwise-like convolutions; bias and the fused activation run in one pass over the fresh result.

Why not the reference's im2col: it builds the column matrix from a strided window view with ``transpose``
and ``reshape`` copies after ``np.pad``, then moves the channel axis back, which cost 1-3 ms per ResNet-18
layer on top of a 1.2 ms matmul. Here a numba loop writes the (C*kh*kw, OH*OW) column matrix directly,
zeros standing in for the padding, and ``W @ cols`` lands in the output in NCHW order (``out=``).

Paths, in the order ``conv2d`` tries them:

* depthwise (one input channel per group): a padded, stride-phase-split copy of each plane and flat
  vectorized tap loops (``_dw_plane_padded``);
* other narrow groups (``C/group * kh * kw`` up to :data:`DIRECT_MAX_TAPS`, not a 1x1 over 3+ channels): a
  direct loop over output rows (BLAS gains nothing on a 9-long inner product);
* group-1 at one intra-op thread (the packed GEMM of ``_gemm_packed`` is serial), by shape:
  wide outputs (``OW >= IMPLICIT_MIN_WIDTH``, any stride): one implicit GEMM over the padded input, split
  into stride phases (``_conv_implicit``);
  a short K (``C*kh*kw < PACKED_MAX_TAPS``): im2col written into the GEMM's panels (``_conv_packed``);
  up to ``PIXELS_MAX_PIXELS`` output pixels: ``cols^T @ W^T`` with the weight packed once (``_conv_pixels``);
* wide stride-1 group-1 convolutions at more threads (``OW >= SHIFTED_MIN_WIDTH``): im2col-free shifted
  GEMMs accumulated with ``cblas_sgemm``'s beta (``_conv_shifted``);
* everything else: im2col (none for 1x1 stride 1; rows split into column phases first, so every copy is
  contiguous at any stride) + one BLAS call per group.

FusedConv's optional fourth input ``Z`` (the residual, from ``conv_residual_fusion``) is added in the same
epilogue pass as the bias, before the activation.

Layout: this module holds the dispatch (``conv2d``, ``conv2d_nhwc``) and the registered overrides; the
kernels live in ``_conv_im2col.py`` (scratch buffers, im2col), ``_conv_direct.py`` (direct and depthwise
loops), ``_conv_shifted.py`` (shifted GEMMs, weight repacking), ``_conv_implicit.py``, ``_conv_packed.py``
and ``_conv_pixels.py`` (the packed-GEMM paths) and ``_conv_nhwc.py`` (channels-last depthwise).
"""

from __future__ import annotations

import numpy as np

from engine.kernels._conv_direct import _depthwise_parallel, _depthwise_serial, _direct_parallel, _direct_serial
from engine.kernels._conv_im2col import _NO_BIAS, _columns, im2col
from engine.kernels._conv_implicit import conv_implicit
from engine.kernels._conv_nhwc import DW_BLOCK, DW_ROW, DW_TILE, _dw_nhwc, _dw_nhwc_inplace  # noqa: F401
from engine.kernels._conv_packed import conv_packed
from engine.kernels._conv_packed import usable as packed_usable
from engine.kernels._conv_pixels import conv_pixels
from engine.kernels._conv_shifted import (
    SHIFTED_MIN_WIDTH,
    _conv_shifted,
    _packed,  # noqa: F401 - re-exported: tests inspect the weight cache
    _sgemm,
    _transposed,
)
from engine.kernels._epilogue import (
    NONE,
    activation_code,
    bias_activation,
    bias_activation_columns,
    bias_residual_activation,
    parallel_ok,
)
from engine.kernels._gemm_packed import COL_BIAS, clamp_of, gemm_into, pack, packed
from engine.ops._nn import auto_pads, conv_out_shape, spatial_attrs
from engine.ops.op_fused_activation import apply_activation
from engine.ops.registry import register

# im2col into panels + the packed GEMM (``_conv_packed``) for a short K (ResNet's 1x1/2 downsample convs), where
# OpenBLAS is weakest; at 14x14 and for the stride-2 3x3 layers at 56 and 28 it lost 2-5% to im2col + matmul
PACKED_MAX_TAPS = 256
# pixel-major with the weight packed once (``_conv_pixels``) up to this many output pixels: at 14x14 and 7x7 it
# beat im2col + matmul by 0.35-0.6 ms a layer; at 28x28 it lost to the implicit GEMM, at 56x56 stride 2 to matmul
PIXELS_MAX_PIXELS = 256
IMPLICIT_MIN_WIDTH = 24       # output width from which a group-1 conv runs as an implicit GEMM
DIRECT_MAX_TAPS = 18          # C/group * kh * kw at or below which the direct loop beats im2col + BLAS


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, group: int, strides: list[int],
           dilations: list[int], pads: list[int], act: tuple[int, float, float] = (NONE, 0.0, 0.0),
           z: np.ndarray | None = None) -> np.ndarray:
    """Grouped 2-D float32 convolution of x (N, C, H, W) with w (M, C/group, kh, kw), explicit pads
    ``[top, left, bottom, right]``, plus bias, the residual ``z`` (N, M, OH, OW) when given, and activation
    ``act`` (see ``_epilogue``): ``act(conv + bias + z)``."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    if c != cg * group or m % group:
        raise ValueError(f"Conv channel mismatch: X has {c} channels, W {tuple(w.shape)}, group {group}")
    oh, ow = conv_out_shape((h, wd), (kh, kw), strides, dilations, pads)
    (sh, sw), (dh, dw), (ph, pw) = strides, dilations, pads[:2]
    mg = m // group
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    y = np.empty((n, m, oh, ow), dtype=np.float32)
    code, p0, p1 = act
    taps = cg * kh * kw
    pointwise = kh == kw == 1 and sh == sw == 1 and not any(pads)
    if z is not None:
        z = np.ascontiguousarray(z, dtype=np.float32)
    if taps <= DIRECT_MAX_TAPS and not (pointwise and group == 1 and taps > 2) and z is not None:
        y = conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads)
        for i in range(n):
            bias_residual_activation(y[i].reshape(m, -1), None, z[i].reshape(m, -1), code, p0, p1)
        return y
    if taps <= DIRECT_MAX_TAPS and not (pointwise and group == 1 and taps > 2):
        # (a 1x1 convolution over 3+ channels is a matrix product: BLAS beats the scalar loop 10-40x)
        bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
        if cg == 1:  # depthwise (channel multiplier mg): the vectorized per-plane kernel
            kernel = _depthwise_parallel if parallel_ok(n * m * oh * ow * taps) else _depthwise_serial
            kernel(x, w, y, mg, sh, sw, dh, dw, ph, pw, bias, b is not None, code, np.float32(p0), np.float32(p1))
            return y
        kernel = _direct_parallel if parallel_ok(n * m * oh * ow * taps) else _direct_serial
        kernel(x, w, y, cg, mg, sh, sw, dh, dw, ph, pw, bias, b is not None, code,
               np.float32(p0), np.float32(p1))
        return y
    if group == 1 and kh * kw > 1 and ow >= IMPLICIT_MIN_WIDTH and packed_usable(m):
        conv_implicit(x, w, b, y, [sh, sw], [dh, dw], list(pads), act, z)
        return y
    if (group == 1 and sh == sw == 1 and kh * kw > 1 and ow >= SHIFTED_MIN_WIDTH and _sgemm() is not None):
        _conv_shifted(x, w, b, y, [dh, dw], list(pads), act, z)
        return y
    if group == 1 and packed_usable(m) and taps < PACKED_MAX_TAPS:
        conv_packed(x, w, b, y, (kh, kw, sh, sw, dh, dw, ph, pw, oh, ow), act, z)
        return y
    if group == 1 and packed_usable(m) and oh * ow <= PIXELS_MAX_PIXELS:
        conv_pixels(x, w, b, y, (kh, kw, sh, sw, dh, dw, oh, ow), list(pads), act, z)
        return y
    w2 = w.reshape(group, mg, taps)
    # (im2col in blocks of output rows sized for L2 was measured: no faster down to 1 MiB, slower below)
    for i in range(n):
        if pointwise:
            cols = x[i].reshape(c, oh * ow)
        else:
            cols = _columns(c * kh * kw, oh * ow)
            im2col(x[i], kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
        yi = y[i].reshape(m, oh * ow)
        if group == 1:
            np.matmul(w2[0], cols, out=yi)
        else:
            np.matmul(w2, cols.reshape(group, taps, oh * ow), out=yi.reshape(group, mg, oh * ow))
        if z is None:
            bias_activation(yi, b, code, p0, p1)
        else:
            bias_residual_activation(yi, b, z[i].reshape(m, oh * ow), code, p0, p1)
    return y


def _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides):
    """Normalized (strides, dilations, pads) of a 2-D float32 conv; None if the override does not apply."""
    if x.ndim != 4 or w.ndim != 4 or x.dtype != np.float32 or w.dtype != np.float32:
        return None
    if auto_pad not in ("NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"):
        return None
    kshape = list(kernel_shape) if kernel_shape else list(w.shape[2:])
    if kshape != list(w.shape[2:]):
        return None
    kshape, strides, dilations, pads = spatial_attrs(x.shape[2:], kshape, strides, dilations, pads)
    pads = auto_pads(auto_pad, x.shape[2:], kshape, strides, dilations, pads)
    if min(pads) < 0 or min(strides) < 1 or min(dilations) < 1:
        return None
    return strides, dilations, pads


def _bias_ok(b, w) -> bool:
    return b is None or (b.dtype == np.float32 and b.shape == (w.shape[0],))


@register("Conv", since=1, override="numba")
def conv(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
         kernel_shape: list[int] | None = None, pads: list[int] | None = None,
         strides: list[int] | None = None):  # type: ignore[no-untyped-def]
    geometry = _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides)
    if geometry is None or not _bias_ok(b, w):
        return NotImplemented
    strides, dilations, pads = geometry
    return (conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads),)


@register("FusedConv", domain="ai.ronn", since=1, override="numba")
def fused_conv(x, w, b=None, z=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None,
               group: int = 1, kernel_shape: list[int] | None = None, pads: list[int] | None = None,
               strides: list[int] | None = None, activation: str = "",
               activation_params: list[float] | None = None):  # type: ignore[no-untyped-def]
    geometry = _geometry(x, w, auto_pad, dilations, kernel_shape, pads, strides)
    if geometry is None or not _bias_ok(b, w):
        return NotImplemented
    strides, dilations, pads = geometry
    act = activation_code(activation, activation_params)
    if z is not None:
        oh, ow = conv_out_shape(x.shape[2:], w.shape[2:], strides, dilations, pads)
        if act is None or z.dtype != np.float32 or z.shape != (x.shape[0], w.shape[0], oh, ow):
            return NotImplemented
    y = conv2d(x, w, b, group=group, strides=strides, dilations=dilations, pads=pads,
               act=act if act is not None else (NONE, 0.0, 0.0), z=z)
    if act is None:  # Tanh, Gelu, ...: the reference activation on the fresh result
        y = apply_activation(y, activation, activation_params)
    return (y,)


# --- channels-last (NHWC) convolution: ai.ronn::NhwcConv, made by the nhwc_layout pass --------------------
# (the kernels and their measurements: ``_conv_nhwc.py``)


def conv2d_nhwc(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, nchw_input: bool, group: int,
                strides: list[int], dilations: list[int], pads: list[int],
                act: tuple[int, float, float] = (NONE, 0.0, 0.0)) -> np.ndarray | None:
    """NhwcConv's channels-last result (N, OH, OW, M), or None for a case without a channels-last kernel:
    depthwise (channel multiplier 1), 1x1 stride-1 unpadded group-1 from NHWC, any group-1 from NCHW."""
    if nchw_input:
        n, c, h, wd = x.shape
    else:
        n, h, wd, c = x.shape
    m, cg, kh, kw = w.shape
    if c != cg * group or m % group:
        raise ValueError(f"Conv channel mismatch: X has {c} channels, W {tuple(w.shape)}, group {group}")
    oh, ow = conv_out_shape((h, wd), (kh, kw), strides, dilations, pads)
    (sh, sw), (dh, dw), (ph, pw) = strides, dilations, pads[:2]
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    code, p0, p1 = act
    if cg == 1 and group == c == m:
        y = np.empty((n, oh, ow, m), dtype=np.float32)
        if not nchw_input:
            bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
            _dw_nhwc_inplace(x, w, y, sh, sw, dh, dw, ph, pw, bias, b is not None, code, np.float32(p0),
                             np.float32(p1), max(1, DW_ROW // c) if sw == 1 else 1)
            return y
        bias = _NO_BIAS if b is None else np.ascontiguousarray(b, dtype=np.float32)
        hh, wh = oh + ((kh - 1) * dh) // sh, ow + ((kw - 1) * dw) // sw
        xp = _columns(1, sh * sw * hh * wh * DW_BLOCK, "dw").reshape(-1)
        _dw_nhwc(x, nchw_input, w, y, sh, sw, dh, dw, ph, pw, bias, b is not None, code, np.float32(p0),
                 np.float32(p1), xp)
        return y
    if group != 1:
        return None
    pointwise = kh == kw == 1 and sh == sw == 1 and not any(pads)
    if not nchw_input and not pointwise:
        return None
    y = np.empty((n, oh, ow, m), dtype=np.float32)
    wt = _transposed(w)
    if pointwise and not nchw_input and packed_usable(oh * ow):
        # X (HW, C) @ W^T with W^T packed once: bias, Relu and Clip in the GEMM's store, others after
        panels = pack(wt) if w.flags.writeable else packed(wt)
        clamp = clamp_of(code, p0, p1)
        for i in range(n):
            yi = y[i].reshape(oh * ow, m)
            gemm_into(x[i].reshape(h * wd, c), panels, yi, b, COL_BIAS, clamp=clamp)
            if clamp is None and code != NONE:
                bias_activation_columns(yi, None, code, p0, p1)
        return y
    for i in range(n):
        yi = y[i].reshape(oh * ow, m)
        if pointwise and not nchw_input:
            np.matmul(x[i].reshape(h * wd, c), wt, out=yi)
        else:
            if pointwise:
                cols = x[i].reshape(c, oh * ow)
            else:
                cols = _columns(c * kh * kw, oh * ow)
                im2col(x[i], kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
            np.matmul(cols.T, wt, out=yi)
        bias_activation_columns(yi, b, code, p0, p1)
    return y


@register("NhwcConv", domain="ai.ronn", since=1, override="numba")
def nhwc_conv(x, w, b=None, *, auto_pad: str = "NOTSET", dilations: list[int] | None = None, group: int = 1,
              kernel_shape: list[int] | None = None, pads: list[int] | None = None,
              strides: list[int] | None = None, activation: str = "",
              activation_params: list[float] | None = None, nchw_input: int = 0):  # type: ignore[no-untyped-def]
    if x.ndim != 4:
        return NotImplemented
    nchw = x if nchw_input else x.transpose(0, 3, 1, 2)  # a view: only its shape is read by _geometry
    geometry = _geometry(nchw, w, auto_pad, dilations, kernel_shape, pads, strides)
    act = activation_code(activation, activation_params)
    if geometry is None or not _bias_ok(b, w) or act is None:
        return NotImplemented
    strides, dilations, pads = geometry
    y = conv2d_nhwc(x, w, b, nchw_input=bool(nchw_input), group=group, strides=strides, dilations=dilations,
                    pads=pads, act=act)
    return NotImplemented if y is None else (y,)
