"""Exercise 3: record the loss of every epoch, then plot the loss curve.

Write the two functions below, then:

    python -m exercises.ex3_loss_curve   # trains on the distance/time data, saves the curve
    python -m pytest -m ex3              # checks them

(Your editor's Run button on this file does the same as the first command.)

Hints are in exercises/README.md, under "Exercise 3".
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import torch
from torch import nn, optim  # noqa: F401  (you will want them)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def train_with_history(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 500, lr: float = 0.01
) -> list[float]:
    """Train `model` in place with optim.SGD(lr=lr), no other settings, on the mean squared error.

    Leave x and y as they came. Return a list (or tuple) of `epochs` Python floats (loss.item(),
    not tensors or numpy arrays): the loss of every epoch, taken in its forward pass, before that
    epoch's optimizer step.
    """
    raise NotImplementedError("train_with_history is not written yet (hint 3.1 in exercises/README.md)")


def plot_loss_curve(losses: list[float], path: str | os.PathLike[str] | None = None) -> Figure:
    """A figure of the loss (y) against the epoch (x), a line or a scatter plot, with axis labels.

    If `path` is given, save this figure there as PNG once it is drawn (fig.savefig(path)). Return the figure.
    """
    raise NotImplementedError("plot_loss_curve is not written yet (hint 3.2 in exercises/README.md)")


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
