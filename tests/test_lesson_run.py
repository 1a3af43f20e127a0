"""One real `python lesson.py`, as a learner runs it on a machine with no display."""

from __future__ import annotations

import pytest
from conftest import LESSON_RUN_LIMIT, ROOT
from grading import PNG_MAGIC

FIGURES = [
    "data_and_cost",
    "slope_only",
    "slope_and_bias_surface",
    "slope_and_bias_contour",
    "slope_and_bias_slices",
    "slope_and_bias_fits",
    "training",
    "learning_rate",
]


@pytest.mark.lesson_run
@pytest.mark.time_limit(LESSON_RUN_LIMIT)
def test_python_lesson_py_without_a_display(lesson_run, lesson_output: str) -> None:
    run, stdout, stderr = lesson_run
    assert run.process.returncode == 0, f"python lesson.py exited {run.process.returncode}:\n{stderr}"
    # On a fresh machine matplotlib says once that it is building its font cache; nothing else may appear.
    complaints = [line for line in stderr.splitlines() if "building the font cache" not in line]
    assert not complaints, f"python lesson.py wrote to stderr:\n{stderr}"

    saved = sorted(path.stem for path in run.figures.iterdir())
    assert saved == sorted(FIGURES), f"figures/ holds {saved}"
    for name in FIGURES:
        path = run.figures / f"{name}.png"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, f"{path.name} is not a drawn PNG"
        assert f"figure saved: figures/{name}.png" in stdout

    # A second process prints the same lesson as the in-process --no-plots run.
    text = "\n".join(line for line in stdout.splitlines() if "figure saved:" not in line)
    assert text == lesson_output.rstrip("\n")


@pytest.mark.lesson_run
@pytest.mark.time_limit(LESSON_RUN_LIMIT)
def test_the_readme_figures_are_the_lesson_figures(lesson_run) -> None:
    committed = sorted(path.stem for path in (ROOT / "docs" / "figures").glob("*.png"))
    assert committed == sorted(FIGURES), "docs/figures should hold exactly the figures the lesson saves"
