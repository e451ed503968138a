"""Build a tiny model with onnx.helper and run it on RONN's engine.

    python examples/simple_inference.py
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import ronn

# y = relu(x @ W + b): one Gemm and one Relu, with the weights stored in the model as initializers.
rng = np.random.default_rng(0)
weights = rng.normal(size=(4, 3)).astype(np.float32)
bias = np.array([0.5, -0.5, 0.0], dtype=np.float32)
graph = helper.make_graph(
    nodes=[
        helper.make_node("Gemm", ["x", "W", "b"], ["z"]),
        helper.make_node("Relu", ["z"], ["y"]),
    ],
    name="tiny",
    inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],  # batch size is free
    outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
)
# ir_version 10, not the onnx package's newest, so that onnxruntime from 1.18 on reads the same model
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)

# The session takes a path, bytes or a ModelProto, exactly like onnxruntime.InferenceSession.
session = ronn.InferenceSession(model.SerializeToString())
print("inputs: ", [(i.name, i.shape, i.type) for i in session.get_inputs()])
print("outputs:", [(o.name, o.shape, o.type) for o in session.get_outputs()])

x = rng.normal(size=(2, 4)).astype(np.float32)
(y,) = session.run(None, {"x": x})
print("y =", y)

# The same arithmetic in numpy, to show what the engine computed.
assert np.allclose(y, np.maximum(x @ weights + bias, 0), atol=1e-6)

# A wrong feed gets an error that says what to fix.
try:
    session.run(None, {"x": x.astype(np.float64)})
except ronn.InvalidInputError as error:
    print("caught:", error)
