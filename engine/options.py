"""Session options, shaped like onnxruntime's so code can switch runtimes with one import."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class GraphOptimizationLevel(enum.IntEnum):
    """onnxruntime's names and values; RONN maps them to its O0..O3 pipelines."""

    ORT_DISABLE_ALL = 0      # O0
    ORT_ENABLE_BASIC = 1     # O1: constant folding, dead code, common subexpressions
    ORT_ENABLE_EXTENDED = 2  # O2: adds fusions
    ORT_ENABLE_LAYOUT = 3    # O3: adds layout choices and memory planning
    ORT_ENABLE_ALL = 99      # O3


class ExecutionMode(enum.IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


@dataclass
class SessionOptions:
    """Options for :class:`~engine.session.InferenceSession`.

    Unlike RONN's other option objects this one is mutable, on purpose: onnxruntime users write
    ``so = SessionOptions(); so.intra_op_num_threads = 1``, and that code must keep working. Values are
    validated when assigned.

    Attributes:
        graph_optimization_level: how much the graph optimizer may rewrite (default: everything).
        intra_op_num_threads: threads one kernel may use (0 = library default).
        inter_op_num_threads: accepted for compatibility; nodes run in order.
        disabled_optimizers: names of graph passes to skip.
        execution_mode: accepted for compatibility.
        log_severity_level: accepted for compatibility.
    """

    graph_optimization_level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL
    intra_op_num_threads: int = 0
    inter_op_num_threads: int = 0
    disabled_optimizers: list[str] = field(default_factory=list)
    execution_mode: ExecutionMode = ExecutionMode.ORT_SEQUENTIAL
    log_severity_level: int = 2
    enable_profiling: bool = False

    def __setattr__(self, name: str, value: object) -> None:
        if name == "graph_optimization_level":
            try:
                value = GraphOptimizationLevel(int(value))  # type: ignore[call-overload]
            except (TypeError, ValueError):
                levels = ", ".join(f"{level.name}={level.value}" for level in GraphOptimizationLevel)
                raise ValueError(f"graph_optimization_level must be one of {levels}; got {value!r}") from None
        elif name in ("intra_op_num_threads", "inter_op_num_threads"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int >= 0 (0 = default); got {value!r}")
        elif name == "disabled_optimizers":
            if isinstance(value, str):
                raise ValueError("disabled_optimizers must be a list of pass names, not a string")
            value = list(value)  # type: ignore[call-overload]
        elif name not in self.__dataclass_fields__:
            raise AttributeError(f"SessionOptions has no option {name!r}")
        object.__setattr__(self, name, value)

    @property
    def optimization_level(self) -> int:
        """The RONN pipeline level, 0..3."""
        return min(int(self.graph_optimization_level), 3)
