"""What a figure holds, shared by the checks of exercises 2 and 3: its curves, its legend, the PNG saved from it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from grader.harness import PNG_MAGIC, close, drawn, fail


def _floats(values: Any) -> list[float] | None:
    try:
        return [float(value) for value in values]
    except (TypeError, ValueError):  # dates, categories: not a loss curve
        return None


def series(ax: Any) -> list[tuple[Any, list[float], list[float]]]:
    """Every line and scatter plot on an axes: (artist, x values, y values)."""
    from matplotlib.collections import PathCollection

    found = [(line, _floats(line.get_xdata()), _floats(line.get_ydata())) for line in ax.get_lines()]
    for collection in ax.collections:
        if isinstance(collection, PathCollection):  # ax.scatter
            offsets = collection.get_offsets()
            found.append((collection, _floats(offsets[:, 0]), _floats(offsets[:, 1])))
    return [(artist, xs, ys) for artist, xs, ys in found if xs is not None and ys is not None]


def plots_losses(ys: list[float], losses: list[float]) -> bool:
    return len(ys) == len(losses) and all(map(close, ys, losses))


def legend_texts(fig: Any) -> list[str]:
    """The texts of every legend in a figure: its axes' (ax.legend()), its own and its subfigures' (fig.legend())."""
    legends, figures = [], [fig]
    while figures:
        figure = figures.pop()
        legends += figure.legends
        figures += figure.subfigs
    legends += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [text.get_text().lower() for legend in legends for text in legend.get_texts()]


def check_saved_png(saved_figures: list[tuple[Any, str | None, Any]], fig: Any, path: Path, what: str) -> None:
    """The PNG at `path` holds `fig`, the figure returned: saved from it, after it was drawn, and not blank.

    `saved_figures` is what harness.figures_saved() recorded during the call (an Answer's `saved_figures`).
    """
    if not path.is_file():
        fail(f"{what} should save the figure at {path}, but no file is there: call fig.savefig(path).")
    content = path.read_bytes()
    if not content.startswith(PNG_MAGIC):
        fail(f"{path} is not a PNG file; save with fig.savefig(path) and a path ending in .png.")
    into_path = [(figure, held) for figure, target, held in saved_figures if target == str(path.resolve())]
    if into_path and not any(figure is fig for figure, _ in into_path):
        fail(
            f"{path} was saved from another figure than the one {what} returned. plt.savefig(path) saves pyplot's "
            "current figure, which is not a Figure() you made yourself: call fig.savefig(path) on the figure you "
            "draw on and return."
        )
    if into_path and next(held for figure, held in reversed(into_path) if figure is fig) != drawn(fig):
        fail(
            f"{path} was saved before the figure was finished: the returned figure holds more than the saved file. "
            "Draw everything first, then call fig.savefig(path) just before returning."
        )
    from matplotlib import image

    try:
        pixels = image.imread(io.BytesIO(content), format="png")
    except Exception as error:  # a truncated or damaged file
        fail(f"{path} starts like a PNG but cannot be read as one ({error}); save it with fig.savefig(path).")
    if (pixels == pixels[0, 0]).all():
        fail(
            f"{path} is blank, one colour only: the figure saved is not the one drawn on. Call fig.savefig(path) "
            "on the figure you return (plt.savefig saves pyplot's current figure instead)."
        )
