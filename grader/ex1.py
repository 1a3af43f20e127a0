"""Exercise 1, predict weight from height: its checks, its graded tests and its "run it".

The data checks hold make_height_weight_data to its contract (shapes, dtype, the seed) and to
adults measured in cm and kg, naming metres, inches, pounds or standard-normal draws. The fit is
compared with the least-squares line of the same data (lesson.least_squares) at nine heights
across the data, within `PREDICTION_TOL_KG`; a miss is explained by what the returned model
measures (standardised input or output, metres, swapped variables, a wrong bias, a slope that
stopped short).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import torch
from torch import nn

import lesson
from exercises.catalog import BY_NUMBER
from grader import messages
from grader.harness import Answer, expect_tensor, fail, kind
from grader.run_it import UnusableResult, run_safely, save_figure
from lesson_support.figures import use_files_only

EXERCISE = BY_NUMBER[1]
PREDICTION_TOL_KG = 0.25  # the fitted line may differ from least squares by this much anywhere in the data
FAR_FROM_THE_MINIMUM = 2.0  # a fit above the line at this many times its MSE is told as gone past the minimum
ADULT_MEAN_CM = (150.0, 190.0)  # a plausible adult population: its mean height...
ADULT_SPREAD_CM = (3.0, 15.0)  # ...and its standard deviation
HEIGHT_WEIGHT_CSV = lesson.DATA_DIR / "height_weight.csv"

CSV_DECIMALS_ATOL = 0.05  # a shipped CSV keeps one decimal


def check_shipped_csv(path: Path, columns: tuple[str, str], expected: tuple[torch.Tensor, torch.Tensor]) -> None:
    """A data file the lesson ships holds what its generator makes; if not, say how to restore it."""
    shown = messages.shown_path(str(path))
    restore = f"It is a file the lesson ships; restore it with: git checkout {shown}"
    try:
        found = lesson.load_csv(path, *columns)
    except lesson.DatasetError as error:
        fail(f"{error} {restore}")
    for column, got, want in zip(columns, found, expected, strict=True):
        if got.shape != want.shape or not torch.allclose(got, want, atol=CSV_DECIMALS_ATOL, rtol=0):
            fail(
                f"{shown} has changed: its column {column} is not what the generator makes (shape {tuple(want.shape)}, "
                f"within {CSV_DECIMALS_ATOL} for one decimal). Something wrote over it. {restore}"
            )


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
    dtypes = {parameter.dtype for parameter in model.parameters()} - {heights.dtype}
    advice = {}
    if dtypes:
        advice[RuntimeError] = (
            f"The returned model's parameters are {', '.join(map(str, dtypes))}, and the heights it is given are "
            f"{heights.dtype}, as the data's are: keep the model float32 (no .double()), or convert it back with "
            "model.float() before returning it."
        )
    with torch.no_grad():
        predicted = answer.run("the returned model", model, heights, advice=advice)
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
    if 50 <= fitted_slope / slope <= 200:
        return (
            f"Your line rises {fitted_slope:.4g} kg per cm, {fitted_slope / slope:.0f} times the least-squares "
            f"slope ({slope:.4g}): the model expects heights in metres. It must take centimetres: divide by 100 "
            "inside your own module, or fold the 1/100 into the layer's weight, before returning it."
        )
    swapped_slope, swapped_bias = lesson.least_squares(weights, heights)  # the line of heights against weights
    off_right = (predicted - (slope * g + bias)).abs().max().item()
    off_swapped = (predicted - (swapped_slope * g + swapped_bias)).abs().max().item()
    near_swapped = any(0.8 <= fitted_slope / reference <= 1.25 for reference in (swapped_slope, 1 / slope))
    if near_swapped and off_swapped < off_right / 4:  # the slope, and the level too: it predicts heights
        return (
            f"Your line's slope is {fitted_slope:.4g} where least squares has {slope:.4g}; it is near the slope of "
            f"heights against weights ({swapped_slope:.4g} cm per kg) and the reciprocal of the right one "
            f"({1 / slope:.4g}): heights and weights are swapped. The model takes heights in cm and predicts "
            "weights in kg: train it with the heights as inputs and the weights as targets."
        )
    half_range = (g.max() - g.min()).item() / 2
    if abs(fitted_slope - slope) * half_range <= PREDICTION_TOL_KG / 2:
        return (
            f"Your slope is right ({fitted_slope:.4g} kg/cm; least squares has {slope:.4g}), but the whole line sits "
            f"{level - expected_level:+.2f} kg off: the bias is wrong. When you fold the scaling back into the layer, "
            "compute the new bias from the weight that training gave, before you overwrite it: "
            "b - w·mean/std (hint 1.2)."
        )
    own = _predict(answer, model, heights, "model(heights)").double()
    if own.shape != weights.shape:
        return "Compare your model's predictions with the least-squares line yourself: lesson.least_squares(h, w)."
    loss, best = ((own - weights) ** 2).mean().item(), ((slope * heights + bias - weights) ** 2).mean().item()
    # A fresh model predicts about 0 kg, far below every adult: a line far above the least-squares one at
    # the mean height went past the minimum, as steps do whose gradients add up over the epochs.
    overshot = loss > FAR_FROM_THE_MINIMUM * best and level - expected_level > PREDICTION_TOL_KG
    if overshot:
        falling = (
            f"Your line's MSE is {loss:.4g} kg², {loss / best:.3g} times the least-squares line's {best:.4g} kg²: "
            "training went past the minimum (a fresh model starts near 0 kg, below it) and is far from it. Check the "
            "loop first: without optimizer.zero_grad() before each loss.backward(), the gradients of every epoch add "
            "up and the steps overshoot."
        )
    else:
        falling = (
            f"Your line's MSE is {loss:.4g} kg², the least-squares line's {best:.4g} kg²: training stopped short of "
            "the minimum."
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
        f"{fitted_slope:.4g} kg/cm where least squares has {slope:.4g}. {falling} On standardised heights, SGD "
        "at lr 0.1 gets there in a few hundred epochs; too few epochs stop it early, and a step size too large for "
        "the last stretch (a large Adam lr, say) leaves the line hovering around the minimum. On raw centimetres "
        f"no stable step size (below {lesson.max_stable_lr(heights):.2g}) gets there in time (hint 1.2)."
    )


def diverged(source: str, heights: torch.Tensor) -> str:
    """What a model that predicts nan or inf after training on `heights` says of the training."""
    return (
        f"On {source}, your model predicts nan or inf: training diverged. The likely cause is a step size too "
        f"large for raw centimetres, where only steps below {lesson.max_stable_lr(heights):.2g} are stable; "
        "standardise the heights first, then train (hint 1.2)."
    )


def check_fit(answer: Answer, heights: torch.Tensor, weights: torch.Tensor, source: str) -> None:
    raw_cm = "On raw centimetres only tiny steps are stable: standardise the heights first (hint 1.2)."
    model = answer("fit_height_weight", heights, weights, advice={lesson.DivergenceError: raw_cm})
    if not isinstance(model, nn.Module):
        fail(f"fit_height_weight should return the trained nn.Module, but it returned {kind(model)}")
    grid = torch.linspace(heights.min().item(), heights.max().item(), 9).view(-1, 1)
    predicted = _predict(answer, model, grid, "model(heights) for 9 heights of shape (9, 1)")
    if predicted.is_floating_point() and not torch.isfinite(predicted).all():
        fail(diverged(source, heights))
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


# --- the graded tests: each runs on the learner's file and on the reference ----------------------

GRADER_ADULTS = {  # the grader's own data: adult heights with means 160 to 180 cm and spreads up to 10 cm
    "short adults": {"mean_cm": 162.0, "spread_cm": 6.0, "slope": 0.7, "n": 150, "seed": 11},
    "tall adults": {"mean_cm": 178.0, "spread_cm": 10.0, "slope": 1.1, "n": 400, "seed": 12},
}


def _fit_on_the_shipped_csv(answer: Answer, folder: Path) -> None:
    heights, weights = lesson.load_csv(HEIGHT_WEIGHT_CSV, "height_cm", "weight_kg")
    check_fit(answer, heights, weights, "data/height_weight.csv")


def _fit_on(group: str):
    return lambda answer, folder: check_fit(answer, *adults(**GRADER_ADULTS[group]), f"the grader's {group}")


GRADED = {
    "data_shapes": lambda answer, folder: check_data_contract(answer),
    "data_same_seed_same_data": lambda answer, folder: check_data_seed(answer),
    "data_looks_like_adults": lambda answer, folder: check_data_realistic(answer),
    "fit_on_the_shipped_csv": _fit_on_the_shipped_csv,
    **{f"fit_on_the_graders_{group.replace(' ', '_')}": _fit_on(group) for group in GRADER_ADULTS},
}


def check_shipped_data() -> None:
    """data/height_weight.csv holds what the reference generator makes (a check of neither answer)."""
    from exercises.solutions.ex1_height_weight import make_height_weight_data

    check_shipped_csv(HEIGHT_WEIGHT_CSV, ("height_cm", "weight_kg"), make_height_weight_data(200, seed=0))


# --- run it ------------------------------------------------------------------------------------------


def run(module: ModuleType) -> int:
    """Fit on data/height_weight.csv, print three predictions beside the least-squares line, save a figure."""
    heights, weights = lesson.load_csv(HEIGHT_WEIGHT_CSV, "height_cm", "weight_kg")

    def show() -> None:
        own_heights, _ = module.make_height_weight_data(5, seed=0)
        model = module.fit_height_weight(heights.clone(), weights.clone())  # copies: the line below uses the data
        print(
            f"Your make_height_weight_data(5) gives heights {[round(h, 1) for h in own_heights.reshape(-1).tolist()]}"
        )
        print(f"Fitted on {HEIGHT_WEIGHT_CSV.name} ({len(heights)} adults):")
        slope, bias = lesson.least_squares(heights, weights)
        probe = torch.tensor([[160.0], [170.0], [180.0]])
        with torch.no_grad():
            predicted = model(probe).reshape(-1)
        if predicted.is_floating_point() and not torch.isfinite(predicted).all():
            raise UnusableResult(diverged(HEIGHT_WEIGHT_CSV.name, heights))
        predicted = predicted.tolist()
        for height, kg in zip(probe.reshape(-1).tolist(), predicted, strict=True):
            print(f"  {height:g} cm -> {kg:.2f} kg   (least squares: {slope * height + bias:.2f} kg)")

        use_files_only()
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.4, 3.6), dpi=80, layout="constrained")
        ax = fig.add_subplot()
        ax.scatter(heights.reshape(-1), weights.reshape(-1), s=8, color="0.5", label="adults")
        line = torch.linspace(float(heights.min()), float(heights.max()), 2).reshape(-1, 1)
        with torch.no_grad():
            ax.plot(line.reshape(-1), model(line).reshape(-1), color="tab:red", label="your model")
        ax.set_xlabel("height (cm)")
        ax.set_ylabel("weight (kg)")
        ax.set_title("weight from height")
        ax.legend()
        save_figure(fig, "ex1_height_weight")

    return run_safely(EXERCISE, module, show)
