"""The lesson prints the same digits whichever code path the math libraries take."""

from __future__ import annotations

import difflib

import pytest
from conftest import Background, finished


@pytest.fixture(scope="session")
def other_math_path(pytestconfig: pytest.Config) -> tuple[Background, str, str]:
    """The finished tests/other_math_path.py: the lesson on ATen's default kernels, MKL's compatible code."""
    return finished(pytestconfig, "other_math_path")


@pytest.mark.other_math_path
def test_a_second_math_path_prints_the_same_digits(other_math_path, deeper_output: str) -> None:
    run, stdout, stderr = other_math_path
    assert run.process.returncode == 0, f"the lesson on a second math path exited {run.process.returncode}:\n{stderr}"
    assert "cpu capability DEFAULT threads 1" in stderr, f"the second math path was not taken:\n{stderr}"
    moved = [
        line
        for line in difflib.unified_diff(deeper_output.splitlines(), stdout.splitlines(), lineterm="", n=0)
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ]
    assert not moved, (
        "these lines differ between the default math path and ATen's default kernels with MKL's compatible code on "
        "one thread; print only the digits float rounding cannot move:\n" + "\n".join(moved)
    )
