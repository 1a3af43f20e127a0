"""The lesson's math against independent references: nn.MSELoss, lstsq, loops, autograd."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
import torch
from torch import nn

import lesson
from lesson_support.closed_form import round_down

FLOAT32_RTOL = 1e-5  # float32 sums in a different order agree to about this
FLOAT64_ATOL = 1e-8  # closed forms computed in float64


def _random_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    x = 5 * torch.rand(25, 1, generator=generator) + 1
    return x, 0.7 * x - 2 + torch.randn(25, 1, generator=generator)


DATASETS = {
    "distance_time": lesson.load_distance_time,
    "slope_only_lab": lambda: lesson.make_line_data(-3.0, 0.0),
    "slope_and_bias_lab": lambda: lesson.make_line_data(1.0, -1.0, seed=1),
    "random": _random_data,
}


@pytest.fixture(params=list(DATASETS))
def data(request: pytest.FixtureRequest) -> tuple[torch.Tensor, torch.Tensor]:
    return DATASETS[request.param]()


def test_mse_matches_nn_mseloss(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    predictions = 0.5 * x + 0.25
    expected = nn.MSELoss()(predictions, y).item()
    assert lesson.mse(predictions, y).item() == pytest.approx(expected, rel=FLOAT32_RTOL)


def test_mse_refuses_shapes_that_broadcast() -> None:
    x, y = lesson.make_line_data(1.0, 0.0)
    with pytest.raises(ValueError, match=r"\(60,\) but the targets are \(60, 1\)"):
        lesson.mse(x.reshape(-1), y)


def test_least_squares_matches_lstsq(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    design = torch.cat([x, torch.ones_like(x)], dim=1).double()
    expected = torch.linalg.lstsq(design, y.double()).solution.reshape(-1).tolist()
    assert lesson.least_squares(x, y) == pytest.approx(expected, abs=FLOAT64_ATOL)


def test_least_squares_needs_two_different_x() -> None:
    with pytest.raises(ValueError, match="at least two different x"):
        lesson.least_squares(torch.ones(3, 1), torch.tensor([[1.0], [2.0], [3.0]]))


def test_cost_surface_matches_a_loop(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    slopes = torch.tensor([-2.0, 0.0, 1.5, 4.0, 5.0])  # five slopes and three biases: a transposed grid fails
    biases = torch.tensor([-1.0, 0.5, 2.0])
    surface = lesson.cost_surface(x, y, slopes, biases)
    assert surface.shape == (3, 5), f"expected (len(biases), len(slopes)) = (3, 5), got {tuple(surface.shape)}"
    for (i, bias), (j, slope) in itertools.product(enumerate(biases), enumerate(slopes)):
        expected = nn.MSELoss()(slope * x + bias, y).item()
        assert surface[i, j].item() == pytest.approx(expected, rel=FLOAT32_RTOL), f"entry [{i}, {j}]"


def test_cost_surface_minimum_is_the_least_squares_line(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    slope, bias = lesson.least_squares(x, y)
    spacing = 0.01
    slopes = slope + spacing * torch.arange(-20, 21, dtype=torch.float64)
    biases = bias + spacing * torch.arange(-30, 31, dtype=torch.float64)
    surface = lesson.cost_surface(x.double(), y.double(), slopes, biases)
    i, j = divmod(int(surface.argmin()), len(slopes))
    assert (slopes[j].item(), biases[i].item()) == pytest.approx((slope, bias), abs=spacing / 2)


@pytest.mark.parametrize(("slope", "bias"), [(-15.0, -10.0), (0.0, 0.0), (2.5, -1.0)])
def test_gradient_formula_matches_autograd(data: tuple[torch.Tensor, torch.Tensor], slope: float, bias: float) -> None:
    x, y = data
    w = torch.tensor(slope, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    lesson.mse(w * x + b, y).backward()
    formula = lesson.gradient_formula(x, y, slope, bias)
    assert formula == pytest.approx((w.grad.item(), b.grad.item()), rel=1e-4, abs=1e-4)


def test_hessian_matches_autograd(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = data
    x64, y64 = x.double(), y.double()

    def cost(theta: torch.Tensor) -> torch.Tensor:
        return ((theta[0] * x64 + theta[1] - y64) ** 2).mean()

    expected = torch.autograd.functional.hessian(cost, torch.tensor([0.3, -0.2], dtype=torch.float64))
    torch.testing.assert_close(lesson.hessian(x), expected)


@pytest.mark.parametrize(("factor", "converges"), [(0.97, True), (1.03, False)])
def test_max_stable_lr_is_the_edge_of_divergence(factor: float, converges: bool) -> None:
    x, y = lesson.load_distance_time()
    lr = factor * lesson.max_stable_lr(x)
    run = lesson.train_slope_and_bias(x, y, 0.0, 0.0, lr, 100)
    first, last = run.losses[0], run.losses[-1]
    if converges:
        assert last < first / 100, f"lr {lr:.4f} just below the limit should converge; the loss went {first} -> {last}"
    else:
        assert last > first * 100, f"lr {lr:.4f} just above the limit should diverge; the loss went {first} -> {last}"


@pytest.mark.parametrize("value", [0.119756, 0.33301, 3.4606e-05, 1.0, 0.5, 16.70047, 2 / 3, 123456.7])
def test_round_down_never_rounds_up(value: float) -> None:
    printed = f"{round_down(value):g}"
    assert float(printed) < value, f"{value} printed as {printed}, not below it: typed back, it would not converge"
    assert value - float(printed) < 10 ** (math.floor(math.log10(value)) - 3), f"{value} printed as {printed}"
    assert len(printed.replace("-", "").replace(".", "").split("e")[0].strip("0")) <= 4, printed


def test_the_mse_warning_is_printed_beside_the_refusal(lesson_output: str) -> None:
    x, y = lesson.make_line_data(1.0, -1.0, seed=lesson.SEED)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrong = nn.MSELoss()((x - 1).reshape(-1), y)
    printed = f"nn.MSELoss() returns {wrong.item():.4f} too, and warns:\n    UserWarning: {caught[0].message}\n"
    assert printed in lesson_output, lesson_output
    assert "this lesson's mse() refuses: ValueError: the predictions have shape (60,)" in lesson_output


def test_least_squares_costs_less_than_the_true_line_by_about_the_expected_amount() -> None:
    # On its own n points least squares beats the true line, and E[its cost] = σ²(n - 2)/n: 400 samples agree.
    x = lesson.make_line_data(1.0, -1.0)[0]
    noise = torch.randn(len(x), 400, generator=torch.Generator().manual_seed(0))  # 400 samples, one per column
    samples = x - 1 + lesson.NOISE_STD * noise  # (60, 400)
    design = torch.cat([x, torch.ones_like(x)], dim=1).double()
    fitted = design @ torch.linalg.lstsq(design, samples.double()).solution
    fitted_costs = ((fitted - samples.double()) ** 2).mean(dim=0)
    true_costs = ((x.double() - 1 - samples.double()) ** 2).mean(dim=0)
    assert bool((fitted_costs <= true_costs).all()), "least squares should never cost more than the true line"
    n, sigma = len(x), lesson.NOISE_STD
    # 400 samples put the mean within 1.5% of σ²(n - 2)/n; σ² itself is 3.3% away.
    assert fitted_costs.mean().item() == pytest.approx(sigma**2 * (n - 2) / n, rel=0.015)


def test_gd_prediction_matches_gradient_descent() -> None:
    x, y = lesson.load_distance_time()
    run = lesson.train_slope_and_bias(x, y, 0.7645, 0.8300, 0.01, 50)
    predicted = lesson.gd_prediction(x, y, (0.7645, 0.8300), 0.01, 50)
    assert predicted == pytest.approx(run.params[-1], abs=1e-4)
