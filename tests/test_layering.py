"""Dependencies point one way: engine and memory_store never import each other, nor cognition."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("memory_store", ("engine", "cognition", "ronn")), ("engine.session", ("memory_store", "cognition", "ronn"))],
)
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    code = (
        f"import sys, {package}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} imports {result.stdout.strip()}"
