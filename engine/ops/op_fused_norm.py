"""LayerNormalization and Gelu in the ai.ronn domain: the fusion passes emit them for models whose default
opset predates the standard operator (LayerNormalization: opset 17; Gelu: opset 20). Same semantics and
attributes as the standard operator; the standard kernels compute them."""

from __future__ import annotations

from engine.ops.op_gelu import gelu as _gelu
from engine.ops.op_layer_normalization import layer_normalization as _layer_normalization
from engine.ops.registry import register


@register("LayerNormalization", domain="ai.ronn", since=1)
def layer_normalization(x, scale, b=None, *, axis: int = -1, epsilon: float = 1e-5, stash_type: int = 1):
    return _layer_normalization(x, scale, b, axis=axis, epsilon=epsilon, stash_type=stash_type)


@register("Gelu", domain="ai.ronn", since=1)
def gelu(x, *, approximate: str = "none"):
    return _gelu(x, approximate=approximate)
