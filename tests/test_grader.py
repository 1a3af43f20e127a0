"""The grader itself: wrong answers must fail with the right hint, stubs must skip, other right answers pass.

Every answer here is constructed from the reference solutions; no test reads the learner's files,
so a learner's own work can never turn these red.
"""

from __future__ import annotations

import copy
import shutil
import signal
import sys
import traceback
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn, optim

import lesson
from exercises.solutions import ex1_height_weight as ex1_solution
from exercises.solutions import ex2_optimizer_comparison as ex2_solution
from exercises.solutions import ex3_loss_curve as ex3_solution
from grader import ex1, ex2, ex3, harness, shipped, time_limit
from grader.harness import Answer
from grader.histories import line_data, seeded_model

Failed = pytest.fail.Exception
Skipped = pytest.skip.Exception
pytestmark = pytest.mark.usefixtures("in_a_scratch_folder")  # no test here writes into the repository

THREADS = torch.get_num_threads()  # when this module was imported


def answer(number: int, solution: types.ModuleType, **replaced: object) -> Answer:
    """The reference solution with some functions replaced, as a learner's file."""
    module = types.ModuleType(f"variant_of_{solution.__name__}")
    module.__dict__.update({name: getattr(solution, name) for name in dir(solution) if not name.startswith("__")})
    module.__dict__.update(replaced)
    module.__file__ = __file__  # the replacements are written here: this file plays the learner's
    return Answer(number, module, yours=True)


def expect_failure(check: object, *args: object, hint: str, **kwargs: object) -> str:
    with pytest.raises(Failed) as caught:
        check(*args, **kwargs)
    assert hint in str(caught.value), f"the message should contain {hint!r}; it was: {caught.value}"
    return str(caught.value)


# --- stubs skip, and a function that is missing fails ----------------------------------------


def _stub(*args: object, **kwargs: object) -> None:
    raise NotImplementedError("make_height_weight_data is not written yet")


def test_a_stub_is_not_attempted() -> None:
    stub = answer(1, ex1_solution, make_height_weight_data=_stub)
    with pytest.raises(Skipped, match=r"^exercise 1: make_height_weight_data is not written yet$"):
        ex1.check_data_contract(stub)


def test_a_stub_in_the_reference_is_an_error() -> None:
    def stub(*args: object, **kwargs: object) -> None:
        raise NotImplementedError

    reference = Answer(1, types.SimpleNamespace(make_height_weight_data=stub), yours=False)
    with pytest.raises(NotImplementedError):
        ex1.check_data_contract(reference)


def test_a_renamed_function_fails() -> None:
    expect_failure(ex1.check_data_contract, Answer(1, types.ModuleType("empty"), True), hint="has no function")


# --- exercise 1 -------------------------------------------------------------------------------


def flat_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights, weights = ex1_solution.make_height_weight_data(n, seed)
    return heights.reshape(-1), weights.reshape(-1)


def unseeded_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights = 170 + 9 * torch.randn(n, 1)
    return heights, 0.9 * heights - 83 + 8 * torch.randn(n, 1)


def metre_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights, weights = ex1_solution.make_height_weight_data(n, seed)
    return heights / 100, weights


def noiseless_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights, _ = ex1_solution.make_height_weight_data(n, seed)
    return heights, 0.9 * heights - 83


def inch_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights, weights = ex1_solution.make_height_weight_data(n, seed)
    return heights / 2.54, weights


def standard_normal_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    heights = torch.randn(n, 1, generator=generator)
    return heights, 70 + 8 * heights + 5 * torch.randn(n, 1, generator=generator)


def pound_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights, weights = ex1_solution.make_height_weight_data(n, seed)
    return heights, weights / 0.4536


def numpy_data(n: int = 200, seed: int = 0) -> tuple[object, object]:
    heights, weights = ex1_solution.make_height_weight_data(n, seed)
    return heights.numpy(), weights.numpy()


def float64_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    heights, weights = ex1_solution.make_height_weight_data(n, seed)
    return heights.double(), weights.double()  # as torch.from_numpy gives from numpy's float64


@pytest.mark.parametrize(
    ("check", "variant", "hint"),
    [
        (ex1.check_data_contract, float64_data, "but they are torch.float64; make them with torch's default"),
        (ex1.check_data_contract, flat_data, "shape (50, 1), but it has shape (50,). Use .view(-1, 1)"),
        (ex1.check_data_seed, unseeded_data, "torch.Generator().manual_seed(seed)"),
        (ex1.check_data_realistic, metre_data, "That looks like metres"),
        (ex1.check_data_realistic, inch_data, "That looks like inches"),
        (ex1.check_data_realistic, standard_normal_data, "That looks like standard-normal draws"),
        (ex1.check_data_realistic, pound_data, "That looks like pounds"),
        (ex1.check_data_realistic, noiseless_data, "add Gaussian noise"),
        (ex1.check_data_contract, numpy_data, "it is a ndarray. Make tensors with torch"),
        (ex1.check_data_seed, numpy_data, "it is a ndarray"),
        (ex1.check_data_realistic, numpy_data, "it is a ndarray"),
    ],
)
def test_ex1_wrong_data_fails(check: object, variant: object, hint: str) -> None:
    message = expect_failure(check, answer(1, ex1_solution, make_height_weight_data=variant), hint=hint)
    assert " cm and spread" not in message, "a height in the learner's units must not be labelled cm"


def uniform_adults(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Another plausible population: heights uniform from 150 to 195 cm (mean 172.5, spread 13)."""
    generator = torch.Generator().manual_seed(seed)
    heights = 150 + 45 * torch.rand(n, 1, generator=generator)
    return heights, 0.9 * heights - 85 + 7 * torch.randn(n, 1, generator=generator)


@pytest.mark.parametrize("check", [ex1.check_data_contract, ex1.check_data_seed, ex1.check_data_realistic])
def test_ex1_other_adult_populations_pass(check: object) -> None:
    check(answer(1, ex1_solution, make_height_weight_data=uniform_adults))


def raw_sgd_fit(heights: torch.Tensor, weights: torch.Tensor, epochs: int = 100, lr: float = 1e-5) -> nn.Module:
    """A small enough step for raw centimetres: stable, but nowhere near converged."""
    model = lesson.LinearRegression()
    lesson.train(model, heights, weights, optim.SGD(model.parameters(), lr=lr), epochs)
    return model


def standardised_input_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Trained on standardised heights, but returned as is: it expects scaled input."""
    model = lesson.LinearRegression()
    scaled = (heights - heights.mean()) / heights.std()
    lesson.train(model, scaled, weights, optim.SGD(model.parameters(), lr=0.1), 60)
    return model


def in_place_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    heights -= heights.mean()
    return ex1_solution.fit_height_weight(heights, weights, epochs=60)


def flat_output_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    model = ex1_solution.fit_height_weight(heights, weights, epochs=60)
    return nn.Sequential(model, nn.Flatten(0))


def _standardised(values: torch.Tensor) -> torch.Tensor:
    return (values - values.mean()) / values.std()


def scaled_weights_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Heights standardised and folded back, weights standardised and never scaled back."""
    return ex1_solution.fit_height_weight(heights, _standardised(weights), epochs=60)


def both_scaled_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    model = lesson.LinearRegression()
    lesson.train(model, _standardised(heights), _standardised(weights), optim.SGD(model.parameters(), lr=0.1), 60)
    return model


def one_epoch_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    return ex1_solution.fit_height_weight(heights, weights, epochs=1)


def no_zero_grad_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Standardised heights and SGD at lr 0.1, but the gradients are never zeroed: they add up and overshoot."""
    mean, std = heights.mean(), heights.std()
    model = nn.Linear(1, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(200):
        nn.functional.mse_loss(model((heights - mean) / std), weights).backward()
        optimizer.step()
    with torch.no_grad():  # folded back, as hint 1.2 says
        model.bias -= model.weight[:, 0] * mean / std
        model.weight /= std
    return model


def raw_diverging_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Plain SGD at lr 0.01 on raw centimetres, with no divergence check: the weights become nan."""
    model = lesson.LinearRegression()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    for _ in range(100):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(heights), weights).backward()
        optimizer.step()
    return model


def raw_train_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """The lesson's train() on raw centimetres at lr 0.01: it stops with DivergenceError."""
    model = lesson.LinearRegression()
    lesson.train(model, heights, weights, optim.SGD(model.parameters(), lr=0.01), 200)
    return model


def misspelled_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    mean = heights.mean()
    return ex1_solution.fit_height_weight(heights - mean, wieghts)  # noqa: F821  (the learner's typo)


class BrokenForward(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)  # never defined: AttributeError when the grader calls the model


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (raw_sgd_fit, "standardise the heights, train, and fold the scaling back (hint 1.2)"),
        (standardised_input_fit, "it was trained on (height - mean) / std and returned as is"),
        (scaled_weights_fit, "the weights were scaled for training and never scaled back"),
        (both_scaled_fit, "trained on standardised heights and standardised weights and returned as is"),
        (one_epoch_fit, "training stopped short of the minimum. On standardised heights"),
        (
            no_zero_grad_fit,
            "went past the minimum (a fresh model starts near 0 kg, below it) and is far from it. Check "
            "the loop first: without optimizer.zero_grad() before each loss.backward()",
        ),
        (raw_diverging_fit, "a step size too large for raw centimetres"),
        (in_place_fit, "changed `heights`, the tensor passed to it, in place"),
        (flat_output_fit, "should have shape (9, 1), but it has shape (9,)"),
        (lambda heights, weights: (0.9, -83.0), "should return the trained nn.Module, but it returned a tuple"),
        (lambda heights, weights: None, "it returned None. Does the function end with a return statement?"),
        (misspelled_fit, "fit_height_weight() raised NameError: name 'wieghts' is not defined"),
        (raw_train_fit, "or scale the inputs at tests/test_grader.py, line"),
        (lambda heights, weights: BrokenForward(), "the returned model raised AttributeError"),
    ],
)
def test_ex1_wrong_fit_fails(variant: object, hint: str) -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 200, seed=3)
    message = expect_failure(
        ex1.check_fit, answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data", hint=hint
    )
    others = [h for v, h in WRONG_FIT_HINTS if v is not variant and h in message]
    assert not others, f"the message also names another mistake, {others}: {message}"
    if "hint 1.2" in hint or "raised" in hint:
        assert "grader/" not in message and "test_exercises.py" not in message, message
    if variant is raw_train_fit:  # the exception, where it came from, and what to do, in the first line
        first = message.splitlines()[0]
        assert first.startswith("fit_height_weight() raised DivergenceError: training diverged at epoch"), first
        assert first.endswith("standardise the heights first (hint 1.2)."), first


WRONG_FIT_HINTS = test_ex1_wrong_fit_fails.pytestmark[0].args[1]


def test_an_exception_names_the_learners_own_line() -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    message = expect_failure(
        ex1.check_fit,
        answer(1, ex1_solution, fit_height_weight=misspelled_fit),
        heights,
        weights,
        "data",
        hint="at tests/test_grader.py, line",
    )
    assert "return ex1_solution.fit_height_weight(heights - mean, wieghts)" in message, message
    assert "grader/" not in message and "pluggy" not in message, f"the grader's frames must not show: {message}"


def test_a_syntax_error_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_ex1.py").write_text("import torch\n\ndef fit_height_weight(heights, weights)\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(Answer, "broken", {})
    with pytest.raises(Failed) as caught:
        Answer.load(1, yours=True, name="broken_ex1")
    message = str(caught.value)
    assert message.count("SyntaxError") == 1 and "broken_ex1.py, line 3" in message, message
    assert "def fit_height_weight(heights, weights)" in message and "During handling" not in message, message
    caret = message.splitlines()[-3:-1]  # the line, then a caret under the place Python points at
    assert caret[0] == "    def fit_height_weight(heights, weights)", caret
    assert caret[1] == "    " + " " * len("def fit_height_weight(heights, weights)") + "^", caret
    with pytest.raises(Skipped, match="reported once"):
        Answer.load(1, yours=True, name="broken_ex1")


def closed_form_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Another right answer: gradient descent on centred heights with Adam, folded into one layer."""
    centre = heights.mean()
    model = lesson.LinearRegression()
    lesson.train(model, heights - centre, weights, optim.Adam(model.parameters(), lr=1.0), 150)
    with torch.no_grad():
        model.linear.bias -= model.linear.weight.reshape(-1) * centre
    return model


class StandardisingLine(nn.Module):
    """A learner's own module: it standardises the heights itself, so training needs no folding."""

    def __init__(self, heights: torch.Tensor) -> None:
        super().__init__()
        self.mean, self.std = heights.mean(), heights.std()
        self.linear = nn.Linear(1, 1)

    def forward(self, heights: torch.Tensor) -> torch.Tensor:
        return self.linear((heights - self.mean) / self.std)


def wrapped_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    model = StandardisingLine(heights)
    optimizer = optim.SGD(model.parameters(), lr=0.2)
    for _ in range(60):
        optimizer.zero_grad()
        ((model(heights) - weights) ** 2).mean().backward()
        optimizer.step()
    return model


@pytest.mark.parametrize("variant", [closed_form_fit, wrapped_fit])
def test_ex1_another_right_fit_passes(variant: object) -> None:
    heights, weights = ex1.adults(165.0, 7.0, 0.8, 300, seed=4)
    ex1.check_fit(answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data")


# --- exercise 2 -------------------------------------------------------------------------------


def history(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: optim.Optimizer,
    epochs: int,
    *,
    zero: bool = True,
    zero_before_step: bool = False,
    after_step: bool = False,
    summed: bool = False,
    keep: str = "item",
) -> list[object]:
    """A learner's loop, with one of the mistakes learners make switched on."""
    losses: list[object] = []
    for _ in range(epochs):
        if zero and not zero_before_step:
            optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y, reduction="sum" if summed else "mean")
        loss.backward()
        if zero_before_step:
            optimizer.zero_grad()  # between backward and step: the gradients are gone before the step
        optimizer.step()
        if after_step:
            losses.append(nn.functional.mse_loss(model(x), y).item())
        else:
            kept = {"item": loss.item, "detached": loss.detach, "tensor": loss.view_as, "numpy": loss.detach().numpy}
            losses.append(kept[keep]() if keep != "tensor" else loss)
    return losses


def comparison(
    *,
    zero: bool = True,
    zero_before_step: bool = False,
    after_step: bool = False,
    reseed: bool = True,
    as_tensor: bool = False,
    summed: bool = False,
    sgd_class: type[optim.Optimizer] = optim.SGD,
    sgd_lr: str = "lr_sgd",
    swapped: bool = False,
    adam_options: dict[str, object] | None = None,
    sgd_steps_the_adam_model: bool = False,
):
    def compare_optimizers(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):
        rates = {"lr_sgd": lr_sgd, "lr_adam": lr_adam}
        torch.manual_seed(seed)
        sgd_model = lesson.LinearRegression()
        if reseed:
            torch.manual_seed(seed)
        adam_model = lesson.LinearRegression()
        options = {"zero": zero, "zero_before_step": zero_before_step, "after_step": after_step, "summed": summed}
        stepped = adam_model if sgd_steps_the_adam_model else sgd_model  # an optimizer built on the other model
        sgd = sgd_class(stepped.parameters(), lr=rates[sgd_lr])
        adam = optim.Adam(adam_model.parameters(), lr=lr_adam, **(adam_options or {}))
        result = {
            "sgd": history(sgd_model, x, y, sgd, epochs, **options),
            "adam": history(adam_model, x, y, adam, epochs, **options),
        }
        if swapped:
            result = {"sgd": result["adam"], "adam": result["sgd"]}
        return {name: torch.tensor(losses) for name, losses in result.items()} if as_tensor else result

    return compare_optimizers


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (comparison(zero=False), "It matches SGD without optimizer.zero_grad()"),
        (comparison(after_step=True), "one epoch late"),
        (comparison(reseed=False), "did not start from torch.manual_seed(seed); LinearRegression()"),
        (comparison(as_tensor=True), "is a tensor; return a list of floats"),
        (
            lambda x, y, **settings: {"SGD": [], "Adam": []},
            "the keys 'sgd' and 'adam'; it returned the keys ['Adam', 'SGD']",
        ),
        (comparison(sgd_class=optim.Adam), "It matches Adam at lr 0.01, not SGD: build optim.SGD"),
        (comparison(sgd_lr="lr_adam"), "It matches SGD at lr 0.1, the step size meant for Adam"),
        (comparison(swapped=True), "the two runs look swapped"),
        (comparison(summed=True), "It matches SGD on a summed loss instead of the mean"),
        (comparison(zero_before_step=True), "zero_grad() between loss.backward() and optimizer.step() wipes"),
    ],
)
def test_ex2_wrong_histories_fail(variant: object, hint: str) -> None:
    expect_failure(
        ex2.check_compare,
        answer(2, ex2_solution, compare_optimizers=variant),
        *lesson.load_distance_time(),
        epochs=12,
        hint=hint,
    )


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({"lr": 0.012}, "The first loss matches, so the start and the loss are right; the first step is not"),
        ({"lr": 0.01, "momentum": 0.5}, "comes from optim.SGD built with momentum=0.5 (the default is 0)"),
        ({"lr": 0.01, "momentum": 0.9}, "It matches SGD with momentum 0.9"),
    ],
)
def test_ex2_the_first_epoch_that_differs_names_the_cause(options: dict[str, float], hint: str) -> None:
    def compare_optimizers(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):
        histories = comparison()(x, y, epochs, lr_sgd, lr_adam, seed)
        model = seeded_model(seed)
        histories["sgd"] = history(model, x, y, optim.SGD(model.parameters(), **options), epochs)
        return histories

    expect_failure(
        ex2.check_compare,
        answer(2, ex2_solution, compare_optimizers=compare_optimizers),
        *lesson.load_distance_time(),
        epochs=12,
        hint=hint,
    )


def test_ex2_another_right_comparison_passes() -> None:
    x, y = line_data(30, slope=-1.5, intercept=2.0, noise=0.2, seed=4)
    ex2.check_compare(answer(2, ex2_solution, compare_optimizers=comparison()), x, y, epochs=40, seed=7)


def test_the_graders_own_lines_are_seeded_and_scatter_about_the_line_they_name() -> None:
    line = {"points": 400, "slope": -1.5, "intercept": 2.0, "noise": 0.2, "seed": 4}
    torch.manual_seed(1)
    x, y = line_data(**line)
    torch.manual_seed(2)  # the global random state must not reach the data
    again = line_data(**line)
    assert torch.equal(x, again[0]) and torch.equal(y, again[1]), "line_data drew from torch's global random state"
    residuals = y - (line["slope"] * x + line["intercept"])
    spread = line["noise"] / line["points"] ** 0.5  # the standard error of the residuals' mean
    assert abs(residuals.mean().item()) < 4 * spread, f"the points do not scatter about the line: {residuals.mean()}"
    assert residuals.std().item() == pytest.approx(line["noise"], rel=0.2), "the noise is not the one named"


def strictly_below(losses, target):
    return next((epoch for epoch, loss in enumerate(losses) if loss < target), None)


def minus_one_when_never(losses, target):
    return next((epoch for epoch, loss in enumerate(losses) if loss <= target), -1)


def numpy_index(losses, target):
    reached = np.flatnonzero(np.asarray(losses) <= target)
    return reached[0] if len(reached) else None


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (strictly_below, "epochs_to_reach([5.0, 3.0, 1.0], 3.0) should be 1, but it returned 2"),
        (minus_one_when_never, "epochs_to_reach([5.0, 3.0, 1.0], 0.5) should be None, but it returned -1"),
        (numpy_index, "epochs_to_reach([5.0, 3.0, 1.0], 3.0) should be 1, but it returned np.int64(1)"),
    ],
)
def test_ex2_a_wrong_epochs_to_reach_fails(variant: object, hint: str) -> None:
    expect_failure(ex2.check_epochs_to_reach, answer(2, ex2_solution, epochs_to_reach=variant), hint=hint)


def test_ex2_another_right_epochs_to_reach_passes() -> None:
    def epochs_to_reach(losses, target):
        for epoch, loss in enumerate(losses):
            if loss <= target:
                return epoch
        return None

    ex2.check_epochs_to_reach(answer(2, ex2_solution, epochs_to_reach=epochs_to_reach))


def adam_alone_labelled(histories):
    fig = ex2_solution.plot_optimizer_comparison(histories)
    ax = fig.axes[0]
    ax.get_lines()[0].set_label("_nolegend_")  # the learner labelled one curve of the two
    ax.legend()
    return fig


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (lambda histories: ex2_solution.plot_optimizer_comparison({"sgd": histories["sgd"]}), "holds both loss curves"),
        (lambda histories: _without(ex2_solution.plot_optimizer_comparison(histories), "legend"), "legend should name"),
        (adam_alone_labelled, "the legend should name SGD and Adam; it reads ['adam']"),
        (
            lambda histories: _without(ex2_solution.plot_optimizer_comparison(histories), "log"),
            "use ax.set_yscale('log')",
        ),
        (lambda histories: None, "should return a matplotlib Figure"),
        (lambda histories: histories["SGD"], "plot_optimizer_comparison() raised KeyError: 'SGD' at tests/test_grader"),
        (lambda: None, "raised TypeError: <lambda>() takes 0 positional arguments but 1 was given. Keep the names"),
    ],
)
def test_ex2_wrong_plot_fails(variant: object, hint: str, agg: None) -> None:
    histories = {"sgd": [3.0, 2.0, 1.0], "adam": [3.0, 1.5, 0.5]}
    expect_failure(
        ex2.check_plot_comparison, answer(2, ex2_solution, plot_optimizer_comparison=variant), histories, hint=hint
    )


def _without(fig: object, part: str) -> object:
    ax = fig.axes[0]
    if part == "legend":
        ax.get_legend().remove()
    else:
        ax.set_yscale("linear")
    return fig


def test_ex2_pyplot_figure_passes(agg: None) -> None:
    def plot_optimizer_comparison(histories):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.semilogy(histories["sgd"], label="SGD (lr 0.01)")
        ax.semilogy(histories["adam"], label="Adam (lr 0.1)")
        ax.set(xlabel="epoch", ylabel="loss")
        ax.legend()
        plt.close(fig)
        return fig

    histories = {"sgd": [3.0, 2.0, 1.0], "adam": [3.0, 1.5, 0.5]}
    ex2.check_plot_comparison(answer(2, ex2_solution, plot_optimizer_comparison=plot_optimizer_comparison), histories)


# --- exercise 3 -------------------------------------------------------------------------------


def training(
    *,
    zero: bool = True,
    zero_before_step: bool = False,
    after_step: bool = False,
    copy_model: bool = False,
    own_model: bool = False,
    as_tensor: bool = False,
    keep: str = "item",
    optimizer_class: type[optim.Optimizer] = optim.SGD,
):
    def train_with_history(model, x, y, epochs=500, lr=0.01):
        if copy_model:
            model = copy.deepcopy(model)
        if own_model:
            model = lesson.LinearRegression()  # a fresh model of its own, from the global random state
        optimizer = optimizer_class(model.parameters(), lr=lr)
        options = {"zero": zero, "zero_before_step": zero_before_step, "after_step": after_step, "keep": keep}
        losses = history(model, x, y, optimizer, epochs, **options)
        return torch.tensor(losses) if as_tensor else losses

    return train_with_history


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (training(zero=False), "It matches SGD without optimizer.zero_grad()"),
        (training(after_step=True), "one epoch late"),
        (training(copy_model=True), "you trained a copy. Train `model`, the argument, in place"),
        (training(own_model=True), "built a model of its own and trained that one"),
        (training(as_tensor=True), "is a tensor"),
        (lambda model, x, y, epochs=500, lr=0.01: None, "but it is None. Does the function end with a return"),
        (training(keep="detached"), "is a tensor, not a float; append loss.item()"),
        (training(keep="tensor"), "keep every epoch's autograd graph alive"),
        (training(optimizer_class=optim.Adam), "It matches Adam at lr 0.01, not SGD"),
        (training(zero_before_step=True), "the model passed in is unchanged. Every loss is the same"),
    ],
)
def test_ex3_wrong_training_fails(variant: object, hint: str) -> None:
    message = expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=variant),
        *lesson.load_distance_time(),
        seed=0,
        epochs=12,
        hint=hint,
    )
    if "not a float" in hint:
        assert "autograd graph" not in message, f"a detached tensor holds no graph: {message}"


def test_ex3_manual_right_training_passes() -> None:
    ex3.check_train_with_history(
        answer(3, ex3_solution, train_with_history=training()), *lesson.load_distance_time(), seed=0, epochs=50
    )


def unsaved_plot(losses, path=None):
    return ex3_solution.plot_loss_curve(losses)


def shifted_plot(losses, path=None):
    fig = ex3_solution.plot_loss_curve(losses, path)
    line = fig.axes[0].get_lines()[0]
    line.set_xdata([k + 5 for k in range(len(losses))])
    return fig


def named_epochs_plot(losses, path=None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    ax = fig.add_subplot()
    ax.plot([f"epoch {k}" for k in range(len(losses))], losses)  # the epochs as words: categories, not numbers
    ax.set(xlabel="epoch", ylabel="loss")
    return fig


def swapped_axes_plot(losses, path=None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    ax = fig.add_subplot()
    ax.plot(losses, range(len(losses)))  # the losses along x, the epochs up y
    ax.set(xlabel="loss", ylabel="epoch")
    return fig


@pytest.mark.parametrize(
    ("variant", "hint", "save"),
    [
        (unsaved_plot, "no file is there: call fig.savefig(path)", True),
        (swapped_axes_plot, "the figure draws the 3 losses along the x axis; the loss curve has the epochs", False),
        (shifted_plot, "the x values should be the epochs", False),
        (named_epochs_plot, "no line or scatter plot in the figure plots the 3 losses", False),
        (
            lambda losses, path=None: ex3_solution.plot_loss_curve([1.0, 2.0], path),
            "no line or scatter plot in the figure",
            False,
        ),
        (lambda losses, path=None: None, "but it returned None. Does the function end with a return", False),
    ],
)
def test_ex3_wrong_plot_fails(variant: object, hint: str, save: bool, agg: None, tmp_path: Path) -> None:
    expect_failure(
        ex3.check_plot_loss_curve,
        answer(3, ex3_solution, plot_loss_curve=variant),
        [2.0, 1.0, 0.5],
        tmp_path / "curve.png" if save else None,
        hint=hint,
    )


def endless_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    while True:  # a learner's loop whose condition never turns false
        pass


@pytest.mark.parametrize("alarm", [True, False], ids=["with SIGALRM", "without SIGALRM, as on Windows"])
def test_an_endless_loop_is_stopped(alarm: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time_limit, "has_alarm", lambda: alarm and hasattr(signal, "SIGALRM"))
    monkeypatch.setattr(Answer, "timed_out", {})
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    with pytest.raises(time_limit.TimeLimitExceeded), time_limit.time_limit(0.02):  # 0.02 s of CPU time
        ex1.check_fit(answer(1, ex1_solution, fit_height_weight=endless_fit), heights, weights, "data")


@pytest.mark.endless_loops
def test_a_timed_out_test_fails_once_with_a_message_and_the_run_goes_on(endless_loops) -> None:
    # tests/endless_loops.py, run by pytest in another process with only the time-limit plugin.
    run, out, err = endless_loops
    assert run.process.returncode == 1, out + err
    assert "2 failed, 1 passed" in out, out
    # However wide the terminal (the summary lines are cut to its width), each stopped test is
    # reported once in full under its own heading and listed once in the summary.
    failures = out.split(" FAILURES ")[1].split(" short test summary info ")[0]
    assert failures.count("stopped after 0.1 s of CPU time (or 1 s of waiting): this test should take") == 2, out
    for name in ("test_endless", "test_endless_on_windows"):
        assert failures.count(f" {name} ") == 1, f"{name} should be reported once:\n{out}"
        listed = [line for line in out.splitlines() if line.split()[:2] == ["FAILED", f"test_learner.py::{name}"]]
        assert len(listed) == 1, f"{name} should be listed once:\n{out}"
    assert "Traceback" not in out and "TimeLimitExceeded" not in out, out


def path_ignoring_plot(losses, path=None):
    from matplotlib.figure import Figure

    # A file of its own, in the current folder, instead of `path` (a blank figure: where it lands is what matters).
    Figure(figsize=(1, 1)).savefig("loss_curve.png")
    return ex3_solution.plot_loss_curve(losses)


def test_a_file_saved_in_the_wrong_place_stays_out_of_the_repository(agg: None, tmp_path: Path) -> None:
    expect_failure(
        ex3.check_plot_loss_curve,
        answer(3, ex3_solution, plot_loss_curve=path_ignoring_plot),
        [2.0, 1.0, 0.5],
        tmp_path / "curve.png",
        hint="no file is there: call fig.savefig(path)",
    )
    assert not (lesson.ROOT / "loss_curve.png").exists(), "the grader let a learner's file land in the repository"


# --- right answers in other spellings, and the mistakes they used to hide --------------------------


def mse_module_training(**loss_options: object):
    """Exercise 3 with nn.MSELoss built the way older tutorials build it."""

    def train_with_history(model, x, y, epochs=500, lr=0.01):
        loss_fn = nn.MSELoss(**loss_options)
        optimizer = optim.SGD(model.parameters(), lr=lr)
        losses = []
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        return losses

    return train_with_history


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_ex3_the_deprecated_size_average_true_is_the_mean_and_passes() -> None:
    variant = mse_module_training(size_average=True)
    ex3.check_train_with_history(
        answer(3, ex3_solution, train_with_history=variant), *lesson.load_distance_time(), seed=0, epochs=5
    )


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_ex3_the_deprecated_size_average_false_is_told_it_sums() -> None:
    expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=mse_module_training(size_average=False)),
        *lesson.load_distance_time(),
        seed=0,
        epochs=5,
        hint="It matches SGD on a summed loss instead of the mean",
    )


def flat_prediction_training(model, x, y, epochs=500, lr=0.01):
    """F.mse_loss called on (n,) predictions against (n, 1) targets: the warning comes from the learner's own line."""
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x).view(-1), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return losses


def test_ex3_a_loss_over_mismatched_shapes_is_an_error_wherever_it_is_computed() -> None:
    message = expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=flat_prediction_training),
        *lesson.load_distance_time(),
        seed=0,
        epochs=5,
        hint="train_with_history() raised UserWarning: Using a target size",
    )
    assert "at tests/test_grader.py, line" in message and "loss = nn.functional.mse_loss(" in message, message


def standardising_comparison(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):
    """Standardises the caller's x in place, then trains both runs right on it."""
    x -= x.mean()
    x /= x.std()
    return comparison()(x, y, epochs, lr_sgd, lr_adam, seed)


def standardising_training(model, x, y, epochs=500, lr=0.01):
    x -= x.mean()
    x /= x.std()
    return training()(model, x, y, epochs, lr)


def test_ex2_standardising_x_in_place_fails() -> None:
    x, y = lesson.load_distance_time()
    kept = x.clone()
    expect_failure(
        ex2.check_compare,
        answer(2, ex2_solution, compare_optimizers=standardising_comparison),
        x,
        y,
        epochs=12,
        hint="compare_optimizers() changed `x`, the tensor passed to it, in place",
    )
    assert torch.equal(x, kept), "the grader's own x must stay as it was"


def test_ex3_standardising_x_in_place_fails() -> None:
    expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=standardising_training),
        *lesson.load_distance_time(),
        seed=0,
        epochs=12,
        hint="train_with_history() changed `x`, the tensor passed to it, in place",
    )


def reversing_plot(losses, path=None):
    losses.reverse()  # the caller's list, turned round
    return ex3_solution.plot_loss_curve(losses[::-1], path)


def test_ex3_a_plot_that_changes_the_losses_list_fails(agg: None) -> None:
    expect_failure(
        ex3.check_plot_loss_curve,
        answer(3, ex3_solution, plot_loss_curve=reversing_plot),
        [2.0, 1.0, 0.5],
        None,
        hint="plot_loss_curve() changed `losses`, the list passed to it: the caller's data must stay as it was",
    )


def blank_pyplot_save(losses, path=None):
    """Draws on a Figure() of its own but saves with plt.savefig, which saves pyplot's current figure."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    ax = fig.add_subplot()
    ax.plot(range(len(losses)), losses)
    ax.set(xlabel="epoch", ylabel="loss")
    if path is not None:
        plt.figure(figsize=(1, 1), dpi=20)
        plt.savefig(path)
        plt.close()
    return fig


def early_save(losses, path=None):
    """Saves the figure before the loss curve is drawn on it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    ax = fig.add_subplot()
    ax.set(xlabel="epoch", ylabel="loss")
    fig.savefig(path)
    ax.plot(range(len(losses)), losses)
    return fig


def written_blank(losses, path=None):
    """Writes a one-colour PNG by hand, not through savefig."""
    from matplotlib.figure import Figure

    fig = ex3_solution.plot_loss_curve(losses)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(Figure(figsize=(1, 1), dpi=20)).print_png(path)  # a canvas print: no Figure.savefig to see
    return fig


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (blank_pyplot_save, "was saved from another figure than the one plot_loss_curve(losses, path) returned"),
        (early_save, "was saved before the figure was finished"),
        (written_blank, "is blank, one colour only"),
    ],
)
def test_ex3_a_saved_png_that_is_not_the_returned_figure_fails(
    variant: object, hint: str, agg: None, tmp_path: Path
) -> None:
    expect_failure(
        ex3.check_plot_loss_curve,
        answer(3, ex3_solution, plot_loss_curve=variant),
        [2.0, 1.0, 0.5],
        tmp_path / "curve.png",
        hint=hint,
    )


def pyplot_scatter_plot(losses, path=None):
    """A right answer in pyplot's style: a scatter plot of the losses, saved with plt.savefig."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1), dpi=20)
    plt.scatter(range(1, len(losses) + 1), losses, s=4)
    plt.xlabel("epoch")
    plt.ylabel("loss")
    if path is not None:
        plt.savefig(path)
    plt.close(fig)
    return fig


def test_ex3_a_scatter_plot_saved_with_plt_savefig_passes(agg: None, tmp_path: Path) -> None:
    ex3.check_plot_loss_curve(
        answer(3, ex3_solution, plot_loss_curve=pyplot_scatter_plot), [2.0, 1.0, 0.5], tmp_path / "curve.png"
    )


def figure_legend_plot(where: str):
    """A right answer whose legend is not the axes' own: the figure's (fig.legend()), or a subfigure's."""
    from matplotlib.figure import Figure

    def plot_optimizer_comparison(histories):
        fig = Figure(figsize=(2, 1), dpi=20)
        curves, finals = fig.subfigures(1, 2) if where != "figure" else (fig, None)
        ax = curves.add_subplot()
        ax.plot(histories["sgd"], label="SGD")
        ax.plot(histories["adam"], label="Adam")
        ax.set(xlabel="epoch", ylabel="loss", yscale="log")
        if finals is not None:  # beside the curves, the final losses as bars
            finals.add_subplot().bar(list(histories), [losses[-1] for losses in histories.values()])
        (curves if where == "subfigure of the curves" else fig).legend()
        return fig

    return plot_optimizer_comparison


@pytest.mark.parametrize("where", ["figure", "figure of two subfigures", "subfigure of the curves"])
def test_ex2_a_legend_on_the_figure_passes(where: str, agg: None) -> None:
    histories = {"sgd": [3.0, 2.0, 1.0], "adam": [3.0, 1.5, 0.5]}
    variant = figure_legend_plot(where)
    ex2.check_plot_comparison(answer(2, ex2_solution, plot_optimizer_comparison=variant), histories)


# --- what a learner's code may not change for the rest of the run ----------------------------------


def float64_default_fit(heights, weights):
    torch.set_default_dtype(torch.float64)
    return ex1_solution.fit_height_weight(heights.double(), weights.double(), epochs=5)


def no_grad_training(model, x, y, epochs=500, lr=0.01):
    losses = training()(model, x, y, epochs, lr)
    torch.set_grad_enabled(False)  # meant for the evaluation after training, and never switched back
    return losses


def test_ex1_a_changed_default_dtype_is_named_and_put_back() -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    message = expect_failure(
        ex1.check_fit,
        answer(1, ex1_solution, fit_height_weight=float64_default_fit),
        heights,
        weights,
        "data",
        hint="fit_height_weight() left torch's default dtype at torch.float64 (torch.set_default_dtype(torch.float64))",
    )
    assert "The grader has put it back" in message, message
    assert torch.get_default_dtype() == torch.float32


def test_ex3_grad_mode_left_off_is_named_and_put_back() -> None:
    expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=no_grad_training),
        *lesson.load_distance_time(),
        seed=0,
        epochs=5,
        hint="left torch's grad mode at False (torch.set_grad_enabled(False))",
    )
    assert torch.is_grad_enabled()


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        (lambda: torch.autograd.set_detect_anomaly(True), "torch.autograd.set_detect_anomaly(True)"),
        # one thread more than now, whatever the machine's cores: a setting that is already so is no change
        (lambda: torch.set_num_threads(THREADS + 1), f"torch.set_num_threads({THREADS + 1})"),
        (
            lambda: torch.use_deterministic_algorithms(True),
            "deterministic algorithms at True (torch.use_deterministic_algorithms(True))",
        ),
        (lambda: torch.set_default_device("meta"), "torch.set_default_device('meta')"),
    ],
)
def test_other_global_settings_left_changed_are_named_and_put_back(change: object, hint: str) -> None:
    before = harness.global_state()

    def make_height_weight_data(n=200, seed=0):
        data = ex1_solution.make_height_weight_data(n, seed)
        change()
        return data

    expect_failure(
        ex1.check_data_contract, answer(1, ex1_solution, make_height_weight_data=make_height_weight_data), hint=hint
    )
    assert harness.global_state() == before


def learner_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    """A learner's exercise file with this source, importable as `name` from a scratch folder."""
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(Answer, "broken", {})
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def load_failure(name: str, number: int = 2) -> str:
    with pytest.raises(Failed) as caught:
        Answer.load(number, yours=True, name=name)
    return str(caught.value)


def test_a_file_that_changes_the_default_dtype_as_it_imports_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "import torch\n\ntorch.set_default_dtype(torch.float64)  # for precision\n"
    message = load_failure(learner_module(tmp_path, monkeypatch, "float64_ex2", source))
    assert message.startswith(
        "importing float64_ex2.py left torch's default dtype at torch.float64 (torch.set_default_dtype(torch.float64))"
    ), message
    assert torch.get_default_dtype() == torch.float32


def test_a_file_whose_demo_lost_its_main_guard_is_told_to_put_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (
        "import sys\n\n\ndef train_with_history(model, x, y, epochs=500, lr=0.01):\n"
        "    raise NotImplementedError('not yet')\n\n\ndef plot_loss_curve(losses, path=None):\n"
        "    raise NotImplementedError('not yet')\n\n\nfrom grader.run_it import run_it\n\n"
        "sys.exit(run_it(sys.modules[__name__]))\n"
    )
    message = load_failure(learner_module(tmp_path, monkeypatch, "ex3_loss_curve", source), number=3)
    capsys.readouterr()  # what the demo printed
    assert "importing ex3_loss_curve.py ran the exercise's own demo and ended with sys.exit(2)" in message, message
    assert "ex3_loss_curve.py, line 14: sys.exit(run_it(sys.modules[__name__]))" in message, message
    assert 'belongs under if __name__ == "__main__":' in message and "Traceback" not in message, message


def test_a_missing_package_is_told_at_the_learners_import_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "import torch\nimport a_package_nobody_installed\n"
    message = load_failure(learner_module(tmp_path, monkeypatch, "needs_more_ex2", source))
    first = message.splitlines()[0]
    assert "ModuleNotFoundError: No module named 'a_package_nobody_installed'" in first, first
    assert "needs_more_ex2.py, line 2: import a_package_nobody_installed. Fix it there" in first, first
    assert "importlib" not in first, first


def exiting_fit(heights, weights):
    if heights.mean() > 100:
        print("heights in cm: please convert")
        sys.exit(1)
    return ex1_solution.fit_height_weight(heights, weights)


def test_sys_exit_in_a_function_is_one_message_naming_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    message = expect_failure(
        ex1.check_fit,
        answer(1, ex1_solution, fit_height_weight=exiting_fit),
        heights,
        weights,
        "data",
        hint="fit_height_weight() ended the program with sys.exit(1) at tests/test_grader.py, line",
    )
    capsys.readouterr()
    assert "sys.exit(1). A function that ends the program stops every check after it" in message, message


def data_writing_fit(heights, weights):
    """Saves its training data over a file the lesson ships."""
    (lesson.DATA_DIR / "height_weight.csv").write_text("height_cm,weight_kg\n170,70\n", encoding="utf-8")
    return ex1_solution.fit_height_weight(heights, weights, epochs=5)


def test_a_shipped_data_file_written_over_is_put_back_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "data" / "height_weight.csv"
    csv.parent.mkdir()
    content = b"height_cm,weight_kg\n160.0,60.0\n180.0,80.0\n"
    csv.write_bytes(content)
    monkeypatch.setattr(lesson, "DATA_DIR", csv.parent)  # the learner's code writes here, not in the repository
    monkeypatch.setattr(
        harness, "SHIPPED", shipped.Keeper(tmp_path, {"data/height_weight.csv": shipped.digest(content)})
    )
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    expect_failure(
        ex1.check_fit,
        answer(1, ex1_solution, fit_height_weight=data_writing_fit),
        heights,
        weights,
        "data",
        hint="fit_height_weight() changed data/height_weight.csv, a file the lesson ships; the grader has put it back",
    )
    assert csv.read_bytes() == content


def test_a_deleted_shipped_folder_is_put_back_and_a_damaged_one_is_named_with_its_restore_command(
    tmp_path: Path,
) -> None:
    files = {"data/a.csv": b"x,y\n1,2\n", "data/b.csv": b"x,y\r\n3,4\r\n", "exercises/solutions/ex.py": b"pass\n"}
    for relative, content in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(content)
    manifest = {relative: shipped.digest(content.replace(b"\r\n", b"\n")) for relative, content in files.items()}
    keeper = shipped.Keeper(tmp_path, manifest)
    assert keeper.damaged == [] and keeper.damaged_sentence() is None  # CRLF, as a Windows checkout has it, matches
    shutil.rmtree(tmp_path / "data")
    (tmp_path / "exercises/solutions/ex.py").write_text("print('mine')\n")
    said = keeper.put_back("Your code")
    assert said == [
        "Your code deleted data/a.csv and data/b.csv and changed exercises/solutions/ex.py, files the lesson ships; "
        "the grader has put them back. Write your own files elsewhere: in the current folder, or at a path you are "
        "given."
    ]
    assert all((tmp_path / relative).read_bytes() == content for relative, content in files.items())
    assert keeper.put_back("Your code") == []
    (tmp_path / "data/a.csv").write_text("damaged")
    later = shipped.Keeper(tmp_path, manifest)
    assert later.damaged == ["data/a.csv"]
    assert later.damaged_sentence() == (
        "data/a.csv is not as the lesson ships it (changed by hand, or by a run that was stopped part-way); "
        "restore it with: git checkout -- data/a.csv"
    )


def test_the_shipped_files_manifest_matches_the_repository() -> None:
    on_disk = {relative: shipped.digest((shipped.ROOT / relative).read_bytes()) for relative in shipped.on_disk()}
    assert on_disk == shipped.known(), "a shipped file changed: run python -m grader.shipped to record it"


def test_a_changed_shipped_csv_says_how_to_restore_it(tmp_path: Path) -> None:
    changed = tmp_path / "height_weight.csv"
    changed.write_text("height_cm,weight_kg\n170.0,70.0\n171.0,71.0\n", encoding="utf-8")
    expect_failure(
        ex1.check_shipped_csv,
        changed,
        ("height_cm", "weight_kg"),
        ex1_solution.make_height_weight_data(200, seed=0),
        hint=f"Something wrote over it. It is a file the lesson ships; restore it with: git checkout {changed}",
    )


# --- messages that point at the right place and the right mistake ----------------------------------


def float64_model_fit(heights, weights):
    return ex1_solution.fit_height_weight(heights, weights, epochs=5).double()


def test_a_float64_model_is_told_at_the_library_without_fix_it_there() -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    message = expect_failure(
        ex1.check_fit,
        answer(1, ex1_solution, fit_height_weight=float64_model_fit),
        heights,
        weights,
        "data",
        hint="The returned model's parameters are torch.float64",
    )
    first = message.splitlines()[0]
    assert first.startswith("the returned model raised RuntimeError"), first
    assert "which is not your code" in first and "Fix it there" not in first, first


def refolded_fit(heights, weights):
    """Folds the scaling back, but computes the bias from the weight it has already overwritten."""
    mean, std = heights.mean(), heights.std()
    model = lesson.LinearRegression()
    lesson.train(model, (heights - mean) / std, weights, optim.SGD(model.parameters(), lr=0.1), 30)
    with torch.no_grad():
        model.linear.weight /= std
        model.linear.bias -= (model.linear.weight * mean / std).reshape(-1)
    return model


def swapped_fit(heights, weights):
    return ex1_solution.fit_height_weight(weights, heights, epochs=30)


def metre_fit(heights, weights):
    return ex1_solution.fit_height_weight(heights / 100, weights, epochs=30)


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (refolded_fit, "Your slope is right"),
        (swapped_fit, "heights and weights are swapped"),
        (metre_fit, "the model expects heights in metres"),
    ],
)
def test_ex1_a_wrong_fit_is_told_by_what_it_measures(variant: object, hint: str) -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 80, seed=3)
    message = expect_failure(
        ex1.check_fit, answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data", hint=hint
    )
    assert "training stopped short of the minimum" not in message, message


def test_ex2_an_optimizer_on_another_model_names_the_optimizers_parameters() -> None:
    expect_failure(
        ex2.check_compare,
        answer(2, ex2_solution, compare_optimizers=comparison(sgd_steps_the_adam_model=True)),
        *lesson.load_distance_time(),
        epochs=4,
        hint="Either the optimizer holds another model's parameters",
    )


@pytest.mark.parametrize(
    ("options", "hint", "data"),
    [
        ({"amsgrad": True}, "optim.Adam built with amsgrad=True (the default is False)", "article"),
        ({"amsgrad": True}, "optim.Adam built with amsgrad=True (the default is False)", "other"),
        ({"betas": (0.9, 0.99)}, "optim.Adam built with betas=(0.9, 0.99) (the default is (0.9, 0.999))", "article"),
    ],
)
def test_ex2_adam_with_other_settings_is_named_on_any_data(options: dict[str, object], hint: str, data: str) -> None:
    x, y = lesson.load_distance_time() if data == "article" else line_data(30, -1.5, 2.0, 0.2, seed=4)
    expect_failure(
        ex2.check_compare,
        answer(2, ex2_solution, compare_optimizers=comparison(adam_options=options)),
        x,
        y,
        epochs=4,
        hint=hint,
    )


def test_ex2_an_optimizer_the_exercise_does_not_ask_for_is_named() -> None:
    expect_failure(
        ex2.check_compare,
        answer(2, ex2_solution, compare_optimizers=comparison(sgd_class=optim.AdamW, sgd_lr="lr_adam")),
        *lesson.load_distance_time(),
        epochs=3,
        hint="your code trained with optim.AdamW, which the exercise does not ask for; use optim.SGD and optim.Adam",
    )


def test_ex2_adam_with_its_defaults_written_out_passes() -> None:
    written_out = {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False, "foreach": False}
    ex2.check_compare(
        answer(2, ex2_solution, compare_optimizers=comparison(adam_options=written_out)),
        *lesson.load_distance_time(),
        epochs=4,
    )


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (training(keep="numpy"), "entry 0 of the value train_with_history returned is a numpy ndarray, not a float"),
        (lambda model, x, y, epochs=500, lr=0.01: np.zeros(epochs), "is a numpy array; return a list of floats"),
        (lambda model, x, y, epochs=500, lr=0.01: training()(model, x, y, 3, lr), "returned has 3 entries"),
    ],
)
def test_ex3_losses_of_the_wrong_kind_say_how_to_make_floats(variant: object, hint: str) -> None:
    message = expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=variant),
        *lesson.load_distance_time(),
        seed=0,
        epochs=12,
        hint=hint,
    )
    assert "loss.item()" in message or "entries" in message, message


def test_a_function_that_ran_out_of_time_is_not_waited_for_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Answer, "timed_out", {})
    calls = []

    def counted_endless_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
        calls.append(1)
        return endless_fit(heights, weights)

    endless = answer(1, ex1_solution, fit_height_weight=counted_endless_fit)
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 50, seed=1)
    with pytest.raises(time_limit.TimeLimitExceeded), time_limit.time_limit(0.02):
        ex1.check_fit(endless, heights, weights, "data")
    expect_failure(
        ex1.check_fit,
        endless,
        heights,
        weights,
        "data",
        hint="fit_height_weight() did not finish in time in an earlier check "
        "(test_a_function_that_ran_out_of_time_is_not_waited_for_again); not run again here.",
    )
    assert len(calls) == 1, "the second check should not have run the function again"


# --- constructed answers just inside and just outside every tolerance ----------------------------------


def _exact_standard(values: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
    """values made orthogonal to a constant and to `others`, with mean 0 and standard deviation 1 exactly."""
    columns = torch.cat([torch.ones_like(values), *others], dim=1).double()
    values = values.double()
    values = values - columns @ torch.linalg.lstsq(columns, values).solution
    return values / values.std()


def exact_adults(mean: float, spread: float, slope: float, level: float, noise: float):
    """make_height_weight_data whose heights have exactly this mean and spread, and whose weights have exactly
    this least-squares slope, level at the mean height, and residual spread."""

    def make_height_weight_data(n=200, seed=0):
        generator = torch.Generator().manual_seed(seed)
        z = _exact_standard(torch.randn(n, 1, generator=generator))
        e = _exact_standard(torch.randn(n, 1, generator=generator), z)
        heights = mean + spread * z
        return heights.float(), (level + slope * spread * z + noise * e).float()

    return make_height_weight_data


ADULT = {"mean": 170.0, "spread": 8.0, "slope": 0.9, "level": 70.0, "noise": 6.0}
REALISTIC_EDGES = [  # (setting, just inside, just outside)
    ("mean", 150.05, 149.95),
    ("mean", 189.95, 190.05),
    ("spread", 3.01, 2.99),
    ("spread", 14.99, 15.01),
    ("slope", 0.201, 0.199),
    ("slope", 1.999, 2.001),
    ("level", 45.01, 44.99),
    ("level", 109.99, 110.01),
    ("noise", 0.501, 0.499),
]


@pytest.mark.parametrize(("setting", "inside", "outside"), REALISTIC_EDGES)
def test_ex1_realistic_data_at_the_edges_of_its_ranges(setting: str, inside: float, outside: float) -> None:
    ex1.check_data_realistic(
        answer(1, ex1_solution, make_height_weight_data=exact_adults(**{**ADULT, setting: inside}))
    )
    variant = exact_adults(**{**ADULT, setting: outside})
    with pytest.raises(Failed):
        ex1.check_data_realistic(answer(1, ex1_solution, make_height_weight_data=variant))


def shifted_line_fit(offset_kg: float):
    """A fit that returns numpy's least-squares line (np.polyfit), raised by offset_kg everywhere."""

    def fit_height_weight(heights, weights, epochs=200, lr=0.1):
        slope, bias = np.polyfit(heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy(), 1)
        layer = nn.Linear(1, 1)
        with torch.no_grad():
            layer.weight.fill_(float(slope))
            layer.bias.fill_(float(bias) + offset_kg)
        return layer

    return fit_height_weight


def test_ex1_a_fit_just_inside_the_tolerance_passes_and_just_outside_fails() -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 120, seed=3)
    tolerance = ex1.PREDICTION_TOL_KG
    ex1.check_fit(answer(1, ex1_solution, fit_height_weight=shifted_line_fit(0.98 * tolerance)), heights, weights, "d")
    expect_failure(
        ex1.check_fit,
        answer(1, ex1_solution, fit_height_weight=shifted_line_fit(1.02 * tolerance)),
        heights,
        weights,
        "data",
        hint=f"more than the {tolerance} kg allowed",
    )


@pytest.mark.parametrize(("shift", "passes"), [(0.9, True), (1.1, False)])
def test_a_shipped_csv_within_its_decimals_passes(tmp_path: Path, shift: float, passes: bool) -> None:
    heights, weights = ex1_solution.make_height_weight_data(200, seed=0)
    path = tmp_path / "height_weight.csv"
    moved = heights.reshape(-1) + shift * ex1.CSV_DECIMALS_ATOL
    rows = "".join(f"{h:.4f},{w:.4f}\n" for h, w in zip(moved.tolist(), weights.reshape(-1).tolist(), strict=True))
    path.write_text("height_cm,weight_kg\n" + rows, encoding="utf-8")
    check = (ex1.check_shipped_csv, path, ("height_cm", "weight_kg"), (heights, weights))
    if passes:
        check[0](*check[1:])
    else:
        expect_failure(*check, hint=f"within {ex1.CSV_DECIMALS_ATOL} for one decimal")


def test_close_holds_losses_to_the_named_tolerances() -> None:
    assert harness.close(1.0, 1.0 + 0.99 * harness.LOSS_RTOL) and not harness.close(1.0, 1.0 + 1.01 * harness.LOSS_RTOL)
    assert harness.close(0.0, 0.99 * harness.LOSS_ATOL) and not harness.close(0.0, 1.01 * harness.LOSS_ATOL)
    assert not harness.close(float("nan"), float("nan")), "a nan loss matches nothing"


def scaled_comparison(factor: float):
    def compare_optimizers(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):
        histories = ex2_solution.compare_optimizers(x, y, epochs, lr_sgd, lr_adam, seed)
        return {name: [loss * factor for loss in losses] for name, losses in histories.items()}

    return compare_optimizers


def test_ex2_losses_just_inside_the_tolerance_pass_and_just_outside_fail() -> None:
    x, y = lesson.load_distance_time()
    inside = answer(2, ex2_solution, compare_optimizers=scaled_comparison(1 + 0.98 * harness.LOSS_RTOL))
    ex2.check_compare(inside, x, y, epochs=12)
    outside = answer(2, ex2_solution, compare_optimizers=scaled_comparison(1 + 1.02 * harness.LOSS_RTOL))
    expect_failure(ex2.check_compare, outside, x, y, epochs=12, hint="at epoch 0 the loss should be")


def test_ex2_nan_losses_are_told_as_divergence() -> None:
    nan = answer(2, ex2_solution, compare_optimizers=scaled_comparison(float("nan")))
    expect_failure(ex2.check_compare, nan, *lesson.load_distance_time(), epochs=12, hint="is nan: training diverged")


def nudged_training(loss_factor: float = 1.0, bias_shift: float = 0.0):
    """The reference training, then its losses scaled and its bias moved after the last step."""

    def train_with_history(model, x, y, epochs=500, lr=0.01):
        losses = ex3_solution.train_with_history(model, x, y, epochs, lr)
        with torch.no_grad():
            model.linear.bias += bias_shift
        return [loss * loss_factor for loss in losses]

    return train_with_history


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({"loss_factor": 1 + 1.02 * harness.LOSS_RTOL}, "(relative tolerance 0.0001)"),
        ({"bias_shift": 1.02 * ex3.PARAM_ATOL}, "after training, linear.bias is"),
    ],
)
def test_ex3_just_outside_a_tolerance_fails(options: dict[str, float], hint: str) -> None:
    x, y = lesson.load_distance_time()
    expect_failure(
        ex3.check_train_with_history,
        answer(3, ex3_solution, train_with_history=nudged_training(**options)),
        x,
        y,
        seed=0,
        epochs=30,
        hint=hint,
    )


def test_ex3_just_inside_every_tolerance_passes() -> None:
    variant = nudged_training(loss_factor=1 + 0.98 * harness.LOSS_RTOL, bias_shift=0.98 * ex3.PARAM_ATOL)
    ex3.check_train_with_history(
        answer(3, ex3_solution, train_with_history=variant), *lesson.load_distance_time(), seed=0, epochs=30
    )


def same_heights_unseeded_weights(n=200, seed=0):
    heights, _ = ex1_solution.make_height_weight_data(n, seed)
    return heights, 0.9 * heights - 83 + 8 * torch.randn(n, 1)  # the weights' noise ignores the seed


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (same_heights_unseeded_weights, "gave different data on two calls"),
        (lambda n=200, seed=0: (*ex1_solution.make_height_weight_data(n, seed), None), "a pair of tensors"),
        (lambda n=200, seed=0: ex1_solution.make_height_weight_data(n, seed)[0], "a pair of tensors"),
    ],
)
def test_ex1_data_that_is_not_a_seeded_pair_fails(variant: object, hint: str) -> None:
    check = ex1.check_data_seed if variant is same_heights_unseeded_weights else ex1.check_data_contract
    expect_failure(check, answer(1, ex1_solution, make_height_weight_data=variant), hint=hint)


def test_a_save_of_the_same_size_in_the_same_second_is_the_file_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python trusts a cached .pyc whose source has the same size and modification second; the
    # grader must import what the file holds now.
    import importlib.util
    import os
    import py_compile

    name = learner_module(tmp_path, monkeypatch, "ex1_same_second", "HEIGHT_MEAN_CM = 1.70\n")
    file = tmp_path / f"{name}.py"
    os.utime(file, (1_700_000_000, 1_700_000_000))
    cached = importlib.util.cache_from_source(str(file))
    py_compile.compile(str(file), cfile=cached, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    file.write_text("HEIGHT_MEAN_CM = 170.\n", encoding="utf-8")  # the same size, saved in the same second
    os.utime(file, (1_700_000_000, 1_700_000_000))
    assert Answer.load(1, yours=True, name=name).module.HEIGHT_MEAN_CM == 170.0


# --- the edges of exercise 1's diagnoses, and the grader's own data ------------------------------------


@pytest.mark.parametrize("group", sorted(ex1.GRADER_ADULTS))
def test_ex1_the_graded_fits_on_the_graders_own_adults_fail_a_line_a_kilogram_too_high(group: str) -> None:
    graded = ex1.GRADED[f"fit_on_the_graders_{group.replace(' ', '_')}"]
    too_high = answer(1, ex1_solution, fit_height_weight=shifted_line_fit(1.0))
    expect_failure(graded, too_high, None, hint=f"On the grader's {group}, at ")


def test_ex1_the_graders_adults_are_seeded_and_scatter_about_a_line_through_70_kg_at_170_cm() -> None:
    heights, weights = ex1.adults(165.0, 8.0, 0.9, 20_000, seed=5)
    again = ex1.adults(165.0, 8.0, 0.9, 20_000, seed=5)
    assert torch.equal(heights, again[0]) and torch.equal(weights, again[1]), "the same seed gives the same adults"
    h, w = heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy()
    assert h.mean() == pytest.approx(165.0, abs=0.3) and h.std() == pytest.approx(8.0, abs=0.2)
    slope, bias = np.polyfit(h, w, 1)
    assert slope == pytest.approx(0.9, abs=0.03)
    assert slope * 170 + bias == pytest.approx(70.0, abs=0.3), "the line passes through 70 kg at 170 cm"
    assert (w - (slope * h + bias)).std() == pytest.approx(7.0, abs=0.3), "each adult's noise is drawn on its own"


def fixed_heights_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Heights drawn from a generator seeded with 0 whatever the seed; only the weights' noise follows the seed."""
    heights = 170 + 8 * torch.randn(n, 1, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(n, 1, generator=torch.Generator().manual_seed(seed))
    return heights, 0.9 * heights - 83 + 7 * noise


def test_ex1_heights_that_ignore_the_seed_fail() -> None:
    expect_failure(
        ex1.check_data_seed,
        answer(1, ex1_solution, make_height_weight_data=fixed_heights_data),
        hint="seeds 5 and 6 gave the same heights",
    )


def exactly_placed_data(mean: float, spread: float, level: float = 70.0, slope: float = 0.5):
    """make_height_weight_data(2000) whose heights have exactly this mean and spread, and whose weights have exactly
    this least-squares slope and level at the mean height: offsets of whole numbers (mean 0, standard deviation 2)
    scaled by powers of two, so that no rounding moves them, and noise of ±3 kg where the height offset is 0."""
    offsets = torch.tensor([3.0] * 444 + [-3.0] * 444 + [1.0, 1.0, -1.0, -1.0] + [0.0] * 1108)
    noise = torch.zeros(len(offsets))
    noise[offsets == 0] = torch.tensor([3.0, -3.0]).repeat(554)

    def make_height_weight_data(n=200, seed=0):
        generator = torch.Generator().manual_seed(seed)
        if n != len(offsets):  # only the realistic-data check is asked of this answer
            heights = mean + spread * torch.randn(n, 1, generator=generator)
            return heights, level + slope * (heights - mean) + 3 * torch.randn(n, 1, generator=generator)
        order = torch.randperm(len(offsets), generator=generator)
        centred = (spread / 2 * offsets[order]).view(-1, 1)
        return mean + centred, level + slope * centred + noise[order].view(-1, 1)

    return make_height_weight_data


EXACT_EDGES = [
    {"mean": 150.0, "spread": 8.0},
    {"mean": 190.0, "spread": 8.0},
    {"mean": 170.0, "spread": 3.0},
    {"mean": 170.0, "spread": 15.0},
    {"mean": 170.0, "spread": 8.0, "level": 45.0},
    {"mean": 170.0, "spread": 8.0, "level": 110.0},
    {"mean": 170.0, "spread": 8.0, "slope": 2.0},
]


@pytest.mark.parametrize("placed", EXACT_EDGES, ids=lambda placed: ",".join(f"{k}={v:g}" for k, v in placed.items()))
def test_ex1_data_exactly_at_the_ends_of_the_adult_ranges_passes(placed: dict[str, float]) -> None:
    variant = exactly_placed_data(**placed)
    heights, weights = variant(2000, seed=1)
    slope, bias = lesson.least_squares(heights, weights)
    measured = {"mean": heights.mean().item(), "spread": heights.std().item()}
    measured |= {"level": slope * measured["mean"] + bias, "slope": slope}
    assert all(measured[k] == v for k, v in placed.items()), f"the data must sit exactly on the edge: {measured}"
    ex1.check_data_realistic(answer(1, ex1_solution, make_height_weight_data=variant))


@pytest.mark.parametrize(
    ("mean", "spread", "told"),
    [
        (1.205, 0.08, "That looks like metres"),
        (1.195, 0.08, None),
        (2.295, 0.08, "That looks like metres"),
        (2.305, 0.08, None),
        (50.05, 3.5, "That looks like inches"),
        (49.95, 3.5, None),
        (79.95, 3.5, "That looks like inches"),
        (80.05, 3.5, None),
        (0.99, 1.0, "That looks like standard-normal draws"),
        (1.01, 1.0, None),
        (0.0, 0.5, "That looks like standard-normal draws"),
        (0.0, 0.49, None),
        (0.0, 2.0, "That looks like standard-normal draws"),
        (0.0, 2.01, None),
        (50.0, 4.0, "That looks like inches"),
        (80.0, 4.0, "That looks like inches"),
    ],
)
def test_ex1_the_units_a_height_looks_like_are_named_only_inside_their_ranges(
    mean: float, spread: float, told: str | None
) -> None:
    exact = mean in (0.0, 50.0, 80.0)  # the ends of the inch means and the standard-normal spreads, hit exactly
    variant = exactly_placed_data(mean, spread) if exact else exact_adults(**{**ADULT, "mean": mean, "spread": spread})
    message = expect_failure(
        ex1.check_data_realistic, answer(1, ex1_solution, make_height_weight_data=variant), hint="the heights have mean"
    )
    if told is None:
        assert "That looks like" not in message, message
    else:
        assert told in message, message


@pytest.mark.parametrize(
    "placed",
    [{"slope": 0.199}, {"slope": 2.001}, {"level": 44.99}, {"level": 250.0}],
    ids=["0.199", "2.001", "44.99", "250"],
)
def test_ex1_weights_outside_the_adult_ranges_are_not_called_pounds(placed: dict[str, float]) -> None:
    variant = exactly_placed_data(170.0, 8.0, **placed)  # 250 kg exactly: the top of the pounds range, not in it
    message = expect_failure(
        ex1.check_data_realistic, answer(1, ex1_solution, make_height_weight_data=variant), hint="adults gain roughly"
    )
    assert "pounds" not in message, message


def tilted_line_fit(extra_slope: float, offset_kg: float):
    """numpy's least-squares line (np.polyfit), turned by extra_slope kg/cm about the mean height and raised there
    by offset_kg."""

    def fit_height_weight(heights, weights, epochs=200, lr=0.1):
        h, w = heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy()
        slope, bias = np.polyfit(h, w, 1)
        layer = nn.Linear(1, 1)
        with torch.no_grad():
            layer.weight.fill_(float(slope + extra_slope))
            layer.bias.fill_(float(bias + offset_kg - extra_slope * h.mean()))
        return layer

    return fit_height_weight


@pytest.mark.parametrize(("share", "told_bias"), [(0.8, True), (1.2, False)])
def test_ex1_a_slope_is_called_right_only_while_it_moves_the_line_by_less_than_half_the_tolerance(
    share: float, told_bias: bool
) -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 120, seed=3)
    half_range = (heights.max() - heights.min()).item() / 2
    extra = share * (ex1.PREDICTION_TOL_KG / 2) / half_range  # how far the line's ends move from the slope alone
    variant = tilted_line_fit(extra, offset_kg=1.0)
    message = expect_failure(
        ex1.check_fit, answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data", hint="off by"
    )
    assert ("the bias is wrong" in message) == told_bias, message
    if not told_bias:  # the line's MSE and the least-squares line's, as numpy computes them
        model = variant(heights, weights)
        h, w = heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy()
        slope, bias = np.polyfit(h, w, 1)
        own = model.weight.item() * h + model.bias.item()
        loss, best = ((own - w) ** 2).mean(), ((slope * h + bias - w) ** 2).mean()
        assert f"Your line's MSE is {loss:.4g} kg², the least-squares line's {best:.4g} kg²" in message, message


def standardised_output_fit(both: bool, offset: float):
    """numpy's least-squares line in standardised weights (of standardised heights too if `both`), moved by offset
    standard deviations of the weights."""

    def fit_height_weight(heights, weights, epochs=200, lr=0.1):
        h, w = heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy()
        x = (h - h.mean()) / h.std(ddof=1) if both else h
        slope, bias = np.polyfit(x, (w - w.mean()) / w.std(ddof=1), 1)
        layer = nn.Linear(1, 1)
        with torch.no_grad():
            layer.weight.fill_(float(slope))
            layer.bias.fill_(float(bias + offset))
        return layer

    return fit_height_weight


@pytest.mark.parametrize("both", [False, True], ids=["weights standardised", "both standardised"])
@pytest.mark.parametrize(("offset", "told"), [(0.03, True), (0.1, False)])
def test_ex1_outputs_are_called_standardised_weights_only_within_a_twentieth_of_a_standard_deviation(
    both: bool, offset: float, told: bool
) -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 120, seed=3)
    variant = standardised_output_fit(both, offset)
    message = expect_failure(
        ex1.check_fit, answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data", hint="off by"
    )
    assert ("standardised weights" in message) == told, message


# --- what the harness compares, records and loads ------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "now", "same"),
    [
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]), False),
        (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, float("nan")]), True),
        (torch.tensor([1.0]), torch.tensor([1.000001]), False),  # nudged by less than allclose's default rtol
        (np.array([1.0, 2.0]), np.array([1.0, 2.0]), True),
        (np.array([1.0, 2.0]), np.array([1.0, 3.0]), False),
        (np.array([1.0, 2.0]), np.array([[1.0, 2.0]]), False),
        (float("2.5"), float("2.5"), True),  # two float objects of one value
        (1.0, float("nan"), False),
        (float("nan"), float("nan"), True),
    ],
    ids=[
        "tensor changed",
        "tensor with nan",
        "tensor nudged",
        "array",
        "array changed",
        "array reshaped",
        "float",
        "nan",
        "nan again",
    ],
)
def test_an_input_is_the_same_value_only_when_it_holds_the_same_numbers(
    original: object, now: object, same: bool
) -> None:
    assert harness.same_value(original, now) is same


def test_saved_figures_are_recorded_with_the_file_they_went_to(agg: None, tmp_path: Path) -> None:
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=10)
    with harness.figures_saved() as saved, (tmp_path / "opened.png").open("wb") as opened:
        fig.savefig(tmp_path / "named.png", format="rgba")  # raw pixels: quick to write
        fig.savefig(opened, format="rgba")
        fig.savefig(io.BytesIO(), format="rgba")  # a buffer has no file name
    targets = [target for _, target, _ in saved]
    assert targets == [str((tmp_path / "named.png").resolve()), str((tmp_path / "opened.png").resolve()), None]


def test_forgetting_bytecode_where_python_keeps_none_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.implementation, "cache_tag", None)  # cache_from_source raises NotImplementedError
    harness.forget_bytecode(__file__)


def test_loading_the_learners_exercise_imports_the_exercise_file_not_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = learner_module(tmp_path, monkeypatch, "learners_own_ex1", "MARK = 'the learner'\n")
    exercise = types.SimpleNamespace(
        module=name, file=f"{name}.py", solution_module=ex1_solution.__name__, solution_file="solution.py"
    )
    monkeypatch.setitem(harness.BY_NUMBER, 1, exercise)
    assert Answer.load(1, yours=True).module.MARK == "the learner"
    assert Answer.load(1, yours=False).module is ex1_solution


def test_a_file_that_raises_after_changing_the_default_dtype_is_told_both_and_not_kept_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "import torch\n\ntorch.set_default_dtype(torch.float64)\nprint(undefined_name)\n"
    name = learner_module(tmp_path, monkeypatch, "float64_raising_ex2", source)
    message = load_failure(name)
    assert message.startswith("importing float64_raising_ex2.py raised NameError: name 'undefined_name'"), message
    assert "Also: importing float64_raising_ex2.py left torch's default dtype at torch.float64" in message, message
    assert torch.get_default_dtype() == torch.float32


def test_a_file_that_imports_but_changes_a_setting_is_not_kept_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "import torch\n\ntorch.set_default_dtype(torch.float64)\n"
    name = learner_module(tmp_path, monkeypatch, "float64_kept_ex2", source)
    load_failure(name)
    assert name not in sys.modules, "a file that broke a rule as it imported must be imported afresh next time"


def test_a_call_that_returns_gives_its_result_and_is_not_skipped() -> None:
    right = answer(1, ex1_solution)
    try:
        heights, weights = right("make_height_weight_data", 5, seed=0)
    except Skipped as skipped:  # a skip here would turn every check of a right answer into a skip, never a failure
        pytest.fail(f"a call that returned was skipped: {skipped}")
    expected = ex1_solution.make_height_weight_data(5, seed=0)
    assert torch.equal(heights, expected[0]) and torch.equal(weights, expected[1])


@pytest.mark.parametrize(("towards_heights", "told"), [(1.0, True), (0.5, False)])
def test_ex1_a_line_with_the_reciprocal_slope_is_told_swapped_only_at_the_level_of_heights(
    towards_heights: float, told: bool
) -> None:
    # The slope of heights against weights is r² / slope; at r² near 0.5 only the reciprocal 1 / slope names the swap,
    # and only a line that also sits at the swapped line's level (heights, not weights) is told as swapped.
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 120, seed=3)
    h, w = heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy()
    slope, bias = np.polyfit(h, w, 1)
    swapped_slope, swapped_bias = np.polyfit(w, h, 1)
    assert not 0.8 <= (1 / slope) / swapped_slope <= 1.25, "the two references must be told apart here"
    middle = (h.min() + h.max()) / 2
    level = (1 - towards_heights) * (slope * middle + bias) + towards_heights * (swapped_slope * middle + swapped_bias)

    def fit_height_weight(heights, weights, epochs=200, lr=0.1):
        layer = nn.Linear(1, 1)  # the reciprocal slope, through `level` at the middle height
        with torch.no_grad():
            layer.weight.fill_(float(1 / slope))
            layer.bias.fill_(float(level - middle / slope))
        return layer

    variant = answer(1, ex1_solution, fit_height_weight=fit_height_weight)
    message = expect_failure(ex1.check_fit, variant, heights, weights, "data", hint="off by")
    assert ("heights and weights are swapped" in message) == told, message


def test_matplotlib_settings_a_call_changes_are_put_back_without_a_word(agg: None) -> None:
    import matplotlib

    width = matplotlib.rcParams["lines.linewidth"]

    def restyle() -> str:
        matplotlib.rcParams["lines.linewidth"] = width + 3
        return "drawn"

    assert answer(1, ex1_solution).run("restyle()", restyle) == "drawn"
    assert matplotlib.rcParams["lines.linewidth"] == width


def test_a_numpy_input_sorted_in_place_is_named_and_the_callers_array_is_untouched() -> None:
    values = np.array([3.0, 1.0, 2.0])

    def sort_in_place(values):
        values.sort()
        return values

    expect_failure(
        answer(1, ex1_solution).run,
        "sort_in_place()",
        sort_in_place,
        values,
        hint="sort_in_place() changed `values`, the ndarray passed to it",
    )
    assert values.tolist() == [3.0, 1.0, 2.0]


def test_two_settings_left_changed_are_each_named_once() -> None:
    def change_two() -> None:
        torch.set_default_dtype(torch.float64)
        torch.autograd.set_detect_anomaly(True)

    message = expect_failure(answer(1, ex1_solution).run, "change_two()", change_two, hint="change_two() left")
    assert message.count("default dtype at torch.float64") == 1, message
    assert message.count("anomaly detection at True") == 1 and "It also left torch's anomaly detection" in message
    assert torch.get_default_dtype() == torch.float32 and not torch.is_anomaly_enabled()


def test_an_error_raised_inside_a_library_shows_the_librarys_last_lines() -> None:
    import shlex

    message = expect_failure(answer(1, ex1_solution).run, "split()", shlex.split, '"', hint="which is not your code")
    with pytest.raises(ValueError) as raised:  # the same call, its traceback as Python tells it
        shlex.split('"')
    frames = traceback.extract_tb(raised.value.__traceback__)[1:]  # from shlex.split on, without this test's line
    shown = "".join(traceback.format_list(frames[-harness.messages.SHOWN_FRAMES :])).rstrip()
    assert message.endswith(f"(not your code):\n{shown}"), message


def test_a_library_file_named_as_a_grader_file_is_still_told_as_the_library(tmp_path: Path) -> None:
    import importlib.util

    package = tmp_path / "helpers"
    package.mkdir()
    (package / "__init__.py").write_text('def split(text):\n    raise ValueError("no closing quotation")\n')
    spec = importlib.util.spec_from_file_location("helpers", package / "__init__.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    message = expect_failure(answer(1, ex1_solution).run, "split()", helpers.split, '"', hint="which is not your code")
    assert "inside " in message and "__init__.py, line 2" in message, message


@pytest.mark.parametrize(("ratio", "told"), [(50.5, True), (49.5, False), (199.0, True), (201.0, False)])
def test_ex1_a_slope_is_told_as_metres_only_from_50_to_200_times_the_right_one(ratio: float, told: bool) -> None:
    heights, weights = ex1.adults(170.0, 8.0, 0.9, 120, seed=3)
    h, w = heights.reshape(-1).double().numpy(), weights.reshape(-1).double().numpy()
    slope, _ = np.polyfit(h, w, 1)

    def fit_height_weight(heights, weights, epochs=200, lr=0.1):
        layer = nn.Linear(1, 1)  # ratio times the slope, through the mean weight at the mean height
        with torch.no_grad():
            layer.weight.fill_(float(ratio * slope))
            layer.bias.fill_(float(w.mean() - ratio * slope * h.mean()))
        return layer

    variant = answer(1, ex1_solution, fit_height_weight=fit_height_weight)
    message = expect_failure(ex1.check_fit, variant, heights, weights, "data", hint="off by")
    assert ("the model expects heights in metres" in message) == told, message


@pytest.mark.parametrize("failed", ["", "rate limited"])
def test_the_current_check_is_named_from_pytests_variable(failed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if failed:  # a parameter with a space in it, inside a class
        node = f"exercises/test_exercises.py::TestPlots::test_ex3_plot[{failed}] (call)"
        monkeypatch.setenv("PYTEST_CURRENT_TEST", node)
        assert harness._current_test() == f"test_ex3_plot[{failed}]"
    else:
        monkeypatch.delenv("PYTEST_CURRENT_TEST")
        assert harness._current_test() == "an earlier check"


@pytest.mark.parametrize("warn_only", [True, False])
def test_deterministic_algorithms_turned_off_are_put_back_with_their_warn_only(warn_only: bool) -> None:
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    try:
        expect_failure(
            answer(1, ex1_solution).run,
            "turn_off()",
            lambda: torch.use_deterministic_algorithms(False),
            hint="left torch's deterministic algorithms at False",
        )
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled() == warn_only
    finally:
        torch.use_deterministic_algorithms(False)


def test_a_checks_failure_is_told_without_the_graders_traceback() -> None:
    with pytest.raises(Failed) as caught:
        harness.fail("the heights should be float32")
    assert caught.value.pytrace is False and str(caught.value) == "the heights should be float32"


def test_a_module_that_cannot_be_found_fails_with_its_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Answer, "broken", {})
    message = load_failure("no_such_exercise_module")
    assert message.startswith("importing no_such_exercise_module.py raised ModuleNotFoundError"), message


def test_sys_exit_without_a_code_is_shown_as_it_was_written() -> None:
    expect_failure(answer(1, ex1_solution).run, "quit()", sys.exit, hint="quit() ended the program with sys.exit();")


def raises_with_trailing_whitespace() -> None:
    raise ValueError("bad value.\n")


def test_an_error_message_is_trimmed_at_its_end_and_no_advice_leaves_no_space() -> None:
    message = expect_failure(
        answer(1, ex1_solution).run, "f()", raises_with_trailing_whitespace, hint="raised ValueError: bad value at "
    )
    first = message.splitlines()[0]
    assert first == first.rstrip() and first.endswith("Fix it there and run the check again."), first


def test_a_call_with_arguments_a_function_does_not_take_is_told_even_without_a_file() -> None:
    module = types.ModuleType("made_in_memory")  # no __file__: a notebook's, say
    message = expect_failure(Answer(1, module, yours=True).run, "f()", lambda: None, 1, hint="f() raised TypeError: ")
    assert "takes 0 positional arguments but 1 was given. Keep the names and arguments" in message, message
