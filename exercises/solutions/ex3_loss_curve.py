"""Exercise 3, reference answer: record the loss of every epoch and plot it.

python -m exercises.solutions.ex3_loss_curve
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import torch
from torch import nn, optim

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def train_with_history(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 500, lr: float = 0.01
) -> list[float]:
    """Train `model` in place with SGD on the MSE; return each epoch's loss, taken before its step."""
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return losses


def plot_loss_curve(losses: list[float], path: str | os.PathLike[str] | None = None) -> Figure:
    """The loss against the epoch, labelled; saved as PNG at `path` when one is given."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, 3.6), dpi=80)
    ax = fig.add_subplot()
    ax.plot(range(len(losses)), losses)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (log scale)")
    ax.set_title("the loss curve")
    if path is not None:
        fig.savefig(path, format="png")
    return fig


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
