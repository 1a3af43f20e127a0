"""The grader of exercise 4 itself: each mistake fails with a message naming it; right answers written otherwise pass.

Every answer here is constructed from the reference solution; no test reads the learner's file.
"""

from __future__ import annotations

import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

import lesson
from exercises.solutions import ex4_train_validate_save as solution
from grader import ex4, harness
from grader.harness import Answer

Failed = pytest.fail.Exception
Skipped = pytest.skip.Exception
pytestmark = pytest.mark.usefixtures("in_a_scratch_folder")  # no test here writes into the repository

DATA = {"n": 48, "weights": (1.0, -0.5), "bias": 0.3, "noise": 0.03, "seed": 31}  # small, so each run is quick
SETTINGS = {"epochs": 4, "batch_size": 8, "lr": 0.2, "seed": 1}  # 40 training rows: 5 batches an epoch, 20 steps
WRONG_SETTINGS = {**SETTINGS, "epochs": 2}  # a mistake shows by the second epoch; only a right answer needs all four
N_VALIDATION = 8


def answer(**replaced: object) -> Answer:
    """The reference solution with some functions replaced, as a learner's file."""
    module = types.ModuleType("variant_of_ex4")
    module.__dict__.update({name: getattr(solution, name) for name in dir(solution) if not name.startswith("__")})
    module.__dict__.update(replaced)
    return Answer(4, module, yours=True)


def expect_failure(check: object, *args: object, hint: str, **kwargs: object) -> str:
    with pytest.raises(Failed) as caught:
        check(*args, **kwargs)
    message = str(caught.value)
    assert hint in message, f"the message should contain {hint!r}; it was: {message}"
    assert "Traceback" not in message and "grader/" not in message, message
    return message


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return ex4.plane_data(**DATA)


def test_a_stub_is_not_attempted(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    def stub(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("train_with_validation is not written yet")

    with pytest.raises(Skipped, match=r"^exercise 4: train_with_validation is not written yet$"):
        ex4.check_training(answer(train_with_validation=stub), *data, N_VALIDATION, 0, **SETTINGS)


# --- split_rows --------------------------------------------------------------------------------


def overlapping_split(n, n_validation, seed=0):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n - n_validation], order[n - n_validation - 1 : n - 1]  # one row in both, the last row in neither


def unseeded_split(n, n_validation, seed=0):
    order = torch.randperm(n)
    return order[n_validation:], order[:n_validation]


def ordered_split(n, n_validation, seed=0):
    rows = torch.arange(n)
    return rows[: n - n_validation], rows[n - n_validation :]


def fixed_seed_split(n, n_validation, seed=0):
    return solution.split_rows(n, n_validation, seed=0)


def mask_split(n, n_validation, seed=0):
    validation = torch.zeros(n, dtype=torch.bool)
    validation[solution.split_rows(n, n_validation, seed)[1]] = True
    return ~validation, validation


def overlapping_sized_wrong_split(n, n_validation, seed=0):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_validation - 5 :], order[:n_validation]  # five rows in both, so the training part is too long


def drawn_with_replacement_split(n, n_validation, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (n - n_validation,), generator=generator), torch.randint(0, n, (n_validation,))


def swapped_split(n, n_validation, seed=0):
    train_rows, validation_rows = solution.split_rows(n, n_validation, seed)
    return validation_rows, train_rows


def fraction_split(n, n_validation, seed=0):
    return solution.split_rows(n, int(0.2 * n), seed)  # n_validation read as a fraction of its own


def numbered_from_one_split(n, n_validation, seed=0):
    train_rows, validation_rows = solution.split_rows(n, n_validation, seed)
    return train_rows + 1, validation_rows + 1  # the rows numbered 1..n, as a spreadsheet numbers them


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (overlapping_split, "in both sets; every row belongs to exactly one of them"),
        (overlapping_sized_wrong_split, "in both sets; every row belongs to exactly one of them"),
        (drawn_with_replacement_split, "torch.randperm(50, generator=...) gives every row number exactly once"),
        (swapped_split, "the two look swapped. Return (train_rows, validation_rows), in that order"),
        (unseeded_split, "gave two different splits on two calls: it draws from torch's global random state"),
        (ordered_split, "chose the same validation rows and they are the first or last rows"),
        (fixed_seed_split, "seeds 3 and 4 chose the same validation rows. The seed should decide"),
        (mask_split, "is a mask of True and False"),
        (fraction_split, "holds 40 rows; expected 38 (n_validation=12 of 50)"),
        (numbered_from_one_split, "should use every row number 0..49 once; [0] are missing"),
        (lambda n, n_validation, seed=0: [list(range(n - n_validation)), []], "not a list"),
        (lambda n, n_validation, seed=0: None, "it returned None. Does the function end with a return statement?"),
    ],
)
def test_a_wrong_split_fails(variant: object, hint: str) -> None:
    expect_failure(ex4.check_split, answer(split_rows=variant), hint=hint)


def sorted_split(n, n_validation, seed=0):
    """Another right answer: the validation rows drawn first, both sets sorted, as int32."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator, dtype=torch.int32)
    return order[n_validation:].sort().values, order[:n_validation].sort().values


def test_another_right_split_passes() -> None:
    ex4.check_split(answer(split_rows=sorted_split))


# --- validation_loss ---------------------------------------------------------------------------


def evaluation(*, eval_mode=True, no_grad=True, item=True, summed=False, backward=False):
    def validation_loss(model, x, y):
        if eval_mode:
            model.eval()
        with torch.inference_mode(mode=no_grad):
            loss = nn.functional.mse_loss(model(x), y, reduction="sum" if summed else "mean")
        if backward:
            loss.backward()
        return loss.item() if item else loss

    return validation_loss


WRONG_EVALUATIONS = [
    (evaluation(eval_mode=False), "the model was in training mode during validation: call model.eval()"),
    (evaluation(no_grad=False), "gradients were being recorded while the model computed the validation loss"),
    (evaluation(item=False), "is a tensor, not a float; return loss.item()"),
    (evaluation(summed=True), "times that, the sum: take the mean"),
    (evaluation(no_grad=False, backward=True), "left gradients in linear.weight.grad, linear.bias.grad"),
]


def test_a_loss_of_the_wrong_kind_is_named() -> None:
    with_graph = torch.ones((), requires_grad=True) * 2  # as a loss computed with gradients recorded is
    expect_failure(harness.expect_float, with_graph, "the loss", hint="tensor, not a float; return loss.item()")
    expect_failure(harness.expect_float, with_graph, "the loss", hint="This one still requires grad")
    expect_failure(harness.expect_float, True, "the loss", hint="should be a float, but it is a bool")
    assert harness.expect_float(np.float32(0.5), "the loss") == 0.5


@pytest.mark.parametrize(("variant", "hint"), WRONG_EVALUATIONS)
def test_a_wrong_validation_loss_fails(variant: object, hint: str, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    message = expect_failure(ex4.check_validation_loss, answer(validation_loss=variant), *data, hint=hint)
    others = [h for v, h in WRONG_EVALUATIONS if v is not variant and h in message]
    assert not others, f"the message also names another mistake, {others}: {message}"


def batched_no_grad_loss(model, x, y):
    """Another right answer: torch.no_grad(), the squared errors summed over batches of 5, then divided."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), 5):
            total += ((model(x[start : start + 5]) - y[start : start + 5]) ** 2).sum().item()
    return total / len(x)


def test_another_right_validation_loss_passes(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    ex4.check_validation_loss(answer(validation_loss=batched_no_grad_loss), *data)


# --- train_with_validation ---------------------------------------------------------------------


def trainer(
    *,
    all_rows=False,
    shuffle=True,
    seeded=True,
    fixed_seed=False,
    once=False,
    eval_mode=True,
    train_each_epoch=True,
    no_grad=True,
    item=True,
    validate_first=False,
    zero_grad=True,
    summed=False,
    own_lr=None,
    optimizer_class=optim.SGD,
    copy_model=False,
    own_batch_size=None,
    drop_last=False,
    training_loss=False,
    one_validation_batch=False,
    move_model=True,
    move_batches=True,
    move_validation=True,
    full_batch=False,
    epochs_run=lambda epochs: epochs,
    global_grad_off=False,
    batch_losses=False,
):
    """A learner's train_with_validation, with one of the mistakes learners make switched on."""

    def train_with_validation(
        model, x, y, train_rows, validation_rows, epochs=10, batch_size=32, lr=0.1, seed=0, device="cpu"
    ):
        if copy_model:
            model = lesson.LinearRegression(2, 1)
        if move_model:
            model.to(device)
        rows = torch.arange(len(x)) if all_rows else train_rows
        if once:
            rows = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))]
        generator = torch.Generator().manual_seed(0 if fixed_seed else seed) if seeded else None
        batches = DataLoader(
            TensorDataset(x[rows], y[rows]),
            batch_size=own_batch_size or batch_size,
            shuffle=shuffle and not once,
            generator=generator,
            drop_last=drop_last,
        )
        if full_batch:
            batches = [(x[rows], y[rows])]
        x_validation, y_validation = x[validation_rows], y[validation_rows]
        if move_validation:
            x_validation, y_validation = x_validation.to(device), y_validation.to(device)
        if one_validation_batch:
            x_validation, y_validation = x_validation[:4], y_validation[:4]
        if training_loss:
            x_validation, y_validation = x[train_rows], y[train_rows]
        optimizer = optimizer_class(model.parameters(), lr=own_lr or lr)
        losses = []

        def validate():
            if eval_mode:
                model.eval()
            if global_grad_off:
                torch.set_grad_enabled(False)  # the learner's slip: for the whole program, not a block
            with torch.inference_mode(mode=no_grad):
                loss = nn.functional.mse_loss(model(x_validation), y_validation)
            losses.append(loss.item() if item else loss)

        model.train()
        for _ in range(epochs_run(epochs)):
            if validate_first:
                validate()
            if train_each_epoch:
                model.train()
            for x_batch, y_batch in batches:
                if move_batches:
                    x_batch, y_batch = x_batch.to(device), y_batch.to(device)
                if zero_grad:
                    optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(x_batch), y_batch, reduction="sum" if summed else "mean")
                loss.backward()
                optimizer.step()
                if batch_losses:
                    losses.append(loss.item())  # the learner's slip: the training loss of every batch kept too
            if not validate_first:
                validate()
        return losses

    return train_with_validation


def no_return(model, x, y, train_rows, validation_rows, **settings):
    solution.train_with_validation(model, x, y, train_rows, validation_rows, **settings)


def losses_of_training_rows(model, x, y, train_rows, validation_rows, **settings):
    """Validated right, but the list it returns holds each epoch's loss on the training rows."""
    losses = []
    for _ in range(settings.pop("epochs")):
        solution.train_with_validation(model, x, y, train_rows, validation_rows, epochs=1, **settings)
        losses.append(solution.validation_loss(model, x[train_rows], y[train_rows]))
        settings["seed"] += 1
    return losses


def stepping_after_the_last_validation(model, x, y, train_rows, validation_rows, lr=0.1, **settings):
    losses = solution.train_with_validation(model, x, y, train_rows, validation_rows, lr=lr, **settings)
    optim.SGD(model.parameters(), lr=lr).step()  # the last batch's gradients are still there: one step too many
    return losses


WRONG_TRAINING = [
    (trainer(all_rows=True), "a training batch holds validation rows"),
    (trainer(shuffle=False), "in every epoch: they were never shuffled"),
    (trainer(once=True), "one shuffled order, the same in every epoch"),
    (trainer(no_grad=False), "gradients were being recorded while the model computed the validation loss"),
    (trainer(eval_mode=False), "the model was in training mode during validation: call model.eval()"),
    (trainer(train_each_epoch=False), "call model.train() again at the start of every epoch"),
    (trainer(item=False), "is a tensor, not a float; append loss.item()"),
    (trainer(validate_first=True), "validate at the end of each epoch, after its batches"),
    (trainer(zero_grad=False), "used the gradients of all the batches so far, added up"),
    (trainer(summed=True), "was 8 times too long: the loss was summed over the batch"),
    (trainer(own_lr=0.05), "a plain gradient step with step size 0.05, not lr=0.2"),
    (trainer(optimizer_class=optim.Adam), "should be one step of optim.SGD(model.parameters(), lr=0.2)"),
    (trainer(copy_model=True), "never called the model it was given: train `model`, the argument, in place"),
    (trainer(own_batch_size=16), "with batch_size=8 and 40 training rows expected [8, 8, 8, 8, 8]"),
    (trainer(drop_last=True, own_batch_size=16), "expected each of the 40 training rows once per epoch"),
    (trainer(training_loss=True), "never gave the model the validation rows"),
    (
        trainer(one_validation_batch=True),
        "gave the model 4 rows; the validation loss is the mean squared error over all",
    ),
    (no_return, "returned None: end it with `return losses`"),
    (trainer(move_model=False), "never moved the model to `device` (device='cpu'): call model.to(device) once"),
    (trainer(move_batches=False), "moved the model to `device` (device='cpu') but not the training batches"),
    (trainer(move_validation=False), "In train_with_validation, the validation rows never went to `device`"),
    (
        trainer(full_batch=True),
        "trained on all 40 training rows at once, one step an epoch: it never used mini-batches",
    ),
    (trainer(epochs_run=lambda epochs: epochs - 1), "ran 1 epochs, each ending with its validation; expected 2"),
    (trainer(batch_losses=True), f"entries; expected one per epoch, {WRONG_SETTINGS['epochs']}."),
    (losses_of_training_rows, "That is the loss on the training rows; the validation loss is on x[validation_rows]"),
    (stepping_after_the_last_validation, "Something changed the model after its last call, the last validation"),
]


@pytest.mark.parametrize(("variant", "hint"), WRONG_TRAINING)
def test_a_wrong_training_fails(variant: object, hint: str, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    wrong = answer(train_with_validation=variant)
    message = expect_failure(ex4.check_training, wrong, *data, N_VALIDATION, 0, **WRONG_SETTINGS, hint=hint)
    others = [h for v, h in WRONG_TRAINING if v is not variant and h in message]
    assert not others, f"the message also names another mistake, {others}: {message}"


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (
            trainer(seeded=False),
            "Two runs with seed=3 gave different batches: the shuffle was drawn from torch's global",
        ),
        (trainer(fixed_seed=True), "seeds 3 and 4 gave the same batches"),
    ],
)
def test_an_unseeded_shuffle_fails(variant: object, hint: str, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    settings = {"epochs": 1, "batch_size": 8}
    expect_failure(
        ex4.check_training_seed,
        answer(train_with_validation=variant),
        *data,
        N_VALIDATION,
        **settings,
        hint=hint,
    )


def own_loop(model, x, y, train_rows, validation_rows, epochs=10, batch_size=32, lr=0.1, seed=0, device="cpu"):
    """A right answer without a DataLoader: a seeded randperm each epoch, slices, model(x=...), the MSE by hand."""
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        model.train()
        order = train_rows[torch.randperm(len(train_rows), generator=generator)]
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            ((model(x=x[batch].to(device)) - y[batch].to(device)) ** 2).mean().backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            x_validation, y_validation = x[validation_rows].to(device), y[validation_rows].to(device)
            losses.append(((model(x_validation) - y_validation) ** 2).mean().item())
    return losses


def with_lesson_train(model, x, y, train_rows, validation_rows, epochs=10, batch_size=32, lr=0.1, seed=0, device="cpu"):
    """A right answer that moves all the data first, takes each step with lesson.train and evaluates in batches."""
    model, x, y = model.to(device), x.to(device), y.to(device)
    generator = torch.Generator().manual_seed(seed)
    batches = DataLoader(TensorDataset(x[train_rows], y[train_rows]), batch_size, shuffle=True, generator=generator)
    validation = DataLoader(TensorDataset(x[validation_rows], y[validation_rows]), batch_size=3)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        model.train()
        for x_batch, y_batch in batches:
            lesson.train(model, x_batch, y_batch, optimizer, 1)
        model.eval()
        with torch.inference_mode():
            total = sum(nn.functional.mse_loss(model(xb), yb, reduction="sum").item() for xb, yb in validation)
        losses.append(total / len(validation_rows))
    return losses


def with_training_loss(model, x, y, train_rows, validation_rows, **settings):
    """A right answer that also measures the loss on all the training rows after each epoch (with gradients on)."""
    epochs, seed = settings.pop("epochs", 10), settings.pop("seed", 0)
    generator = torch.Generator().manual_seed(seed)
    losses, training_losses = [], []
    for _ in range(epochs):
        seed_of_epoch = int(torch.randint(2**31, (), generator=generator))
        losses += solution.train_with_validation(
            model, x, y, train_rows, validation_rows, 1, seed=seed_of_epoch, **settings
        )
        training_losses.append(nn.functional.mse_loss(model(x[train_rows]), y[train_rows]).item())
    return losses


@pytest.mark.parametrize("variant", [own_loop, with_lesson_train, with_training_loss])
def test_another_right_training_passes(variant: object, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    right = answer(train_with_validation=variant)
    ex4.check_training(right, *data, N_VALIDATION, 0, **SETTINGS)
    if variant is own_loop:  # the others shuffle with a seeded DataLoader, as the reference does
        ex4.check_training_seed(right, *data, N_VALIDATION, epochs=1, batch_size=8)


def test_a_batch_size_that_takes_all_rows_passes(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    settings = {**SETTINGS, "batch_size": 64, "epochs": 15, "lr": 0.4}  # one batch an epoch: full-batch descent
    ex4.check_training(answer(train_with_validation=own_loop), *data, N_VALIDATION, 0, **settings)


# --- save_model and load_model -----------------------------------------------------------------


def save_whole(model, path):
    torch.save(model, path)


def save_wrapped(model, path):
    torch.save({"model": model.state_dict()}, path)


def save_layer(model, path):
    torch.save(model.linear.state_dict(), path)


def save_new_model(model, path):
    torch.save(lesson.LinearRegression(2, 1).state_dict(), path)


def save_elsewhere(model, path):
    torch.save(model.state_dict(), "model.pt")


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (save_whole, "it holds a pickled object of a class weights_only does not allow, such as the whole model"),
        (save_wrapped, "holds the keys ['model']; a LinearRegression's state_dict has the keys"),
        (save_layer, "holds the keys ['bias', 'weight']"),
        (save_new_model, "predicts differently from the model that was saved"),
        (save_elsewhere, "but no file is there"),
    ],
)
def test_a_wrong_save_fails(
    variant: object, hint: str, data: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    expect_failure(ex4.check_save, answer(save_model=variant), data[0], tmp_path, hint=hint)


def test_another_right_save_passes(data: tuple[torch.Tensor, torch.Tensor], tmp_path: Path) -> None:
    def save_model(model, path):
        torch.save(OrderedDict((name, value.clone()) for name, value in model.state_dict().items()), str(path))

    ex4.check_save(answer(save_model=save_model), data[0], tmp_path)


def load_trusting(path):
    model = lesson.LinearRegression(2, 1)
    model.load_state_dict(torch.load(path, weights_only=False))
    return model


SHARED = lesson.LinearRegression(2, 1)


def load_into_one_model(path):
    SHARED.load_state_dict(torch.load(path, weights_only=True))
    return SHARED


def load_sharing_a_layer(path):
    model = lesson.LinearRegression(2, 1)
    model.linear = SHARED.linear
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


@pytest.mark.parametrize(
    ("variant", "hint"),
    [
        (load_trusting, "numbers, strings and plain containers (dicts, lists, tuples) and refuses any other"),
        (load_into_one_model, "returned the same model object for two files"),
        (load_sharing_a_layer, "loading a second file changed the first loaded model"),
        (lambda path: lesson.LinearRegression(2, 1), "does not predict what the saved weights predict"),
        (lambda path: torch.load(path, weights_only=True), "but it returned an OrderedDict"),
    ],
)
def test_a_wrong_load_fails(
    variant: object, hint: str, data: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    expect_failure(ex4.check_load, answer(load_model=variant), data[0], tmp_path, hint=hint)


def test_another_right_load_passes(data: tuple[torch.Tensor, torch.Tensor], tmp_path: Path) -> None:
    def load_model(path):
        model = lesson.LinearRegression(2, 1)
        model.load_state_dict(torch.load(path, map_location="cpu"))  # weights_only=True is the default since 2.6
        return model.eval()

    ex4.check_load(answer(load_model=load_model), data[0], tmp_path)


def one_input_training(model, x, y, train_rows, validation_rows, **settings):
    return [model(x[train_rows][:, :1]).sum().item()]  # the learner's slip: one column of the two


def numpy_input_training(model, x, y, train_rows, validation_rows, **settings):
    return [model(x[train_rows].numpy()).sum().item()]  # the learner's slip: a numpy array for a tensor


@pytest.mark.parametrize(
    ("variant", "error", "line"),
    [
        (one_input_training, "RuntimeError: mat1 and mat2 shapes cannot be multiplied", "[:, :1]"),
        (numpy_input_training, "TypeError: linear(): argument 'input' (position 1) must be Tensor", ".numpy()"),
    ],
)
def test_an_exception_in_the_models_call_names_the_learners_line(
    variant: object, error: str, line: str, data: tuple[torch.Tensor, torch.Tensor]
) -> None:
    message = expect_failure(
        ex4.check_training,
        answer(train_with_validation=variant),
        *data,
        N_VALIDATION,
        0,
        **WRONG_SETTINGS,
        hint=f"train_with_validation() raised {error}",
    )
    assert "test_grader_ex4.py, line" in message and line in message, message
    assert "grader/" not in message, f"the grader's frames must not show: {message}"


# --- exercise 4's harder cases: each mistake named in the function that has it, at the learner's own line ---


def with_globals(function, **replaced):
    """`function` (the reference's) as if its module held `replaced` instead: a learner's file that differs there."""
    namespace = {**function.__globals__, **replaced}
    return types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__)


def own_validation(*, eval_mode=True, grad_off_for_good=False):
    """A learner's validation_loss, with one slip switched on."""

    def validation_loss(model, x, y):
        if eval_mode:
            model.eval()
        if grad_off_for_good:
            torch.set_grad_enabled(False)  # the slip: for the whole program, where `with torch.no_grad():` was meant
            return nn.functional.mse_loss(model(x), y).item()
        with torch.inference_mode():
            return nn.functional.mse_loss(model(x), y).item()

    return validation_loss


def calling_own_validation(validation_loss):
    """The reference train_with_validation, calling the learner's validation_loss (as a learner's file does)."""

    return with_globals(solution.train_with_validation, validation_loss=validation_loss)


def test_a_validation_fault_is_told_in_validation_loss(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    wrong = answer(train_with_validation=calling_own_validation(own_validation(eval_mode=False)))
    message = expect_failure(
        ex4.check_training, wrong, *data, N_VALIDATION, 0, **WRONG_SETTINGS, hint="In validation_loss, "
    )
    assert "call model.eval() before computing the validation loss" in message, message


def test_gradients_left_off_by_validation_loss_are_the_cause_told_first(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    wrong = answer(train_with_validation=calling_own_validation(own_validation(grad_off_for_good=True)))
    message = expect_failure(
        ex4.check_training,
        wrong,
        *data,
        N_VALIDATION,
        0,
        **WRONG_SETTINGS,
        hint="validation_loss() switched gradients off",
    )
    assert message.index("switched gradients off") < message.index("RuntimeError"), message
    assert "torch/" not in message.split("The last lines it ran:")[-1], (
        f"torch's frames shown as the learner's: {message}"
    )
    assert torch.is_grad_enabled()


def flat_targets(model, x, y, train_rows, validation_rows, **settings):
    return solution.train_with_validation(model, x, y.view(-1), train_rows, validation_rows, **settings)  # (n,)


def test_a_target_size_warning_names_both_shapes_and_the_line_that_made_them(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    message = expect_failure(
        ex4.check_training,
        answer(train_with_validation=flat_targets),
        *data,
        N_VALIDATION,
        0,
        **WRONG_SETTINGS,
        hint="compared predictions of shape (8, 1) with targets of shape (8,)",
    )
    assert "not the loss line: both must be (n, 1)" in message, message
    shown = message.split("The last lines it ran:")[-1]
    assert "site-packages" not in shown and "torch" not in shown.replace("torch.", ""), f"library frames shown: {shown}"


def mean_of_batch_means(model, x, y):
    model.eval()
    with torch.inference_mode():
        means = [nn.functional.mse_loss(model(x[k : k + 8]), y[k : k + 8]).item() for k in range(0, len(x), 8)]
    return sum(means) / len(means)


def test_per_batch_means_over_unequal_batches_are_told_why_they_differ() -> None:
    x, y = ex4.plane_data(n=20, weights=(1.0, 2.0), bias=0.0, noise=0.5, seed=3)  # batches of 8, 8 and 4 rows
    expect_failure(
        ex4.check_validation_loss,
        answer(validation_loss=mean_of_batch_means),
        x,
        y,
        hint="the plain average of the 3 batches' means, but the batches hold [8, 8, 4] rows",
    )


def test_one_epoch_too_few_is_not_told_as_a_seed_problem(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    fewer = answer(train_with_validation=trainer(epochs_run=lambda epochs: epochs - 1))
    message = expect_failure(
        ex4.check_training_seed, fewer, *data, N_VALIDATION, epochs=1, batch_size=8, hint="so it took no step"
    )
    assert "seed" not in message.split("{")[0] and "range(1, epochs) runs one fewer" in message, message


def test_full_batch_training_is_not_told_as_a_seed_problem(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    full = answer(train_with_validation=trainer(full_batch=True))
    expect_failure(
        ex4.check_training_seed, full, *data, N_VALIDATION, epochs=1, batch_size=8, hint="it never used mini-batches"
    )


def test_a_batch_moved_with_all_the_data_first_passes_and_the_model_left_behind_fails(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    def moved_up_front(model, x, y, train_rows, validation_rows, device="cpu", **settings):
        return solution.train_with_validation(
            model, x.to(device), y.to(device), train_rows, validation_rows, device=device, **settings
        )

    ex4.check_training(answer(train_with_validation=moved_up_front), *data, N_VALIDATION, 0, **SETTINGS)
    message = expect_failure(
        ex4.check_training,
        answer(train_with_validation=trainer(move_model=False)),
        *data,
        N_VALIDATION,
        0,
        **WRONG_SETTINGS,
        device=torch.device("cpu"),
        hint="never moved the model to `device` (device='cpu')",
    )
    assert "on a GPU" in message, message


# --- nan, and constructed answers just inside and just outside every tolerance -----------------------


def test_a_nan_validation_loss_fails(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    def nan_validation(model, x, y):
        solution.validation_loss(model, x, y)
        return float("nan")

    expect_failure(ex4.check_validation_loss, answer(validation_loss=nan_validation), *data, hint="is nan")
    nan_losses = lambda *data, **settings: [float("nan")] * settings.get("epochs", 10)  # noqa: E731
    expect_failure(
        ex4.check_training,
        answer(
            train_with_validation=lambda *given, **settings: (
                solution.train_with_validation(*given, **settings),
                nan_losses(**settings),
            )[1]
        ),
        *data,
        N_VALIDATION,
        0,
        **WRONG_SETTINGS,
        hint="is nan: training diverged",
    )


@pytest.mark.parametrize(
    ("factor", "passes"), [(1 + 0.98 * harness.LOSS_RTOL, True), (1 + 1.02 * harness.LOSS_RTOL, False)]
)
def test_a_validation_loss_at_the_edge_of_its_tolerance(data, factor: float, passes: bool) -> None:
    scaled = lambda model, x, y: solution.validation_loss(model, x, y) * factor  # noqa: E731
    if passes:
        ex4.check_validation_loss(answer(validation_loss=scaled), *data)
    else:
        expect_failure(
            ex4.check_validation_loss, answer(validation_loss=scaled), *data, hint="relative tolerance 0.0001"
        )


def stretched_steps(factor: float):
    """The reference training, with every step's result scaled by `factor` (a relative error in each step)."""

    class Stretched(optim.SGD):
        def step(self, closure=None):
            super().step(closure)
            with torch.no_grad():
                for group in self.param_groups:
                    for parameter in group["params"]:
                        parameter.mul_(factor)

    return with_globals(solution.train_with_validation, optim=types.SimpleNamespace(SGD=Stretched))


@pytest.mark.parametrize(("factor", "passes"), [(1 + 0.5 * ex4.STEP_RTOL, True), (1 + 3 * ex4.STEP_RTOL, False)])
def test_a_step_at_the_edge_of_its_tolerance(data, factor: float, passes: bool) -> None:
    variant = answer(train_with_validation=stretched_steps(factor))
    if passes:
        ex4.check_training(variant, *data, N_VALIDATION, 0, **SETTINGS)
    else:
        expect_failure(
            ex4.check_training, variant, *data, N_VALIDATION, 0, **SETTINGS, hint="(relative tolerance 0.0001)"
        )


def _fit_error(lr: float, data: tuple[torch.Tensor, torch.Tensor], settings: dict) -> float:
    """How far the reference, trained at lr, ends from numpy's least-squares plane of the training rows."""
    x, y = data
    train_rows, validation_rows = ex4.grader_split(len(x), N_VALIDATION, 0)
    model = ex4.probe(seed=0)
    solution.train_with_validation(model, x, y, train_rows, validation_rows, **{**settings, "lr": lr})
    design = np.hstack([x[train_rows].double().numpy(), np.ones((len(train_rows), 1))])
    plane = np.linalg.lstsq(design, y[train_rows].double().numpy(), rcond=None)[0]
    full = np.hstack([x.double().numpy(), np.ones((len(x), 1))])
    with torch.no_grad():
        return float(np.abs(model(x).double().numpy() - full @ plane).max())


def test_a_fit_at_the_edge_of_its_tolerance(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    settings = {"epochs": 4, "batch_size": 8, "seed": 1}  # few steps: the step size decides how far they get
    low, high = 0.03, 0.2  # here the error falls as lr grows, from far outside the tolerance (1.1) to inside (0.007)
    targets = {"inside": 0.95 * ex4.FIT_TOL, "outside": 1.05 * ex4.FIT_TOL}
    for side, target in targets.items():
        a, b = low, high
        for _ in range(10):  # the step sizes' ratio, 6.7, down to 1.002: the errors stay on their sides
            middle = (a * b) ** 0.5
            a, b = (middle, b) if _fit_error(middle, data, settings) > target else (a, middle)
        lr = b if side == "inside" else a
        error = _fit_error(lr, data, settings)
        assert (error <= ex4.FIT_TOL) == (side == "inside"), (side, error)
        if side == "inside":
            ex4.check_training(answer(), *data, N_VALIDATION, 0, **settings, lr=lr)
        else:
            expect_failure(
                ex4.check_training,
                answer(),
                *data,
                N_VALIDATION,
                0,
                **settings,
                lr=lr,
                hint=f"more than the {ex4.FIT_TOL} allowed",
            )


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut short"], ids=["empty", "a broken zip"])
def test_a_saved_file_torch_cannot_read_is_told_with_the_first_line_of_torchs_error(
    content: bytes, tmp_path: Path
) -> None:
    from grader import messages

    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(Exception) as raised:  # what torch itself says of the file
        torch.load(path, weights_only=True)
    first_line = (str(raised.value).strip().splitlines() or [""])[0]
    told = messages.unreadable_weights(path)
    assert f"cannot read the saved file ({type(raised.value).__name__}: {first_line})" in told, told
