"""Section 7, the real training run, against computations of its own: numpy's least squares, the split's rules."""

from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SectionsAlone

import lesson
from lesson_support.figures import FigureOutput
from lesson_support.runtime import Run

FIT_ATOL = 0.02  # the printed least-squares numbers have three decimals
TRAINED_ATOL = 0.1  # mini-batch SGD at a constant step size hovers near least squares, in minutes per unit
COST_ATOL = 1e-4  # the printed costs have four decimals


@functools.cache
def section_output(seed: int) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        lesson.section_workflow(Run(seed=seed, plots=False))
    return buffer.getvalue()


def printed_plane(output: str, name: str) -> tuple[float, float, float]:
    match = re.search(rf"^  {name} +w = \[(-?[\d.]+), (-?[\d.]+)\], b = (-?[\d.]+)$", output, re.MULTILINE)
    assert match, f"section 7 prints no plane for {name}"
    return tuple(float(number) for number in match.groups())  # type: ignore[return-value]


def printed_costs(output: str, name: str) -> tuple[float, float, float]:
    """The costs printed for one plane: on the training rows, the validation rows, the new deliveries."""
    match = re.search(rf"^  {name} +training ([\d.]+) +validation ([\d.]+) +new ([\d.]+)$", output, re.MULTILINE)
    assert match, f"section 7 prints no costs for {name}"
    return float(match.group(1)), float(match.group(2)), float(match.group(3))


def reference_split(seed: int) -> tuple[np.ndarray, ...]:
    """The lesson's data and split rule, then numpy in float64 for everything after."""
    inputs, minutes = (t.numpy().astype(np.float64) for t in lesson.make_deliveries(lesson.DELIVERIES, seed))
    order = torch.randperm(lesson.DELIVERIES, generator=torch.Generator().manual_seed(seed)).numpy()
    held_out = int(lesson.VALIDATION_SHARE * lesson.DELIVERIES)
    return inputs[order[held_out:]], minutes[order[held_out:]], inputs[order[:held_out]], minutes[order[:held_out]]


def test_the_data_is_the_stated_plane_plus_noise() -> None:
    inputs, minutes = lesson.make_deliveries(lesson.DELIVERIES, seed=3)
    again, _ = lesson.make_deliveries(lesson.DELIVERIES, seed=3)
    assert inputs.shape == (lesson.DELIVERIES, 2) and minutes.shape == (lesson.DELIVERIES, 1)
    assert torch.equal(inputs, again), "the same seed must give the same deliveries"
    noise = minutes.reshape(-1) - inputs @ torch.tensor(lesson.TRUE_WEIGHTS) - lesson.TRUE_BIAS
    assert noise.std().item() == pytest.approx(lesson.DELIVERY_NOISE, rel=0.1)
    assert float(inputs[:, 0].min()) >= 0.5 and float(inputs[:, 0].max()) <= 5.0, "miles"
    assert set(inputs[:, 1].tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}, "stops"


def test_split_fit_and_costs_against_numpy(lesson_output: str) -> None:
    x_train, y_train, x_val, y_val = reference_split(lesson.SEED)
    assert (len(x_train), len(x_val)) == (320, 80)
    assert "320 training rows, 80 validation rows, 0 in both." in lesson_output
    design = np.hstack([x_train, np.ones((len(x_train), 1))])
    (w_miles, w_stops, bias), *_ = np.linalg.lstsq(design, y_train.reshape(-1), rcond=None)
    assert printed_plane(lesson_output, "least squares") == pytest.approx((w_miles, w_stops, bias), abs=FIT_ATOL)
    assert printed_plane(lesson_output, "trained") == pytest.approx((w_miles, w_stops, bias), abs=TRAINED_ATOL)

    def cost(x: np.ndarray, y: np.ndarray, weights: tuple[float, float], offset: float) -> float:
        return float(np.mean((x @ np.array(weights) + offset - y.reshape(-1)) ** 2))

    true = (lesson.TRUE_WEIGHTS, lesson.TRUE_BIAS)
    fitted = ((w_miles, w_stops), bias)
    new_x, new_y = (
        t.numpy().astype(np.float64) for t in lesson.make_deliveries(lesson.NEW_DELIVERIES, lesson.SEED + 1)
    )
    assert printed_costs(lesson_output, "true plane") == pytest.approx(
        (cost(x_train, y_train, *true), cost(x_val, y_val, *true), cost(new_x, new_y, *true)), abs=COST_ATOL
    )
    assert printed_costs(lesson_output, "least squares") == pytest.approx(
        (cost(x_train, y_train, *fitted), cost(x_val, y_val, *fitted), cost(new_x, new_y, *fitted)), abs=COST_ATOL
    )


# 42: the default; 6: the 80 validation rows favour the trained model; 40: it ends behind on its own training rows.
@pytest.mark.parametrize("seed", [lesson.SEED, 6, 40])
def test_the_narration_follows_the_numbers(lesson_output: str, seed: int) -> None:
    output = lesson_output if seed == lesson.SEED else section_output(seed)
    (trained_train, trained_val, trained_new), (true_train, true_val, true_new) = (
        printed_costs(output, name) for name in ("trained", "true plane")
    )
    fits_noise = "the trained model beats the true plane by" in output
    assert fits_noise == (trained_train < true_train) and fits_noise != ("behind the true plane" in output)
    truth_wins = "On new deliveries that noise is gone, and the true plane wins by" in output
    assert truth_wins == (true_new < trained_new) and truth_wins != ("still ahead" in output)
    assert ("validation rows put the true plane ahead" in output) == (true_val < trained_val)
    assert ("happen to hold less noise" in output) == (trained_val < trained_train)
    assert "standard error" in output


def test_the_chosen_seeds_reach_both_sides_of_each_sentence() -> None:
    six, forty = section_output(6), section_output(40)
    assert "validation rows put the trained model ahead" in six
    assert "behind the true plane" in forty


def test_the_saved_model_takes_raw_inputs(lesson_output: str) -> None:
    match = re.search(r"For 3 miles and 2 stops it says ([\d.]+) minutes", lesson_output)
    assert match, "section 7 should predict one delivery with the loaded model"
    slope_miles, slope_stops, bias = printed_plane(lesson_output, "trained")
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


# --- the modes and the batches the sections' own code uses (the in-process pass records every model call) ---


def test_every_prediction_without_gradients_is_made_in_evaluation_mode(sections_alone: SectionsAlone) -> None:
    unrecorded = [call for call in sections_alone.calls if call.inference]
    assert {call.section for call in unrecorded} >= {"training", "workflow"}, "sections 5 and 7 predict"
    in_training_mode = sorted({call.section for call in unrecorded if call.training})
    assert not in_training_mode, f"sections {in_training_mode} predict under inference_mode without model.eval()"


def test_section_7_trains_on_a_new_order_of_the_training_rows_every_epoch(sections_alone: SectionsAlone) -> None:
    batches = [call.inputs for call in sections_alone.calls if call.section == "workflow" and call.inputs is not None]
    rows = torch.cat(batches)
    n_train = round(lesson.DELIVERIES * (1 - lesson.VALIDATION_SHARE))
    epochs = [rows[k : k + n_train] for k in range(0, len(rows), n_train)]
    assert len(rows) % n_train == 0 and len(epochs) >= 2, f"{len(rows)} training rows seen, not whole epochs"
    first = sorted(map(tuple, epochs[0].tolist()))
    assert all(sorted(map(tuple, epoch.tolist())) == first for epoch in epochs), "every epoch sees every row once"
    orders = {tuple(map(tuple, epoch.tolist())) for epoch in epochs}
    assert len(orders) == len(epochs), "the DataLoader should shuffle the rows anew every epoch (shuffle=True)"
