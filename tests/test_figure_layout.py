"""Every figure the lesson emits can be read: nothing clipped, overlapping or hidden.

The lesson runs in-process, as `python lesson.py` does, with a FigureOutput that keeps each
figure instead of saving it; whatever figures a section emits are checked, under the name it gives
them. Each figure is drawn once (tests/layout.py). The animation's frames and the explorer's states
are checked in test_motion.py, on the ones built there.
"""

from __future__ import annotations

import pytest
from conftest import run_main
from layout import layout_problems

from lesson_support import figures


@pytest.fixture(scope="module")
def emitted(agg: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Every figure `python lesson.py` emits, by name, built but not saved."""
    kept: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures.FigureOutput, "emit", lambda self, fig, name: kept.setdefault(name, fig))
        code, text = run_main(["--outdir", str(tmp_path_factory.mktemp("layout"))])
    assert code == 0, text
    return kept


def test_every_figure_is_laid_out_clear(emitted: dict[str, object]) -> None:
    assert emitted, "the lesson emitted no figure"
    problems = [problem for name, fig in emitted.items() for problem in layout_problems(fig, name)]
    assert not problems, "\n".join(problems)


def test_the_checks_can_fail() -> None:
    # The checker itself, on a figure built to break each rule once.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], "o", label="data")
    ax.legend(loc="upper right")
    ax.text(0.5, 0.5, "first note", transform=ax.transAxes)
    ax.text(0.5, 0.5, "second note", transform=ax.transAxes)
    ax.text(1.5, 0.5, "off the page", transform=ax.transAxes)
    ax.text(0, 0, "on a point")
    problems = "\n".join(layout_problems(fig, "broken"))
    assert "Text 'first note' in 'an untitled panel' overlaps Text 'second note'" in problems, problems
    assert "'off the page'" in problems and "reaches outside the figure" in problems, problems
    assert "the legend of '' covers 1 marker(s)" in problems, problems
    assert "Text 'on a point' in 'an untitled panel' sits on Line2D" in problems, problems
