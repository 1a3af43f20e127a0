"""Gradient descent in motion: the point rolling down the contours of J(w, b) while the line swings into place.

`python lesson.py --animate` writes it as descent.gif; in a notebook it shows under section 4.
Made with matplotlib.animation and Pillow, both already installed with matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lesson_support.figures import (
    MIN_FONT_PT,
    WIDE,
    band,
    contour_of,
    line,
    log_scale,
    new_figure,
    optimum_star,
    points,
    styled,
    y_range_of,
)

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.text import Text

FRAME_MS = 300  # each step is shown this long
HOLD_FRAMES = 6  # the last step stays on screen a little longer before the loop restarts


@dataclass
class DescentAnimation:
    """The figure, its moving parts, and which descent step each frame shows."""

    fig: Figure
    point: Line2D
    trail: Line2D
    fitted: Line2D
    caption: Text
    errors: tuple[Line2D, Line2D]  # the distance of w and of b from the optimum, step by step
    params: list[tuple[float, float]]
    costs: list[float]
    optimum: tuple[float, float]
    frames: list[int]  # frame number -> descent step

    def draw_step(self, step: int) -> None:
        """Move every moving part to where the descent is after `step` steps."""
        slope, bias = self.params[step]
        path = torch.tensor(self.params[: step + 1], dtype=torch.float64)
        self.trail.set_data(path[:, 0], path[:, 1])
        self.point.set_data([slope], [bias])
        ends = torch.tensor(self.fitted.get_xdata(), dtype=torch.float64)
        self.fitted.set_ydata(slope * ends + bias)
        for error, column in zip(self.errors, (0, 1), strict=True):
            error.set_data(range(step + 1), distance_from(path[:, column], self.optimum[column]))
        self.caption.set_text(f"iteration {step}:  w = {slope:.3f},  b = {bias:.3f},  J = {self.costs[step]:.4g}")

    def animation(self) -> FuncAnimation:
        from matplotlib.animation import FuncAnimation

        return FuncAnimation(
            self.fig, lambda frame: self.draw_step(self.frames[frame]), frames=len(self.frames), interval=FRAME_MS
        )

    @property
    def moving(self) -> tuple[Any, ...]:
        return (self.trail, self.point, self.fitted, *self.errors, self.caption)

    def save_gif(self, path: Path, dpi: int) -> None:
        self.animation().save(path, writer=_gif_writer(self.moving), dpi=dpi)


FLOOR = 1e-6  # an error below this (float32 rounding) is drawn at it, so the log scale can show it


def distance_from(values: torch.Tensor, target: float) -> torch.Tensor:
    return (values - target).abs().clamp(min=FLOOR)


@styled
def descent_animation(
    x: torch.Tensor,
    y: torch.Tensor,
    params: list[tuple[float, float]],
    costs: list[float],
    optimum: tuple[float, float],
    surface: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    lr: float,
) -> DescentAnimation:
    """Build the animation of a slope-and-bias descent from its path, its costs and the cost surface."""
    width, height = WIDE, 3.7
    fig, (contour_ax, data_ax, error_ax) = new_figure(3, width=width, height=height)
    # In inches: a square contour chart (equal axes), then the line, then the errors on a log scale.
    for ax, (left, panel) in zip((contour_ax, data_ax, error_ax), ((0.6, 2.55), (3.75, 1.7), (6.45, 1.8)), strict=True):
        ax.set_position((left / width, 0.45 / height, panel / width, 2.55 / height))
    contour_of(contour_ax, *surface)
    optimum_star(contour_ax, optimum, label="least-squares optimum")
    (trail,) = contour_ax.plot([], [], "o-", color="tab:red", markersize=3, linewidth=1, label=f"descent, lr {lr:g}")
    # A ring, not a dot: at the end it sits on the star without hiding it.
    (point,) = contour_ax.plot([], [], "o", color="tab:red", markerfacecolor="none", markersize=10, markeredgewidth=2)
    contour_ax.set_title("J(w, b): the point rolls downhill")
    contour_ax.legend(loc="upper left", fontsize=MIN_FONT_PT, framealpha=0.9)

    points(data_ax, x, y)
    band(data_ax, x, *optimum)
    fitted = line(data_ax, x, *params[0], color="tab:red", linewidth=2, zorder=4)
    y_range_of(data_ax, y, margin=0.5)  # the first lines swing in from outside
    data_ax.locator_params(axis="y", nbins=5)
    data_ax.set_title("the line (red); least squares (grey)")

    # Where the slow direction shows: w's error drops within a few steps, b's keeps creeping down.
    path = torch.tensor(params, dtype=torch.float64)
    everything = torch.cat([distance_from(path[:, 0], optimum[0]), distance_from(path[:, 1], optimum[1])])
    errors = tuple(
        error_ax.plot([], [], "o-", markersize=3, linewidth=1, color=color, label=name)[0]
        for name, color in (("|w - w*|", "tab:blue"), ("|b - b*|", "tab:orange"))
    )
    log_scale(error_ax)
    error_ax.set_xlim(-1, len(params))
    error_ax.set_ylim(float(everything.min()) / 3, float(everything.max()) * 3)
    error_ax.set_xlabel("iteration")
    error_ax.set_ylabel("error (log scale)")
    error_ax.set_title("b creeps, w settles")
    error_ax.legend(loc="upper right", fontsize=MIN_FONT_PT)
    caption = fig.text(0.5, 1 - 0.1 / height, "", ha="center", va="top", fontsize=11)

    frames = list(range(len(params))) + [len(params) - 1] * HOLD_FRAMES
    movie = DescentAnimation(fig, point, trail, fitted, caption, errors, params, costs, optimum, frames)
    movie.draw_step(0)
    return movie


def _gif_writer(moving: tuple[Any, ...]) -> Any:
    """matplotlib's PillowWriter, made quick: the still parts are drawn once, and one palette serves all frames.

    The plain writer redraws the whole figure for every frame (every tick label and contour label)
    and lets Pillow choose a palette per frame; here each frame draws only the moving artists on a
    copy of the still background.
    """
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    class QuickPillowWriter(PillowWriter):
        def setup(self, fig: Figure, outfile: Path, dpi: float | None = None) -> None:
            super().setup(fig, outfile, dpi=dpi)
            fig.set_dpi(self.dpi)
            shown_on = fig.canvas
            self.canvas = FigureCanvasAgg(fig)  # draws here, frame by frame...
            fig.set_canvas(shown_on)  # ...while FuncAnimation's redraw requests go to the figure's own canvas
            self.background: Any = None
            self.palette: Any = None

        def grab_frame(self, **savefig_kwargs: Any) -> None:
            if self.background is None:
                for artist in moving:
                    artist.set_visible(False)
                self.canvas.draw()  # everything that does not move
                self.background = self.canvas.copy_from_bbox(self.fig.bbox)
                for artist in moving:
                    artist.set_visible(True)
            self.canvas.restore_region(self.background)
            renderer = self.canvas.get_renderer()
            for artist in moving:
                artist.draw(renderer)
            width, height = self.canvas.get_width_height()
            frame = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
            frame = frame.convert("RGB")
            if self.palette is None:
                self.palette = frame.quantize(colors=64, method=Image.Quantize.FASTOCTREE)
            self._frames.append(frame.quantize(palette=self.palette, dither=Image.Dither.NONE))

    return QuickPillowWriter(fps=1000 / FRAME_MS)
