"""A float32 GEMM with the right operand pre-packed once: ``C = clamp(A @ B (+ bias))``, serial.

OpenBLAS repacks both operands on every call and runs ~100 GFLOP/s here (about 86% of this core's 117
GFLOP/s FMA peak); for a weight ``B`` that never changes the packing is wasted work (the GPT-2 LM head reads
and repacks its 51 MB weight every call, 81 GFLOP/s). onnxruntime's MLAS packs constant weights at session
creation; so does this module, for read-only arrays (initializers, folded constants), cached by identity.

* Packed layout: ``B (K, N)`` as ``ceil(N/32)`` panels of ``(K, 32)``, row-major, 64-byte aligned, the last
  panel zero-padded. One k step of a panel is two 16-float vectors, one cache line each.
* Micro-kernel: an 8x32 tile of C in 16 vector registers (8 rows x 2 vectors), written as LLVM IR through a
  numba ``@intrinsic`` (numba's loops cannot keep a register tile across the k loop: they reload and store
  C per step). Per k: two aligned panel loads, eight broadcasts of ``A[r, k]`` read in place (A is not
  packed), 16 fused multiply-adds. The store adds the bias (or the previous partial sum) and clamps (Relu, Clip).
* Driver: K in blocks of at most :data:`KC` (a panel block stays in L1/L2), then panels, then 8-row blocks
  of A. Partial tiles (M or N not a multiple of 8 / 32) go through zero-padded scratch tiles.

128x384x1536 (the BERT FFN): 1.32 ms vs numpy 1.55 and onnxruntime's MatMul 1.34; 64x256x50257 (LM head):
16.2 ms vs 20.3 and 16.2 (docs/speed.md, round 6).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from engine.kernels._epilogue import CLIP, RELU
from engine.kernels._numba import jit

MR, NR = 8, 32   # register tile: 8 rows x 32 columns = 16 zmm accumulators
KC = 768         # largest K block (a (KC, 32) panel block is 96 KB, in L2)
SMALL_B_PANELS = 8  # at most this many panels: loop over A's row blocks outermost
GROUP_BYTES = 1 << 19  # panels swept together by all row blocks of A (half of L2)
# kernel flags: add the tile into C (K blocks after the first, or a C prefilled with a residual); add the bias
# per column (bias[j]) or per row (bias[r]: a convolution's per-channel bias in ``W @ cols``); clamp the result
# to [bounds[0], bounds[1]] (Relu: [0, inf], Clip)
ACCUMULATE, COL_BIAS, ROW_BIAS, CLAMP = 1, 2, 4, 8

_packed: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
_NO_BIAS = np.zeros(1, np.float32)


def _emit_tile(context, builder, args, indirect: bool, rows: int = MR):  # type: ignore[no-untyped-def]
    """LLVM IR of one ``rows``x32 tile (see :func:`_tile`); ``indirect``: B's rows are found through a
    table."""
    if indirect:
        a, lda, b, row_table, c, ldc, kk, bias, flags, pf, bounds = args
    else:
        a, lda, b, c, ldc, kk, bias, flags, pf, bounds = args
    i64, i32 = a.type, ir.IntType(32)
    f32 = ir.FloatType()
    v16 = ir.VectorType(f32, 16)
    fp, vp = f32.as_pointer(), v16.as_pointer()
    ap, bp, cp = builder.inttoptr(a, fp), builder.inttoptr(b, fp), builder.inttoptr(c, fp)
    biasp = builder.inttoptr(bias, fp)
    i8p = ir.IntType(8).as_pointer()
    pfp = builder.inttoptr(pf, i8p)
    prefetch = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                              "llvm.prefetch.p0i8")
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, v16, v16]),
                                         "llvm.fma.v16f32")
    vmax = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, v16]),
                                          "llvm.maxnum.v16f32")
    vmin = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, v16]),
                                          "llvm.minnum.v16f32")
    zero = ir.Constant(v16, [0.0] * 16)
    undef = ir.Constant(v16, ir.Undefined)
    splat0 = ir.Constant(ir.VectorType(i32, 16), [0] * 16)

    def const(v: int) -> ir.Constant:
        return ir.Constant(i64, v)

    entry = builder.basic_block
    loop = builder.append_basic_block("tile_k")
    done = builder.append_basic_block("tile_store")
    builder.branch(loop)
    builder.position_at_end(loop)
    k = builder.phi(i64)
    k.add_incoming(const(0), entry)
    acc = [[builder.phi(v16) for _ in range(NR // 16)] for _ in range(rows)]
    for row in acc:
        for p in row:
            p.add_incoming(zero, entry)
    if indirect:  # row k of B starts row_table[k] bytes after b
        offset = builder.load(builder.gep(builder.inttoptr(row_table, i64.as_pointer()), [k]), align=8)
        brow = builder.bitcast(builder.gep(builder.inttoptr(b, i8p), [offset]), fp)
        bv = [builder.load(builder.bitcast(builder.gep(brow, [const(16 * j)]), vp), align=4)
              for j in range(NR // 16)]
    else:
        boff = builder.mul(k, const(NR))
        bv = [builder.load(builder.bitcast(builder.gep(bp, [builder.add(boff, const(16 * j))]), vp), align=64)
              for j in range(NR // 16)]
    for line in range(2):
        at = builder.gep(pfp, [builder.add(builder.mul(k, const(4 * NR)), const(64 * line))])
        builder.call(prefetch, [at, ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)])
    new = []
    for r in range(rows):
        av = builder.load(builder.gep(ap, [builder.add(builder.mul(const(r), lda), k)]), align=4)
        sp = builder.shuffle_vector(builder.insert_element(undef, av, ir.Constant(i32, 0)), undef, splat0)
        new.append([builder.call(fma, [sp, bv[j], acc[r][j]]) for j in range(NR // 16)])
    k1 = builder.add(k, const(1))
    k.add_incoming(k1, loop)
    for r in range(rows):
        for j in range(NR // 16):
            acc[r][j].add_incoming(new[r][j], loop)
    builder.cbranch(builder.icmp_signed("<", k1, kk), loop, done)

    builder.position_at_end(done)
    def flag(bit: int) -> ir.Value:
        return builder.icmp_signed("!=", builder.and_(flags, const(bit)), const(0))

    accumulate, col_bias, row_bias, clamp = flag(ACCUMULATE), flag(COL_BIAS), flag(ROW_BIAS), flag(CLAMP)
    boundsp = builder.inttoptr(bounds, fp)
    lo, hi = (builder.load(builder.gep(boundsp, [const(q)]), align=4) for q in range(2))
    lo, hi = (builder.shuffle_vector(builder.insert_element(undef, v, ir.Constant(i32, 0)), undef, splat0)
              for v in (lo, hi))
    col_v = [builder.select(col_bias, builder.load(builder.bitcast(builder.gep(biasp, [const(16 * j)]), vp),
                                                   align=4), zero) for j in range(NR // 16)]
    row_v = []
    for r in range(rows):
        rb = builder.load(builder.gep(biasp, [const(r)]), align=4)
        rb = builder.shuffle_vector(builder.insert_element(undef, rb, ir.Constant(i32, 0)), undef, splat0)
        row_v.append(builder.select(row_bias, rb, zero))

    def store(add_old: bool) -> None:
        # C is read only when accumulating: a load of a cold output line (the LM head writes 12.9 MB) would
        # hold up retirement, while a plain store just waits in the store buffer
        for r in range(rows):
            for j in range(NR // 16):
                ptr = builder.bitcast(builder.gep(cp, [builder.add(builder.mul(const(r), ldc), const(16 * j))]), vp)
                val = builder.fadd(builder.fadd(col_v[j], row_v[r]), new[r][j])
                if add_old:
                    val = builder.fadd(builder.load(ptr, align=4), val)
                val = builder.select(clamp, builder.call(vmin, [builder.call(vmax, [val, lo]), hi]), val)
                builder.store(val, ptr, align=4)

    with builder.if_else(accumulate) as (then, otherwise):
        with then:
            store(True)
        with otherwise:
            store(False)
    return context.get_dummy_value()


_SIG = (types.intp,) * 10


@intrinsic
def _tile(typingctx, a, lda, b, c, ldc, kk, bias, flags, pf, bounds):  # type: ignore[no-untyped-def]
    """C[0:8, 0:32] (row stride ldc) = A[0:8, 0:kk] (row stride lda) @ panel[0:kk, 0:32], plus C, the bias
    (32 columns or 8 rows from ``bias``) and the clamp to the two floats at ``bounds`` as ``flags`` say; each
    k step prefetches the 128 bytes at ``pf + 128 k`` into L2 (the next panel, or this one again when there
    is nothing to fetch). Pointers are integer addresses; kk >= 1."""
    return types.void(*_SIG), lambda context, builder, sig, args: _emit_tile(context, builder, args, False)


def _make_tail(rows: int):  # type: ignore[no-untyped-def]
    """:func:`_tile` for a last block of ``rows`` < 8 rows of A (read in place, stored straight into C)."""
    def tail(typingctx, a, lda, b, c, ldc, kk, bias, flags, pf, bounds):  # type: ignore[no-untyped-def]
        return types.void(*_SIG), lambda context, builder, sig, args: _emit_tile(context, builder, args, False,
                                                                                  rows)
    return intrinsic(tail)


_TAIL1, _TAIL2, _TAIL3, _TAIL4, _TAIL5, _TAIL6, _TAIL7 = (_make_tail(r) for r in range(1, MR))


@jit(inline="always")
def _tail_tile(mm, a, lda, b, c, ldc, kk, bias, flags, pf, bounds):  # type: ignore[no-untyped-def]
    """The ``mm``-row tile (1 <= mm < 8): with 2 to 14 accumulators instead of a zero-padded 8-row tile (a
    7x7 layer's 49 pixels were 7 full tiles, the last one 1/8 used)."""
    if mm == 1:
        _TAIL1(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)
    elif mm == 2:
        _TAIL2(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)
    elif mm == 3:
        _TAIL3(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)
    elif mm == 4:
        _TAIL4(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)
    elif mm == 5:
        _TAIL5(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)
    elif mm == 6:
        _TAIL6(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)
    else:
        _TAIL7(a, lda, b, c, ldc, kk, bias, flags, pf, bounds)


@intrinsic
def _tile_rows(typingctx, a, lda, b, rows, c, ldc, kk, bias, flags, pf, bounds):  # type: ignore[no-untyped-def]
    """:func:`_tile` with B unpacked: row k of the 32 columns starts ``rows[k]`` bytes after ``b`` (an int64
    table), e.g. a tap-shifted row of a padded image (implicit-GEMM convolution, ``_conv_implicit``)."""
    return types.void(*_SIG, types.intp), lambda context, builder, sig, args: _emit_tile(context, builder, args,
                                                                                          True)


@jit(error_model="numpy")
def _gemm(a, panels, bias, bias_mode, c, col0, n, prefilled, clamp, lo, hi):  # type: ignore[no-untyped-def]
    """c[:, col0:col0+n] [+]= a (M, K) @ B (the panels of its n columns) + bias, clamped to [lo, hi] if
    ``clamp``; a and c C-contiguous.

    ``bias_mode``: 0 none, COL_BIAS (``bias`` has n values), ROW_BIAS (M values). ``prefilled``: c already
    holds a residual to add to."""
    m, k = a.shape
    ldc = c.shape[1]
    npan = panels.shape[0]
    nkb = (k + KC - 1) // KC
    kc = (k + nkb - 1) // nkb
    mfull = m - m % MR
    a_tail = np.zeros((MR, k), np.float32)  # the last rows of A, zero-padded to a full tile
    a_tail[:m - mfull] = a[mfull:]
    bias_p = np.zeros(max(npan * NR, mfull + MR), np.float32)  # padded: full tiles read past M or N
    if bias_mode != 0:
        bias_p[:bias.size] = bias
    scratch = np.zeros((MR, NR), np.float32)
    bounds = np.empty(2, np.float32)
    bounds[0], bounds[1] = lo, hi
    bd = bounds.ctypes.data
    ap, at, pp, cp, bp = a.ctypes.data, a_tail.ctypes.data, panels.ctypes.data, c.ctypes.data, bias_p.ctypes.data
    sp = scratch.ctypes.data
    for k0 in range(0, k, kc):
        kk = min(kc, k - k0)
        flags = ACCUMULATE if k0 > 0 else bias_mode | (ACCUMULATE if prefilled else 0)
        if clamp and k0 + kk == k:
            flags |= CLAMP
        mblocks = (m + MR - 1) // MR
        # B in groups of panels that fit L2 (GROUP_BYTES), each swept by every row block of A: the group's
        # panels are read from memory once, and a row block writes C in runs of group * 128 bytes per row
        # (one panel at a time scattered the C stores: the LM head 16.0 -> 14.8 ms). A small B is one group,
        # so a large cold A (a 7x7 layer's 9.4 MB weight in ``W @ cols``) is read once.
        group = npan if npan <= SMALL_B_PANELS else max(1, GROUP_BYTES // (kk * NR * 4))
        for g0 in range(0, npan, group):
            for ib in range(mblocks):
                i0 = ib * MR
                mm = min(MR, m - i0)
                a_blk = (ap + (i0 * k + k0) * 4) if mm == MR else (at + k0 * 4)
                for jp in range(g0, min(npan, g0 + group)):
                    j0 = jp * NR
                    nn = min(NR, n - j0)
                    panel = pp + (jp * k * NR + k0 * NR) * 4
                    bias_at = bp + (i0 if bias_mode == ROW_BIAS else j0) * 4
                    # the first row block prefetches the next group's panels
                    pf = panel + group * k * NR * 4 if ib == 0 and jp + group < npan else panel
                    if mm == MR and nn == NR:
                        _tile(a_blk, k, panel, cp + (i0 * ldc + col0 + j0) * 4, ldc, kk, bias_at, flags, pf, bd)
                        continue
                    if nn == NR:
                        _tail_tile(mm, ap + (i0 * k + k0) * 4, k, panel, cp + (i0 * ldc + col0 + j0) * 4, ldc, kk,
                                   bias_at, flags, pf, bd)
                        continue
                    if flags & ACCUMULATE:
                        for r in range(mm):
                            for q in range(nn):
                                scratch[r, q] = c[i0 + r, col0 + j0 + q]
                    _tile(a_blk, k, panel, sp, NR, kk, bias_at, flags, pf, bd)
                    for r in range(mm):
                        for q in range(nn):
                            c[i0 + r, col0 + j0 + q] = scratch[r, q]


def _aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array whose data starts on a 64-byte boundary (the kernel's aligned panel loads)."""
    count = int(np.prod(shape))
    raw = np.empty(count + 16, np.float32)
    start = (-raw.ctypes.data // 4) % 16
    return raw[start:start + count].reshape(shape)


def pack(b: np.ndarray) -> np.ndarray:
    """B (K, N) float32 as (ceil(N/32), K, 32) panels, zero-padded, 64-byte aligned."""
    k, n = b.shape
    npan = -(-n // NR)
    panels = _aligned_empty((npan, k, NR))
    full = n // NR
    panels[:full] = b[:, :full * NR].reshape(k, full, NR).transpose(1, 0, 2)
    if full < npan:
        panels[full] = 0.0
        panels[full, :, :n - full * NR] = b[:, full * NR:]
    return panels


def packed(b: np.ndarray) -> np.ndarray:
    """The panels of a read-only B, packed once and cached by identity (initializers, folded constants)."""
    key = (id(b), b.ctypes.data)
    hit = _packed.get(key)
    if hit is None or hit[0] is not b:
        if len(_packed) > 1024:
            _packed.clear()
        hit = _packed[key] = (b, pack(b))
    return hit[1]


def usable(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether :func:`matmul` takes ``a @ b``: float32, 2-D read-only ``b`` (a weight), at least 8 rows of
    ``a`` (below that the padded tile wastes more than OpenBLAS's GEMV loses) and K >= 1."""
    return (a.dtype == np.float32 and b.dtype == np.float32 and b.ndim == 2 and a.ndim >= 2
            and not b.flags.writeable and a.shape[-1] == b.shape[0] and b.shape[0] >= 1 and b.shape[1] >= 1
            and a.size // max(a.shape[-1], 1) >= MR)


def matmul(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None = None,
           clamp: tuple[float, float] | None = None) -> np.ndarray:
    """``a @ b (+ bias)``, clamped to ``clamp`` = (lo, hi) if given, for an N-D ``a`` and a read-only 2-D ``b``
    accepted by :func:`usable`; ``bias`` is 1-D of length N (or None)."""
    k, n = b.shape
    a2 = np.ascontiguousarray(a).reshape(-1, k)
    y = np.empty((a2.shape[0], n), np.float32)
    gemm_into(a2, packed(b), y, bias, COL_BIAS, clamp=clamp)
    return y.reshape(*a.shape[:-1], n)


def gemm_into(a: np.ndarray, panels: np.ndarray, c: np.ndarray, bias: np.ndarray | None, bias_mode: int, *,
              prefilled: bool = False, clamp: tuple[float, float] | None = None) -> None:
    """``c = a @ B + bias`` (``+ c`` when ``prefilled``), clamped to ``clamp`` = (lo, hi) if given (Relu:
    (0, inf)), for C-contiguous float32 ``a`` (M, K) and ``c`` (M, N) and the panels of B (:func:`pack`);
    ``bias_mode`` COL_BIAS (N values) or ROW_BIAS (M)."""
    lo, hi = clamp if clamp is not None else (0.0, 0.0)
    if bias is None:
        bias, bias_mode = _NO_BIAS, 0
    _gemm(a, panels, np.ascontiguousarray(bias, dtype=np.float32).reshape(-1), bias_mode, c, 0, c.shape[1],
          prefilled, clamp is not None, lo, hi)


def clamp_of(code: int, p0: float, p1: float) -> tuple[float, float] | None:
    """The store clamp for an ``_epilogue`` activation code: Relu (0, inf), Clip (p0, p1), else None."""
    if code == RELU:
        return (0.0, np.inf)
    if code == CLIP:
        return (p0, p1)
    return None
