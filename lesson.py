"""Linear regression with PyTorch, from y = w·x + b to a trained model.

The lesson computes everything it says: predictions with ``nn.Linear`` and a custom
``nn.Module``; noisy data and the mean squared error; gradient descent by hand on the slope,
then on slope and bias, with ``requires_grad``, ``.backward()``, ``.grad`` and ``.grad.zero_()``;
the cost surface; the ``nn.MSELoss`` + ``optim.SGD`` loop on the distance/time data; and why
the step size decides whether training converges.

Run it:

    python lesson.py                       # every section, figures saved under figures/
    python lesson.py --section training    # one section (repeat --section for more)
    python lesson.py --list                # the section names
    python lesson.py --no-plots            # text only; matplotlib is not imported
    python lesson.py --show                # also open the figures where there is a display

Check the exercises with ``python -m pytest``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import functools
import gc
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn, optim

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"
DISTANCE_TIME_CSV = DATA_DIR / "distance_time.csv"  # the article's four deliveries
DISTANCE_COLUMN = "distance_miles"
TIME_COLUMN = "time_minutes"

SEED = 42  # every section reseeds with it, so one section alone prints what the full run does
OUTDIR = Path("figures")  # where figures are saved, relative to the working folder

# Lab settings for the hand-written gradient descent (sections 3 and 4).
NOISE_STD = 0.1  # σ of the Gaussian noise added to the labs' lines
SLOPE_ONLY_TRUE = (-3.0, 0.0)  # the line f(x) = -3·x the slope-only lab learns
SLOPE_ONLY_START = -10.0  # w at the start, as in the lab
SLOPE_ONLY_PRACTICE_START = -15.0  # the lab's practice start
SLOPE_ONLY_LR = 0.1
SLOPE_ONLY_EPOCHS = 4
SLOPE_BIAS_TRUE = (1.0, -1.0)  # the line f(x) = x - 1 of the slope-and-bias lab
SLOPE_BIAS_START = (-15.0, -10.0)  # (w, b) at the start
SLOPE_BIAS_LR = 0.1
SLOPE_BIAS_PRACTICE_LR = 0.2  # the lab's practice step size
SLOPE_BIAS_EPOCHS = 15
SURFACE_RANGE = 15.0  # the cost surface spans [-15, 15] in w and in b
SURFACE_POINTS = 30  # grid points each way

# The article's training run (section 5).
TRAIN_LR = 0.01
TRAIN_EPOCHS = 500
LOG_EVERY = 50
NEW_DISTANCES = (5.0, 7.0, 10.0)  # miles to predict for after training
SNAPSHOT_EPOCHS = (0, 10, 50, 150, 500)  # epochs whose line the training figure draws

# The step-size study (section 6).
SMALL_LR = 0.001
LARGE_LR_FACTOR = 1.75  # the too-large step is this multiple of the largest stable one
RATE_EPOCHS = 60

# The exercises (section 7): marker, file, task.
EXERCISES = (
    ("ex1", "exercises/ex1_height_weight.py", "predict weight from height"),
    ("ex2", "exercises/ex2_optimizer_comparison.py", "SGD against Adam"),
    ("ex3", "exercises/ex3_loss_curve.py", "record and plot the loss curve"),
)

FIGURE_DPI = 72  # enough for a screen; higher dpi mostly costs rendering time


class DatasetError(ValueError):
    """A data file that cannot be used; the message names the file and the line."""


class DivergenceError(RuntimeError):
    """Training whose loss stopped being a finite number."""

    def __init__(self, message: str, epoch: int, lr: float, losses: list[float]) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.lr = lr
        self.losses = losses  # the finite losses recorded before it diverged


# %% [markdown]
# # Part A: the pieces
# Data loading, the model, the cost and its closed-form minimum, and the training loops.
# These functions compute and return; they never print or plot, so tests and exercises
# can use them.


# %%
def load_csv(path: str | os.PathLike[str], x_column: str, y_column: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read two numeric columns of a CSV file as float32 tensors of shape (n, 1)."""
    path = Path(path)
    try:
        with path.open(
            newline="", encoding="utf-8-sig"
        ) as handle:  # -sig: files saved by spreadsheets start with a BOM
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file; check the path or restore it with git checkout.") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a folder, not a CSV file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot be read as a UTF-8 text file ({error}).") from None

    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise DatasetError(f"{path}: the file is empty; it needs a header line and at least 2 data rows.")
    _, header = numbered[0]
    header = [name.strip() for name in header]
    for column in (x_column, y_column):
        if column not in header:
            raise DatasetError(f"{path}, line 1: no column named '{column}'; the header has {', '.join(header)}.")
    body = numbered[1:]
    if not body:
        raise DatasetError(f"{path}: the file has a header but no data rows; add at least 2 rows of numbers.")

    x_index, y_index = header.index(x_column), header.index(y_column)
    xs, ys = [], []
    for number, row in body:
        if len(row) != len(header):
            raise DatasetError(
                f"{path}, line {number}: {len(row)} cells where the header has {len(header)}; "
                "every row needs one value per column."
            )
        for index, values in ((x_index, xs), (y_index, ys)):
            cell = row[index].strip()
            try:
                value = float(cell)
            except ValueError:
                raise DatasetError(
                    f"{path}, line {number}: '{cell}' in column '{header[index]}' is not a number."
                ) from None
            # float32 is what the model computes in, so 1e39 is as unusable as 'inf'.
            if not math.isfinite(value) or not math.isfinite(torch.tensor(value).item()):
                raise DatasetError(
                    f"{path}, line {number}: '{cell}' in column '{header[index]}' is not a finite float32 number."
                )
            values.append(value)
    if len(xs) < 2:
        raise DatasetError(f"{path}: {len(xs)} data row; a line needs at least 2 points to be fitted.")
    return torch.tensor(xs).view(-1, 1), torch.tensor(ys).view(-1, 1)


def load_distance_time() -> tuple[torch.Tensor, torch.Tensor]:
    """The article's four deliveries: distances (miles) and times (minutes), each (4, 1)."""
    return load_csv(DISTANCE_TIME_CSV, DISTANCE_COLUMN, TIME_COLUMN)


def make_line_data(
    slope: float, intercept: float, noise_std: float = NOISE_STD, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points x = -3.0, -2.9, ..., 2.9 (60, 1) and y = slope·x + intercept + noise_std·N(0, 1)."""
    x = torch.arange(-3, 3, 0.1).view(-1, 1)  # (60, 1)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator)
    return x, slope * x + intercept + noise_std * noise


class LinearRegression(nn.Module):
    """A line y = x·wᵀ + b, written as a module that holds one nn.Linear layer."""

    def __init__(self, input_size: int = 1, output_size: int = 1) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean squared error, written out; refuses shapes that would silently broadcast."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions have shape {tuple(predictions.shape)} but targets {tuple(targets.shape)}; "
            "make both (n, 1), for example with .view(-1, 1), or the difference broadcasts to a grid."
        )
    return ((predictions - targets) ** 2).mean()


def _as_float64(x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    x64 = x.detach().reshape(-1).double().cpu()
    return x64, None if y is None else y.detach().reshape(-1).double().cpu()


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The closed-form line (w, b) of least mean squared error through the points."""
    x64, y64 = _as_float64(x, y)
    spread = x64 - x64.mean()
    if float((spread**2).sum()) == 0.0:
        raise ValueError("all x values are equal, so no single line fits best; use at least two different x.")
    slope = float((spread * (y64 - y64.mean())).sum() / (spread**2).sum())
    return slope, float(y64.mean()) - slope * float(x64.mean())


def hessian(x: torch.Tensor) -> torch.Tensor:
    """The Hessian of the MSE of a line in (w, b); it depends on x alone: 2·[[mean x², mean x], [mean x, 1]]."""
    x64, _ = _as_float64(x)
    m1, m2 = float(x64.mean()), float((x64**2).mean())
    return 2 * torch.tensor([[m2, m1], [m1, 1.0]], dtype=torch.float64)


def max_stable_lr(x: torch.Tensor) -> float:
    """The largest step size 2/λmax for which gradient descent on a line's MSE does not diverge."""
    return 2.0 / float(torch.linalg.eigvalsh(hessian(x)).max())


def cost_surface(x: torch.Tensor, y: torch.Tensor, slopes: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
    """The MSE of every line: entry [i, j] is the cost of slope slopes[j] with bias biases[i]."""
    x, y = x.reshape(1, 1, -1), y.reshape(1, 1, -1)  # (1, 1, n)
    predictions = slopes.reshape(1, -1, 1) * x + biases.reshape(-1, 1, 1)  # (len(biases), len(slopes), n)
    return ((predictions - y) ** 2).mean(dim=-1)


def gradient_formula(x: torch.Tensor, y: torch.Tensor, slope: float, bias: float) -> tuple[float, float]:
    """(∂J/∂w, ∂J/∂b) of J = mean((w·x + b - y)²), from calculus: 2·mean(r·x) and 2·mean(r)."""
    x64, y64 = _as_float64(x, y)
    residuals = slope * x64 + bias - y64
    return float(2 * (residuals * x64).mean()), float(2 * residuals.mean())


def gd_prediction(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, epochs: int
) -> tuple[float, float]:
    """Where `epochs` gradient-descent steps from `start` land, by linear algebra instead of a loop.

    On a quadratic cost each step maps the error θ - θ* to (I - lr·H)(θ - θ*), so after k steps
    the error is (I - lr·H)^k (θ0 - θ*).
    """
    optimum = torch.tensor(least_squares(x, y), dtype=torch.float64)
    step = torch.eye(2, dtype=torch.float64) - lr * hessian(x)
    error = torch.linalg.matrix_power(step, epochs) @ (torch.tensor(start, dtype=torch.float64) - optimum)
    slope, bias = (optimum + error).tolist()
    return slope, bias


@dataclass
class History:
    """A manual gradient-descent run: losses[k] is the cost at params[k]; params ends with the final values."""

    losses: list[float] = field(default_factory=list)
    params: list[tuple[float, ...]] = field(default_factory=list)


def _divergence(epoch: int, lr: float, loss: float, x: torch.Tensor, losses: list[float]) -> DivergenceError:
    hint = ""
    if x.dim() == 2 and x.shape[1] == 1:
        hint = (
            f" (for a line fitted by gradient descent on these inputs, steps below {max_stable_lr(x):.4g} are stable)"
        )
    what = "overflowed to infinity" if math.isinf(loss) else "stopped being a number"
    return DivergenceError(
        f"training diverged at epoch {epoch}: with step size lr={lr:g} the loss {what}; "
        f"use a smaller step size{hint}, or scale the inputs.",
        epoch,
        lr,
        losses,
    )


def _gradient_descent(
    x: torch.Tensor, y: torch.Tensor, start: Sequence[float], lr: float, epochs: int, with_bias: bool
) -> History:
    slope = torch.tensor(float(start[0]), device=x.device, requires_grad=True)
    bias = torch.tensor(float(start[1]) if with_bias else 0.0, device=x.device, requires_grad=with_bias)
    parameters = [slope, bias] if with_bias else [slope]
    for parameter in parameters:
        # autograd creates .grad on the first backward(); starting it at zero lets every
        # step begin the same way, with zero_().
        parameter.grad = torch.zeros_like(parameter)

    def current() -> tuple[float, ...]:
        return tuple(parameter.item() for parameter in parameters)

    history = History(params=[current()])
    for epoch in range(epochs):
        # zero
        for parameter in parameters:
            parameter.grad.zero_()
        # forward
        predictions = slope * x + bias
        # loss
        loss = mse(predictions, y)
        value = loss.item()
        if not math.isfinite(value):
            raise _divergence(epoch, lr, value, x, history.losses)
        history.losses.append(value)
        # backward
        loss.backward()
        # update, outside autograd's record: the step itself is not part of the model
        with torch.no_grad():
            for parameter in parameters:
                parameter -= lr * parameter.grad
        history.params.append(current())
    return history


def train_slope(x: torch.Tensor, y: torch.Tensor, w0: float, lr: float, epochs: int) -> History:
    """Gradient descent by hand on the slope of y ≈ w·x; params holds (w,) tuples."""
    return _gradient_descent(x, y, (w0,), lr, epochs, with_bias=False)


def train_slope_and_bias(x: torch.Tensor, y: torch.Tensor, w0: float, b0: float, lr: float, epochs: int) -> History:
    """Gradient descent by hand on slope and bias of y ≈ w·x + b; params holds (w, b) tuples."""
    return _gradient_descent(x, y, (w0, b0), lr, epochs, with_bias=True)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: optim.Optimizer,
    epochs: int,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    log_every: int = 0,
) -> list[float]:
    """Train in place; return each epoch's loss, taken in its forward pass before its step.

    With log_every > 0, prints the loss of every log_every-th epoch. Raises DivergenceError
    when the loss stops being finite.
    """
    loss_fn = mse if loss_fn is None else loss_fn
    held = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
    if not all(id(parameter) in held for parameter in model.parameters()):
        raise ValueError("the optimizer does not hold this model's parameters; build it from model.parameters().")
    lr = optimizer.param_groups[0]["lr"]
    losses: list[float] = []
    for epoch in range(epochs):
        # zero
        optimizer.zero_grad()
        # forward
        predictions = model(x)
        if predictions.shape != y.shape:
            raise ValueError(
                f"the model returns shape {tuple(predictions.shape)} but the targets are {tuple(y.shape)}; "
                "make them match, or the loss broadcasts silently."
            )
        # loss
        loss = loss_fn(predictions, y)
        value = loss.item()
        if not math.isfinite(value):
            raise _divergence(epoch, lr, value, x, losses)
        losses.append(value)
        if log_every and epoch % log_every == 0:
            log_loss(epoch, value)
        # backward
        loss.backward()
        # step
        optimizer.step()
    return losses


def log_loss(epoch: int, loss: float) -> None:
    """The training log's line: `  epoch   50   loss 0.0394`."""
    print(f"  epoch {epoch:4d}   loss {loss:.4f}")


def line_of(model: nn.Module) -> tuple[float, float]:
    """The (w, b) of a model whose only layer is one nn.Linear(1, 1)."""
    weight, bias = (parameter.detach().reshape(-1) for parameter in model.parameters())
    return weight.item(), bias.item()


# %% [markdown]
# # Part B: the figures
# Each function draws one figure from numbers already computed and returns it; `Lesson.emit`
# is the one place that saves or shows it.


# %%
def _figure_style() -> contextlib.AbstractContextManager[None]:
    import matplotlib

    # A fixed title height: otherwise every title is placed by measuring the tick labels below it,
    # which costs more than drawing the rest of the axes.
    return matplotlib.rc_context({"axes.titley": 1.0})


def _figure(panels: int = 1, width: float = 4.2, height: float = 3.3) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure  # imported here so that --no-plots never loads matplotlib

    with _figure_style():
        fig = Figure(figsize=(width * panels, height), dpi=FIGURE_DPI)
        axes = list(fig.subplots(1, panels, squeeze=False)[0])
    for ax in axes:
        ax.locator_params(nbins=4)  # a few round ticks are easier to read, and each costs drawing time
    # Fixed margins: an automatic layout engine would measure every label first, at several
    # times the cost of drawing the figure.
    fig.subplots_adjust(
        left=0.75 / (width * panels), right=1 - 0.15 / (width * panels), bottom=0.15, top=0.9, wspace=0.35
    )
    return fig, axes


def _log_scale(ax: Axes, which: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter, NullLocator

    # Plain tick labels such as 0.01 instead of math text: clearer to read and far cheaper to draw.
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())  # eight unlabelled ticks a decade add clutter and drawing time


def _points(ax: Axes, x: torch.Tensor, y: torch.Tensor, xlabel: str = "x", ylabel: str = "y") -> None:
    ax.plot(x.reshape(-1).cpu(), y.reshape(-1).cpu(), "o", markersize=3.5, color="0.35", label="data", zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _line(ax: Axes, x: torch.Tensor, slope: float, bias: float, **style: object) -> None:
    ends = torch.tensor([float(x.min()), float(x.max())])
    ax.plot(ends, slope * ends + bias, **style)


def _progression(ax: Axes, x: torch.Tensor, lines: dict[int, tuple[float, float]], step: str, note: str = "") -> None:
    """Lines from the first (light) to the last (dark) step, named in one note instead of a legend."""
    from matplotlib import colormaps

    shades = colormaps["viridis_r"](torch.linspace(0.15, 1.0, len(lines)).tolist())
    for (slope, bias), shade in zip(lines.values(), shades, strict=True):
        _line(ax, x, slope, bias, color=shade)
    steps = ", ".join(str(k) for k in lines)
    ax.text(0.02, 0.97, f"{step} {steps}\n(light to dark){note}", transform=ax.transAxes, va="top", fontsize=8)


def plot_data_and_lines(
    x: torch.Tensor, y: torch.Tensor, lines: dict[str, tuple[float, float]], costs: dict[str, float]
) -> Figure:
    fig, (ax,) = _figure(1, width=5.4)
    _points(ax, x, y)
    for (name, (slope, bias)), style in zip(lines.items(), ("--", "-", ":", "-.", "-"), strict=True):
        _line(ax, x, slope, bias, linestyle=style, label=f"{name}: J = {costs[name]:.3g}")
    ax.set_title("noisy points, candidate lines and their cost")
    ax.legend(fontsize=8)
    return fig


def plot_slope_only(
    x: torch.Tensor, y: torch.Tensor, slopes: torch.Tensor, costs: torch.Tensor, runs: dict[str, History]
) -> Figure:
    fig, (loss_ax, curve_ax, fit_ax) = _figure(3)
    for (name, run), color in zip(runs.items(), ("tab:blue", "tab:orange"), strict=False):
        loss_ax.plot(range(len(run.losses)), run.losses, "o-", color=color, label=name)
        visited = torch.tensor([w for (w,) in run.params[:-1]])
        curve_ax.plot(visited, run.losses, "o", color=color, label=name)
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("cost J(w)")
    loss_ax.set_title("cost per iteration")
    loss_ax.legend(fontsize=8)
    curve_ax.plot(slopes, costs, color="0.3", zorder=1)
    curve_ax.set_xlabel("slope w")
    curve_ax.set_ylabel("cost J(w)")
    curve_ax.set_title("J(w) and the visited points")
    _points(fit_ax, x, y)
    first = next(iter(runs.values()))
    _progression(fit_ax, x, {k: (w, 0.0) for k, (w,) in enumerate(first.params)}, "iterations")
    fit_ax.set_title(f"the line after each iteration ({next(iter(runs))})")
    return fig


def plot_surface_3d(slopes: torch.Tensor, biases: torch.Tensor, costs: torch.Tensor) -> Figure:
    from matplotlib.figure import Figure

    with _figure_style():
        fig = Figure(figsize=(5.2, 4.2), dpi=FIGURE_DPI)
        ax = fig.add_subplot(projection="3d")
    grid_w, grid_b = torch.meshgrid(slopes, biases, indexing="xy")
    ax.plot_surface(grid_w.numpy(), grid_b.numpy(), costs.numpy(), cmap="viridis", linewidth=0, rcount=15, ccount=15)
    ax.locator_params(nbins=5)
    ax.set_xlabel("slope w")
    ax.set_ylabel("bias b")
    ax.set_zlabel("cost J(w, b)")
    ax.set_title("the cost surface")
    return fig


def plot_contour(
    slopes: torch.Tensor,
    biases: torch.Tensor,
    costs: torch.Tensor,
    paths: dict[str, History],
    arrows: tuple[torch.Tensor, ...],
    optimum: tuple[float, float],
) -> Figure:
    fig, (ax,) = _figure(1, width=5.4, height=4.4)
    contours = ax.contour(slopes, biases, costs, levels=torch.logspace(-2, 3, 16).tolist(), cmap="viridis")
    ax.clabel(contours, levels=contours.levels[::3], fontsize=7, fmt="%.3g")
    ax.quiver(*arrows, color="0.6", angles="xy", label="-gradient (steepest descent)")
    for (name, run), color in zip(paths.items(), ("tab:red", "tab:orange"), strict=False):
        path = torch.tensor(run.params)
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=3, label=name)
    ax.plot(*optimum, "k*", markersize=10, label="least-squares optimum")
    ax.set_xlabel("slope w")
    ax.set_ylabel("bias b")
    ax.set_title("contours of J(w, b) and the descent paths")
    ax.legend(fontsize=7, loc="upper right", framealpha=0.95)
    return fig


def plot_slices(offsets: torch.Tensor, slices: dict[str, torch.Tensor]) -> Figure:
    fig, (ax,) = _figure(1, width=5.4)
    for (name, costs), color in zip(slices.items(), ("tab:blue", "tab:orange"), strict=True):
        ax.plot(offsets, costs, color=color, label=name)
    ax.set_xlabel("distance d from the optimum")
    ax.set_ylabel("cost J")
    ax.set_title("two slices through the minimum")
    ax.legend(fontsize=8, loc="upper center")
    return fig


def plot_fits(x: torch.Tensor, y: torch.Tensor, run: History, every: int) -> Figure:
    fig, (ax,) = _figure(1, width=5.4)
    _points(ax, x, y)
    _progression(ax, x, {k: run.params[k] for k in range(0, len(run.params), every)}, "iterations")
    ax.set_title("the line improving over the iterations")
    return fig


def plot_training(
    x: torch.Tensor,
    y: torch.Tensor,
    losses: list[float],
    snapshots: dict[int, tuple[float, float]],
    optimum: tuple[float, float],
) -> Figure:
    fig, (loss_ax, fit_ax) = _figure(2)
    loss_ax.plot(losses)
    best = float(mse(x * optimum[0] + optimum[1], y))
    loss_ax.axhline(best, color="0.5", linestyle="--")
    loss_ax.text(len(losses) - 1, best * 1.15, "least-squares loss", ha="right", va="bottom", fontsize=8, color="0.3")
    _log_scale(loss_ax)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("MSE loss (log scale)")
    loss_ax.set_title("loss curve")
    _points(fit_ax, x, y, "distance (miles)", "time (minutes)")
    _progression(fit_ax, x, snapshots, "epochs", note="\ndotted: least squares")
    _line(fit_ax, x, *optimum, color="k", linestyle=":")
    fit_ax.set_title("predictions improving over epochs")
    return fig


def plot_learning_rates(runs: dict[str, list[float]], ceiling: float) -> Figure:
    fig, (ax,) = _figure(1, width=5.4)
    for name, losses in runs.items():
        ax.plot([min(loss, ceiling) for loss in losses], label=name)
    _log_scale(ax)
    ax.set_ylim(top=ceiling)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"MSE loss (log scale, clipped at {ceiling:g})")
    ax.set_title("the same data, four step sizes")
    ax.legend(fontsize=8)
    return fig


# %% [markdown]
# # Part C: the lesson
# Each section narrates one step with the numbers of this run. `Lesson` carries the run's
# settings (seed, device, where figures go) from section to section.


# %%
@dataclass
class Lesson:
    """The settings of one run and the one place that saves or shows figures."""

    seed: int = SEED
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    epochs: int = TRAIN_EPOCHS
    lr: float = TRAIN_LR
    data: Path = DISTANCE_TIME_CSV
    outdir: Path = OUTDIR
    plots: bool = True
    show: bool = False
    shown: list[Figure] = field(default_factory=list)

    def emit(self, fig: Figure, name: str) -> None:
        """Save the figure as PNG (and keep it to show at the end with --show)."""
        path = self.outdir / f"{name}.png"
        # compress_level 1: a slightly larger file, written several times faster than the default.
        fig.savefig(path, pil_kwargs={"compress_level": 1})
        print(f"  figure saved: {path}")
        if self.show:
            self.shown.append(fig)

    @functools.cached_property
    def deliveries(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The distances and times of --data, read once, on the run's device."""
        return self.on_device(*load_csv(self.data, DISTANCE_COLUMN, TIME_COLUMN))

    def tensor(self, values: object) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=self.device)

    def on_device(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(tensor.to(self.device) for tensor in tensors)


def heading(number: int, title: str) -> None:
    print(f"\n== {number}. {title} ==")


def fmt(values: torch.Tensor) -> str:
    """A (n, 1) tensor as a short list, e.g. [[1.0000], [3.0000]]."""
    return "[" + ", ".join(f"[{value:.4f}]" for value in values.reshape(-1).tolist()) + "]"


# %% [markdown]
# ## 1. Prediction: y = w·x + b
# A line predicts y from x with a slope w and a bias b. PyTorch holds w and b as tensors; with
# requires_grad=True it records how each result depends on them, which training will need.


# %%
def section_prediction(lesson: Lesson) -> None:
    heading(1, "Prediction: y = w·x + b")
    w = torch.tensor(2.0, requires_grad=True, device=lesson.device)
    b = torch.tensor(-1.0, requires_grad=True, device=lesson.device)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return w * x + b

    x = lesson.tensor([[1.0], [2.0]])  # (2, 1): two inputs, one feature each
    yhat = forward(x)
    print(f"w = {w.item():g} and b = {b.item():g} are tensors with requires_grad=True.")
    print(f"forward(x) = w·x + b on x = {fmt(x)} gives {fmt(yhat.detach())}")
    print(f"  it remembers how it was made: grad_fn = {type(yhat.grad_fn).__name__}")

    torch.manual_seed(lesson.seed)
    layer = nn.Linear(1, 1).to(lesson.device)
    slope, bias = line_of(layer)
    print(
        f"\nnn.Linear(1, 1) after torch.manual_seed({lesson.seed}) starts random: weight {slope:.4f}, bias {bias:.4f}"
    )
    state = {name: [round(v, 4) for v in tensor.reshape(-1).tolist()] for name, tensor in layer.state_dict().items()}
    print(f"  its state_dict() holds exactly these: {state}")
    one = layer(lesson.tensor([[1.0]])).item()
    print(f"  at x = 1 it predicts {one:.4f} = {slope:.4f}·1 + {bias:.4f}")

    with torch.no_grad():
        layer.weight.fill_(-0.4443)
        layer.bias.fill_(-0.5045)
        worked = layer(lesson.tensor([[2.0], [4.0]]))
    print("\nThe worked example sets weight -0.4443 and bias -0.5045 and applies the layer to [[2.], [4.]]:")
    print(
        f"  model(x) = {fmt(worked)}   (by hand: 2·(-0.4443) - 0.5045 = {2 * -0.4443 - 0.5045:.4f}, "
        f"4·(-0.4443) - 0.5045 = {4 * -0.4443 - 0.5045:.4f})"
    )
    print("  The source prints [[-1.3930], [-2.2815]]: it showed its random weights rounded to 4 digits")
    print("  but computed with the unrounded ones, so its outputs differ in the last digit.")

    torch.manual_seed(lesson.seed)
    model = LinearRegression(1, 1).to(lesson.device)
    x = lesson.tensor([[1.0], [2.0], [3.0]])
    slope, bias = line_of(model)
    custom = model(x).detach()
    print("\nA custom LinearRegression(nn.Module) keeps an nn.Linear in self.linear; model(x) calls forward(x).")
    print(f"  with the same seed it starts where nn.Linear did: weight {slope:.4f}, bias {bias:.4f}")
    by_hand = x * slope + bias
    print(f"  model({fmt(x)}) = {fmt(custom)}, and w·x + b by hand = {fmt(by_hand)}")


# %% [markdown]
# ## 2. Data and cost
# Real measurements scatter around a line: y = f(x) + σ·ε with ε drawn from a standard normal.
# The mean squared error J = mean((ŷ - y)²) scores a line; the best line has the least J, and
# for a line that best one has a closed form.


# %%
def section_data_and_cost(lesson: Lesson) -> None:
    heading(2, "Data and cost: noise and the mean squared error")
    true_slope, true_bias = SLOPE_BIAS_TRUE
    x, y = lesson.on_device(*make_line_data(true_slope, true_bias, NOISE_STD, seed=lesson.seed))
    pairs = ", ".join(f"({a:.1f}, {b:.3f})" for a, b in zip(x[:3, 0].tolist(), y[:3, 0].tolist(), strict=True))
    print(f"{len(x)} ordered pairs (x, y) from f(x) = x - 1 plus noise σ·ε, with σ = {NOISE_STD} and ε ~ N(0, 1):")
    print(f"  the first three: {pairs}, ...")
    noise = y - (true_slope * x + true_bias)
    print(f"  the noise drawn has mean {noise.mean().item():.4f} and standard deviation {noise.std().item():.4f}")

    predictions = true_slope * x + true_bias
    by_hand, builtin = mse(predictions, y), nn.MSELoss()(predictions, y)
    print(f"\nJ for f itself: mean((ŷ - y)²) by hand = {by_hand.item():.6f}, nn.MSELoss() = {builtin.item():.6f}")
    print(f"  even the true line costs about σ² = {NOISE_STD**2:g}: no line can explain the noise")
    wrong = ((predictions.reshape(-1) - y) ** 2).mean()
    print(f"  shapes matter: ŷ of shape (60,) against y of shape (60, 1) broadcasts to (60, 60): {wrong.item():.4f}")
    print("  which is why mse() here refuses mismatched shapes instead of returning a wrong number")

    optimum = least_squares(x, y)
    lines = {
        "w = 0, b = 0": (0.0, 0.0),
        "w = 1, b = 0": (1.0, 0.0),
        "w = 2, b = -1": (2.0, -1.0),
        "true f": SLOPE_BIAS_TRUE,
    }
    costs = {name: mse(slope * x + bias, y).item() for name, (slope, bias) in lines.items()}
    costs["least squares"] = mse(optimum[0] * x + optimum[1], y).item()
    print("\nThe cost of a few candidate lines:")
    for name, cost in costs.items():
        print(f"  {name:<14} J = {cost:.4f}")
    print(f"The closed-form least-squares line is w = {optimum[0]:.4f}, b = {optimum[1]:.4f}: no line costs less.")
    if lesson.plots:
        lesson.emit(plot_data_and_lines(x.cpu(), y.cpu(), {**lines, "least squares": optimum}, costs), "data_and_cost")


# %% [markdown]
# ## 3. Gradient descent on the slope alone
# Fit y ≈ w·x by stepping w against the gradient: w ← w - lr·∂J/∂w. `loss.backward()` fills
# `w.grad` with ∂J/∂w; the update runs under `torch.no_grad()`; `w.grad.zero_()` clears the
# gradient, because backward() adds to whatever is there.


# %%
def section_slope_only(lesson: Lesson) -> None:
    heading(3, "Gradient descent by hand: the slope alone")
    x, y = lesson.on_device(*make_line_data(*SLOPE_ONLY_TRUE, NOISE_STD, seed=lesson.seed))
    w = torch.tensor(SLOPE_ONLY_START, requires_grad=True, device=lesson.device)
    mse(w * x, y).backward()
    first = w.grad.item()
    formula = gradient_formula(x, y, SLOPE_ONLY_START, 0.0)[0]
    print(f"Data: f(x) = {SLOPE_ONLY_TRUE[0]:g}·x plus noise; w starts at {SLOPE_ONLY_START:g}, lr = {SLOPE_ONLY_LR}.")
    print(f"After loss.backward(), w.grad = {first:.4f}; the formula 2·mean(x·(w·x - y)) gives {formula:.4f}.")
    mse(w * x, y).backward()
    print(f"A second backward() without zeroing adds to it: w.grad = {w.grad.item():.4f}, twice {first:.4f}.")
    w.grad.zero_()
    print(f"w.grad.zero_() resets it to {w.grad.item():g}; a step taken with the sum would jump twice as far.")

    runs = {
        f"start {SLOPE_ONLY_START:g}": train_slope(x, y, SLOPE_ONLY_START, SLOPE_ONLY_LR, SLOPE_ONLY_EPOCHS),
        f"start {SLOPE_ONLY_PRACTICE_START:g}": train_slope(
            x, y, SLOPE_ONLY_PRACTICE_START, SLOPE_ONLY_LR, SLOPE_ONLY_EPOCHS
        ),
    }
    print(f"\n{SLOPE_ONLY_EPOCHS} iterations of zero_(), forward, loss, backward, update:")
    for name, run in runs.items():
        path = " -> ".join(f"{w:.2f}" for (w,) in run.params)
        costs = " -> ".join(f"{loss:.3g}" for loss in run.losses)
        print(f"  {name}: w {path}")
        print(f"  {' ' * len(name)}  cost {costs}")
    best = float((x * y).sum() / (x * x).sum())
    factor = 1 - SLOPE_ONLY_LR * 2 * float((x**2).mean())
    print(f"The best slope for y ≈ w·x is sum(x·y)/sum(x²) = {best:.4f}. Each step multiplies the distance")
    print(f"to it by 1 - lr·2·mean(x²) = {factor:.4f}, from either start: a farther start just needs more steps.")

    if lesson.plots:
        slopes = torch.linspace(-16, 5, 85)
        costs = cost_surface(x.cpu(), y.cpu(), slopes, torch.zeros(1))[0]  # the slice b = 0: J(w)
        lesson.emit(plot_slope_only(x.cpu(), y.cpu(), slopes, costs, runs), "slope_only")


# %% [markdown]
# ## 4. Gradient descent on slope and bias
# With two parameters the gradient is a vector (∂J/∂w, ∂J/∂b) and points uphill on the cost
# surface J(w, b); stepping against it is the steepest way down.


# %%
def section_slope_and_bias(lesson: Lesson) -> None:
    heading(4, "Gradient descent by hand: slope and bias")
    x, y = lesson.on_device(*make_line_data(*SLOPE_BIAS_TRUE, NOISE_STD, seed=lesson.seed))
    w0, b0 = SLOPE_BIAS_START
    w = torch.tensor(w0, requires_grad=True, device=lesson.device)
    b = torch.tensor(b0, requires_grad=True, device=lesson.device)
    mse(w * x + b, y).backward()
    formula = gradient_formula(x, y, w0, b0)
    print(f"Data: f(x) = x - 1 plus noise; (w, b) starts at ({w0:g}, {b0:g}).")
    print(f"The gradient (∂J/∂w, ∂J/∂b) there: autograd ({w.grad.item():.4f}, {b.grad.item():.4f}),")
    print(f"  formula (2·mean(r·x), 2·mean(r)) with r = w·x + b - y: ({formula[0]:.4f}, {formula[1]:.4f})")

    optimum = least_squares(x, y)
    runs = {
        f"lr {lr:g}": train_slope_and_bias(x, y, w0, b0, lr, SLOPE_BIAS_EPOCHS)
        for lr in (SLOPE_BIAS_LR, SLOPE_BIAS_PRACTICE_LR)
    }
    for name, run in runs.items():
        print(f"\n{name}, {SLOPE_BIAS_EPOCHS} iterations (every third shown):")
        for k in range(0, len(run.params), 3):
            slope, bias = run.params[k]
            cost = mse(slope * x + bias, y).item()
            print(f"  iteration {k:2d}: w = {slope:8.4f}  b = {bias:8.4f}  J = {cost:.4g}")
    print(f"The least-squares optimum is w = {optimum[0]:.4f}, b = {optimum[1]:.4f}.")

    (curvature_w, mixed), (_, curvature_b) = hessian(x).tolist()
    print("\nWhy lr 0.1 leaves b short: the slices through the optimum are parabolas, J(w, b*) with")
    print(f"  curvature ∂²J/∂w² = 2·mean(x²) = {curvature_w:.4f} and J(w*, b) with ∂²J/∂b² = {curvature_b:.4f};")
    print(f"  the mixed term 2·mean(x) = {mixed:.4f} is small, so each parameter's error shrinks nearly on its own.")
    for lr in (SLOPE_BIAS_LR, SLOPE_BIAS_PRACTICE_LR):
        in_w, in_b = 1 - lr * curvature_w, 1 - lr * curvature_b
        kept = abs(in_b) ** SLOPE_BIAS_EPOCHS
        print(f"  lr {lr:g}: each step multiplies the error in w by {in_w:.4f} and in b by {in_b:.4f};")
        print(f"    after {SLOPE_BIAS_EPOCHS} steps b keeps {kept:.2%} of its first error")

    slopes = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
    biases = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
    costs = cost_surface(x.cpu(), y.cpu(), slopes, biases)  # (biases, slopes)
    i, j = divmod(int(costs.argmin()), SURFACE_POINTS)
    nearest = (int((biases - optimum[1]).abs().argmin()), int((slopes - optimum[0]).abs().argmin()))
    print(f"\nThe cost surface on a {SURFACE_POINTS}×{SURFACE_POINTS} grid over w, b in [-15, 15], in one broadcast,")
    lowest = f"(w, b) = ({slopes[j].item():.2f}, {biases[i].item():.2f})"
    print(f"  rises to {costs.max().item():.4g}; its lowest point is {lowest}, J = {costs.min().item():.4g},")
    where = "the grid point nearest" if (i, j) == nearest else "a grid point near"
    print(f"  {where} the optimum: a grid only brackets the minimum, the closed form finds it.")

    if lesson.plots:
        coarse = torch.linspace(-13, 13, 9)
        grid_w, grid_b = torch.meshgrid(coarse, coarse, indexing="xy")
        gradient = torch.tensor(
            [
                gradient_formula(x, y, gw, gb)
                for gw, gb in zip(grid_w.reshape(-1).tolist(), grid_b.reshape(-1).tolist(), strict=True)
            ]
        )
        # Each arrow shows the direction of -gradient; lengths are normalised so all are visible.
        direction = -gradient / gradient.norm(dim=1, keepdim=True)
        arrows = (grid_w.reshape(-1), grid_b.reshape(-1), direction[:, 0], direction[:, 1])
        lesson.emit(plot_surface_3d(slopes, biases, costs), "slope_and_bias_surface")
        lesson.emit(plot_contour(slopes, biases, costs, runs, arrows, optimum), "slope_and_bias_contour")
        # Slices through the minimum: move one parameter by d, hold the other at its optimum.
        offsets = torch.linspace(-3, 3, 61)
        w_star, b_star = optimum
        along_w = cost_surface(x.cpu(), y.cpu(), w_star + offsets, torch.tensor([b_star]))[0]
        along_b = cost_surface(x.cpu(), y.cpu(), torch.tensor([w_star]), b_star + offsets)[:, 0]
        slices = {
            f"J(w* + d, b*), curvature {curvature_w:.2f}": along_w,
            f"J(w*, b* + d), curvature {curvature_b:.2f}": along_b,
        }
        lesson.emit(plot_slices(offsets, slices), "slope_and_bias_slices")
        lesson.emit(plot_fits(x.cpu(), y.cpu(), runs[f"lr {SLOPE_BIAS_LR:g}"], every=3), "slope_and_bias_fits")


# %% [markdown]
# ## 5. Training with nn.MSELoss and optim.SGD
# The article's loop on four deliveries: the optimizer does the update and the zeroing that
# sections 3 and 4 wrote by hand, in the order zero_grad → forward → loss → backward → step.


# %%
def section_training(lesson: Lesson) -> None:
    heading(5, "Training: nn.MSELoss and optim.SGD on the distance/time data")
    distances, times = lesson.deliveries
    print(f"{len(distances)} deliveries from {lesson.data.name}: distance (miles) -> time (minutes)")
    for distance, time in zip(distances.reshape(-1).tolist(), times.reshape(-1).tolist(), strict=True):
        print(f"  {distance:5.2f} -> {time:6.2f}")
    optimum = least_squares(distances, times)
    stable = max_stable_lr(distances)
    if lesson.lr >= stable:
        print(f"Note: lr {lesson.lr:g} is at or above {stable:.4g}, the largest stable step size here (section 6).")

    torch.manual_seed(lesson.seed)
    model = LinearRegression().to(lesson.device)
    start = line_of(model)
    optimizer = optim.SGD(model.parameters(), lr=lesson.lr)
    print(
        f"\nLinearRegression() after torch.manual_seed({lesson.seed}) starts at w = {start[0]:.4f}, b = {start[1]:.4f}."
    )
    print(f"nn.MSELoss(), optim.SGD(lr={lesson.lr:g}), {lesson.epochs} epochs:")
    # Train in stretches so the figure can draw the line as it was at a few epochs.
    stops = sorted({epoch for epoch in SNAPSHOT_EPOCHS if 0 < epoch < lesson.epochs} | {lesson.epochs})
    snapshots = {0: start}
    losses: list[float] = []
    for stop in stops:
        losses += _train_logged(model, distances, times, optimizer, len(losses), stop)
        snapshots[stop] = line_of(model)
    slope, bias = line_of(model)
    final = mse(model(distances), times).item()

    model.eval()
    with torch.no_grad():
        new = lesson.tensor([[d] for d in NEW_DISTANCES])
        predicted = model(new)
    print(f"\nmodel.eval() and torch.no_grad() for new distances {list(NEW_DISTANCES)}:")
    for distance, minutes in zip(NEW_DISTANCES, predicted.reshape(-1).tolist(), strict=True):
        closed_form = optimum[0] * distance + optimum[1]
        print(f"  {distance:g} miles -> {minutes:.2f} minutes (the least-squares line says {closed_form:.2f})")

    best_loss = mse(distances * optimum[0] + optimum[1], times).item()
    print(f"\nTrained:       w = {slope:.4f}, b = {bias:.4f}, loss {final:.5f}")
    print(f"Closed form:   w = {optimum[0]:.4f}, b = {optimum[1]:.4f}, loss {best_loss:.5f}")
    eigenvalues = torch.linalg.eigvalsh(hessian(distances)).tolist()
    slow = abs(1 - lesson.lr * eigenvalues[0])
    predicted_end = gd_prediction(distances, times, start, lesson.lr, lesson.epochs)
    print(
        f"The gap is not noise: the Hessian of this cost has eigenvalues {eigenvalues[1]:.2f} and {eigenvalues[0]:.3f}."
    )
    print(
        f"  Along the flat direction each step keeps {slow:.4f} of the error: {lesson.epochs} steps keep "
        f"{slow**lesson.epochs:.1%} of it."
    )
    print(
        f"  (I - lr·H)^{lesson.epochs} applied to the starting error predicts w = {predicted_end[0]:.4f}, "
        f"b = {predicted_end[1]:.4f}: what training found."
    )
    if slow < 1:
        needed = math.ceil(math.log(1e-3) / math.log(slow))
        print(f"  To keep only 0.1% of the error would take {needed} epochs at this step size.")

    if lesson.plots:
        lesson.emit(plot_training(distances.cpu(), times.cpu(), losses, snapshots, optimum), "training")


def _train_logged(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: optim.Optimizer, begin: int, end: int
) -> list[float]:
    """Train from epoch `begin` to `end`, printing the loss every LOG_EVERY epochs."""
    losses = train(model, x, y, optimizer, end - begin, loss_fn=nn.MSELoss())
    for epoch, loss in enumerate(losses, start=begin):
        if epoch % LOG_EVERY == 0:
            log_loss(epoch, loss)
    return losses


# %% [markdown]
# ## 6. The step size
# Gradient descent on a quadratic cost converges only when lr < 2/λmax, λmax the largest
# eigenvalue of the cost's Hessian, which for a line depends only on the inputs x.


# %%
def section_learning_rate(lesson: Lesson) -> None:
    heading(6, "The step size: too small, good, too large")
    distances, times = lesson.deliveries
    curvatures = torch.linalg.eigvalsh(hessian(distances)).tolist()
    stable = max_stable_lr(distances)
    print(f"The Hessian of the MSE for these distances has eigenvalues {curvatures[1]:.3f} and {curvatures[0]:.4f};")
    print(f"  the largest stable step size is 2/λmax = 2/{curvatures[1]:.3f} = {stable:.4f}.")

    torch.manual_seed(lesson.seed)
    start = LinearRegression().to(lesson.device)
    rates = {
        "too small": SMALL_LR,
        "the article's": TRAIN_LR,
        "near the limit": round(0.8 * stable, 3),
        "too large": round(LARGE_LR_FACTOR * stable, 3),
    }
    runs: dict[str, list[float]] = {}
    for name, lr in rates.items():
        model = copy.deepcopy(start)
        label = f"lr {lr:g} ({name})"
        try:
            runs[label] = train(model, distances, times, optim.SGD(model.parameters(), lr=lr), RATE_EPOCHS)
        except DivergenceError as error:
            runs[label] = error.losses
            print(
                f"  lr {lr:<6g} {lr / stable:5.2f} × the limit: stopped at epoch {error.epoch}, the loss grew from "
                f"{error.losses[0]:.4g} to {error.losses[-1]:.3g} and then overflowed."
            )
            print(f"    train() raised DivergenceError: {error}")
            continue
        print(
            f"  lr {lr:<6g} {lr / stable:5.2f} × the limit: loss {runs[label][0]:.4g} -> {runs[label][-1]:.4g} "
            f"after {RATE_EPOCHS} epochs; w = {line_of(model)[0]:.4f}, b = {line_of(model)[1]:.4f}"
        )
    # Clip the plot at a round power of ten above the starting loss, so the diverging run
    # leaves the chart instead of flattening the others.
    ceiling = 10.0 ** math.ceil(math.log10(max(losses[0] for losses in runs.values())) + 0.5)
    if lesson.plots:
        lesson.emit(plot_learning_rates(runs, ceiling), "learning_rate")


# %% [markdown]
# ## 7. Next steps
# Three exercises practise what the lesson showed; pytest checks the answers.


# %%
def section_next_steps(lesson: Lesson) -> None:
    heading(7, "Next steps: the exercises")
    print("Open exercises/README.md. Each exercise is a file to fill in; pytest grades it:")
    for name, file, task in EXERCISES:
        print(f"  {file:<40} {task:<32} python -m pytest -m {name}")
    heights_csv = DATA_DIR / "height_weight.csv"
    if heights_csv.exists():
        heights, _ = load_csv(heights_csv, "height_cm", "weight_kg")
        print(
            f"A hint for ex1, from {heights_csv.name}: on raw centimetres the largest stable step size is "
            f"{max_stable_lr(heights):.3g}, so lr {TRAIN_LR} diverges;"
        )
        centred = (heights - heights.mean()) / heights.std()
        print(f"  on standardised heights it is {max_stable_lr(centred):.3g}. Scale the input, then train.")


SECTIONS: dict[str, Callable[[Lesson], None]] = {
    "prediction": section_prediction,
    "data_and_cost": section_data_and_cost,
    "slope_only": section_slope_only,
    "slope_and_bias": section_slope_and_bias,
    "training": section_training,
    "learning_rate": section_learning_rate,
    "next_steps": section_next_steps,
}


# %% [markdown]
# # The command line


# %%
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; use 1 or more")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 2**63 - 1")
    return value


def _step_size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a positive finite number; try 0.01")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lesson.py",
        description="Linear regression with PyTorch, computed and narrated section by section.",
    )
    parser.add_argument("--list", action="store_true", help="name the sections and stop")
    parser.add_argument(
        "--section",
        action="append",
        choices=list(SECTIONS),
        metavar="NAME",
        help="run only this section (repeatable); see --list",
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=TRAIN_EPOCHS,
        help="epochs of the training section (default %(default)s)",
    )
    parser.add_argument(
        "--lr",
        type=_step_size,
        default=TRAIN_LR,
        help="step size of the training section (default %(default)s)",
    )
    parser.add_argument("--seed", type=_seed, default=SEED, help="random seed (default %(default)s)")
    parser.add_argument(
        "--data",
        type=Path,
        default=DISTANCE_TIME_CSV,
        help=f"CSV with columns {DISTANCE_COLUMN},{TIME_COLUMN} (default data/distance_time.csv)",
    )
    parser.add_argument("--outdir", type=Path, default=OUTDIR, help="folder for the figures (default %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="print only; do not draw or import matplotlib")
    parser.add_argument("--show", action="store_true", help="also open the figures in windows where there is a display")
    parser.add_argument(
        "--device", choices=("cpu", "cuda", "auto"), default="cpu", help="where tensors live (default cpu)"
    )
    return parser


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _prepare_outdir(outdir: Path) -> str | None:
    """Create the figure folder; return a sentence on what is wrong, or None."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"--outdir {outdir} is a file, not a folder; pass a folder for the figures."
    except OSError as error:
        return (
            f"cannot create the figure folder {outdir} ({error.strerror}); pass a writable --outdir or use --no-plots."
        )
    if not os.access(outdir, os.W_OK | os.X_OK):
        return f"the figure folder {outdir} is not writable; pass a writable --outdir or use --no-plots."
    return None


def _fail(parser: argparse.ArgumentParser, message: str, code: int) -> int:
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for number, name in enumerate(SECTIONS, start=1):
            print(f"{number}. {name}")
        return 0

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif args.device == "cuda" and not torch.cuda.is_available():
        parser.error(
            "--device cuda was asked for, but PyTorch sees no CUDA GPU here; use --device cpu (the default) or auto."
        )
    else:
        device = torch.device(args.device)

    plots = not args.no_plots
    if args.show and not plots:
        parser.error("--show and --no-plots contradict each other; choose one.")
    if plots:
        problem = _prepare_outdir(args.outdir)
        if problem:
            parser.error(problem)
        import matplotlib

        if not (args.show and _has_display()):
            matplotlib.use("Agg")  # draw to files only; no window, works without a display
    if args.show and not _has_display():
        print("--show: no display found (DISPLAY is not set), so the figures are only saved as PNG files.")

    lesson = Lesson(
        seed=args.seed,
        device=device,
        epochs=args.epochs,
        lr=args.lr,
        data=args.data,
        outdir=args.outdir,
        plots=plots,
        show=args.show and _has_display(),
    )
    names = args.section or list(SECTIONS)
    # torch and matplotlib leave a few hundred thousand objects that live until the program ends.
    # Freezing them keeps Python's garbage collector from walking them again, during the run and
    # at exit: about a second less to wait, with the same results.
    gc.freeze()
    try:
        if {"training", "learning_rate"} & set(names):
            _ = lesson.deliveries  # read now: a broken file stops the run before anything is printed
        for name in SECTIONS:
            if name in names:
                SECTIONS[name](lesson)
    except DatasetError as error:
        return _fail(parser, str(error), 2)
    except DivergenceError as error:
        return _fail(parser, str(error), 1)
    except OSError as error:  # e.g. the disk filled up while a figure was being written
        return _fail(
            parser,
            f"could not write {error.filename or 'a figure'} ({error.strerror}); free space or pass another --outdir.",
            2,
        )
    except KeyboardInterrupt:
        return _fail(parser, "interrupted.", 130)
    if lesson.shown:
        import matplotlib.pyplot as plt

        if plt.get_backend().lower() == "agg":  # matplotlib found no window system it can use
            print("--show: no window could be opened here, so the figures are only saved as PNG files.")
            return 0
        for fig in lesson.shown:
            plt.figure(fig)  # hand each finished figure to pyplot, which owns the windows
        plt.show()
    return 0


if __name__ == "__main__":
    if "ipykernel" in sys.modules:  # run as a notebook: the kernel's command line is not the lesson's
        main([])
    else:
        sys.exit(main())
