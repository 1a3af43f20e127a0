"""The exercises' checks: each runs on your exercises/ex*.py and on the reference solution, in a process of its own.

    python -m pytest -m ex1      # one exercise
    python -m pytest             # all of them; the summary at the end says which exercises you solved

(from the repository's top folder, or from exercises/). A function that still raises
NotImplementedError is reported as not attempted yet (skipped). The checks themselves live in
grader/ex1.py, grader/ex2.py, ... (`GRADED`); the exercises come from the one list in
exercises/catalog.py. This is the one module that holds graded checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exercises.catalog import EXERCISES, Exercise
from grader.harness import end_workers, grade
from grader.plugin import SHIPPED_DATA, WHO, checks_of

pytestmark = [
    pytest.mark.usefixtures("in_a_scratch_folder"),  # files a learner's code writes land outside the repository
]

GRADED = [
    pytest.param(exercise, name, who, marks=getattr(pytest.mark, exercise.marker), id=f"{exercise.marker}-{name}-{who}")
    for exercise in EXERCISES
    for name in checks_of(exercise).GRADED
    for who in WHO
]
SHIPPED = [
    pytest.param(exercise, marks=[getattr(pytest.mark, exercise.marker), getattr(pytest.mark, SHIPPED_DATA)])
    for exercise in EXERCISES
    if hasattr(checks_of(exercise), "check_shipped_data")
]


@pytest.fixture(scope="module", autouse=True)
def checks_processes() -> Iterator[None]:
    """The child processes that run the checks end with them."""
    yield
    end_workers()


@pytest.mark.parametrize(("exercise", "check", "who"), GRADED)
def test_exercise(exercise: Exercise, check: str, who: str, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    grade(exercise.number, check, who == "yours", tmp_path, pytestconfig.getoption("cpu_limit"))


@pytest.mark.parametrize("exercise", SHIPPED, ids=lambda exercise: exercise.marker)
def test_shipped_data_comes_from_the_reference_generator(exercise: Exercise) -> None:
    checks_of(exercise).check_shipped_data()
