"""Every figure the lesson emits can be read: nothing clipped, overlapping or hidden.

The sections run in-process (the shared `sections_alone` fixture), with a FigureOutput that keeps each
figure instead of saving it; whatever figures a section emits are checked, under the name it gives
them. Each figure is drawn once (tests/layout.py). The animation's frames and the explorer's states
are checked in test_motion.py, on the ones built there.
"""

from __future__ import annotations

from conftest import SectionsAlone
from layout import layout_problems


def test_every_figure_is_laid_out_clear(sections_alone: SectionsAlone) -> None:
    emitted = sections_alone.figures  # every figure the sections emit, by name, built but not saved
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
