"""Family-E kernels (recurrent nets, RoiAlign, DeformConv, AffineGrid, CumProd, TensorScatter, ...) against
onnxruntime, or against onnx's reference evaluator where this onnxruntime lacks the operator/opset.

Each check builds a single-node ONNX model, runs it in the oracle, and calls the registered RONN kernel
directly with the same inputs; every output must agree in dtype, shape and value.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper
from ops_helpers import FAST, check_kernel, kernel_outputs, oracle_outputs
from ops_helpers import randn as _rand


def check(op, inputs, attrs=None, opset=22, n_out=1, rtol=1e-4, atol=1e-5, use_ort=True):
    check_kernel(op, inputs, attrs, opset, n_out, rtol, atol, use_ort, drop_trailing=True)


# ------------------------------------------------------------------------------------------- recurrent nets

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent_inputs(op, rng, seq, batch, inp, hidden, num_dir, layout, with_lens, with_init, with_bias):
    g = _GATES[op]
    x = _rand(rng, (batch, seq, inp) if layout else (seq, batch, inp))
    w = _rand(rng, (num_dir, g * hidden, inp), scale=0.5)
    r = _rand(rng, (num_dir, g * hidden, hidden), scale=0.5)
    b = _rand(rng, (num_dir, 2 * g * hidden), scale=0.5) if with_bias else None
    lens = rng.integers(1, seq + 1, size=batch).astype(np.int32) if with_lens else None
    state_shape = (batch, num_dir, hidden) if layout else (num_dir, batch, hidden)
    h0 = _rand(rng, state_shape) if with_init else None
    inputs = [x, w, r, b, lens, h0]
    if op == "LSTM":
        c0 = _rand(rng, state_shape) if with_init else None
        p = _rand(rng, (num_dir, 3 * hidden), scale=0.5) if with_bias else None
        inputs += [c0, p]
    return inputs


@FAST
@given(
    op=st.sampled_from(["RNN", "GRU", "LSTM"]),
    seq=st.integers(1, 5),
    batch=st.integers(1, 3),
    inp=st.integers(1, 4),
    hidden=st.integers(1, 4),
    direction=st.sampled_from(["forward", "reverse", "bidirectional"]),
    layout=st.integers(0, 1),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    linear_before_reset=st.integers(0, 1),
    seed=st.integers(0, 2**16),
)
def test_recurrent_matches_onnxruntime(op, seq, batch, inp, hidden, direction, layout, flags,
                                       linear_before_reset, seed):
    rng = np.random.default_rng(seed)
    num_dir = 2 if direction == "bidirectional" else 1
    with_lens, with_init, with_bias = flags
    inputs = _recurrent_inputs(op, rng, seq, batch, inp, hidden, num_dir, layout, with_lens, with_init,
                               with_bias)
    attrs = {"hidden_size": hidden, "direction": direction}
    if op == "GRU":
        attrs["linear_before_reset"] = linear_before_reset
    n_out = 3 if op == "LSTM" else 2
    if not layout:
        check(op, inputs, attrs, opset=22, n_out=n_out, rtol=1e-4, atol=1e-5)
        return
    # onnxruntime's CPU kernels reject layout=1: run it on the time-major transposes and transpose back
    seq_major = [a if a is None or a.ndim != 3 or k in (1, 2) else a.swapaxes(0, 1)
                 for k, a in enumerate(inputs)]
    expected = oracle_outputs(op, seq_major, attrs, 22, n_out, drop_trailing=True)
    expected = [expected[0].transpose(2, 0, 1, 3)] + [e.swapaxes(0, 1) for e in expected[1:]]
    got = kernel_outputs(op, inputs, {**attrs, "layout": 1}, 22, n_out)
    for e, g in zip(expected, got, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("op", "acts", "alphas", "betas"),
    [
        ("RNN", ["Relu", "LeakyRelu"], [0.2], None),
        ("RNN", ["HardSigmoid", "ScaledTanh"], [0.3, 0.7], [0.4, 1.3]),
        ("GRU", ["HardSigmoid", "Softsign", "Sigmoid", "Elu"], [0.25, 0.9], [0.4]),
        ("LSTM", ["Sigmoid", "Tanh", "Softplus", "Sigmoid", "Affine", "ThresholdedRelu"], [1.5, 0.1], [0.2]),
    ],
)
def test_recurrent_activations_and_clip(op, acts, alphas, betas):
    rng = np.random.default_rng(7)
    inputs = _recurrent_inputs(op, rng, 4, 2, 3, 3, 2, 0, True, True, True)
    attrs = {"hidden_size": 3, "direction": "bidirectional", "activations": acts, "clip": 1.5}
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    check(op, inputs, attrs, opset=22, n_out=3 if op == "LSTM" else 2)


def test_lstm_input_forget():
    rng = np.random.default_rng(3)
    inputs = _recurrent_inputs("LSTM", rng, 5, 2, 3, 4, 2, 0, True, True, True)
    attrs = {"hidden_size": 4, "input_forget": 1, "direction": "bidirectional"}
    check("LSTM", inputs, attrs, opset=22, n_out=3)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_recurrent_float64(op):
    rng = np.random.default_rng(3)
    inputs = _recurrent_inputs(op, rng, 5, 2, 3, 4, 1, 0, False, True, True)
    inputs = [None if a is None else a.astype(np.float64) for a in inputs]
    # onnxruntime has no float64 LSTM/GRU: onnx's reference is the oracle here
    check(op, inputs, {"hidden_size": 4}, opset=22, n_out=3 if op == "LSTM" else 2, rtol=1e-10, atol=1e-12,
          use_ort=False)


# ------------------------------------------------------------------------------------------ spatial operators


@FAST
@given(
    n_rois=st.integers(1, 4),
    hw=st.tuples(st.integers(2, 9), st.integers(2, 9)),
    out_hw=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    sampling_ratio=st.integers(0, 3),
    mode=st.sampled_from(["avg", "max"]),
    ctm=st.sampled_from(["half_pixel", "output_half_pixel"]),
    scale=st.sampled_from([1.0, 0.5, 0.25]),
    seed=st.integers(0, 2**16),
)
def test_roi_align_matches_onnxruntime(n_rois, hw, out_hw, sampling_ratio, mode, ctm, scale, seed):
    rng = np.random.default_rng(seed)
    h, w = hw
    x = _rand(rng, (2, 3, h, w))
    lo = rng.uniform(-2, max(h, w) / scale, size=(n_rois, 2))
    size = rng.uniform(0, max(h, w) / scale, size=(n_rois, 2))
    rois = np.concatenate([lo, lo + size], axis=1).astype(np.float32)
    batch_indices = rng.integers(0, 2, size=n_rois).astype(np.int64)
    attrs = {"mode": mode, "output_height": out_hw[0], "output_width": out_hw[1],
             "sampling_ratio": sampling_ratio, "spatial_scale": scale, "coordinate_transformation_mode": ctm}
    check("RoiAlign", [x, rois, batch_indices], attrs, opset=16, rtol=1e-4, atol=1e-5)


@FAST
@given(
    group=st.integers(1, 2),
    offset_group=st.integers(1, 2),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pad=st.integers(0, 1),
    with_mask=st.booleans(),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_deform_conv_matches_reference(group, offset_group, kernel, strides, dilations, pad, with_mask,
                                       with_bias, seed):
    rng = np.random.default_rng(seed)
    c, oc, h, w = 4, 2 * group, 6, 5
    kh, kw = kernel
    oh = (h + 2 * pad - ((kh - 1) * dilations[0] + 1)) // strides[0] + 1
    ow = (w + 2 * pad - ((kw - 1) * dilations[1] + 1)) // strides[1] + 1
    x = _rand(rng, (2, c, h, w))
    wt = _rand(rng, (oc, c // group, kh, kw))
    offset = _rand(rng, (2, offset_group * kh * kw * 2, oh, ow), scale=1.5)
    bias = _rand(rng, (oc,)) if with_bias else None
    mask_shape = (2, offset_group * kh * kw, oh, ow)
    mask = rng.uniform(0, 1, size=mask_shape).astype(np.float32) if with_mask else None
    attrs = {"group": group, "offset_group": offset_group, "kernel_shape": [kh, kw], "strides": list(strides),
             "dilations": list(dilations), "pads": [pad] * 4}
    # onnxruntime's CPU provider has no DeformConv: compare with onnx's reference (a GridSample-based loop)
    check("DeformConv", [x, wt, offset, bias, mask], attrs, opset=22, rtol=1e-4, atol=1e-4, use_ort=False)


@pytest.mark.parametrize("align_corners", [0, 1])
@pytest.mark.parametrize("size", [[2, 3, 4, 5], [1, 1, 2, 3], [2, 2, 3, 4, 2]])
def test_affine_grid_matches_onnxruntime(size, align_corners):
    rng = np.random.default_rng(0)
    k = len(size) - 2
    theta = _rand(rng, (size[0], k, k + 1))
    check("AffineGrid", [theta, np.array(size, dtype=np.int64)], {"align_corners": align_corners}, opset=20)


# ----------------------------------------------------------------------------------------------- the rest


@FAST
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    axis_seed=st.integers(0, 100),
    exclusive=st.integers(0, 1),
    reverse=st.integers(0, 1),
    dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]),
    seed=st.integers(0, 2**16),
)
def test_cum_prod_matches_reference(shape, axis_seed, exclusive, reverse, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    axis = np.array(axis_seed % (2 * len(shape)) - len(shape), dtype=np.int64)
    check("CumProd", [x, axis], {"exclusive": exclusive, "reverse": reverse}, opset=26, use_ort=False)


@pytest.mark.parametrize(
    ("src", "dst"),
    [(np.float32, np.int32), (np.int64, np.float64), (np.uint16, np.float16), (np.int8, np.uint8),
     (np.uint8, np.bool_)],
)
def test_bit_cast_matches_reference(src, dst):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2 if dst is np.bool_ else 100, size=(3, 4)).astype(src)
    to = helper.np_dtype_to_tensor_dtype(np.dtype(dst))
    check("BitCast", [x], {"to": to}, opset=26, use_ort=False)


@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("axis", [-2, 1, 2])
def test_tensor_scatter_matches_onnxruntime(mode, axis):
    rng = np.random.default_rng(2)
    past = _rand(rng, (3, 6, 7, 2))
    shape = list(past.shape)
    shape[axis] = 3
    update = _rand(rng, shape)
    max_len = past.shape[axis]
    hi = max_len + 3 if mode == "circular" else max_len - 3 + 1
    idx = rng.integers(0, hi, size=3).astype(np.int64)
    check("TensorScatter", [past, update, idx], {"mode": mode, "axis": axis}, opset=24)


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize(("hq", "hkv"), [(2, 2), (4, 2), (3, 1)])
def test_linear_attention_matches_reference(rule, hq, hkv):
    rng = np.random.default_rng(4)
    b, t, dk, dv = 2, 5, 3, 4
    q, k = _rand(rng, (b, t, hq * dk)), _rand(rng, (b, t, hkv * dk), scale=0.5)
    v = _rand(rng, (b, t, hkv * dv))
    past = _rand(rng, (b, hkv, dk, dv))
    decay = -rng.uniform(0, 1, size=(b, t, hkv * dk)).astype(np.float32) if "gated" in rule else None
    beta = rng.uniform(0, 1, size=(b, t, hkv)).astype(np.float32) if "delta" in rule else None
    attrs = {"q_num_heads": hq, "kv_num_heads": hkv, "update_rule": rule}
    check("LinearAttention", [q, k, v, past, decay, beta], attrs, opset=27, n_out=2, use_ort=False)


@pytest.mark.parametrize("activation", ["none", "silu"])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_causal_conv_with_state_matches_reference(activation, k):
    rng = np.random.default_rng(5)
    x = _rand(rng, (2, 3, 6))
    w = _rand(rng, (3, 1, k))
    bias = _rand(rng, (3,))
    past = _rand(rng, (2, 3, k - 1))
    check("CausalConvWithState", [x, w, bias, past], {"activation": activation}, opset=27, n_out=2,
          use_ort=False)


def test_swiglu_matches_reference():
    rng = np.random.default_rng(6)
    a, b = _rand(rng, (3, 8)), _rand(rng, (3, 8))
    check("SwiGLU", [a, b], {"alpha": 1.702}, opset=28, use_ort=False)


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
@pytest.mark.parametrize("skip", [0, 2])
def test_tfidf_vectorizer_matches_onnxruntime(mode, skip):
    rng = np.random.default_rng(8)
    x = rng.integers(0, 5, size=(3, 12)).astype(np.int64)
    pool = [1, 2, 3, 4, 0, 1, 2, 3, 3, 4, 1, 1, 1, 2, 3]  # unigrams, bigrams (0,1) (2,3) (3,4) (1,1), (1,2,3)
    attrs = {"mode": mode, "min_gram_length": 1, "max_gram_length": 3, "max_skip_count": skip,
             "ngram_counts": [0, 4, 12], "ngram_indexes": [0, 1, 2, 3, 4, 5, 6, 7, 8],
             "pool_int64s": pool, "weights": [0.5, 1.0, 2.0, 1.5, 1.0, 3.0, 0.25, 1.0, 2.0]}
    check("TfIdfVectorizer", [x], attrs, opset=9)
