"""The checks a real training run needs, each failing with one sentence that says what to do."""

from __future__ import annotations

import math

import torch
from torch import nn, optim

from lesson_support.closed_form import curvatures, max_stable_lr, round_down


class DivergenceError(RuntimeError):
    """Training whose loss stopped being a finite number."""

    def __init__(self, message: str, epoch: int, lr: float, losses: list[float]) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.lr = lr
        self.losses = losses  # the finite losses recorded before it diverged


def _advice(x: torch.Tensor) -> str:
    hint = ""
    if x.dim() == 2 and x.shape[1] == 1:
        hint = (
            " (for a line fitted by plain full-batch gradient descent on these inputs, steps below "
            f"{round_down(max_stable_lr(x)):g} are stable)"
        )
    return f"use a smaller step size{hint}, or scale the inputs."


def stop_if_diverged(loss: torch.Tensor, epoch: int, lr: float, x: torch.Tensor, losses: list[float]) -> None:
    """Raise DivergenceError when the loss is no longer a finite number, instead of training on nan."""
    value = loss.item()
    if math.isfinite(value):
        return
    what = "overflowed to infinity" if math.isinf(value) else "stopped being a number"
    raise DivergenceError(
        f"training diverged at epoch {epoch}: with step size lr={lr:g} the loss {what}; {_advice(x)}",
        epoch,
        lr,
        losses,
    )


def stop_if_growing(loss: torch.Tensor, epoch: int, lr: float, x: torch.Tensor, losses: list[float]) -> None:
    """Raise DivergenceError when the loss has risen above where it started.

    Below 2/λmax, plain full-batch gradient descent on a line's MSE lowers the loss at every step,
    so a loss above the first one means the steps are too large, long before it overflows.
    """
    stop_if_diverged(loss, epoch, lr, x, losses)
    value = loss.item()
    if losses and value > losses[0]:
        raise DivergenceError(
            f"training diverged at epoch {epoch}: with step size lr={lr:g} the loss grew from {losses[0]:.4g} "
            f"to {value:.4g}; {_advice(x)}",
            epoch,
            lr,
            losses,
        )


def stop_if_cannot_converge(lr: float, x: torch.Tensor, losses: list[float]) -> None:
    """Raise DivergenceError after a plain full-batch descent whose step size is at or above 2/λmax."""
    if lr < max_stable_lr(x):
        return
    factor = 1 - lr * curvatures(x)[1]
    what = "grows" if abs(factor) >= 1.00005 else "keeps its size"  # as far as four decimals show
    raise DivergenceError(
        f"training cannot converge: with step size lr={lr:g}, at or above 2/λmax, each step multiplies the error "
        f"along the steepest direction by {factor:.4f}, so it {what} (the loss went from "
        f"{losses[0]:.4g} to {losses[-1]:.4g} in {len(losses)} epoch{'s' * (len(losses) != 1)}); {_advice(x)}",
        len(losses) - 1,
        lr,
        losses,
    )


def check_same_shape(predictions: torch.Tensor, targets: torch.Tensor) -> None:
    """Refuse predictions and targets whose difference would broadcast to a grid."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"the predictions have shape {tuple(predictions.shape)} but the targets are {tuple(targets.shape)}; "
            "make both (n, 1), for example with .view(-1, 1); otherwise the difference broadcasts to a grid "
            "and the loss is wrong."
        )


def check_optimizer_holds(model: nn.Module, optimizer: optim.Optimizer) -> None:
    """Refuse an optimizer that was built on another model's parameters: it would step the wrong tensors."""
    held = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
    if not all(id(parameter) in held for parameter in model.parameters()):
        raise ValueError("the optimizer does not hold this model's parameters; build it from model.parameters().")
