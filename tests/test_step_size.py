"""Section 5's narration follows the numbers at every step size: converging, at the limit, diverging."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import torch

import lesson
from lesson_support.checks import stop_if_cannot_converge
from lesson_support.closed_form import CLOSE_SHARE, curvatures, round_down

DISTANCES, TIMES = lesson.load_distance_time()
LIMIT = lesson.max_stable_lr(DISTANCES)  # 2/λmax
LOSS_RTOL = 1e-3  # float32 training against a float64 reference, over up to 500 steps
LINE_ATOL = 2e-4  # the printed w and b (four decimals) against the float64 reference
FACTORS = [0.9, 0.99, 1.0, 1.01, 1.1, 1.5]  # × 2/λmax, around the limit
EPOCHS = [10, 50, 500]
OWN_POINTS = [  # (factor, epochs): far below, just either side of the limit, far above, one step
    (0.05, 50),
    (0.5, 100),
    (0.999, 50),
    (0.9999, 10),
    (1.0001, 10),
    (1.001, 500),
    (2.0, 50),
    (8.0, 500),
    (0.9, 1),
    (1.5, 2),
    (1.0, 1),
    (4.0, 1),
    (1e18, 10),  # the loss overflows float32 at its second epoch
    (0.1197 / LIMIT, 500),  # the printed limit typed back: stable, and far from the line after 500 epochs
    (1e-40 / LIMIT, 10),  # a step float32 holds as a subnormal: nothing trains
]
CASES = [(factor, epochs) for factor in FACTORS for epochs in EPOCHS] + OWN_POINTS
NUMBER = r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)"


def told_close(out: str) -> bool:
    """Whether section 5 judged how close training came: only when it did not reach the line."""
    return "Close, within" in out or "Not close" in out


def reference_descent(lr: float, epochs: int) -> tuple[list[float], tuple[float, float]]:
    """Plain gradient descent on the MSE, in float64 Python, from the lesson's seeded start."""
    torch.manual_seed(lesson.SEED)
    slope, bias = lesson.line_of(lesson.LinearRegression())
    xs, ys = DISTANCES.reshape(-1).double().tolist(), TIMES.reshape(-1).double().tolist()
    losses = []
    for _ in range(epochs):
        residuals = [slope * x + bias - y for x, y in zip(xs, ys, strict=True)]
        losses.append(sum(r * r for r in residuals) / len(xs))
        slope, bias = (
            slope - lr * 2 * sum(r * x for r, x in zip(residuals, xs, strict=True)) / len(xs),
            bias - lr * 2 * sum(residuals) / len(xs),
        )
    return losses, (slope, bias)


def run_training(lr: float, epochs: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = lesson.main(["--no-plots", "--deeper", "--section", "training", "--lr", repr(lr), "--epochs", str(epochs)])
    out, err = capsys.readouterr()
    return code, out, err


def printed_line(label: str, out: str) -> tuple[float, float]:
    found = re.search(rf"{label}\s+w = {NUMBER}, b = {NUMBER}", out)
    assert found, f"no '{label}' line in:\n{out}"
    return float(found.group(1)), float(found.group(2))


@pytest.mark.parametrize(("factor", "epochs"), CASES)
def test_narration_follows_the_numbers(factor: float, epochs: int, capsys: pytest.CaptureFixture[str]) -> None:
    lr = factor * LIMIT
    code, out, err = run_training(lr, epochs, capsys)
    reference, end = reference_descent(lr, epochs)
    assert not re.search(r"\b(?:nan|inf)\b", out + err, flags=re.IGNORECASE), out + err
    for epoch, loss in re.findall(rf"epoch\s+(\d+)\s+loss {NUMBER}", out):
        assert float(loss) == pytest.approx(reference[int(epoch)], rel=LOSS_RTOL, abs=1e-4), f"epoch {epoch}"

    if lr >= LIMIT:
        # Plain full-batch descent at or above 2/λmax never converges: one sentence and exit 1, no convergence story.
        assert code == 1, f"lr = {factor} × the limit, {epochs} epochs: exit {code}\n{out}{err}"
        assert "not below 2/λmax" in out, out
        assert "Trained:" not in out and not told_close(out) and "reached" not in out, out
        assert err.count("\n") == 1 and err.startswith("lesson.py: error: training "), err
        assert f"steps below {round_down(LIMIT):g} are stable" in err, err
        grew = re.search(rf"at epoch (\d+): .* the loss grew from {NUMBER} to {NUMBER}", err)
        overflowed = re.search(r"at epoch (\d+): .* the loss overflowed to infinity", err)
        if overflowed:
            epoch = int(overflowed.group(1))
            assert reference[epoch] > torch.finfo(torch.float32).max, f"float64 loss {reference[epoch]}: {err}"
        elif grew:
            epoch, first, last = int(grew.group(1)), float(grew.group(2)), float(grew.group(3))
            assert last > first, err
            assert reference[epoch] > reference[0], f"the float64 loss at epoch {epoch} is below the first: {err}"
        else:
            assert "cannot converge" in err and f"in {epochs} epoch{'s' * (epochs != 1)})" in err, err
            factor_printed = float(re.search(rf"direction by {NUMBER}, so it (grows|keeps its size)", err).group(1))
            assert abs(factor_printed) >= 1 - 5e-5, err
            assert ("grows" in err) == (abs(factor_printed) > 1), err
        return

    assert code == 0, f"lr = {factor} × the limit is stable, yet the run exited {code}:\n{err}"
    assert "diverg" not in out and err == "", out + err
    # Below the limit the loss never rises: the premise of stopping a run whose loss rose above its start.
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in itertools.pairwise(reference))
    trained, closed = printed_line("Trained:", out), printed_line("Closed form:", out)
    assert trained == pytest.approx(end, abs=LINE_ATOL), "the printed line is where float64 descent ends"
    assert closed == pytest.approx(lesson.least_squares(DISTANCES, TIMES), abs=5e-5)
    if trained == closed:
        assert "reached the closed-form line" in out and not told_close(out), out
        return
    # "Close" only within CLOSE_SHARE of the least-squares loss, by the float64 run's own loss.
    xs, ys = DISTANCES.reshape(-1).double(), TIMES.reshape(-1).double()
    slope, bias = lesson.least_squares(DISTANCES, TIMES)
    least = float(((slope * xs + bias - ys) ** 2).mean())
    share = float(((end[0] * xs + end[1] - ys) ** 2).mean()) / least - 1
    assert "reached" not in out, out
    if abs(share - CLOSE_SHARE) > 0.01 * CLOSE_SHARE:  # float32 training decides a case this near the edge
        verdict = "Close, within 10%, not on it:" if share <= CLOSE_SHARE else "Not close (close is within 10%):"
        assert verdict in out, f"the float64 loss is {share:.2%} above least squares:\n{out}"
    said = re.search(rf"loss {NUMBER}, (?:{NUMBER}% above|([\d,]+) times) the closed form's", out)
    assert said, out
    if said.group(2):
        assert float(said.group(2)) / 100 == pytest.approx(share, rel=0.01, abs=1e-3), out
    else:
        assert float(said.group(3).replace(",", "")) == pytest.approx(share + 1, rel=0.01), out
    story = "steep" if abs(1 - lr * curvatures(DISTANCES)[1]) > abs(1 - lr * curvatures(DISTANCES)[0]) else "flat"
    assert f"Along the {story} direction each step keeps" in out, out  # the optional part names the direction
    predicted = re.search(rf"predicts w = {NUMBER}, b = {NUMBER}", out)
    assert (float(predicted.group(1)), float(predicted.group(2))) == pytest.approx(end, abs=LINE_ATOL), out
    kept = re.search(rf"{epochs} steps keep {NUMBER}% of it", out)
    assert kept, out
    # The share of the first error left, by the float64 run: the slow direction's share bounds it.
    optimum = torch.tensor(lesson.least_squares(DISTANCES, TIMES), dtype=torch.float64)
    torch.manual_seed(lesson.SEED)
    start = torch.tensor(lesson.line_of(lesson.LinearRegression()), dtype=torch.float64)
    left = ((torch.tensor(end, dtype=torch.float64) - optimum).norm() / (start - optimum).norm()).item()
    assert left <= float(kept.group(1)) / 100 * 1.01, f"{left:.3%} of the error is left; the lesson says at most {out}"


def test_the_printed_limit_is_safe_to_type_back(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_training(0.5, 10, capsys)
    printed = float(re.search(rf"a little above {NUMBER}", out).group(1))
    assert printed < LIMIT and LIMIT - printed < 1e-3 * LIMIT, f"{printed} against the limit {LIMIT}"
    code, out, err = run_training(printed, 50, capsys)
    assert code == 0 and "Trained:" in out, f"--lr {printed}, the printed limit, should converge:\n{out}{err}"


def test_cannot_converge_is_said_even_when_the_loss_went_down() -> None:
    # At the limit the steep direction's error keeps its size while the flat one's shrinks: the loss falls.
    with pytest.raises(
        lesson.DivergenceError, match=r"by -1\.0000, so it keeps its size \(the loss went from 161\.4 to 160"
    ):
        stop_if_cannot_converge(LIMIT, DISTANCES, [161.4454, 160.2])


def test_at_lr_0_11_training_reaches_the_line_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    # README section 5: the gap story is told only when there is a gap; at --lr 0.11 there is none.
    code, out, _ = run_training(0.11, 500, capsys)
    assert code == 0 and printed_line("Trained:", out) == printed_line("Closed form:", out), out
    assert "Training reached the closed-form line" in out and not told_close(out), out


def test_every_printed_limit_is_below_the_limit_it_names(deeper_output: str) -> None:
    lab_x, _ = lesson.make_line_data(1.0, -1.0)
    limits = {round_down(limit, digits): limit for limit in (LIMIT, lesson.max_stable_lr(lab_x)) for digits in (3, 4)}
    printed = re.findall(r"(?:a little above|steps below) (\d+\.\d+)", deeper_output)
    assert len(printed) >= 3, deeper_output
    for value in map(float, printed):
        assert value in limits, f"{value} is not a limit of the lesson's data rounded down: {limits}"
        assert value < limits[value], f"{value} is printed for a limit of {limits[value]}, above it"


def test_section_6_calls_a_growing_loss_diverging_even_before_it_overflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Deliveries spread so that the limit sits just below 0.01, the article's step size: 200 epochs grow, not overflow.
    low, high = 1.0, 10.0
    for _ in range(50):
        scale = (low + high) / 2
        low, high = (scale, high) if lesson.max_stable_lr(scale * DISTANCES) > 0.0099 else (low, scale)
    distances = (low * DISTANCES).reshape(-1).tolist()
    data = tmp_path / "spread.csv"
    data.write_text("distance_miles,time_minutes\n" + "".join(f"{d},{5 * d + 2}\n" for d in distances))
    assert lesson.main(["--no-plots", "--section", "learning_rate", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("  lr 0.01 "))
    first, last = (float(value) for value in re.search(rf"loss {NUMBER} -> {NUMBER}", line).groups())
    assert last > first and line.endswith(", the loss grew, diverging"), line


def test_section_6_says_what_each_step_size_does(deeper_output: str) -> None:
    # Every row of section 6 against float64 descent: each loss is the one after the 60th step.
    slope, bias = lesson.least_squares(DISTANCES, TIMES)
    best = float(((slope * DISTANCES.double() + bias - TIMES.double()) ** 2).mean())  # the least-squares loss
    rows = re.findall(
        rf"^  lr {NUMBER} \((.*)\): +loss {NUMBER} -> {NUMBER}, about {NUMBER} above least squares$",
        deeper_output,
        re.M,
    )
    assert [name for _, name, *_ in rows] == [
        "too small",
        "the article's",
        "about right, lowest",
        "just below the limit",
    ], deeper_output
    for lr, _, first, last, above in rows:
        reference, _ = reference_descent(float(lr), lesson.RATE_EPOCHS + 1)  # the loss after the last step, too
        # Compared at the digits printed: float32 and float64 descent agree on them.
        assert (first, last) == (lesson.digits(reference[0], 3), lesson.digits(reference[-1], 3)), lr
        assert above == lesson.digits(reference[-1] - best, 2), lr
    ends = {float(lr): reference_descent(float(lr), lesson.RATE_EPOCHS + 1)[0][-1] for lr, *_ in rows}
    about_right = float(next(lr for lr, name, *_ in rows if name.startswith("about right")))
    assert min(ends, key=ends.__getitem__) == about_right, ends
    assert about_right == round_down(LIMIT, 1) and float(rows[3][0]) == round_down(LIMIT)
    too_large = re.search(rf"^  lr {NUMBER} \(too large\): +stopped at epoch (\d+)", deeper_output, re.M)
    assert too_large and float(too_large.group(1)) > LIMIT, deeper_output


def test_section_6_prints_no_eigen_story_on_the_required_path(lesson_output: str) -> None:
    # The required path says what the limit is in a sentence; the cost's directions wait for --deeper.
    for word in ("λmin", "Hessian", "eigen", "direction", "linear algebra"):
        assert word not in lesson_output, f"python lesson.py prints {word!r}:\n{lesson_output}"
    section = lesson_output[lesson_output.index("== 6.") : lesson_output.index("== 7.")]
    assert "λmax: the cost's largest curvature" in section, section


def test_section_6_deeper_finds_the_lowest_and_the_balance(deeper_output: str) -> None:
    flat, steep = curvatures(DISTANCES)
    balanced, edge = round_down(2 / (steep + flat)), round_down(LIMIT)
    text = deeper_output[deeper_output.index("section 6: what each step size") :]
    lowest = float(re.search(rf"linear algebra finds lr {NUMBER} lowest", text).group(1))
    # The lowest of every stable step size, to its three digits, by float64 descent: after the 60th step.
    ends = {lr: reference_descent(lr, lesson.RATE_EPOCHS + 1)[0][-1] for lr in (lowest * 0.99, lowest, lowest * 1.01)}
    assert min(ends, key=ends.__getitem__) == lowest, ends
    for lr in (lowest, balanced, edge):
        printed = re.search(rf"lr {lr:g} ends at {NUMBER}", text).group(1)
        assert printed == lesson.digits(reference_descent(lr, lesson.RATE_EPOCHS + 1)[0][-1], 3)
    for lr in (balanced, edge):
        losses, _ = reference_descent(lr, lesson.TRAIN_EPOCHS + 1)  # the loss after the last step, too
        _, (slope, bias) = reference_descent(lr, lesson.TRAIN_EPOCHS)
        line = re.search(
            rf"At lr {lr:g} .*, the loss after 500 epochs is about {NUMBER}; 7 miles -> {NUMBER} minutes", text
        )
        assert line, text
        assert line.group(1) == lesson.digits(losses[-1], 2)
        assert float(line.group(2)) == pytest.approx(7 * slope + bias, abs=0.01)
    # Stable is not fast: just below the limit the loss is still far above where the balanced step ends.
    assert reference_descent(edge, 501)[0][-1] > 1000 * reference_descent(balanced, 501)[0][-1]


@pytest.mark.parametrize("epochs", [lesson.RATE_EPOCHS, lesson.TRAIN_EPOCHS])
def test_section_5_at_a_step_size_ends_where_section_6_says(
    epochs: int, deeper_output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The README sends the learner to --section training --lr 0.1197 --epochs 60: both print the loss after
    # the last step.
    edge = round_down(LIMIT)
    if epochs == lesson.RATE_EPOCHS:
        row = re.search(rf"^  lr {edge:g} \(just below the limit\): +loss {NUMBER} -> {NUMBER},", deeper_output, re.M)
        said = row.group(2)
    else:
        said = re.search(rf"At lr {edge:g} .*, the loss after {epochs} epochs is about {NUMBER};", deeper_output)
        said = said.group(1)
    code, out, _ = run_training(edge, epochs, capsys)
    trained = float(re.search(rf"Trained:\s+w = {NUMBER}, b = {NUMBER}, loss {NUMBER}", out).group(3))
    assert code == 0 and lesson.digits(trained, len(said.replace(".", "").lstrip("0"))) == said, (said, trained)
    if epochs == lesson.RATE_EPOCHS:
        readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
        command = f"`python lesson.py --section training --lr {edge:g} --epochs {epochs}`"
        assert command in readme and f"ending at loss {said}." in readme, "README section 6 names the run it quotes"
