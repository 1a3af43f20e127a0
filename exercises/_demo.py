"""What `python -m exercises.exN_...` does: run your functions on real data, print, save a figure.

Not an exercise file: the four ex*.py files and their reference solutions call these.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

import lesson
from lesson_support.figures import log_scale, new_figure, use_files_only
from lesson_support.learner_errors import (
    TARGET_SIZE_WARNING,
    describe_exception,
    losses_problem,
    raised_in,
    shown_path,
    unreadable_weights,
)
from lesson_support.runtime import printable_output

OUTDIR = Path("figures")  # beside the lesson's figures
HEIGHT_WEIGHT_CSV = lesson.DATA_DIR / "height_weight.csv"


class UnusableResult(Exception):
    """A learner's function returned what this run cannot use; the message says what, as the checks would."""


def _expect_losses(value: object, what: str) -> list[float]:
    """The checks' rule for the entries of a loss history (learner_errors.losses_problem), applied here too."""
    problem = losses_problem(value, None, what)
    if problem:
        raise UnusableResult(problem)
    return value


def _run(number: int, module: ModuleType, show: Callable[[], None]) -> int:
    """Run an exercise's demo; a stub or an exception in the learner's code ends it with a message, not a traceback."""
    path = shown_path(module.__file__) if module.__file__ else module.__name__
    check = f"python -m pytest -m ex{number}"
    printable_output()  # a learner's message may hold any character, and the output may go to a file
    try:
        with warnings.catch_warnings():
            # As in the checks (pyproject.toml): a loss over mismatched shapes is an error, not a warning.
            warnings.filterwarnings("error", message=TARGET_SIZE_WARNING, category=UserWarning)
            show()
    except UnusableResult as problem:
        print(f"{problem} Check your functions with: {check}.", file=sys.stderr)
        return 1
    except NotImplementedError as error:
        print(f"Exercise {number} is not finished yet: {error}", file=sys.stderr)
        print(f"Fill in {path}, then run this again or check it with: {check}", file=sys.stderr)
        return 2
    except (Exception, SystemExit) as error:  # SystemExit: sys.exit() inside a learner's function
        if raised_in(error, module.__file__):
            message = describe_exception(None, error, module.__file__, {Path(__file__).name}, "run this again")
        else:  # called with arguments it does not take, or it returned what this run cannot use
            message = (
                f"Exercise {number} stopped with {type(error).__name__}: {error}. Check your functions with: {check}, "
                "which says what each should take and return."
            )
        print(message, file=sys.stderr)
        return 1
    return 0


def _save(fig: object, name: str) -> Path:
    OUTDIR.mkdir(exist_ok=True)
    path = OUTDIR / f"{name}.png"
    fig.savefig(path)
    print(f"figure saved: {path}")
    return path


def run_ex1(module: ModuleType) -> int:
    heights, weights = lesson.load_csv(HEIGHT_WEIGHT_CSV, "height_cm", "weight_kg")

    def show() -> None:
        own_heights, _ = module.make_height_weight_data(5, seed=0)
        model = module.fit_height_weight(heights, weights)
        print(
            f"Your make_height_weight_data(5) gives heights {[round(h, 1) for h in own_heights.reshape(-1).tolist()]}"
        )
        print(f"Fitted on {HEIGHT_WEIGHT_CSV.name} ({len(heights)} adults):")
        slope, bias = lesson.least_squares(heights, weights)
        probe = torch.tensor([[160.0], [170.0], [180.0]])
        with torch.no_grad():
            predicted = model(probe).reshape(-1).tolist()
        for height, kg in zip(probe.reshape(-1).tolist(), predicted, strict=True):
            print(f"  {height:g} cm -> {kg:.2f} kg   (least squares: {slope * height + bias:.2f} kg)")

        use_files_only()
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.4, 3.6), dpi=80, layout="constrained")
        ax = fig.add_subplot()
        ax.scatter(heights.reshape(-1), weights.reshape(-1), s=8, color="0.5", label="adults")
        line = torch.linspace(float(heights.min()), float(heights.max()), 2).reshape(-1, 1)
        with torch.no_grad():
            ax.plot(line.reshape(-1), model(line).reshape(-1), color="tab:red", label="your model")
        ax.set_xlabel("height (cm)")
        ax.set_ylabel("weight (kg)")
        ax.set_title("weight from height")
        ax.legend()
        _save(fig, "ex1_height_weight")

    return _run(1, module, show)


def run_ex2(module: ModuleType) -> int:
    distances, times = lesson.load_distance_time()
    slope, bias = lesson.least_squares(distances, times)
    best = lesson.mse(slope * distances + bias, times).item()
    targets = (1.0, 0.05)

    def show() -> None:
        histories = module.compare_optimizers(distances, times)
        if not isinstance(histories, dict) or set(histories) != {"sgd", "adam"}:
            raise UnusableResult("compare_optimizers should return a dict with the keys 'sgd' and 'adam'.")
        for name, losses in histories.items():
            _expect_losses(losses, f"histories['{name}']")
        reached = {
            name: [module.epochs_to_reach(losses, target) for target in targets] for name, losses in histories.items()
        }
        use_files_only()
        fig = module.plot_optimizer_comparison(histories)
        print(f"On the distance/time data (the least-squares loss is {best:.5f}), {len(histories['sgd'])} epochs each:")
        for name, losses in histories.items():
            firsts = ", ".join(
                f"loss {target:g} at epoch {epoch}" for target, epoch in zip(targets, reached[name], strict=True)
            )
            print(f"  {name:<5} final loss {losses[-1]:.5f}; first reached {firsts}")
        print("(epoch None: not reached within the run)")
        _save(fig, "ex2_optimizer_comparison")

    return _run(2, module, show)


def run_ex3(module: ModuleType) -> int:
    distances, times = lesson.load_distance_time()
    torch.manual_seed(lesson.SEED)
    model = lesson.LinearRegression()

    def show() -> None:
        returned = module.train_with_history(model, distances, times)
        losses = _expect_losses(returned, "the value train_with_history returned")
        use_files_only()
        OUTDIR.mkdir(exist_ok=True)
        path = OUTDIR / "ex3_loss_curve.png"
        module.plot_loss_curve(losses, path)
        print(f"{len(losses)} epochs: loss {losses[0]:.4f} at the start, {losses[-1]:.5f} at the end")
        print(f"the model now predicts {model(torch.tensor([[7.0]])).item():.2f} minutes for 7 miles")
        print(f"figure saved: {path}")

    return _run(3, module, show)


PLANE_WEIGHTS = (2.0, -3.4)  # exercise 4's data: d2l's synthetic plane y = x·wᵀ + b plus noise, x standard normal
PLANE_BIAS = 4.2
PLANE_NOISE = 0.01
PLANE_ROWS = 1000


def plane_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Exercise 4's rows: x of shape (1000, 2), y of shape (1000, 1)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(PLANE_ROWS, 2, generator=generator)
    y = x @ torch.tensor([PLANE_WEIGHTS]).T + PLANE_BIAS + PLANE_NOISE * torch.randn(PLANE_ROWS, 1, generator=generator)
    return x, y


def run_ex4(module: ModuleType) -> int:
    x, y = plane_data()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # chosen once, passed down

    def show() -> None:
        train_rows, validation_rows = module.split_rows(len(x), len(x) // 5, seed=0)
        plane = f"x·[{PLANE_WEIGHTS[0]:g}, {PLANE_WEIGHTS[1]:g}]ᵀ + {PLANE_BIAS:g}"
        print(f"{len(x)} rows of y = {plane} plus noise (σ {PLANE_NOISE:g}); your split_rows gives")
        print(f"  {len(train_rows)} training rows and {len(validation_rows)} validation rows")
        torch.manual_seed(lesson.SEED)
        model = lesson.LinearRegression(2, 1)
        losses = module.train_with_validation(model, x, y, train_rows, validation_rows, device=device)
        print(
            f"Validation loss after each of {len(losses)} epochs, on {device} (the noise alone costs σ² = "
            f"{PLANE_NOISE**2:g}):"
        )
        print("  " + "  ".join(f"{loss:.3g}" for loss in losses))
        design = torch.cat([x[train_rows], torch.ones(len(train_rows), 1)], dim=1).double()
        solution = torch.linalg.lstsq(design, y[train_rows].double()).solution.reshape(-1).tolist()
        weight, bias = model.linear.weight.detach().cpu().reshape(-1).tolist(), model.linear.bias.item()
        print(f"  trained:       w = [{weight[0]:.4f}, {weight[1]:.4f}]  b = {bias:.4f}")
        print(f"  least squares: w = [{solution[0]:.4f}, {solution[1]:.4f}]  b = {solution[2]:.4f} (training rows)")

        OUTDIR.mkdir(exist_ok=True)
        path = OUTDIR / "ex4_model.pt"
        module.save_model(model, path)
        problem = unreadable_weights(path)  # told here, or load_model would take the blame for save_model's file
        if problem:
            raise UnusableResult(problem)
        loaded = module.load_model(path)
        with torch.no_grad():
            difference = (loaded(x).cpu() - model(x.to(device)).cpu()).abs().max().item()
        print(f"model saved: {path}; load_model gives a new model whose predictions differ by at most {difference:.3g}")

        use_files_only()
        fig, (ax,) = new_figure(width=5.4, height=3.6)
        fig.subplots_adjust(left=0.2)  # room for tick labels such as 0.0001
        ax.plot(range(1, len(losses) + 1), losses, "o-", label="validation loss")
        ax.axhline(PLANE_NOISE**2, color="0.5", linestyle="--", label="the noise alone, σ²")
        log_scale(ax)
        ax.locator_params(axis="x", integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation MSE (log scale)")
        ax.set_title("the validation loss after each epoch")
        ax.legend()
        _save(fig, "ex4_validation_loss")

    return _run(4, module, show)
