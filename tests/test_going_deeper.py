"""The optional parts of sections 1, 2, 4 and 5 (python lesson.py --deeper) against computations of their own."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lesson

NUMBER = r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
PRINTED_ATOL = 5e-5  # four printed decimals


def part(deeper_output: str, number: int) -> str:
    """One section's optional part, from its heading to the next section."""
    start = deeper_output.index(f"-- Going deeper (optional), section {number}:")
    return deeper_output[start : deeper_output.index("\n== ", start)]


def lab_points() -> tuple[np.ndarray, np.ndarray]:
    x, y = lesson.make_line_data(*lesson.SLOPE_BIAS_TRUE, lesson.NOISE_STD, seed=lesson.SEED)
    return x.double().numpy().reshape(-1), y.double().numpy().reshape(-1)


def test_section_1_the_worked_example_by_hand(deeper_output: str) -> None:
    text = part(deeper_output, 1)
    exact = [x * -0.4443 - 0.5045 for x in (2.0, 4.0)]
    unrounded = [x * -0.44426 - 0.50446 for x in (2.0, 4.0)]
    rounded = re.search(r"sets weight (-[\d.]+) and bias (-[\d.]+)", text)
    unrounded_weights = re.search(r"unrounded weights: (-[\d.]+) and (-[\d.]+) round to the ones above", text)
    assert rounded and unrounded_weights, text
    for short, long in zip(rounded.groups(), unrounded_weights.groups(), strict=True):  # the claim, held to its numbers
        assert round(float(long), 4) == float(short) and len(long) > len(short), (short, long)
    assert f"model(x) = [[{exact[0]:.4f}], [{exact[1]:.4f}]]" in text
    assert f"give [[{unrounded[0]:.4f}], [{unrounded[1]:.4f}]]." in text
    assert f"{unrounded[0]:.4f}, {unrounded[1]:.4f}" == "-1.3930, -2.2815", "the source's comment, reproduced"


def test_section_2_the_expected_cost_of_least_squares(deeper_output: str) -> None:
    n, variance = len(lab_points()[0]), lesson.NOISE_STD**2
    assert f"= {variance:g}·{n - 2}/{n} = {variance * (n - 2) / n:.6f}" in part(deeper_output, 2)


def test_section_4_the_hessian_and_what_15_steps_leave(deeper_output: str) -> None:
    text = part(deeper_output, 4)
    x, y = lab_points()
    hessian = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])  # of mean((w·x + b - y)²)
    printed = [float(v) for v in re.search(rf"= \[\[{NUMBER}, {NUMBER}\], \[{NUMBER}, {NUMBER}\]\]:", text).groups()]
    assert printed == pytest.approx(hessian.reshape(-1).tolist(), abs=PRINTED_ATOL)
    flat, steep = np.linalg.eigvalsh(hessian)
    assert f"λmax = {steep:.4f}" in text and f"λmin = {flat:.4f}" in text
    (w0, b0), optimum = lesson.SLOPE_BIAS_START, np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)[0]
    for lr in (lesson.LAB_LR, lesson.PRACTICE_LR):
        w, b = w0, b0
        for _ in range(15):  # plain gradient descent in float64
            r = w * x + b - y
            w, b = w - lr * 2 * np.mean(r * x), b - lr * 2 * np.mean(r)
        kept = abs((b - optimum[1]) / (b0 - optimum[1]))
        assert f"lr {lr:g}: one step multiplies the error along the two directions by {1 - lr * steep:.4f}" in text
        assert re.search(rf"lr {lr:g}: .*\n.*leaves b {kept:.2%} of its first error", text), (lr, kept)
    assert f"lr < 2/λmax = {2 / steep:.4f}" in text


def test_section_4_the_grid_brackets_the_minimum(deeper_output: str) -> None:
    x, y = lab_points()
    grid = np.linspace(-lesson.SURFACE_RANGE, lesson.SURFACE_RANGE, lesson.SURFACE_POINTS)
    costs = ((grid[None, :, None] * x + grid[:, None, None] - y) ** 2).mean(axis=-1)  # [bias, slope]
    i, j = np.unravel_index(costs.argmin(), costs.shape)
    assert f"lowest at (w, b) = ({grid[j]:.2f}, {grid[i]:.2f}), J = {costs.min():.4g}:" in part(deeper_output, 4)


def test_section_5_the_share_the_flat_direction_keeps(deeper_output: str) -> None:
    distances, _ = lesson.load_distance_time()
    d = distances.double().numpy().reshape(-1)
    flat = np.linalg.eigvalsh(2 * np.array([[np.mean(d * d), np.mean(d)], [np.mean(d), 1.0]]))[0]
    per_step = 1 - lesson.TRAIN_LR * flat
    text = part(deeper_output, 5)
    assert f"each step keeps {per_step:.4f} of the error: 500 steps keep {100 * per_step**500:.3g}% of it." in text
    needed = int(np.ceil(np.log(1e-3) / np.log(per_step)))
    assert f"0.1% of the error is left after {needed} epochs" in text


def test_section_8_stacked_layers_are_one_line_until_a_relu(deeper_output: str) -> None:
    import torch

    text = part_to_end(deeper_output, 8)
    torch.manual_seed(lesson.SEED)
    inner, outer = torch.nn.Linear(1, lesson.HIDDEN), torch.nn.Linear(lesson.HIDDEN, 1)  # as nn.Sequential makes them
    w1, b1 = inner.weight.detach().double().numpy(), inner.bias.detach().double().numpy()
    w2, b2 = outer.weight.detach().double().numpy(), outer.bias.detach().double().numpy()
    slope, bias = (w2 @ w1).item(), (w2 @ b1 + b2).item()
    assert f"w = W2·W1 = {slope:.4f}," in text and f"b = W2·b1 + b2 = {bias:.4f};" in text, text
    assert "at all 60 points of section 4: True." in text, text
    x, _ = lab_points()
    design = np.stack([x, np.ones_like(x)], axis=1)
    line = np.linalg.lstsq(design, x**2, rcond=None)[0]
    best_line = np.mean((design @ line - x**2) ** 2)
    found = re.search(rf"the best line costs {NUMBER}; the\n.*Adam at lr \S+, {NUMBER}\.", text)
    assert found and float(found.group(1)) == pytest.approx(best_line, rel=0.01), text
    assert float(found.group(2)) < best_line / 100, "the network with a ReLU should follow the bend"


def part_to_end(deeper_output: str, number: int) -> str:
    """The last section's optional part: from its heading to the end of the output."""
    return deeper_output[deeper_output.index(f"-- Going deeper (optional), section {number}:") :]
