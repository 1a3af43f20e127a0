"""Exercise 1: predict weight (kg) from height (cm).

Write the two functions below, then:

    python -m exercises.ex1_height_weight   # runs them on data/height_weight.csv, saves a figure
    python -m pytest -m ex1                 # checks them

(Your editor's Run button on this file does the same as the first command.)

Hints are in exercises/README.md, under "Exercise 1".
"""

from __future__ import annotations

import sys

import torch
from torch import nn, optim  # noqa: F401  (you will want them)

from lesson import LinearRegression, max_stable_lr, train  # noqa: F401  (the lesson's pieces are yours to use)


def make_height_weight_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic adults: (heights, weights), heights in cm and weights in kg.

    Each is a float32 tensor of shape (n, 1); return them as a tuple (a list of the two will do).
    Heights should look like a population of adults, in cm: a mean of 150 to 190 cm and a
    spread (standard deviation) of 3 to 15 cm. Weight, in kg, is a straight line in height plus
    Gaussian noise. The same seed must give the same data, so draw from a torch.Generator
    seeded with `seed`.
    """
    raise NotImplementedError("make_height_weight_data is not written yet (hint 1.1 in exercises/README.md)")


def fit_height_weight(heights: torch.Tensor, weights: torch.Tensor, epochs: int = 200, lr: float = 0.1) -> nn.Module:
    """Fit weight ≈ w·height + b by gradient descent and return the trained model.

    The model must take raw heights in cm, shape (k, 1), and return weights in kg, shape (k, 1).
    It is checked by what it predicts: within 0.25 kg of the least-squares line of the same data
    (lesson.least_squares) at nine heights across the data. Gradient descent is the exercise, and
    the least-squares line is how you can check it. Leave `heights` and `weights` as they came:
    scale copies, not the tensors passed in.
    Careful: on raw centimetres plain SGD at lr 0.01 diverges. Why, and what to do: hint 1.2.
    """
    raise NotImplementedError("fit_height_weight is not written yet (hint 1.2 in exercises/README.md)")


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
