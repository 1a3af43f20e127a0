"""The answers calculus gives without training: the Hessian, the stable step sizes, where descent lands.

The lesson trains by gradient descent and then checks itself against these. Its own least_squares()
(section 2) teaches the closed-form line; here the optimum comes from torch.linalg.lstsq.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def _as_float64(x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    x64 = x.detach().reshape(-1).double().cpu()
    return x64, None if y is None else y.detach().reshape(-1).double().cpu()


def _optimum(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The least-squares (w, b) in float64, from torch.linalg.lstsq on the columns [x, 1]."""
    x64, y64 = _as_float64(x, y)
    design = torch.stack([x64, torch.ones_like(x64)], dim=1)  # (n, 2)
    return torch.linalg.lstsq(design, y64.reshape(-1, 1)).solution.reshape(-1)


def hessian(x: torch.Tensor) -> torch.Tensor:
    """The Hessian of the MSE of x·wᵀ + b in (w₁, …, w_k, b), for inputs x of shape (n, k) or (n,).

    It depends on x alone: 2·mean([x, 1]ᵀ[x, 1]); for a line, 2·[[mean x², mean x], [mean x, 1]].
    """
    rows = x.detach().double().cpu().reshape(len(x), -1)
    rows = torch.cat([rows, torch.ones(len(rows), 1, dtype=torch.float64)], dim=1)  # (n, k + 1)
    return 2 * rows.T @ rows / len(rows)


def curvatures(x: torch.Tensor) -> tuple[float, float]:
    """The Hessian's smallest and largest eigenvalues (λmin, λmax): the flattest and the steepest curvature."""
    eigenvalues = torch.linalg.eigvalsh(hessian(x))
    return float(eigenvalues.min()), float(eigenvalues.max())


def max_stable_lr(x: torch.Tensor) -> float:
    """2/λmax: plain full-batch gradient descent (no momentum) on this MSE converges for every lr below it."""
    return 2.0 / curvatures(x)[1]


def round_down(value: float, digits: int = 4) -> float:
    """A positive value cut to `digits` significant digits, always below it: a printed limit safe to type back.

    A limit that already has so few digits, such as 1, gives the number just below it, 0.9999, since
    a step size at the limit itself does not converge.
    """
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    below = math.floor(value * scale) / scale
    return below if below < value else round_down(value * (1 - 1e-12), digits)


CLOSE_SHARE = 0.1  # a trained line is "close" when its loss is at most 10% above the least-squares loss


def share_above(loss: float, least: float, targets: torch.Tensor) -> float:
    """How far `loss` is above the least-squares loss `least`, as a share of it (0.037 for 3.7% above).

    Below float32's resolution of the targets the difference is noise, and counts as none.
    """
    noise = (torch.finfo(torch.float32).eps * targets.detach().double().abs().max().item()) ** 2
    excess = loss - least
    if excess <= noise:
        return 0.0
    return excess / least if least > 0 else math.inf


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
    optimum = _optimum(x, y)
    step = torch.eye(2, dtype=torch.float64) - lr * hessian(x)
    error = torch.linalg.matrix_power(step, epochs) @ (torch.tensor(start, dtype=torch.float64) - optimum)
    slope, bias = (optimum + error).tolist()
    return slope, bias


def error_kept(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, epochs: int
) -> tuple[float, float]:
    """The fractions of the first error in w and in b left after `epochs` steps, from (I - lr·H)^epochs."""
    optimum = _optimum(x, y).tolist()
    end = gd_prediction(x, y, start, lr, epochs)
    return tuple(abs((e - o) / (s - o)) for s, e, o in zip(start, end, optimum, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class SlowDirection:
    """Why gradient descent stops short of the optimum: the numbers behind it."""

    steep: float  # λmax, the steepest curvature
    flat: float  # λmin, the flattest curvature
    name: str  # "flat" or "steep": the direction whose error shrinks slower at this step size
    kept_per_step: float  # the share of that direction's error one step keeps: max |1 - lr·λ|
    kept: float  # the share it keeps after all the epochs
    predicted: tuple[float, float]  # (w, b) that (I - lr·H)^epochs predicts
    epochs_to_keep_0_1_percent: int | None  # None when the step size does not converge


def slow_direction(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lr: float, epochs: int
) -> SlowDirection:
    """The Hessian story of a training run: how much error the slower direction keeps, and where training ends."""
    flat, steep = curvatures(x)
    in_flat, in_steep = abs(1 - lr * flat), abs(1 - lr * steep)
    name, kept_per_step = ("flat", in_flat) if in_flat >= in_steep else ("steep", in_steep)
    needed = None  # a step size at or above 2/λmax never gets there
    if kept_per_step < 1:
        needed = 1 if kept_per_step == 0 else math.ceil(math.log(1e-3) / math.log(kept_per_step))
    return SlowDirection(
        steep=steep,
        flat=flat,
        name=name,
        kept_per_step=kept_per_step,
        kept=kept_per_step**epochs,
        predicted=gd_prediction(x, y, start, lr, epochs),
        epochs_to_keep_0_1_percent=needed,
    )


def excess_after(
    x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], lrs: torch.Tensor, epochs: int
) -> torch.Tensor:
    """The loss above least squares after `epochs` gradient-descent steps from `start`, for each lr in `lrs`.

    Along each eigenvector v of the Hessian the error shrinks by 1 - lr·λ a step, and the MSE is the
    least-squares loss plus Σ λ/2·(error along v)², so every lr costs one vectorised line.
    """
    eigenvalues, vectors = torch.linalg.eigh(hessian(x))
    along = vectors.T @ (torch.tensor(start, dtype=torch.float64) - _optimum(x, y))  # the start's error, per direction
    factors = (1 - lrs.double().reshape(-1, 1) * eigenvalues) ** epochs  # (len(lrs), 2)
    return (eigenvalues / 2 * (factors * along) ** 2).sum(dim=1)


def lowest_loss_lr(x: torch.Tensor, y: torch.Tensor, start: tuple[float, float], epochs: int) -> float:
    """The stable step size whose run from `start` ends lowest after `epochs` steps, to three digits."""
    limit = max_stable_lr(x)
    lrs = torch.linspace(limit / 1000, limit, 10_000, dtype=torch.float64)[:-1]  # every lr below the limit
    best = lrs[int(excess_after(x, y, start, lrs, epochs).argmin())].item()
    return round(best, 2 - math.floor(math.log10(best)))
