"""The agent cycle: perception, HRM routing, System 1 / System 2, learning and sleep (built on engine and
memory_store). The Agent arrives with the agent-cycle work; this package is empty until then."""
