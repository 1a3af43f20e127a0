"""The training loops against independent computations of the same updates."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn, optim

import lesson
import lesson_support.checks

PATH_RTOL = 1e-4  # float32 training against a float64 reference over a few dozen steps
LAB_ATOL = 0.006  # the labs print two decimals


def reference_descent(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, ...], lr: float, epochs: int
) -> tuple[list[float], list[tuple[float, ...]]]:
    """Gradient descent in plain float64 Python, from the calculus, with no autograd."""
    xs, ys = x.reshape(-1).double().tolist(), y.reshape(-1).double().tolist()
    n = len(xs)
    params, losses = [tuple(start)], []
    for _ in range(epochs):
        slope, bias = params[-1][0], (params[-1][1] if len(start) == 2 else 0.0)
        residuals = [slope * a + bias - b for a, b in zip(xs, ys, strict=True)]
        losses.append(sum(r * r for r in residuals) / n)
        slope -= lr * 2 * sum(r * a for r, a in zip(residuals, xs, strict=True)) / n
        bias -= lr * 2 * sum(residuals) / n
        params.append((slope, bias) if len(start) == 2 else (slope,))
    return losses, params


def assert_history_follows(history: lesson.History, losses: list[float], params: list[tuple[float, ...]]) -> None:
    assert len(history.losses) == len(losses), f"{len(history.losses)} losses for {len(losses)} epochs"
    assert len(history.params) == len(params), f"{len(history.params)} params, expected epochs + 1 = {len(params)}"
    assert history.params[0] == pytest.approx(params[0]), "params[0] must be the start"
    for k, (got, expected) in enumerate(zip(history.params, params, strict=True)):
        assert got == pytest.approx(expected, rel=PATH_RTOL, abs=1e-5), f"params[{k}]"
    assert history.losses == pytest.approx(losses, rel=PATH_RTOL, abs=1e-6)


@pytest.mark.parametrize(("start", "lr", "epochs"), [(-10.0, 0.1, 4), (-15.0, 0.1, 4), (3.0, 0.05, 20)])
def test_train_slope_follows_the_update_rule(start: float, lr: float, epochs: int) -> None:
    x, y = lesson.make_line_data(-3.0, 0.0)
    history = lesson.train_slope(x, y, start, lr, epochs)
    assert_history_follows(history, *reference_descent(x, y, (start,), lr, epochs))


@pytest.mark.parametrize("lr", [0.1, 0.2])
def test_train_slope_and_bias_follows_the_update_rule(lr: float) -> None:
    x, y = lesson.make_line_data(1.0, -1.0)
    history = lesson.train_slope_and_bias(x, y, -15.0, -10.0, lr, 15)
    assert_history_follows(history, *reference_descent(x, y, (-15.0, -10.0), lr, 15))


def test_slope_only_lab_without_noise() -> None:
    # The lab's published path for f = -3x without noise.
    x, y = lesson.make_line_data(-3.0, 0.0, noise_std=0.0)
    history = lesson.train_slope(x, y, -10.0, 0.1, 4)
    assert [w for (w,) in history.params] == pytest.approx([-10, -5.80, -4.12, -3.45, -3.18], abs=LAB_ATOL)
    assert history.losses == pytest.approx([147.1, 23.5, 3.75, 0.60], rel=0.01)


@pytest.mark.parametrize(("lr", "end"), [(0.1, (0.99, -1.33)), (0.2, (1.00, -1.00))])
def test_slope_and_bias_lab_without_noise(lr: float, end: tuple[float, float]) -> None:
    x, y = lesson.make_line_data(1.0, -1.0, noise_std=0.0)
    history = lesson.train_slope_and_bias(x, y, -15.0, -10.0, lr, 15)
    assert history.losses[0] == pytest.approx(835.0, abs=0.5)
    assert history.params[-1] == pytest.approx(end, abs=LAB_ATOL)


def test_zero_grad_sets_the_gradients_to_none(lesson_output: str) -> None:
    model = lesson.LinearRegression()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    nn.MSELoss()(model(torch.ones(2, 1)), torch.zeros(2, 1)).backward()
    optimizer.zero_grad()
    assert model.linear.weight.grad is None, "on this torch, zero_grad() sets .grad to None"
    assert "optimizer.zero_grad() sets it\n  to None," in lesson_output, lesson_output


def test_the_leaf_in_place_error_is_printed(lesson_output: str) -> None:
    w = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError) as caught:
        w -= 0.1
    assert f"Without torch.no_grad(), w -= lr * w.grad raises RuntimeError: {caught.value}\n" in lesson_output


def test_train_matches_a_plain_optimizer_loop() -> None:
    x, y = lesson.load_distance_time()
    torch.manual_seed(0)
    model = lesson.LinearRegression()
    twin = copy.deepcopy(model)
    losses = lesson.train(model, x, y, optim.SGD(model.parameters(), lr=0.02), 40, loss_fn=nn.MSELoss())

    optimizer = optim.SGD(twin.parameters(), lr=0.02)
    expected = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(twin(x), y)
        expected.append(loss.item())
        loss.backward()
        optimizer.step()
    assert losses == pytest.approx(expected, rel=1e-6)
    assert lesson.line_of(model) == pytest.approx(lesson.line_of(twin), rel=1e-6)


def test_train_defaults_to_the_hand_written_mse(monkeypatch: pytest.MonkeyPatch) -> None:
    # nn.MSELoss gives the same numbers, so only the calls tell the hand-written mse from it.
    x, y = lesson.load_distance_time()
    model = lesson.LinearRegression()
    with torch.no_grad():
        first = lesson.mse(model(x), y).item()
    called = []
    hand_written = lesson.mse
    monkeypatch.setattr(
        lesson, "mse", lambda predictions, targets: called.append(1) or hand_written(predictions, targets)
    )
    losses = lesson.train(model, x, y, optim.SGD(model.parameters(), lr=0.01), 3)
    assert len(called) == 3, "train() without loss_fn should compute each epoch's loss with lesson.mse"
    assert losses[0] == pytest.approx(first), "losses[0] is the loss before any step"


def test_stop_if_growing_stops_a_loss_above_its_first_and_nothing_else() -> None:
    x = torch.tensor([[1.0], [2.0]])
    lesson_support.checks.stop_if_growing(torch.tensor(1.0), 2, 0.1, x, [1.0, 0.5])  # back to the start: not above it
    lesson_support.checks.stop_if_growing(torch.tensor(0.9), 2, 0.1, x, [1.0, 0.5])  # rose, but below the start
    with pytest.raises(lesson.DivergenceError, match=r"the loss grew from 1 to 1\.001"):
        lesson_support.checks.stop_if_growing(torch.tensor(1.001), 2, 0.1, x, [1.0, 0.5])


def test_train_reaches_the_least_squares_line() -> None:
    x, y = lesson.load_distance_time()
    model = lesson.LinearRegression()
    lr = 0.8 * lesson.max_stable_lr(x)
    lesson.train(model, x, y, optim.SGD(model.parameters(), lr=lr), 300)
    assert lesson.line_of(model) == pytest.approx(lesson.least_squares(x, y), abs=1e-3)


def test_train_logs_every_nth_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = lesson.load_distance_time()
    model = lesson.LinearRegression()
    lesson.train(model, x, y, optim.SGD(model.parameters(), lr=0.01), 5, log_every=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["0", "2", "4"], lines


def test_divergence_is_caught_with_a_helpful_error() -> None:
    x, y = lesson.load_distance_time()
    model = lesson.LinearRegression()
    with pytest.raises(lesson.DivergenceError) as caught:
        lesson.train(model, x, y, optim.SGD(model.parameters(), lr=1.0), 500)
    error = caught.value
    assert isinstance(error, RuntimeError)
    message = str(error)
    assert f"epoch {error.epoch}" in message and "lr=1" in message, message
    limit = lesson.max_stable_lr(x)
    below = re.search(r"steps below (\d+\.\d+) are stable", message)
    assert below, f"the message should name the stable step sizes: {message}"
    assert 0.999 * limit < float(below.group(1)) < limit, f"{below.group(1)} should be {limit} rounded down"
    assert error.losses and all(torch.isfinite(torch.tensor(error.losses))), "losses kept must all be finite"


def test_manual_divergence_is_caught() -> None:
    x, y = lesson.load_distance_time()
    with pytest.raises(lesson.DivergenceError, match="smaller step size"):
        lesson.train_slope_and_bias(x, y, 0.0, 0.0, 1.0, 500)


def test_train_refuses_an_optimizer_of_another_model() -> None:
    x, y = lesson.load_distance_time()
    model, other = lesson.LinearRegression(), lesson.LinearRegression()
    with pytest.raises(ValueError, match=r"model\.parameters"):
        lesson.train(model, x, y, optim.SGD(other.parameters(), lr=0.01), 5)


def test_train_refuses_targets_that_broadcast() -> None:
    x, y = lesson.load_distance_time()
    model = lesson.LinearRegression()
    with pytest.raises(ValueError, match=r"\(4, 1\) but the targets are \(4,\)"):
        lesson.train(model, x, y.reshape(-1), optim.SGD(model.parameters(), lr=0.01), 5, loss_fn=nn.MSELoss())


def test_linear_regression_wraps_nn_linear() -> None:
    torch.manual_seed(1)
    model = lesson.LinearRegression()
    torch.manual_seed(1)
    layer = nn.Linear(1, 1)  # the lab's seeded layer
    assert isinstance(model.linear, nn.Linear) and model.linear.in_features == model.linear.out_features == 1
    assert lesson.line_of(model) == (layer.weight.item(), layer.bias.item())
    x = torch.tensor([[1.0], [-2.5]])
    assert torch.equal(model(x), layer(x))
    assert model(x)[0].item() == pytest.approx(layer.weight.item() + layer.bias.item())


def reference_adam(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, steps: int
) -> tuple[float, float]:
    """Adam from its paper in float64 Python: w's first move, and the cost after `steps` steps."""
    xs, ys = x.reshape(-1).double().tolist(), y.reshape(-1).double().tolist()
    beta1, beta2, eps = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults
    params, m, v, first = list(start), [0.0, 0.0], [0.0, 0.0], None
    for t in range(1, steps + 1):
        residuals = [params[0] * a + params[1] - b for a, b in zip(xs, ys, strict=True)]
        gradient = [2 * sum(r * a for r, a in zip(residuals, xs, strict=True)) / len(xs), 2 * sum(residuals) / len(xs)]
        for i in range(2):
            m[i] = beta1 * m[i] + (1 - beta1) * gradient[i]  # the running average of the gradient
            v[i] = beta2 * v[i] + (1 - beta2) * gradient[i] ** 2  # and of its square
            move = -lr * (m[i] / (1 - beta1**t)) / ((v[i] / (1 - beta2**t)) ** 0.5 + eps)
            params[i] += move
            first = move if first is None else first
    cost = sum((params[0] * a + params[1] - b) ** 2 for a, b in zip(xs, ys, strict=True)) / len(xs)
    return first, cost


def test_adam_is_taught_on_section_4s_points(lesson_output: str) -> None:
    x, y = lesson.make_line_data(*lesson.SLOPE_BIAS_TRUE, lesson.NOISE_STD, seed=lesson.SEED)
    line = re.search(
        r"Section 4's run at lr (\S+): w's first step is (\S+) with SGD, (\S+) with Adam; 15 steps end at "
        r"J = (\S+) and (\S+)\.",
        lesson_output,
    )
    assert line, lesson_output
    lr, sgd_move, adam_move, sgd_cost, adam_cost = (float(value) for value in line.groups())
    losses, params = reference_descent(x, y, lesson.SLOPE_BIAS_START, lr, 16)  # losses[15]: after 15 steps
    assert sgd_move == pytest.approx(params[1][0] - params[0][0], abs=5e-4)
    assert sgd_cost == pytest.approx(losses[15], rel=1e-3)
    assert f"lr {lr:g}: w = " in lesson_output and f"J = {sgd_cost:.4g}" in lesson_output, "section 4's own run"
    first, cost = reference_adam(x, y, lesson.SLOPE_BIAS_START, lr, 15)
    assert adam_move == pytest.approx(first, abs=5e-5) and abs(adam_move) == pytest.approx(lr, abs=5e-5)
    assert adam_cost == pytest.approx(cost, rel=1e-3)


def test_the_adam_line_leaves_exercise_2_to_the_learner(lesson_output: str) -> None:
    # Exercise 2 asks which optimizer reaches a loss of 1 first on the four deliveries: no number of theirs is printed.
    from exercises.solutions.ex2_optimizer_comparison import compare_optimizers, epochs_to_reach

    distances, times = lesson.load_distance_time()
    histories = compare_optimizers(distances, times)
    adam = lesson_output[lesson_output.index("optim.Adam steps") :].split("\n", 2)[:2]
    numbers = set(re.findall(r"\d+(?:\.\d+)?", " ".join(adam)))
    for losses in histories.values():
        assert str(epochs_to_reach(losses, 1.0)) not in numbers - {"15"}, adam
        assert f"{losses[-1]:.4g}" not in numbers, adam
