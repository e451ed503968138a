"""Attention (opsets 23-25): scaled dot-product attention over 3D (heads packed in the hidden axis) or 4D
inputs with grouped KV heads, bool/float attn_mask (right-aligned, padded to the KV length), bottom-right
aligned causal mask, past/present KV cache, nonpad_kv_seqlen, sliding windows, softcap, softmax_precision and
every qk_matmul_output_mode; rows with no attendable key give zeros (as the ONNX reference does)."""

from __future__ import annotations

import numpy as np
from onnx.helper import tensor_dtype_to_np_dtype

from engine.ops._nn import compute_dtype
from engine.ops.registry import register


def _split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    b, s, hidden = x.shape
    if hidden % heads:
        raise ValueError(f"Attention: hidden size {hidden} is not divisible by {heads} heads")
    return x.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


def _allowed_band(q_len, kv_len, offset, left, right, causal):
    """Boolean (q, kv) or (B, 1, q, kv) array: key j allowed for query i under causal/window constraints."""
    i = np.arange(q_len).reshape(q_len, 1)
    j = np.arange(kv_len).reshape(1, kv_len)
    if np.ndim(offset):
        diff = (i + np.asarray(offset, dtype=np.int64).reshape(-1, 1, 1, 1)) - j
    else:
        diff = (i + int(offset)) - j
    allowed = np.ones(diff.shape, dtype=np.bool_)
    if causal:
        allowed &= diff >= 0
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    return allowed


@register("Attention", since=23)
def attention(q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
              is_causal: int = 0, kv_num_heads: int | None = None, q_num_heads: int | None = None,
              qk_matmul_output_mode: int = 0, scale: float | None = None, softcap: float = 0.0,
              softmax_precision: int | None = None, left_window_size: int = -1,
              right_window_size: int = -1) -> tuple[np.ndarray, ...]:
    dtype = q.dtype
    if (past_key is None) != (past_value is None):
        raise ValueError("Attention: past_key and past_value must be given together")
    if nonpad_kv_seqlen is not None and past_key is not None:
        raise ValueError("Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value")
    rank3 = q.ndim == 3
    if rank3:
        if q_num_heads is None or kv_num_heads is None:
            raise ValueError("Attention: 3D inputs need q_num_heads and kv_num_heads")
        q = _split_heads(q, q_num_heads)
        k = _split_heads(k, kv_num_heads)
        v = _split_heads(v, kv_num_heads)
    elif q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("Attention: Q, K, V must all be 3D or 4D")
    present_key = k if past_key is None else np.concatenate((past_key, k), axis=2)
    present_value = v if past_value is None else np.concatenate((past_value, v), axis=2)
    batch, qh, q_len, head = q.shape
    kvh, kv_len = present_key.shape[1], present_key.shape[2]
    if qh % kvh or present_value.shape[1] != kvh:
        raise ValueError(f"Attention: {qh} query heads cannot share {kvh} KV heads")
    rep = qh // kvh

    ct = compute_dtype(dtype)
    if scale is None:
        scale = 1.0 / np.sqrt(head)
    # like the ONNX reference, scale Q and K by sqrt(scale) each in the input type (float16 results are
    # rounded to float16 after each step so they match the reference bit for bit in most cases)
    root = dtype.type(np.sqrt(scale))
    qs = (q * root).astype(ct, copy=False)
    kc = (present_key * root).astype(ct, copy=False)
    # grouped heads: query head h uses KV head h // rep, so view Q as (B, kvH, rep*q_len, D)
    scores = np.matmul(qs.reshape(batch, kvh, rep * q_len, head), kc.transpose(0, 1, 3, 2))
    scores = scores.reshape(batch, qh, q_len, kv_len).astype(dtype, copy=False).astype(ct, copy=False)
    raw_scores = scores
    if softcap and softcap > 0:
        scores = np.tanh(scores / ct.type(softcap)) * ct.type(softcap)

    # additive bias from the mask, causal/window band and KV padding
    bias = None
    if attn_mask is not None:
        mask = attn_mask
        pad = kv_len - mask.shape[-1]
        if pad > 0:
            fill = False if mask.dtype == np.bool_ else -np.inf
            mask = np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, pad)], constant_values=fill)
        if mask.dtype == np.bool_:
            bias = np.where(mask, ct.type(0), ct.type(-np.inf))
        else:
            bias = mask.astype(ct, copy=False)
    if is_causal or left_window_size >= 0 or right_window_size >= 0:
        if past_key is None and nonpad_kv_seqlen is not None:
            offset = np.asarray(nonpad_kv_seqlen).reshape(-1) - q_len
        else:
            offset = past_key.shape[2] if past_key is not None else 0
        band = _allowed_band(q_len, kv_len, offset, left_window_size, right_window_size, is_causal)
        band_bias = np.where(band, ct.type(0), ct.type(-np.inf))
        bias = band_bias if bias is None else bias + band_bias
    if nonpad_kv_seqlen is not None:
        keep = np.arange(kv_len) < np.asarray(nonpad_kv_seqlen).reshape(-1, 1)
        pad_bias = np.where(keep, ct.type(0), ct.type(-np.inf)).reshape(batch, 1, 1, kv_len)
        bias = pad_bias if bias is None else bias + pad_bias

    # mode 0: raw QK (per the spec and onnxruntime; the ONNX reference returns the softcapped value);
    # mode 1: softcapped
    qk_out = raw_scores if qk_matmul_output_mode == 0 else scores
    if bias is not None:
        with_bias = scores + bias
        if qk_matmul_output_mode == 2:
            qk_out = with_bias
    else:
        with_bias = scores

    sdt = np.dtype(tensor_dtype_to_np_dtype(softmax_precision)) if softmax_precision else np.dtype(dtype)
    if sdt.kind != "f":
        sdt = ct
    logits = with_bias.astype(sdt, copy=False)
    m = np.max(logits, axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), sdt.type(0), m)
    e = np.exp(logits - m)
    s = np.sum(e, axis=-1, keepdims=True)
    probs = e / np.where(s == 0, sdt.type(1), s)
    if bias is not None:
        dead = np.isneginf(np.max(np.broadcast_to(bias, (*bias.shape[:-2], q_len, kv_len)), axis=-1,
                                  keepdims=True))
        probs = np.where(dead, sdt.type(0), probs)
    if qk_matmul_output_mode == 3:
        qk_out = probs
    probs = probs.astype(dtype, copy=False).astype(ct, copy=False)

    vc = present_value.astype(ct, copy=False)
    y = np.matmul(probs.reshape(batch, kvh, rep * q_len, kv_len), vc)
    y = y.reshape(batch, qh, q_len, vc.shape[-1]).astype(dtype, copy=False)
    if rank3:
        y = y.transpose(0, 2, 1, 3).reshape(batch, q_len, -1)
    qk_out = np.broadcast_to(qk_out, (batch, qh, q_len, kv_len)).astype(dtype)
    return (y, present_key, present_value, qk_out)
