"""LinearAttention: recurrent linear attention over packed [B, T, H*D] inputs with state (B, H_kv, d_k, d_v);
update rules linear / gated (state *= exp(decay)) / delta / gated_delta (beta-weighted correction), grouped
query heads sharing a KV head's state, scale 0 meaning 1/sqrt(d_k). Computed in float32 like the reference;
``present_state`` takes past_state's dtype (the query's when absent)."""

from __future__ import annotations

import math

import numpy as np

from engine.ops.registry import register


def _heads(x: np.ndarray, heads: int) -> np.ndarray:
    """(B, T, H*D) -> float32 (B, H, T, D)."""
    b, t, hd = x.shape
    if hd % heads:
        raise ValueError(f"LinearAttention: last dim {hd} is not divisible by {heads} heads")
    return x.reshape(b, t, heads, hd // heads).transpose(0, 2, 1, 3).astype(np.float32)


@register("LinearAttention", since=27)
def linear_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    past_state: np.ndarray | None = None,
    decay: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    *,
    chunk_size: int = 64,
    kv_num_heads: int,
    q_num_heads: int,
    scale: float = 0.0,
    update_rule: str = "gated_delta",
) -> tuple[np.ndarray, np.ndarray]:
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"LinearAttention: unsupported update_rule {update_rule!r}")
    if q_num_heads <= 0 or kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ValueError("LinearAttention: q_num_heads must be a positive multiple of kv_num_heads")
    gating = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if gating != (decay is not None) or delta != (beta is not None):
        raise ValueError(f"LinearAttention: update_rule {update_rule!r} does not match the decay/beta inputs")
    b, t, _ = query.shape
    hkv, group = kv_num_heads, q_num_heads // kv_num_heads
    q = _heads(query, q_num_heads)
    k = _heads(key, hkv)
    v = _heads(value, hkv)
    d_k, d_v = q.shape[-1], v.shape[-1]
    q = q.reshape(b, hkv, group, t, d_k)  # query heads grouped by their KV head
    scale_val = np.float32(1.0 / math.sqrt(d_k) if not scale else scale)
    if past_state is not None:
        if past_state.shape != (b, hkv, d_k, d_v):
            raise ValueError(f"LinearAttention: past_state shape {past_state.shape} != {(b, hkv, d_k, d_v)}")
        state = past_state.astype(np.float32)
        state_dtype = past_state.dtype
    else:
        state = np.zeros((b, hkv, d_k, d_v), dtype=np.float32)
        state_dtype = query.dtype
    if decay is not None:
        if decay.shape[-1] == hkv:
            g = decay.reshape(b, t, hkv, 1).transpose(0, 2, 1, 3)
        elif decay.shape[-1] == hkv * d_k:
            g = decay.reshape(b, t, hkv, d_k).transpose(0, 2, 1, 3)
        else:
            raise ValueError(f"LinearAttention: decay last dim must be {hkv} or {hkv * d_k}")
        g = np.exp(g.astype(np.float32))[..., None]  # (B, H_kv, T, 1 or d_k, 1)
    if beta is not None:
        nb = beta.shape[-1]
        if nb not in (hkv, 1):
            raise ValueError(f"LinearAttention: beta last dim must be {hkv} or 1")
        bt = beta.reshape(b, t, nb, 1).transpose(0, 2, 1, 3).astype(np.float32)  # (B, H_kv|1, T, 1)

    if not gating and not delta:
        # S_t = S_0 + sum_{s<=t} k_s v_s^T, so o_t = q_t S_0 + sum_{s<=t} (q_t . k_s) v_s: causal matmuls
        scores = np.einsum("bhgtd,bhsd->bhgts", q, k)
        scores *= np.tril(np.ones((t, t), dtype=np.float32))
        out = np.einsum("bhgts,bhsm->bhgtm", scores, v) + q @ state[:, :, None]
        state = state + np.einsum("bhsd,bhsm->bhdm", k, v)
    else:
        out = np.empty((b, hkv, group, t, d_v), dtype=np.float32)
        for i in range(t):
            k_t, v_t = k[:, :, i], v[:, :, i]
            if gating:
                state = state * g[:, :, i]
            if delta:
                retrieved = np.einsum("bhdm,bhd->bhm", state, k_t)
                v_t = bt[:, :, i] * (v_t - retrieved)
            state = state + k_t[..., :, None] * v_t[..., None, :]
            out[:, :, :, i] = np.einsum("bhgd,bhdm->bhgm", q[:, :, :, i], state)
    out *= scale_val
    output = out.reshape(b, q_num_heads, t, d_v).transpose(0, 2, 1, 3).reshape(b, t, q_num_heads * d_v)
    return output.astype(query.dtype), state.astype(state_dtype)
