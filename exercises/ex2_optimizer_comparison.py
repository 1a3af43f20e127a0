"""Exercise 2: train the same model with SGD and with Adam, and compare how fast each learns.

Write the three functions below, then:

    python -m exercises.ex2_optimizer_comparison   # runs them on the distance/time data, saves a figure
    python -m pytest -m ex2                        # checks them

(Your editor's Run button on this file does the same as the first command.)

Hints are in exercises/README.md, under "Exercise 2".
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import torch
from torch import nn, optim  # noqa: F401  (you will want them)

from lesson import LinearRegression, train  # noqa: F401  (the lesson's pieces are yours to use)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def compare_optimizers(
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 200,
    lr_sgd: float = 0.01,
    lr_adam: float = 0.1,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train two models on the MSE, one with optim.SGD(lr=lr_sgd), one with optim.Adam(lr=lr_adam).

    Only the step size is set: every other setting of both optimizers keeps its default (no
    momentum, no other betas, no amsgrad). Both start from the weights of
    `torch.manual_seed(seed); LinearRegression()`, and x and y are left as they came. Return
    {"sgd": losses, "adam": losses}: for each, a list (or tuple) of `epochs` Python floats
    (loss.item(), not tensors or numpy arrays), the loss of every epoch taken in its forward
    pass, before that epoch's step.
    """
    raise NotImplementedError("compare_optimizers is not written yet (hint 2.1 in exercises/README.md)")


def epochs_to_reach(losses: list[float], target: float) -> int | None:
    """The index k of the first loss with losses[k] <= target, or None if no loss gets there."""
    raise NotImplementedError("epochs_to_reach is not written yet (hint 2.2 in exercises/README.md)")


def plot_optimizer_comparison(histories: dict[str, list[float]]) -> Figure:
    """Both loss curves on one axes, with axis labels, the loss on a log scale, and a legend; return the figure.

    Lines or scatter plots; the legend (ax.legend() or fig.legend()) names SGD and Adam.
    """
    raise NotImplementedError("plot_optimizer_comparison is not written yet (hint 2.3 in exercises/README.md)")


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
