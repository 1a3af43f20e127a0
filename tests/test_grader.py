"""The grader itself: wrong answers must fail with the right hint, stubs must skip, other right answers pass.

Every answer here is constructed from the reference solutions; no test reads the learner's files,
so a learner's own work can never turn these red.
"""

from __future__ import annotations

import copy
import signal
import time
import types
from pathlib import Path

import grading
import pytest
import time_limit
import torch
from grading import Answer
from torch import nn, optim

import lesson
from exercises.solutions import ex1_height_weight as ex1_solution
from exercises.solutions import ex2_optimizer_comparison as ex2_solution
from exercises.solutions import ex3_loss_curve as ex3_solution

Failed = pytest.fail.Exception
Skipped = pytest.skip.Exception
pytestmark = pytest.mark.usefixtures("in_a_scratch_folder")  # no test here writes into the repository


def answer(number: int, solution: types.ModuleType, **replaced: object) -> Answer:
    """The reference solution with some functions replaced, as a learner's file."""
    module = types.ModuleType(f"variant_of_{solution.__name__}")
    module.__dict__.update({name: getattr(solution, name) for name in dir(solution) if not name.startswith("__")})
    module.__dict__.update(replaced)
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
    with pytest.raises(Skipped, match=r"exercise 1 not attempted yet: open exercises/ex1_height_weight\.py"):
        grading.check_data_contract(stub)


def test_a_stub_in_the_reference_is_an_error() -> None:
    def stub(*args: object, **kwargs: object) -> None:
        raise NotImplementedError

    reference = Answer(1, types.SimpleNamespace(make_height_weight_data=stub), yours=False)
    with pytest.raises(NotImplementedError):
        grading.check_data_contract(reference)


def test_a_renamed_function_fails() -> None:
    expect_failure(grading.check_data_contract, Answer(1, types.ModuleType("empty"), True), hint="has no function")


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
        (grading.check_data_contract, float64_data, "but they are torch.float64; make them with torch's default"),
        (grading.check_data_contract, flat_data, "shape (50, 1), but it has shape (50,). Use .view(-1, 1)"),
        (grading.check_data_seed, unseeded_data, "torch.Generator().manual_seed(seed)"),
        (grading.check_data_realistic, metre_data, "That looks like metres"),
        (grading.check_data_realistic, inch_data, "That looks like inches"),
        (grading.check_data_realistic, standard_normal_data, "That looks like standard-normal draws"),
        (grading.check_data_realistic, pound_data, "That looks like pounds"),
        (grading.check_data_realistic, noiseless_data, "add Gaussian noise"),
        (grading.check_data_contract, numpy_data, "it is a ndarray. Make tensors with torch"),
        (grading.check_data_seed, numpy_data, "it is a ndarray"),
        (grading.check_data_realistic, numpy_data, "it is a ndarray"),
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


@pytest.mark.parametrize("check", [grading.check_data_contract, grading.check_data_seed, grading.check_data_realistic])
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
        (raw_diverging_fit, "a step size too large for raw centimetres"),
        (in_place_fit, "instead of subtracting in place"),
        (flat_output_fit, "should have shape (9, 1), but it has shape (9,)"),
        (lambda heights, weights: (0.9, -83.0), "should return the trained nn.Module, but it returned a tuple"),
        (lambda heights, weights: None, "it returned None: does the function end with a return statement?"),
        (misspelled_fit, "fit_height_weight() raised NameError: name 'wieghts' is not defined"),
        (raw_train_fit, "or scale the inputs at tests/test_grader.py, line"),
        (lambda heights, weights: BrokenForward(), "the returned model raised AttributeError"),
    ],
)
def test_ex1_wrong_fit_fails(variant: object, hint: str) -> None:
    heights, weights = grading.adults(170.0, 8.0, 0.9, 200, seed=3)
    message = expect_failure(
        grading.check_fit, answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data", hint=hint
    )
    others = [h for v, h in WRONG_FIT_HINTS if v is not variant and h in message]
    assert not others, f"the message also names another mistake, {others}: {message}"
    if "hint 1.2" in hint or "raised" in hint:
        assert "grading.py" not in message and "test_exercises.py" not in message, message
    if variant is raw_train_fit:  # the exception, where it came from, and what to do, in the first line
        first = message.splitlines()[0]
        assert first.startswith("fit_height_weight() raised DivergenceError: training diverged at epoch"), first
        assert first.endswith("standardise the heights first (hint 1.2)."), first


WRONG_FIT_HINTS = test_ex1_wrong_fit_fails.pytestmark[0].args[1]


def test_an_exception_names_the_learners_own_line() -> None:
    heights, weights = grading.adults(170.0, 8.0, 0.9, 50, seed=1)
    message = expect_failure(
        grading.check_fit,
        answer(1, ex1_solution, fit_height_weight=misspelled_fit),
        heights,
        weights,
        "data",
        hint="at tests/test_grader.py, line",
    )
    assert "return ex1_solution.fit_height_weight(heights - mean, wieghts)" in message, message
    assert "grading.py" not in message and "pluggy" not in message, f"the grader's frames must not show: {message}"


def test_a_syntax_error_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_ex1.py").write_text("import torch\n\ndef fit_height_weight(heights, weights)\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(Answer, "broken", {})
    with pytest.raises(Failed) as caught:
        Answer.load(1, yours=True, name="broken_ex1")
    message = str(caught.value)
    assert message.count("SyntaxError") == 1 and "broken_ex1.py, line 3" in message, message
    assert "def fit_height_weight(heights, weights)" in message and "During handling" not in message, message
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
    heights, weights = grading.adults(165.0, 7.0, 0.8, 300, seed=4)
    grading.check_fit(answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data")


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
            losses.append({"item": loss.item(), "detached": loss.detach(), "tensor": loss}[keep])
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
):
    def compare_optimizers(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):
        rates = {"lr_sgd": lr_sgd, "lr_adam": lr_adam}
        torch.manual_seed(seed)
        sgd_model = lesson.LinearRegression()
        if reseed:
            torch.manual_seed(seed)
        adam_model = lesson.LinearRegression()
        options = {"zero": zero, "zero_before_step": zero_before_step, "after_step": after_step, "summed": summed}
        result = {
            "sgd": history(sgd_model, x, y, sgd_class(sgd_model.parameters(), lr=rates[sgd_lr]), epochs, **options),
            "adam": history(adam_model, x, y, optim.Adam(adam_model.parameters(), lr=lr_adam), epochs, **options),
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
        (lambda x, y, **settings: {"SGD": [], "Adam": []}, "with the keys 'sgd' and 'adam'"),
        (comparison(sgd_class=optim.Adam), "It matches Adam at lr 0.01, not SGD: build optim.SGD"),
        (comparison(sgd_lr="lr_adam"), "It matches SGD at lr 0.1, the step size meant for Adam"),
        (comparison(swapped=True), "the two runs look swapped"),
        (comparison(summed=True), "It matches SGD on a summed loss instead of the mean"),
        (comparison(zero_before_step=True), "zero_grad() between loss.backward() and optimizer.step() wipes"),
    ],
)
def test_ex2_wrong_histories_fail(variant: object, hint: str) -> None:
    expect_failure(
        grading.check_compare,
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
        model = grading.seeded_model(seed)
        histories["sgd"] = history(model, x, y, optim.SGD(model.parameters(), **options), epochs)
        return histories

    expect_failure(
        grading.check_compare,
        answer(2, ex2_solution, compare_optimizers=compare_optimizers),
        *lesson.load_distance_time(),
        epochs=12,
        hint=hint,
    )


def test_ex2_another_right_comparison_passes() -> None:
    x, y = grading.line_data(30, slope=-1.5, intercept=2.0, noise=0.2, seed=4)
    grading.check_compare(answer(2, ex2_solution, compare_optimizers=comparison()), x, y, epochs=40, seed=7)


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (lambda histories: ex2_solution.plot_optimizer_comparison({"sgd": histories["sgd"]}), "holds both loss curves"),
        (lambda histories: _without(ex2_solution.plot_optimizer_comparison(histories), "legend"), "legend should name"),
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
        grading.check_plot_comparison, answer(2, ex2_solution, plot_optimizer_comparison=variant), histories, hint=hint
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
    grading.check_plot_comparison(
        answer(2, ex2_solution, plot_optimizer_comparison=plot_optimizer_comparison), histories
    )


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
        (lambda model, x, y, epochs=500, lr=0.01: None, "but it is None: does the function end with a return"),
        (training(keep="detached"), "is a tensor, not a float; append loss.item()"),
        (training(keep="tensor"), "keep every epoch's autograd graph alive"),
        (training(optimizer_class=optim.Adam), "It matches Adam at lr 0.01, not SGD"),
        (training(zero_before_step=True), "the model passed in is unchanged. Every loss is the same"),
    ],
)
def test_ex3_wrong_training_fails(variant: object, hint: str) -> None:
    message = expect_failure(
        grading.check_train_with_history,
        answer(3, ex3_solution, train_with_history=variant),
        *lesson.load_distance_time(),
        seed=0,
        epochs=12,
        hint=hint,
    )
    if "not a float" in hint:
        assert "autograd graph" not in message, f"a detached tensor holds no graph: {message}"


def test_ex3_manual_right_training_passes() -> None:
    grading.check_train_with_history(
        answer(3, ex3_solution, train_with_history=training()), *lesson.load_distance_time(), seed=0, epochs=50
    )


def unsaved_plot(losses, path=None):
    return ex3_solution.plot_loss_curve(losses)


def shifted_plot(losses, path=None):
    fig = ex3_solution.plot_loss_curve(losses, path)
    line = fig.axes[0].get_lines()[0]
    line.set_xdata([k + 5 for k in range(len(losses))])
    return fig


@pytest.mark.parametrize(
    ("variant", "hint", "save"),
    [
        (unsaved_plot, "no file is there: call fig.savefig(path)", True),
        (shifted_plot, "the x values should be the epochs", False),
        (
            lambda losses, path=None: ex3_solution.plot_loss_curve([1.0, 2.0], path),
            "no line or scatter plot in the figure",
            False,
        ),
        (lambda losses, path=None: None, "but it returned None: does the function end with a return", False),
    ],
)
def test_ex3_wrong_plot_fails(variant: object, hint: str, save: bool, agg: None, tmp_path: Path) -> None:
    expect_failure(
        grading.check_plot_loss_curve,
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
    heights, weights = grading.adults(170.0, 8.0, 0.9, 50, seed=1)
    started = time.monotonic()
    with pytest.raises(time_limit.TimeLimitExceeded), time_limit.time_limit(0.02):
        grading.check_fit(answer(1, ex1_solution, fit_height_weight=endless_fit), heights, weights, "data")
    assert time.monotonic() - started < 5, "the loop should have been stopped after 0.02 s"


@pytest.mark.endless_loops
def test_a_timed_out_test_fails_once_with_a_message_and_the_run_goes_on(endless_loops) -> None:
    # tests/endless_loops.py, run by pytest in another process with only the time-limit plugin.
    run, out, err = endless_loops
    assert run.process.returncode == 1, out + err
    assert "2 failed, 1 passed" in out, out
    # However wide the terminal (the summary lines are cut to its width), each stopped test is
    # reported once in full under its own heading and listed once in the summary.
    failures = out.split(" FAILURES ")[1].split(" short test summary info ")[0]
    assert failures.count("stopped after 0.1 s: this test should take a second or two") == 2, out
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
        grading.check_plot_loss_curve,
        answer(3, ex3_solution, plot_loss_curve=path_ignoring_plot),
        [2.0, 1.0, 0.5],
        tmp_path / "curve.png",
        hint="no file is there: call fig.savefig(path)",
    )
    assert not (lesson.ROOT / "loss_curve.png").exists(), "the grader let a learner's file land in the repository"
