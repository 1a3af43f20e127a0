"""Exercise 4: a real training run: split the rows, train on mini-batches, validate every epoch, save.

Write the five functions below, then:

    python -m exercises.ex4_train_validate_save   # a plane of 1,000 points: trains, validates, saves
    python -m pytest -m ex4                       # checks them

(Your editor's Run button on this file does the same as the first command.)

The model is a LinearRegression(2, 1) from the lesson: two inputs, one output, so x has shape
(n, 2) and y has shape (n, 1). Your functions may call torch.manual_seed (that reseeds torch's
global random generator and changes no setting). The same seed must give the same split and the
same batches: draw them from a torch.Generator seeded with `seed`. (A draw from the global
generator just after torch.manual_seed(seed) gives the same numbers, so it passes, but it also
moves every later random draw of the program.) Hints are in exercises/README.md, under "Exercise 4".
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn, optim  # noqa: F401  (you will want them)
from torch.utils.data import DataLoader, TensorDataset  # noqa: F401

from lesson import LinearRegression, train  # noqa: F401  (the lesson's pieces are yours to use)


def split_rows(n: int, n_validation: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the row numbers 0..n-1 at random into (train_rows, validation_rows).

    Both are 1-D tensors of integer row numbers: validation_rows holds `n_validation` of them,
    train_rows the other n - n_validation, no row in both and none left out. n_validation is at
    least 1 and below n (a validation set of no rows has no loss; the checks never ask for one).
    Shuffle with a torch.Generator seeded with `seed`, so the same seed gives the same split,
    whatever torch's global random state.
    """
    raise NotImplementedError("split_rows is not written yet (hint 4.1 in exercises/README.md)")


def validation_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The mean squared error of model(x) against y, as a plain Python float.

    Evaluation only: put the model in evaluation mode (model.eval()) and record no gradients
    (torch.inference_mode(), or torch.no_grad()). It must not change the model.
    """
    raise NotImplementedError("validation_loss is not written yet (hint 4.2 in exercises/README.md)")


def train_with_validation(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    train_rows: torch.Tensor,
    validation_rows: torch.Tensor,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 0.1,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> list[float]:
    """Train `model` in place on the rows train_rows of (x, y), in mini-batches; return the validation losses.

    Move the model, every batch and the validation rows to `device`. Each epoch:
    - model.train(), then the training rows in shuffled batches of `batch_size` (the last one may
      be smaller), every training row once per epoch. Shuffle with a DataLoader whose generator
      is seeded with `seed`, so the same seed gives the same batches;
    - for each batch: zero the gradients, forward, the mean squared error, backward, and a step
      of optim.SGD(model.parameters(), lr=lr);
    - at the end of the epoch, validation_loss(model, ...) on the rows validation_rows.
    The validation rows are never trained on. Return a list of `epochs` floats: the validation
    loss after each epoch.
    """
    raise NotImplementedError("train_with_validation is not written yet (hint 4.3 in exercises/README.md)")


def save_model(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Save the model's weights (its state_dict, not the module object) to the file `path`."""
    raise NotImplementedError("save_model is not written yet (hint 4.4 in exercises/README.md)")


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """A new LinearRegression(2, 1) holding the weights saved at `path`.

    Load with torch.load(path, weights_only=True), which unpickles only tensors, numbers,
    strings, plain containers of them (dicts, lists, tuples) and a few of torch's own types, and
    refuses any other pickled object, such as a whole nn.Module saved with torch.save(model, path).
    Build a fresh model on every call.
    """
    raise NotImplementedError("load_model is not written yet (hint 4.4 in exercises/README.md)")


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
