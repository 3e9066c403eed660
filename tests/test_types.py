"""The type checker runs clean on distributor/ (issue 11): mypy, configured by
[tool.mypy] in pyproject.toml. Run here so the README's test command (and so
.ci/run) checks the types on every run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean_on_the_package() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-color-output"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout
