""" "Run it" (`python -m exercises.exN_...`): its numbers against a reference, and a sentence, never a traceback.

Every module here is constructed (a file in a scratch folder, or the reference solution with one
function swapped); the learner's own exercise files are never read. Each exercise's run is called
on its reference solution and what it prints is compared with numbers computed here (numpy's
least squares, a plain torch.optim loop).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from exercises.solutions import ex2_optimizer_comparison as ex2_solution
from exercises.solutions import ex3_loss_curve as ex3_solution
from grader import ex1, ex2, ex3, ex4, harness, isolation, run_it, shipped
from grader.harness import PNG_MAGIC
from grader.messages import losses_problem

pytestmark = pytest.mark.usefixtures("in_a_scratch_folder")  # run from outside the repository


@pytest.fixture(autouse=True)
def in_this_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run here calls the learner's code in this process, where the test can see what it drew and saved;
    the tests marked `in_a_child` run it in a child process, as a learner's run does."""
    if not request.node.get_closest_marker("in_a_child"):
        monkeypatch.setattr(isolation, "RUN_HERE", True)


@pytest.fixture(autouse=True)
def figures_in_the_scratch_folder(in_a_scratch_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What a run saves lands in the scratch folder's figures/, not the repository's: the repository's root moved."""
    monkeypatch.setattr(run_it, "OUTDIR", in_a_scratch_folder / "figures")
    return in_a_scratch_folder / "figures"


def learner_file(tmp_path: Path, body: str) -> ModuleType:
    """A learner's exercise 2 file whose compare_optimizers has this body, imported from a scratch folder."""
    path = tmp_path / "ex2_optimizer_comparison.py"
    path.write_text("def compare_optimizers(x, y, epochs=200, lr_sgd=0.01, lr_adam=0.1, seed=0):\n" + body, "utf-8")
    spec = importlib.util.spec_from_file_location("learners_ex2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unwritten_exercise_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = learner_file(
        tmp_path,
        "    raise NotImplementedError('compare_optimizers is not written yet (hint 2.1 in exercises/README.md)')\n",
    )
    assert ex2.run(module) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("Exercise 2 is not finished yet: compare_optimizers is not written yet (hint 2.1"), err
    assert "python -m pytest -m ex2" in err and "Traceback" not in err, err


def test_an_exception_in_the_learners_code_names_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = learner_file(
        tmp_path,
        "    settings = {'lr_sgd': lr_sgd}\n    return settings['lr_adam']\n",
    )
    assert ex2.run(module) == 1
    _, err = capsys.readouterr()
    first = err.splitlines()[0]
    assert first.startswith("compare_optimizers() raised KeyError: 'lr_adam' at "), first
    assert "ex2_optimizer_comparison.py, line 3: return settings['lr_adam']. Fix it there and run this again." in first
    assert "Traceback" not in err and "grader/" not in err, err


def test_a_result_it_cannot_use_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = learner_file(
        tmp_path,
        "    return [[1.0], [2.0]]  # a list where a dict of histories belongs\n",
    )
    assert ex2.run(module) == 1
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("compare_optimizers should return a dict with the keys"), err
    assert err.rstrip().endswith("Check your functions with: python -m pytest -m ex2."), err


def test_a_finished_exercise_prints_and_saves_its_figure(
    agg: None, in_a_scratch_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    module = ModuleType("quick_ex3")
    module.__file__ = ex3_solution.__file__
    module.train_with_history = lambda model, x, y: ex3_solution.train_with_history(model, x, y, epochs=5)
    module.plot_loss_curve = lambda losses, path: quick_curve(figure(), losses, path)
    saved = in_a_scratch_folder / "figures" / "ex3_loss_curve.png"
    saved.unlink(missing_ok=True)
    assert ex3.run(module) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("5 epochs: loss "), out
    assert "minutes for 7 miles" in out and "figure saved: figures/ex3_loss_curve.png" in out, out
    assert saved.read_bytes().startswith(PNG_MAGIC)


def figure() -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(1, 1))


def quick_curve(fig: Any, losses: list[float], path: Path | str, save_first: bool = False) -> Any:
    """A loss curve drawn with no text (quick to save): saved into `path`, before drawing if `save_first`."""
    if save_first:
        fig.savefig(path)
    fig.add_subplot().plot(losses)
    if not save_first:
        fig.savefig(path)
    return fig


def _plt_savefig(losses: list[float], path: Path) -> Any:
    import matplotlib.pyplot as plt

    fig = quick_curve(figure(), losses, Path(path).with_name("elsewhere.png"))
    plt.savefig(path)  # pyplot's current figure, not the one drawn on
    return fig


@pytest.mark.parametrize(
    ("plot", "told"),
    [
        (lambda losses, path: quick_curve(figure(), losses, "loss_curve.png"), "but no file is there"),
        (_plt_savefig, "was saved from another figure than the one plot_loss_curve(losses, path) returned"),
        (lambda losses, path: quick_curve(figure(), losses, path, save_first=True), "saved before the figure was"),
    ],
    ids=["another path", "plt.savefig", "saved before drawing"],
)
def test_exercise_3_says_figure_saved_only_of_the_figure_it_returned(
    agg: None, plot: Any, told: str, capsys: pytest.CaptureFixture[str]
) -> None:
    module = ModuleType("quick_ex3")
    module.__file__ = ex3_solution.__file__
    module.train_with_history = lambda model, x, y: ex3_solution.train_with_history(model, x, y, epochs=2)
    module.plot_loss_curve = plot
    assert ex3.run(module) == 1
    out, err = capsys.readouterr()
    assert "figure saved" not in out and out.startswith("2 epochs: loss "), out
    assert told in err and err.rstrip().endswith("Check your functions with: python -m pytest -m ex3."), err


def test_a_result_of_another_kind_is_one_sentence(agg: None, capsys: pytest.CaptureFixture[str]) -> None:
    module = ModuleType("quick_ex2")
    module.__file__ = ex2_solution.__file__
    module.compare_optimizers = lambda x, y: {"sgd": [3.0, 2.0], "adam": [3.0, 1.0]}
    module.epochs_to_reach = ex2_solution.epochs_to_reach
    module.plot_optimizer_comparison = lambda histories: None  # no figure to save
    assert ex2.run(module) == 1
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("Exercise 2 stopped with AttributeError"), err
    assert "python -m pytest -m ex2, which says what each should take and return" in err, err


def test_a_loss_over_mismatched_shapes_stops_the_run_as_it_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = learner_file(tmp_path, "    import torch\n    return torch.nn.functional.mse_loss(x.view(-1), y)\n")
    with warnings.catch_warnings():
        warnings.resetwarnings()  # without pyproject's filter: "run it" turns the warning into an error itself
        assert ex2.run(module) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("compare_optimizers() raised UserWarning: Using a target size"), first
    assert "ex2_optimizer_comparison.py, line 3: return torch.nn.functional.mse_loss(x.view(-1), y)" in first, first


def test_numpy_losses_are_refused_with_the_checks_own_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = learner_file(
        tmp_path,
        "    import torch\n    loss = torch.tensor(1.0)\n"
        "    return {'sgd': [loss.detach().numpy()] * epochs, 'adam': [loss.detach().numpy()] * epochs}\n",
    )
    assert ex2.run(module) == 1
    err = capsys.readouterr().err
    said = losses_problem([np.zeros(())], None, "histories['sgd']")
    assert err == f"{said} Check your functions with: python -m pytest -m ex2.\n", err
    assert "append loss.item()" in said


def test_sys_exit_in_a_function_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = learner_file(tmp_path, "    import sys\n    sys.exit('no data')\n")
    assert ex2.run(module) == 1
    err = capsys.readouterr().err
    assert err.startswith("compare_optimizers() ended the program with sys.exit('no data') at "), err
    assert "ex2_optimizer_comparison.py, line 3: sys.exit('no data')" in err and "Traceback" not in err, err


def test_exercise_4_prints_its_run_and_saves_the_model(
    agg: None, in_a_scratch_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from exercises.solutions import ex4_train_validate_save as ex4_solution

    module = ModuleType("quick_ex4")
    module.__file__ = ex4_solution.__file__
    for name in ("split_rows", "save_model", "load_model"):
        setattr(module, name, getattr(ex4_solution, name))
    losses = []

    def train_with_validation(*data: object, **settings: object) -> list[float]:
        losses.extend(ex4_solution.train_with_validation(*data, **{**settings, "epochs": 2}))
        return list(losses)

    module.train_with_validation = train_with_validation
    figures = {}  # quick: the figure is built and checked, but not drawn
    monkeypatch.setattr(ex4, "save_figure", lambda fig, name: figures.setdefault(name, fig))
    saved = run_it.OUTDIR
    (saved / "ex4_model.pt").unlink(missing_ok=True)
    assert ex4.run(module) == 0
    out, err = capsys.readouterr()
    x, y = ex4.run_data()
    train_rows, validation_rows = ex4_solution.split_rows(len(x), len(x) // 5, seed=0)
    weight, bias = ex4.least_squares_plane(x[train_rows], y[train_rows])
    plane = f"least squares: w = [{weight[0, 0]:.4f}, {weight[0, 1]:.4f}]  b = {bias.item():.4f} (training rows)"
    assert err == "" and f"{len(train_rows)} training rows and {len(validation_rows)} validation rows" in out, out
    assert "Validation loss after each of 2 epochs, on cpu" in out and plane in out, out
    assert "model saved: figures/ex4_model.pt; load_model gives a new model whose predictions are identical\n" in out
    curve = figures["ex4_validation_loss"].axes[0].get_lines()[0]
    assert list(curve.get_xdata()) == [1, 2] and list(curve.get_ydata()) == losses
    assert sorted(ex4_solution.load_model(saved / "ex4_model.pt").state_dict()) == ["linear.bias", "linear.weight"]


@pytest.mark.in_a_child
def test_an_endless_loop_is_stopped_at_the_checks_cpu_limit_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolation, "CPU_LIMIT", 0.3)  # the checks' 30 s, shortened for the test
    monkeypatch.setattr(isolation, "WALL_FACTOR", 2000)  # and only CPU time, however busy the machine is
    module = learner_file(
        tmp_path, "    while True:\n        try:\n            sum(range(100))\n        except:\n            pass\n"
    )
    assert ex2.run(module) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("Exercise 2 was stopped: your code used 0.3 s of CPU time"), err
    assert err.rstrip().endswith("check it with: python -m pytest -m ex2"), err


@pytest.mark.in_a_child
def test_what_the_child_prints_is_printed_here_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = learner_file(tmp_path, "    print('first')\n    raise NotImplementedError('not written yet')\n")
    assert ex2.run(module) == 2
    out, err = capsys.readouterr()
    assert out == "first\n" and err.startswith("Exercise 2 is not finished yet: not written yet"), (out, err)


@pytest.mark.in_a_child
def test_a_run_that_ends_its_own_process_is_told_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = learner_file(tmp_path, "    import os\n    os._exit(0)\n")
    assert ex2.run(module) == 1
    err = capsys.readouterr().err
    assert err.startswith("Exercise 2's process ended with exit code 0 (os._exit()"), err


@pytest.mark.in_a_child
def test_a_shipped_file_the_run_deletes_is_put_back_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data" / "points.csv"
    data.parent.mkdir()
    data.write_bytes(b"x,y\n1,2\n")
    monkeypatch.setattr(
        harness, "SHIPPED", shipped.Keeper(tmp_path, {"data/points.csv": shipped.digest(data.read_bytes())})
    )
    monkeypatch.setattr(run_it, "SHIPPED", harness.SHIPPED)
    module = learner_file(tmp_path, f"    import shutil\n    shutil.rmtree({str(data.parent)!r})\n    return {{}}\n")
    assert ex2.run(module) == 1
    err = capsys.readouterr().err
    assert "Your code deleted data/points.csv, a file the lesson ships; the grader has put it back." in err, err
    assert data.read_bytes() == b"x,y\n1,2\n"


@pytest.mark.in_a_child
def test_ctrl_c_in_the_terminal_ends_the_run_and_its_child_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = learner_file(tmp_path, "    import time\n    time.sleep(60)\n")
    # Python ignores Ctrl-C in a process started with it ignored (a background job): as a terminal's, here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert ex2.run(module) == 130
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err == "Exercise 2 stopped: you pressed Ctrl-C while it was running.\n"


def test_a_keyboard_interrupt_the_learners_code_raises_is_told_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = learner_file(tmp_path, "    raise KeyboardInterrupt\n")
    assert ex2.run(module) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err.splitlines()[0], err
    assert err.startswith("compare_optimizers() raised KeyboardInterrupt (what Ctrl-C raises; a function must not "), (
        err
    )
    assert "line 2: raise KeyboardInterrupt" in err, err


def test_run_from_another_folder_saves_under_the_repositorys_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repository_figures = tmp_path / "repository" / "figures"  # the repository's root, moved away from the folder
    monkeypatch.setattr(run_it, "OUTDIR", repository_figures)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    module = ModuleType("quick_ex3")
    module.__file__ = ex3_solution.__file__
    module.train_with_history = lambda model, x, y: ex3_solution.train_with_history(model, x, y, epochs=2)
    module.plot_loss_curve = lambda losses, path: quick_curve(figure(), losses, path)
    assert ex3.run(module) == 0
    out = capsys.readouterr().out
    assert f"figure saved: {repository_figures / 'ex3_loss_curve.png'}\n" in out, out
    assert (repository_figures / "ex3_loss_curve.png").is_file()
    assert list(elsewhere.iterdir()) == []


def _quick_ex4(**functions: object) -> ModuleType:
    from exercises.solutions import ex4_train_validate_save as ex4_solution

    module = ModuleType("quick_ex4")
    module.__file__ = ex4_solution.__file__
    for name in ("split_rows", "validation_loss", "train_with_validation", "save_model", "load_model"):
        setattr(module, name, functions.get(name, getattr(ex4_solution, name)))
    return module


def test_an_overlapping_split_is_told_as_the_split_check_tells_it(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    module = _quick_ex4(split_rows=lambda n, n_validation, seed=0: (torch.arange(800), torch.arange(700, 900)))
    assert ex4.run(module) == 1
    out, err = capsys.readouterr()
    with pytest.raises(pytest.fail.Exception) as check:
        ex4.check_split_rows(module.split_rows(1000, 200), 1000, 200, "split_rows(1000, 200, seed=0)")
    assert out == "" and err == f"{check.value.msg} Check your functions with: python -m pytest -m ex4.\n", err
    assert "puts rows [700, 701, 702, 703, 704] in both sets" in err, err


def test_training_on_validation_rows_is_told_as_the_training_check_tells_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import torch

    from exercises.solutions import ex4_train_validate_save as ex4_solution

    def on_every_row(model, x, y, train_rows, validation_rows, **settings):
        return ex4_solution.train_with_validation(model, x, y, torch.arange(len(x)), validation_rows, epochs=1)

    assert ex4.run(_quick_ex4(train_with_validation=on_every_row)) == 1
    err = capsys.readouterr().err
    assert err.startswith("a training batch holds validation rows (call 1 of the model mixes rows of both sets)"), err
    assert err.count("\n") == 1 and err.endswith("Check your functions with: python -m pytest -m ex4.\n"), err


# --- each "run it" on its reference solution, its numbers against a reference computed here -----------


EX2_EPOCHS, EX3_EPOCHS = 150, 60  # fewer than the defaults, for speed: Adam still reaches a loss of 1 by 150


def _numbers(text: str) -> list[float]:
    return [float(number) for number in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def _fit_with_numpy(x, y):
    return np.polyfit(np.asarray(x, dtype=float).reshape(-1), np.asarray(y, dtype=float).reshape(-1), 1)


def _quick_ex1(fit: object) -> ModuleType:
    from exercises.solutions import ex1_height_weight as ex1_solution

    module = ModuleType("quick_ex1")
    module.__file__ = ex1_solution.__file__
    module.make_height_weight_data, module.fit_height_weight = ex1_solution.make_height_weight_data, fit
    return module


def _fit_that_centres_its_inputs_in_place(heights: torch.Tensor, weights: torch.Tensor) -> torch.nn.Module:
    from exercises.solutions import ex1_height_weight as ex1_solution

    model = ex1_solution.fit_height_weight(heights, weights)
    heights -= heights.mean()  # the learner's tensors change; the run's own line must not
    weights -= weights.mean()
    return model


@pytest.mark.parametrize("fit", ["the reference", "one that changes its inputs"])
def test_exercise_1_prints_its_fit_beside_the_least_squares_line(
    fit: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from exercises.solutions import ex1_height_weight as ex1_solution

    monkeypatch.setattr(ex1, "save_figure", lambda fig, name: None)  # quick: the figure is built, not drawn
    module = ex1_solution if fit == "the reference" else _quick_ex1(_fit_that_centres_its_inputs_in_place)
    assert ex1.run(module) == 0
    out = capsys.readouterr().out
    table = np.loadtxt(ex1.HEIGHT_WEIGHT_CSV, delimiter=",", skiprows=1)
    slope, bias = _fit_with_numpy(table[:, 0], table[:, 1])
    lines = [line for line in out.splitlines() if " cm -> " in line]
    assert len(lines) == 3, out
    for line in lines:
        height, predicted, least_squares = _numbers(line)
        assert least_squares == pytest.approx(slope * height + bias, abs=0.006), line
        assert predicted == pytest.approx(slope * height + bias, abs=ex1.PREDICTION_TOL_KG), line
    heights = ex1_solution.make_height_weight_data(5, seed=0)[0].reshape(-1).tolist()
    assert f"gives heights {[round(h, 1) for h in heights]}" in out, out


def test_exercise_1_tells_a_diverged_fit_in_the_checks_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    def fit_height_weight(heights: torch.Tensor, weights: torch.Tensor) -> torch.nn.Module:
        model = torch.nn.Linear(1, 1)
        torch.nn.init.constant_(model.weight, float("nan"))
        return model

    assert ex1.run(_quick_ex1(fit_height_weight)) == 1
    out, err = capsys.readouterr()
    heights, _ = ex1.lesson.load_csv(ex1.HEIGHT_WEIGHT_CSV, "height_cm", "weight_kg")
    told = ex1.diverged(ex1.HEIGHT_WEIGHT_CSV.name, heights)
    assert err == f"{told} Check your functions with: python -m pytest -m ex1.\n", err
    assert " cm -> " not in out and "nan" not in out, out


def test_exercise_2_prints_the_losses_a_plain_loop_gives(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import lesson

    monkeypatch.setattr(ex2, "save_figure", lambda fig, name: None)
    module = ModuleType("quick_ex2")  # the reference, for fewer epochs than its 200
    module.__file__ = ex2_solution.__file__
    module.compare_optimizers = lambda x, y: ex2_solution.compare_optimizers(x, y, epochs=EX2_EPOCHS)
    module.epochs_to_reach = ex2_solution.epochs_to_reach
    module.plot_optimizer_comparison = ex2_solution.plot_optimizer_comparison
    assert ex2.run(module) == 0
    out = capsys.readouterr().out
    x, y = lesson.load_distance_time()
    slope, bias = _fit_with_numpy(x, y)
    best = float(np.mean((slope * x.numpy() + bias - y.numpy()) ** 2))
    assert f"(the least-squares loss is {best:.5f})" in out, out
    for name, optimizer, lr in (("sgd", torch.optim.SGD, 0.01), ("adam", torch.optim.Adam, 0.1)):
        torch.manual_seed(0)
        model = lesson.LinearRegression()
        step = optimizer(model.parameters(), lr=lr)
        losses = []
        for _ in range(EX2_EPOCHS):
            step.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            losses.append(loss.item())
            loss.backward()
            step.step()
        reached = [next((k for k, value in enumerate(losses) if value <= target), None) for target in (1.0, 0.05)]
        line = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert f"final loss {losses[-1]:.5f}" in line, line
        assert f"loss 1 at epoch {reached[0]}, loss 0.05 at epoch {reached[1]}" in line, line


def test_exercise_3_prints_the_first_and_last_loss_of_a_plain_loop(
    in_a_scratch_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    import lesson

    module = ModuleType("quick_ex3")
    module.__file__ = ex3_solution.__file__
    module.train_with_history = lambda model, x, y: ex3_solution.train_with_history(model, x, y, epochs=EX3_EPOCHS)
    module.plot_loss_curve = lambda losses, path: quick_curve(figure(), losses, path)
    assert ex3.run(module) == 0
    out = capsys.readouterr().out
    x, y = lesson.load_distance_time()
    torch.manual_seed(lesson.SEED)
    model = lesson.LinearRegression()
    step = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for _ in range(EX3_EPOCHS):
        step.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        step.step()
    assert f"{EX3_EPOCHS} epochs: loss {losses[0]:.4f} at the start, {losses[-1]:.5f} at the end" in out, out
    assert f"predicts {model(torch.tensor([[7.0]])).item():.2f} minutes for 7 miles" in out, out


def test_exercise_4_explains_where_the_losses_stop_with_numbers_measured_here(
    agg: None, in_a_scratch_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from exercises.solutions import ex4_train_validate_save as ex4_solution

    monkeypatch.setattr(ex4, "save_figure", lambda fig, name: None)
    assert ex4.run(ex4_solution) == 0
    out = capsys.readouterr().out
    x, y = (tensor.double().numpy() for tensor in ex4.run_data())
    train_rows, validation_rows = (rows.numpy() for rows in ex4_solution.split_rows(len(x), len(x) // 5, seed=0))
    true = x @ np.array(ex4.PLANE_WEIGHTS) + ex4.PLANE_BIAS
    own_noise = float(np.mean((y[validation_rows, 0] - true[validation_rows]) ** 2))
    design = np.hstack([x, np.ones((len(x), 1))])
    plane = np.linalg.lstsq(design[train_rows], y[train_rows, 0], rcond=None)[0]
    best = float(np.mean((design[validation_rows] @ plane - y[validation_rows, 0]) ** 2))
    assert own_noise < ex4.PLANE_NOISE**2, "200 rows' own noise is below σ² here: the run says why"
    assert f"the true plane itself scores {own_noise:.3g} on these 200 validation rows" in out, out
    assert f"scores {best:.3g} there" in out and f"bring the loss to about {best:.3g}, not lower" in out, out
    losses = _numbers(out.splitlines()[3])
    assert len(losses) == 10 and min(losses) == pytest.approx(best, rel=0.1), out


@pytest.mark.parametrize(
    ("settings", "returned", "told"),
    [
        ({"epochs": 3, "lr": 0.001}, None, "It is still falling: more epochs or a larger step size take it further."),
        ({"epochs": 1}, [8.0, 30.0, 17.0], "It is not settling, as a right loop's does: look at the loop"),
    ],
    ids=["still falling", "jumping about"],
)
def test_exercise_4_says_when_the_losses_stop_far_above_the_plane(
    agg: None,
    settings: dict[str, float],
    returned: list[float] | None,
    told: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from exercises.solutions import ex4_train_validate_save as ex4_solution

    def train_with_validation(*args: object, **kwargs: object) -> list[float]:
        losses = ex4_solution.train_with_validation(*args, **kwargs, **settings)
        return returned or losses

    monkeypatch.setattr(ex4, "save_figure", lambda fig, name: None)
    assert ex4.run(_quick_ex4(train_with_validation=train_with_validation)) == 0
    out = capsys.readouterr().out
    last = _numbers(out.splitlines()[3])[-1]
    best = float(re.search(r"training rows scores ([\d.e-]+) there", out)[1])
    told_ratio = re.search(rf"its last loss, {last:.3g}, is ([\d.e+]+) times the least-squares plane's\.", out)
    assert told_ratio and float(told_ratio[1]) == pytest.approx(last / best, rel=0.01), out  # both printed rounded
    assert told in out and "Why they stop near" not in out and "not lower" not in out, out


def test_a_run_that_leaves_a_torch_setting_changed_says_so_as_the_checks_do(
    agg: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def train_with_history(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        losses = ex3_solution.train_with_history(model, x, y, epochs=2)
        torch.set_grad_enabled(False)  # meant for the prediction after it, left for the whole program
        return losses

    module = ModuleType("quick_ex3")
    module.__file__ = ex3_solution.__file__
    module.train_with_history = train_with_history
    module.plot_loss_curve = lambda losses, path: quick_curve(figure(), losses, path)
    assert ex3.run(module) == 1
    assert torch.is_grad_enabled(), "the run puts the setting back"
    out, err = capsys.readouterr()
    assert "figure saved" in out, out
    assert err.startswith("Your code left torch's grad mode at False (torch.set_grad_enabled(False)) for the whole"), (
        err
    )
    assert err.endswith("The checks fail a file that does this: python -m pytest -m ex3.\n") and err.count("\n") == 1


def ex2_module_that_warns(monkeypatch: pytest.MonkeyPatch, message: str, category: type[Warning]) -> ModuleType:
    """An exercise 2 whose compare_optimizers warns with `message` and returns two short histories."""
    monkeypatch.setattr(ex2, "save_figure", lambda fig, name: None)
    module = ModuleType("warning_ex2")
    module.__file__ = ex2_solution.__file__

    def compare_optimizers(x, y):
        warnings.warn(message, category, stacklevel=1)
        return {"sgd": [3.0, 2.0], "adam": [3.0, 0.5]}

    module.compare_optimizers = compare_optimizers
    module.epochs_to_reach = ex2_solution.epochs_to_reach
    module.plot_optimizer_comparison = lambda histories: None
    return module


def test_other_warnings_stay_warnings_in_a_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = ex2_module_that_warns(monkeypatch, "size_average and reduce args will be deprecated", UserWarning)
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("ignore")  # the learner's own warning, shown or not: it must not stop the run
        assert ex2.run(module) == 0, capsys.readouterr().err
    assert "final loss 0.50000" in capsys.readouterr().out


def test_ctrl_c_while_the_checks_load_says_it_came_before_the_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(module: ModuleType) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(ex2, "run", interrupted)
    assert run_it.run_it(ex2_solution) == 130
    out, err = capsys.readouterr()
    assert out == "" and err == "Exercise 2 stopped: you pressed Ctrl-C before it ran.\n", (out, err)


@pytest.mark.parametrize("has_file", [True, False], ids=["a file", "no file"])
def test_an_unwritten_exercise_names_the_file_to_fill_in(
    has_file: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = learner_file(tmp_path, "    raise NotImplementedError('compare_optimizers is not written yet')\n")
    if not has_file:
        module.__file__ = None  # a module made in memory, as a notebook's
    assert ex2.run(module) == 2
    fill_in = capsys.readouterr().err.splitlines()[1]
    shown = str(tmp_path / "ex2_optimizer_comparison.py") if has_file else module.__name__
    assert fill_in == f"Fill in {shown}, then run this again or check it with: python -m pytest -m ex2", fill_in


def test_an_exception_in_a_models_forward_names_the_learners_line_not_torchs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ex1, "save_figure", lambda fig, name: None)
    path = tmp_path / "ex1_height_weight.py"
    path.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "def make_height_weight_data(n=200, seed=0):\n"
        "    return torch.full((n, 1), 170.0), torch.full((n, 1), 70.0)\n\n\n"
        "class Broken(nn.Module):\n    def forward(self, x):\n        return self.layer(x)\n\n\n"
        "def fit_height_weight(heights, weights, epochs=200, lr=0.1):\n    return Broken()\n",
        "utf-8",
    )
    spec = importlib.util.spec_from_file_location("learners_ex1", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert ex1.run(module) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("forward() raised AttributeError: "), first
    assert f"at {path}, line 11: return self.layer(x) (raised inside " in first, first


def test_a_saved_figure_is_a_png_in_the_figures_folder_and_named_from_here(
    agg: None, figures_in_the_scratch_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from matplotlib.figure import Figure

    path = run_it.save_figure(Figure(figsize=(1, 1)), "tiny")
    assert path == figures_in_the_scratch_folder / "tiny.png" and path.read_bytes().startswith(PNG_MAGIC)
    assert capsys.readouterr().out == "figure saved: figures/tiny.png\n"


def test_a_warning_of_another_category_with_the_target_size_text_stays_a_warning(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = ex2_module_that_warns(
        monkeypatch, "Using a target size that only looks like the loss's warning", FutureWarning
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ex2.run(module) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("epochs", "count"), [(12, "a list of 12 floats"), (None, "a list of floats, one per epoch")])
def test_a_history_that_is_not_a_list_is_told_how_many_floats_to_return(epochs: int | None, count: str) -> None:
    assert f"losses should be {count}, but it is a str." in losses_problem("0.5, 0.4", epochs, "losses")


def test_a_torch_object_that_is_not_a_tensor_is_refused_as_a_loss() -> None:
    import torch

    said = losses_problem([torch.Size([])], None, "losses")  # loss.shape, say
    assert said.startswith("entry 0 of losses is ") and "requires grad" not in said, said


def test_exercise_1s_figure_names_the_adults_and_the_learners_model_in_its_legend(
    agg: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch
    from torch import nn

    from exercises.solutions import ex1_height_weight as ex1_solution

    def fit_height_weight(heights, weights, epochs=200, lr=0.1):
        slope, bias = _fit_with_numpy(heights, weights)
        layer = nn.Linear(1, 1)
        with torch.no_grad():
            layer.weight.fill_(float(slope))
            layer.bias.fill_(float(bias))
        return layer

    figures = []
    monkeypatch.setattr(ex1, "save_figure", lambda fig, name: figures.append(fig))
    module = ModuleType("quick_ex1")
    module.__file__ = ex1_solution.__file__
    module.make_height_weight_data = ex1_solution.make_height_weight_data
    module.fit_height_weight = fit_height_weight
    assert ex1.run(module) == 0, capsys.readouterr().err
    (ax,) = figures[0].axes
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["adults", "your model"]
    table = np.loadtxt(ex1.HEIGHT_WEIGHT_CSV, delimiter=",", skiprows=1)
    slope, bias = _fit_with_numpy(table[:, 0], table[:, 1])
    (line,) = ax.lines  # the model's line, drawn across the data's heights
    ends = [table[:, 0].min(), table[:, 0].max()]
    assert np.allclose(line.get_xdata(), ends) and np.allclose(line.get_ydata(), [slope * x + bias for x in ends])
