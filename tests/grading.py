"""The grader's checks: each takes an exercise module and either returns or fails with a sentence.

Every check compares with a reference computed here, independently of the reference solutions:
the least-squares line for exercise 1, plain torch.optim loops for exercises 2 and 3. Each
failure says what was expected, what came, the tolerance and the likely cause, told apart by
what can be measured. An exception in a learner's code becomes one message that names the
function and the learner's own line; the grader's own frames never appear.
"""

from __future__ import annotations

import copy
import importlib
import math
import numbers
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import torch
from torch import nn, optim

import lesson
from lesson_support import learner_errors

FILES = {number: Path(file).stem for number, (_, file, _) in enumerate(lesson.EXERCISES, start=1)}
PREDICTION_TOL_KG = 0.25  # the fitted line may differ from least squares by this much anywhere in the data
LOSS_RTOL = 1e-4  # a loss history matches the reference run to this relative tolerance...
LOSS_ATOL = 1e-6  # ...or this absolute one, for losses near zero
PARAM_ATOL = 1e-4  # final weights after training in place
ADULT_MEAN_CM = (150.0, 190.0)  # a plausible adult population: its mean height...
ADULT_SPREAD_CM = (3.0, 15.0)  # ...and its standard deviation
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GRADER_FILES = {Path(__file__).name, "test_exercises.py", "conftest.py", "time_limit.py"}


def fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


Advice = dict[type[BaseException], str]


def describe_exception(what: str, error: BaseException, own_file: str | None, advice: str = "") -> str:
    """One message for an exception raised in a learner's code: what raised what, where, and `advice`."""
    return learner_errors.describe_exception(what, error, own_file, GRADER_FILES, "run the check again", advice)


class Answer:
    """One exercise file as the grader calls it: the learner's (`yours`) or the reference."""

    broken: ClassVar[dict[str, str]] = {}  # module name -> why it cannot be imported, reported once

    def __init__(self, number: int, module: ModuleType, yours: bool) -> None:
        self.number, self.module, self.yours = number, module, yours
        self.path = f"exercises/{'' if yours else 'solutions/'}{FILES[number]}.py"

    @classmethod
    def load(cls, number: int, yours: bool, name: str | None = None) -> Answer:
        """Import exercise `number` (or the module `name`); a file that does not import fails once, then skips."""
        name = name or f"exercises.{'' if yours else 'solutions.'}{FILES[number]}"
        path = f"{name.replace('.', '/')}.py"
        if name in cls.broken:
            pytest.skip(f"{path} cannot be imported; its error is reported once, in the first failing check above")
        problem = None
        try:
            module = importlib.import_module(name)
        except SyntaxError as error:
            problem = _syntax_message(path, error)
        except Exception as error:  # a learner's NameError at import time reads as a sentence, not a crash
            problem = describe_exception(f"importing {path}", error, None)
        if problem is not None:
            cls.broken[name] = problem
            fail(f"{problem}\nNo check of exercise {number} can run until the file imports.")
        return cls(number, module, yours)

    def __call__(self, function: str, *args: Any, advice: Advice | None = None, **kwargs: Any) -> Any:
        """Call the learner's `function`; `advice` maps an exception type to a sentence added to its message."""
        implementation = getattr(self.module, function, None)
        if not callable(implementation):
            fail(f"{self.path} has no function {function}(); keep the names and arguments the file started with.")
        return self.run(f"{function}()", implementation, *args, advice=advice, **kwargs)

    def run(self, what: str, code: Callable[..., Any], *args: Any, advice: Advice | None = None, **kwargs: Any) -> Any:
        """Call the learner's code; a stub skips, any other exception fails with one message."""
        try:
            return code(*args, **kwargs)
        except NotImplementedError:
            if not self.yours:
                raise
            problem = None  # skipped below, outside the except block, so no exception is chained to the skip
        except Exception as error:
            if not self.yours:
                raise
            said = next((sentence for kind, sentence in (advice or {}).items() if isinstance(error, kind)), "")
            problem = describe_exception(what, error, getattr(self.module, "__file__", None), said)
        if problem is None:
            pytest.skip(f"exercise {self.number} not attempted yet: open {self.path}")
        fail(problem)


def _syntax_message(path: str, error: SyntaxError) -> str:
    text = (error.text or "").rstrip("\n")
    indent = len(text) - len(text.lstrip())
    caret = f"\n    {text.strip()}\n    {' ' * max((error.offset or 1) - 1 - indent, 0)}^" if text else ""
    return f"{path}, line {error.lineno}: SyntaxError: {error.msg}.{caret}"


# --- validating what came back ----------------------------------------------------------------


def _kind(value: object) -> str:
    """What a function returned, in words; None usually means a missing return statement."""
    if value is None:
        return "None: does the function end with a return statement?"
    return f"a {type(value).__name__}"


def expect_tensor(value: object, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        hint = ""
        if type(value).__module__ == "numpy":
            hint = " Make tensors with torch (torch.randn with a torch.Generator), or convert: torch.from_numpy(a)."
        fail(f"{what} should be a torch.Tensor of shape {shape}, but it is a {type(value).__name__}.{hint}")
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
        fail(f"{what} should be a list of {epochs} floats, but it is {_kind(value)}.")
    if len(value) != epochs:
        fail(f"{what} has {len(value)} entries; expected one per epoch, {epochs}.")
    for k, loss in enumerate(value):
        if isinstance(loss, torch.Tensor):
            graph = (
                " This one still requires grad, so the list would also keep every epoch's autograd graph alive."
                if loss.requires_grad
                else ""
            )
            fail(f"{what}[{k}] is a tensor, not a float; append loss.item(), which gives a plain Python float.{graph}")
        if not isinstance(loss, numbers.Real):
            fail(f"{what}[{k}] should be a float, but it is a {type(loss).__name__}.")
        if not math.isfinite(loss):
            fail(f"{what}[{k}] is {loss}: training diverged. Check the step size and that the loss is the MSE.")
    return [float(loss) for loss in value]


def expect_figure(value: object, what: str) -> Any:
    from matplotlib.figure import Figure

    if not isinstance(value, Figure):
        fail(
            f"{what} should return a matplotlib Figure (e.g. fig from plt.subplots()), but it returned {_kind(value)}."
        )
    return value


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL)


def _same(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(map(_close, got, expected))


NO_STEP_HINT = (
    "Every loss is the same, so no step changed the model: optimizer.zero_grad() between loss.backward() and "
    "optimizer.step() wipes the gradients before the step uses them, and a missing backward() or step() does the "
    "same. Each epoch runs zero_grad, forward, loss, backward, step, in that order."
)


def explain_history(
    got: list[float],
    expected: list[float],
    what: str,
    start_hint: str,
    alternatives: Callable[[], Iterator[tuple[str, Callable[[], list[float]]]]],
    points: int,
) -> None:
    """Fail with the first epoch where a loss history leaves the reference, and the cause that epoch points to.

    A wrong start or loss shows at epoch 0, a wrong step size or optimizer at epoch 1 (the first
    step), a missing zero_grad at epoch 2 (the first step that would add to an old gradient).
    `alternatives` lists the likely mistakes with a replay of each; the first one the history
    matches is named (each is replayed only when the ones before it did not match).
    """
    k = next((k for k, (a, b) in enumerate(zip(got, expected, strict=True)) if not _close(a, b)), None)
    if k is None:
        return
    named = next((cause for cause, replay in alternatives() if _same(got, replay())), None)
    if named:
        hint = named
    elif k > 0 and all(_close(loss, got[0]) for loss in got):
        hint = NO_STEP_HINT
    elif len(got) > 2 and all(_close(a, b) for a, b in zip(got[:-1], expected[1:], strict=True)):
        hint = "Your losses are one epoch late: record each loss in its forward pass, before optimizer.step()."
    elif k == 0 and _close(got[0], points * expected[0]):
        hint = f"Your first loss is {points} times the expected one: you summed the squared errors; take their mean."
    elif k == 0:
        hint = start_hint
    elif k == 1:
        hint = (
            "The first loss matches, so the start and the loss are right; the first step is not. Check the "
            "optimizer class and its step size lr."
        )
    else:
        hint = (
            f"The losses agree up to epoch {k - 1}, so the start and the first step are right, but something "
            "carries over from one step to the next. Check that optimizer.zero_grad() runs every epoch and that "
            "the optimizer has no extra settings such as momentum."
        )
    fail(
        f"{what}: at epoch {k} the loss should be {expected[k]:.6g}, but yours is {got[k]:.6g} "
        f"(relative tolerance {LOSS_RTOL:g}). {hint}"
    )


def reference_history(
    x: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    optimizer_class: type[optim.Optimizer],
    lr: float,
    epochs: int,
    *,
    zero_grad: bool = True,
    reduction: str = "mean",
    **optimizer_options: float,
) -> list[float]:
    """The plain loop every history is checked against: zero_grad, forward, loss, backward, step.

    Trains `model` in place and returns its losses. A run already made from the same data, start
    and settings is not made again: its losses and final parameters are reused.
    """
    tensors = (x, y, *model.parameters())
    key = (
        *((tensor.dtype, tensor.shape, tensor.detach().numpy().tobytes()) for tensor in tensors),
        optimizer_class,
        lr,
        epochs,
        zero_grad,
        reduction,
        tuple(sorted(optimizer_options.items())),
    )
    if key not in _reference_runs:
        optimizer = optimizer_class(model.parameters(), lr=lr, **optimizer_options)
        losses = []
        for _ in range(epochs):
            if zero_grad:
                optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y, reduction=reduction)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        _reference_runs[key] = (losses, [parameter.detach().clone() for parameter in model.parameters()])
    losses, trained = _reference_runs[key]
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), trained, strict=True):
            parameter.copy_(value)
    return list(losses)


_reference_runs: dict[tuple[Any, ...], tuple[list[float], list[torch.Tensor]]] = {}


def seeded_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return lesson.LinearRegression()


def line_data(
    points: int, slope: float, intercept: float, noise: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = 4 * torch.rand(points, 1, generator=generator)
    return x, slope * x + intercept + noise * torch.randn(points, 1, generator=generator)


OPTIMIZERS = {"SGD": optim.SGD, "Adam": optim.Adam}
MOMENTUM = 0.9  # the momentum learners reach for


def likely_mistakes(
    x: torch.Tensor, y: torch.Tensor, seed: int, asked: str, lr: float, other_lr: float | None, epochs: int
) -> Callable[[], Iterator[tuple[str, Callable[[], list[float]]]]]:
    """The mistakes a learner makes with `asked` (SGD or Adam) at step size lr: each diagnosis with its replay."""

    def replay(name: str, rate: float, **options: Any) -> Callable[[], list[float]]:
        return lambda: reference_history(x, y, seeded_model(seed), OPTIMIZERS[name], rate, epochs, **options)

    def mistakes() -> Iterator[tuple[str, Callable[[], list[float]]]]:
        other = next(name for name in OPTIMIZERS if name != asked)
        yield f"It matches {other} at lr {lr:g}, not {asked}: build optim.{asked} for this run.", replay(other, lr)
        yield (
            f"It matches {asked} without optimizer.zero_grad(): gradients add up from epoch to epoch; call "
            "optimizer.zero_grad() at the start of every epoch.",
            replay(asked, lr, zero_grad=False),
        )
        yield (
            f"It matches {asked} on a summed loss instead of the mean: use nn.MSELoss() (or .mean()), not .sum().",
            replay(asked, lr, reduction="sum"),
        )
        if asked == "SGD":
            yield (
                f"It matches SGD with momentum {MOMENTUM:g}: momentum carries part of each step into the next. "
                f"Use plain optim.SGD(model.parameters(), lr={lr:g}), with no momentum.",
                replay(asked, lr, momentum=MOMENTUM),
            )
        if other_lr is not None and other_lr != lr:
            yield (
                f"It matches {other} at lr {other_lr:g}: the two runs look swapped; '{asked.lower()}' should hold "
                f"optim.{asked} at lr {lr:g}.",
                replay(other, other_lr),
            )
            yield (
                f"It matches {asked} at lr {other_lr:g}, the step size meant for {other}; use lr {lr:g}.",
                replay(asked, other_lr),
            )

    return mistakes


# --- exercise 1: height and weight ------------------------------------------------------------


def adults(mean_cm: float, spread_cm: float, slope: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The grader's own adults: heights N(mean, spread²) and weight on a line through 70 kg at 170 cm."""
    generator = torch.Generator().manual_seed(seed)
    heights = mean_cm + spread_cm * torch.randn(n, 1, generator=generator)
    weights = 70 + slope * (heights - 170) + 7 * torch.randn(n, 1, generator=generator)
    return heights, weights


def _pair(answer: Answer, n: int, seed: int | None, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """make_height_weight_data(n, seed=seed), or with its defaults where seed is None, checked as two (n, 1) tensors."""
    result = answer("make_height_weight_data") if seed is None else answer("make_height_weight_data", n, seed=seed)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"make_height_weight_data should return (heights, weights), a pair of tensors; it returned {result!r}.")
    heights = expect_tensor(result[0], (n, 1), f"heights from {what}")
    return heights, expect_tensor(result[1], (n, 1), f"weights from {what}")


def check_data_contract(answer: Answer) -> None:
    heights, _ = _pair(answer, 50, 3, "make_height_weight_data(50)")
    if heights.dtype != torch.float32:
        fail(
            f"heights should be float32, the dtype nn.Linear computes in, but they are {heights.dtype}; "
            "make them with torch's default dtype, or convert with .float()."
        )
    _pair(answer, 200, None, "make_height_weight_data() with its defaults")


def check_data_seed(answer: Answer) -> None:
    first, again, other = (_pair(answer, 100, seed, f"make_height_weight_data(100, seed={seed})") for seed in (5, 5, 6))
    if not (torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])):
        fail(
            "make_height_weight_data(100, seed=5) gave different data on two calls; draw the noise from "
            "torch.Generator().manual_seed(seed) so the same seed gives the same data."
        )
    if torch.equal(first[0], other[0]):
        fail("seeds 5 and 6 gave the same heights; the seed should decide the random draws.")


def _height_units(mean: float, spread: float) -> str:
    if 1.2 <= mean <= 2.3:
        return " That looks like metres; use centimetres (1 m = 100 cm)."
    if 50 <= mean <= 80:
        return " That looks like inches; use centimetres (1 in = 2.54 cm)."
    if abs(mean) < 1 and 0.5 <= spread <= 2:
        return " That looks like standard-normal draws; scale them: mean + spread · torch.randn(...)."
    return ""


def check_data_realistic(answer: Answer) -> None:
    heights, weights = _pair(answer, 2000, 1, "make_height_weight_data(2000)")
    mean, spread = heights.mean().item(), heights.std().item()
    (low_mean, high_mean), (low_spread, high_spread) = ADULT_MEAN_CM, ADULT_SPREAD_CM
    if not (low_mean <= mean <= high_mean and low_spread <= spread <= high_spread):
        fail(
            f"the heights have mean {mean:.3g} and spread {spread:.3g}, in your units; adults' heights in cm have a "
            f"mean of {low_mean:g} to {high_mean:g} and a spread of {low_spread:g} to {high_spread:g}."
            + _height_units(mean, spread)
        )
    slope, bias = lesson.least_squares(heights, weights)
    weight_at_mean = slope * mean + bias
    if not 0.2 <= slope <= 2.0 or not 45 <= weight_at_mean <= 110:
        pounds = " That looks like pounds; use kilograms (1 lb = 0.4536 kg)." if 100 < weight_at_mean < 250 else ""
        fail(
            f"weight rises {slope:.3g} per cm and averages {weight_at_mean:.4g}, in your units; adults gain roughly "
            f"0.2 to 2 kg per cm around 45 to 110 kg.{pounds}"
        )
    residuals = weights - (slope * heights + bias)
    if residuals.std().item() < 0.5:
        fail(f"the weights sit on the line (spread {residuals.std().item():.3f} kg); add Gaussian noise of a few kg.")


def _predict(answer: Answer, model: nn.Module, heights: torch.Tensor, what: str) -> torch.Tensor:
    with torch.no_grad():
        predicted = answer.run("the returned model", model, heights)
    if not isinstance(predicted, torch.Tensor):
        fail(f"{what} should be a torch.Tensor, but the model returned a {type(predicted).__name__}.")
    return predicted


def _fit_diagnosis(
    answer: Answer,
    model: nn.Module,
    heights: torch.Tensor,
    weights: torch.Tensor,
    grid: torch.Tensor,
    predicted: torch.Tensor,
) -> str:
    """Why a fit misses the least-squares line, from what can be measured about the returned model."""
    predicted = predicted.double().reshape(-1)  # the model's predictions at the grid heights
    g = grid.double().reshape(-1)
    slope, bias = lesson.least_squares(heights, weights)
    mean_h = heights.double().mean().item()
    mean_w, std_w = weights.double().mean().item(), weights.double().std().item()
    scaled = (heights - heights.mean()) / heights.std()
    slope_z, bias_z = lesson.least_squares(scaled, weights)  # the line on standardised heights

    def near(candidate: torch.Tensor, tolerance: float) -> bool:
        return bool((predicted - candidate).abs().max() <= tolerance)

    if near(slope_z * g + bias_z, 2 * PREDICTION_TOL_KG):
        return (
            "Your model predicts, for raw centimetres, what the least-squares line of standardised heights "
            "predicts: it was trained on (height - mean) / std and returned as is. Fold the scaling into the "
            "layer, or wrap it in your own nn.Module, so the returned model takes raw centimetres (hint 1.2)."
        )
    unscale = (
        f"Multiply by the weights' std ({std_w:.3g}) and add their mean ({mean_w:.4g}), in the layer or in your "
        "module, so the model returns kilograms"
    )
    if near((slope * g + bias - mean_w) / std_w, 0.05):
        return (
            "Your model's outputs are standardised weights, (kg - mean) / std: the weights were scaled for "
            f"training and never scaled back. {unscale}."
        )
    if near((slope_z * g + bias_z - mean_w) / std_w, 0.05):
        return (
            "Your model was trained on standardised heights and standardised weights and returned as is: it "
            f"expects (height - mean) / std and returns (kg - mean) / std. {unscale}, and fold the heights' "
            "scaling in too (hint 1.2)."
        )
    fitted_slope, fitted_bias = lesson.least_squares(g, predicted)
    level, expected_level = fitted_slope * mean_h + fitted_bias, slope * mean_h + bias
    own = _predict(answer, model, heights, "model(heights)").double()
    if own.shape != weights.shape:
        return "Compare your model's predictions with the least-squares line yourself: lesson.least_squares(h, w)."
    loss, best = ((own - weights) ** 2).mean().item(), ((slope * heights + bias - weights) ** 2).mean().item()
    falling = (
        f"Your line's MSE is {loss:.4g} kg², the least-squares line's {best:.4g} kg²: training stopped short of the "
        "minimum."
    )
    if abs(level - expected_level) <= PREDICTION_TOL_KG:
        return (
            f"At the mean height ({mean_h:.1f} cm) your line is right, but its slope is {fitted_slope:.4g} kg/cm "
            f"where least squares has {slope:.4g}. {falling} On raw centimetres the slope and the bias are tied "
            f"together and steps must stay below {lesson.max_stable_lr(heights):.2g}, so this direction barely moves; "
            "standardise the heights, train, and fold the scaling back (hint 1.2)."
        )
    return (
        f"At the mean height ({mean_h:.1f} cm) your line is {level - expected_level:+.2f} kg off, and its slope is "
        f"{fitted_slope:.4g} kg/cm where least squares has {slope:.4g}. {falling} On standardised heights, SGD at "
        "lr 0.1 gets there in a few hundred epochs; too few epochs stop it early, and a step size too large for "
        "the last stretch (a large Adam lr, say) leaves the line hovering around the minimum. On raw centimetres "
        f"no stable step size (below {lesson.max_stable_lr(heights):.2g}) gets there in time (hint 1.2)."
    )


def check_fit(answer: Answer, heights: torch.Tensor, weights: torch.Tensor, source: str) -> None:
    heights_before, weights_before = heights.clone(), weights.clone()
    raw_cm = "On raw centimetres only tiny steps are stable: standardise the heights first (hint 1.2)."
    model = answer("fit_height_weight", heights, weights, advice={lesson.DivergenceError: raw_cm})
    if not torch.equal(heights, heights_before) or not torch.equal(weights, weights_before):
        fail(
            "fit_height_weight changed the tensors passed to it; scale a copy, e.g. (heights - mean) / std, "
            "instead of subtracting in place."
        )
    if not isinstance(model, nn.Module):
        fail(f"fit_height_weight should return the trained nn.Module, but it returned {_kind(model)}.")
    grid = torch.linspace(heights.min().item(), heights.max().item(), 9).view(-1, 1)
    predicted = _predict(answer, model, grid, "model(heights) for 9 heights of shape (9, 1)")
    if predicted.is_floating_point() and not torch.isfinite(predicted).all():
        fail(
            f"On {source}, your model predicts nan or inf: training diverged. The likely cause is a step size too "
            f"large for raw centimetres, where only steps below {lesson.max_stable_lr(heights):.2g} are stable; "
            "standardise the heights first, then train (hint 1.2)."
        )
    predicted = expect_tensor(predicted, (9, 1), "model(heights) for 9 heights of shape (9, 1)")
    slope, bias = lesson.least_squares(heights, weights)
    expected = slope * grid.double() + bias
    error = (predicted.double() - expected).abs()
    worst = int(error.argmax())
    if error[worst].item() > PREDICTION_TOL_KG:
        fail(
            f"On {source}, at {grid[worst].item():.1f} cm your model predicts {predicted[worst].item():.2f} kg, but "
            f"the least-squares line of the same data gives {expected[worst].item():.2f} kg: off by "
            f"{error[worst].item():.2f} kg, more than the {PREDICTION_TOL_KG} kg allowed. "
            + _fit_diagnosis(answer, model, heights, weights, grid, predicted)
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
        got = f"the keys {sorted(map(str, histories))}" if isinstance(histories, dict) else _kind(histories)
        fail(f"compare_optimizers should return a dict with the keys 'sgd' and 'adam'; it returned {got}.")
    for name, asked, other in (("sgd", "SGD", "adam"), ("adam", "Adam", "sgd")):
        got = expect_losses(histories[name], used["epochs"], f"histories['{name}']")
        lr, other_lr = used[f"lr_{name}"], used[f"lr_{other}"]
        expected = reference_history(x, y, seeded_model(used["seed"]), OPTIMIZERS[asked], lr, used["epochs"])
        mistakes = likely_mistakes(x, y, used["seed"], asked, lr, other_lr, used["epochs"])
        explain_history(got, expected, f"histories['{name}'] with {used}", START_HINT_EX2, mistakes, len(x))


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
    start = copy.deepcopy(model)
    twin = copy.deepcopy(model)
    got = expect_losses(answer("train_with_history", model, x, y, **settings), used["epochs"], "the returned losses")
    expected = reference_history(x, y, twin, optim.SGD, used["lr"], used["epochs"])
    untouched = all(torch.equal(a, b) for a, b in zip(model.parameters(), start.parameters(), strict=True))
    if untouched and used["epochs"] > 1:
        if all(_close(loss, got[0]) for loss in got):
            fail(f"the model passed in is unchanged. {NO_STEP_HINT} Build the optimizer from model.parameters().")
        if _same(got, expected):
            fail(
                "your losses are right, but the model passed in is unchanged: you trained a copy. Train `model`, "
                "the argument, in place (build the optimizer from model.parameters())."
            )
        fail(
            "the model passed in is unchanged, and your losses are not its losses: train_with_history built a "
            "model of its own and trained that one. Train `model`, the argument: optim.SGD(model.parameters(), lr=lr)."
        )
    mistakes = likely_mistakes(x, y, seed, "SGD", used["lr"], None, used["epochs"])
    explain_history(got, expected, f"train_with_history with {used}", START_HINT_EX3, mistakes, len(x))
    for (name, mine), reference in zip(model.named_parameters(), twin.parameters(), strict=True):
        if not torch.allclose(mine, reference, atol=PARAM_ATOL):
            fail(
                f"after training, {name} is {mine.tolist()} but should be {reference.tolist()} "
                f"(tolerance {PARAM_ATOL}): the losses were right, so something changed the model after the last step."
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
