"""Exercise 4, split, batch, validate, save: its checks, its graded tests and its "run it".

Every check compares with a computation of its own: the row numbers as sets, the mean squared
error in float64, one optim.SGD step worked out by hand for every batch, and the least-squares
plane of the training rows (torch.linalg.lstsq). The model handed to the learner's code is a
LinearRegression(2, 1) that notes, at each call, which rows of x it was given, whether gradients
were being recorded, whether it was in training mode, and its weights at that moment: so the
grader sees the batches, their order and every step, whichever loop or loader made them.
"""

from __future__ import annotations

import contextlib
import itertools
import traceback
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import lesson
from exercises.catalog import BY_NUMBER
from grader.harness import LOSS_RTOL, Answer, close, expect_float, expect_losses, expect_tensor, fail, kind
from grader.messages import unreadable_weights
from grader.run_it import UnusableResult, output_path, run_safely, save_figure, shown_output, told_as_the_checks_tell_it
from grader.run_it import expect_losses as expect_run_losses
from lesson_support.figures import log_scale, new_figure, use_files_only

EXERCISE = BY_NUMBER[4]

TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 32, "lr": 0.1, "seed": 0}  # the contract's defaults
STEP_RTOL = 1e-4  # a recorded step agrees with one SGD step worked out in float64 to this relative tolerance...
STEP_ATOL = 1e-6  # ...or this absolute one
FIT_TOL = 0.05  # the trained plane may differ from least squares on the training rows by this much at any row
SPLIT = (50, 12)  # the split the grader asks for: 50 rows, 12 of them for validation

VALIDATION_GRAD = (
    "gradients were being recorded while the model computed the validation loss: evaluate inside "
    "`with torch.inference_mode():` (or torch.no_grad()), so no autograd graph is built for rows never trained on"
)
NO_EVAL = "the model was in training mode during validation: call model.eval() before computing the validation loss"


def plane_data(n: int, weights: tuple[float, float], bias: float, noise: float, seed: int) -> tuple[torch.Tensor, ...]:
    """n points of y = x·wᵀ + b plus Gaussian noise, x standard normal: x of shape (n, 2), y of shape (n, 1)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    y = x @ torch.tensor([weights]).T + bias + noise * torch.randn(n, 1, generator=generator)
    return x, y


def grader_split(n: int, n_validation: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The grader's own split, made here so the training checks do not depend on the learner's split_rows."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_validation:], order[:n_validation]


def mse64(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """The mean squared error of the plane (weight, bias) on (x, y), in float64."""
    return ((x.double() @ weight.double().T + bias.double() - y.double()) ** 2).mean().item()


def least_squares_plane(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The least-squares weight (1, 2) and bias (1,) of y ≈ x·wᵀ + b, in float64."""
    design = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(design, y.double()).solution.reshape(-1)
    return solution[:-1].reshape(1, -1), solution[-1:]


# --- the model handed to the learner's code ---------------------------------------------------


@dataclass
class Call:
    """One call of the probe: its input, the autograd and training modes, the weights it used, who called it."""

    inputs: np.ndarray
    grad: bool
    training: bool
    weight: torch.Tensor  # float64 (1, 2)
    bias: torch.Tensor  # float64 (1,)
    moved: bool = False  # whether the input went through .to(device) (see `devices_noted`)
    caller: str = ""  # the learner's function that called the model ("validation_loss", ...), if one did


LEARNERS_FUNCTIONS = ("validation_loss", "train_with_validation")  # the exercise's functions that call the model


class OnDevice(torch.Tensor):
    """A tensor that went through .to(device) while the grader watched: the mark of a move, on a CPU-only machine.

    On a machine with a CPU only, .to("cpu") changes nothing that can be measured, so a batch never
    moved would pass unseen; inside `devices_noted` every .to(<a device>) returns its tensor as an
    OnDevice, and what is computed from it stays one, so the probe can tell moved inputs from others.
    """


_marking = [False]  # whether .to(<a device>) marks its result, inside devices_noted


def device_asked(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.device | None:
    """The device a call of .to(...) names, given its arguments after the tensor or module, or None (a dtype alone).

    .to(device), .to("cuda:1"), .to(0), .to(device=...), and .to(other), which takes other's device.
    """
    value = kwargs.get("device")
    if value is None and args:
        first = args[0]
        value = first.device if isinstance(first, torch.Tensor) else first
    if isinstance(value, str | int | torch.device):
        return torch.device(value)
    return None


class _MarkMoves(torch.overrides.TorchFunctionMode):
    """Sees every Tensor.to inside it, a module's .to() on its parameters included (torch's public mode)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if (
            func is torch.Tensor.to
            and _marking[0]
            and isinstance(result, torch.Tensor)
            and not isinstance(result, OnDevice)
            and device_asked(args[1:], kwargs) is not None
        ):
            result = result.as_subclass(OnDevice)
        return result


@contextlib.contextmanager
def devices_noted() -> Iterator[None]:
    """Mark every tensor moved with .to(<a device>) inside the block as an OnDevice."""
    _marking[0] = True
    try:
        with _MarkMoves():
            yield
    finally:
        _marking[0] = False


def unmarked(value: Any) -> Any:
    """What a call returned, with every OnDevice in it (in a list or tuple too) a plain tensor again."""
    if isinstance(value, OnDevice):
        return value.as_subclass(torch.Tensor)
    if isinstance(value, list | tuple):
        return type(value)(unmarked(item) for item in value)
    return value


class Probe(lesson.LinearRegression):
    """A LinearRegression that notes every call in self.calls, and the device that model.to(device) asked for."""

    def __init__(self, *sizes: int) -> None:
        super().__init__(*sizes)
        self.calls: list[Call] = []
        self.moved_to: torch.device | None = None
        self.register_forward_pre_hook(_note_call, with_kwargs=True)

    def to(self, *args: Any, **kwargs: Any) -> Probe:
        device = device_asked(args, kwargs)
        if device is not None:
            self.moved_to = device
        marking, _marking[0] = _marking[0], False  # the parameters themselves are moved, not marked
        try:
            return super().to(*args, **kwargs)
        finally:
            _marking[0] = marking


def probe(seed: int) -> Probe:
    """A LinearRegression(2, 1) that notes every call in model.calls; its state_dict is a LinearRegression's.

    The note is taken by a forward pre-hook, so an exception in the learner's call shows no line of the grader.
    """
    torch.manual_seed(seed)
    return Probe(2, 1)


def _caller() -> str:
    """The innermost of the learner's exercise functions on the stack (by name), or ""."""
    for frame, _ in traceback.walk_stack(None):
        if frame.f_code.co_name in LEARNERS_FUNCTIONS and not frame.f_code.co_filename.startswith(GRADER_FOLDER):
            return frame.f_code.co_name
    return ""


GRADER_FOLDER = str(Path(__file__).parent)


def _note_call(model: nn.Module, inputs: tuple[Any, ...], keywords: dict[str, Any]) -> None:
    given = inputs[0] if inputs else keywords.get("x")  # model(x_batch) or model(x=x_batch)
    x = given if isinstance(given, torch.Tensor) else torch.empty(0)
    model.calls.append(
        Call(
            x.detach().cpu().float().numpy().copy(),
            torch.is_grad_enabled(),
            model.training,
            torch.from_numpy(model.linear.weight.detach().cpu().double().numpy().copy()),
            torch.from_numpy(model.linear.bias.detach().cpu().double().numpy().copy()),
            isinstance(x, OnDevice),
            _caller(),
        )
    )


def _parameters(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    return model.linear.weight.detach().cpu().double().clone(), model.linear.bias.detach().cpu().double().clone()


def _same(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> bool:
    return all(torch.allclose(p, q, rtol=STEP_RTOL, atol=STEP_ATOL) for p, q in zip(a, b, strict=True))


def _rows_of(calls: list[Call], x: torch.Tensor) -> list[list[int]]:
    """The row numbers of x each call was given; fails on an input that is not a row of x."""
    where = {row.tobytes(): k for k, row in enumerate(x.numpy())}
    found = []
    for call in calls:
        rows = [where.get(row.tobytes()) for row in call.inputs] if call.inputs.ndim == 2 else [None]
        if None in rows:
            fail(
                f"the model was called on an input of shape {call.inputs.shape} whose rows are not rows of x. Give it "
                "the rows of x as they are, a batch of shape (batch size, 2), as float32: x[train_rows] in batches."
            )
        found.append(rows)
    return found


# --- split_rows --------------------------------------------------------------------------------


def _split(answer: Answer, n: int, n_validation: int, global_seed: int, **seed: int) -> tuple[list[int], list[int]]:
    torch.manual_seed(global_seed)  # a split drawn from the global random state changes with it
    shown = f"split_rows({n}, {n_validation}{''.join(f', seed={s}' for s in seed.values())})"
    return check_split_rows(answer("split_rows", n, n_validation, **seed), n, n_validation, shown)


def check_split_rows(parts: Any, n: int, n_validation: int, shown: str) -> tuple[list[int], list[int]]:
    """What split_rows returned, as two lists of row numbers; fails naming the first thing wrong with it."""
    if not isinstance(parts, tuple | list) or len(parts) != 2:
        fail(f"{shown} should return two tensors, (train_rows, validation_rows), but it returned {kind(parts)}")
    rows = []
    for name, part in zip(("train_rows", "validation_rows"), parts, strict=True):
        if not isinstance(part, torch.Tensor):
            fail(f"{name} from {shown} should be a tensor of row numbers (torch.randperm gives one), not {kind(part)}")
        if part.dtype == torch.bool:
            fail(
                f"{name} from {shown} is a mask of True and False; return the row numbers themselves, e.g. the "
                "slices of torch.randperm(n, generator=generator)."
            )
        if part.is_floating_point() or part.is_complex() or part.dim() != 1:
            fail(
                f"{name} from {shown} should be a 1-D tensor of integers; it has dtype {part.dtype}, shape "
                f"{tuple(part.shape)}."
            )
        rows.append(part.tolist())
    train, validation = rows
    sizes = (n - n_validation, n_validation)
    if (len(train), len(validation)) == sizes[::-1] != sizes:
        fail(
            f"{shown} returned {len(train)} training rows and {len(validation)} validation rows: the two look "
            "swapped. Return (train_rows, validation_rows), in that order, with n_validation rows in the second."
        )
    for name, part in (("train_rows", train), ("validation_rows", validation)):
        repeated = sorted({row for row in part if part.count(row) > 1})
        if repeated:
            fail(
                f"{name} from {shown} repeats rows {repeated[:5]}: draws such as torch.randint can pick a row twice. "
                f"torch.randperm({n}, generator=...) gives every row number exactly once."
            )
    both = sorted(set(train) & set(validation))
    if both:
        fail(
            f"{shown} puts rows {both[:5]} in both sets; every row belongs to exactly one of them. Take "
            "train_rows and validation_rows as two separate slices of one permutation."
        )
    for name, part, size in zip(("train_rows", "validation_rows"), (train, validation), sizes, strict=True):
        if len(part) != size:
            fail(f"{name} from {shown} holds {len(part)} rows; expected {size} (n_validation={n_validation} of {n}).")
    if sorted(train + validation) != list(range(n)):
        odd = sorted(set(range(n)) - set(train + validation))
        fail(
            f"{shown} should use every row number 0..{n - 1} once; {odd[:5] or 'some'} are missing. "
            f"Permute the row numbers, torch.randperm({n}, generator=...), then cut that one permutation in two."
        )
    return train, validation


def check_split(answer: Answer) -> None:
    n, n_validation = SPLIT
    first = _split(answer, n, n_validation, global_seed=1, seed=3)
    again = _split(answer, n, n_validation, global_seed=2, seed=3)
    if first != again:
        fail(
            f"split_rows({n}, {n_validation}, seed=3) gave two different splits on two calls: it draws from torch's "
            "global random state. Give it its own generator, torch.Generator().manual_seed(seed), and pass "
            "generator=generator to torch.randperm."
        )
    other = _split(answer, n, n_validation, global_seed=1, seed=4)
    if sorted(other[1]) == sorted(first[1]):
        ordered = sorted(first[1]) in (list(range(n_validation)), list(range(n - n_validation, n)))
        why = " and they are the first or last rows: shuffle the row numbers first" if ordered else ""
        fail(
            f"seeds 3 and 4 chose the same validation rows{why}. The seed should decide which rows validate: "
            "torch.randperm(n, generator=torch.Generator().manual_seed(seed))."
        )
    if _split(answer, n, n_validation, global_seed=5) != _split(answer, n, n_validation, global_seed=6, seed=0):
        fail(
            f"split_rows({n}, {n_validation}) and split_rows({n}, {n_validation}, seed=0) differ; keep seed=0 as "
            "the default."
        )
    _split(answer, 9, 3, global_seed=1, seed=0)  # a small split: the sizes are n_validation and n - n_validation


# --- validation_loss ---------------------------------------------------------------------------


def check_validation_loss(answer: Answer, x: torch.Tensor, y: torch.Tensor) -> None:
    model = probe(seed=1)
    model.train()  # as it is at the end of a training epoch
    start = _parameters(model)
    expected = mse64(*start, x, y)
    value = answer("validation_loss", model, x, y)
    if not _same(_parameters(model), start):
        fail("validation_loss changed the model's weights; evaluation only measures: no optimizer step in it.")
    held = [name for name, parameter in model.named_parameters() if parameter.grad is not None]
    if held:
        fail(
            f"validation_loss left gradients in {', '.join(f'{name}.grad' for name in held)}: it called backward(). "
            "An evaluation computes the loss and nothing else, inside `with torch.inference_mode():`."
        )
    if not model.calls:
        fail(
            "validation_loss never called the model; compute model(x) (as model(...), not model.forward(...)) and "
            "its mean squared error against y."
        )
    if any(call.grad for call in model.calls):
        fail(f"In validation_loss, {VALIDATION_GRAD}.")
    if any(call.training for call in model.calls):
        fail(f"In validation_loss, {NO_EVAL}.")
    loss = expect_float(value, "validation_loss(model, x, y)")
    if not close(loss, expected):
        hint = "compute the mean squared error of model(x) against y, e.g. nn.functional.mse_loss(model(x), y)."
        if close(loss, expected * len(x)):
            hint = f"yours is {len(x)} times that, the sum: take the mean (nn.MSELoss() does)."
        elif close(loss, expected**0.5):
            hint = "yours is its square root: return the mean squared error itself."
        elif len(model.calls) > 1 and close(loss, _mean_of_batch_means(model.calls, x, y)):
            sizes = [len(call.inputs) for call in model.calls]
            hint = (
                f"yours is the plain average of the {len(sizes)} batches' means, but the batches hold {sizes} rows, "
                "so a smaller batch counts as much as a full one. Weight each batch by its rows (add up the squared "
                "errors, then divide by len(x)), or compute the loss on all the rows at once."
            )
        fail(
            f"validation_loss(model, x, y) should be the MSE {expected:.6g}, but it returned {loss:.6g} (relative "
            f"tolerance {LOSS_RTOL:g}); {hint}"
        )


def _mean_of_batch_means(calls: list[Call], x: torch.Tensor, y: torch.Tensor) -> float:
    """The unweighted average of each call's own MSE: what averaging per-batch means over unequal batches gives."""
    rows = _rows_of(calls, x)
    return sum(
        mse64(call.weight, call.bias, x[given], y[given]) for call, given in zip(calls, rows, strict=True)
    ) / len(calls)


# --- train_with_validation ---------------------------------------------------------------------


@dataclass
class Epoch:
    steps: list[int]  # indices into the calls: the training batches, with gradients on
    validation: list[int]  # the calls on validation rows after them


def _epochs(
    calls: list[Call], rows: list[list[int]], train: set[int], validation: set[int], batch_size: int
) -> list[Epoch]:
    """The calls cut into epochs: training batches, then the validation calls that follow them.

    A call on all the training rows at once, when batches are smaller, measures the training loss
    and is no batch (even with gradients on); any other call is left out too, but must not be
    followed by a change of the weights.
    """
    check_no_leak(calls, rows, validation)
    epochs = [Epoch([], [])]
    for k, (call, given) in enumerate(zip(calls, rows, strict=True)):
        if set(given) <= validation:
            epochs[-1].validation.append(k)
        elif call.grad and set(given) <= train and not len(given) == len(train) > batch_size:
            if epochs[-1].validation:
                epochs.append(Epoch([], []))
            epochs[-1].steps.append(k)
    return epochs if epochs[-1].steps or epochs[-1].validation else []


def check_no_leak(calls: list[Call], rows: list[list[int]], validation: set[int]) -> None:
    """No call with gradients recorded mixes training rows with validation rows; fails naming the first that does."""
    for k, (call, given) in enumerate(zip(calls, rows, strict=True)):
        if call.grad and set(given) & validation and not set(given) <= validation:
            fail(
                f"a training batch holds validation rows (call {k + 1} of the model mixes rows of both sets): "
                "training saw rows it is later validated on. Build the TensorDataset from x[train_rows] and "
                "y[train_rows] only."
            )


def _gradient(call: Call, rows: list[int], x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of the batch's mean squared error at the call's weights, by the formula, in float64."""
    xb, yb = x[rows].double(), y[rows].double()
    residuals = xb @ call.weight.T + call.bias - yb  # (batch, 1)
    return 2 * residuals.T @ xb / len(rows), 2 * residuals.mean(dim=0)


def _numbers(values: torch.Tensor) -> str:
    return "[" + ", ".join(f"{value:.6g}" for value in values.reshape(-1).tolist()) + "]"


def _explain_step(
    before: tuple[torch.Tensor, torch.Tensor],
    after: tuple[torch.Tensor, torch.Tensor],
    gradient: tuple[torch.Tensor, torch.Tensor],
    summed_gradients: tuple[torch.Tensor, torch.Tensor],
    lr: float,
    size: int,
    where: str,
) -> str:
    def step(scale: float, direction: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(p - scale * g for p, g in zip(before, direction, strict=True))

    expected = step(lr, gradient)
    if _same(after, before):
        return (
            f"{where} left the model unchanged. optimizer.zero_grad() between loss.backward() and optimizer.step() "
            "wipes the gradients before the step uses them, and a missing backward() or step() does the same. Each "
            "batch runs zero_grad, forward, loss, backward, step, in that order."
        )
    if _same(after, step(lr, summed_gradients)):
        return (
            f"{where} used the gradients of all the batches so far, added up: call optimizer.zero_grad() before "
            "every batch's backward()."
        )
    if size > 1 and _same(after, step(lr * size, gradient)):
        return f"{where} was {size} times too long: the loss was summed over the batch; take the mean (nn.MSELoss())."
    moved = torch.cat([(p - q).reshape(-1) for p, q in zip(before, after, strict=True)])
    direction = torch.cat([g.reshape(-1) for g in gradient])
    scale = (moved @ direction / (direction @ direction)).item()
    if _same(after, step(scale, gradient)):
        return (
            f"{where} was a plain gradient step with step size {scale:.4g}, not lr={lr:g}: use "
            "optim.SGD(model.parameters(), lr=lr)."
        )
    return (
        f"{where} should be one step of optim.SGD(model.parameters(), lr={lr:g}) on that batch's mean squared error, "
        f"to weight {_numbers(expected[0])} and bias {_numbers(expected[1])}, but the model went to weight "
        f"{_numbers(after[0])} and bias {_numbers(after[1])} (relative tolerance {STEP_RTOL:g}). Check the "
        "optimizer (plain SGD, no momentum), the loss (nn.MSELoss()) and the order zero_grad, forward, loss, "
        "backward, step."
    )


def check_training(
    answer: Answer, x: torch.Tensor, y: torch.Tensor, n_validation: int, split_seed: int, **settings: Any
) -> None:
    """Train a probe on the grader's split; check batches, modes, every step, every validation loss and the fit."""
    used = {**TRAIN_DEFAULTS, **settings}
    epochs, batch_size, lr = used["epochs"], used["batch_size"], used["lr"]
    train_rows, validation_rows = grader_split(len(x), n_validation, split_seed)
    model = probe(seed=split_seed)
    with devices_noted():
        try:
            value = unmarked(answer("train_with_validation", model, x, y, train_rows, validation_rows, **settings))
        except pytest.fail.Exception as failure:
            culprit = _grad_left_off_by(model.calls)
            if culprit is None:
                raise
            fail(
                f"{culprit}() switched gradients off for the whole program (torch.set_grad_enabled(False), or "
                "torch.no_grad() called without `with`), so the next epoch's batches ran with no gradients recorded "
                "and loss.backward() could not work. Evaluate inside `with torch.inference_mode():`, which ends "
                f"with its block. What the check saw: {failure}"
            )
    shown = f"train_with_validation with {used}"
    calls = model.calls
    if not calls:
        fail(
            f"{shown} never called the model it was given: train `model`, the argument, in place (no copy of it), "
            "calling model(x_batch) for every batch (as model(...), not model.forward(...))."
        )
    rows = _rows_of(calls, x)
    train, validation = set(train_rows.tolist()), set(validation_rows.tolist())
    found = _epochs(calls, rows, train, validation, batch_size)
    if not any(epoch.steps for epoch in found):
        fail(_no_steps(calls, rows, train, batch_size, shown))
    if not any(epoch.validation for epoch in found):
        fail(
            f"{shown} never gave the model the validation rows: the validation loss is the mean squared error on "
            "x[validation_rows] against y[validation_rows], rows the training never sees."
        )
    if not found[0].steps or not found[-1].validation:
        fail(
            f"{shown}: validate at the end of each epoch, after its batches, so that the last loss describes the "
            "trained model; here a validation came before the first batch or the last batches came after it."
        )
    if len(found) < epochs:
        fail(
            f"{shown} ran {len(found)} epochs, each ending with its validation; expected {epochs}. "
            "`for epoch in range(epochs):` runs every one of them (range(1, epochs) runs one fewer)."
        )
    if len(found) > epochs:
        fail(
            f"{shown} computed the validation loss {len(found)} times between batches; expected once after each of "
            f"the {epochs} epochs."
        )
    n_train, sizes = len(train_rows), [batch_size] * (len(train_rows) // batch_size)
    sizes += [n_train % batch_size] if n_train % batch_size else []
    orders = []
    for e, epoch in enumerate(found):
        seen = [row for k in epoch.steps for row in rows[k]]
        if sorted(seen) != sorted(train):
            fail(
                f"In epoch {e}, the training batches held {len(seen)} rows, {len(set(seen))} of them different; "
                f"expected each of the {n_train} training rows once per epoch. One pass over "
                "DataLoader(TensorDataset(x[train_rows], y[train_rows]), ...) is one epoch."
            )
        got = [len(rows[k]) for k in epoch.steps]
        if got != sizes:
            fail(
                f"In epoch {e}, the batches had {got[:8]}{' ...' if len(got) > 8 else ''} rows; with "
                f"batch_size={batch_size} and {n_train} training rows expected {sizes[:8]}"
                f"{' ...' if len(sizes) > 8 else ''} (the last one may be smaller): DataLoader(..., "
                "batch_size=batch_size)."
            )
        seen_validation = [row for k in epoch.validation for row in rows[k]]
        if sorted(seen_validation) != sorted(validation):
            fail(
                f"The validation after epoch {e} gave the model {len(seen_validation)} rows; the validation loss is "
                f"the mean squared error over all {len(validation)} validation rows, x[validation_rows]."
            )
        orders.append(seen)
    if all(order == train_rows.tolist() for order in orders):
        fail(
            "The training rows came in the same order as train_rows in every epoch: they were never shuffled. Give "
            "the DataLoader shuffle=True and generator=torch.Generator().manual_seed(seed)."
        )
    if epochs > 1 and all(order == orders[0] for order in orders):
        fail(
            "The training rows came in one shuffled order, the same in every epoch: shuffle=True in the DataLoader "
            "draws a new order for every epoch (each pass over it)."
        )
    validation_calls = [calls[k] for epoch in found for k in epoch.validation]
    with_grad = [call for call in validation_calls if call.grad]
    if with_grad:
        fail(f"In {with_grad[0].caller or 'train_with_validation'}, {VALIDATION_GRAD}.")
    in_training = [call for call in validation_calls if call.training]
    if in_training:
        fail(f"In {in_training[0].caller or 'train_with_validation'}, {NO_EVAL}.")
    if any(not calls[k].training for epoch in found for k in epoch.steps):
        fail(
            "Some training batches ran with the model in evaluation mode: after model.eval() for the validation, "
            "call model.train() again at the start of every epoch."
        )
    _check_devices(calls, found, model, used.get("device", "cpu"), shown)
    _check_steps(calls, rows, found, model, x, y, lr)
    if value is None:
        fail(f"{shown} returned None: end it with `return losses`, the list of the {epochs} validation losses.")
    losses = expect_losses(value, epochs, "the returned validation losses")
    x_validation, y_validation = x[validation_rows], y[validation_rows]
    for e, (epoch, loss) in enumerate(zip(found, losses, strict=True)):
        at = calls[epoch.validation[0]]
        expected = mse64(at.weight, at.bias, x_validation, y_validation)
        if not close(loss, expected):
            on_training = mse64(at.weight, at.bias, x[train_rows], y[train_rows])
            hint = (
                " That is the loss on the training rows; the validation loss is on x[validation_rows]."
                if close(loss, on_training)
                else " Return validation_loss(model, x[validation_rows], y[validation_rows]) of each epoch, in order."
            )
            fail(
                f"The validation loss after epoch {e} should be {expected:.6g}, the mean squared error of the model at "
                f"that point on the {len(validation)} validation rows, but yours is {loss:.6g} (relative tolerance "
                f"{LOSS_RTOL:g}).{hint}"
            )
    final = _parameters(model)
    own = mse64(*final, x_validation, y_validation)
    if not close(losses[-1], own):
        fail(
            f"The last validation loss is {losses[-1]:.6g}, but the returned model's validation loss is {own:.6g}: "
            "something changed the model after the last validation."
        )
    _check_fit(final, x, y, train_rows, validation_rows, shown)


def _grad_left_off_by(calls: list[Call]) -> str | None:
    """The learner's function that left gradients off: the caller of the validation before a batch ran without them."""
    for before, call in itertools.pairwise(calls):
        if call.training and not call.grad and not before.training and before.caller == "validation_loss":
            return before.caller
    return None


def _no_steps(calls: list[Call], rows: list[list[int]], train: set[int], batch_size: int, shown: str) -> str:
    """Why no call of the model was a training batch: all the training rows at once every time, or no training."""
    full = [k for k, call in enumerate(calls) if call.grad and call.training and set(rows[k]) == train]
    if full and len(train) > batch_size:
        return (
            f"{shown} trained on all {len(train)} training rows at once, one step an epoch: it never used "
            f"mini-batches. The exercise takes one step per batch of batch_size={batch_size} rows: loop over "
            "DataLoader(TensorDataset(x[train_rows], y[train_rows]), batch_size=batch_size, shuffle=True, "
            "generator=...) inside each epoch."
        )
    if not any(call.grad for call in calls):
        return (
            f"{shown} never called the model on training rows with gradients recorded, so it took no step; "
            "`for epoch in range(epochs):` runs every epoch (range(1, epochs) runs one fewer), and each batch's "
            "forward pass, model(x_batch), must feed loss.backward()."
        )
    return (
        f"{shown} never called the model on training rows with gradients recorded; each batch's forward pass, "
        "model(x_batch), must feed loss.backward()."
    )


def _check_devices(calls: list[Call], found: list[Epoch], model: Probe, device: Any, shown: str) -> None:
    """The model and every input it was given went through .to(device), as they must to run on a GPU."""
    told = f"device={str(device)!r}"
    steps = [calls[k] for epoch in found for k in epoch.steps]
    validations = [calls[k] for epoch in found for k in epoch.validation]
    if model.moved_to is None:
        fail(
            f"{shown} never moved the model to `device` ({told}): call model.to(device) once, before building the "
            "optimizer. Here every device is the CPU, so nothing breaks, but on a GPU the model would stay behind."
        )
    if not all(call.moved for call in steps):
        fail(
            f"{shown} moved the model to `device` ({told}) but not the training batches: on a GPU, model(x_batch) "
            "with a batch left on the CPU fails. Move each batch as it comes: x_batch, y_batch = "
            "x_batch.to(device), y_batch.to(device)."
        )
    if not all(call.moved for call in validations):
        fail(
            f"In train_with_validation, the validation rows never went to `device` ({told}), where the model is: on a "
            "GPU, model(x[validation_rows]) with the rows left on the CPU fails. Move them once, before the epochs: "
            "x[validation_rows].to(device), y[validation_rows].to(device)."
        )


def _check_steps(
    calls: list[Call],
    rows: list[list[int]],
    found: list[Epoch],
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float,
) -> None:
    """Every batch moves the model by one SGD step on its own MSE, and nothing else moves it."""
    steps = {k: (e, b) for e, epoch in enumerate(found) for b, k in enumerate(epoch.steps)}
    summed = None
    for k, call in enumerate(calls):
        before = (call.weight, call.bias)
        after = (calls[k + 1].weight, calls[k + 1].bias) if k + 1 < len(calls) else _parameters(model)
        if k not in steps:
            if not _same(after, before) and k + 1 == len(calls):
                fail(
                    "Something changed the model after its last call, the last validation: the last validation loss "
                    "must describe the model train_with_validation leaves, so no step may follow the epochs."
                )
            elif not _same(after, before):
                fail(
                    "The model changed between a validation (or another call without a training batch) and the next "
                    "batch: only a training batch's step may change it; validation computes the loss and nothing else."
                )
            continue
        gradient = _gradient(call, rows[k], x, y)
        summed = gradient if summed is None else tuple(s + g for s, g in zip(summed, gradient, strict=True))
        expected = tuple(p - lr * g for p, g in zip(before, gradient, strict=True))
        if not _same(after, expected):
            e, b = steps[k]
            where = f"The step after batch {b} of epoch {e}"
            fail(_explain_step(before, after, gradient, summed, lr, len(rows[k]), where))


def _check_fit(
    final: tuple[torch.Tensor, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    train_rows: torch.Tensor,
    validation_rows: torch.Tensor,
    shown: str,
) -> None:
    weight, bias = least_squares_plane(x[train_rows], y[train_rows])
    expected = x.double() @ weight.T + bias
    predicted = x.double() @ final[0].T + final[1]
    error = (predicted - expected).abs()
    worst = int(error.argmax())
    if error[worst].item() > FIT_TOL:
        all_weight, all_bias = least_squares_plane(x, y)
        on_all = (predicted - (x.double() @ all_weight.T + all_bias)).abs().max().item() <= FIT_TOL
        hint = (
            "It matches least squares on all the rows: train on the training rows only."
            if on_all
            else "Every step checked out, yet training stopped short of the minimum: a right answer with these "
            "settings ends well within the tolerance."
        )
        fail(
            f"After {shown}, at row {worst} the model predicts {predicted[worst].item():.4f}, but the least-squares "
            f"plane of the training rows gives {expected[worst].item():.4f}: off by {error[worst].item():.3f}, more "
            f"than the {FIT_TOL} allowed. {hint}"
        )


def _step_rows(model: Probe, x: torch.Tensor) -> list[list[int]]:
    return [given for call, given in zip(model.calls, _rows_of(model.calls, x), strict=True) if call.grad]


def check_training_seed(answer: Answer, x: torch.Tensor, y: torch.Tensor, n_validation: int, **settings: Any) -> None:
    """The same seed gives the same batches, whatever torch's global random state; another seed gives others."""
    train_rows, validation_rows = grader_split(len(x), n_validation, seed=0)
    orders = []
    for seed, global_seed in ((3, 1), (3, 2), (4, 1)):
        model = probe(seed=0)
        torch.manual_seed(global_seed)  # a shuffle drawn from the global random state changes with it
        answer("train_with_validation", model, x, y, train_rows, validation_rows, seed=seed, **settings)
        orders.append(_step_rows(model, x))
        shown = f"train_with_validation with {settings}"
        rows = _rows_of(model.calls, x)
        found = _epochs(
            model.calls, rows, set(train_rows.tolist()), set(validation_rows.tolist()), settings["batch_size"]
        )
        if not any(epoch.steps for epoch in found):
            fail(_no_steps(model.calls, rows, set(train_rows.tolist()), settings["batch_size"], shown))
    if orders[0] != orders[1]:
        fail(
            "Two runs with seed=3 gave different batches: the shuffle was drawn from torch's global random state. "
            "Give the DataLoader a generator of its own: DataLoader(..., shuffle=True, "
            "generator=torch.Generator().manual_seed(seed))."
        )
    if orders[0] == orders[2]:
        fail(
            "seeds 3 and 4 gave the same batches: the seed should decide the shuffle, through "
            "generator=torch.Generator().manual_seed(seed)."
        )


# --- save_model and load_model -----------------------------------------------------------------


class UntrustedWeights(OrderedDict):
    """A state_dict pickled as a class of its own: torch.load(..., weights_only=True) refuses to unpickle it."""


def _line(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return lesson.LinearRegression(2, 1)


def _predictions(answer: Answer, model: nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    with torch.no_grad():
        predicted = answer.run(what, model, x)
    return expect_tensor(predicted, (len(x), 1), f"{what}(x) for x of shape {tuple(x.shape)}")


def check_save(answer: Answer, x: torch.Tensor, folder: Path) -> None:
    model = _line(seed=5)
    before = _parameters(model)
    path = folder / "saved_model.pt"
    path.unlink(missing_ok=True)
    answer("save_model", model, path)
    if not _same(_parameters(model), before):
        fail("save_model changed the model's weights; it should only write them to the file.")
    if not path.is_file():
        fail(f"save_model(model, path) should write the file {path}, but no file is there: torch.save(..., path).")
    problem = unreadable_weights(path)
    if problem:
        fail(problem)  # outside the except block in unreadable_weights: torch's own long message is not chained in
    saved = torch.load(path, weights_only=True)
    keys = sorted(model.state_dict())
    if not isinstance(saved, Mapping) or sorted(saved) != keys:
        got = f"the keys {sorted(map(str, saved))}" if isinstance(saved, Mapping) else f"a {type(saved).__name__}"
        fail(
            f"the saved file holds {got}; a LinearRegression's state_dict has the keys {keys}. Save "
            "model.state_dict() itself, not a part of it or a dict around it."
        )
    fresh = lesson.LinearRegression(2, 1)
    try:
        fresh.load_state_dict(saved)
    except RuntimeError as error:
        fail(f"a fresh LinearRegression(2, 1) cannot load the saved weights: {error}")
    with torch.no_grad():
        if not torch.equal(fresh(x), model(x)):
            fail(
                "a fresh model loaded from the saved file predicts differently from the model that was saved: save "
                "the state_dict of the model you were given."
            )


def check_load(answer: Answer, x: torch.Tensor, folder: Path) -> None:
    first, second = _line(seed=6), _line(seed=7)
    paths = folder / "first.pt", folder / "second.pt"
    for model, path in zip((first, second), paths, strict=True):
        torch.save(model.state_dict(), path)
    loaded = []
    for model, path in zip((first, second), paths, strict=True):
        got = answer("load_model", path)
        if not isinstance(got, nn.Module):
            fail(f"load_model(path) should return an nn.Module, a LinearRegression(2, 1), but it returned {kind(got)}")
        with torch.no_grad():
            expected = model(x)
        if not torch.equal(_predictions(answer, got, x, "the loaded model"), expected):
            fail(
                f"the model from load_model({path.name}) does not predict what the saved weights predict: build a "
                "LinearRegression(2, 1) and call model.load_state_dict(torch.load(path, weights_only=True))."
            )
        loaded.append(got)
    if loaded[0] is loaded[1]:
        fail(
            "load_model returned the same model object for two files: build a fresh LinearRegression(2, 1) on every "
            "call, so each loaded model is a model of its own."
        )
    with torch.no_grad():
        if not torch.equal(_predictions(answer, loaded[0], x, "the loaded model"), first(x)):
            fail(
                "loading a second file changed the first loaded model: the two share their weights. Build a fresh "
                "LinearRegression(2, 1) on every call."
            )
    untrusted = folder / "pickled_object.pt"
    torch.save(UntrustedWeights(first.state_dict()), untrusted)
    try:  # called directly: here an exception is the right answer
        answer.module.load_model(untrusted)
    except Exception:
        return
    fail(
        "load_model loaded a file that holds a pickled Python object of a class of its own (a "
        "grader.ex4.UntrustedWeights): unpickling such an object can run any code the file's author chose. Load with "
        "torch.load(path, weights_only=True), which reads tensors, numbers, strings and plain containers (dicts, "
        "lists, tuples) and refuses any other pickled object."
    )


# --- the graded tests: each runs on the learner's file and on the reference ----------------------

GRADER_PLANES = {  # the grader's own data for exercise 4: planes y = x·wᵀ + b plus noise, x standard normal
    "plane": {"n": 200, "weights": (1.5, -2.0), "bias": 0.5, "noise": 0.1, "seed": 21},
    "small plane": {"n": 90, "weights": (-0.8, 2.5), "bias": -1.0, "noise": 0.03, "seed": 22},
}


def _small_plane() -> tuple[torch.Tensor, torch.Tensor]:
    return plane_data(**GRADER_PLANES["small plane"])


def _training_with_other_settings(answer: Answer, folder: Path) -> None:
    settings = {"epochs": 8, "batch_size": 16, "lr": 0.1, "seed": 5, "device": torch.device("cpu")}
    check_training(answer, *_small_plane(), n_validation=20, split_seed=2, **settings)


GRADED = {
    "split": lambda answer, folder: check_split(answer),
    "validation_loss": lambda answer, folder: check_validation_loss(answer, *_small_plane()),
    "training_with_the_defaults": lambda answer, folder: check_training(
        answer, *plane_data(**GRADER_PLANES["plane"]), n_validation=40, split_seed=1
    ),
    "training_with_other_settings": _training_with_other_settings,
    "same_seed_same_batches": lambda answer, folder: check_training_seed(
        answer, *_small_plane(), n_validation=20, epochs=1, batch_size=16
    ),
    "save_model": lambda answer, folder: check_save(answer, _small_plane()[0], folder),
    "load_model": lambda answer, folder: check_load(answer, _small_plane()[0], folder),
}


# --- run it ------------------------------------------------------------------------------------------

PLANE_WEIGHTS = (2.0, -3.4)  # "run it"'s data: d2l's synthetic plane y = x·wᵀ + b plus noise, x standard normal
PLANE_BIAS = 4.2
PLANE_NOISE = 0.01
PLANE_ROWS = 1000


def run_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows "run it" trains on: x of shape (1000, 2), y of shape (1000, 1)."""
    return plane_data(PLANE_ROWS, PLANE_WEIGHTS, PLANE_BIAS, PLANE_NOISE, seed)


def noise_floor(x: torch.Tensor, y: torch.Tensor, train_rows: torch.Tensor, validation_rows: torch.Tensor) -> dict:
    """What no training can beat on these validation rows: their own noise, and the least-squares plane's loss there.

    "own noise" is the true plane's mean squared error on the validation rows, the noise drawn for
    exactly those rows (its expected value is σ², but 200 rows' average strays from it);
    "least squares" is the loss of the best plane the training rows allow, the one training approaches.
    """
    x_validation, y_validation = x[validation_rows], y[validation_rows]
    true_weight, true_bias = torch.tensor([PLANE_WEIGHTS]), torch.tensor([PLANE_BIAS])
    weight, bias = least_squares_plane(x[train_rows], y[train_rows])
    return {
        "own noise": mse64(true_weight, true_bias, x_validation, y_validation),
        "least squares": mse64(weight, bias, x_validation, y_validation),
        "plane": (weight, bias),
    }


REACHED = 1.25  # a last validation loss within this factor of the least-squares plane's has reached it


def where_the_losses_stop(losses: list[float], own: float, best: float, rows: int) -> str:
    """Why the validation losses stop where they do, or, when they stop far above, what that says of the run."""
    floor = (
        f"the true plane itself scores {own:.3g} on these {rows} validation rows, their own noise\n  (σ² = "
        f"{PLANE_NOISE**2:g} is its average over many rows); the least-squares plane of the training rows scores "
        f"{best:.3g} there."
    )
    if losses[-1] <= REACHED * best:
        return (
            f"Why they stop near {own:.2g}: {floor}\n  Training approaches that plane, so more epochs or another step "
            f"size bring the loss to about {best:.3g}, not lower."
        )
    falling = len(losses) >= 3 and losses[-1] < losses[-2] < losses[-3]
    why = (
        "It is still falling: more epochs or a larger step size take it further."
        if falling
        else "It is not settling, as a right loop's does: look at the loop\n  (optimizer.zero_grad() before each "
        "backward(), one step per mini-batch, the batches shuffled each epoch)."
    )
    return (
        f"This run stops far above that plane: its last loss, {losses[-1]:.3g}, is {losses[-1] / best:.3g} times the "
        f"least-squares plane's.\n  For comparison, {floor}\n  {why}"
    )


def run(module: ModuleType, device: str | torch.device = "cpu") -> int:
    """Split, train and validate on 1,000 rows of a plane; print the losses beside the rows' own noise; save, load."""
    x, y = run_data()

    def show() -> None:
        n_validation = len(x) // 5
        split = module.split_rows(len(x), n_validation, seed=0)
        with told_as_the_checks_tell_it():  # an overlapping or uneven split, as the split check tells it
            check_split_rows(split, len(x), n_validation, f"split_rows({len(x)}, {n_validation}, seed=0)")
        train_rows, validation_rows = split
        plane = f"x·[{PLANE_WEIGHTS[0]:g}, {PLANE_WEIGHTS[1]:g}]ᵀ + {PLANE_BIAS:g}"
        print(f"{len(x)} rows of y = {plane} plus noise (σ {PLANE_NOISE:g}); your split_rows gives")
        print(f"  {len(train_rows)} training rows and {len(validation_rows)} validation rows")
        model = probe(lesson.SEED)  # a LinearRegression(2, 1) that notes the rows of every batch
        losses = module.train_with_validation(model, x, y, train_rows, validation_rows, device=device)
        try:
            rows = _rows_of(model.calls, x)
        except pytest.fail.Exception:  # inputs that are not rows of x: no batch this run can judge
            rows = None
        if rows is not None:
            with told_as_the_checks_tell_it():  # a batch holding validation rows, as the training checks tell it
                check_no_leak(model.calls, rows, set(validation_rows.tolist()))
        losses = expect_run_losses(losses, "the value train_with_validation returned")
        floor = noise_floor(x, y, train_rows, validation_rows)
        print(f"Validation loss after each of {len(losses)} epochs, on {device}:")
        print("  " + "  ".join(f"{loss:.3g}" for loss in losses))
        weight, bias = model.linear.weight.detach().cpu().reshape(-1).tolist(), model.linear.bias.item()
        solution = [*floor["plane"][0].reshape(-1).tolist(), floor["plane"][1].item()]
        print(f"  trained:       w = [{weight[0]:.4f}, {weight[1]:.4f}]  b = {bias:.4f}")
        print(f"  least squares: w = [{solution[0]:.4f}, {solution[1]:.4f}]  b = {solution[2]:.4f} (training rows)")
        print(where_the_losses_stop(losses, floor["own noise"], floor["least squares"], len(validation_rows)))

        path = output_path("ex4_model.pt")
        module.save_model(model, path)
        problem = unreadable_weights(path)  # told here, or load_model would take the blame for save_model's file
        if problem:
            raise UnusableResult(problem)
        loaded = module.load_model(path)
        with torch.no_grad():
            difference = (loaded(x).cpu() - model(x.to(device)).cpu()).abs().max().item()
        same = "are identical" if difference == 0 else f"differ by at most {difference:.3g}"
        print(f"model saved: {shown_output(path)}; load_model gives a new model whose predictions {same}")

        use_files_only()
        fig, (ax,) = new_figure(width=5.4, height=3.6)
        fig.subplots_adjust(left=0.2)  # room for tick labels such as 0.0001
        ax.plot(range(1, len(losses) + 1), losses, "o-", label="validation loss")
        ax.axhline(floor["own noise"], color="0.5", linestyle="--", label="the validation rows' own noise")
        log_scale(ax)
        ax.locator_params(axis="x", integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation MSE (log scale)")
        ax.set_title("the validation loss after each epoch")
        ax.legend()
        save_figure(fig, "ex4_validation_loss")

    return run_safely(EXERCISE, module, show)
