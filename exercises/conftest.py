"""pytest started inside exercises/ finds no checks here: they live in tests/. Say where to run them."""

from __future__ import annotations

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.config.get_terminal_writer().line(
            "The checks live in tests/, one folder up: run python -m pytest -m ex1 (or ex2, ex3, ex4) from the "
            "repository's top folder, or python -m pytest there to check everything."
        )
