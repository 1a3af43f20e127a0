"""Exercise 2, SGD against Adam: its checks, its graded tests and its "run it".

Both histories are replayed with torch.optim from the start torch.manual_seed(seed);
LinearRegression() and compared epoch by epoch (grader/histories.py); the plot must hold both
curves on one axes, a legend naming both, axis labels and a log scale.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import optim

import lesson
from exercises.catalog import BY_NUMBER
from grader.harness import Answer, expect_figure, expect_losses, fail, kind
from grader.histories import (
    OPTIMIZERS,
    explain_history,
    likely_mistakes,
    line_data,
    reference_history,
    seeded_model,
    settings_problem,
)
from grader.plots import legend_texts, plots_losses, series
from grader.run_it import UnusableResult, run_safely, save_figure
from grader.run_it import expect_losses as expect_run_losses
from lesson_support.figures import use_files_only

EXERCISE = BY_NUMBER[2]
DRAWS_FIGURES = True  # its checks draw and save figures: the checks' parent process loads matplotlib first

START_HINT_EX2 = (
    "The first loss is already off, so a model did not start from torch.manual_seed(seed); LinearRegression(). "
    "Build both from that one start (copy.deepcopy, or reseed before each), and use the mean squared error."
)


def check_compare(answer: Answer, x: torch.Tensor, y: torch.Tensor, **settings: Any) -> None:
    defaults = {"epochs": 200, "lr_sgd": 0.01, "lr_adam": 0.1, "seed": 0}
    used = {**defaults, **settings}
    histories = answer("compare_optimizers", x, y, **settings)
    if not isinstance(histories, dict) or set(histories) != {"sgd", "adam"}:
        got = f"the keys {sorted(map(str, histories))}." if isinstance(histories, dict) else kind(histories)
        fail(f"compare_optimizers should return a dict with the keys 'sgd' and 'adam'; it returned {got}")
    settings = {}
    for name, asked, other in (("sgd", "SGD", "adam"), ("adam", "Adam", "sgd")):
        got = expect_losses(histories[name], used["epochs"], f"histories['{name}']")
        lr, other_lr = used[f"lr_{name}"], used[f"lr_{other}"]
        expected = reference_history(x, y, seeded_model(used["seed"]), OPTIMIZERS[asked], lr, used["epochs"])
        mistakes = likely_mistakes(x, y, used["seed"], asked, lr, other_lr, used["epochs"])
        settings[name] = settings_problem(answer, OPTIMIZERS[asked], f"histories['{name}']", (optim.SGD, optim.Adam))
        what = f"histories['{name}'] with {used}"
        explain_history(got, expected, what, START_HINT_EX2, mistakes, len(x), settings[name])
    # A setting such as amsgrad=True may change the losses by less than the tolerance on these data: named anyway.
    if any(settings.values()):
        fail(next(sentence for sentence in settings.values() if sentence))


def check_plot_comparison(answer: Answer, histories: dict[str, list[float]]) -> None:
    use_files_only()
    fig = expect_figure(answer("plot_optimizer_comparison", histories), "plot_optimizer_comparison")
    for ax in fig.axes:
        curves = {name for _, _, ys in series(ax) for name, losses in histories.items() if plots_losses(ys, losses)}
        if curves == set(histories):
            break
    else:
        fail("no axes of the figure holds both loss curves; plot histories['sgd'] and histories['adam'] on one axes.")
    texts = legend_texts(fig)
    if not any("sgd" in text for text in texts) or not any("adam" in text for text in texts):
        fail(
            f"the legend should name SGD and Adam; it reads {texts}. Give each curve a label=... and call ax.legend()."
        )
    if not ax.get_xlabel() or not ax.get_ylabel():
        fail("label both axes, e.g. ax.set_xlabel('epoch') and ax.set_ylabel('loss').")
    if ax.get_yscale() != "log":
        fail(f"the loss axis has a {ax.get_yscale()} scale; use ax.set_yscale('log') so both curves stay readable.")


# --- the graded tests: each runs on the learner's file and on the reference ----------------------

EPOCHS_TO_REACH_CASES = [  # (losses, target, the answer)
    ([5.0, 3.0, 1.0], 3.0, 1),  # "at most": equal counts
    ([5.0, 3.0, 1.0], 2.0, 2),
    ([5.0, 3.0, 1.0], 9.0, 0),
    ([5.0, 3.0, 1.0], 0.5, None),
    ([4.0, 1.0, 3.0, 0.5], 2.0, 1),  # the first, not the last
    ([], 1.0, None),
]


def check_epochs_to_reach(answer: Answer) -> None:
    for losses, target, expected in EPOCHS_TO_REACH_CASES:
        got = answer("epochs_to_reach", losses, target)
        if got != expected or type(got) is not type(expected):
            fail(
                f"epochs_to_reach({losses}, {target}) should be {expected!r}, but it returned {got!r}. It is the index "
                "k of the first loss with losses[k] <= target, counting from 0, or None if there is none."
            )


def _plot(answer: Answer, folder: Path) -> None:
    x, y = lesson.load_distance_time()
    histories = {
        "sgd": reference_history(x, y, seeded_model(0), torch.optim.SGD, 0.01, 30),
        "adam": reference_history(x, y, seeded_model(0), torch.optim.Adam, 0.1, 30),
    }
    check_plot_comparison(answer, histories)


GRADED = {
    "histories_on_the_article_data": lambda answer, folder: check_compare(answer, *lesson.load_distance_time()),
    "histories_with_other_settings": lambda answer, folder: check_compare(
        answer,
        *line_data(30, slope=-1.5, intercept=2.0, noise=0.2, seed=4),
        epochs=40,
        lr_sgd=0.05,
        lr_adam=0.02,
        seed=7,
    ),
    "epochs_to_reach": lambda answer, folder: check_epochs_to_reach(answer),
    "plot": _plot,
}


# --- run it ------------------------------------------------------------------------------------------


def run(module: ModuleType) -> int:
    """Both optimizers on the article's deliveries: the final losses, the epochs to reach two targets, the figure."""
    distances, times = lesson.load_distance_time()
    slope, bias = lesson.least_squares(distances, times)
    best = lesson.mse(slope * distances + bias, times).item()
    targets = (1.0, 0.05)

    def show() -> None:
        histories = module.compare_optimizers(distances, times)
        if not isinstance(histories, dict) or set(histories) != {"sgd", "adam"}:
            raise UnusableResult("compare_optimizers should return a dict with the keys 'sgd' and 'adam'.")
        for name, losses in histories.items():
            expect_run_losses(losses, f"histories['{name}']")
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
        save_figure(fig, "ex2_optimizer_comparison")

    return run_safely(EXERCISE, module, show)
