"""The grader's checks: each takes an exercise module and either returns or fails with a sentence.

Every check compares with a reference computed here, independently of the reference solutions:
the least-squares line for exercise 1, plain torch.optim loops for exercises 2 and 3. Each
failure says what was expected, what came, the tolerance and one hint.
"""

from __future__ import annotations

import copy
import importlib
import math
import numbers
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn, optim

import lesson

FILES = {number: Path(file).stem for number, (_, file, _) in enumerate(lesson.EXERCISES, start=1)}
PREDICTION_TOL_KG = 0.25  # the fitted line may differ from least squares by this much anywhere in the data
LOSS_RTOL = 1e-4  # a loss history matches the reference run to this relative tolerance...
LOSS_ATOL = 1e-6  # ...or this absolute one, for losses near zero
PARAM_ATOL = 1e-4  # final weights after training in place
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


class Answer:
    """One exercise file as the grader calls it: the learner's (`yours`) or the reference."""

    def __init__(self, number: int, module: ModuleType, yours: bool) -> None:
        self.number, self.module, self.yours = number, module, yours
        self.path = f"exercises/{'' if yours else 'solutions/'}{FILES[number]}.py"

    @classmethod
    def load(cls, number: int, yours: bool) -> Answer:
        name = f"exercises.{'' if yours else 'solutions.'}{FILES[number]}"
        try:
            module = importlib.import_module(name)
        except Exception as error:  # a learner's syntax error must read as a sentence, not a crash
            fail(f"{name.replace('.', '/')}.py cannot be imported: {type(error).__name__}: {error}. Fix that first.")
        return cls(number, module, yours)

    def __call__(self, function: str, *args: Any, **kwargs: Any) -> Any:
        implementation = getattr(self.module, function, None)
        if not callable(implementation):
            fail(f"{self.path} has no function {function}(); keep the names and arguments the file started with.")
        try:
            return implementation(*args, **kwargs)
        except NotImplementedError:
            if self.yours:
                pytest.skip(f"exercise {self.number} not attempted yet: open {self.path}")
            raise


# --- validating what came back ----------------------------------------------------------------


def expect_tensor(value: object, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should be a torch.Tensor of shape {shape}, but it is a {type(value).__name__}.")
    if tuple(value.shape) != shape:
        hint = " Use .view(-1, 1) to make a column." if value.numel() == math.prod(shape) else ""
        fail(f"{what} should have shape {shape}, but it has shape {tuple(value.shape)}.{hint}")
    if not value.is_floating_point():
        fail(f"{what} should hold floats (float32), but its dtype is {value.dtype}.")
    if not torch.isfinite(value).all():
        fail(f"{what} contains nan or inf; the computation that made it diverged or divided by zero.")
    return value


def expect_losses(value: object, epochs: int, what: str) -> list[float]:
    if isinstance(value, torch.Tensor):
        fail(f"{what} is a tensor; return a list of floats, one per epoch: append loss.item() each epoch.")
    if not isinstance(value, list | tuple):
        fail(f"{what} should be a list of {epochs} floats, but it is a {type(value).__name__}.")
    if len(value) != epochs:
        fail(f"{what} has {len(value)} entries; expected one per epoch, {epochs}.")
    for k, loss in enumerate(value):
        if isinstance(loss, torch.Tensor):
            fail(f"{what}[{k}] is a tensor; append loss.item(), a float, so the list does not hold the autograd graph.")
        if not isinstance(loss, numbers.Real):
            fail(f"{what}[{k}] should be a float, but it is a {type(loss).__name__}.")
        if not math.isfinite(loss):
            fail(f"{what}[{k}] is {loss}: training diverged. Check the step size and that the loss is the MSE.")
    return [float(loss) for loss in value]


def expect_figure(value: object, what: str) -> Any:
    from matplotlib.figure import Figure

    if not isinstance(value, Figure):
        fail(f"{what} should return a matplotlib Figure (e.g. fig from plt.subplots()), but it returned {value!r}.")
    return value


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL)


def explain_history(got: list[float], expected: list[float], what: str, start_hint: str) -> None:
    """Fail with the first epoch where a loss history leaves the reference, and the likely cause."""
    k = next((k for k, (a, b) in enumerate(zip(got, expected, strict=True)) if not _close(a, b)), None)
    if k is None:
        return
    if len(got) > 2 and all(_close(a, b) for a, b in zip(got[:-1], expected[1:], strict=True)):
        hint = "Your losses are one epoch late: record each loss in its forward pass, before optimizer.step()."
    elif k == 0:
        hint = start_hint
    else:
        hint = (
            f"The losses agree up to epoch {k - 1}, so the start is right. Check that optimizer.zero_grad() runs "
            "every epoch (gradients add up otherwise), the step size, and that the optimizer holds this model's "
            "parameters."
        )
    fail(
        f"{what}: at epoch {k} the loss should be {expected[k]:.6g}, but yours is {got[k]:.6g} "
        f"(relative tolerance {LOSS_RTOL:g}). {hint}"
    )


def reference_history(
    x: torch.Tensor, y: torch.Tensor, model: nn.Module, optimizer_class: type[optim.Optimizer], lr: float, epochs: int
) -> list[float]:
    """The plain loop every history is checked against: zero_grad, forward, loss, backward, step."""
    optimizer = optimizer_class(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return losses


def seeded_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return lesson.LinearRegression()


def line_data(
    points: int, slope: float, intercept: float, noise: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = 4 * torch.rand(points, 1, generator=generator)
    return x, slope * x + intercept + noise * torch.randn(points, 1, generator=generator)


# --- exercise 1: height and weight ------------------------------------------------------------


def adults(mean_cm: float, spread_cm: float, slope: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The grader's own adults: heights N(mean, spread²) and weight on a line through 70 kg at 170 cm."""
    generator = torch.Generator().manual_seed(seed)
    heights = mean_cm + spread_cm * torch.randn(n, 1, generator=generator)
    weights = 70 + slope * (heights - 170) + 7 * torch.randn(n, 1, generator=generator)
    return heights, weights


def check_data_contract(answer: Answer) -> None:
    result = answer("make_height_weight_data", 50, seed=3)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"make_height_weight_data should return (heights, weights), a pair of tensors; it returned {result!r}.")
    heights = expect_tensor(result[0], (50, 1), "heights from make_height_weight_data(50)")
    expect_tensor(result[1], (50, 1), "weights from make_height_weight_data(50)")
    if heights.dtype != torch.float32:
        fail(f"heights should be float32, the dtype nn.Linear computes in, but they are {heights.dtype}.")
    defaults = answer("make_height_weight_data")
    expect_tensor(defaults[0], (200, 1), "heights from make_height_weight_data() with its defaults")


def check_data_seed(answer: Answer) -> None:
    first, again, other = (answer("make_height_weight_data", 100, seed=seed) for seed in (5, 5, 6))
    if not (torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])):
        fail(
            "make_height_weight_data(100, seed=5) gave different data on two calls; draw the noise from "
            "torch.Generator().manual_seed(seed) so the same seed gives the same data."
        )
    if torch.equal(first[0], other[0]):
        fail("seeds 5 and 6 gave the same heights; the seed should decide the random draws.")


def check_data_realistic(answer: Answer) -> None:
    heights, weights = (
        expect_tensor(t, (2000, 1), "make_height_weight_data(2000)")
        for t in answer("make_height_weight_data", 2000, seed=1)
    )
    mean, spread = heights.mean().item(), heights.std().item()
    if not 160 <= mean <= 180 or not 2 <= spread <= 12:
        fail(
            f"the heights have mean {mean:.1f} cm and spread {spread:.1f} cm; adults average 160 to 180 cm "
            "with a spread of a few cm (say 5 to 10)."
        )
    slope, bias = lesson.least_squares(heights, weights)
    weight_at_mean = slope * mean + bias
    if not 0.2 <= slope <= 2.0 or not 45 <= weight_at_mean <= 110:
        fail(
            f"weight rises {slope:.2f} kg per cm and averages {weight_at_mean:.1f} kg; adults gain roughly "
            "0.5 to 1.2 kg per cm around 60 to 90 kg."
        )
    residuals = weights - (slope * heights + bias)
    if residuals.std().item() < 0.5:
        fail(f"the weights sit on the line (spread {residuals.std().item():.3f} kg); add Gaussian noise of a few kg.")


def check_fit(answer: Answer, heights: torch.Tensor, weights: torch.Tensor, source: str) -> None:
    heights_before, weights_before = heights.clone(), weights.clone()
    model = answer("fit_height_weight", heights, weights)
    if not torch.equal(heights, heights_before) or not torch.equal(weights, weights_before):
        fail(
            "fit_height_weight changed the tensors passed to it; scale a copy, e.g. (heights - mean) / std, "
            "instead of subtracting in place."
        )
    if not isinstance(model, nn.Module):
        fail(f"fit_height_weight should return the trained nn.Module, but it returned a {type(model).__name__}.")
    grid = torch.linspace(heights.min().item(), heights.max().item(), 9).view(-1, 1)
    with torch.no_grad():
        predicted = expect_tensor(model(grid), (9, 1), "model(heights) for 9 heights of shape (9, 1)")
    slope, bias = lesson.least_squares(heights, weights)
    expected = slope * grid.double() + bias
    error = (predicted.double() - expected).abs()
    worst = int(error.argmax())
    if error[worst].item() > PREDICTION_TOL_KG:
        height = grid[worst].item()
        fail(
            f"On {source}, at {height:.1f} cm your model predicts {predicted[worst].item():.2f} kg, but the "
            f"least-squares line of the same data gives {expected[worst].item():.2f} kg: off by "
            f"{error[worst].item():.2f} kg, more than the {PREDICTION_TOL_KG} kg allowed. Training has not "
            f"converged: on raw centimetres the largest stable step size is only {lesson.max_stable_lr(heights):.2g}. "
            "Standardise the heights, train, and let the returned model take raw centimetres (hint 1.2)."
        )


# --- exercise 2: SGD against Adam -------------------------------------------------------------

START_HINT_EX2 = (
    "The first loss is already off, so a model did not start from torch.manual_seed(seed); LinearRegression(). "
    "Build both from that one start (copy.deepcopy, or reseed before each), and use the mean squared error."
)


def check_compare(answer: Answer, x: torch.Tensor, y: torch.Tensor, **settings: Any) -> None:
    defaults = {"epochs": 200, "lr_sgd": 0.01, "lr_adam": 0.1, "seed": 0}
    used = {**defaults, **settings}
    histories = answer("compare_optimizers", x, y, **settings)
    if not isinstance(histories, dict) or set(histories) != {"sgd", "adam"}:
        keys = sorted(histories) if isinstance(histories, dict) else type(histories).__name__
        fail(f"compare_optimizers should return a dict with the keys 'sgd' and 'adam'; it returned {keys}.")
    for name, optimizer_class in (("sgd", optim.SGD), ("adam", optim.Adam)):
        got = expect_losses(histories[name], used["epochs"], f"histories['{name}']")
        expected = reference_history(
            x, y, seeded_model(used["seed"]), optimizer_class, used[f"lr_{name}"], used["epochs"]
        )
        explain_history(got, expected, f"histories['{name}'] with {used}", START_HINT_EX2)


def check_plot_comparison(answer: Answer, histories: dict[str, list[float]]) -> None:
    fig = expect_figure(answer("plot_optimizer_comparison", histories), "plot_optimizer_comparison")
    for ax in fig.axes:
        curves = {
            name: line
            for line in ax.get_lines()
            for name, losses in histories.items()
            if len(line.get_ydata()) == len(losses) and all(map(_close, line.get_ydata(), losses))
        }
        if set(curves) == set(histories):
            break
    else:
        fail("no axes of the figure holds both loss curves; plot histories['sgd'] and histories['adam'] on one axes.")
    legend = ax.get_legend()
    texts = [text.get_text().lower() for text in legend.get_texts()] if legend else []
    if not any("sgd" in text for text in texts) or not any("adam" in text for text in texts):
        fail(
            f"the legend should name SGD and Adam; it reads {texts}. Give each curve a label=... and call ax.legend()."
        )
    if not ax.get_xlabel() or not ax.get_ylabel():
        fail("label both axes, e.g. ax.set_xlabel('epoch') and ax.set_ylabel('loss').")
    if ax.get_yscale() != "log":
        fail(f"the loss axis has a {ax.get_yscale()} scale; use ax.set_yscale('log') so both curves stay readable.")


# --- exercise 3: the loss curve ---------------------------------------------------------------

START_HINT_EX3 = "The first loss is already off: compute the mean squared error of model(x) against y, before any step."


def check_train_with_history(answer: Answer, x: torch.Tensor, y: torch.Tensor, seed: int, **settings: Any) -> None:
    used = {"epochs": 500, "lr": 0.01, **settings}
    model = seeded_model(seed)
    twin = copy.deepcopy(model)
    got = expect_losses(answer("train_with_history", model, x, y, **settings), used["epochs"], "the returned losses")
    expected = reference_history(x, y, twin, optim.SGD, used["lr"], used["epochs"])
    explain_history(got, expected, f"train_with_history with {used}", START_HINT_EX3)
    for (name, mine), reference in zip(model.named_parameters(), twin.parameters(), strict=True):
        if not torch.allclose(mine, reference, atol=PARAM_ATOL):
            fail(
                f"after training, {name} is {mine.tolist()} but should be {reference.tolist()} "
                f"(tolerance {PARAM_ATOL}): train the model that was passed in, in place, not a copy."
            )


def check_plot_loss_curve(answer: Answer, losses: list[float], path: Path | None) -> None:
    fig = expect_figure(answer("plot_loss_curve", losses, path), "plot_loss_curve")
    epochs = len(losses)
    for ax in fig.axes:
        line = next(
            (
                line
                for line in ax.get_lines()
                if len(line.get_ydata()) == epochs and all(map(_close, line.get_ydata(), losses))
            ),
            None,
        )
        if line is not None:
            break
    else:
        fail(f"no line in the figure plots the {epochs} losses; draw them with ax.plot(losses).")
    xs = [float(v) for v in line.get_xdata()]
    if xs not in ([float(k) for k in range(epochs)], [float(k) for k in range(1, epochs + 1)]):
        fail(f"the x values should be the epochs 0..{epochs - 1} (or 1..{epochs}); they start {xs[:3]}.")
    if not ax.get_xlabel() or not ax.get_ylabel():
        fail("label both axes, e.g. ax.set_xlabel('epoch') and ax.set_ylabel('loss').")
    if path is not None:
        if not Path(path).is_file():
            fail(
                f"plot_loss_curve(losses, path) should save the figure at {path}, but no file is there: "
                "call fig.savefig(path)."
            )
        if not Path(path).read_bytes().startswith(PNG_MAGIC):
            fail(f"{path} is not a PNG file; save with fig.savefig(path) and a path ending in .png.")
