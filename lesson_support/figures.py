"""The lesson's figures: one place decides where they go, and each plot function returns a Figure.

Every function here draws from numbers the lesson already computed. matplotlib is imported inside
the functions, so `python lesson.py --no-plots` never loads it.

Sizes: a figure's inches times 96 is its width on a page (README.md shows each at that width), so
a font of 8 pt in the figure reads as 8 pt there. The README's PNGs are drawn at 192 dpi, twice
that, to stay crisp on high-density screens; a learner's run uses 100 dpi, which draws faster.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DEFAULT_DPI = 100  # a learner's run: readable in a window, quick to draw
PAGE_DPI = 96  # pixels per figure inch where a page shows it
MIN_FONT_PT = 8  # nothing smaller: ticks, legends and notes stay readable at page size
WIDE = 8.4  # inches: the widest figure, 806 px on a page
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    # A fixed title height: otherwise every title is placed by measuring the tick labels below it,
    # which costs more than drawing the rest of the axes.
    "axes.titley": 1.0,
    "axes.titlepad": 5.0,
}

F = TypeVar("F", bound=Callable[..., Any])


def styled(function: F) -> F:
    """Run a plot function with the lesson's font sizes in force (they are read as artists are made)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- where figures go --------------------------------------------------------------------------


@dataclass
class FigureOutput:
    """The one place that decides whether a figure is saved as PNG, kept for a window, or shown inline."""

    outdir: Path = Path("figures")
    dpi: int = DEFAULT_DPI
    inline: bool = False  # in Jupyter or VS Code: show each figure under its cell instead of saving it
    show: bool = False  # also open the saved figures in windows at the end
    kept: list[Figure] = field(default_factory=list)

    def emit(self, fig: Figure, name: str) -> None:
        if self.inline:
            from IPython.display import Image, display

            display(Image(data=png_bytes(fig, self.dpi), width=round(fig.get_figwidth() * PAGE_DPI)))
            return
        path = self.outdir / f"{name}.png"
        save_png(fig, path, self.dpi)
        print(f"  figure saved: {path}")
        if self.show:
            self.kept.append(fig)

    def emit_animation(self, movie: Any, name: str) -> None:
        """Save an animation as a GIF, or show it under the cell in a notebook."""
        if self.inline:
            import tempfile

            from IPython.display import Image, display

            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"{name}.gif"
                movie.save_gif(path, self.dpi)
                data = path.read_bytes()
            display(Image(data=data, format="gif", width=round(movie.fig.get_figwidth() * PAGE_DPI)))
            return
        path = self.outdir / f"{name}.gif"
        movie.save_gif(path, self.dpi)
        print(f"  animation saved: {path}")

    def open_windows(self) -> None:
        """Hand the kept figures to pyplot, which owns the windows, and wait until they are closed."""
        if not self.kept:
            return
        import matplotlib.pyplot as plt

        if plt.get_backend().lower() == "agg":  # matplotlib found no window system it can use
            print("--show: no window could be opened here, so the figures are only saved as PNG files.")
            return
        for fig in self.kept:
            fig.set_dpi(max(self.dpi, DEFAULT_DPI))
            plt.figure(fig)
        plt.show()


def save_png(fig: Figure, target: Path | io.BytesIO, dpi: int) -> None:
    # compress_level 1: a slightly larger file, written several times faster than the default.
    fig.savefig(target, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})


def png_bytes(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    save_png(fig, buffer, dpi)
    return buffer.getvalue()


def use_files_only() -> None:
    """Draw into files and memory only: works with or without a display."""
    import matplotlib

    matplotlib.use("Agg")


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# --- building blocks ---------------------------------------------------------------------------


def new_figure(panels: int = 1, width: float = 6.4, height: float = 4.2) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DEFAULT_DPI)
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    for ax in axes:
        ax.locator_params(nbins=4)  # a few round ticks are easier to read, and each costs drawing time
    # Fixed margins: an automatic layout engine would measure every label first, at several
    # times the cost of drawing the figure.
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.5 / height, top=1 - 0.4 / height)
    fig.subplots_adjust(wspace=0.45 if panels > 1 else 0.2)
    return fig, axes


def log_scale(ax: Axes, which: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter, NullLocator

    # Plain tick labels such as 0.01 instead of math text: clearer to read and far cheaper to draw.
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())  # eight unlabelled ticks a decade add clutter and drawing time


def points(ax: Axes, x: torch.Tensor, y: torch.Tensor, xlabel: str = "x", ylabel: str = "y") -> None:
    ax.plot(x.reshape(-1).cpu(), y.reshape(-1).cpu(), "o", markersize=4, color="0.35", label="data", zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def line(ax: Axes, x: torch.Tensor, slope: float, bias: float, **style: object) -> Any:
    ends = torch.tensor([float(x.min()), float(x.max())])
    (artist,) = ax.plot(ends, slope * ends + bias, **style)
    return artist


def progression(ax: Axes, x: torch.Tensor, lines: dict[int, tuple[float, float]], step: str, note: str = "") -> None:
    """Lines from the first (light) to the last (dark) step, named in one note instead of a legend."""
    from matplotlib import colormaps

    shades = colormaps["viridis_r"](torch.linspace(0.15, 1.0, len(lines)).tolist())
    for (slope, bias), shade in zip(lines.values(), shades, strict=True):
        line(ax, x, slope, bias, color=shade)
    steps = ", ".join(str(k) for k in lines)
    ax.text(0.02, 0.97, f"{step} {steps}\n(light to dark){note}", transform=ax.transAxes, va="top", fontsize=9)


# --- the lesson's figures ----------------------------------------------------------------------


@styled
def plot_data_and_lines(
    x: torch.Tensor, y: torch.Tensor, lines: dict[str, tuple[float, float]], costs: dict[str, float]
) -> Figure:
    fig, (ax,) = new_figure()
    points(ax, x, y)
    styles = {
        "true f": {"color": "tab:orange", "linewidth": 6, "alpha": 0.45, "solid_capstyle": "butt"},
        "least squares": {"color": "k", "linestyle": "--", "linewidth": 1.5},
    }
    others = iter([{"linestyle": "-"}, {"linestyle": "-."}, {"linestyle": ":", "linewidth": 2}])
    for name, (slope, bias) in lines.items():
        # The true line is drawn wide and pale underneath, so the least-squares line stays visible on top.
        style = styles[name] if name in styles else next(others)
        line(ax, x, slope, bias, label=f"{name}: J = {costs[name]:.3g}", **style)
    ax.set_title("noisy points, candidate lines and their cost")
    ax.legend(loc="upper left")
    return fig


@styled
def plot_slope_only(
    x: torch.Tensor, y: torch.Tensor, slopes: torch.Tensor, costs: torch.Tensor, runs: dict[str, Any]
) -> Figure:
    fig, (loss_ax, curve_ax, fit_ax) = new_figure(3, width=WIDE, height=3.2)
    for (name, run), color in zip(runs.items(), ("tab:blue", "tab:orange"), strict=False):
        loss_ax.plot(range(len(run.losses)), run.losses, "o-", color=color, label=name)
        visited = torch.tensor([w for (w,) in run.params[:-1]])
        curve_ax.plot(visited, run.losses, "o", color=color, label=name)
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("cost J(w)")
    loss_ax.set_title("cost per iteration")
    loss_ax.legend()
    curve_ax.plot(slopes, costs, color="0.3", zorder=1)
    curve_ax.set_xlabel("slope w")
    curve_ax.set_ylabel("cost J(w)")
    curve_ax.set_title("J(w), visited points")
    points(fit_ax, x, y)
    first = next(iter(runs.values()))
    progression(fit_ax, x, {k: (w, 0.0) for k, (w,) in enumerate(first.params)}, "iterations")
    fit_ax.set_title(f"the line ({next(iter(runs))})")
    return fig


@styled
def plot_surface_3d(slopes: torch.Tensor, biases: torch.Tensor, costs: torch.Tensor) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.0), dpi=DEFAULT_DPI)
    ax = fig.add_subplot(projection="3d")
    fig.subplots_adjust(left=0.0, right=0.95, bottom=0.02, top=0.95)
    grid_w, grid_b = torch.meshgrid(slopes, biases, indexing="xy")
    ax.plot_surface(grid_w.numpy(), grid_b.numpy(), costs.numpy(), cmap="viridis", linewidth=0, rcount=15, ccount=15)
    ax.locator_params(nbins=5)
    ax.set_xlabel("slope w")
    ax.set_ylabel("bias b")
    ax.set_zlabel("cost J(w, b)")
    ax.set_title("the cost surface")
    return fig


def contour_of(ax: Axes, slopes: torch.Tensor, biases: torch.Tensor, costs: torch.Tensor) -> None:
    """The contour lines of J(w, b), log-spaced, every third one labelled."""
    contours = ax.contour(slopes, biases, costs, levels=torch.logspace(-2, 3, 16).tolist(), cmap="viridis")
    ax.clabel(contours, levels=contours.levels[::3], fontsize=MIN_FONT_PT, fmt="%.3g")
    ax.set_xlabel("slope w")
    ax.set_ylabel("bias b")


@styled
def plot_contour(
    slopes: torch.Tensor,
    biases: torch.Tensor,
    costs: torch.Tensor,
    paths: dict[str, Any],
    arrows: tuple[torch.Tensor, ...],
    optimum: tuple[float, float],
) -> Figure:
    fig, (ax,) = new_figure(height=5.0)
    contour_of(ax, slopes, biases, costs)
    ax.quiver(*arrows, color="0.6", angles="xy", label="-gradient (steepest descent)")
    for (name, run), color in zip(paths.items(), ("tab:red", "tab:orange"), strict=False):
        path = torch.tensor(run.params)
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=4, label=name)
    ax.plot(*optimum, "k*", markersize=12, label="least-squares optimum")
    ax.set_title("contours of J(w, b) and the descent paths")
    ax.legend(loc="upper right", framealpha=0.95)
    return fig


@styled
def plot_slices(offsets: torch.Tensor, slices: dict[str, torch.Tensor]) -> Figure:
    fig, (ax,) = new_figure()
    for (name, costs), color in zip(slices.items(), ("tab:blue", "tab:orange"), strict=True):
        ax.plot(offsets, costs, color=color, label=name)
    ax.set_xlabel("distance d from the optimum")
    ax.set_ylabel("cost J")
    ax.set_title("two slices through the minimum")
    ax.legend(loc="upper center")
    return fig


@styled
def plot_fits(x: torch.Tensor, y: torch.Tensor, run: Any, every: int) -> Figure:
    fig, (ax,) = new_figure()
    points(ax, x, y)
    progression(ax, x, {k: run.params[k] for k in range(0, len(run.params), every)}, "iterations")
    ax.set_title("the line improving over the iterations")
    return fig


@styled
def plot_training(
    x: torch.Tensor,
    y: torch.Tensor,
    losses: list[float],
    snapshots: dict[int, tuple[float, float]],
    optimum: tuple[float, float],
    best_loss: float,
) -> Figure:
    fig, (loss_ax, fit_ax) = new_figure(2, width=WIDE, height=3.8)
    loss_ax.plot(losses)
    loss_ax.axhline(best_loss, color="0.5", linestyle="--")
    loss_ax.text(len(losses) - 1, best_loss * 1.15, "least-squares loss", ha="right", va="bottom", color="0.3")
    log_scale(loss_ax)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("MSE loss (log scale)")
    loss_ax.set_title("loss curve")
    points(fit_ax, x, y, "distance (miles)", "time (minutes)")
    progression(fit_ax, x, snapshots, "epochs", note="\ndotted: least squares")
    line(fit_ax, x, *optimum, color="k", linestyle=":")
    fit_ax.set_title("predictions improving over epochs")
    return fig


@styled
def plot_learning_rates(runs: dict[str, list[float]], ceiling: float) -> Figure:
    fig, (ax,) = new_figure()
    for name, losses in runs.items():
        ax.plot([min(loss, ceiling) for loss in losses], label=name)
    log_scale(ax)
    ax.set_ylim(top=ceiling)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"MSE loss (log scale, clipped at {ceiling:g})")
    ax.set_title("the same data, four step sizes")
    ax.legend()
    return fig


@styled
def plot_workflow(
    batch_losses: list[float], train_losses: list[float], val_losses: list[float], batches_per_epoch: int
) -> Figure:
    """Each mini-batch step's loss, faint and noisy, under the training and validation loss of each epoch."""
    fig, (ax,) = new_figure()
    steps = [(k + 1) / batches_per_epoch for k in range(len(batch_losses))]  # in epochs: step k ends at (k+1)/batches
    ax.plot(steps, batch_losses, color="0.6", linewidth=0.8, label="one mini-batch step")
    epochs = range(1, len(train_losses) + 1)
    ax.plot(epochs, train_losses, "o-", color="tab:blue", markersize=4, label="training rows, after each epoch")
    ax.plot(epochs, val_losses, "s-", color="tab:orange", markersize=4, label="validation rows, after each epoch")
    log_scale(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (log scale)")
    ax.set_title("mini-batch losses, and the loss per epoch")
    ax.legend(loc="upper right")
    return fig
