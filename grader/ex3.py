"""Exercise 3, the loss curve: its checks, its graded tests and its "run it".

The history is replayed with torch.optim.SGD from a copy of the same model and compared epoch by
epoch, then the trained weights within `PARAM_ATOL`: the model passed in must be trained in
place. The plot must draw the losses against the epochs, with axis labels, and a PNG saved from
that same figure once it is drawn.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import optim

import lesson
from exercises.catalog import BY_NUMBER
from grader.harness import Answer, close, expect_figure, expect_losses, fail, figures_saved, same_losses
from grader.histories import (
    NO_STEP_HINT,
    explain_history,
    likely_mistakes,
    line_data,
    reference_history,
    seeded_model,
    settings_problem,
)
from grader.plots import check_saved_png, plots_losses, series
from grader.run_it import expect_losses as expect_run_losses
from grader.run_it import output_path, run_safely, shown_output, told_as_the_checks_tell_it
from lesson_support.figures import use_files_only

EXERCISE = BY_NUMBER[3]
DRAWS_FIGURES = True  # its checks draw and save figures: the checks' parent process loads matplotlib first
PARAM_ATOL = 1e-4  # final weights after training in place

START_HINT_EX3 = "The first loss is already off: compute the mean squared error of model(x) against y, before any step."


def check_train_with_history(answer: Answer, x: torch.Tensor, y: torch.Tensor, seed: int, **settings: Any) -> None:
    used = {"epochs": 500, "lr": 0.01, **settings}
    model = seeded_model(seed)
    start = copy.deepcopy(model)
    twin = copy.deepcopy(model)
    returned = answer("train_with_history", model, x, y, **settings)
    got = expect_losses(returned, used["epochs"], "the value train_with_history returned")
    expected = reference_history(x, y, twin, optim.SGD, used["lr"], used["epochs"])
    untouched = all(torch.equal(a, b) for a, b in zip(model.parameters(), start.parameters(), strict=True))
    if untouched and used["epochs"] > 1:
        if all(close(loss, got[0]) for loss in got):
            fail(f"the model passed in is unchanged. {NO_STEP_HINT}")
        if same_losses(got, expected):
            fail(
                "your losses are right, but the model passed in is unchanged: you trained a copy. Train `model`, "
                "the argument, in place (build the optimizer from model.parameters())."
            )
        fail(
            "the model passed in is unchanged, and your losses are not its losses: train_with_history built a "
            "model of its own and trained that one. Train `model`, the argument: optim.SGD(model.parameters(), lr=lr)."
        )
    mistakes = likely_mistakes(x, y, seed, "SGD", used["lr"], None, used["epochs"])
    settings_hint = settings_problem(answer, optim.SGD, "the history")
    explain_history(got, expected, f"train_with_history with {used}", START_HINT_EX3, mistakes, len(x), settings_hint)
    if settings_hint:
        fail(settings_hint)
    for (name, mine), reference in zip(model.named_parameters(), twin.parameters(), strict=True):
        if not torch.allclose(mine, reference, rtol=0, atol=PARAM_ATOL):
            fail(
                f"after training, {name} is {mine.tolist()} but should be {reference.tolist()} "
                f"(tolerance {PARAM_ATOL}): the losses were right, so something changed the model after the last step."
            )


def check_plot_loss_curve(answer: Answer, losses: list[float], path: Path | None) -> None:
    use_files_only()
    importlib.import_module("matplotlib.figure")  # loaded before the call, so that its savefig calls are seen
    fig = expect_figure(answer("plot_loss_curve", losses, path), "plot_loss_curve")
    epochs = len(losses)
    for ax in fig.axes:
        curve = next(((xs, ys) for _, xs, ys in series(ax) if plots_losses(ys, losses)), None)
        if curve is not None:
            break
    else:
        if any(plots_losses(xs, losses) for ax in fig.axes for _, xs, _ in series(ax)):
            fail(
                f"the figure draws the {epochs} losses along the x axis; the loss curve has the epochs along x and the "
                "losses up the y axis: ax.plot(losses), or ax.plot(epochs, losses)."
            )
        fail(f"no line or scatter plot in the figure plots the {epochs} losses; draw them with ax.plot(losses).")
    xs = curve[0]
    if xs not in ([float(k) for k in range(epochs)], [float(k) for k in range(1, epochs + 1)]):
        fail(f"the x values should be the epochs 0..{epochs - 1} (or 1..{epochs}); they start {xs[:3]}.")
    if not ax.get_xlabel() or not ax.get_ylabel():
        fail("label both axes, e.g. ax.set_xlabel('epoch') and ax.set_ylabel('loss').")
    if path is not None:
        check_saved_png(answer.saved_figures, fig, Path(path), "plot_loss_curve(losses, path)")


# --- the graded tests: each runs on the learner's file and on the reference ----------------------

GRADED = {
    "history_on_the_article_data": lambda answer, folder: check_train_with_history(
        answer, *lesson.load_distance_time(), seed=lesson.SEED
    ),
    "history_with_other_settings": lambda answer, folder: check_train_with_history(
        answer, *line_data(25, slope=0.5, intercept=-1.0, noise=0.3, seed=9), seed=2, epochs=60, lr=0.05
    ),
    "plot": lambda answer, folder: check_plot_loss_curve(answer, [10.0 / (k + 1) for k in range(40)], None),
    "plot_saves_a_png": lambda answer, folder: check_plot_loss_curve(
        answer, [2.0, 1.0, 0.7, 0.6], folder / "curve.png"
    ),
}


# --- run it ------------------------------------------------------------------------------------------


def run(module: ModuleType) -> int:
    """Train on the article's deliveries, print the first and last loss and a prediction, save the curve."""
    distances, times = lesson.load_distance_time()
    torch.manual_seed(lesson.SEED)
    model = lesson.LinearRegression()

    def show() -> None:
        returned = module.train_with_history(model, distances, times)
        losses = expect_run_losses(returned, "the value train_with_history returned")
        print(f"{len(losses)} epochs: loss {losses[0]:.4f} at the start, {losses[-1]:.5f} at the end")
        print(f"the model now predicts {model(torch.tensor([[7.0]])).item():.2f} minutes for 7 miles")
        use_files_only()
        importlib.import_module("matplotlib.figure")  # loaded before the call, so that its savefig calls are seen
        path = output_path("ex3_loss_curve.png")
        path.unlink(missing_ok=True)  # an earlier run's file is not this run's
        with figures_saved() as saved:
            fig = module.plot_loss_curve(losses, path)
        with told_as_the_checks_tell_it():  # the figure told "saved" only when it is: the checks' own test of it
            check_saved_png(saved, expect_figure(fig, "plot_loss_curve"), path, "plot_loss_curve(losses, path)")
        print(f"figure saved: {shown_output(path)}")

    return run_safely(EXERCISE, module, show)
