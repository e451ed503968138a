"""The agent cycle: perception, HRM routing, System 1 / System 2, learning and sleep, built on ``engine`` and
``memory_store``. The public entry point is :class:`cognition.agent.Agent` (re-exported as ``ronn.Agent``); the
module map is in docs/architecture.md."""
