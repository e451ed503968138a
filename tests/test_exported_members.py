"""The public facade exports exactly the public set (httpx's test_exported_members)."""

import ronn

PUBLIC = {
    "Agent",
    "AgentConfig",
    "ExecutionError",
    "ExecutionMode",
    "GraphOptimizationLevel",
    "InferenceSession",
    "InvalidInputError",
    "ModelError",
    "NodeArg",
    "ProviderError",
    "ResourceLimitError",
    "RonnError",
    "SessionOptions",
    "SleepReport",
    "Thought",
    "UnsupportedOperatorError",
    "get_available_providers",
    "load_model",
}


def test_all_is_exactly_the_public_set() -> None:
    assert set(ronn.__all__) == PUBLIC
    for name in ronn.__all__:
        assert getattr(ronn, name) is not None


def test_errors_share_one_root() -> None:
    for name in ("ModelError", "InvalidInputError", "UnsupportedOperatorError", "ProviderError"):
        assert issubclass(getattr(ronn, name), ronn.RonnError)
