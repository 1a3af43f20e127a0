"""Loss histories, shared by exercises 2 and 3: the reference loop, the likely mistakes, the first epoch that differs.

Every history is checked against `reference_history`, a plain torch.optim loop from the same
start; a history that leaves it is explained by the epoch where it first differs and by replays
of the mistakes learners make (another optimizer, no zero_grad, a summed loss, momentum, swapped
step sizes), each replayed only when the ones before it did not match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn, optim

import lesson
from grader.harness import LOSS_RTOL, Answer, close, fail, non_default_settings, same_losses

NO_STEP_HINT = (
    "Every loss is the same, so no step changed the model. Either the optimizer holds another model's parameters "
    "(build it from the trained model's .parameters(), after that model exists), or optimizer.zero_grad() between "
    "loss.backward() and optimizer.step() wipes the gradients before the step uses them, or backward() or step() "
    "is missing. Each epoch runs zero_grad, forward, loss, backward, step, in that order."
)


def settings_problem(
    answer: Answer, asked: type[optim.Optimizer], what: str, allowed: tuple[type[optim.Optimizer], ...] = ()
) -> str:
    """Why the optimizers the last call stepped with are not what was asked, in a sentence; "" if they are.

    Names a class outside `allowed` (by default `asked` alone), or a setting beyond lr on one of class `asked`.
    """
    allowed = allowed or (asked,)
    for optimizer in answer.optimizers:
        if type(optimizer) not in allowed:
            names = " and ".join(f"optim.{kind.__name__}" for kind in allowed)
            return (
                f"{what}: your code trained with optim.{type(optimizer).__name__}, which the exercise does not "
                f"ask for; use {names}, with only the step size set."
            )
        settings = non_default_settings(optimizer) if type(optimizer) is asked else []
        if settings:
            name = asked.__name__
            return (
                f"{what} comes from optim.{name} built with {', '.join(settings)}. The exercise asks for plain "
                f"{name}, with only the step size set: optim.{name}(model.parameters(), lr=...)."
            )
    return ""


def explain_history(
    got: list[float],
    expected: list[float],
    what: str,
    start_hint: str,
    alternatives: Callable[[], Iterator[tuple[str, Callable[[], list[float]]]]],
    points: int,
    settings_hint: str = "",
) -> None:
    """Fail with the first epoch where a loss history leaves the reference, and the cause that epoch points to.

    A wrong start or loss shows at epoch 0, a wrong step size or optimizer at epoch 1 (the first
    step), a missing zero_grad at epoch 2 (the first step that would add to an old gradient).
    `alternatives` lists the likely mistakes with a replay of each; the first one the history
    matches is named (each is replayed only when the ones before it did not match). `settings_hint`
    names a setting the learner's optimizer was built with; it explains a history that leaves the
    reference after the first epoch when no replay matched.
    """
    k = next((k for k, (a, b) in enumerate(zip(got, expected, strict=True)) if not close(a, b)), None)
    if k is None:
        return
    named = next((cause for cause, replay in alternatives() if same_losses(got, replay())), None)
    if named:
        hint = named
    elif k > 0 and all(close(loss, got[0]) for loss in got):
        hint = NO_STEP_HINT
    elif len(got) > 2 and all(close(a, b) for a, b in zip(got[:-1], expected[1:], strict=True)):
        hint = "Your losses are one epoch late: record each loss in its forward pass, before optimizer.step()."
    elif k == 0 and close(got[0], points * expected[0]):
        hint = f"Your first loss is {points} times the expected one: you summed the squared errors; take their mean."
    elif k == 0:
        hint = start_hint
    elif settings_hint:
        hint = settings_hint
    elif k == 1:
        hint = (
            "The first loss matches, so the start and the loss are right; the first step is not. Check the "
            "optimizer class and its step size lr."
        )
    else:
        hint = (
            f"The losses agree up to epoch {k - 1}, so the start and the first step are right, but something "
            "carries over from one step to the next. Check that optimizer.zero_grad() runs every epoch and that "
            "the optimizer has no extra settings such as momentum."
        )
    fail(
        f"{what}: at epoch {k} the loss should be {expected[k]:.6g}, but yours is {got[k]:.6g} "
        f"(relative tolerance {LOSS_RTOL:g}). {hint}"
    )


def reference_history(
    x: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    optimizer_class: type[optim.Optimizer],
    lr: float,
    epochs: int,
    *,
    zero_grad: bool = True,
    reduction: str = "mean",
    **optimizer_options: float,
) -> list[float]:
    """The plain loop every history is checked against: zero_grad, forward, loss, backward, step.

    Trains `model` in place and returns its losses. A run already made from the same data, start
    and settings is not made again: its losses and final parameters are reused.
    """
    tensors = (x, y, *model.parameters())
    key = (
        *((tensor.dtype, tensor.shape, tensor.detach().numpy().tobytes()) for tensor in tensors),
        optimizer_class,
        lr,
        epochs,
        zero_grad,
        reduction,
        tuple(sorted(optimizer_options.items())),
    )
    if key not in _reference_runs:
        optimizer = optimizer_class(model.parameters(), lr=lr, **optimizer_options)
        losses = []
        for _ in range(epochs):
            if zero_grad:
                optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y, reduction=reduction)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        _reference_runs[key] = (losses, [parameter.detach().clone() for parameter in model.parameters()])
    losses, trained = _reference_runs[key]
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), trained, strict=True):
            parameter.copy_(value)
    return list(losses)


_reference_runs: dict[tuple[Any, ...], tuple[list[float], list[torch.Tensor]]] = {}


def seeded_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return lesson.LinearRegression()


def line_data(
    points: int, slope: float, intercept: float, noise: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = 4 * torch.rand(points, 1, generator=generator)
    return x, slope * x + intercept + noise * torch.randn(points, 1, generator=generator)


OPTIMIZERS = {"SGD": optim.SGD, "Adam": optim.Adam}
MOMENTUM = 0.9  # the momentum learners reach for


def likely_mistakes(
    x: torch.Tensor, y: torch.Tensor, seed: int, asked: str, lr: float, other_lr: float | None, epochs: int
) -> Callable[[], Iterator[tuple[str, Callable[[], list[float]]]]]:
    """The mistakes a learner makes with `asked` (SGD or Adam) at step size lr: each diagnosis with its replay."""

    def replay(name: str, rate: float, **options: Any) -> Callable[[], list[float]]:
        return lambda: reference_history(x, y, seeded_model(seed), OPTIMIZERS[name], rate, epochs, **options)

    def mistakes() -> Iterator[tuple[str, Callable[[], list[float]]]]:
        other = next(name for name in OPTIMIZERS if name != asked)
        yield f"It matches {other} at lr {lr:g}, not {asked}: build optim.{asked} for this run.", replay(other, lr)
        yield (
            f"It matches {asked} without optimizer.zero_grad(): gradients add up from epoch to epoch; call "
            "optimizer.zero_grad() at the start of every epoch.",
            replay(asked, lr, zero_grad=False),
        )
        yield (
            f"It matches {asked} on a summed loss instead of the mean: use nn.MSELoss() (or .mean()), not .sum() "
            "or reduction='sum' (the old size_average=False sums too).",
            replay(asked, lr, reduction="sum"),
        )
        if asked == "SGD":
            yield (
                f"It matches SGD with momentum {MOMENTUM:g}: momentum carries part of each step into the next. "
                f"Use plain optim.SGD(model.parameters(), lr={lr:g}), with no momentum.",
                replay(asked, lr, momentum=MOMENTUM),
            )
        if other_lr is not None and other_lr != lr:
            yield (
                f"It matches {other} at lr {other_lr:g}: the two runs look swapped; '{asked.lower()}' should hold "
                f"optim.{asked} at lr {lr:g}.",
                replay(other, other_lr),
            )
            yield (
                f"It matches {asked} at lr {other_lr:g}, the step size meant for {other}; use lr {lr:g}.",
                replay(asked, other_lr),
            )

    return mistakes
