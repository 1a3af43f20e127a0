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
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from lesson_support.files import FIGURES, save_bytes, shown

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

    outdir: Path = FIGURES
    dpi: int = DEFAULT_DPI
    inline: bool = False  # in Jupyter or VS Code: show each figure under its cell instead of saving it
    show: bool = False  # also open the saved figures in windows at the end
    kept: list[Figure] = field(default_factory=list)

    def emit(self, fig: Figure, name: str) -> None:
        if self.inline:
            show_inline(png_bytes(fig, self.dpi), "image/png", describe(fig), round(fig.get_figwidth() * PAGE_DPI))
            return
        path = self.outdir / f"{name}.png"
        save_bytes(path, png_bytes(fig, self.dpi))  # whole or not at all, even if the run is stopped
        print(f"  figure saved: {shown(path)}")
        if self.show:
            self.kept.append(fig)

    def emit_animation(self, movie: Any, name: str) -> None:
        """Save an animation as a GIF, or show it under the cell in a notebook."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:  # Pillow writes a GIF to a file; it is moved into place whole
            drawn = Path(folder) / f"{name}.gif"
            movie.save_gif(drawn, self.dpi)
            data = drawn.read_bytes()
        if self.inline:
            show_inline(data, "image/gif", describe(movie.fig), round(movie.fig.get_figwidth() * PAGE_DPI))
            return
        path = self.outdir / f"{name}.gif"
        save_bytes(path, data)
        print(f"  animation saved: {shown(path)}")

    def open_windows(self) -> None:
        """Hand the kept figures to pyplot, which owns the windows, and wait until they are closed."""
        if not self.kept:
            return
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:  # MPLBACKEND names a window toolkit that is not installed
            print(f"--show: no window could be opened here ({error}), so the figures are only saved as PNG files.")
            return
        if plt.get_backend().lower() == "agg":  # matplotlib found no window system it can use
            print("--show: no window could be opened here, so the figures are only saved as PNG files.")
            return
        for fig in self.kept:
            fig.set_dpi(max(self.dpi, DEFAULT_DPI))
            plt.figure(fig)
        plt.show()


def describe(fig: Figure) -> str:
    """Alt text for a figure: its panels' titles."""
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    return "Figure: " + "; ".join(titles) if titles else "Figure"


def show_inline(data: bytes, kind: str, alt: str, width: int) -> None:
    """Show an image under the cell, with alt text, both as the image itself and as an HTML <img>.

    Jupyter shows the <img>; nbconvert's HTML export shows it too, where it would drop a GIF and
    write no alt text for a PNG. The image itself stays for tools that read only images.
    """
    import base64
    import html

    from IPython.display import display

    encoded = base64.b64encode(data).decode("ascii")
    tag = f'<img src="data:{kind};base64,{encoded}" width="{width}" alt="{html.escape(alt)}">'
    display({kind: encoded, "text/html": tag}, metadata={kind: {"width": width, "alt": alt}}, raw=True)


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


def backend_problem() -> str | None:
    """A sentence when MPLBACKEND names a backend matplotlib does not know, else None. Imports matplotlib."""
    try:
        import matplotlib  # noqa: F401  (it reads MPLBACKEND as it loads)
    except ValueError as error:
        if "backend" not in str(error):
            raise
        return (
            f"MPLBACKEND is set to '{os.environ.get('MPLBACKEND')}', a backend matplotlib does not know; unset it "
            "(unset MPLBACKEND; the lesson picks its own) or set it to one of matplotlib's, such as Agg."
        )
    return None


def unreachable_display() -> str | None:
    """Where Tk is installed but cannot open a window on the display named: a sentence saying so, else None."""
    try:
        import tkinter
    except ImportError:
        return None
    try:
        tkinter.Tk().destroy()
    except tkinter.TclError as error:
        where = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        return f"the display {where} could not be reached (Tk says: {error}); check DISPLAY, or the connection to it"
    return None


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


def band(ax: Axes, x: torch.Tensor, slope: float, bias: float, **style: object) -> Any:
    """A line drawn wide and pale underneath the others, so that a line lying on it stays visible."""
    return line(ax, x, slope, bias, **{"color": "0.7", "linewidth": 7, "solid_capstyle": "butt", "zorder": 1, **style})


def y_range_of(ax: Axes, y: torch.Tensor, margin: float = 0.25) -> None:
    """Fit the y-axis to the data, with room above and below: lines far off it leave the chart."""
    low, high = float(y.min()), float(y.max())
    ax.set_ylim(low - margin * (high - low), high + margin * (high - low))


def note(ax: Axes, text: str, corner: str = "upper left") -> Any:
    """A short note in a corner of the axes that the figure keeps clear of lines and points."""
    vertical, horizontal = corner.split()
    x = 0.02 if horizontal == "left" else 0.98
    y = 0.97 if vertical == "upper" else 0.03
    va = "top" if vertical == "upper" else "bottom"
    return ax.text(x, y, text, transform=ax.transAxes, ha=horizontal, va=va, fontsize=9, zorder=5)


def progression(
    ax: Axes,
    x: torch.Tensor,
    lines: dict[int, tuple[float, float]],
    step: str,
    extra: str = "",
    corner: str = "upper left",
) -> None:
    """Lines from the first (light) to the last (dark) step, over the points, named in one note instead of a legend."""
    from matplotlib import colormaps

    shades = colormaps["viridis_r"](torch.linspace(0.15, 1.0, len(lines)).tolist())
    for (slope, bias), shade in zip(lines.values(), shades, strict=True):
        line(ax, x, slope, bias, color=shade, zorder=4)
    steps = ", ".join(str(k) for k in lines)
    note(ax, f"{step} {steps}\n(light to dark){extra}", corner)


CONTOUR_LEVELS = torch.logspace(-2, 3, 16)  # J = 0.01 to 1000, three levels a decade
CONTOUR_POINTS = 121  # grid points each way for drawing contours: round rings, still one broadcast


def contour_grid(half_width: float) -> torch.Tensor:
    """Where to compute J for a contour plot: a fine grid, 10% wider than the range, so a start at its edge shows."""
    return torch.linspace(-1.1 * half_width, 1.1 * half_width, CONTOUR_POINTS)


def contour_of(
    ax: Axes, slopes: torch.Tensor, biases: torch.Tensor, costs: torch.Tensor, labelled: tuple[float, ...] = (10, 100)
) -> None:
    """The contour lines of J(w, b), log-spaced, on equal axes (so the steepest way down looks perpendicular).

    Only the levels that close inside the chart are drawn (no stray corners); the labelled ones are
    labelled up and to the right of the minimum, where the descent paths from the lower left do not go.
    """
    edge = min(float(costs[0].min()), float(costs[-1].min()), float(costs[:, 0].min()), float(costs[:, -1].min()))
    levels = [level for level in CONTOUR_LEVELS.tolist() if level < edge]
    contours = ax.contour(slopes, biases, costs, levels=levels, cmap="viridis", linewidths=1)
    shown = [level for level in levels if any(math.isclose(level, wanted) for wanted in labelled)]
    if shown:
        spots = _label_spots(slopes, biases, costs, shown)
        ax.clabel(contours, levels=shown, fontsize=MIN_FONT_PT, fmt="%.3g", manual=spots)
    ax.set_xlim(float(slopes[0]), float(slopes[-1]))
    ax.set_ylim(float(biases[0]), float(biases[-1]))
    ax.set_aspect("equal")
    ax.set_xlabel("slope w")
    ax.set_ylabel("bias b")


def _label_spots(
    slopes: torch.Tensor, biases: torch.Tensor, costs: torch.Tensor, levels: list[float]
) -> list[tuple[float, float]]:
    """Where each level's contour crosses the ray from the grid's lowest point, 60 degrees up and to the right."""
    row, column = divmod(int(costs.argmin()), len(slopes))
    reach = torch.linspace(0, float(slopes[-1] - slopes[0]), 4 * len(slopes))
    along_w = slopes[column] + 0.5 * reach
    along_b = biases[row] + 0.866 * reach
    inside = (along_w <= slopes[-1]) & (along_b <= biases[-1])
    along_w, along_b = along_w[inside], along_b[inside]
    columns = torch.searchsorted(slopes, along_w).clamp(max=len(slopes) - 1)
    rows = torch.searchsorted(biases, along_b).clamp(max=len(biases) - 1)
    on_ray = costs[rows, columns]
    spots = []
    for level in levels:
        past = torch.nonzero(on_ray >= level)
        k = int(past[0]) if len(past) else len(on_ray) - 1
        spots.append((float(along_w[k]), float(along_b[k])))
    return spots


def optimum_star(ax: Axes, optimum: tuple[float, float], **style: object) -> Any:
    (artist,) = ax.plot(*optimum, "k*", markersize=12, zorder=6, **style)
    return artist


# --- the lesson's figures ----------------------------------------------------------------------


@styled
def plot_data_and_lines(
    x: torch.Tensor, y: torch.Tensor, lines: dict[str, tuple[float, float]], costs: dict[str, float]
) -> Figure:
    fig, (ax,) = new_figure()
    points(ax, x, y)
    styles = {
        # The true line is drawn wide and pale underneath, so the least-squares line stays visible on top.
        "true f": {"color": "tab:orange", "linewidth": 7, "alpha": 0.5, "solid_capstyle": "butt"},
        "least squares": {"color": "k", "linestyle": "--", "linewidth": 1.5},
    }
    others = iter(
        [
            {"color": "tab:blue", "linestyle": "-"},
            {"color": "tab:purple", "linestyle": "-."},
            {"color": "tab:green", "linestyle": ":", "linewidth": 2},
        ]
    )
    for name, (slope, bias) in lines.items():
        style = styles[name] if name in styles else next(others)
        line(ax, x, slope, bias, label=f"{name}: J = {costs[name]:.4f}", **style)  # as the text prints it
    ax.set_title("noisy points, candidate lines and their cost")
    ax.legend(loc="upper left")
    return fig


@styled
def plot_slope_only(
    x: torch.Tensor, y: torch.Tensor, slopes: torch.Tensor, costs: torch.Tensor, runs: dict[str, Any]
) -> Figure:
    fig, (loss_ax, curve_ax, fit_ax) = new_figure(3, width=WIDE, height=3.2)
    for (name, run), color in zip(runs.items(), ("tab:blue", "tab:orange"), strict=False):
        visited = torch.tensor([w for (w,) in run.params])
        # The cost at every w visited, the last one included, so both panels count the same iterations.
        visited_costs = ((visited.reshape(-1, 1) * x.reshape(1, -1) - y.reshape(1, -1)) ** 2).mean(dim=1)
        loss_ax.plot(range(len(visited)), visited_costs, "o-", color=color, label=name)
        curve_ax.plot(visited, visited_costs, "o", color=color, label=name, zorder=3)
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
    # The lines all pass near the origin with a negative slope: the upper right stays clear for the note.
    progression(fit_ax, x, {k: (w, 0.0) for k, (w,) in enumerate(first.params)}, "iterations", corner="upper right")
    fit_ax.set_title(f"the line ({next(iter(runs))})")
    return fig


@styled
def plot_surface_3d(
    slopes: torch.Tensor,
    biases: torch.Tensor,
    costs: torch.Tensor,
    optimum: tuple[float, float],
    across_w: torch.Tensor,
    along_b: torch.Tensor,
) -> Figure:
    """The cost surface, with the two lines through its minimum: J(w, b*) across w and J(w*, b) along b."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.0), dpi=DEFAULT_DPI)
    ax = fig.add_subplot(projection="3d", computed_zorder=False)  # the two lines drawn over the surface
    fig.subplots_adjust(left=0.0, right=0.95, bottom=0.02, top=0.92)
    grid_w, grid_b = torch.meshgrid(slopes, biases, indexing="xy")
    ax.plot_surface(
        grid_w.numpy(),
        grid_b.numpy(),
        costs.numpy(),
        cmap="viridis",
        linewidth=0,
        rcount=15,
        ccount=15,
        alpha=0.8,
        zorder=1,
    )
    w_star, b_star = optimum
    ax.plot(slopes, torch.full_like(slopes, b_star), across_w, color="tab:red", linewidth=2.5, zorder=3)
    ax.plot(torch.full_like(biases, w_star), biases, along_b, color="k", linewidth=2.5, zorder=3)
    # Seen from higher than the default view: no wall in front hides the lines or folds over them.
    ax.view_init(elev=30, azim=-75)
    ax.locator_params(nbins=5)
    ax.set_xlabel("slope w")
    ax.set_ylabel("bias b")
    ax.set_zlabel("cost J(w, b)")
    ax.set_title("the cost surface: red across w, black along b, through the minimum")
    return fig


@styled
def plot_contour(
    slopes: torch.Tensor,
    biases: torch.Tensor,
    costs: torch.Tensor,
    paths: dict[str, Any],
    arrows: tuple[torch.Tensor, ...],
    optimum: tuple[float, float],
) -> Figure:
    fig, (ax,) = new_figure(width=6.4, height=4.6)
    fig.subplots_adjust(left=0.7 / 6.4, right=4.7 / 6.4)  # the square chart, then the legend beside it
    contour_of(ax, slopes, biases, costs)
    ax.quiver(*arrows, color="0.6", angles="xy", label="steepest descent\n(the -gradient)", zorder=2)
    # Two paths that meet near the minimum: unlike in colour, marker and line, and unlike the contours' colours.
    looks = ({"color": "tab:red", "marker": "o"}, {"color": "k", "marker": "s", "linestyle": "--", "mfc": "white"})
    for (name, run), look in zip(paths.items(), looks, strict=False):
        path = torch.tensor(run.params)
        ax.plot(path[:, 0], path[:, 1], markersize=4, label=name, zorder=4, **look)
    optimum_star(ax, optimum, label="least-squares\noptimum")
    ax.set_title("contours of J(w, b) and the descent paths")
    ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0)
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
def plot_fits(
    x: torch.Tensor, y: torch.Tensor, run: Any, every: int, optimum: tuple[float, float], lr: float
) -> Figure:
    fig, (ax,) = new_figure()
    points(ax, x, y)
    band(ax, x, *optimum)
    last = len(run.params) - 1
    shown = {k: run.params[k] for k in range(every, last + 1, every)}  # the start, far off, is the contour's
    shortfall = f"\ngrey band: least squares, b = {optimum[1]:.4f}\niteration {last}: b = {run.params[last][1]:.4f}"
    progression(ax, x, shown, "iterations", extra=shortfall)
    y_range_of(ax, y, margin=0.45)  # the first lines swing in from far outside; the last ones are what to look at
    ax.set_title(f"lr {lr:g}: after {last} iterations the line still sits low (b short)")
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
    """losses: the loss before each epoch's step, and after the last one (one more than the epochs)."""
    from matplotlib.ticker import LogLocator

    fig, (loss_ax, fit_ax) = new_figure(2, width=WIDE, height=3.8)
    # What is left above the least-squares loss: on a log scale the slow tail, still falling, shows.
    # (A loss that reached the least-squares loss in float32 rounding is drawn at a floor.)
    excess = (torch.tensor(losses, dtype=torch.float64) - best_loss).clamp(min=max(best_loss * 1e-6, 1e-12))
    loss_ax.plot(excess)
    log_scale(loss_ax)
    loss_ax.yaxis.set_major_locator(LogLocator(numticks=8))  # one tick a decade
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss - least-squares loss (log)")
    loss_ax.set_title("what is left above the least-squares loss")
    note(loss_ax, f"epoch {len(losses) - 1}: loss {losses[-1]:.5f},\nleast squares {best_loss:.5f}", "upper right")
    points(fit_ax, x, y, "distance (miles)", "time (minutes)")
    band(fit_ax, x, *optimum)
    progression(fit_ax, x, snapshots, "epochs", extra="\ngrey band: least squares")
    y_range_of(
        fit_ax,
        torch.cat([y.reshape(-1), torch.tensor([slope * float(x.min()) + b for slope, b in snapshots.values()])]),
        margin=0.08,
    )
    fit_ax.locator_params(axis="y", nbins=6)
    fit_ax.set_title("predictions improving over epochs")
    return fig


@styled
def plot_learning_rates(runs: dict[str, list[float]], ceiling: float) -> Figure:
    fig, (ax,) = new_figure(width=WIDE)
    fig.subplots_adjust(right=1 - 2.6 / WIDE)  # the chart, then the legend beside it: no curve under it
    lowest = min((loss for losses in runs.values() for loss in losses if loss > 0), default=ceiling / 1e6)
    floor = lowest / 3
    for name, losses in runs.items():
        (drawn,) = ax.plot(losses, label=name)
        escaped = next((epoch for epoch, loss in enumerate(losses) if loss > ceiling), 0)
        if escaped:  # a run that leaves the chart: its points well inside it, and an arrow where it crosses the top
            kept = [(epoch, loss) for epoch, loss in enumerate(losses) if floor * 1.5 < loss < ceiling / 1.5]
            ax.plot(*zip(*kept, strict=True), "o", markersize=4, color=drawn.get_color())
            below, above = math.log(losses[escaped - 1]), math.log(losses[escaped])
            crossing = escaped - 1 + (math.log(ceiling) - below) / (above - below)
            ax.annotate(
                f"{name.split(' (')[0]} leaves the chart\n(loss above {ceiling:g} from epoch {escaped})",
                xy=(crossing, ceiling),
                xytext=(0.07 * max(len(others) for others in runs.values()), ceiling * 0.7),
                arrowprops={"arrowstyle": "->", "color": drawn.get_color()},
                color=drawn.get_color(),
                fontsize=9,
                va="top",
            )
    log_scale(ax)
    ax.set_ylim(floor, ceiling)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (log scale)")
    ax.set_title(f"the same data and start, {len(runs)} step sizes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0)
    return fig


@styled
def plot_workflow(
    val_losses: dict[float, list[float]],
    chosen: float,
    predicted: torch.Tensor,
    actual: torch.Tensor,
    baseline: float,
    judged: int,
) -> Figure:
    """The validation loss of each candidate step size per epoch, the judged epochs close up, and the test rows."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    fig, (loss_ax, judged_ax, fit_ax) = new_figure(3, width=WIDE, height=4.3)
    fig.subplots_adjust(left=0.6 / WIDE, bottom=1.15 / 4.3, wspace=0.42)  # the legend goes below the charts
    epochs = len(next(iter(val_losses.values())))
    first_judged = epochs - judged + 1
    means = {lr: sum(losses[-judged:]) / judged for lr, losses in val_losses.items()}
    close = {lr for lr, mean in means.items() if mean <= 1.5 * means[chosen]}  # near the chosen: the close-up's
    for lr, losses in val_losses.items():
        style = {"linewidth": 2.4} if lr == chosen else {"linewidth": 1.2}
        label = f"lr {lr:g}" + (" (chosen)" if lr == chosen else "")
        (drawn,) = loss_ax.plot(range(1, epochs + 1), losses, label=label, **style)
        if lr in close:
            color = drawn.get_color()
            judged_ax.plot(range(first_judged, epochs + 1), losses[-judged:], "o:", color=color, markersize=3)
            judged_ax.plot(
                [first_judged, epochs], [means[lr]] * 2, color=color, gid=f"mean lr {lr:g}", **style
            )  # the mean the validation set chooses by
    loss_ax.axvspan(first_judged - 0.5, epochs + 0.5, color="0.92", zorder=0, label=f"the {judged} epochs judged")
    log_scale(loss_ax)
    loss_ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 2, 5, 10, 20, ...: the floor near σ² reads off
    loss_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("validation loss (log scale)")
    loss_ax.set_title("every epoch")
    judged_ax.set_xlim(first_judged - 0.5, epochs + 0.5)
    judged_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    judged_ax.set_xlabel("epoch")
    judged_ax.set_ylabel("validation loss")
    judged_ax.set_title(f"the last {judged}; solid: their mean")
    actual, predicted = actual.reshape(-1).cpu(), predicted.reshape(-1).cpu()
    ends = [float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))]
    fit_ax.plot(ends, ends, color="0.7", linewidth=5, solid_capstyle="butt", zorder=1, label="test: predicted = actual")
    fit_ax.axhline(baseline, color="tab:red", linestyle="--", linewidth=1.2, label=f"baseline: the mean {baseline:.1f}")
    fit_ax.plot(actual, predicted, "o", markersize=4, color="tab:blue", zorder=3, label="test: the chosen model")
    fit_ax.locator_params(nbins=5)
    fit_ax.set_xlabel("actual minutes (test rows)")
    fit_ax.set_ylabel("predicted minutes")
    fit_ax.set_title("the test rows, chosen model")
    (lines, names), (marks, meanings) = loss_ax.get_legend_handles_labels(), fit_ax.get_legend_handles_labels()
    handles, labels = lines + marks, names + meanings
    fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0))  # below the charts
    fig.suptitle("the validation set chooses the step size", y=0.99, fontsize=STYLE["axes.titlesize"])
    return fig
