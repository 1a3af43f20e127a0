"""The grader itself: wrong answers must fail with the right hint, stubs must skip, other right answers pass."""

from __future__ import annotations

import copy
import types
from pathlib import Path

import grading
import pytest
import torch
from grading import Answer
from torch import nn, optim

import lesson
from exercises.solutions import ex1_height_weight as ex1_solution
from exercises.solutions import ex2_optimizer_comparison as ex2_solution
from exercises.solutions import ex3_loss_curve as ex3_solution

Failed = pytest.fail.Exception


def answer(number: int, solution: types.ModuleType, **replaced: object) -> Answer:
    """The reference solution with some functions replaced, as a learner's file."""
    module = types.ModuleType(f"variant_of_{solution.__name__}")
    module.__dict__.update({name: getattr(solution, name) for name in dir(solution) if not name.startswith("__")})
    module.__dict__.update(replaced)
    return Answer(number, module, yours=True)


def expect_failure(check: object, *args: object, hint: str, **kwargs: object) -> None:
    with pytest.raises(Failed) as caught:
        check(*args, **kwargs)
    assert hint in str(caught.value), f"the message should contain {hint!r}; it was: {caught.value}"


# --- stubs skip, and a function that is missing fails ----------------------------------------


def test_a_stub_is_not_attempted() -> None:
    stub = Answer.load(1, yours=True)
    with pytest.raises(
        pytest.skip.Exception, match=r"exercise 1 not attempted yet: open exercises/ex1_height_weight\.py"
    ):
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


@pytest.mark.parametrize(
    ("check", "variant", "hint"),
    [
        (grading.check_data_contract, flat_data, "shape (50, 1), but it has shape (50,). Use .view(-1, 1)"),
        (grading.check_data_seed, unseeded_data, "torch.Generator().manual_seed(seed)"),
        (grading.check_data_realistic, metre_data, "adults average 160 to 180 cm"),
        (grading.check_data_realistic, noiseless_data, "add Gaussian noise"),
    ],
)
def test_ex1_wrong_data_fails(check: object, variant: object, hint: str) -> None:
    expect_failure(check, answer(1, ex1_solution, make_height_weight_data=variant), hint=hint)


def raw_sgd_fit(heights: torch.Tensor, weights: torch.Tensor, epochs: int = 200, lr: float = 1e-5) -> nn.Module:
    """A small enough step for raw centimetres: stable, but nowhere near converged."""
    model = lesson.LinearRegression()
    lesson.train(model, heights, weights, optim.SGD(model.parameters(), lr=lr), epochs)
    return model


def standardised_input_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Trained on standardised heights, but returned as is: it expects scaled input."""
    model = lesson.LinearRegression()
    scaled = (heights - heights.mean()) / heights.std()
    lesson.train(model, scaled, weights, optim.SGD(model.parameters(), lr=0.1), 200)
    return model


def in_place_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    heights -= heights.mean()
    return ex1_solution.fit_height_weight(heights, weights)


def flat_output_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    model = ex1_solution.fit_height_weight(heights, weights)
    return nn.Sequential(model, nn.Flatten(0))


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (raw_sgd_fit, "Training has not converged"),
        (standardised_input_fit, "let the returned model take raw centimetres"),
        (in_place_fit, "instead of subtracting in place"),
        (flat_output_fit, "should have shape (9, 1), but it has shape (9,)"),
        (lambda heights, weights: (0.9, -83.0), "should return the trained nn.Module"),
    ],
)
def test_ex1_wrong_fit_fails(variant: object, hint: str) -> None:
    heights, weights = grading.adults(170.0, 8.0, 0.9, 200, seed=3)
    expect_failure(
        grading.check_fit, answer(1, ex1_solution, fit_height_weight=variant), heights, weights, "data", hint=hint
    )


def closed_form_fit(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
    """Another right answer: gradient descent on centred heights with Adam, folded into one layer."""
    centre = heights.mean()
    model = lesson.LinearRegression()
    lesson.train(model, heights - centre, weights, optim.Adam(model.parameters(), lr=1.0), 150)
    with torch.no_grad():
        model.linear.bias -= model.linear.weight.reshape(-1) * centre
    return model


def test_ex1_another_right_fit_passes() -> None:
    heights, weights = grading.adults(165.0, 7.0, 0.8, 300, seed=4)
    grading.check_fit(answer(1, ex1_solution, fit_height_weight=closed_form_fit), heights, weights, "data")


# --- exercise 2 -------------------------------------------------------------------------------


def history(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: optim.Optimizer,
    epochs: int,
    *,
    zero: bool = True,
    after_step: bool = False,
) -> list[float]:
    losses = []
    for _ in range(epochs):
        if zero:
            optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(nn.functional.mse_loss(model(x), y).item() if after_step else loss.item())
    return losses


def comparison(*, zero: bool = True, after_step: bool = False, reseed: bool = True, as_tensor: bool = False):
    def compare_optimizers(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):
        torch.manual_seed(seed)
        sgd_model = lesson.LinearRegression()
        if reseed:
            torch.manual_seed(seed)
        adam_model = lesson.LinearRegression()
        result = {
            "sgd": history(
                sgd_model, x, y, optim.SGD(sgd_model.parameters(), lr=lr_sgd), epochs, zero=zero, after_step=after_step
            ),
            "adam": history(
                adam_model,
                x,
                y,
                optim.Adam(adam_model.parameters(), lr=lr_adam),
                epochs,
                zero=zero,
                after_step=after_step,
            ),
        }
        return {name: torch.tensor(losses) for name, losses in result.items()} if as_tensor else result

    return compare_optimizers


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (comparison(zero=False), "optimizer.zero_grad() runs every epoch"),
        (comparison(after_step=True), "one epoch late"),
        (comparison(reseed=False), "did not start from torch.manual_seed(seed); LinearRegression()"),
        (comparison(as_tensor=True), "is a tensor; return a list of floats"),
        (lambda x, y, **settings: {"SGD": [], "Adam": []}, "with the keys 'sgd' and 'adam'"),
    ],
)
def test_ex2_wrong_histories_fail(variant: object, hint: str) -> None:
    expect_failure(
        grading.check_compare,
        answer(2, ex2_solution, compare_optimizers=variant),
        *lesson.load_distance_time(),
        epochs=30,
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


def training(*, zero: bool = True, after_step: bool = False, copy_model: bool = False, as_tensor: bool = False):
    def train_with_history(model, x, y, epochs=500, lr=0.01):
        if copy_model:
            model = copy.deepcopy(model)
        losses = history(model, x, y, optim.SGD(model.parameters(), lr=lr), epochs, zero=zero, after_step=after_step)
        return torch.tensor(losses) if as_tensor else losses

    return train_with_history


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (training(zero=False), "optimizer.zero_grad() runs every epoch"),
        (training(after_step=True), "one epoch late"),
        (training(copy_model=True), "train the model that was passed in, in place"),
        (training(as_tensor=True), "is a tensor"),
    ],
)
def test_ex3_wrong_training_fails(variant: object, hint: str) -> None:
    expect_failure(
        grading.check_train_with_history,
        answer(3, ex3_solution, train_with_history=variant),
        *lesson.load_distance_time(),
        seed=0,
        epochs=50,
        hint=hint,
    )


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
        (lambda losses, path=None: ex3_solution.plot_loss_curve([1.0, 2.0], path), "no line in the figure", False),
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


@pytest.mark.time_limit(0.1)
def test_an_endless_loop_is_stopped_with_a_message() -> None:
    def fit_height_weight(heights: torch.Tensor, weights: torch.Tensor) -> nn.Module:
        while True:  # a learner's loop whose condition never turns false
            pass

    heights, weights = grading.adults(170.0, 8.0, 0.9, 50, seed=1)
    with pytest.raises(Failed, match=r"stopped after 0\.1 s"):
        grading.check_fit(answer(1, ex1_solution, fit_height_weight=fit_height_weight), heights, weights, "data")
