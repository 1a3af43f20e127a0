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
from lesson_support.figures import STYLE, WIDE, contour_grid, contour_of, optimum_star, points, y_range_of

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
        optimum: tuple[float, float],
    ) -> None:
        import matplotlib
        import matplotlib.pyplot as plt  # pyplot owns the window
        from matplotlib.widgets import Button, Slider

        self.x, self.y, self.start, self.start_lr = x, y, start, lr
        self.descend, self.cost, self.max_lr = descend, cost, max_lr
        with matplotlib.rc_context(STYLE):
            self.fig = plt.figure(figsize=(WIDE, 6.2), num="Gradient descent explorer")
            self.data_ax = data_ax = self.fig.add_axes((0.08, 0.45, 0.36, 0.42))
            contour_ax = self.fig.add_axes((0.56, 0.45, 0.4, 0.42))
            # The readout sits above the charts, where no line can cross it.
            self.cost_text = self.fig.text(0.08, 0.975, "", va="top", fontsize=11)
            points(data_ax, x, y)
            self.ends = torch.tensor([float(x.min()), float(x.max())], dtype=torch.float64)
            (self.fitted,) = data_ax.plot(self.ends, self.ends, color="tab:red", linewidth=2, zorder=4)
            y_range_of(data_ax, y, margin=0.5)
            data_ax.set_autoscale_on(False)
            data_ax.set_title("the data and the line y = w·x + b")
            # Where a dragged or diverging line has gone when it is off the chart.
            self.away = data_ax.text(0.5, 0.5, "", transform=data_ax.transAxes, ha="center", color="tab:red")

            grid = contour_grid(SLIDER_RANGE)
            contour_of(contour_ax, grid, grid, surface(x, y, grid, grid))
            contour_ax.set_autoscale_on(False)  # a diverging path flies off the chart instead of rescaling it
            optimum_star(contour_ax, optimum)
            (self.trail,) = contour_ax.plot([], [], "o-", color="tab:red", markersize=3, linewidth=1)
            (self.point,) = contour_ax.plot(
                [], [], "o", color="tab:red", markerfacecolor="none", markersize=10, markeredgewidth=2
            )
            contour_ax.set_title("J(w, b), the optimum (star) and your descent")

            # initcolor="none": no mark at the starting value, so the only mark is the one at 2/λmax.
            with _no_redraws(self.fig):  # each new slider asks for a redraw; the window draws once when it opens
                self.w_slider = Slider(
                    self.fig.add_axes((0.12, 0.29, 0.45, 0.04)), "w", -SLIDER_RANGE, SLIDER_RANGE, initcolor="none"
                )
                self.b_slider = Slider(
                    self.fig.add_axes((0.12, 0.22, 0.45, 0.04)), "b", -SLIDER_RANGE, SLIDER_RANGE, initcolor="none"
                )
                self.lr_slider = Slider(
                    self.fig.add_axes((0.12, 0.15, 0.45, 0.04)), "lr", 0.005, 0.45, initcolor="none", valfmt="%.4g"
                )
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
            self.step_button = Button(self.fig.add_axes((0.72, 0.26, 0.11, 0.07)), "Step")
            self.run_button = Button(self.fig.add_axes((0.85, 0.26, 0.11, 0.07)), f"Run {RUN_STEPS}")
            self.reset_button = Button(self.fig.add_axes((0.72, 0.15, 0.24, 0.07)), "Reset")
            # Two lines at most, each short enough for the window (status_line breaks them).
            self.status = self.fig.text(0.05, 0.085, "", fontsize=10, va="top", linespacing=1.4)
        for slider in (self.w_slider, self.b_slider, self.lr_slider):
            slider.drawon = False  # redraw() asks for one redraw after each change, not one per slider
            slider.label.set_x(-0.04)  # clear of the knob at either end
            slider.valtext.set_x(1.05)
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
        return self.cost_at(self.slope, self.bias)

    def redraw(self, draw: bool = True) -> None:
        self.fitted.set_ydata(self.slope * self.ends + self.bias)
        path = torch.tensor(self.path, dtype=torch.float64)
        self.trail.set_data(path[:, 0], path[:, 1])
        self.point.set_data([self.slope], [self.bias])
        cost = self.current_cost()
        shown = f"{cost:.4g}" if math.isfinite(cost) else "too large to show"
        self.cost_text.set_text(f"w = {short(self.slope)},  b = {short(self.bias)},  J(w, b) = {shown}")
        self.show_where_the_line_went()
        self.status.set_text(self.status_line())
        if draw:
            self.fig.canvas.draw_idle()

    def show_where_the_line_went(self) -> None:
        """An arrow and a word where the line has left the chart; nothing while it is on it."""
        low, high = self.data_ax.get_ylim()
        ends = (self.slope * self.ends + self.bias).tolist()
        if min(ends) > high:
            self.away.set_text("↑ the line is above the chart")
            self.away.set(y=0.95, va="top")
        elif max(ends) < low:
            self.away.set_text("↓ the line is below the chart")
            self.away.set(y=0.05, va="bottom")
        else:
            self.away.set_text("")

    def status_line(self) -> str:
        """What the descent is doing, in two short lines at most."""
        steps = len(self.path) - 1
        so_far = f"{steps} step{'' if steps == 1 else 's'} so far"
        limit = f"2/λmax = {self.max_lr:.3g}"
        if self.diverged:
            return (
                f"Diverged after {steps} steps: at lr {self.lr:.3g}, above {limit}, every step overshoots further.\n"
                "Lower lr and press Reset."
            )
        if self.lr > self.max_lr:
            state = f"lr {self.lr:.3g} is above {limit}: the descent diverges ({so_far})."
            if steps and self.cost_at(*self.path[-1]) < self.cost_at(*self.path[-2]):
                return (
                    f"{state}\nJ fell this step because the error along the steep direction started small; "
                    "it grows every step, and J will too."
                )
            return f"{state}\nEach step overshoots further along the steep direction."
        return f"lr {self.lr:.3g} is below {limit}: the descent converges ({so_far})."

    def cost_at(self, slope: float, bias: float) -> float:
        return self.cost(slope * self.x + bias, self.y).item()

    def _show_on_sliders(self) -> None:
        # Show the point on the sliders without firing on_point_dragged, which would start a new path.
        for slider, value in ((self.w_slider, self.slope), (self.b_slider, self.bias)):
            with _quietly(slider):
                slider.set_val(max(-SLIDER_RANGE, min(SLIDER_RANGE, value)))
            slider.valtext.set_text(short(value))  # the true value, even where the knob stops at the end


def short(value: float) -> str:
    """4 significant digits, in few characters: 835.9, -1.945e4."""
    text = f"{value:.4g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else text


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
