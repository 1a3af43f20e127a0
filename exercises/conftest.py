"""pytest started inside exercises/ finds no checks here: they live in tests/. Say where to run them."""

from __future__ import annotations

import pytest

from grader.catalog import EXERCISES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        markers = ", ".join(exercise.marker for exercise in EXERCISES[1:])
        session.config.get_terminal_writer().line(
            f"The checks live in tests/, one folder up: run python -m pytest -m {EXERCISES[0].marker} (or {markers}) "
            "from the repository's top folder, or python -m pytest there to check everything."
        )
