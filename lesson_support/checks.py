"""The checks a real training run needs, each failing with one sentence that says what to do."""

from __future__ import annotations

import math

import torch
from torch import nn, optim

from lesson_support.closed_form import max_stable_lr


class DivergenceError(RuntimeError):
    """Training whose loss stopped being a finite number."""

    def __init__(self, message: str, epoch: int, lr: float, losses: list[float]) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.lr = lr
        self.losses = losses  # the finite losses recorded before it diverged


def stop_if_diverged(loss: torch.Tensor, epoch: int, lr: float, x: torch.Tensor, losses: list[float]) -> None:
    """Raise DivergenceError when the loss is no longer a finite number, instead of training on nan."""
    value = loss.item()
    if math.isfinite(value):
        return
    hint = ""
    if x.dim() == 2 and x.shape[1] == 1:
        hint = (
            f" (for a line fitted by gradient descent on these inputs, steps below {max_stable_lr(x):.4g} are stable)"
        )
    what = "overflowed to infinity" if math.isinf(value) else "stopped being a number"
    raise DivergenceError(
        f"training diverged at epoch {epoch}: with step size lr={lr:g} the loss {what}; "
        f"use a smaller step size{hint}, or scale the inputs.",
        epoch,
        lr,
        losses,
    )


def check_same_shape(predictions: torch.Tensor, targets: torch.Tensor) -> None:
    """Refuse predictions and targets whose difference would broadcast to a grid."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"the predictions have shape {tuple(predictions.shape)} but the targets are {tuple(targets.shape)}; "
            "make both (n, 1), for example with .view(-1, 1), or the loss broadcasts silently to a grid."
        )


def check_optimizer_holds(model: nn.Module, optimizer: optim.Optimizer) -> None:
    """Refuse an optimizer that was built on another model's parameters: it would step the wrong tensors."""
    held = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
    if not all(id(parameter) in held for parameter in model.parameters()):
        raise ValueError("the optimizer does not hold this model's parameters; build it from model.parameters().")
