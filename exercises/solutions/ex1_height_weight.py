"""Exercise 1, reference answer: predict weight (kg) from height (cm).

python -m exercises.solutions.ex1_height_weight
"""

from __future__ import annotations

import sys

import torch
from torch import nn, optim

from lesson import LinearRegression, train

# The generator behind data/height_weight.csv: adult heights and a linear weight trend.
HEIGHT_MEAN_CM = 170.0
HEIGHT_STD_CM = 9.0
SLOPE_KG_PER_CM = 0.9
INTERCEPT_KG = -83.0  # so that 170 cm gives 70 kg on average
NOISE_STD_KG = 8.0


def make_height_weight_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Heights (cm) and weights (kg), float32 of shape (n, 1): a line plus Gaussian noise."""
    generator = torch.Generator().manual_seed(seed)
    heights = HEIGHT_MEAN_CM + HEIGHT_STD_CM * torch.randn(n, 1, generator=generator)
    weights = SLOPE_KG_PER_CM * heights + INTERCEPT_KG + NOISE_STD_KG * torch.randn(n, 1, generator=generator)
    return heights, weights


def fit_height_weight(heights: torch.Tensor, weights: torch.Tensor, epochs: int = 200, lr: float = 0.1) -> nn.Module:
    """Fit weight = w·height + b by gradient descent; the model takes raw centimetres, shape (k, 1)."""
    # Standardise the input: its Hessian then has eigenvalues near 2, so lr 0.1 is safe and fast.
    # On raw centimetres the largest eigenvalue is about 2·mean(height²) ≈ 58 000.
    mean, std = heights.mean(), heights.std()
    model = LinearRegression()
    train(model, (heights - mean) / std, weights, optim.SGD(model.parameters(), lr=lr), epochs)
    # Fold the scaling into the layer: w·(h - mean)/std + b = (w/std)·h + (b - w·mean/std).
    with torch.no_grad():
        slope = model.linear.weight / std
        model.linear.bias -= (slope * mean).reshape(-1)
        model.linear.weight.copy_(slope)
    return model


if __name__ == "__main__":
    from grader.run_it import run_it

    sys.exit(run_it(sys.modules[__name__]))
