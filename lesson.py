"""Linear regression with PyTorch, from y = w·x + b to a trained model.

Every number this lesson prints is computed as it runs. Run it as a script:

    python lesson.py                       # every section, figures saved under figures/
    python lesson.py --section training    # one section (repeat --section for more); --list names them
    python lesson.py --no-plots            # text only; matplotlib is not imported
    python lesson.py --show                # also open the figures in windows where there is a display
    python lesson.py --animate             # also save section 4's descent as figures/descent.gif
    python lesson.py --explore             # a window to drag w, b and the step size yourself

or open it as a notebook (Jupyter with jupytext, or VS Code) and run the cells top to bottom.
Check the exercises with ``python -m pytest``.
"""

import copy
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from grader.catalog import EXERCISES
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
    curvatures,
    error_kept,
    gd_prediction,
    gradient_formula,
    hessian,
    max_stable_lr,
    round_down,
    slow_direction,
    steepest_descent,
)
from lesson_support.data import DATA_DIR, ROOT, DatasetError, load_csv, load_distance_time, load_height_weight
from lesson_support.runtime import SEED, Run, notebook_runner

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
TRAIN_LR, TRAIN_EPOCHS, LOG_EVERY = 0.01, 500, 50
NEW_DISTANCES = (5.0, 7.0, 10.0)  # miles to predict for after training
SNAPSHOT_EPOCHS = (10, 50, 150)  # epochs whose line the training figure draws, besides the first and last

# Section 6: the step-size study.
SMALL_LR, LARGE_LR_FACTOR, RATE_EPOCHS = 0.001, 1.75, 60

# Section 7: a real training run on deliveries with two inputs, miles and stops.
DELIVERIES = 400  # enough rows to hold some out and to batch
TRUE_WEIGHTS, TRUE_BIAS = (5.0, 3.0), 2.0  # minutes per mile, minutes per stop, fixed minutes
DELIVERY_NOISE = 2.0  # σ of the Gaussian noise, in minutes
VALIDATION_SHARE = 0.2  # the rows held out of training
BATCH_SIZE, BATCH_LR, BATCH_EPOCHS = 32, 0.05, 15
NEW_DELIVERIES = 10_000  # fresh deliveries that tell the models apart where 80 validation rows cannot
MODEL_FILE = "delivery_model.pt"

run_in_notebook = notebook_runner(__name__)  # in Jupyter or VS Code each section runs under its own cell


def heading(number: int, title: str) -> None:
    print(f"\n== {number}. {title} ==")


def fmt(values: torch.Tensor) -> str:
    """A (n, 1) tensor as a short list, e.g. [[1.0000], [3.0000]]."""
    return "[" + ", ".join(f"[{value:.4f}]" for value in values.reshape(-1).tolist()) + "]"


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
    print(f"w = {w.item():g} and b = {b.item():g} are tensors with requires_grad=True.")
    print(f"forward(x) = w·x + b on x = {fmt(x)} gives {fmt(yhat.detach())}")
    add = yhat.grad_fn  # the last operation, + b
    (multiply, _), _ = add.next_functions  # w·x, and b
    print(f"  autograd recorded the operations: yhat.grad_fn = {type(add).__name__} (the + b), linked to")
    print(f"  {type(multiply).__name__} (the w·x, linked to w) and to b: the path backward() follows to w and b")

    torch.manual_seed(run.seed)
    layer = nn.Linear(1, 1).to(run.device)
    weight, bias = layer.weight.item(), layer.bias.item()
    print(f"\nnn.Linear(1, 1) after torch.manual_seed({run.seed}) starts random: weight {weight:.4f}, bias {bias:.4f}")
    state = {name: [round(v, 4) for v in tensor.reshape(-1).tolist()] for name, tensor in layer.state_dict().items()}
    print(f"  its state_dict() holds exactly these: {state}")
    one = layer(torch.tensor([[1.0]], device=run.device)).item()
    print(f"  at x = 1 it predicts {one:.4f} = {weight:.4f}·1 + {bias:.4f}")

    x = torch.tensor([[2.0], [4.0]], device=run.device)
    with torch.no_grad():
        layer.weight.fill_(-0.4443)
        layer.bias.fill_(-0.5045)
        exact = layer(x)
        layer.weight.fill_(-0.44426)  # unrounded weights that round to the ones above
        layer.bias.fill_(-0.50446)
        unrounded = layer(x)
    print("\nThe worked example sets weight -0.4443 and bias -0.5045 and applies the layer to [[2.], [4.]]:")
    print(
        f"  model(x) = {fmt(exact)}   (by hand: 2·(-0.4443) - 0.5045 = {2 * -0.4443 - 0.5045:.4f}, "
        f"4·(-0.4443) - 0.5045 = {4 * -0.4443 - 0.5045:.4f})"
    )
    print("  That is the exact result. The source's code comment shows [[-1.3930], [-2.2815]], likely from")
    print(f"  unrounded weights: -0.44426 and -0.50446 round to the ones above and give {fmt(unrounded)}.")

    torch.manual_seed(run.seed)
    model = LinearRegression(1, 1).to(run.device)
    x = torch.tensor([[1.0], [2.0], [3.0]], device=run.device)
    slope, bias = line_of(model)
    print("\nA custom LinearRegression(nn.Module) keeps an nn.Linear in self.linear; model(x) calls forward(x).")
    print(f"  with the same seed it starts where nn.Linear did: weight {slope:.4f}, bias {bias:.4f}")
    print(f"  model({fmt(x)}) = {fmt(model(x).detach())}, and w·x + b by hand = {fmt(x * slope + bias)}")


run_in_notebook(section_prediction)


# %% [markdown]
# ## 2. Data and cost
# Real measurements scatter around a line: y = f(x) + σ·ε with ε drawn from a standard normal.
# The mean squared error J = mean((ŷ - y)²) scores a line; the best line has the least J.
# Why squares: with Gaussian noise, the probability of the data under a line is a product of
# terms exp(-(y - ŷ)²/(2σ²)), largest where the sum of squared errors is smallest. The
# least-squares line is the most likely line (maximum likelihood). It has a closed form,
# w = cov(x, y)/var(x) and b = ȳ - w·x̄: the yardstick of the sections that follow.


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


def section_data_and_cost(run: Run) -> None:
    heading(2, "Data and cost: noise and the mean squared error")
    true_slope, true_bias = SLOPE_BIAS_TRUE
    x, y = (t.to(run.device) for t in make_line_data(true_slope, true_bias, NOISE_STD, seed=run.seed))
    pairs = ", ".join(f"({a:.1f}, {b:.3f})" for a, b in zip(x[:3, 0].tolist(), y[:3, 0].tolist(), strict=True))
    print(f"{len(x)} ordered pairs (x, y) from f(x) = x - 1 plus noise σ·ε, with σ = {NOISE_STD} and ε ~ N(0, 1):")
    print(f"  the first three: {pairs}, ...")
    noise = y - (true_slope * x + true_bias)
    print(f"  the noise drawn has mean {noise.mean().item():.4f} and standard deviation {noise.std().item():.4f}")

    predictions = true_slope * x + true_bias
    by_hand, builtin = mse(predictions, y), nn.MSELoss()(predictions, y)
    print(f"\nJ for f itself: mean((ŷ - y)²) by hand = {by_hand.item():.6f}, nn.MSELoss() = {builtin.item():.6f}")
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
    print(f"\nThe closed form: w = cov(x, y)/var(x) = {optimum[0]:.4f}, b = ȳ - w·x̄ = {optimum[1]:.4f}")
    print(f"  torch.linalg.lstsq on the columns [x, 1] finds the same line: w = {checked[0]:.4f}, b = {checked[1]:.4f}")
    lines = {
        "w = 0, b = 0": (0.0, 0.0),
        "w = 1, b = 0": (1.0, 0.0),
        "w = 2, b = -1": (2.0, -1.0),
        "true f": SLOPE_BIAS_TRUE,
        "least squares": optimum,
    }
    costs = {name: mse(slope * x + bias, y).item() for name, (slope, bias) in lines.items()}
    print("The cost of a few candidate lines:")
    for name, cost in costs.items():
        print(f"  {name:<14} J = {cost:.4f}")
    n = len(x)
    expected = NOISE_STD**2 * (n - 2) / n
    print(f"No line costs less on these points than least squares, {costs['least squares']:.4f}, not even the true f,")
    print(f"  {costs['true f']:.4f}: least squares also fits this sample's noise. On the n points it is fitted to,")
    print(f"  its expected cost is σ²·(n - 2)/n = {NOISE_STD**2:g}·{n - 2}/{n} = {expected:.6f}, below the true line's")
    print(f"  σ² = {NOISE_STD**2:g}. On new data the true line wins: section 7 shows it on held-out data.")
    if run.plots:
        run.figures.emit(figures.plot_data_and_lines(x.cpu(), y.cpu(), lines, costs), "data_and_cost")


run_in_notebook(section_data_and_cost)


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
    print(f"After loss.backward(), w.grad = {first:.4f}; the formula 2·mean(x·(w·x - y)) gives {formula:.4f}.")
    mse(w * x, y).backward()
    print(f"A second backward() without zeroing adds to it: w.grad = {w.grad.item():.4f}, twice {first:.4f}.")
    w.grad.zero_()
    print(f"w.grad.zero_() resets it to {w.grad.item():g}; a step taken with the sum would jump twice as far.")
    try:
        w -= LAB_LR * w.grad  # in place, while autograd records
    except RuntimeError as error:
        print(f"Without torch.no_grad(), w -= lr * w.grad raises RuntimeError: {error}")

    epochs = 4
    runs = {f"start {w0:g}": train_slope(x, y, w0, LAB_LR, epochs) for w0 in SLOPE_ONLY_STARTS}
    print(f"\n{epochs} steps of forward, loss, backward, update, zero_(), each on all {len(x)} points: {epochs} epochs")
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
# with b beside w.
#
# How fast each parameter gets there depends on curvature: how sharply the cost bends, its
# second derivative. With two parameters the second derivatives form a 2×2 table, the Hessian
# H = [[∂²J/∂w², ∂²J/∂w∂b], [∂²J/∂b∂w, ∂²J/∂b²]]. Its eigenvalues are the curvatures along the
# two directions where the cost bends most (λmax) and least (λmin). One step multiplies the
# error along each of them by 1 - lr·λ, so k steps multiply the starting error by (I - lr·H)^k,
# and plain gradient descent converges only while every |1 - lr·λ| < 1: lr strictly below 2/λmax.


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


def section_slope_and_bias(run: Run) -> None:
    heading(4, "Gradient descent by hand: slope and bias")
    x, y = slope_and_bias_data(run)
    w0, b0 = SLOPE_BIAS_START
    w = torch.tensor(w0, requires_grad=True, device=run.device)
    b = torch.tensor(b0, requires_grad=True, device=run.device)
    mse(w * x + b, y).backward()
    formula = gradient_formula(x, y, w0, b0)
    print(f"Data: f(x) = x - 1 plus noise; (w, b) starts at ({w0:g}, {b0:g}).")
    print(f"The gradient (∂J/∂w, ∂J/∂b) there: autograd ({w.grad.item():.4f}, {b.grad.item():.4f}),")
    print(f"  formula (2·mean(r·x), 2·mean(r)) with r = w·x + b - y: ({formula[0]:.4f}, {formula[1]:.4f})")

    epochs = 15
    optimum = least_squares(x, y)
    runs = {f"lr {lr:g}": train_slope_and_bias(x, y, w0, b0, lr, epochs) for lr in (LAB_LR, PRACTICE_LR)}
    for name, history in runs.items():
        print(f"\n{name}, {epochs} steps (every third shown):")
        for k in range(0, len(history.params), 3):
            slope, bias = history.params[k]
            cost = mse(slope * x + bias, y).item()
            print(f"  step {k:2d}: w = {slope:8.4f}  b = {bias:8.4f}  J = {cost:.4g}")
    print(f"The least-squares optimum is w = {optimum[0]:.4f}, b = {optimum[1]:.4f}.")

    (curvature_w, mixed), (_, curvature_b) = hessian(x).tolist()
    print("\nWhy lr 0.1 leaves b short: the slices through the optimum are parabolas, J(w, b*) with")
    print(f"  curvature ∂²J/∂w² = 2·mean(x²) = {curvature_w:.4f} and J(w*, b) with ∂²J/∂b² = {curvature_b:.4f};")
    print(f"  the mixed term 2·mean(x) = {mixed:.4f} is small, so each parameter's error shrinks nearly on its own.")
    flat, steep = curvatures(x)
    print(f"  H, the Hessian, holds these: [[{curvature_w:.4f}, {mixed:.4f}], [{mixed:.4f}, {curvature_b:.4f}]]. Its")
    print("  eigenvalues, the curvatures along the directions where the cost bends most and least, are")
    print(f"  λmax = {steep:.4f} and λmin = {flat:.4f}.")
    for lr in (LAB_LR, PRACTICE_LR):
        in_w, in_b = 1 - lr * curvature_w, 1 - lr * curvature_b
        kept = error_kept(x, y, SLOPE_BIAS_START, lr, epochs)[1]
        print(f"  lr {lr:g}: each step multiplies the error in w by {in_w:.4f} and in b by {in_b:.4f};")
        print(
            f"    after {epochs} steps b keeps {kept:.2%} of its first error ((I - lr·H)^{epochs}, coupling included)"
        )
    limit = round_down(2 / steep)
    print(f"The steep direction caps the step size (lr strictly below 2/λmax, a little above {limit:g}); the flat one")
    print("  sets the pace.")

    slopes = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
    biases = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
    costs = cost_surface(x.cpu(), y.cpu(), slopes, biases)  # (biases, slopes), in one broadcast
    i, j = divmod(int(costs.argmin()), SURFACE_POINTS)
    nearest = (int((biases - optimum[1]).abs().argmin()), int((slopes - optimum[0]).abs().argmin()))
    print(f"\nThe cost surface on a {SURFACE_POINTS}×{SURFACE_POINTS} grid over w, b in [-15, 15], in one broadcast,")
    lowest = f"(w, b) = ({slopes[j].item():.2f}, {biases[i].item():.2f})"
    print(f"  rises to {costs.max().item():.4g}; its lowest point is {lowest}, J = {costs.min().item():.4g},")
    where = "the grid point nearest" if (i, j) == nearest else "a grid point near"
    print(f"  {where} the optimum: a grid only brackets the minimum, the closed form finds it.")

    if run.plots:
        coarse = torch.linspace(-13, 13, 9)
        grid_w, grid_b = (g.reshape(-1) for g in torch.meshgrid(coarse, coarse, indexing="xy"))
        directions = steepest_descent(x.cpu(), y.cpu(), grid_w, grid_b)  # unit arrows, so all are visible
        arrows = (grid_w, grid_b, directions[:, 0], directions[:, 1])
        run.figures.emit(figures.plot_surface_3d(slopes, biases, costs), "slope_and_bias_surface")
        fine = figures.contour_grid(SURFACE_RANGE)  # round contour rings need a finer grid than the printed one
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


run_in_notebook(section_slope_and_bias)


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
# The run below writes those five lines and adds four things, each marked `# added`: before the
# backward pass, a check that stops with one sentence when the loss rises above where it started
# or stops being a number; the loss curve and a few lines for the figure; a print every 50
# epochs. After the loop, a step size at or above 2/λmax is stopped the same way, even before its
# loss has grown. Every epoch steps on all four deliveries at once, so one epoch is one step.


# %%
def percent(share: float) -> str:
    """A share as a percentage with three significant digits: 22.3%, 0.0312%."""
    return f"{100 * share:.3g}%"


def section_training(run: Run) -> None:
    heading(5, "Training: nn.MSELoss and optim.SGD on the distance/time data")
    distances, times = run.deliveries  # (4, 1) each
    print(f"{len(distances)} deliveries from {run.data.name}: distance (miles) -> time (minutes)")
    for distance, time in zip(distances.reshape(-1).tolist(), times.reshape(-1).tolist(), strict=True):
        print(f"  {distance:5.2f} -> {time:6.2f}")
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
    print(f"\nLinearRegression() after torch.manual_seed({run.seed}) starts at w = {start[0]:.4f}, b = {start[1]:.4f}.")
    loss_fn(model(distances), times).backward()  # once before the loop, to see what zero_grad() leaves
    gradient = model.linear.weight.grad.item()
    optimizer.zero_grad()
    print(f"One backward() fills model.linear.weight.grad with {gradient:.4f}; then optimizer.zero_grad() sets it")
    print(f"  to {model.linear.weight.grad}, so the next backward() writes a fresh gradient: nothing accumulates.")
    print(f"nn.MSELoss(), optim.SGD(lr={run.lr:g}), {run.epochs} epochs:")
    losses, snapshots = [], {0: start}
    for epoch in range(run.epochs):
        optimizer.zero_grad()  # zero
        predictions = model(distances)  # forward
        loss = loss_fn(predictions, times)  # loss
        stop_if_growing(loss, epoch, run.lr, distances, losses)  # added: never step on a growing loss or a nan
        losses.append(loss.item())  # added: the loss curve
        if epoch % LOG_EVERY == 0:  # added: a print now and then
            print(f"  epoch {epoch:4d}   loss {loss.item():.4f}")
        loss.backward()  # backward
        optimizer.step()  # step
        if epoch + 1 in SNAPSHOT_EPOCHS:  # added: a few lines for the figure
            snapshots[epoch + 1] = line_of(model)
    stop_if_cannot_converge(run.lr, distances, losses)  # added: at or above 2/λmax, even before the loss grows
    slope, bias = line_of(model)
    snapshots[run.epochs] = (slope, bias)
    print(f"optim.SGD stepped on all {len(distances)} deliveries every epoch: plain, full-batch gradient descent,")
    print("  one step per epoch. It is called stochastic for its usual use, a step on a random mini-batch each time.")

    new = torch.tensor([[d] for d in NEW_DISTANCES], device=run.device)
    model.eval()  # evaluation mode, until model.train()
    with torch.inference_mode():  # predictions only: no operations recorded
        predicted = model(new)
    print(f"\nmodel.eval(), then torch.inference_mode(), for new distances {list(NEW_DISTANCES)}:")
    for distance, minutes in zip(NEW_DISTANCES, predicted.reshape(-1).tolist(), strict=True):
        closed_form = optimum[0] * distance + optimum[1]
        print(f"  {distance:g} miles -> {minutes:.2f} minutes (the least-squares line says {closed_form:.2f})")
    print(
        f"  model.eval() set model.training = {model.training} (until model.train()); "
        "it changes dropout and batch norm, not a line."
    )
    print(f"  torch.inference_mode() recorded no operations for backward(): predicted.grad_fn = {predicted.grad_fn}.")

    final = mse(model(distances), times).item()
    best_loss = mse(distances * optimum[0] + optimum[1], times).item()
    trained, closed = f"w = {slope:.4f}, b = {bias:.4f}", f"w = {optimum[0]:.4f}, b = {optimum[1]:.4f}"
    print(f"\nTrained:       {trained}, loss {final:.5f}")
    print(f"Closed form:   {closed}, loss {best_loss:.5f}")
    if trained == closed:
        print("Training reached the closed-form line, to the four decimals printed.")
    else:
        story = slow_direction(distances, times, start, run.lr, run.epochs)
        print(f"The gap is not noise: the Hessian of this cost has eigenvalues {story.steep:.2f} and {story.flat:.3f}.")
        print(
            f"  Along the {story.name} direction each step keeps {story.kept_per_step:.4f} of the error: "
            f"{run.epochs} steps keep {percent(story.kept)} of it."
        )
        predicted_line = f"w = {story.predicted[0]:.4f}, b = {story.predicted[1]:.4f}"
        print(f"  (I - lr·H)^{run.epochs} applied to the starting error predicts {predicted_line}", end="")
        print(": what training found." if predicted_line == trained else f";\n  training, in float32, found {trained}.")
        if story.epochs_to_keep_0_1_percent:
            print(f"  0.1% of the error is left after {story.epochs_to_keep_0_1_percent} epochs at this step size.")

    if run.plots:
        fig = figures.plot_training(distances.cpu(), times.cpu(), [*losses, final], snapshots, optimum, best_loss)
        run.figures.emit(fig, "training")


run_in_notebook(section_training)


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
# Plain full-batch gradient descent (every step on all the data, no momentum) on a quadratic cost
# converges only when lr is strictly below 2/λmax, λmax the largest eigenvalue of the cost's
# Hessian (section 4), which for a line depends only on the inputs x. The limit is this method's:
# momentum, Adam (exercise 2) and mini-batches (section 7) behave otherwise. The lesson prints it
# rounded down, so that the printed number, typed back as `--lr`, is a stable step size.


# %%
def section_learning_rate(run: Run) -> None:
    heading(6, "The step size: too small, good, too large")
    distances, times = run.deliveries
    flat, steep = curvatures(distances)
    stable = max_stable_lr(distances)
    print(f"The Hessian of the MSE for these distances has eigenvalues {steep:.3f} and {flat:.4f}; plain full-batch")
    print(f"  gradient descent (no momentum) converges only for lr strictly below 2/λmax = 2/{steep:.3f}.")
    print(f"  That limit is a little above {round_down(stable):g}: every lr up to {round_down(stable):g} is stable.")

    torch.manual_seed(run.seed)
    start = LinearRegression().to(run.device)
    rates = {
        "too small": SMALL_LR,
        "the article's": TRAIN_LR,
        "near the limit": round(0.8 * stable, 3),
        "too large": round(LARGE_LR_FACTOR * stable, 3),
    }
    runs: dict[str, list[float]] = {}
    for name, lr in rates.items():
        model = copy.deepcopy(start)  # every step size starts from the same line
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
        slope, bias = line_of(model)
        first, last = runs[label][0], runs[label][-1]
        verdict = ""
        if lr >= stable:
            verdict = ": the loss grew, diverging" if last > first else ": at or above the limit, it cannot converge"
        print(
            f"  lr {lr:<6g} {lr / stable:5.2f} × the limit: loss {first:.4g} -> {last:.4g} "
            f"after {RATE_EPOCHS} epochs; w = {slope:.4f}, b = {bias:.4f}{verdict}"
        )
    if run.plots:
        # Clip at a round power of ten above the first loss, so the diverging run leaves the chart.
        ceiling = 10.0 ** math.ceil(math.log10(max(losses[0] for losses in runs.values())) + 0.5)
        run.figures.emit(figures.plot_learning_rates(runs, ceiling), "learning_rate")


run_in_notebook(section_learning_rate)


# %% [markdown]
# ## 7. A real training run: mini-batches, a validation set, a saved model
# Real data sets are split before training: the model learns from the training rows and is judged
# on validation rows it never saw. It steps on small random batches of the training rows, not on
# all of them at once, and once trained it is saved to a file and loaded back. Here the data have
# two inputs, so `nn.Linear(2, 1)` holds one slope per input.


# %%
def make_deliveries(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` deliveries: inputs (count, 2) of miles and stops, and minutes = the true plane + Gaussian noise."""
    generator = torch.Generator().manual_seed(seed)
    miles = 0.5 + 4.5 * torch.rand(count, 1, generator=generator)  # 0.5 to 5 miles
    stops = torch.randint(0, 5, (count, 1), generator=generator).float()  # 0 to 4 stops on the way
    inputs = torch.cat([miles, stops], dim=1)  # (count, 2)
    noise = DELIVERY_NOISE * torch.randn(count, 1, generator=generator)
    return inputs, inputs @ torch.tensor([TRUE_WEIGHTS]).T + TRUE_BIAS + noise  # (count, 2), (count, 1)


def section_workflow(run: Run) -> None:
    heading(7, "A real training run: mini-batches, a validation set, a saved model")
    inputs, minutes = make_deliveries(DELIVERIES, seed=run.seed)
    (per_mile, per_stop), noise = TRUE_WEIGHTS, DELIVERY_NOISE
    print(f"{DELIVERIES} made-up deliveries with two inputs, miles and stops, and a known true plane:")
    print(f"  minutes = {per_mile:g}·miles + {per_stop:g}·stops + {TRUE_BIAS:g} + σ·ε, σ = {noise:g}, ε ~ N(0, 1).")

    # Split: a seeded shuffle of the row numbers, cut in two.
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(run.seed))
    held_out = int(VALIDATION_SHARE * len(inputs))
    val_rows, train_rows = order[:held_out], order[held_out:]
    x_train, y_train = inputs[train_rows], minutes[train_rows]  # (320, 2), (320, 1)
    x_val, y_val = inputs[val_rows], minutes[val_rows]  # (80, 2), (80, 1)
    shared = len(set(train_rows.tolist()) & set(val_rows.tolist()))
    print(f"Split with seed {run.seed}: {len(x_train)} training rows, {len(x_val)} validation rows, {shared} in both.")

    # Scale: the inputs' mean and spread, measured on the training rows only.
    mean, std = x_train.mean(dim=0), x_train.std(dim=0)
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    raw_flat, raw_steep = curvatures(inputs[train_rows])
    flat, steep = curvatures(x_train)
    raw_ratio, ratio = raw_steep / raw_flat, steep / flat
    print("Inputs scaled with the training rows' mean and std. The Hessian's largest eigenvalue over its")
    print(f"  smallest (section 4), λmax/λmin, is {raw_ratio:.0f} on raw miles and stops and {ratio:.1f} scaled:")
    print("  scaled, the flat direction no longer crawls while the steep one caps the step size.")

    loader = DataLoader(
        TensorDataset(x_train, y_train),
        batch_size=BATCH_SIZE,
        shuffle=True,  # a new order every epoch
        generator=torch.Generator().manual_seed(run.seed),  # the same orders on every run
    )
    steps, last = BATCH_EPOCHS * len(loader), len(x_train) - (len(loader) - 1) * BATCH_SIZE
    print(f"\nDataLoader(batch_size={BATCH_SIZE}, shuffle=True): {len(loader)} batches per epoch, the last of {last}.")
    print("  An epoch is one pass over the training rows; a batch, the rows one step sees; a step, one")
    print(f"  optimizer.step(). {BATCH_EPOCHS} epochs take {steps} steps. In section 5 the batch was all the data,")
    print("  so there an epoch was one step.")

    # The device, chosen once (--device decides here). A script of your own would write
    # device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = run.device
    torch.manual_seed(run.seed)
    model = LinearRegression(2, 1).to(device)
    shape, bias_shape = tuple(model.linear.weight.shape), tuple(model.linear.bias.shape)
    print(f"\nLinearRegression(2, 1) on {device}: weight of shape {shape}, a row of two slopes, one per input;")
    print(f"  bias of shape {bias_shape}.")
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=BATCH_LR)
    batch_losses, train_losses, val_losses = [], [], []
    print(f"optim.SGD(lr={BATCH_LR:g}), {BATCH_EPOCHS} epochs; the losses after each epoch, in evaluation mode:")
    for epoch in range(1, BATCH_EPOCHS + 1):
        model.train()  # training mode
        for batch_inputs, batch_minutes in loader:
            batch_inputs, batch_minutes = batch_inputs.to(device), batch_minutes.to(device)
            optimizer.zero_grad()  # zero
            loss = loss_fn(model(batch_inputs), batch_minutes)  # forward and loss
            loss.backward()  # backward
            optimizer.step()  # step
            batch_losses.append(loss.item())
        model.eval()  # evaluation mode
        with torch.inference_mode():  # no graph, no gradients
            train_losses.append(loss_fn(model(x_train.to(device)), y_train.to(device)).item())
            val_loss = loss_fn(model(x_val.to(device)), y_val.to(device))
            val_losses.append(val_loss.item())
        if epoch in (1, 2, 5, 10) or epoch == BATCH_EPOCHS:
            print(f"  epoch {epoch:2d}   training loss {train_losses[-1]:8.4f}   validation loss {val_losses[-1]:8.4f}")
    recorded = f"requires_grad = {val_loss.requires_grad}, grad_fn = {val_loss.grad_fn}"
    print(f"Under torch.inference_mode() nothing is recorded: the validation loss has {recorded}.")

    # Fold the scaling into the layer, so the model takes raw miles and stops from here on:
    # w·(x - mean)/std + b = (w/std)·x + (b - (w/std)·mean).
    with torch.no_grad():
        model.linear.weight /= std.to(device)
        model.linear.bias -= (model.linear.weight * mean.to(device)).sum()
    x_train, x_val = inputs[train_rows], inputs[val_rows]  # raw again: (320, 2), (80, 2)
    with torch.inference_mode():
        folded = loss_fn(model(x_val.to(device)), y_val.to(device)).item()
    print(
        f"\nThe scaling folded into the layer: the model now takes raw miles and stops; validation loss {folded:.4f}."
    )

    # The closed form on the training rows: least squares with a column of ones for the bias.
    design = torch.cat([x_train, torch.ones(len(x_train), 1)], dim=1).double()  # (320, 3)
    solution = torch.linalg.lstsq(design, y_train.double()).solution.reshape(-1)  # (3,): two slopes, then the bias
    planes = {
        "trained": (model.linear.weight.detach().cpu().double().reshape(-1), model.linear.bias.item()),
        "least squares": (solution[:2], solution[2].item()),
        "true plane": (torch.tensor(TRUE_WEIGHTS, dtype=torch.float64), TRUE_BIAS),
    }
    print("In minutes per mile and per stop:")
    for name, (slopes, offset) in planes.items():
        print(f"  {name:<14} w = [{slopes[0]:.3f}, {slopes[1]:.3f}], b = {offset:.3f}")

    def squared_errors(rows: torch.Tensor, targets: torch.Tensor, slopes: torch.Tensor, offset: float) -> torch.Tensor:
        return (rows.double() @ slopes + offset - targets.double().reshape(-1)) ** 2  # (n,)

    new_inputs, new_minutes = make_deliveries(NEW_DELIVERIES, seed=run.seed + 1)  # deliveries no model has seen
    print(f"\nThe mean squared error on the {len(x_train)} training rows, the {len(x_val)} validation rows, and")
    print(f"  {NEW_DELIVERIES:,} new deliveries drawn the same way:")
    costs = {
        name: [squared_errors(rows, targets, *plane).mean().item() for rows, targets in sets]
        for sets in [((x_train, y_train), (x_val, y_val), (new_inputs, new_minutes))]
        for name, plane in planes.items()
    }
    for name, (on_train, on_val, on_new) in costs.items():
        print(f"  {name:<14} training {on_train:.4f}   validation {on_val:.4f}   new {on_new:.4f}")
    on_train, on_val, on_new = (costs["true plane"][k] - costs["trained"][k] for k in range(3))
    if on_train > 0:
        print(f"On the rows it learned from, the trained model beats the true plane by {on_train:.4f}: it fitted")
        print("  some of their noise as if it were signal.")
    else:
        print(f"On the rows it learned from, the trained model is {-on_train:.4f} behind the true plane:")
        print("  the batch noise of the last steps outweighs what it fitted.")
    expected = DELIVERY_NOISE**2 * 3 / len(x_train)  # σ²·p/n: what fitting p = 3 numbers to n noisy rows costs
    if on_new < 0:
        print(f"On new deliveries that noise is gone, and the true plane wins by {-on_new:.4f} (on average σ²·3/n")
        print(
            f"  = {expected:.4f} for n = {len(x_train)} rows and three fitted numbers): section 2's puzzle, answered."
        )
    else:
        print(f"On new deliveries the trained model is still ahead, by {on_new:.4f}, against an average of")
        print(f"  σ²·3/n = {expected:.4f} for the true plane: a rare draw.")
    difference = squared_errors(x_val, y_val, *planes["trained"]) - squared_errors(x_val, y_val, *planes["true plane"])
    spread = difference.std().item() / len(difference) ** 0.5  # the standard error of the validation difference
    leader = "the true plane" if on_val < 0 else "the trained model"
    print(f"The {len(x_val)} validation rows put {leader} ahead by {abs(on_val):.4f}, with a standard error of")
    print(f"  {spread:.4f}: a validation set is a sample too, and the more rows it holds, the better it")
    print("  estimates the loss on new data.")
    if costs["trained"][1] < costs["trained"][0]:
        true_train, true_val = costs["true plane"][:2]
        print("  Its loss is below the training loss here because these rows happen to hold less noise:")
        print(f"  the true plane itself costs {true_val:.4f} on them and {true_train:.4f} on the training rows.")

    # Each batch is a small cost of its own, with its own curvature and its own largest stable step.
    limits = [max_stable_lr(batch) for batch, _ in loader]
    whole = 2 / steep  # 2/λmax of the scaled training rows, from their curvatures above
    low, high = round_down(min(limits), 3), round_down(max(limits), 3)
    print(f"\n2/λmax is {round_down(whole, 3):g} for the whole scaled training set, and {low:g} to {high:g} for the")
    print("  batches of one epoch: each batch has its own curvature, so with mini-batches the limit is only a")
    print(f"  guide. lr {BATCH_LR:g} stays far below all of them, which also keeps the noise of each step small.")

    with run.files_folder() as folder:
        path = folder / MODEL_FILE
        torch.save(model.state_dict(), path)
        print(f"\ntorch.save(model.state_dict(), path) wrote {run.describe(path)}")
        loaded = LinearRegression(2, 1).to(device)  # a fresh model, with random weights
        loaded.load_state_dict(torch.load(path, weights_only=True))  # weights_only: tensors, never code
        loaded.eval()
        with torch.inference_mode():
            same = torch.equal(loaded(x_val.to(device)), model(x_val.to(device)))
            trip = loaded(torch.tensor([[3.0, 2.0]], device=device)).item()  # 3 miles, 2 stops
    print(f"  A fresh LinearRegression(2, 1) loaded from it (keys {', '.join(loaded.state_dict())})")
    print(f"  predicts the validation rows identically: {same}. For 3 miles and 2 stops it says {trip:.2f} minutes;")
    print(f"  the true plane says {3 * TRUE_WEIGHTS[0] + 2 * TRUE_WEIGHTS[1] + TRUE_BIAS:.2f}.")

    if run.plots:
        fig = figures.plot_workflow(batch_losses, train_losses, val_losses, len(loader))
        run.figures.emit(fig, "workflow")


run_in_notebook(section_workflow)


# %% [markdown]
# ## 8. Next steps
# Four exercises practise what the lesson showed; pytest checks the answers.


# %%
def section_next_steps(run: Run) -> None:
    heading(8, "Next steps: the exercises")
    print("Open exercises/README.md. Each exercise is a file to fill in; pytest grades it:")
    for exercise in EXERCISES:  # the one list of exercises, grader/catalog.py
        print(f"  {exercise.file:<40} {exercise.task:<32} {exercise.check_command}")
    heights, _ = load_height_weight()
    print(
        "A hint for ex1, from height_weight.csv: on raw centimetres steps must stay below "
        f"{round_down(max_stable_lr(heights), 3):g}, so lr {TRAIN_LR} diverges;"
    )
    standardised = (heights - heights.mean()) / heights.std()
    print(
        f"  on standardised heights, below {round_down(max_stable_lr(standardised), 3):g}. Scale the input, then train."
    )


run_in_notebook(section_next_steps)

# %%
SECTIONS: dict[str, Callable[[Run], None]] = {
    "prediction": section_prediction,
    "data_and_cost": section_data_and_cost,
    "slope_only": section_slope_only,
    "slope_and_bias": section_slope_and_bias,
    "training": section_training,
    "learning_rate": section_learning_rate,
    "workflow": section_workflow,
    "next_steps": section_next_steps,
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
    "train_slope",
    "train_slope_and_bias",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sections the command line asks for; return the exit code."""
    return run_command_line(SECTIONS, argv, animate=animate_descent, explore=explore_descent)


if __name__ == "__main__" and "ipykernel" not in sys.modules:  # in a notebook the cells above ran the sections
    sys.exit(main())
