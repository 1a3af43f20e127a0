"""The answers calculus gives without training: the least-squares line, the Hessian, the stable step sizes.

The lesson trains by gradient descent and then checks itself against these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def _as_float64(x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    x64 = x.detach().reshape(-1).double().cpu()
    return x64, None if y is None else y.detach().reshape(-1).double().cpu()


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The closed-form line (w, b) of least mean squared error through the points."""
    x64, y64 = _as_float64(x, y)
    spread = x64 - x64.mean()
    if float((spread**2).sum()) == 0.0:
        raise ValueError("all x values are equal, so no single line fits best; use at least two different x.")
    slope = float((spread * (y64 - y64.mean())).sum() / (spread**2).sum())
    return slope, float(y64.mean()) - slope * float(x64.mean())


def hessian(x: torch.Tensor) -> torch.Tensor:
    """The Hessian of the MSE of a line in (w, b); it depends on x alone: 2·[[mean x², mean x], [mean x, 1]]."""
    x64, _ = _as_float64(x)
    m1, m2 = float(x64.mean()), float((x64**2).mean())
    return 2 * torch.tensor([[m2, m1], [m1, 1.0]], dtype=torch.float64)


def curvatures(x: torch.Tensor) -> tuple[float, float]:
    """The Hessian's eigenvalues (λmin, λmax): the flattest and the steepest curvature of the cost."""
    low, high = torch.linalg.eigvalsh(hessian(x)).tolist()
    return low, high


def max_stable_lr(x: torch.Tensor) -> float:
    """The largest step size 2/λmax for which gradient descent on a line's MSE does not diverge."""
    return 2.0 / curvatures(x)[1]


def gradient_formula(x: torch.Tensor, y: torch.Tensor, slope: float, bias: float) -> tuple[float, float]:
    """(∂J/∂w, ∂J/∂b) of J = mean((w·x + b - y)²), from calculus: 2·mean(r·x) and 2·mean(r)."""
    x64, y64 = _as_float64(x, y)
    residuals = slope * x64 + bias - y64
    return float(2 * (residuals * x64).mean()), float(2 * residuals.mean())


def steepest_descent(x: torch.Tensor, y: torch.Tensor, slopes: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
    """Unit vectors along -gradient at every (w, b) pair of the two equal-length lists, shape (k, 2)."""
    gradient = torch.tensor(
        [gradient_formula(x, y, w, b) for w, b in zip(slopes.tolist(), biases.tolist(), strict=True)]
    )
    return -gradient / gradient.norm(dim=1, keepdim=True)


def gd_prediction(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, epochs: int
) -> tuple[float, float]:
    """Where `epochs` gradient-descent steps from `start` land, by linear algebra instead of a loop.

    On a quadratic cost each step maps the error θ - θ* to (I - lr·H)(θ - θ*), so after k steps
    the error is (I - lr·H)^k (θ0 - θ*).
    """
    optimum = torch.tensor(least_squares(x, y), dtype=torch.float64)
    step = torch.eye(2, dtype=torch.float64) - lr * hessian(x)
    error = torch.linalg.matrix_power(step, epochs) @ (torch.tensor(start, dtype=torch.float64) - optimum)
    slope, bias = (optimum + error).tolist()
    return slope, bias


def error_kept(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, epochs: int
) -> tuple[float, float]:
    """The fractions of the first error in w and in b left after `epochs` steps, from (I - lr·H)^epochs."""
    optimum = least_squares(x, y)
    end = gd_prediction(x, y, start, lr, epochs)
    return tuple(abs((e - o) / (s - o)) for s, e, o in zip(start, end, optimum, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class FlatDirection:
    """Why gradient descent stops short of the optimum: the numbers behind it."""

    steep: float  # λmax, the steepest curvature
    flat: float  # λmin, the flattest curvature
    kept_per_step: float  # |1 - lr·λmin|: the share of the error along the flat direction one step keeps
    kept: float  # the share it keeps after all the epochs
    predicted: tuple[float, float]  # (w, b) that (I - lr·H)^epochs predicts
    epochs_to_keep_0_1_percent: int | None  # None when the step size does not converge


def flat_direction(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, epochs: int
) -> FlatDirection:
    """The Hessian story of a training run: how much error the flat direction keeps, and where training ends."""
    flat, steep = curvatures(x)
    kept_per_step = abs(1 - lr * flat)
    needed = math.ceil(math.log(1e-3) / math.log(kept_per_step)) if 0 < kept_per_step < 1 else None
    return FlatDirection(
        steep=steep,
        flat=flat,
        kept_per_step=kept_per_step,
        kept=kept_per_step**epochs,
        predicted=gd_prediction(x, y, start, lr, epochs),
        epochs_to_keep_0_1_percent=needed,
    )


def input_hessian(x: torch.Tensor) -> torch.Tensor:
    """The Hessian of the MSE of x·wᵀ + b in (w₁, …, w_k, b), for inputs x of shape (n, k): 2·mean([x, 1]ᵀ[x, 1])."""
    rows = x.detach().double().cpu().reshape(len(x), -1)
    rows = torch.cat([rows, torch.ones(len(rows), 1, dtype=torch.float64)], dim=1)  # (n, k + 1)
    return 2 * rows.T @ rows / len(rows)


def input_curvatures(x: torch.Tensor) -> tuple[float, float]:
    """(λmin, λmax) of input_hessian(x): the flattest and the steepest curvature of the cost."""
    eigenvalues = torch.linalg.eigvalsh(input_hessian(x))
    return float(eigenvalues.min()), float(eigenvalues.max())


def max_stable_lr_of_inputs(x: torch.Tensor) -> float:
    """2/λmax for inputs of any width (n, k): the largest stable step of full-batch gradient descent on them."""
    return 2.0 / input_curvatures(x)[1]
