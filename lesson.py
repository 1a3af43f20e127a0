"""Linear regression with PyTorch, from y = w·x + b to a trained model.

Every number this lesson prints is computed as it runs. Run it as a script:

    python lesson.py                       # the eight sections, figures saved under figures/
    python lesson.py --deeper              # also the optional "going deeper" parts of each section
    python lesson.py --section training    # one section, by name or number (5); --list names them
    python lesson.py --no-plots            # text only; matplotlib is not imported
    python lesson.py --show                # also open the figures in windows where there is a display
    python lesson.py --animate             # also save section 4's descent as figures/descent.gif
    python lesson.py --explore             # a window to drag w, b and the step size yourself

or open it as a notebook (Jupyter with jupytext, or VS Code) and run the cells top to bottom.
Check the exercises with ``python -m pytest``.

Two sources stand behind it. "The article" is TK's "Mastering PyTorch: From Linear Regression to
Computer Vision": its four deliveries, worked example and training run at lr 0.01 (sections 1, 5
and 6). "The labs" are those of Module 2, "Linear Regression with PyTorch", of IBM's PyTorch
course: their lines, noise, starts and step sizes, "the lab's lr 0.1" among them (sections 2 to 4).
"""

import copy
import itertools
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    import torch
except ModuleNotFoundError as missing:  # a Python without the lesson's packages: one sentence, not a traceback
    from lesson_support.environment import not_installed

    sys.exit(not_installed(missing))
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from exercises.catalog import EXERCISES
from lesson_support import animation, explorer, figures
from lesson_support.checks import (
    DivergenceError,
    check_optimizer_holds,
    check_same_shape,
    stop_if_cannot_converge,
    stop_if_diverged,
    stop_if_growing,
)
from lesson_support.cli import run_command_line
from lesson_support.closed_form import (
    CLOSE_SHARE,
    curvatures,
    error_kept,
    gd_prediction,
    gradient_formula,
    hessian,
    lowest_loss_lr,
    max_stable_lr,
    round_down,
    share_above,
    slow_direction,
    steepest_descent,
)
from lesson_support.data import DATA_DIR, ROOT, DatasetError, load_csv, load_distance_time, load_height_weight
from lesson_support.files import whole_file
from lesson_support.runtime import SEED, Run, going_deeper, heading, notebook_runner

# Sections 2 to 4: the course labs' lines, noise and hand-written descent.
NOISE_STD = 0.1  # σ of the Gaussian noise added to the labs' lines
SLOPE_ONLY_TRUE = (-3.0, 0.0)  # f(x) = -3·x
SLOPE_ONLY_STARTS = (-10.0, -15.0)  # the lab's start and its practice start
SLOPE_BIAS_TRUE = (1.0, -1.0)  # f(x) = x - 1
SLOPE_BIAS_START = (-15.0, -10.0)  # (w, b)
LAB_LR = 0.1
PRACTICE_LR = 0.2  # the slope-and-bias lab's practice step size
SURFACE_RANGE, SURFACE_POINTS = 15.0, 30  # the cost surface over [-15, 15]², 30 points each way
ANIMATION_STEPS = 30  # the animated descent: enough steps for b, the slow direction, to arrive

# Section 5: the article's run.
TRAIN_LR, TRAIN_EPOCHS, LOG_EVERY = 0.01, 500, 100
NEW_DISTANCES = (5.0, 7.0, 10.0)  # miles to predict for after training
SNAPSHOT_EPOCHS = (2, 5, 10, 20)  # epochs whose line the training figure draws, besides the first and last

# Section 6: the step-size study.
SMALL_LR, LARGE_LR_FACTOR, RATE_EPOCHS = 0.001, 1.75, 60

# Section 7: a real training run on deliveries with two inputs, miles and stops.
DELIVERIES = 400  # enough rows to hold some out and to batch
MILES_RANGE, MOST_STOPS = (0.5, 5.0), 4  # miles drawn uniformly in this range; 0 to 4 stops, each equally likely
TRUE_WEIGHTS, TRUE_BIAS = (5.0, 3.0), 2.0  # minutes per mile, minutes per stop, fixed minutes
DELIVERY_NOISE = 2.0  # σ of the Gaussian noise, in minutes
HELD_OUT_SHARE = 0.2  # the share of rows held out for validation, and the same again for the test
BATCH_SIZE, BATCH_EPOCHS = 32, 10
CANDIDATE_LRS = (0.01, 0.05, 0.2, 0.9)  # the step sizes the validation set chooses from
JUDGED_EPOCHS = 5  # each is judged on its mean validation loss over the last epochs
LEVEL_SHARE = 0.05  # a bounded run whose judged losses stay within 5% of their lowest is level, else jumping
LARGE_BATCH_LRS = (1.0, 1.5)  # going deeper: step sizes above every batch's 2/λmax
NEW_DELIVERIES = 10_000  # going deeper: fresh deliveries that tell the models apart where 80 rows cannot
MODEL_FILE, WHOLE_MODEL_FILE = "delivery_model.pt", "whole_model.pt"  # section 7 and its going-deeper part

# Section 8, going deeper: toward multilayer models.
HIDDEN, BRIDGE_LR, BRIDGE_EPOCHS = 8, 0.05, 200  # hidden units; Adam's step size and epochs on y = x²

run_in_notebook = notebook_runner(__name__)  # in Jupyter or VS Code each section runs under its own cell


def fmt(values: torch.Tensor) -> str:
    """A (n, 1) tensor as a short list, e.g. [[1.0000], [3.0000]]."""
    return "[" + ", ".join(f"[{value:.4f}]" for value in values.reshape(-1).tolist()) + "]"


def digits(value: float, count: int) -> str:
    """A number to `count` significant digits, trailing zeros kept: 48.0, 4.0, 15, 140, 0.00035, 1.5e+07."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    rounded = float(f"{value:.{count}g}")
    if not 1e-5 <= abs(rounded) < 1e6:
        return f"{value:.{count - 1}e}"
    return f"{rounded:.{max(0, count - 1 - math.floor(math.log10(abs(rounded))))}f}"


def line_of(model: nn.Module) -> tuple[float, float]:
    """The (w, b) of a model whose only layer is one nn.Linear(1, 1)."""
    weight, bias = (parameter.detach().reshape(-1) for parameter in model.parameters())
    return weight.item(), bias.item()


# %% [markdown]
# ## 1. Prediction: y = w·x + b
# A line predicts y from x with a slope w and a bias b. PyTorch holds w and b as tensors; with
# `requires_grad=True` autograd records every operation computed from them. A result's `grad_fn`
# is the last operation, linked back through the others to w and b: the record `backward()` follows.
# `nn.Linear(1, 1)` holds the same two numbers, and a custom `nn.Module` wraps that layer.


# %%
class LinearRegression(nn.Module):
    """A line y = x·wᵀ + b, written as a module that holds one nn.Linear layer."""

    def __init__(self, input_size: int = 1, output_size: int = 1) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def section_prediction(run: Run) -> None:
    heading(1, "Prediction: y = w·x + b")
    w = torch.tensor(2.0, requires_grad=True, device=run.device)
    b = torch.tensor(-1.0, requires_grad=True, device=run.device)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return w * x + b

    x = torch.tensor([[1.0], [2.0]], device=run.device)  # (2, 1): two inputs, one feature each
    yhat = forward(x)
    tensors = f"w = {w.item():g} and b = {b.item():g}, tensors with requires_grad=True"
    print(f"forward(x) = w·x + b, {tensors}, on x = {fmt(x)} gives {fmt(yhat.detach())}")
    add = yhat.grad_fn  # the last operation, + b
    (multiply, _), _ = add.next_functions  # w·x, and b
    names = f"{type(add).__name__} (the + b), linked to {type(multiply).__name__} (the w·x) and to b"
    print(f"  yhat.grad_fn = {names}: what backward() follows")

    torch.manual_seed(run.seed)
    layer = nn.Linear(1, 1).to(run.device)
    weight, bias = layer.weight.item(), layer.bias.item()
    print(f"nn.Linear(1, 1) after torch.manual_seed({run.seed}) starts random: weight {weight:.4f}, bias {bias:.4f}")
    shapes = ", ".join(f"{name} of shape {tuple(tensor.shape)}" for name, tensor in layer.state_dict().items())
    print(f"  its state_dict() holds two tensors, {shapes}")
    one = layer(torch.tensor([[1.0]], device=run.device)).item()
    print(f"  at x = 1 it predicts {one:.4f} = {weight:.4f}·1 + {bias:.4f}")

    torch.manual_seed(run.seed)
    model = LinearRegression(1, 1).to(run.device)
    x = torch.tensor([[1.0], [2.0], [3.0]], device=run.device)
    print("A custom LinearRegression(nn.Module) keeps an nn.Linear in self.linear; model(x) calls forward(x):")
    print(f"  with the same seed, model({fmt(x)}) = {fmt(model(x).detach())}, as nn.Linear's line")


run_in_notebook(section_prediction)


# %% [markdown]
# ### Going deeper (optional): the source article's worked example, recomputed
# The article sets the layer's weight to -0.4443 and its bias to -0.5045 and applies it to
# [[2.], [4.]]; its code comment shows slightly different numbers from the exact ones.


# %%
def deeper_prediction(run: Run, _: None = None) -> None:
    going_deeper(1, "the source article's worked example, recomputed")
    layer = nn.Linear(1, 1).to(run.device)
    x = torch.tensor([[2.0], [4.0]], device=run.device)
    with torch.no_grad():
        layer.weight.fill_(-0.4443)
        layer.bias.fill_(-0.5045)
        exact = layer(x)
        layer.weight.fill_(-0.44426)  # unrounded weights that round to the ones above
        layer.bias.fill_(-0.50446)
        unrounded = layer(x)
    print("The worked example sets weight -0.4443 and bias -0.5045 and applies the layer to [[2.], [4.]]:")
    print(
        f"  model(x) = {fmt(exact)}   (by hand: 2·(-0.4443) - 0.5045 = {2 * -0.4443 - 0.5045:.4f}, "
        f"4·(-0.4443) - 0.5045 = {4 * -0.4443 - 0.5045:.4f})"
    )
    print("  That is the exact result. The source's code comment shows [[-1.3930], [-2.2815]], likely from")
    print(f"  unrounded weights: -0.44426 and -0.50446 round to the ones above and give {fmt(unrounded)}.")


run_in_notebook(deeper_prediction)


# %% [markdown]
# ## 2. Data and cost
# Real measurements scatter around a line: y = f(x) + σ·ε with ε drawn from a standard normal.
# The mean squared error J = mean((ŷ - y)²) scores a line; the best line has the least J. It has
# a closed form, w = cov(x, y)/var(x) and b = ȳ - w·x̄: the yardstick of the sections that follow.
# Shapes matter: a (60,) prediction against (60, 1) targets broadcasts to a 60×60 grid.


# %%
def make_line_data(
    slope: float, intercept: float, noise_std: float = NOISE_STD, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points x = -3.0, -2.9, ..., 2.9 (60, 1) and y = slope·x + intercept + noise_std·N(0, 1)."""
    x = torch.arange(-3, 3, 0.1).view(-1, 1)  # (60, 1)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator)
    return x, slope * x + intercept + noise_std * noise


def mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean squared error, written out; refuses shapes whose difference would broadcast to a grid."""
    check_same_shape(predictions, targets)
    return ((predictions - targets) ** 2).mean()


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The line of least MSE through the points: w = cov(x, y)/var(x), b = ȳ - w·x̄ (in float64)."""
    x, y = x.detach().reshape(-1).double().cpu(), y.detach().reshape(-1).double().cpu()
    x_spread, y_spread = x - x.mean(), y - y.mean()
    variance = (x_spread**2).mean()
    if variance == 0:
        raise ValueError("all x values are equal, so no single line fits best; use at least two different x.")
    slope = (x_spread * y_spread).mean() / variance  # cov(x, y) / var(x)
    return slope.item(), (y.mean() - slope * x.mean()).item()


def cost_surface(x: torch.Tensor, y: torch.Tensor, slopes: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
    """The MSE of every line: entry [i, j] is the cost of slope slopes[j] with bias biases[i]."""
    x, y = x.reshape(1, 1, -1), y.reshape(1, 1, -1)  # (1, 1, n)
    predictions = slopes.reshape(1, -1, 1) * x + biases.reshape(-1, 1, 1)  # (len(biases), len(slopes), n)
    return ((predictions - y) ** 2).mean(dim=-1)


@dataclass
class LineData:
    """Section 2's points and the costs it printed, for its going-deeper part."""

    x: torch.Tensor
    y: torch.Tensor
    costs: dict[str, float]


def section_data_and_cost(run: Run) -> LineData:
    heading(2, "Data and cost: noise and the mean squared error")
    true_slope, true_bias = SLOPE_BIAS_TRUE
    x, y = (t.to(run.device) for t in make_line_data(true_slope, true_bias, NOISE_STD, seed=run.seed))
    noise = y - (true_slope * x + true_bias)
    drawn = f"mean {noise.mean().item():.4f}, std {noise.std().item():.4f}"
    print(
        f"{len(x)} points (x, y) from f(x) = x - 1 plus noise σ·ε, σ = {NOISE_STD}, ε ~ N(0, 1); the noise has {drawn}"
    )

    predictions = true_slope * x + true_bias
    by_hand, builtin = mse(predictions, y), nn.MSELoss()(predictions, y)
    print(f"J for f itself: mean((ŷ - y)²) by hand = {by_hand.item():.6f}, nn.MSELoss() = {builtin.item():.6f}")
    wrong = ((predictions.reshape(-1) - y) ** 2).mean()
    print("Shapes matter: ŷ of shape (60,) against y of shape (60, 1) broadcasts to a (60, 60) grid.")
    print(f"  written out, ((ŷ - y) ** 2).mean() returns {wrong.item():.4f} without a word;")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        builtin = nn.MSELoss()(predictions.reshape(-1), y)
    print(f"  nn.MSELoss() returns {builtin.item():.4f} too, and warns:")
    for warning in caught:
        print(f"    {warning.category.__name__}: {warning.message}")
    try:
        mse(predictions.reshape(-1), y)
    except ValueError as error:
        print(f"  this lesson's mse() refuses: ValueError: {error}")

    optimum = least_squares(x, y)
    design = torch.cat([x, torch.ones_like(x)], dim=1).cpu().double()  # (60, 2): the columns x and 1
    checked = torch.linalg.lstsq(design, y.cpu().double()).solution.reshape(-1).tolist()
    print(f"The closed form: w = cov(x, y)/var(x) = {optimum[0]:.4f}, b = ȳ - w·x̄ = {optimum[1]:.4f}")
    print(f"  torch.linalg.lstsq on the columns [x, 1] finds the same line: w = {checked[0]:.4f}, b = {checked[1]:.4f}")
    lines = {
        "w = 0, b = 0": (0.0, 0.0),
        "w = 1, b = 0": (1.0, 0.0),
        "w = 2, b = -1": (2.0, -1.0),
        "true f": SLOPE_BIAS_TRUE,
        "least squares": optimum,
    }
    costs = {name: mse(slope * x + bias, y).item() for name, (slope, bias) in lines.items()}
    listed = [f"{name}: {cost:.4f}" for name, cost in costs.items()]
    print(f"The cost J of a few lines: {'; '.join(listed[:3])};")
    print(f"  {'; '.join(listed[3:])}. No line costs less than least squares, not even the true f.")
    if run.plots:
        run.figures.emit(figures.plot_data_and_lines(x.cpu(), y.cpu(), lines, costs), "data_and_cost")
    return LineData(x, y, costs)


data_and_cost = run_in_notebook(section_data_and_cost)


# %% [markdown]
# ### Going deeper (optional): why squared errors, and why least squares beats the true line here
# With Gaussian noise the squared error is the likelihood's own measure, and a line fitted to a
# sample also fits some of that sample's noise.


# %%
def deeper_data_and_cost(run: Run, data: LineData) -> None:
    going_deeper(2, "why squared errors, and why least squares beats the true line here")
    n, variance = len(data.x), NOISE_STD**2
    print("With independent Gaussian noise of one σ, the density of the data under a line is proportional")
    print("  to the product of exp(-(y - ŷ)²/(2σ²)) over the points: largest where the sum of squared errors")
    print("  is smallest. So the least-squares line is the line under which the data are most likely.")
    least, true = data.costs["least squares"], data.costs["true f"]
    print(f"Least squares costs {least:.4f} on these points, less than the true f, {true:.4f}: it also fits")
    print("  this sample's noise. On the n points it is fitted to, its expected cost is σ²·(n - 2)/n")
    print(f"  = {variance:g}·{n - 2}/{n} = {variance * (n - 2) / n:.6f}, below the true line's σ² = {variance:g}.")
    print("  On new data the true line is expected to win: section 7's going-deeper part shows it.")


run_in_notebook(deeper_data_and_cost, data_and_cost)


# %% [markdown]
# ## 3. Gradient descent on the slope alone
# Fit y ≈ w·x by stepping w against the gradient: w ← w - lr·∂J/∂w. Each step is a forward
# pass, the loss, `loss.backward()` (which fills `w.grad` with ∂J/∂w), the update, and
# `w.grad.zero_()`, because `backward()` adds to whatever `.grad` holds. The update runs under
# `torch.no_grad()`: w is a leaf tensor that requires grad, and changing it in place while autograd
# records raises a RuntimeError, shown below. Every step uses all 60 points, so one step is one
# epoch (one pass over the data); the labs call a step an iteration.


# %%
@dataclass
class History:
    """A manual gradient-descent run: losses[k] is the cost at params[k]; params ends with the final values."""

    losses: list[float] = field(default_factory=list)
    params: list[tuple[float, ...]] = field(default_factory=list)


def train_slope(x: torch.Tensor, y: torch.Tensor, w0: float, lr: float, epochs: int) -> History:
    """Gradient descent by hand on the slope of y ≈ w·x; params holds (w,) tuples."""
    w = torch.tensor(float(w0), requires_grad=True, device=x.device)
    history = History(params=[(w.item(),)])
    for epoch in range(epochs):
        loss = mse(w * x, y)  # forward and loss
        stop_if_diverged(loss, epoch, lr, x, history.losses)
        history.losses.append(loss.item())
        loss.backward()  # w.grad = ∂J/∂w
        with torch.no_grad():
            w -= lr * w.grad  # update
        w.grad.zero_()  # clear it for the next step
        history.params.append((w.item(),))
    return history


def section_slope_only(run: Run) -> None:
    heading(3, "Gradient descent by hand: the slope alone")
    x, y = (t.to(run.device) for t in make_line_data(*SLOPE_ONLY_TRUE, NOISE_STD, seed=run.seed))
    start = SLOPE_ONLY_STARTS[0]
    w = torch.tensor(start, requires_grad=True, device=run.device)
    mse(w * x, y).backward()
    first = w.grad.item()
    formula = gradient_formula(x, y, start, 0.0)[0]
    print(f"Data: f(x) = {SLOPE_ONLY_TRUE[0]:g}·x plus noise; w starts at {start:g}, lr = {LAB_LR}.")
    print(f"After loss.backward(), w.grad = {first:.3f}; the formula 2·mean(x·(w·x - y)) gives {formula:.3f}.")
    mse(w * x, y).backward()
    print(f"A second backward() without zeroing adds to it: w.grad = {w.grad.item():.3f}, twice {first:.3f}.")
    w.grad.zero_()
    print(f"w.grad.zero_() resets it to {w.grad.item():g}; a step taken with the sum would jump twice as far.")
    try:
        w -= LAB_LR * w.grad  # in place, while autograd records
    except RuntimeError as error:
        print(f"Without torch.no_grad(), w -= lr * w.grad raises RuntimeError: {error}")

    epochs = 4
    runs = {f"start {w0:g}": train_slope(x, y, w0, LAB_LR, epochs) for w0 in SLOPE_ONLY_STARTS}
    print(f"{epochs} steps of forward, loss, backward, update, zero_(), each on all {len(x)} points: {epochs} epochs")
    for name, history in runs.items():
        path = " -> ".join(f"{w:.2f}" for (w,) in history.params)
        costs = " -> ".join(f"{loss:.3g}" for loss in history.losses)
        print(f"  {name}: w {path}")
        print(f"  {' ' * len(name)}  cost {costs}")
    best = float((x * y).sum() / (x * x).sum())
    factor = 1 - LAB_LR * 2 * float((x**2).mean())
    print(f"The best slope for y ≈ w·x is sum(x·y)/sum(x²) = {best:.4f}. Each step multiplies the distance")
    print(f"to it by 1 - lr·2·mean(x²) = {factor:.4f}, from either start: a farther start just needs more steps.")

    if run.plots:
        slopes = torch.linspace(-16, 5, 85)
        costs = cost_surface(x.cpu(), y.cpu(), slopes, torch.zeros(1))[0]  # the slice b = 0: J(w)
        run.figures.emit(figures.plot_slope_only(x.cpu(), y.cpu(), slopes, costs, runs), "slope_only")


run_in_notebook(section_slope_only)


# %% [markdown]
# ## 4. Gradient descent on slope and bias
# With two parameters the gradient is a vector (∂J/∂w, ∂J/∂b) and points uphill on the cost
# surface J(w, b); stepping against it is the steepest way down. The loop is section 3's,
# with b beside w. The two slices of the surface through its minimum bend differently, and the
# flatter one, along b, is slower to descend.


# %%
def train_slope_and_bias(x: torch.Tensor, y: torch.Tensor, w0: float, b0: float, lr: float, epochs: int) -> History:
    """Gradient descent by hand on slope and bias of y ≈ w·x + b; params holds (w, b) tuples."""
    w = torch.tensor(float(w0), requires_grad=True, device=x.device)
    b = torch.tensor(float(b0), requires_grad=True, device=x.device)
    history = History(params=[(w.item(), b.item())])
    for epoch in range(epochs):
        loss = mse(w * x + b, y)  # forward and loss
        stop_if_diverged(loss, epoch, lr, x, history.losses)
        history.losses.append(loss.item())
        loss.backward()  # fills w.grad and b.grad
        with torch.no_grad():
            w -= lr * w.grad  # update both
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
        history.params.append((w.item(), b.item()))
    return history


def slope_and_bias_data(run: Run) -> tuple[torch.Tensor, torch.Tensor]:
    """Section 4's points: f(x) = x - 1 plus noise, on the run's device."""
    x, y = make_line_data(*SLOPE_BIAS_TRUE, NOISE_STD, seed=run.seed)
    return x.to(run.device), y.to(run.device)


@dataclass
class Descent:
    """Section 4's points, its two runs and the optimum, for its going-deeper part."""

    x: torch.Tensor
    y: torch.Tensor
    runs: dict[str, History]
    optimum: tuple[float, float]


def section_slope_and_bias(run: Run) -> Descent:
    heading(4, "Gradient descent by hand: slope and bias")
    x, y = slope_and_bias_data(run)
    w0, b0 = SLOPE_BIAS_START
    w = torch.tensor(w0, requires_grad=True, device=run.device)
    b = torch.tensor(b0, requires_grad=True, device=run.device)
    mse(w * x + b, y).backward()
    formula = gradient_formula(x, y, w0, b0)
    print(f"Data: f(x) = x - 1 plus noise; (w, b) starts at ({w0:g}, {b0:g}).")
    print(f"The gradient (∂J/∂w, ∂J/∂b) there: autograd ({w.grad.item():.3f}, {b.grad.item():.3f}),")
    print(f"  formula (2·mean(r·x), 2·mean(r)) with r = w·x + b - y: ({formula[0]:.3f}, {formula[1]:.3f})")

    epochs = 15
    optimum = least_squares(x, y)
    runs = {f"lr {lr:g}": train_slope_and_bias(x, y, w0, b0, lr, epochs) for lr in (LAB_LR, PRACTICE_LR)}
    opt = f"w = {optimum[0]:.4f}, b = {optimum[1]:.4f}"
    print(f"{epochs} steps at the lab's lr {LAB_LR:g} and its practice lr {PRACTICE_LR:g}; least squares is at {opt}:")
    for name, history in runs.items():
        slope, bias = history.params[-1]
        print(f"  {name}: w = {slope:.4f}, b = {bias:.4f}, J = {mse(slope * x + bias, y).item():.4g}")

    (curvature_w, _), (_, curvature_b) = hessian(x).tolist()
    in_w, in_b = 1 - LAB_LR * curvature_w, 1 - LAB_LR * curvature_b
    print(
        f"The slices through the optimum bend with curvature {curvature_w:.4f} along w and {curvature_b:.4f} along b."
    )
    print(
        f"  At lr {LAB_LR:g}, with the other at its optimum, a step multiplies w's error by {in_w:.4f} and b's by "
        f"{in_b:.4f}."
    )
    limit = round_down(max_stable_lr(x), 3)
    print(
        f"The largest stable step comes from the data: lr below 2/λmax, a little above {limit:g} (λmax: "
        "the steepest curvature)."
    )

    if run.plots:
        slopes = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
        biases = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
        costs = cost_surface(x.cpu(), y.cpu(), slopes, biases)  # (biases, slopes), in one broadcast
        coarse = torch.linspace(-13, 13, 9)
        grid_w, grid_b = (g.reshape(-1) for g in torch.meshgrid(coarse, coarse, indexing="xy"))
        directions = steepest_descent(x.cpu(), y.cpu(), grid_w, grid_b)  # unit arrows, so all are visible
        arrows = (grid_w, grid_b, directions[:, 0], directions[:, 1])
        w_star, b_star = optimum
        across_w = cost_surface(x.cpu(), y.cpu(), slopes, torch.tensor([b_star]))[0]  # J(w, b*)
        along_b = cost_surface(x.cpu(), y.cpu(), torch.tensor([w_star]), biases)[:, 0]  # J(w*, b)
        surface = figures.plot_surface_3d(slopes, biases, costs, optimum, across_w, along_b)
        run.figures.emit(surface, "slope_and_bias_surface")
        fine = figures.contour_grid(SURFACE_RANGE)  # round contour rings need a finer grid than the 30×30 one
        fine_costs = cost_surface(x.cpu(), y.cpu(), fine, fine)
        run.figures.emit(figures.plot_contour(fine, fine, fine_costs, runs, arrows, optimum), "slope_and_bias_contour")
        # Slices through the minimum: move one parameter by d, hold the other at its optimum.
        offsets = torch.linspace(-3, 3, 61)
        w_star, b_star = optimum
        slices = {
            f"J(w* + d, b*), curvature {curvature_w:.2f}": cost_surface(
                x.cpu(), y.cpu(), w_star + offsets, torch.tensor([b_star])
            )[0],
            f"J(w*, b* + d), curvature {curvature_b:.2f}": cost_surface(
                x.cpu(), y.cpu(), torch.tensor([w_star]), b_star + offsets
            )[:, 0],
        }
        run.figures.emit(figures.plot_slices(offsets, slices), "slope_and_bias_slices")
        fits = figures.plot_fits(x.cpu(), y.cpu(), runs[f"lr {LAB_LR:g}"], 3, optimum, LAB_LR)
        run.figures.emit(fits, "slope_and_bias_fits")
    return Descent(x, y, runs, optimum)


descent = run_in_notebook(section_slope_and_bias)


# %% [markdown]
# ### Going deeper (optional): the Hessian, and where 2/λmax comes from
# The second derivatives of the cost form a 2×2 table, the Hessian H. Its eigenvalues are the
# curvatures along the directions where the cost bends most (λmax) and least (λmin). One step
# multiplies the error along each of them by 1 - lr·λ, so k steps multiply the starting error by
# (I - lr·H)^k, and plain gradient descent converges only while every |1 - lr·λ| < 1.


# %%
def deeper_slope_and_bias(run: Run, descent: Descent) -> None:
    going_deeper(4, "the Hessian, and where 2/λmax comes from")
    x, y, epochs = descent.x, descent.y, len(descent.runs[f"lr {LAB_LR:g}"].losses)
    for name, history in descent.runs.items():
        steps = ", ".join(f"({w:.2f}, {b:.2f})" for w, b in history.params[::3])
        print(f"{name}, (w, b) every third step: {steps}")
    (curvature_w, mixed), (_, curvature_b) = hessian(x).tolist()
    flat, steep = curvatures(x)
    print(
        f"H = [[∂²J/∂w², ∂²J/∂w∂b], [∂²J/∂b∂w, ∂²J/∂b²]] = [[{curvature_w:.4f}, {mixed:.4f}], "
        f"[{mixed:.4f}, {curvature_b:.4f}]]:"
    )
    print(f"  2·mean(x²), 2·mean(x) and 2, from the inputs alone. Its eigenvalues are λmax = {steep:.4f} and")
    print(f"  λmin = {flat:.4f}, close to the slices' curvatures because the mixed term is small.")
    for lr in (LAB_LR, PRACTICE_LR):
        kept = error_kept(x, y, SLOPE_BIAS_START, lr, epochs)[1]
        factors = f"{1 - lr * steep:.4f} and {1 - lr * flat:.4f}"
        print(f"  lr {lr:g}: one step multiplies the error along the two directions by {factors};")
        print(f"    (I - lr·H)^{epochs}, coupling included, leaves b {kept:.2%} of its first error.")
    print(f"Every |1 - lr·λ| < 1 holds only for lr < 2/λmax = {2 / steep:.4f}: the steep direction caps the step")
    print("  size, the flat one sets the pace.")
    slopes = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
    costs = cost_surface(x.cpu(), y.cpu(), slopes, slopes)  # (biases, slopes): the figures' 30×30 grid
    i, j = divmod(int(costs.argmin()), SURFACE_POINTS)
    lowest = f"(w, b) = ({slopes[j].item():.2f}, {slopes[i].item():.2f}), J = {costs.min().item():.4g}"
    print(
        f"The surface figure's {SURFACE_POINTS}×{SURFACE_POINTS} grid, computed in one broadcast, is "
        f"lowest at {lowest}:"
    )
    print("  a grid only brackets the minimum; the closed form finds it.")


run_in_notebook(deeper_slope_and_bias, descent)


# %% [markdown]
# Watch it move: the descent of section 4, step by step, with the line it draws beside it.
# As a script, `python lesson.py --animate` saves it as descent.gif; `--explore` opens a window
# where you drag w, b and the step size yourself.


# %%
def animate_descent(run: Run) -> None:
    """Section 4's descent at lr 0.1 as an animation, long enough to see b lag behind w."""
    x, y = slope_and_bias_data(run)
    history = train_slope_and_bias(x, y, *SLOPE_BIAS_START, LAB_LR, ANIMATION_STEPS)
    costs = [mse(slope * x + bias, y).item() for slope, bias in history.params]
    grid = figures.contour_grid(SURFACE_RANGE)
    surface = (grid, grid, cost_surface(x.cpu(), y.cpu(), grid, grid))
    movie = animation.descent_animation(x.cpu(), y.cpu(), history.params, costs, least_squares(x, y), surface, LAB_LR)
    run.figures.emit_animation(movie, "descent")


def explore_descent(run: Run) -> None:
    """A window with sliders for w, b and lr, and buttons to step the descent yourself."""
    x, y = slope_and_bias_data(run)
    optimum = least_squares(x, y)  # starred on the contours
    explorer.open_explorer(
        x.cpu(), y.cpu(), SLOPE_BIAS_START, train_slope_and_bias, mse, cost_surface, max_stable_lr(x), LAB_LR, optimum
    )


run_in_notebook(animate_descent)


# %% [markdown]
# ## 5. Training with nn.MSELoss and optim.SGD
# The article's run on four deliveries. `optim.SGD` does the update sections 3 and 4 wrote by
# hand. `optimizer.zero_grad()` sets each `.grad` to None (the default since PyTorch 2.0), so the
# next `backward()` writes a fresh gradient instead of adding to an old one: zeroing before the
# forward pass here does the job `.grad.zero_()` did after the step in sections 3 and 4.
# The article's loop is five lines:
#
#     for epoch in range(epochs):
#         optimizer.zero_grad()
#         predictions = model(distances)
#         loss = loss_fn(predictions, times)
#         loss.backward()
#         optimizer.step()
#
# The run below writes those five lines and adds five more, each marked `# added`: before the
# backward pass, a check that stops with one sentence when the loss rises above where it started
# or stops being a number; the loss curve; a print every 100 epochs; a few lines for the figure;
# and, after the loop, a check that stops a step size at or above 2/λmax even before its loss has
# grown. Every epoch steps on all four deliveries at once, so one epoch is one step.
#
# `optim.SGD` is one optimizer of `torch.optim`; `optim.Adam` (exercise 2) is another, built and
# stepped the same way. SGD steps each parameter by lr × its gradient, so a steep gradient makes a
# long step. Adam keeps, for each parameter, a running average of its gradient (m) and of the
# gradient's square (v), and steps by lr·m/(√v + ε): about lr, whatever the gradient's size. One
# computed line shows it on section 4's points.


# %%
def first_step_and_cost(
    optimizer_class: type[optim.Optimizer], x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float
) -> tuple[float, float]:
    """From `start`, how far the first step of the optimizer moves w, and the cost after 15 steps, on y ≈ w·x + b."""
    w = torch.tensor(start[0], requires_grad=True, device=x.device)
    b = torch.tensor(start[1], requires_grad=True, device=x.device)
    optimizer = optimizer_class([w, b], lr=lr)
    moves = []
    for _ in range(15):  # section 4's steps
        optimizer.zero_grad()
        mse(w * x + b, y).backward()
        before = w.item()
        optimizer.step()
        moves.append(w.item() - before)
    return moves[0], mse(w * x + b, y).item()


@dataclass
class Trained:
    """Section 5's run: the data, where it started and ended, and the closed form, for its going-deeper part."""

    distances: torch.Tensor
    times: torch.Tensor
    start: tuple[float, float]
    line: tuple[float, float]
    optimum: tuple[float, float]


def section_training(run: Run) -> Trained:
    heading(5, "Training: nn.MSELoss and optim.SGD on the distance/time data")
    distances, times = run.deliveries  # (4, 1) each
    pairs = [
        f"{d:g} -> {t:.2f}" for d, t in zip(distances.reshape(-1).tolist(), times.reshape(-1).tolist(), strict=True)
    ]
    more = f", ... ({len(pairs)} in all)" if len(pairs) > 4 else ""
    print(f"{len(distances)} deliveries from {run.data.name}, miles -> minutes: {', '.join(pairs[:4])}{more}")
    optimum = least_squares(distances, times)
    stable = max_stable_lr(distances)
    if run.lr >= stable:
        print(
            f"Note: lr {run.lr:g} is not below 2/λmax, a little above {round_down(stable):g}: plain full-batch "
            "gradient descent cannot converge at this step size."
        )

    torch.manual_seed(run.seed)
    model = LinearRegression().to(run.device)
    start = line_of(model)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=run.lr)
    loss_fn(model(distances), times).backward()  # once before the loop, to see what zero_grad() leaves
    gradient = model.linear.weight.grad.item()
    optimizer.zero_grad()
    print(f"One backward() fills model.linear.weight.grad with {gradient:.3f}; then optimizer.zero_grad() sets it")
    print(f"  to {model.linear.weight.grad}, so the next backward() writes a fresh gradient: nothing accumulates.")
    print(
        f"From w = {start[0]:.4f}, b = {start[1]:.4f} (seed {run.seed}), nn.MSELoss(), optim.SGD(lr={run.lr:g}), "
        f"{run.epochs} epochs, each one step on all {len(distances)} deliveries:"
    )
    losses, snapshots = [], {0: start}
    for epoch in range(run.epochs):
        optimizer.zero_grad()  # zero
        predictions = model(distances)  # forward
        loss = loss_fn(predictions, times)  # loss
        stop_if_growing(loss, epoch, run.lr, distances, losses)  # added: never step on a growing loss or a nan
        losses.append(loss.item())  # added: the loss curve
        if epoch % LOG_EVERY == 0:  # added: a print now and then
            print(f"  epoch {epoch:4d}   loss {loss.item():.4g}")
        loss.backward()  # backward
        optimizer.step()  # step
        if epoch + 1 in SNAPSHOT_EPOCHS:  # added: a few lines for the figure
            snapshots[epoch + 1] = line_of(model)
    stop_if_cannot_converge(run.lr, distances, losses)  # added: at or above 2/λmax, even before the loss grows
    slope, bias = line_of(model)
    snapshots[run.epochs] = (slope, bias)

    new = torch.tensor([[d] for d in NEW_DISTANCES], device=run.device)
    model.eval()  # evaluation mode, until model.train()
    with torch.inference_mode():  # predictions only: no operations recorded
        predicted = model(new)
    said = ", ".join(f"{d:g} -> {m:.2f}" for d, m in zip(NEW_DISTANCES, predicted.reshape(-1).tolist(), strict=True))
    closed = ", ".join(f"{optimum[0] * d + optimum[1]:.2f}" for d in NEW_DISTANCES)
    print(f"Predicted minutes: {said} (the least-squares line says {closed}).")
    print(
        f"  model.eval() set model.training = {model.training}; under torch.inference_mode(), "
        f"predicted.grad_fn = {predicted.grad_fn}."
    )

    final = mse(model(distances), times).item()
    best_loss = mse(distances * optimum[0] + optimum[1], times).item()
    above = round(share_above(final, best_loss, times), 3)  # 0.037: 3.7% above the closed form's, as printed
    how_far = f"{above:.1%} above"
    if above >= 1:  # far off: a multiple, or just "above" a closed form whose loss is 0
        how_far = f"{final / best_loss:,.0f} times" if best_loss > 0 else "above"
    trained, closed = f"w = {slope:.4f}, b = {bias:.4f}", f"w = {optimum[0]:.4f}, b = {optimum[1]:.4f}"
    print(f"Trained:       {trained}, loss {final:.3g}, {how_far} the closed form's")
    print(f"Closed form:   {closed}, loss {best_loss:.3g}")
    if trained == closed:
        print("Training reached the closed-form line, to the four decimals printed.")
    else:
        story = slow_direction(distances, times, start, run.lr, run.epochs)
        if above <= CLOSE_SHARE:  # the rule, judged on the share as printed
            verdict = f"Close, within {CLOSE_SHARE:.0%}, not on it"
        else:
            verdict = f"Not close (close is within {CLOSE_SHARE:.0%})"
        print(f"{verdict}: each step keeps {story.kept_per_step:.4f} of the error that is left.")

    x, y = slope_and_bias_data(run)  # section 4's points, not these deliveries
    (sgd_move, sgd_cost), (adam_move, adam_cost) = (
        first_step_and_cost(kind, x, y, SLOPE_BIAS_START, LAB_LR) for kind in (optim.SGD, optim.Adam)
    )
    print("optim.Adam steps each parameter by lr·m/(√v + ε), m and v running averages of its gradient and its square.")
    print(
        f"  Section 4's run at lr {LAB_LR:g}: w's first step is {sgd_move:.4f} with SGD, {adam_move:.4f} with Adam; "
        f"15 steps end at J = {sgd_cost:.4g} and {adam_cost:.4g}."
    )

    if run.plots:
        fig = figures.plot_training(distances.cpu(), times.cpu(), [*losses, final], snapshots, optimum, best_loss)
        run.figures.emit(fig, "training")
    return Trained(distances, times, start, (slope, bias), optimum)


trained = run_in_notebook(section_training)


# %% [markdown]
# ### Going deeper (optional): where training stops, predicted by linear algebra
# On this quadratic cost each step multiplies the error θ - θ* by (I - lr·H), so the line after
# 500 steps can be computed without training.


# %%
def percent(share: float) -> str:
    """A share as a percentage with three significant digits: 22.3%, 0.0312%."""
    return f"{100 * share:.3g}%"


def deeper_training(run: Run, trained: Trained) -> None:
    going_deeper(5, "where training stops, predicted by linear algebra")
    story = slow_direction(trained.distances, trained.times, trained.start, run.lr, run.epochs)
    line = f"w = {trained.line[0]:.4f}, b = {trained.line[1]:.4f}"
    print(f"The Hessian of this cost has eigenvalues λmax = {story.steep:.2f} and λmin = {story.flat:.3f}.")
    print(
        f"  Along the {story.name} direction each step keeps {story.kept_per_step:.4f} of the error: "
        f"{run.epochs} steps keep {percent(story.kept)} of it."
    )
    predicted_line = f"w = {story.predicted[0]:.4f}, b = {story.predicted[1]:.4f}"
    print(f"  (I - lr·H)^{run.epochs} applied to the starting error predicts {predicted_line}", end="")
    print(": what training found." if predicted_line == line else f";\n  training, in float32, found {line}.")
    if story.epochs_to_keep_0_1_percent:
        print(f"  0.1% of the error is left after {story.epochs_to_keep_0_1_percent} epochs at this step size.")


run_in_notebook(deeper_training, trained)


# %% [markdown]
# ### `train()`: the same loop, with the checks a real run needs
# Section 5's loop, packaged: it refuses an optimizer built on another model and predictions
# whose shape would broadcast against the targets, and stops with `DivergenceError` when the
# loss stops being a number. It does not stop a loss that rises: that sign of divergence holds
# for plain full-batch descent only, and with Adam or momentum (exercise 2) a loss may rise for
# a while and still converge. Section 6 and the exercises use it.


# %%
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
    check_optimizer_holds(model, optimizer)
    lr = optimizer.param_groups[0]["lr"]
    losses: list[float] = []
    for epoch in range(epochs):
        optimizer.zero_grad()  # zero
        predictions = model(x)  # forward
        check_same_shape(predictions, y)
        loss = loss_fn(predictions, y)  # loss
        stop_if_diverged(loss, epoch, lr, x, losses)
        losses.append(loss.item())
        if log_every and epoch % log_every == 0:
            print(f"  epoch {epoch:4d}   loss {loss.item():.4f}")
        loss.backward()  # backward
        optimizer.step()  # step
    return losses


# %% [markdown]
# ## 6. The step size
# Plain full-batch gradient descent (every step on all the data, no momentum) on this cost
# converges only when lr is below one limit, 2/λmax. λmax is the cost's largest curvature, and for
# a line it depends on the inputs x alone, so the limit is computed from the data before any
# training. The lesson prints it rounded down, so that the printed number, typed back as `--lr`,
# is a stable step size. Stable is not fast: just below the limit each step overshoots the best
# line and lands almost as far on the other side. The section trains from one start at five step
# sizes and calls the one that ends lowest about right.


# %%
def step_sizes(distances: torch.Tensor) -> dict[str, float]:
    """Section 6's step sizes, from the data's limit 2/λmax: too small, ..., too large."""
    stable = max_stable_lr(distances)
    return {
        "too small": SMALL_LR,
        "the article's": TRAIN_LR,
        "the limit to one digit": round_down(stable, 1),
        "just below the limit": round_down(stable),
        "too large": round(LARGE_LR_FACTOR * stable, 3),
    }


def train_at_step_sizes(
    distances: torch.Tensor, times: torch.Tensor, start: nn.Module, rates: dict[str, float], epochs: int
) -> tuple[dict[str, list[float]], dict[str, float | DivergenceError]]:
    """Each step size's run from copies of `start`: the losses before each step and after the last, or its error."""
    curves: dict[str, list[float]] = {}
    ends: dict[str, float | DivergenceError] = {}
    for name, lr in rates.items():
        model = copy.deepcopy(start)  # every step size starts from the same line
        try:
            losses = train(model, distances, times, optim.SGD(model.parameters(), lr=lr), epochs)
        except DivergenceError as error:
            curves[name], ends[name] = error.losses, error
            continue
        ends[name] = mse(model(distances), times).item()  # after the last step: train() records before each step
        curves[name] = [*losses, ends[name]]
    return curves, ends


def section_learning_rate(run: Run) -> None:
    heading(6, "The step size: too small, about right, too large")
    distances, times = run.deliveries
    stable = max_stable_lr(distances)
    torch.manual_seed(run.seed)
    start = LinearRegression().to(run.device)
    rates = step_sizes(distances)
    limit = round_down(stable)
    print(f"Plain full-batch gradient descent is stable here only for lr below 2/λmax, a little above {limit:g}")
    print(f"  (λmax: the cost's largest curvature, from the inputs x alone). {RATE_EPOCHS} epochs from one start:")
    curves, ends = train_at_step_sizes(distances, times, start, rates, RATE_EPOCHS)
    slope, bias = least_squares(distances, times)
    best = mse(slope * distances + bias, times).item()  # the least-squares loss, the lowest any line reaches
    finished = {name: end for name, end in ends.items() if not isinstance(end, DivergenceError)}
    lowest = min(finished, key=finished.__getitem__, default=None)
    runs: dict[str, list[float]] = {}
    for name, lr in rates.items():
        label = f"lr {lr:g} ({'about right, lowest' if name == lowest else name})"
        runs[label], end = curves[name], ends[name]
        if isinstance(end, DivergenceError):
            print(
                f"  {label + ':':<36} stopped at epoch {end.epoch}: the loss grew from {digits(end.losses[0], 3)} "
                f"to {digits(end.losses[-1], 2)}, then overflowed"
            )
            continue
        first = curves[name][0]
        if lr >= stable:
            verdict = "the loss grew, diverging" if end > first else "at or above the limit, it cannot converge"
        else:
            verdict = f"about {digits(end - best, 2)} above least squares"
        print(f"  {label + ':':<36} loss {digits(first, 3)} -> {digits(end, 3)}, {verdict}")
    if run.plots:
        # Clip at a round power of ten above the first loss, so the diverging run leaves the chart.
        ceiling = 10.0 ** math.ceil(math.log10(max(losses[0] for losses in runs.values())) + 0.5)
        run.figures.emit(figures.plot_learning_rates(runs, ceiling), "learning_rate")


run_in_notebook(section_learning_rate)


# %% [markdown]
# ### Going deeper (optional): what each step size does to each direction of the cost
# The second derivatives of the cost form its Hessian H (section 4's going-deeper part); its
# eigenvalues λmax and λmin are the curvatures along the directions where the cost bends most and
# least. Along each, one step multiplies the error by 1 - lr·λ. The error shrinks while
# |1 - lr·λ| < 1, which is where 2/λmax comes from; the slower of the two directions sets the
# pace, and the two are balanced, as fast as one step size can make the slower, at
# lr = 2/(λmax + λmin). Linear algebra also finds the step size that ends lowest after 60 epochs.


# %%
def deeper_learning_rate(run: Run, _: None = None) -> None:
    going_deeper(6, "what each step size does to each direction of the cost")
    distances, times = run.deliveries
    flat, steep = curvatures(distances)
    torch.manual_seed(run.seed)
    start = LinearRegression().to(run.device)
    lowest = lowest_loss_lr(distances, times, line_of(start), RATE_EPOCHS)
    rates = {
        **step_sizes(distances),
        f"lowest after {RATE_EPOCHS} epochs": lowest,
        "2/(λmax + λmin)": round_down(2 / (steep + flat)),
    }
    print(f"λmax = {steep:.4f} and λmin = {flat:.4f}. One step multiplies the error along each by 1 - lr·λ:")
    for name, lr in rates.items():
        in_steep, in_flat = 1 - lr * steep, 1 - lr * flat
        slower = max(abs(in_steep), abs(in_flat))
        fate = "grows" if slower > 1 else "shrinks"
        print(f"  lr {lr:<7g} {name + ':':<24} steep × {in_steep:7.4f}, flat × {in_flat:.4f}: the slower {fate}")
    print(f"  |1 - lr·λmax| < 1 means lr < 2/λmax = 2/{steep:.3f}. At 2/(λmax + λmin) both factors have one size:")
    print("  the best rate guaranteed from any start.")
    _, vectors = torch.linalg.eigh(hessian(distances))  # the flat direction first, then the steep one
    optimum = torch.tensor(least_squares(distances, times), dtype=torch.float64)
    error = (vectors.T @ (torch.tensor(line_of(start), dtype=torch.float64) - optimum)).abs()  # (flat, steep)
    print(f"From this start the error along the steep direction is {error[1] / error[0]:.1f} times that along the")
    print("  flat one, and the loss is the least-squares loss plus Σ λ/2·(error along each)². A step a little")
    print(f"  below the balance shrinks the large steep error faster: linear algebra finds lr {lowest:g} lowest")
    print(f"  after {RATE_EPOCHS} epochs, its loss after the last step:")
    names = (f"lowest after {RATE_EPOCHS} epochs", "2/(λmax + λmin)", "just below the limit")
    chosen = {name: rates[name] for name in names}
    _, ends = train_at_step_sizes(distances, times, start, chosen, RATE_EPOCHS)
    print("  " + ", ".join(f"lr {chosen[name]:g} ends at {digits(ends[name], 3)}" for name in names) + ".")
    new = torch.tensor([[7.0]], device=run.device)
    for name in ("just below the limit", "2/(λmax + λmin)"):
        lr = rates[name]
        model = copy.deepcopy(start)
        train(model, distances, times, optim.SGD(model.parameters(), lr=lr), TRAIN_EPOCHS)
        with torch.inference_mode():
            final, minutes = mse(model(distances), times).item(), model(new).item()  # after the last step
        print(
            f"At lr {lr:g} ({name}), the loss after {TRAIN_EPOCHS} epochs is about {digits(final, 2)}; 7 miles -> "
            f"{minutes:.2f} minutes."
        )
    model = copy.deepcopy(start)
    lr = rates["too large"]
    try:
        train(model, distances, times, optim.SGD(model.parameters(), lr=lr), RATE_EPOCHS)
    except DivergenceError as error:
        print(f"train() at lr {lr:g} raised DivergenceError: {error}")


run_in_notebook(deeper_learning_rate)


# %% [markdown]
# ## 7. A real training run: mini-batches, a validation set, a test set, a saved model
# A real data set is split three ways before training: training rows to learn from, validation
# rows to choose with (here, the step size), and test rows, looked at once at the end, to report
# how the chosen model does on data that decided nothing. Each step uses a small random batch
# of the training rows. The data have two inputs, so `nn.Linear(2, 1)` holds one slope per input.


# %%
def make_deliveries(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` deliveries: inputs (count, 2) of miles and stops, and minutes = the true plane + Gaussian noise."""
    generator = torch.Generator().manual_seed(seed)
    low, high = MILES_RANGE
    miles = low + (high - low) * torch.rand(count, 1, generator=generator)  # 0.5 to 5 miles
    stops = torch.randint(0, MOST_STOPS + 1, (count, 1), generator=generator).float()  # 0 to 4 stops on the way
    inputs = torch.cat([miles, stops], dim=1)  # (count, 2)
    noise = DELIVERY_NOISE * torch.randn(count, 1, generator=generator)
    return inputs, inputs @ torch.tensor([TRUE_WEIGHTS]).T + TRUE_BIAS + noise  # (count, 2), (count, 1)


@dataclass
class Fit:
    """One mini-batch training run: the model and its losses."""

    model: LinearRegression
    lr: float
    train_losses: list[float] = field(default_factory=list)  # after each epoch, on all training rows
    val_losses: list[float] = field(default_factory=list)  # after each epoch, on the validation rows

    @property
    def judged(self) -> float:
        """The mean validation loss of the last epochs: what the validation set chooses by."""
        return sum(self.val_losses[-JUDGED_EPOCHS:]) / len(self.val_losses[-JUDGED_EPOCHS:])

    @property
    def judged_text(self) -> str:
        """The mean validation loss of the last epochs, to the digits its course lets it keep."""
        return loss_text(self.judged, course(self.val_losses, JUDGED_EPOCHS))


def train_on_batches(
    loader: DataLoader,
    validation: tuple[torch.Tensor, torch.Tensor],
    lr: float,
    epochs: int,
    seed: int,
    device: torch.device,
) -> Fit:
    """Mini-batch SGD from a seeded start, with the training and validation losses after every epoch."""
    x_val, y_val = (rows.to(device) for rows in validation)  # .to() returns a tensor on device: assign it
    x_train, y_train = (rows.to(device) for rows in loader.dataset.tensors)
    torch.manual_seed(seed)  # every step size starts from the same weights
    model = LinearRegression(2, 1).to(device)  # a module's .to() moves it in place
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    fit = Fit(model, lr)
    for _ in range(epochs):
        model.train()  # training mode
        for batch_inputs, batch_minutes in loader:
            batch_inputs, batch_minutes = batch_inputs.to(device), batch_minutes.to(device)
            optimizer.zero_grad()  # zero
            loss = loss_fn(model(batch_inputs), batch_minutes)  # forward and loss
            loss.backward()  # backward
            optimizer.step()  # step
        model.eval()  # evaluation mode
        with torch.inference_mode():  # no graph, no gradients
            fit.train_losses.append(loss_fn(model(x_train), y_train).item())
            fit.val_losses.append(loss_fn(model(x_val), y_val).item())
    return fit


def course(losses: list[float], back: int) -> str:
    """How a loss curve ends, by one rule on its last `back` losses.

    A loss that is not a number: diverged. Lower at every epoch: still falling. Higher at every
    epoch: diverging. Anything else is bounded: level within 5% of its lowest, else jumping.
    """
    tail = losses[-back:]
    if not all(math.isfinite(loss) for loss in tail):
        return "diverged"
    if len(tail) < 2:
        return "one epoch"
    if all(later < earlier for earlier, later in itertools.pairwise(tail)):
        return "still falling"
    if all(later > earlier for earlier, later in itertools.pairwise(tail)):
        return "diverging"
    return "level" if max(tail) - min(tail) < LEVEL_SHARE * min(tail) else "jumping"


def loss_text(loss: float, kind: str) -> str:
    """A loss to the digits its run's course lets it keep on any machine: three while it falls, else about two."""
    if kind in ("still falling", "one epoch") or not math.isfinite(loss):
        return digits(loss, 3)
    return f"about {digits(loss, 2)}"


def trend(losses: list[float], back: int) -> str:
    """The course of a loss curve's last `back` epochs in words, with the numbers that hold on any machine."""
    tail, kind = losses[-back:], course(losses, back)
    if kind == "diverged":
        return "diverged, the loss overflowed"
    if kind == "still falling":
        return f"still falling, {digits(tail[0], 3)} to {digits(tail[-1], 3)}"
    if kind == "diverging":
        return f"diverging, about {digits(tail[0], 2)} to {digits(tail[-1], 2)}"
    if kind == "one epoch":
        return f"one epoch only, {loss_text(tail[0], kind)}"
    low, high = digits(min(tail), 2), digits(max(tail), 2)
    return f"bounded, {kind} at about {low}" if low == high else f"bounded, {kind} between about {low} and {high}"


@dataclass
class Workflow:
    """Section 7's split, scaling, runs and choice, for its going-deeper part."""

    inputs: torch.Tensor
    minutes: torch.Tensor
    rows: dict[str, torch.Tensor]  # training, validation and test row numbers
    mean: torch.Tensor
    std: torch.Tensor
    loader: DataLoader
    fits: dict[float, Fit]
    chosen: Fit
    device: torch.device


def section_workflow(run: Run) -> Workflow:
    heading(7, "A real training run: mini-batches, a validation set, a test set, a saved model")
    inputs, minutes = make_deliveries(DELIVERIES, seed=run.seed)
    (per_mile, per_stop), noise = TRUE_WEIGHTS, DELIVERY_NOISE
    print(
        f"{DELIVERIES} made-up deliveries on a known plane: minutes = {per_mile:g}·miles + "
        f"{per_stop:g}·stops + {TRUE_BIAS:g} + σ·ε, σ = {noise:g}."
    )

    # Split: a seeded shuffle of the row numbers, cut in three.
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(run.seed))
    held_out = int(HELD_OUT_SHARE * len(inputs))
    test_rows, val_rows, train_rows = order[:held_out], order[held_out : 2 * held_out], order[2 * held_out :]
    x_train, y_train = inputs[train_rows], minutes[train_rows]  # (240, 2), (240, 1)
    x_val, y_val = inputs[val_rows], minutes[val_rows]  # (80, 2), (80, 1)
    x_test, y_test = inputs[test_rows], minutes[test_rows]  # (80, 2), (80, 1): not looked at until the end
    counts = f"{len(x_train)} training, {len(x_val)} validation and {len(x_test)} test rows"
    shared = len(order) - len(set(order.tolist()))
    print(f"Split with seed {run.seed}: {counts}; {shared} rows in two parts.")

    # Scale: the inputs' mean and spread, measured on the training rows only.
    mean, std = x_train.mean(dim=0), x_train.std(dim=0)
    x_train, x_val, x_test = (x_train - mean) / std, (x_val - mean) / std, (x_test - mean) / std
    print("Every part scaled with the training rows' mean and std, so that both inputs have spread 1.")

    loader = DataLoader(
        TensorDataset(x_train, y_train),
        batch_size=BATCH_SIZE,
        shuffle=True,  # a new order every epoch
        generator=torch.Generator().manual_seed(run.seed),  # the same orders on every run
    )
    steps, last = BATCH_EPOCHS * len(loader), len(x_train) - (len(loader) - 1) * BATCH_SIZE
    print(f"DataLoader(batch_size={BATCH_SIZE}, shuffle=True): {len(loader)} batches per epoch, the last of {last}.")
    print(
        f"  An epoch is one pass over the training rows and a step one batch: {BATCH_EPOCHS} epochs are {steps} steps."
    )

    if run.device_option == "auto":  # --device auto: the line to copy into your own code
        device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    else:  # --device cpu, the default, so that every run prints the same numbers; or a device such as cuda:1
        device = run.device_option
    device = torch.device(device)
    fits = {}
    print(
        f"LinearRegression(2, 1) on {device}, optim.SGD, {BATCH_EPOCHS} epochs at each lr; the mean of the last "
        f"{JUDGED_EPOCHS} validation losses, and their course:"
    )
    for lr in CANDIDATE_LRS:
        loader.generator.manual_seed(run.seed)  # every step size sees the same batches
        fits[lr] = train_on_batches(loader, (x_val, y_val), lr, BATCH_EPOCHS, run.seed, device)
        print(f"  lr {lr:<5g} validation loss {fits[lr].judged_text}: {trend(fits[lr].val_losses, JUDGED_EPOCHS)}")
    print(
        f"  One rule: lower at each of the last {JUDGED_EPOCHS} is still falling, higher at each diverging, "
        f"else bounded: level within {LEVEL_SHARE:.0%}, else jumping."
    )
    ranked = sorted(fits.values(), key=lambda fit: fit.judged)  # the validation set decides
    chosen, runner_up = ranked[0], ranked[1]
    margin = runner_up.judged - chosen.judged
    print(
        f"The validation set chooses lr {chosen.lr:g}: the lowest mean, {digits(margin, 2)} below lr {runner_up.lr:g} "
        "(a mean, so that one epoch's noise does not decide)."
    )

    model = chosen.model
    model.eval()  # evaluation mode for predictions
    with torch.inference_mode():  # predictions only: nothing recorded for autograd
        predicted = model(x_test.to(device))
    try:
        (model.linear.weight * predicted).sum().backward()  # autograd would have to save predicted for backward
    except RuntimeError as error:
        print(f"An inference tensor that autograd must save raises RuntimeError: {str(error).split('. ')[0]}.")
    print("  torch.no_grad() also records nothing, and its results stay ordinary tensors: use it for updates by")
    print("  hand (sections 3 and 4), and torch.inference_mode() for predictions only read afterwards.")

    loss_fn = nn.MSELoss()
    baseline = y_train.mean()  # predict the training rows' mean minutes for every delivery: the loss to beat
    test_loss = loss_fn(predicted, y_test.to(device)).item()
    baseline_loss = loss_fn(baseline.expand_as(y_test), y_test).item()
    print(f"The test rows, once: the chosen model's loss is {test_loss:.4g}; always predicting the training mean")
    print(
        f"  ({baseline.item():.2f} minutes) costs {baseline_loss:.4g}. The test rows chose nothing, so "
        "their loss is a fair"
    )
    print("  estimate for new deliveries; a loss used to choose flatters the choice.")

    with run.files_folder() as folder:
        path = folder / MODEL_FILE
        with whole_file(path) as file:  # saved to memory, then moved into place whole: a stopped run cuts no file
            torch.save(model.state_dict(), file)  # torch.save takes a path or a file object
        print(f"torch.save(model.state_dict(), path) wrote {run.describe(path)}")
        loaded = LinearRegression(2, 1).to(device)  # a fresh model, with random weights
        loaded.load_state_dict(torch.load(path, weights_only=True))  # weights_only: tensors and plain data, no code
        loaded.eval()
        with torch.inference_mode():
            same = torch.equal(loaded(x_test.to(device)), predicted)
            trip = (torch.tensor([[3.0, 2.0]]) - mean) / std  # 3 miles, 2 stops, scaled as in training
            minutes_trip = loaded(trip.to(device)).item()
    truth = 3 * per_mile + 2 * per_stop + TRUE_BIAS
    print(f"  Loaded into a fresh LinearRegression(2, 1), it predicts the test rows identically: {same}. Scaled as in")
    print(f"  training, 3 miles and 2 stops -> {minutes_trip:.2f} minutes; the true plane says {truth:.2f}.")

    if run.plots:
        fig = figures.plot_workflow(
            {lr: fit.val_losses for lr, fit in fits.items()},
            chosen.lr,
            predicted.cpu(),
            y_test,
            baseline.item(),
            JUDGED_EPOCHS,
        )
        run.figures.emit(fig, "workflow")
    rows = {"training": train_rows, "validation": val_rows, "test": test_rows}
    return Workflow(inputs, minutes, rows, mean, std, loader, fits, chosen, device)


workflow = run_in_notebook(section_workflow)


# %% [markdown]
# ### Going deeper (optional): the scaling folded in, what a sample of rows can tell, and the step size's floor
# The scaling can be folded into the layer, so that the saved model takes raw miles and stops.
# The losses on a few rows are themselves samples, with standard errors; with the input
# distribution known, the loss on new deliveries can be computed exactly. With mini-batches the
# step size sets the noise the weights keep, not only whether training converges.


# %%
def delivery_moments() -> torch.Tensor:
    """E[x·xᵀ] for x = (miles, stops, 1) as make_deliveries draws them: (3, 3), in float64."""
    low, high = MILES_RANGE
    miles, miles_sq = (low + high) / 2, (high**3 - low**3) / (3 * (high - low))  # uniform on [low, high]
    stops = torch.arange(MOST_STOPS + 1, dtype=torch.float64)  # each count equally likely
    first = torch.tensor([miles, stops.mean().item(), 1.0], dtype=torch.float64)
    moments = torch.outer(first, first)  # independent inputs: E[a·b] = E[a]·E[b]
    moments[0, 0], moments[1, 1] = miles_sq, (stops**2).mean().item()
    return moments


def noise_floor(floors: dict[float, list[float]]) -> str:
    """What the bounded runs' validation losses, from the chosen step size up, say about the step size."""
    means = {lr: sum(losses[-JUDGED_EPOCHS:]) / len(losses[-JUDGED_EPOCHS:]) for lr, losses in floors.items()}
    steps = ", ".join(
        f"{loss_text(means[lr], course(floors[lr], JUDGED_EPOCHS))} at lr {lr:g}" for lr in sorted(floors)
    )
    rising = [means[lr] for lr in sorted(means)] == sorted(means.values())
    verdict = (
        "their validation loss rises with lr:"
        if rising
        else "though, a few epochs' noise ranks close step sizes either way:"
    )
    return (
        "  Where runs stay bounded, the step size sets the noise each step leaves in the weights. From the\n"
        f"  chosen lr up, {verdict}\n  {steps}."
    )


def deeper_workflow(run: Run, workflow: Workflow) -> None:
    going_deeper(7, "the scaling folded in, what a sample of rows can tell, and the step size's floor")
    model, device, mean, std = workflow.chosen.model, workflow.device, workflow.mean, workflow.std
    # Fold the scaling into the layer: w·(x - mean)/std + b = (w/std)·x + (b - (w/std)·mean).
    with torch.no_grad():
        model.linear.weight /= std.to(device)
        model.linear.bias -= (model.linear.weight * mean.to(device)).sum()
    sets = {name: (workflow.inputs[rows], workflow.minutes[rows]) for name, rows in workflow.rows.items()}
    x_train, y_train = sets["training"]
    design = torch.cat([x_train, torch.ones(len(x_train), 1)], dim=1).double()  # (240, 3)
    solution = torch.linalg.lstsq(design, y_train.double()).solution.reshape(-1)  # (3,): two slopes, then the bias
    planes = {
        "trained": torch.cat(
            [model.linear.weight.detach().cpu().double().reshape(-1), model.linear.bias.cpu().double()]
        ),
        "least squares": solution,
        "true plane": torch.tensor([*TRUE_WEIGHTS, TRUE_BIAS], dtype=torch.float64),
    }
    print("With the scaling folded into the layer, the model takes raw miles and stops:")
    for name, plane in planes.items():
        print(f"  {name:<14} w = [{plane[0]:.3f}, {plane[1]:.3f}], b = {plane[2]:.3f}")

    def squared_errors(rows: torch.Tensor, targets: torch.Tensor, plane: torch.Tensor) -> torch.Tensor:
        return (rows.double() @ plane[:2] + plane[2] - targets.double().reshape(-1)) ** 2  # (n,)

    seen = {part: rows for part, rows in sets.items() if part != "test"}  # the test rows reported once, above
    costs = {
        name: {part: squared_errors(*rows, plane).mean().item() for part, rows in seen.items()}
        for name, plane in planes.items()
    }
    print("Their mean squared errors:")
    for name, by_part in costs.items():
        print(f"  {name:<14} " + "   ".join(f"{part} {cost:.4f}" for part, cost in by_part.items()))
    ahead = costs["true plane"]["training"] - costs["trained"]["training"]
    if ahead > 0:
        print(f"On its own training rows the trained model beats the true plane by {ahead:.4f}: a fit also fits")
        print("  some noise.")
    else:
        print(f"On its own training rows the trained model trails the true plane by {-ahead:.4f}: the noise of its")
        print("  last mini-batch steps outweighs the noise it fitted.")

    # With the input distribution known, the expected loss on a new delivery is σ² + (θ - θ*)ᵀ·E[x·xᵀ]·(θ - θ*).
    moments, variance = delivery_moments(), DELIVERY_NOISE**2
    truth = planes["true plane"]
    extra = {
        name: ((plane - truth) @ moments @ (plane - truth)).item()
        for name, plane in planes.items()
        if name != "true plane"
    }
    expected = variance * torch.trace(torch.linalg.inv(design.T @ design) @ moments).item()
    n, p = len(x_train), design.shape[1]
    print(f"On a new delivery the true plane is expected to cost σ² = {variance:g}. From the known input distribution,")
    print(
        f"  the trained model is expected to cost {extra['trained']:.4f} more and least squares "
        f"{extra['least squares']:.4f} more."
    )
    print(
        f"  Over fresh noise on these training inputs, least squares would cost σ²·tr((XᵀX)⁻¹·E[x·xᵀ]) = {expected:.4f}"
    )
    print(f"  more on average; σ²·p/n = {variance * p / n:.4f} is that average when the new deliveries have exactly")
    print("  the training rows' inputs.")
    new_inputs, new_minutes = make_deliveries(NEW_DELIVERIES, seed=run.seed + 1)  # deliveries no model has seen
    gap = squared_errors(new_inputs, new_minutes, planes["trained"]) - squared_errors(new_inputs, new_minutes, truth)
    error = gap.std().item() / len(gap) ** 0.5
    print(f"  {NEW_DELIVERIES:,} new deliveries measure it: the trained model costs {gap.mean().item():.4f} more,")
    print(f"  with a standard error of {error:.4f}.")
    x_val, y_val = sets["validation"]
    gap = squared_errors(x_val, y_val, planes["trained"]) - squared_errors(x_val, y_val, truth)
    error = gap.std().item() / len(gap) ** 0.5
    print(
        f"The {len(gap)} validation rows measure it as {gap.mean().item():.4f}, with a standard error of {error:.4f}:"
    )
    print("  a few rows are a sample too, and can rank two close models either way.")

    workflow.loader.generator.manual_seed(run.seed)  # the batches of every run's first epoch
    limits = [max_stable_lr(batch) for batch, _ in workflow.loader]
    whole = max_stable_lr(workflow.loader.dataset.tensors[0])
    low, high = round_down(min(limits), 3), round_down(max(limits), 3)
    print(f"2/λmax is {round_down(whole, 3):g} for the whole scaled training set and {low:g} to {high:g} for the")
    print(f"  {len(limits)} batches of the first epoch.")
    runs = {lr: fit for lr, fit in workflow.fits.items() if lr >= workflow.chosen.lr}
    for lr in LARGE_BATCH_LRS:
        workflow.loader.generator.manual_seed(run.seed)
        x_scaled = (sets["validation"][0] - mean) / std
        runs[lr] = train_on_batches(
            workflow.loader, (x_scaled, sets["validation"][1]), lr, BATCH_EPOCHS, run.seed, device
        )
    floors, held = {}, []  # the runs that did not diverge; the bounded step sizes above the whole set's limit
    for lr, fit in runs.items():
        kind = course(fit.val_losses, JUDGED_EPOCHS)
        if kind not in ("diverged", "diverging"):
            floors[lr] = fit.val_losses
            held += [lr] if kind in ("level", "jumping") and lr > whole else []
        if lr >= CANDIDATE_LRS[-1]:
            above = sum(lr > limit for limit in limits)
            said = trend(fit.val_losses, JUDGED_EPOCHS)  # the rule of the table above, for every step size
            print(f"  lr {lr:g}, above the limit of {above} of the {len(limits)} batches: {said}")
    if held:
        print(f"  lr {held[-1]:g} stayed bounded above even the whole set's 2/λmax: with mini-batches the limit is")
        print("  a guide, not an edge.")
    else:
        print("  Every run above the whole set's 2/λmax diverged here: with mini-batches the limit is a guide,")
        print("  and this time it held.")
    print(noise_floor(floors))

    with run.files_folder() as folder:
        path = folder / WHOLE_MODEL_FILE
        with whole_file(path) as file:
            torch.save(model, file)  # the whole module, pickled: not a state_dict
        if run.writes_files:  # a temporary folder goes with the section, unremarked
            print(f"torch.save(model, path) wrote {run.describe(path)}")
        try:
            torch.load(path, weights_only=True)
        except Exception as error:  # torch raises pickle.UnpicklingError
            print(f"torch.load(..., weights_only=True) on a whole saved nn.Module raises {type(error).__name__}:")
    print("  weights_only loads tensors, numbers, strings, plain containers and allow-listed types, and refuses")
    print("  other pickled objects, such as a whole module; save the state_dict instead.")


run_in_notebook(deeper_workflow, workflow)


# %% [markdown]
# ## 8. Next steps
# The exercises practise what the lesson showed; pytest checks the answers.


# %%
def section_next_steps(run: Run) -> None:
    heading(8, "Next steps: the exercises")
    print("Open exercises/README.md. Each exercise is a file to fill in; pytest grades it:")
    for exercise in EXERCISES:  # the one list of exercises, exercises/catalog.py
        print(f"  {exercise.file:<40} {exercise.task:<32} {exercise.check_command}")
    heights, _ = load_height_weight()
    print(
        "A hint for ex1, from height_weight.csv: on raw centimetres step sizes must stay below "
        f"{round_down(max_stable_lr(heights), 3):g}, so lr {TRAIN_LR} diverges;"
    )
    standardised = (heights - heights.mean()) / heights.std()
    print(
        f"  on standardised heights, below {round_down(max_stable_lr(standardised), 3):g}. Scale the input, then train."
    )


run_in_notebook(section_next_steps)


# %% [markdown]
# ### Going deeper (optional): from a line to a multilayer model
# Training slope and bias together is the step toward multilayer models: the same loop, loss and
# optimizer train a stack of `nn.Linear` layers. Stacked with nothing between them, two layers are
# still one line, w = W2·W1 and b = W2·b1 + b2; an `nn.ReLU()` between them lets the model bend.


# %%
def deeper_next_steps(run: Run, _: None = None) -> None:
    going_deeper(8, "from a line to a multilayer model")
    x, _ = slope_and_bias_data(run)  # section 4's 60 points, x from -3.0 to 2.9
    torch.manual_seed(run.seed)
    stacked = nn.Sequential(nn.Linear(1, HIDDEN), nn.Linear(HIDDEN, 1)).to(run.device)
    inner, outer = stacked
    with torch.no_grad():
        slope = outer.weight @ inner.weight  # W2·W1, (1, 1)
        bias = outer.weight @ inner.bias + outer.bias  # W2·b1 + b2, (1,)
        same = torch.allclose(stacked(x), x @ slope.T + bias, atol=1e-5)
    layers = f"nn.Sequential(nn.Linear(1, {HIDDEN}), nn.Linear({HIDDEN}, 1))"
    print(f"{layers} is still a line: w = W2·W1 = {slope.item():.4f},")
    print(f"  b = W2·b1 + b2 = {bias.item():.4f}; it gives w·x + b at all 60 points of section 4: {same}.")
    curve = x**2  # a bend that no line follows
    line_slope, line_bias = least_squares(x, curve)
    line_cost = mse(line_slope * x + line_bias, curve).item()
    torch.manual_seed(run.seed)
    bent = nn.Sequential(nn.Linear(1, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1)).to(run.device)
    train(bent, x, curve, optim.Adam(bent.parameters(), lr=BRIDGE_LR), BRIDGE_EPOCHS)
    bent_cost = mse(bent(x), curve).item()
    print(f"With nn.ReLU() between the layers it can bend. On y = x² the best line costs {line_cost:.2g}; the")
    trained = f"{BRIDGE_EPOCHS} epochs of train() with Adam at lr {BRIDGE_LR:g}"
    print(f"  1 -> {HIDDEN} -> 1 network, {trained}, {bent_cost:.2g}.")
    print("  The same loop, loss and optimizer: only the model changed.")


run_in_notebook(deeper_next_steps)


# %%
SECTIONS: dict[str, Callable[[Run], Any]] = {
    "prediction": section_prediction,
    "data_and_cost": section_data_and_cost,
    "slope_only": section_slope_only,
    "slope_and_bias": section_slope_and_bias,
    "training": section_training,
    "learning_rate": section_learning_rate,
    "workflow": section_workflow,
    "next_steps": section_next_steps,
}
GOING_DEEPER: dict[str, Callable[[Run, Any], None]] = {  # a section's optional part, given what the section returned
    "prediction": deeper_prediction,
    "data_and_cost": deeper_data_and_cost,
    "slope_and_bias": deeper_slope_and_bias,
    "training": deeper_training,
    "learning_rate": deeper_learning_rate,
    "workflow": deeper_workflow,
    "next_steps": deeper_next_steps,
}

__all__ = [  # what exercises, tests and a learner's own code import from here
    "DATA_DIR",
    "ROOT",
    "SEED",
    "DatasetError",
    "DivergenceError",
    "History",
    "LinearRegression",
    "cost_surface",
    "gd_prediction",
    "gradient_formula",
    "hessian",
    "least_squares",
    "line_of",
    "load_csv",
    "load_distance_time",
    "make_deliveries",
    "make_line_data",
    "max_stable_lr",
    "mse",
    "train",
    "train_on_batches",
    "train_slope",
    "train_slope_and_bias",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sections the command line asks for; return the exit code."""
    return run_command_line(SECTIONS, argv, deeper=GOING_DEEPER, animate=animate_descent, explore=explore_descent)


if __name__ == "__main__" and "ipykernel" not in sys.modules:  # in a notebook the cells above ran the sections
    sys.exit(main())
