"""Cast: convert to the element type named by ``to`` (numpy-native types, bool and strings; float-to-int
truncates toward zero, NaN to bool is true). ``saturate``/``round_mode`` only affect float8 types, which this
engine does not represent, so they are accepted and ignored. Opset 1's string-valued ``to`` is understood."""

from engine.ops._elementwise import cast_array, onnx_to_numpy_dtype
from engine.ops.registry import register


@register("Cast", since=1)
def cast(x, *, to, saturate=1, round_mode="up"):
    return (cast_array(x, onnx_to_numpy_dtype(to)),)
