"""RONN's ONNX inference engine. It knows nothing of agents or memory.

Import what you need from the submodules (``engine.session``, ``engine.loader``, ...); this package module
stays import-light so that ``engine.errors`` can be imported cheaply.
"""
