"""Exercise 4, reference answer: split the rows, train on mini-batches, validate every epoch, save.

python -m exercises.solutions.ex4_train_validate_save
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from lesson import LinearRegression


def split_rows(n: int, n_validation: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Row numbers 0..n-1 in a seeded random order: the first n - n_validation train, the rest validate."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    return order[: n - n_validation], order[n - n_validation :]


def validation_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The MSE of model(x) against y, in evaluation mode and with no gradients recorded."""
    model.eval()
    with torch.inference_mode():
        return nn.functional.mse_loss(model(x), y).item()


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
    """Mini-batch SGD on the training rows, shuffled by a seeded DataLoader; the validation loss after each epoch."""
    model.to(device)
    training = TensorDataset(x[train_rows], y[train_rows])
    batches = DataLoader(training, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    x_validation, y_validation = x[validation_rows].to(device), y[validation_rows].to(device)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        model.train()
        for x_batch, y_batch in batches:
            x_batch, y_batch = x_batch.to(device), y_batch.to(device)
            optimizer.zero_grad()  # zero
            loss = loss_fn(model(x_batch), y_batch)  # forward and loss
            loss.backward()  # backward
            optimizer.step()  # step
        losses.append(validation_loss(model, x_validation, y_validation))
    return losses


def save_model(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """The weights only: an OrderedDict of tensors, which torch.load(path, weights_only=True) reads back."""
    torch.save(model.state_dict(), path)


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """A fresh LinearRegression(2, 1) with the weights saved at `path`."""
    model = LinearRegression(2, 1)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
