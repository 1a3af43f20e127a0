"""Gradient descent in motion: the animation (--animate) and the explorer window (--explore).

Both are checked against the lesson's own descent, train_slope_and_bias, and its cost, mse. The
explorer is driven headless through its own handlers; one test opens the real window under Xvfb
where xvfb-run exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from conftest import LESSON_RUN_LIMIT, ROOT, run_main

import lesson
from lesson_support import animation, explorer, figures

MAX_GIF_BYTES = 2 * 1024 * 1024
MIN_FRAMES = 20
PARAM_ATOL = 1e-5  # the drawn point against the descent it shows


def section_4_descent(steps: int, lr: float = lesson.LAB_LR) -> tuple[torch.Tensor, torch.Tensor, lesson.History]:
    x, y = lesson.slope_and_bias_data(lesson.Run())
    return x, y, lesson.train_slope_and_bias(x, y, *lesson.SLOPE_BIAS_START, lr, steps)


GIF_DPI = 30  # a small GIF is as good a test as a large one, and quicker to draw


@pytest.fixture(scope="module")
def animated(agg: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[animation.DescentAnimation, Path, str]:
    """`python lesson.py --section prediction --animate`, in-process: (the animation it built, the folder, output)."""
    outdir = tmp_path_factory.mktemp("animate")
    caught: list[animation.DescentAnimation] = []
    emit = figures.FigureOutput.emit_animation
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            figures.FigureOutput,
            "emit_animation",
            lambda self, movie, name: (caught.append(movie), emit(self, movie, name)),
        )
        code, text = run_main(["--section", "prediction", "--animate", "--outdir", str(outdir), "--dpi", str(GIF_DPI)])
    assert code == 0, text
    return caught[0], outdir, text


@pytest.fixture(scope="module")
def movie(animated: tuple[animation.DescentAnimation, Path, str]) -> animation.DescentAnimation:
    return animated[0]


def test_the_frames_follow_the_lessons_descent(movie: animation.DescentAnimation) -> None:
    x, y, history = section_4_descent(lesson.ANIMATION_STEPS)
    assert len(movie.frames) >= MIN_FRAMES
    assert movie.frames == sorted(movie.frames), "the frames should show the steps in order"
    flat = [value for params in movie.params for value in params]
    assert flat == pytest.approx([value for params in history.params for value in params], abs=PARAM_ATOL)
    for step in (0, 1, 5, lesson.ANIMATION_STEPS):
        movie.draw_step(step)
        slope, bias = history.params[step]
        assert list(movie.point.get_xdata()) == pytest.approx([slope], abs=PARAM_ATOL)
        assert list(movie.point.get_ydata()) == pytest.approx([bias], abs=PARAM_ATOL)
        ends = torch.tensor(movie.fitted.get_xdata(), dtype=torch.float64)
        assert list(movie.fitted.get_ydata()) == pytest.approx((slope * ends + bias).tolist(), abs=1e-4)
        assert len(movie.trail.get_xdata()) == step + 1, "the trail holds every point visited so far"
        cost = lesson.mse(slope * x + bias, y).item()
        assert f"iteration {step}:" in movie.caption.get_text() and f"J = {cost:.4g}" in movie.caption.get_text()


def test_b_lags_behind_w_in_the_animation(movie: animation.DescentAnimation) -> None:
    # What the animation is for: w settles in a few steps, b takes many more.
    optimum = lesson.least_squares(*lesson.slope_and_bias_data(lesson.Run()))
    settled = [next(k for k, params in enumerate(movie.params) if abs(params[i] - optimum[i]) < 0.1) for i in (0, 1)]
    assert settled[0] + 10 <= settled[1], f"w settles at step {settled[0]}, b at {settled[1]}"


def test_the_animation_is_laid_out_clear(movie: animation.DescentAnimation) -> None:
    from layout import layout_problems

    movie.fig.set_dpi(figures.DEFAULT_DPI)  # the GIF above was drawn small; check at a learner's size
    problems = []
    # The first frame (the start at the edge of the contours) and the last (everything at the optimum).
    for step in (0, len(movie.params) - 1):
        movie.draw_step(step)
        problems += layout_problems(movie.fig, f"descent.gif at iteration {step}")
    assert not problems, "\n".join(problems)


def gif_facts(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.n_frames, image.size[0]


def test_animate_writes_a_gif_and_says_where(animated: tuple[animation.DescentAnimation, Path, str]) -> None:
    _, outdir, text = animated
    path = outdir / "descent.gif"
    assert f"animation saved: {path}" in text, text
    frames, width = gif_facts(path)
    assert frames >= MIN_FRAMES, f"{frames} frames"
    assert width == round(figures.WIDE * GIF_DPI)
    assert path.stat().st_size < MAX_GIF_BYTES


def test_the_readme_animation_is_small_and_wide_enough() -> None:
    path = ROOT / "docs" / "figures" / "descent.gif"
    frames, width = gif_facts(path)
    assert frames >= MIN_FRAMES and width >= 700, (frames, width)
    assert path.stat().st_size < MAX_GIF_BYTES, f"{path.stat().st_size} bytes"


def test_a_plain_run_draws_nothing_for_the_animation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a plain run built the animation")

    monkeypatch.setattr(lesson.animation, "descent_animation", refuse)
    code, text = run_main(["--section", "prediction", "--outdir", str(tmp_path)])
    assert code == 0 and "animation saved" not in text
    assert not (tmp_path / "descent.gif").exists()


def test_animate_and_no_plots_contradict(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        lesson.main(["--animate", "--no-plots"])
    assert caught.value.code == 2 and "contradict" in capsys.readouterr().err


# --- the explorer, headless ----------------------------------------------------------------


@pytest.fixture(scope="module")
def opened_window(agg: None) -> explorer.Explorer:
    import matplotlib.pyplot as plt

    x, y = lesson.slope_and_bias_data(lesson.Run())
    opened = explorer.Explorer(
        x,
        y,
        lesson.SLOPE_BIAS_START,
        lesson.train_slope_and_bias,
        lesson.mse,
        lesson.cost_surface,
        lesson.max_stable_lr(x),
        lesson.LAB_LR,
        lesson.least_squares(x, y),
    )
    # Under Agg every redraw request would draw the whole figure at once; the tests read the artists' data
    # instead, and draw for real once where it matters.
    opened.fig.canvas.draw_idle = lambda *args, **kwargs: None
    yield opened
    plt.close(opened.fig)


@pytest.fixture
def window(opened_window: explorer.Explorer) -> explorer.Explorer:
    """The explorer as it opens: at the start, lr 0.1, no steps taken."""
    opened_window.on_reset()
    return opened_window


def assert_shows(window: explorer.Explorer, slope: float, bias: float) -> None:
    assert list(window.point.get_xdata()) == pytest.approx([slope], abs=PARAM_ATOL)
    assert list(window.point.get_ydata()) == pytest.approx([bias], abs=PARAM_ATOL)
    assert list(window.fitted.get_ydata()) == pytest.approx((slope * window.ends + bias).tolist(), abs=1e-4)
    cost = lesson.mse(slope * window.x + bias, window.y).item()
    assert f"J(w, b) = {cost:.4g}" in window.cost_text.get_text(), window.cost_text.get_text()


def test_step_takes_the_lessons_gradient_step(window: explorer.Explorer) -> None:
    assert_shows(window, *lesson.SLOPE_BIAS_START)
    for _ in range(3):
        window.on_step()
    _, _, history = section_4_descent(3)
    assert_shows(window, *history.params[-1])
    assert len(window.trail.get_xdata()) == 4, "the trail holds the start and three steps"
    window.on_run()
    _, _, history = section_4_descent(3 + explorer.RUN_STEPS)
    assert_shows(window, *history.params[-1])


def test_dragging_a_slider_moves_the_line_and_the_point_at_once(window: explorer.Explorer) -> None:
    window.on_step()
    window.w_slider.set_val(2.0)
    window.b_slider.set_val(1.5)
    assert_shows(window, 2.0, 1.5)
    assert len(window.trail.get_xdata()) == 1, "a dragged point starts a new path"
    window.on_step()
    x, y = window.x, window.y
    assert_shows(window, *lesson.train_slope_and_bias(x, y, 2.0, 1.5, lesson.LAB_LR, 1).params[-1])


def test_the_step_size_slider_is_marked_at_the_limit(window: explorer.Explorer) -> None:
    limit = lesson.max_stable_lr(window.x)
    marks = [line for line in window.lr_slider.ax.lines if list(line.get_xdata()) == [limit, limit]]
    assert marks, "the lr slider should be marked at 2/λmax"
    assert "below 2/λmax" in window.status.get_text()


def test_a_step_size_above_the_limit_diverges_visibly_without_nan(window: explorer.Explorer) -> None:
    window.lr_slider.set_val(0.4)
    assert "above 2/λmax" in window.status.get_text()
    distances = []
    for _ in range(12):
        window.on_run()
        slope, bias = window.slope, window.bias
        distances.append(max(abs(slope), abs(bias)))
    assert distances[1] > distances[0] > explorer.SLIDER_RANGE, "the points should fly outward, off the chart"
    assert window.diverged and window.status.get_text().startswith("Diverged after"), window.status.get_text()
    texts = [window.status.get_text(), window.cost_text.get_text()]
    assert not any("nan" in text.lower() or "inf" in text.lower() for text in texts), texts
    assert window.on_step() is False, "a diverged descent takes no more steps"
    renderer = window.fig.canvas.get_renderer()
    for artist in (window.trail, window.point, window.fitted):
        artist.draw(renderer)  # points and a line far off the chart draw without an error
    window.on_reset()
    assert_shows(window, *lesson.SLOPE_BIAS_START)
    assert window.lr == lesson.LAB_LR and not window.diverged


def test_explore_without_a_display_says_what_to_do(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(figures.sys, "platform", "linux")
    assert lesson.main(["--explore"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert "--explore needs a window" in err and "--animate" in err and "Traceback" not in err, err


@pytest.mark.explorer_window
@pytest.mark.time_limit(LESSON_RUN_LIMIT)
def test_the_real_windows_open_under_xvfb_and_close(explorer_window) -> None:
    # tests/open_windows_briefly.py: `--show` for one section, then `--explore`, each window closed after a second.
    run, stdout, stderr = explorer_window
    assert run.process.returncode == 0, stdout + stderr
    windows = [line.split() for line in stdout.splitlines() if line.startswith("window ")]
    assert "show exited 0" in stdout and len(windows) == 2, f"expected the --show figure, then the explorer:\n{stdout}"
    for _, backend, width, height in windows:
        assert backend != "agg", f"no real window opened: {stdout}"
        assert int(width) >= 600 and int(height) >= 380, f"a {width} × {height} window is too small to read"


# --- the explorer stays readable at any setting ----------------------------------------------


def test_the_explorer_is_laid_out_clear_at_any_setting(window: explorer.Explorer) -> None:
    from layout import layout_problems

    problems = layout_problems(window.fig, "the explorer at its start")
    window.on_step()
    problems += layout_problems(window.fig, "the explorer after Step")
    window.lr_slider.set_val(0.45)
    while window.on_step():
        pass
    assert window.diverged
    problems += layout_problems(window.fig, "the explorer after a divergence")
    window.on_reset()
    window.w_slider.set_val(explorer.SLIDER_RANGE)
    window.b_slider.set_val(-explorer.SLIDER_RANGE)
    window.lr_slider.set_val(window.lr_slider.valmin)
    problems += layout_problems(window.fig, "the explorer with its sliders at their ends")
    assert not problems, "\n".join(problems)


def test_readouts_are_short(window: explorer.Explorer) -> None:
    assert [explorer.short(value) for value in (835.9123, -1.94512e4, 7.7923e5, 0.0123456)] == [
        "835.9",
        "-1.945e4",
        "7.792e5",
        "0.01235",
    ]
    window.lr_slider.set_val(0.45)
    window.on_run()
    assert window.w_slider.valtext.get_text() == explorer.short(window.slope)


def test_the_optimum_is_marked(window: explorer.Explorer) -> None:
    optimum = lesson.least_squares(window.x, window.y)
    stars = [line for line in window.point.axes.get_lines() if line.get_marker() == "*"]
    assert stars and list(stars[0].get_xydata()[0]) == pytest.approx(list(optimum)), "the optimum should be starred"


def test_a_line_off_the_chart_is_pointed_at(window: explorer.Explorer) -> None:
    assert window.away.get_text() == "", "the line starts on the chart"
    window.w_slider.set_val(0.0)
    window.b_slider.set_val(explorer.SLIDER_RANGE)
    assert window.away.get_text().startswith("↑"), window.away.get_text()
    window.b_slider.set_val(-explorer.SLIDER_RANGE)
    assert window.away.get_text().startswith("↓"), window.away.get_text()


def test_a_cost_that_falls_above_the_limit_is_explained(window: explorer.Explorer) -> None:
    # Near the optimum the steep direction's error starts tiny: above the limit J first falls, then grows.
    optimum = lesson.least_squares(window.x, window.y)
    window.w_slider.set_val(optimum[0])
    window.b_slider.set_val(optimum[1] + 1.0)
    window.lr_slider.set_val(0.407)
    costs, explained = [window.current_cost()], []
    for _ in range(explorer.RUN_STEPS):
        window.on_step()
        costs.append(window.current_cost())
        if costs[-1] < costs[-2]:
            if not explained:  # the longest status the window shows: it must fit
                from layout import layout_problems

                problems = layout_problems(window.fig, "the explorer when J falls above the limit")
                assert not problems, "\n".join(problems)
            explained.append(window.status.get_text())
    assert explained, f"J should fall at first from this start: {costs}"
    assert costs[-1] > min(costs), f"J should grow again above the limit: {costs}"
    for status in explained:
        assert "J fell this step because" in status and "J will too" in status, status


def test_explore_without_a_window_toolkit_says_how_to_get_one(
    agg: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPLAY", ":99")  # a display, but only Agg to draw with, as where Tk is not installed
    monkeypatch.setitem(sys.modules, "tkinter", None)
    assert lesson.main(["--explore"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert "no window toolkit" in err and "Install Tk for this Python" in err and "python3-tk" in err, err


def test_explore_on_a_display_that_cannot_be_reached_names_it(
    agg: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tkinter", reason="Tk is not installed for this Python")
    monkeypatch.setenv("DISPLAY", ":99")  # Tk is there, but no X server answers on :99
    assert lesson.main(["--explore"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert "the display :99 could not be reached" in err and "Install Tk" not in err, err
