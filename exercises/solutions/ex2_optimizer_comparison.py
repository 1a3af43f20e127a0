"""Exercise 2, reference answer: SGD against Adam on the same start.

python -m exercises.solutions.ex2_optimizer_comparison
"""

from __future__ import annotations

import copy
import sys
from typing import TYPE_CHECKING

import torch
from torch import nn, optim

from lesson import LinearRegression, train

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
    """Per-epoch MSE losses of SGD and Adam, both from the weights of torch.manual_seed(seed); LinearRegression()."""
    torch.manual_seed(seed)
    start = LinearRegression()
    histories = {}
    for name, optimizer_class, lr in (("sgd", optim.SGD, lr_sgd), ("adam", optim.Adam, lr_adam)):
        model = copy.deepcopy(start)  # the same weights for both, and the start itself stays untouched
        histories[name] = train(model, x, y, optimizer_class(model.parameters(), lr=lr), epochs, loss_fn=nn.MSELoss())
    return histories


def epochs_to_reach(losses: list[float], target: float) -> int | None:
    """The index of the first loss at most `target`, or None when none gets there."""
    return next((epoch for epoch, loss in enumerate(losses) if loss <= target), None)


def plot_optimizer_comparison(histories: dict[str, list[float]]) -> Figure:
    """Both loss curves on one log-scale axes, labelled, with a legend."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, 3.6), dpi=80)
    ax = fig.add_subplot()
    for name, losses in histories.items():
        ax.plot(range(len(losses)), losses, label=name.upper() if name == "sgd" else name.capitalize())
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss (log scale)")
    ax.set_title("SGD against Adam from the same start")
    ax.legend()
    return fig


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
