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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn, optim

from lesson_support import animation, explorer, figures
from lesson_support.checks import DivergenceError, check_optimizer_holds, check_same_shape, stop_if_diverged
from lesson_support.cli import run_command_line
from lesson_support.closed_form import (
    curvatures,
    error_kept,
    flat_direction,
    gd_prediction,
    gradient_formula,
    hessian,
    least_squares,
    max_stable_lr,
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
# `requires_grad=True` it records how each result depends on them, which training will need.
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
    print(f"  it remembers how it was made: grad_fn = {type(yhat.grad_fn).__name__}")

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
# The mean squared error J = mean((ŷ - y)²) scores a line; the best line has the least J, and
# for a line that best one has a closed form, the yardstick of the sections that follow.


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
    """The mean squared error, written out; refuses shapes that would silently broadcast."""
    check_same_shape(predictions, targets)
    return ((predictions - targets) ** 2).mean()


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
        "least squares": optimum,
    }
    costs = {name: mse(slope * x + bias, y).item() for name, (slope, bias) in lines.items()}
    print("\nThe cost of a few candidate lines:")
    for name, cost in costs.items():
        print(f"  {name:<14} J = {cost:.4f}")
    print(f"The closed-form least-squares line is w = {optimum[0]:.4f}, b = {optimum[1]:.4f}: no line costs less.")
    if run.plots:
        run.figures.emit(figures.plot_data_and_lines(x.cpu(), y.cpu(), lines, costs), "data_and_cost")


run_in_notebook(section_data_and_cost)


# %% [markdown]
# ## 3. Gradient descent on the slope alone
# Fit y ≈ w·x by stepping w against the gradient: w ← w - lr·∂J/∂w. Each step is a forward
# pass, the loss, `loss.backward()` (which fills `w.grad` with ∂J/∂w), the update under
# `torch.no_grad()` (the step is not part of the model), and `w.grad.zero_()`, because
# `backward()` adds to whatever `.grad` holds.


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

    epochs = 4
    runs = {f"start {w0:g}": train_slope(x, y, w0, LAB_LR, epochs) for w0 in SLOPE_ONLY_STARTS}
    print(f"\n{epochs} iterations of forward, loss, backward, update, zero_():")
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
        print(f"\n{name}, {epochs} iterations (every third shown):")
        for k in range(0, len(history.params), 3):
            slope, bias = history.params[k]
            cost = mse(slope * x + bias, y).item()
            print(f"  iteration {k:2d}: w = {slope:8.4f}  b = {bias:8.4f}  J = {cost:.4g}")
    print(f"The least-squares optimum is w = {optimum[0]:.4f}, b = {optimum[1]:.4f}.")

    (curvature_w, mixed), (_, curvature_b) = hessian(x).tolist()
    print("\nWhy lr 0.1 leaves b short: the slices through the optimum are parabolas, J(w, b*) with")
    print(f"  curvature ∂²J/∂w² = 2·mean(x²) = {curvature_w:.4f} and J(w*, b) with ∂²J/∂b² = {curvature_b:.4f};")
    print(f"  the mixed term 2·mean(x) = {mixed:.4f} is small, so each parameter's error shrinks nearly on its own.")
    for lr in (LAB_LR, PRACTICE_LR):
        in_w, in_b = 1 - lr * curvature_w, 1 - lr * curvature_b
        kept = error_kept(x, y, SLOPE_BIAS_START, lr, epochs)[1]
        print(f"  lr {lr:g}: each step multiplies the error in w by {in_w:.4f} and in b by {in_b:.4f};")
        print(
            f"    after {epochs} steps b keeps {kept:.2%} of its first error ((I - lr·H)^{epochs}, coupling included)"
        )
    print(f"The steep direction caps the step size at 2/λmax = {max_stable_lr(x):.4f}; the flat one sets the pace.")

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
        run.figures.emit(figures.plot_contour(slopes, biases, costs, runs, arrows, optimum), "slope_and_bias_contour")
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
        run.figures.emit(figures.plot_fits(x.cpu(), y.cpu(), runs[f"lr {LAB_LR:g}"], every=3), "slope_and_bias_fits")


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
    grid = torch.linspace(-SURFACE_RANGE, SURFACE_RANGE, SURFACE_POINTS)
    surface = (grid, grid, cost_surface(x.cpu(), y.cpu(), grid, grid))
    movie = animation.descent_animation(x.cpu(), y.cpu(), history.params, costs, least_squares(x, y), surface, LAB_LR)
    run.figures.emit_animation(movie, "descent")


def explore_descent(run: Run) -> None:
    """A window with sliders for w, b and lr, and buttons to step the descent yourself."""
    x, y = slope_and_bias_data(run)
    explorer.open_explorer(
        x.cpu(), y.cpu(), SLOPE_BIAS_START, train_slope_and_bias, mse, cost_surface, max_stable_lr(x), LAB_LR
    )


run_in_notebook(animate_descent)


# %% [markdown]
# ## 5. Training with nn.MSELoss and optim.SGD
# The article's loop on four deliveries. The optimizer now does the update and the zeroing that
# sections 3 and 4 wrote by hand, in the order zero_grad, forward, loss, backward, step.


# %%
def section_training(run: Run) -> None:
    heading(5, "Training: nn.MSELoss and optim.SGD on the distance/time data")
    distances, times = run.deliveries  # (4, 1) each
    print(f"{len(distances)} deliveries from {run.data.name}: distance (miles) -> time (minutes)")
    for distance, time in zip(distances.reshape(-1).tolist(), times.reshape(-1).tolist(), strict=True):
        print(f"  {distance:5.2f} -> {time:6.2f}")
    optimum = least_squares(distances, times)
    stable = max_stable_lr(distances)
    if run.lr >= stable:
        print(f"Note: lr {run.lr:g} is at or above {stable:.4g}, the largest stable step size here.")

    torch.manual_seed(run.seed)
    model = LinearRegression().to(run.device)
    start = line_of(model)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=run.lr)
    print(f"\nLinearRegression() after torch.manual_seed({run.seed}) starts at w = {start[0]:.4f}, b = {start[1]:.4f}.")
    print(f"nn.MSELoss(), optim.SGD(lr={run.lr:g}), {run.epochs} epochs:")
    losses, snapshots = [], {0: start}
    for epoch in range(run.epochs):
        optimizer.zero_grad()  # zero
        predictions = model(distances)  # forward
        loss = loss_fn(predictions, times)  # loss
        stop_if_diverged(loss, epoch, run.lr, distances, losses)  # never train on, or print, a nan
        losses.append(loss.item())
        if epoch % LOG_EVERY == 0:
            print(f"  epoch {epoch:4d}   loss {loss.item():.4f}")
        loss.backward()  # backward
        optimizer.step()  # step
        if epoch + 1 in SNAPSHOT_EPOCHS:
            snapshots[epoch + 1] = line_of(model)  # for the figure
    slope, bias = line_of(model)
    snapshots[run.epochs] = (slope, bias)
    print(f"optim.SGD stepped on all {len(distances)} deliveries every epoch: plain, full-batch gradient descent.")
    print("  It is called stochastic for its usual use, a step on a random mini-batch of the data each time.")

    new = torch.tensor([[d] for d in NEW_DISTANCES], device=run.device)
    with torch.no_grad():
        in_training_mode = model(new)
        model.eval()
        predicted = model(new)
    print(f"\nmodel.eval() and torch.no_grad() for new distances {list(NEW_DISTANCES)}:")
    for distance, minutes in zip(NEW_DISTANCES, predicted.reshape(-1).tolist(), strict=True):
        closed_form = optimum[0] * distance + optimum[1]
        print(f"  {distance:g} miles -> {minutes:.2f} minutes (the least-squares line says {closed_form:.2f})")
    same = "changed nothing" if torch.equal(in_training_mode, predicted) else "changed the predictions"
    print(f"  model.eval() {same} here: a Linear layer has no dropout or batch norm, the layers that")
    print("  behave differently in training; calling it before predicting is the habit for models that have them.")

    final = mse(model(distances), times).item()
    best_loss = mse(distances * optimum[0] + optimum[1], times).item()
    print(f"\nTrained:       w = {slope:.4f}, b = {bias:.4f}, loss {final:.5f}")
    print(f"Closed form:   w = {optimum[0]:.4f}, b = {optimum[1]:.4f}, loss {best_loss:.5f}")
    story = flat_direction(distances, times, start, run.lr, run.epochs)
    print(f"The gap is not noise: the Hessian of this cost has eigenvalues {story.steep:.2f} and {story.flat:.3f}.")
    print(
        f"  Along the flat direction each step keeps {story.kept_per_step:.4f} of the error: {run.epochs} steps keep "
        f"{story.kept:.1%} of it."
    )
    print(
        f"  (I - lr·H)^{run.epochs} applied to the starting error predicts w = {story.predicted[0]:.4f}, "
        f"b = {story.predicted[1]:.4f}: what training found."
    )
    if story.epochs_to_keep_0_1_percent:
        print(
            f"  To keep only 0.1% of the error would take {story.epochs_to_keep_0_1_percent} epochs at this step size."
        )

    if run.plots:
        fig = figures.plot_training(distances.cpu(), times.cpu(), losses, snapshots, optimum, best_loss)
        run.figures.emit(fig, "training")


run_in_notebook(section_training)


# %% [markdown]
# ### `train()`: the same loop, with the checks a real run needs
# Section 5's loop, packaged: it refuses an optimizer built on another model and predictions
# whose shape would broadcast against the targets, and stops with `DivergenceError` when the
# loss stops being a number. Section 6 and the exercises use it.


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
# Gradient descent on a quadratic cost converges only when lr < 2/λmax, λmax the largest
# eigenvalue of the cost's Hessian, which for a line depends only on the inputs x.


# %%
def section_learning_rate(run: Run) -> None:
    heading(6, "The step size: too small, good, too large")
    distances, times = run.deliveries
    flat, steep = curvatures(distances)
    stable = max_stable_lr(distances)
    print(f"The Hessian of the MSE for these distances has eigenvalues {steep:.3f} and {flat:.4f};")
    print(f"  the largest stable step size is 2/λmax = 2/{steep:.3f} = {stable:.4f}.")

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
        print(
            f"  lr {lr:<6g} {lr / stable:5.2f} × the limit: loss {runs[label][0]:.4g} -> {runs[label][-1]:.4g} "
            f"after {RATE_EPOCHS} epochs; w = {slope:.4f}, b = {bias:.4f}"
        )
    if run.plots:
        # Clip at a round power of ten above the first loss, so the diverging run leaves the chart.
        ceiling = 10.0 ** math.ceil(math.log10(max(losses[0] for losses in runs.values())) + 0.5)
        run.figures.emit(figures.plot_learning_rates(runs, ceiling), "learning_rate")


run_in_notebook(section_learning_rate)


# %% [markdown]
# ## 7. Next steps
# Three exercises practise what the lesson showed; pytest checks the answers.


# %%
EXERCISES = (  # marker, file, task
    ("ex1", "exercises/ex1_height_weight.py", "predict weight from height"),
    ("ex2", "exercises/ex2_optimizer_comparison.py", "SGD against Adam"),
    ("ex3", "exercises/ex3_loss_curve.py", "record and plot the loss curve"),
    ("ex4", "exercises/ex4_train_validate_save.py", "split, batch, validate, save"),
)


def section_next_steps(run: Run) -> None:
    heading(7, "Next steps: the exercises")
    print("Open exercises/README.md. Each exercise is a file to fill in; pytest grades it:")
    for name, file, task in EXERCISES:
        print(f"  {file:<40} {task:<32} python -m pytest -m {name}")
    heights, _ = load_height_weight()
    print(
        "A hint for ex1, from height_weight.csv: on raw centimetres the largest stable step size is "
        f"{max_stable_lr(heights):.3g}, so lr {TRAIN_LR} diverges;"
    )
    standardised = (heights - heights.mean()) / heights.std()
    print(f"  on standardised heights it is {max_stable_lr(standardised):.3g}. Scale the input, then train.")


run_in_notebook(section_next_steps)

# %%
SECTIONS: dict[str, Callable[[Run], None]] = {
    "prediction": section_prediction,
    "data_and_cost": section_data_and_cost,
    "slope_only": section_slope_only,
    "slope_and_bias": section_slope_and_bias,
    "training": section_training,
    "learning_rate": section_learning_rate,
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
