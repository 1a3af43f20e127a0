"""One real `python lesson.py`, as a learner runs it on a machine with no display."""

from __future__ import annotations

import re

import pytest
from conftest import LESSON_RUN_LIMIT, ROOT, SAVED_MODEL, SectionsAlone, where_files_went_left_out

from grader.harness import PNG_MAGIC

MODEL = "delivery_model.pt"  # section 7 saves its trained model beside the figures
PATH_LINES = 120  # what python lesson.py may print, figure paths included


@pytest.mark.lesson_run
@pytest.mark.time_limit(LESSON_RUN_LIMIT)
def test_python_lesson_py_without_a_display(lesson_run, lesson_output: str, sections_alone: SectionsAlone) -> None:
    run, stdout, stderr = lesson_run
    figures = list(sections_alone.figures)  # the figures the sections emit, in-process
    assert run.process.returncode == 0, f"python lesson.py exited {run.process.returncode}:\n{stderr}"
    # On a fresh machine matplotlib says once that it is building its font cache; nothing else may appear.
    complaints = [line for line in stderr.splitlines() if "building the font cache" not in line]
    assert not complaints, f"python lesson.py wrote to stderr:\n{stderr}"

    saved = sorted(path.name for path in run.figures.iterdir())
    assert saved == sorted([*(f"{name}.png" for name in figures), MODEL]), f"figures/ holds {saved}"
    for name in figures:
        path = run.figures / f"{name}.png"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, f"{path.name} is not a drawn PNG"
        assert f"figure saved: figures/{name}.png" in stdout

    assert f"{SAVED_MODEL} figures/{MODEL}" in stdout
    assert f"{SAVED_MODEL} {MODEL} to a temporary folder" in lesson_output  # --no-plots keeps no file

    # The required path reads in one sitting; the optional parts wait for --deeper.
    assert len(stdout.splitlines()) <= PATH_LINES, f"python lesson.py printed {len(stdout.splitlines())} lines"
    assert "Going deeper" not in stdout
    # A second process prints the in-process --deeper run without its optional parts, but for where files went.
    assert where_files_went_left_out(stdout) == where_files_went_left_out(lesson_output)

    # The saved state_dict loads as tensors only into a fresh model of the same shape.
    import torch

    import lesson

    state = torch.load(run.figures / MODEL, weights_only=True)
    assert {name: tuple(tensor.shape) for name, tensor in state.items()} == {
        "linear.weight": (1, 2),
        "linear.bias": (1,),
    }
    lesson.LinearRegression(2, 1).load_state_dict(state)


def test_the_readme_figures_are_the_lesson_figures(sections_alone: SectionsAlone) -> None:
    emitted = sorted(sections_alone.figures)
    committed = sorted(path.stem for path in (ROOT / "docs" / "figures").glob("*.png"))
    assert committed == emitted, "docs/figures should hold exactly the figures the lesson emits"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = sorted(set(re.findall(r"docs/figures/(\w+)\.png", readme)))
    assert shown == emitted, "the README should show each figure the lesson emits"
