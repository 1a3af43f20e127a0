"""Whether a figure's text can be read: every label inside the figure, none on another, no legend over data,
no note on a line or a point.

One draw per check, with the Agg renderer and no pixels written (Figure.draw_without_rendering);
the extents are matplotlib's own (get_window_extent after that draw).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

TOLERANCE_PX = 1.0  # extents are rounded to whole pixels: a touch is not an overlap


@contextlib.contextmanager
def _recording_drawn_texts() -> Iterator[list[Any]]:
    """Collect every Text artist that a draw inside the block really draws (visible, not empty, in view)."""
    from matplotlib.text import Text

    drawn: list[Any] = []
    draw = Text.draw

    def recorded(self: Text, renderer: Any) -> None:
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        draw(self, renderer)

    Text.draw = recorded
    try:
        yield drawn
    finally:
        Text.draw = draw


def _name(artist: Any) -> str:
    where = ""
    if getattr(artist, "axes", None) is not None:
        title = artist.axes.get_title() or artist.axes.get_label() or "an untitled panel"
        where = f" in '{title}'"
    kind = type(artist).__name__
    text = artist.get_text() if hasattr(artist, "get_text") else ""
    return f"{kind} {text!r}{where}" if text else f"{kind}{where}"


def _has_markers(line: Any) -> bool:
    return line.get_visible() and line.get_marker() not in (None, "None", "none", "", " ")


def layout_problems(fig: Any, name: str) -> list[str]:
    """Draw `fig` once and return a sentence for each text outside it, each overlapping pair, each hidden marker."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)  # a Figure made without pyplot has no canvas that draws
    with _recording_drawn_texts() as texts:
        fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = [(text, text.get_window_extent(renderer)) for text in dict.fromkeys(texts)]
    problems = []
    page = fig.bbox
    for text, box in boxes:
        if (
            box.x0 < page.x0 - TOLERANCE_PX
            or box.y0 < page.y0 - TOLERANCE_PX
            or box.x1 > page.x1 + TOLERANCE_PX
            or box.y1 > page.y1 + TOLERANCE_PX
        ):
            problems.append(f"{name}: {_name(text)} reaches outside the figure ({box.bounds} in {page.bounds})")
    for index, (text, box) in enumerate(boxes):
        for other, other_box in boxes[index + 1 :]:
            width = min(box.x1, other_box.x1) - max(box.x0, other_box.x0)
            height = min(box.y1, other_box.y1) - max(box.y0, other_box.y0)
            if width > TOLERANCE_PX and height > TOLERANCE_PX:
                problems.append(f"{name}: {_name(text)} overlaps {_name(other)}")
    problems += _notes_on_data(fig, renderer, name)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    for legend in legends:
        cover = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for line in ax.get_lines():
                if not line.get_visible():
                    continue
                hidden = [point for point in _plotted_points(line, ax) if cover.contains(*point)]
                if hidden:
                    what = "marker(s)" if _has_markers(line) else "plotted point(s)"
                    problems.append(
                        f"{name}: the legend of '{ax.get_title()}' covers {len(hidden)} {what} of "
                        f"{_name(line)} labelled {line.get_label()!r}"
                    )
    problems += _markers_cut_by_the_frame(fig, name)
    return problems


def _plotted_points(line: Any, ax: Any) -> list[Any]:
    """A line's data points in display coordinates, those the axes show: with a line drawn between them, every
    point of the line at a pixel's spacing, so that a legend cannot sit on a segment between two points."""
    import numpy as np

    places = line.get_transform().transform(line.get_xydata())
    places = places[np.isfinite(places).all(axis=1)]
    if line.get_linestyle() not in ("None", "", " ") and len(places) > 1:
        pieces = []
        for start, end in itertools.pairwise(places):
            steps = max(2, int(np.hypot(*(end - start))))
            pieces.append(start + np.linspace(0, 1, steps)[:, None] * (end - start))
        places = np.concatenate(pieces)
    return [point for point in places if ax.bbox.contains(*point)]


def _markers_cut_by_the_frame(fig: Any, name: str) -> list[str]:
    """A marker the axes' frame cuts through: its centre closer to the frame than its radius, inside or out."""
    problems = []
    for ax in fig.axes:
        box = ax.bbox
        for line in filter(_has_markers, ax.get_lines()):
            if not line.get_clip_on():
                continue
            radius = line.get_markersize() / 2 * fig.dpi / 72  # points to pixels
            cut = 0
            for x, y in line.get_transform().transform(line.get_xydata()):
                near = [x - box.x0, box.x1 - x, y - box.y0, box.y1 - y]
                inside = min(near) >= 0
                if (inside and min(near) < radius) or (
                    not inside and box.x0 - radius < x < box.x1 + radius and box.y0 - radius < y < box.y1 + radius
                ):
                    cut += 1
            if cut:
                problems.append(f"{name}: the frame of '{ax.get_title()}' cuts {cut} marker(s) of {_name(line)}")
    return problems


def _notes_on_data(fig: Any, renderer: Any, name: str) -> list[str]:
    """A note written on a chart (ax.text, ax.annotate, a contour's label) that sits on a line or a point of it."""
    problems = []
    for ax in fig.axes:
        notes = [text for text in ax.texts if text.get_visible() and text.get_text()]
        for note in notes:
            box = note.get_window_extent(renderer)
            for line in ax.get_lines():
                if not line.get_visible():
                    continue
                drawn = line.get_transform().transform_path(line.get_path())
                crossed = line.get_linestyle() not in ("None", "", " ") and drawn.intersects_bbox(box, filled=False)
                marked = _has_markers(line) and any(box.contains(*point) for point in drawn.vertices)
                if crossed or marked:
                    problems.append(f"{name}: {_name(note)} sits on {_name(line)} labelled {line.get_label()!r}")
    return problems
