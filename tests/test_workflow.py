"""Section 7, the real training run, against computations of its own: numpy's least squares, the split's rules."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SectionsAlone
from torch.utils.data import DataLoader, TensorDataset

import lesson
from lesson_support.figures import FigureOutput
from lesson_support.runtime import Run

FIT_ATOL = 0.02  # the printed least-squares numbers have three decimals
TRAINED_ATOL = 0.15  # mini-batch SGD at a constant step size hovers near least squares, in minutes per unit
COST_ATOL = 1e-4  # the printed costs have four decimals
MOMENT_SAMPLES = 200_000  # draws that check the input distribution's moments
MOMENT_ATOL = 0.05  # a few standard errors of those draws' means of miles² (spread about 7)


@functools.cache
def section_output(seed: int) -> str:
    """Section 7 and its going-deeper part, printed at this seed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run = Run(seed=seed, plots=False, deeper=True)
        lesson.deeper_workflow(run, lesson.section_workflow(run))
    return buffer.getvalue()


def printed_plane(output: str, name: str) -> tuple[float, float, float]:
    match = re.search(rf"^  {name} +w = \[(-?[\d.]+), (-?[\d.]+)\], b = (-?[\d.]+)$", output, re.MULTILINE)
    assert match, f"section 7 prints no plane for {name}"
    return tuple(float(number) for number in match.groups())  # type: ignore[return-value]


def printed_costs(output: str, name: str) -> tuple[float, float]:
    """The costs printed for one plane: on the training rows and the validation rows."""
    match = re.search(rf"^  {name} +training ([\d.]+) +validation ([\d.]+)$", output, re.MULTILINE)
    assert match, f"section 7 prints no costs for {name}"
    return float(match.group(1)), float(match.group(2))


def reference_split(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The lesson's data and split rule, then numpy in float64 for everything after."""
    inputs, minutes = (t.numpy().astype(np.float64) for t in lesson.make_deliveries(lesson.DELIVERIES, seed))
    order = torch.randperm(lesson.DELIVERIES, generator=torch.Generator().manual_seed(seed)).numpy()
    held = int(lesson.HELD_OUT_SHARE * lesson.DELIVERIES)
    parts = {"test": order[:held], "validation": order[held : 2 * held], "training": order[2 * held :]}
    return {name: (inputs[rows], minutes[rows]) for name, rows in parts.items()}


def reference_sgd(seed: int, lr: float, epochs: int = lesson.BATCH_EPOCHS) -> tuple[list[float], np.ndarray]:
    """Mini-batch SGD in float64 numpy on the scaled training rows: validation loss per epoch, final (w, b)."""
    parts = reference_split(seed)
    (x_train, y_train), (x_val, y_val) = parts["training"], parts["validation"]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0, ddof=1)
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    # The batch orders come from torch's DataLoader over the row numbers, seeded as the lesson seeds it.
    orders = DataLoader(
        TensorDataset(torch.arange(len(x_train))),
        batch_size=lesson.BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    torch.manual_seed(seed)
    start = lesson.LinearRegression(2, 1)
    theta = np.concatenate(
        [start.linear.weight.detach().double().numpy().reshape(-1), start.linear.bias.detach().double().numpy()]
    )
    design = np.hstack([x_train, np.ones((len(x_train), 1))])
    val_design = np.hstack([x_val, np.ones((len(x_val), 1))])
    losses = []
    for _ in range(epochs):
        for (rows,) in orders:
            batch, targets = design[rows.numpy()], y_train[rows.numpy()].reshape(-1)
            theta = theta - lr * 2 * batch.T @ (batch @ theta - targets) / len(rows)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows, as the lesson's does
            losses.append(float(np.mean((val_design @ theta - y_val.reshape(-1)) ** 2)))
    return losses, theta


def printed_validation(output: str) -> dict[float, str]:
    """The mean validation loss printed for each candidate step size, as printed: '3.71', 'about 15'."""
    return dict(
        (float(lr), loss) for lr, loss in re.findall(r"^  lr ([\d.]+) +validation loss ([^:]+):", output, re.MULTILINE)
    )


def test_the_data_is_the_stated_plane_plus_noise() -> None:
    inputs, minutes = lesson.make_deliveries(lesson.DELIVERIES, seed=3)
    again, _ = lesson.make_deliveries(lesson.DELIVERIES, seed=3)
    assert inputs.shape == (lesson.DELIVERIES, 2) and minutes.shape == (lesson.DELIVERIES, 1)
    assert torch.equal(inputs, again), "the same seed must give the same deliveries"
    noise = minutes.reshape(-1) - inputs @ torch.tensor(lesson.TRUE_WEIGHTS) - lesson.TRUE_BIAS
    assert noise.std().item() == pytest.approx(lesson.DELIVERY_NOISE, rel=0.1)
    assert float(inputs[:, 0].min()) >= 0.5 and float(inputs[:, 0].max()) <= 5.0, "miles"
    assert set(inputs[:, 1].tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}, "stops"


def test_the_input_moments_are_those_of_the_drawn_deliveries() -> None:
    inputs, _ = lesson.make_deliveries(MOMENT_SAMPLES, seed=5)
    rows = torch.cat([inputs.double(), torch.ones(len(inputs), 1, dtype=torch.float64)], dim=1)
    sampled = rows.T @ rows / len(rows)
    assert torch.allclose(lesson.delivery_moments(), sampled, atol=MOMENT_ATOL), (lesson.delivery_moments(), sampled)


@pytest.mark.parametrize("seed", [lesson.SEED, 6])
def test_the_validation_set_chooses_the_step_size_by_its_numbers(seed: int) -> None:
    output = section_output(seed)
    printed = printed_validation(output)
    assert list(printed) == list(lesson.CANDIDATE_LRS), output
    judged = lesson.JUDGED_EPOCHS  # each step size is judged on the mean of its last validation losses
    curves = {lr: reference_sgd(seed, lr)[0] for lr in lesson.CANDIDATE_LRS}
    reference = {lr: float(np.mean(curve[-judged:])) for lr, curve in curves.items()}
    for lr, loss in printed.items():  # compared at the digits printed, from float64
        assert loss == lesson.loss_text(reference[lr], lesson.course(curves[lr], judged)), f"lr {lr}"
    best = min(reference, key=reference.__getitem__)
    runner_up = sorted(reference.values())[1]
    margin = lesson.digits(runner_up - reference[best], 2)
    assert f"The validation set chooses lr {best:g}: the lowest mean, {margin} below" in output


def test_split_test_loss_and_baseline_against_numpy(lesson_output: str) -> None:
    parts = reference_split(lesson.SEED)
    assert [len(parts[name][0]) for name in ("training", "validation", "test")] == [240, 80, 80]
    assert "240 training, 80 validation and 80 test rows; 0 rows in two parts." in lesson_output
    chosen = float(re.search(r"chooses lr ([\d.]+):", lesson_output).group(1))
    _, theta = reference_sgd(lesson.SEED, chosen)
    (x_train, y_train), (x_test, y_test) = parts["training"], parts["test"]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0, ddof=1)
    test_loss = np.mean(
        (np.hstack([(x_test - mean) / std, np.ones((len(x_test), 1))]) @ theta - y_test.reshape(-1)) ** 2
    )
    baseline = np.mean((y_train.mean() - y_test) ** 2)
    printed = re.search(
        r"the chosen model's loss is ([\d.]+);.*\n.*\(([\d.]+) minutes\) costs ([\d.]+)\.", lesson_output
    )
    assert printed, lesson_output
    assert printed.group(1) == f"{test_loss:.4g}"
    assert float(printed.group(2)) == pytest.approx(y_train.mean(), abs=0.005)
    assert printed.group(3) == f"{baseline:.4g}"


def test_the_going_deeper_planes_and_costs_against_numpy() -> None:
    output = section_output(lesson.SEED)
    parts = reference_split(lesson.SEED)
    (x_train, y_train), (x_val, y_val) = parts["training"], parts["validation"]
    design = np.hstack([x_train, np.ones((len(x_train), 1))])
    fitted, *_ = np.linalg.lstsq(design, y_train.reshape(-1), rcond=None)
    assert printed_plane(output, "least squares") == pytest.approx(tuple(fitted), abs=FIT_ATOL)
    assert printed_plane(output, "trained") == pytest.approx(tuple(fitted), abs=TRAINED_ATOL)

    def cost(x: np.ndarray, y: np.ndarray, plane: np.ndarray) -> float:
        return float(np.mean((x @ plane[:2] + plane[2] - y.reshape(-1)) ** 2))

    true = np.array([*lesson.TRUE_WEIGHTS, lesson.TRUE_BIAS])
    assert printed_costs(output, "true plane") == pytest.approx(
        (cost(x_train, y_train, true), cost(x_val, y_val, true)), abs=COST_ATOL
    )
    assert printed_costs(output, "least squares") == pytest.approx(
        (cost(x_train, y_train, fitted), cost(x_val, y_val, fitted)), abs=COST_ATOL
    )
    # The exact extra cost of least squares on a new delivery, against many new deliveries.
    moments = lesson.delivery_moments().numpy()
    extra = float((fitted - true) @ moments @ (fitted - true))
    assert f"least squares {extra:.4f} more." in output
    expected = lesson.DELIVERY_NOISE**2 * np.trace(np.linalg.inv(design.T @ design) @ moments)
    assert f"σ²·tr((XᵀX)⁻¹·E[x·xᵀ]) = {expected:.4f}" in output


# 42: the default; 40 and 6: other seeds, whose sentences must follow their own numbers.
@pytest.mark.parametrize("seed", [lesson.SEED, 6, 40])
def test_the_narration_follows_the_numbers(seed: int) -> None:
    output = section_output(seed)
    (trained_train, _), (true_train, _) = (printed_costs(output, name) for name in ("trained", "true plane"))
    assert ("the trained model beats the true plane by" in output) == (trained_train < true_train)
    assert ("the trained model trails the true plane by" in output) == (trained_train > true_train)
    for lr, line in re.findall(r"^  lr ([\d.]+) +(validation loss .*)$", output, re.MULTILINE):
        curve = reference_sgd(seed, float(lr))[0]
        assert line.endswith(": " + lesson.trend(curve, lesson.JUDGED_EPOCHS)), (lr, line, curve)


def test_the_noise_floor_sentence_follows_the_numbers() -> None:
    falling, jumping = [3.9, 3.8, 3.7, 3.65, 3.6], [3.6, 4.1, 3.7, 3.9, 3.7]
    assert "rises with lr:\n  3.73 at lr 0.05, about 3.8 at lr 0.2." in lesson.noise_floor(
        {0.05: falling, 0.2: jumping}
    )
    assert "either way:\n  about 3.8 at lr 0.05, 3.73 at lr 0.2." in lesson.noise_floor({0.2: falling, 0.05: jumping})


# 42: a step size above the whole set's 2/λmax stays bounded; 0: every one diverges.
@pytest.mark.parametrize("seed", [lesson.SEED, 0])
def test_the_limit_sentence_follows_the_runs(seed: int) -> None:
    output = section_output(seed)
    whole = float(re.search(r"2/λmax is (\d+\.\d+) for the whole", output).group(1))
    bounded = [float(lr) for lr in re.findall(r"^  lr ([\d.]+), above the limit .*: bounded", output, re.MULTILINE)]
    assert ("a guide, not an edge." in output) == any(lr > whole for lr in bounded), output
    assert ("this time it held." in output) == (seed == 0), "the two seeds should reach both sentences"


def test_the_saved_model_predicts_what_the_folded_plane_says() -> None:
    output = section_output(lesson.SEED)
    match = re.search(r"3 miles and 2 stops -> ([\d.]+) minutes", output)
    assert match, "section 7 should predict one delivery with the loaded model"
    slope_miles, slope_stops, bias = printed_plane(output, "trained")
    assert float(match.group(1)) == pytest.approx(3 * slope_miles + 2 * slope_stops + bias, abs=0.02)


def test_files_go_beside_the_figures_or_nowhere(tmp_path: Path) -> None:
    script = Run(figures=FigureOutput(outdir=tmp_path / "out"))
    with script.files_folder() as folder:
        assert folder == tmp_path / "out" and folder.is_dir()
    assert script.describe(folder / "m.pt") == (tmp_path / "out" / "m.pt").as_posix()
    for run in (Run(plots=False), Run(figures=FigureOutput(outdir=tmp_path / "inline", inline=True))):
        with run.files_folder() as folder:
            (folder / "m.pt").write_bytes(b"x")
        assert not folder.exists(), "a run that keeps no files must remove its temporary folder"
        assert "temporary folder, removed" in run.describe(folder / "m.pt")
    assert not (tmp_path / "inline").exists()


def test_the_samples_of_rows_and_their_standard_errors_against_numpy() -> None:
    output = section_output(lesson.SEED)
    trained = np.array(printed_plane(output, "trained"))
    true = np.array([*lesson.TRUE_WEIGHTS, lesson.TRUE_BIAS])

    def gap(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean and standard error of (trained - true) squared errors; the printed plane has 3 decimals."""
        errors = [(x @ plane[:2] + plane[2] - y.reshape(-1)) ** 2 for plane in (trained, true)]
        difference = errors[0] - errors[1]
        return float(difference.mean()), float(difference.std(ddof=1) / np.sqrt(len(difference)))

    new_x, new_y = (
        t.numpy().astype(np.float64) for t in lesson.make_deliveries(lesson.NEW_DELIVERIES, lesson.SEED + 1)
    )
    mean, error = (
        float(v) for v in re.search(r"costs (-?\d+\.\d+) more,\n  with a standard error of (\d+\.\d+)", output).groups()
    )
    assert (mean, error) == pytest.approx(gap(new_x, new_y), abs=0.003)  # the rounding of the printed plane
    x_val, y_val = reference_split(lesson.SEED)["validation"]
    printed = re.search(r"validation rows measure it as (-?\d+\.\d+), with a standard error of (\d+\.\d+):", output)
    assert tuple(float(v) for v in printed.groups()) == pytest.approx(gap(x_val, y_val), abs=0.01)


def test_each_batch_has_its_own_limit_and_larger_steps_are_judged_by_their_run() -> None:
    output = section_output(lesson.SEED)
    (x_train, _), limits = reference_split(lesson.SEED)["training"], []
    scaled = (x_train - x_train.mean(axis=0)) / x_train.std(axis=0, ddof=1)
    orders = DataLoader(
        TensorDataset(torch.arange(len(scaled))),
        batch_size=lesson.BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(lesson.SEED),
    )
    for (rows,) in orders:
        batch = np.hstack([scaled[rows.numpy()], np.ones((len(rows), 1))])
        limits.append(2 / np.linalg.eigvalsh(2 * batch.T @ batch / len(batch)).max())
    low, high = (
        float(v)
        for v in re.search(r"and (\d+\.\d+) to (\d+\.\d+) for the\n  \d+ batches of the first epoch", output).groups()
    )
    assert low <= min(limits) < low + 0.001 and high <= max(limits) < high + 0.001, (low, high, limits)
    for lr in lesson.LARGE_BATCH_LRS:
        losses, _ = reference_sgd(lesson.SEED, lr)
        line = re.search(rf"^  lr {lr:g}, above the limit of (\d+) of the \d+ batches: (.*)$", output, re.MULTILINE)
        assert int(line.group(1)) == sum(lr > limit for limit in limits), line.group(0)
        assert ("diverged" in line.group(2)) == (not losses[-1] < torch.finfo(torch.float32).max), (
            line.group(0),
            losses[-1],
        )


# --- the modes and the batches the sections' own code uses (the in-process pass records every model call) ---


def test_every_prediction_without_gradients_is_made_in_evaluation_mode(sections_alone: SectionsAlone) -> None:
    unrecorded = [call for call in sections_alone.calls if call.inference]
    assert {call.section for call in unrecorded} >= {"training", "workflow"}, "sections 5 and 7 predict"
    in_training_mode = sorted({call.section for call in unrecorded if call.training})
    assert not in_training_mode, f"sections {in_training_mode} predict under inference_mode without model.eval()"


def test_section_7_trains_on_a_new_order_of_the_training_rows_every_epoch(sections_alone: SectionsAlone) -> None:
    batches = [call.inputs for call in sections_alone.calls if call.section == "workflow" and call.inputs is not None]
    rows = torch.cat(batches)
    n_train = lesson.DELIVERIES - 2 * int(lesson.HELD_OUT_SHARE * lesson.DELIVERIES)
    epochs = [rows[k : k + n_train] for k in range(0, len(rows), n_train)]
    assert len(rows) % n_train == 0 and len(epochs) >= 2, f"{len(rows)} training rows seen, not whole epochs"
    first = sorted(map(tuple, epochs[0].tolist()))
    assert all(sorted(map(tuple, epoch.tolist())) == first for epoch in epochs), "every epoch sees every row once"
    orders = [tuple(map(tuple, epoch.tolist())) for epoch in epochs]
    runs = [orders[k : k + lesson.BATCH_EPOCHS] for k in range(0, len(orders), lesson.BATCH_EPOCHS)]
    assert len(set(runs[0])) == lesson.BATCH_EPOCHS, "the DataLoader should shuffle the rows anew every epoch"
    assert all(run == runs[0] for run in runs), "every candidate step size should see the same batches"


# --- one rule for every step size, and digits that float rounding cannot move ---------------------

RULE_LRS = (0.01, 0.05, 0.2, 0.9, 1.0, 1.5, 3.0)  # falling, jumping, diverging and overflowing runs
RULE_EPOCHS = (1, 2, 5, 10, 20)
FLOAT32_GAP = 1e-5  # the largest relative gap measured between these runs' float32 and float64 losses (lr 1.5)
FLOAT32_MAX = torch.finfo(torch.float32).max
PRINT_MARGIN = 10 * FLOAT32_GAP  # a printed number must hold when its loss moves this much


def float32_curves(seed: int, lrs: tuple[float, ...], epochs: int) -> dict[float, list[float]]:
    """The lesson's own float32 runs, as section 7 makes them, at any step size and epoch count."""
    parts = reference_split(seed)
    (x_train, y_train), (x_val, y_val) = parts["training"], parts["validation"]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0, ddof=1)
    scaled = [torch.tensor((x - mean) / std, dtype=torch.float32) for x in (x_train, x_val)]
    targets = [torch.tensor(y, dtype=torch.float32) for y in (y_train, y_val)]
    generator = torch.Generator()
    loader = DataLoader(
        TensorDataset(scaled[0], targets[0]), batch_size=lesson.BATCH_SIZE, shuffle=True, generator=generator
    )
    curves = {}
    for lr in lrs:
        generator.manual_seed(seed)
        fit = lesson.train_on_batches(loader, (scaled[1], targets[1]), lr, epochs, seed, torch.device("cpu"))
        curves[lr] = fit.val_losses
    return curves


def course_of(losses: list[float], back: int) -> str:
    """The rule, written again with numpy: a loss past float32's largest counts as overflowed."""
    tail = np.array(losses[-back:])
    if not np.all(tail < torch.finfo(torch.float32).max):
        return "diverged"
    if len(tail) == 1:
        return "one epoch"
    steps = np.diff(tail)
    if np.all(steps < 0):
        return "still falling"
    if np.all(steps > 0):
        return "diverging"
    return "level" if np.ptp(tail) < lesson.LEVEL_SHARE * tail.min() else "jumping"


@pytest.mark.parametrize("epochs", RULE_EPOCHS)
def test_one_rule_judges_every_step_size_at_every_epoch_count(epochs: int) -> None:
    back = lesson.JUDGED_EPOCHS
    for lr, curve in float32_curves(lesson.SEED, RULE_LRS, epochs).items():
        reference = reference_sgd(lesson.SEED, lr, epochs)[0]
        kind = lesson.course(curve, back)
        assert kind == course_of(reference, back), (lr, epochs, curve, reference)
        said = lesson.trend(curve, back)
        mean = lesson.loss_text(float(np.mean(curve[-back:])), kind)
        assert mean.startswith("about ") == (kind in ("level", "jumping", "diverging")), (lr, epochs, mean)
        assert said.startswith("bounded, ") == (kind in ("level", "jumping")), (lr, epochs, said)
        assert said.startswith(("diverging", "diverged")) == (kind in ("diverging", "diverged")), (lr, epochs, said)


def test_the_table_and_the_going_deeper_part_judge_a_step_size_alike() -> None:
    output = section_output(lesson.SEED)
    assert "One rule: lower at each of the last 5 is still falling, higher at each diverging, else bounded: " in output
    assert "level within 5%, else jumping." in output
    table = dict(re.findall(r"^  lr ([\d.]+) +validation loss [^:]+: (.*)$", output, re.MULTILINE))
    deeper = dict(re.findall(r"^  lr ([\d.]+), above the limit of \d+ of the \d+ batches: (.*)$", output, re.MULTILINE))
    shared = set(table) & set(deeper)
    assert shared, (table, deeper)
    for lr in shared:
        assert table[lr] == deeper[lr], lr
    assert "bounded, jumping" in deeper["0.9"], "lr 0.9's losses jump between 5 and 21 without growing"


@pytest.mark.parametrize("shift", [1 - PRINT_MARGIN, 1 + PRINT_MARGIN])
def test_the_printed_losses_hold_where_float_rounding_moves_them(shift: float) -> None:
    """Every loss section 7 prints of its runs, from float64 and moved by PRINT_MARGIN, prints the same."""
    output = section_output(lesson.SEED)
    for lr in (*lesson.CANDIDATE_LRS, *lesson.LARGE_BATCH_LRS):
        # A float64 loss past float32's largest is where the lesson's float32 run overflowed.
        moved = [loss * shift if loss < FLOAT32_MAX else math.inf for loss in reference_sgd(lesson.SEED, lr)[0]]
        said = lesson.trend(moved, lesson.JUDGED_EPOCHS)
        assert re.search(rf"^  lr {lr:g}\b.*: {re.escape(said)}$", output, re.MULTILINE), (lr, said)
    means = {
        lr: float(np.mean(reference_sgd(lesson.SEED, lr)[0][-lesson.JUDGED_EPOCHS :])) for lr in lesson.CANDIDATE_LRS
    }
    best, runner_up = sorted(means.values())[:2]
    assert f"the lowest mean, {lesson.digits((runner_up - best) * shift, 2)} below" in output
