"""Every figure the lesson emits can be read: nothing clipped, overlapping or hidden.

The sections run in-process (the shared `sections_alone` fixture), with a FigureOutput that keeps each
figure instead of saving it; whatever figures a section emits are checked, under the name it gives
them. Each figure is drawn once (tests/layout.py). The animation's frames and the explorer's states
are checked in test_motion.py, on the ones built there.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
from conftest import ROOT, SectionsAlone
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


# --- each figure shows its point: checked on what it draws --------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
APART_PX = 4.0  # at 100 dpi: two lines or levels closer than this read as one


def drawn(fig: Any) -> Any:
    """The figure drawn once, so that its artists' display coordinates are final."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig


def alt_text(name: str) -> str:
    return re.search(rf'docs/figures/{name}\.png" width="\d+" alt="([^"]+)"', README).group(1)


def test_the_chosen_step_size_is_visibly_lowest_in_the_judged_epochs(sections_alone: SectionsAlone) -> None:
    fig = drawn(sections_alone.figures["workflow"])
    chosen = re.search(r"The validation set chooses lr (\S+):", sections_alone.printed).group(1)
    means = {
        line.get_gid().removeprefix("mean lr "): line
        for ax in fig.axes
        for line in ax.get_lines()
        if (line.get_gid() or "").startswith("mean lr ")
    }
    assert chosen in means and len(means) >= 2, f"the judged epochs' means drawn: {list(means)}"
    heights = {lr: line.get_transform().transform(line.get_xydata())[:, 1].mean() for lr, line in means.items()}
    for lr, line in means.items():
        assert line.axes.bbox.y0 < heights[lr] < line.axes.bbox.y1, f"the mean of lr {lr} is off its chart"
    lowest_other = min(height for lr, height in heights.items() if lr != chosen)
    assert heights[chosen] < lowest_other - APART_PX * fig.dpi / 100, (chosen, heights)


def test_the_step_size_figure_draws_what_its_alt_text_says(sections_alone: SectionsAlone) -> None:
    (ax,) = sections_alone.figures["learning_rate"].axes
    runs = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert f"{NUMBER_WORDS[len(runs)]} step sizes" in alt_text("learning_rate"), (len(runs), alt_text("learning_rate"))


def test_the_training_figures_lines_lie_apart(sections_alone: SectionsAlone) -> None:
    fig = drawn(sections_alone.figures["training"])
    fit_ax = fig.axes[1]
    lines = [line for line in fit_ax.get_lines() if line.get_zorder() == 4]  # the progression, first to last
    assert len(lines) >= 5, lines
    for earlier, later in itertools.pairwise(lines):
        ends = earlier.get_transform().transform(earlier.get_xydata())[:, 1]
        later_ends = later.get_transform().transform(later.get_xydata())[:, 1]
        assert abs(ends - later_ends).max() >= APART_PX * fig.dpi / 100, "two of the lines lie on each other"


def test_the_two_descent_paths_look_unlike(sections_alone: SectionsAlone) -> None:
    from matplotlib.colors import to_rgb

    (ax,) = sections_alone.figures["slope_and_bias_contour"].axes
    paths = [line for line in ax.get_lines() if line.get_label().startswith("lr ")]
    assert len(paths) == 2, paths
    first, second = (np.array(to_rgb(line.get_color())) for line in paths)
    assert np.linalg.norm(first - second) >= 0.6, (first, second)
    assert paths[0].get_marker() != paths[1].get_marker() and paths[0].get_linestyle() != paths[1].get_linestyle()


def test_the_surface_shows_the_trough_its_alt_text_promises(sections_alone: SectionsAlone) -> None:
    (ax,) = sections_alone.figures["slope_and_bias_surface"].axes
    across_w, along_b = ax.get_lines()
    slopes, _, across = across_w.get_data_3d()
    _, biases, along = along_b.get_data_3d()
    steepness = np.polyfit(slopes, across, 2)[0] / np.polyfit(biases, along, 2)[0]  # the two curvatures' ratio
    assert f"{NUMBER_WORDS[round(steepness)]} times as steep across w as along b" in alt_text(
        "slope_and_bias_surface"
    ), steepness
    assert not ax.computed_zorder and min(across_w.get_zorder(), along_b.get_zorder()) > ax.collections[0].get_zorder()


def test_a_legend_on_a_line_and_a_marker_on_the_frame_are_caught() -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.plot(range(50), [10.0] * 50, label="a curve under the legend")
    ax.plot([10, 40], [0.0, 5.0], "o", label="on the frame")
    ax.set_ylim(0, 11)
    ax.legend(loc="upper center")
    problems = "\n".join(layout_problems(fig, "hidden"))
    assert "covers" in problems and "plotted point(s)" in problems and "'a curve under the legend'" in problems
    assert "the frame of '' cuts 1 marker(s)" in problems, problems
