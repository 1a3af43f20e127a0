"""A window to move gradient descent yourself: drag w, b and the step size, then Step, Run or Reset.

`python lesson.py --explore` opens it. It uses matplotlib's own widgets and the lesson's own
functions (passed in): the descent is `train_slope_and_bias`, the cost is `mse`. Every handler is
a plain method, so tests press the buttons by calling them, with no display.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from lesson_support.checks import DivergenceError
from lesson_support.figures import STYLE, WIDE, contour_of, points

RUN_STEPS = 10  # steps the Run button takes
ESCAPE = 1e6  # a point this far out has diverged for good: stop stepping it
SLIDER_RANGE = 15.0  # w and b sliders span [-15, 15], as the cost surface does


class Explorer:
    """The explorer's figure, its widgets and the descent's state."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        start: tuple[float, float],
        descend: Callable[..., Any],
        cost: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        surface: Callable[..., torch.Tensor],
        max_lr: float,
        lr: float,
    ) -> None:
        import matplotlib
        import matplotlib.pyplot as plt  # pyplot owns the window
        from matplotlib.widgets import Button, Slider

        self.x, self.y, self.start, self.start_lr = x, y, start, lr
        self.descend, self.cost, self.max_lr = descend, cost, max_lr
        with matplotlib.rc_context(STYLE):
            self.fig = plt.figure(figsize=(WIDE, 6.2), num="Gradient descent explorer")
            data_ax = self.fig.add_axes((0.08, 0.45, 0.36, 0.45))
            contour_ax = self.fig.add_axes((0.58, 0.45, 0.36, 0.45))
            points(data_ax, x, y)
            self.ends = torch.tensor([float(x.min()), float(x.max())], dtype=torch.float64)
            (self.fitted,) = data_ax.plot(self.ends, self.ends, color="tab:red", linewidth=2)
            low, high = float(y.min()), float(y.max())
            data_ax.set_ylim(low - 0.5 * (high - low), high + 0.5 * (high - low))
            data_ax.set_title("the data and the line y = w·x + b")
            self.cost_text = data_ax.text(0.03, 0.95, "", transform=data_ax.transAxes, va="top", fontsize=11)

            grid = torch.linspace(-SLIDER_RANGE, SLIDER_RANGE, 30)
            contour_of(contour_ax, grid, grid, surface(x, y, grid, grid))
            contour_ax.set_xlim(-SLIDER_RANGE, SLIDER_RANGE)
            contour_ax.set_ylim(-SLIDER_RANGE, SLIDER_RANGE)
            contour_ax.set_autoscale_on(False)  # a diverging path flies off the chart instead of rescaling it
            (self.trail,) = contour_ax.plot([], [], "o-", color="tab:red", markersize=3, linewidth=1)
            (self.point,) = contour_ax.plot([], [], "o", color="tab:red", markersize=9)
            contour_ax.set_title("J(w, b) and your descent")

            # initcolor="none": no mark at the starting value, so the only mark is the one at 2/λmax.
            with _no_redraws(self.fig):  # each new slider asks for a redraw; the window draws once when it opens
                self.w_slider = Slider(
                    self.fig.add_axes((0.12, 0.28, 0.5, 0.04)), "w", -SLIDER_RANGE, SLIDER_RANGE, initcolor="none"
                )
                self.b_slider = Slider(
                    self.fig.add_axes((0.12, 0.21, 0.5, 0.04)), "b", -SLIDER_RANGE, SLIDER_RANGE, initcolor="none"
                )
                self.lr_slider = Slider(self.fig.add_axes((0.12, 0.14, 0.5, 0.04)), "lr", 0.005, 0.45, initcolor="none")
            self.lr_slider.ax.axvline(max_lr, color="tab:red", linewidth=2)
            self.lr_slider.ax.text(
                max_lr,
                -0.3,
                f"2/λmax = {max_lr:.3g}",
                color="tab:red",
                ha="center",
                va="top",
                fontsize=9,
                transform=self.lr_slider.ax.get_xaxis_transform(),
            )
            self.step_button = Button(self.fig.add_axes((0.72, 0.25, 0.11, 0.07)), "Step")
            self.run_button = Button(self.fig.add_axes((0.85, 0.25, 0.11, 0.07)), f"Run {RUN_STEPS}")
            self.reset_button = Button(self.fig.add_axes((0.72, 0.14, 0.24, 0.07)), "Reset")
            self.status = self.fig.text(0.08, 0.04, "", fontsize=10)
        for slider in (self.w_slider, self.b_slider, self.lr_slider):
            slider.drawon = False  # redraw() asks for one redraw after each change, not one per slider
        for slider in (self.w_slider, self.b_slider):
            slider.on_changed(self.on_point_dragged)
        self.lr_slider.on_changed(self.on_lr_dragged)
        self.step_button.on_clicked(self.on_step)
        self.run_button.on_clicked(self.on_run)
        self.reset_button.on_clicked(self.on_reset)
        self.on_reset(draw=False)  # the window draws itself when it opens

    # --- what the widgets do ---------------------------------------------------------------

    def on_point_dragged(self, _: object = None) -> None:
        """A dragged slider moves the line and the point at once, and starts a new path there."""
        self.slope, self.bias = float(self.w_slider.val), float(self.b_slider.val)
        self.path = [(self.slope, self.bias)]
        self.diverged = False
        self.redraw()

    def on_lr_dragged(self, _: object = None) -> None:
        self.lr = float(self.lr_slider.val)
        self.diverged = False
        self.redraw()

    def on_step(self, _: object = None) -> bool:
        """One gradient step from the current point, by the lesson's own descent; False once it has diverged."""
        if self.diverged:
            return False
        try:
            slope, bias = self.descend(self.x, self.y, self.slope, self.bias, self.lr, 1).params[-1]
        except DivergenceError:
            slope = bias = math.inf
        if not (math.isfinite(slope) and math.isfinite(bias)) or max(abs(slope), abs(bias)) > ESCAPE:
            self.diverged = True
            self.redraw()
            return False
        self.slope, self.bias = slope, bias
        self.path.append((slope, bias))
        self._show_on_sliders()
        self.redraw()
        return True

    def on_run(self, _: object = None) -> None:
        for _step in range(RUN_STEPS):
            if not self.on_step():
                break

    def on_reset(self, _: object = None, draw: bool = True) -> None:
        self.lr = self.start_lr
        self.slope, self.bias = self.start
        self.path = [self.start]
        self.diverged = False
        with _quietly(self.lr_slider):
            self.lr_slider.set_val(self.lr)
        self._show_on_sliders()
        self.redraw(draw)

    # --- drawing -----------------------------------------------------------------------------

    def current_cost(self) -> float:
        return self.cost(self.slope * self.x + self.bias, self.y).item()

    def redraw(self, draw: bool = True) -> None:
        self.fitted.set_ydata(self.slope * self.ends + self.bias)
        path = torch.tensor(self.path, dtype=torch.float64)
        self.trail.set_data(path[:, 0], path[:, 1])
        self.point.set_data([self.slope], [self.bias])
        cost = self.current_cost()
        shown = f"{cost:.4g}" if math.isfinite(cost) else "too large to show"
        self.cost_text.set_text(f"w = {self.slope:.3f}, b = {self.bias:.3f}\nJ(w, b) = {shown}")
        self.status.set_text(self.status_line())
        if draw:
            self.fig.canvas.draw_idle()

    def status_line(self) -> str:
        steps = len(self.path) - 1
        if self.diverged:
            return (
                f"Diverged after {steps} steps: at lr {self.lr:.3g}, above 2/λmax = {self.max_lr:.3g}, every step "
                "overshoots further. Lower lr and press Reset."
            )
        if self.lr > self.max_lr:
            return (
                f"lr {self.lr:.3g} is above 2/λmax = {self.max_lr:.3g}: each step overshoots further, so the "
                f"descent diverges ({steps} steps so far)."
            )
        return f"lr {self.lr:.3g} is below 2/λmax = {self.max_lr:.3g}: the descent converges ({steps} steps so far)."

    def _show_on_sliders(self) -> None:
        # Show the point on the sliders without firing on_point_dragged, which would start a new path.
        for slider, value in ((self.w_slider, self.slope), (self.b_slider, self.bias)):
            with _quietly(slider):
                slider.set_val(max(-SLIDER_RANGE, min(SLIDER_RANGE, value)))
            slider.valtext.set_text(f"{value:.4g}")  # the true value, even where the knob stops at the end


@contextlib.contextmanager
def _quietly(widget: Any) -> Iterator[None]:
    """Change a widget without firing its callbacks."""
    widget.eventson = False
    try:
        yield
    finally:
        widget.eventson = True


@contextlib.contextmanager
def _no_redraws(fig: Any) -> Iterator[None]:
    """Skip the figure's redraw requests: where no window is open (Agg), each one draws the whole figure."""
    fig.canvas.draw_idle = lambda *args, **kwargs: None
    try:
        yield
    finally:
        del fig.canvas.draw_idle


def open_explorer(*args: Any, **kwargs: Any) -> None:
    """Open the explorer (the arguments are Explorer's) in a window and wait until it is closed."""
    import matplotlib.pyplot as plt

    explorer = Explorer(*args, **kwargs)
    plt.show()
    plt.close(explorer.fig)
