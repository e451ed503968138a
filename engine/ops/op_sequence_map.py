"""SequenceMap: run ``body`` once per element of the input sequence(s); each body output becomes a sequence.

Additional inputs that are sequences are indexed alongside the first; tensors are passed whole every time.
"""

from typing import Any

from engine.ops.registry import register


@register("SequenceMap", since=17)
def sequence_map(seq: list, *additional: Any, body: Any, _scope: dict | None = None) -> tuple:
    n_out = len(body.graph.outputs)
    outputs: list[list] = [[] for _ in range(n_out)]
    for i in range(len(seq)):
        args = [seq[i], *(a[i] if isinstance(a, list) else a for a in additional)]
        for k, value in enumerate(body(args, _scope or {})):
            outputs[k].append(value)
    return tuple(outputs)
