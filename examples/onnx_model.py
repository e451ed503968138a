"""Load an ONNX file, look inside it, and run it on random (or given) inputs.

    python examples/onnx_model.py                 # the digits classifier bundled with RONN
    python examples/onnx_model.py path/to/model.onnx
"""

import sys
from pathlib import Path

import numpy as np

import ronn

path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(ronn.__file__).parent / "data" / "digits_mlp.onnx"

# load_model gives the engine's own graph: good for a look before running anything.
graph = ronn.load_model(path)
print(f"{path.name}: {len(graph.nodes)} nodes, {graph.parameter_count():,} parameters, opsets {graph.opsets}")
print("operators:", graph.op_histogram())

session = ronn.InferenceSession(path)

# Make an input for every declared input: symbolic dimensions (like "batch") become 1.
rng = np.random.default_rng(0)
feeds = {}
for arg in session.get_inputs():
    shape = [d if isinstance(d, int) else 1 for d in (arg.shape or [])]
    dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(double)": np.float64}.get(
        arg.type, np.float32
    )
    feeds[arg.name] = rng.random(shape).astype(dtype) if dtype is not np.int64 else np.zeros(shape, dtype)

outputs = session.run(None, feeds)
for arg, value in zip(session.get_outputs(), outputs, strict=True):
    print(f"{arg.name}: shape {value.shape}, dtype {value.dtype}, first values {value.ravel()[:4]}")
