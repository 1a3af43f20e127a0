"""`python -m exercises.exN_...`: a learner's own run of an exercise ends in a sentence, never a traceback.

Every module here is constructed (a file in a scratch folder, or the reference solution with one
function swapped); the learner's own exercise files are never read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from exercises.solutions import ex2_optimizer_comparison as ex2_solution
from exercises.solutions import ex3_loss_curve as ex3_solution
from grader import ex2, ex3, ex4
from grader.harness import PNG_MAGIC
from grader.messages import losses_problem


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
    from matplotlib.figure import Figure

    module = ModuleType("quick_ex3")
    module.__file__ = ex3_solution.__file__
    module.train_with_history = lambda model, x, y: ex3_solution.train_with_history(model, x, y, epochs=5)
    module.plot_loss_curve = lambda losses, path: Figure(figsize=(1, 1)).savefig(path)  # quick: no text to draw
    saved = in_a_scratch_folder / "figures" / "ex3_loss_curve.png"
    saved.unlink(missing_ok=True)
    assert ex3.run(module) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("5 epochs: loss "), out
    assert "minutes for 7 miles" in out and "figure saved: figures/ex3_loss_curve.png" in out, out
    assert saved.read_bytes().startswith(PNG_MAGIC)


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
    saved = in_a_scratch_folder / "figures"
    (saved / "ex4_model.pt").unlink(missing_ok=True)
    assert ex4.run(module) == 0
    out, err = capsys.readouterr()
    x, y = ex4.run_data()
    train_rows, validation_rows = ex4_solution.split_rows(len(x), len(x) // 5, seed=0)
    weight, bias = ex4.least_squares_plane(x[train_rows], y[train_rows])
    plane = f"least squares: w = [{weight[0, 0]:.4f}, {weight[0, 1]:.4f}]  b = {bias.item():.4f} (training rows)"
    assert err == "" and f"{len(train_rows)} training rows and {len(validation_rows)} validation rows" in out, out
    assert "Validation loss after each of 2 epochs, on cpu" in out and plane in out, out
    assert (
        "model saved: figures/ex4_model.pt; load_model gives a new model whose predictions differ by at most 0\n" in out
    )
    curve = figures["ex4_validation_loss"].axes[0].get_lines()[0]
    assert list(curve.get_xdata()) == [1, 2] and list(curve.get_ydata()) == losses
    assert sorted(ex4_solution.load_model(saved / "ex4_model.pt").state_dict()) == ["linear.bias", "linear.weight"]
