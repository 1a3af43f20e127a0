"""What every test shares: a time limit per test, the exercises' plugin, one real run of lesson.py, its output.

The time limit (grader/time_limit.py) and the exercises' plugin (grader/plugin.py: markers, the
scratch folder, the end-of-run summary) live in the grader package; this file loads them. The
in-process passes over the lesson that many tests read (`deeper_output`, `sections_alone`) are
session fixtures, made once per process (with pytest-xdist, `-n 2`, once in each).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["grader.time_limit", "grader.plugin", "pytester"]

# This process lives for seconds and frees almost everything by reference counting: without the
# garbage collector, importing torch and running the tests takes about a second less (and some
# 20 MiB more at the peak). pytest_collection_finish also freezes what the libraries made.
gc.disable()

ROOT = Path(__file__).resolve().parents[1]
LESSON_RUN_LIMIT = 900.0  # seconds the real `python lesson.py` run may take: a hang guard, never a speed test

# --- real runs in other processes, started early so they overlap the other tests ------------------


@dataclass
class Background:
    """A real run in another process: `python lesson.py`, the explorer window under Xvfb, or a small pytest run."""

    process: subprocess.Popen[str]
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def figures(self) -> Path:
        return Path(self.workdir.name) / "figures"


def _lesson_command(workdir: Path) -> list[str] | None:
    # From the root of a copy of the repository, as the README runs it: its figures/ are the copy's.
    for part in ("lesson.py", "lesson_support", "grader", "data"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
        copy(ROOT / part, workdir / part)
    return [sys.executable, str(workdir / "lesson.py")]


def _other_math_path_command(workdir: Path) -> list[str] | None:
    return [sys.executable, str(ROOT / "tests" / "other_math_path.py")]


def _explorer_command(workdir: Path) -> list[str] | None:
    xvfb = shutil.which("xvfb-run")
    return [xvfb, "-a", sys.executable, str(ROOT / "tests" / "open_windows_briefly.py")] if xvfb else None


def _endless_loops_command(workdir: Path) -> list[str] | None:
    # A pytest run of its own, with only the time-limit plugin: no conftest, no project settings.
    (workdir / "pytest.ini").write_text("[pytest]\n")
    (workdir / "test_learner.py").write_text((ROOT / "tests" / "endless_loops.py").read_text(encoding="utf-8"))
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "grader.time_limit",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rA",
        "--color=no",
    ]


BACKGROUND = {  # marker -> the command whose finished run the marked test checks
    "lesson_run": _lesson_command,
    "other_math_path": _other_math_path_command,
    "explorer_window": _explorer_command,
    "endless_loops": _endless_loops_command,
}
RUNS_KEY = pytest.StashKey[dict[str, Background]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "other_math_path: waits for python lesson.py --no-plots --deeper on a second math path"
    )


def _start(config: pytest.Config, marker: str) -> None:
    runs = config.stash.setdefault(RUNS_KEY, {})
    if marker in runs:
        return
    workdir = tempfile.TemporaryDirectory(prefix=f"{marker.replace('_', '-')}-")
    command = BACKGROUND[marker](Path(workdir.name))
    if command is None:
        workdir.cleanup()
        return
    # As a learner on a machine with no display: no DISPLAY, no backend chosen, default output folder.
    # (xvfb-run sets a DISPLAY of its own.) Options given to this pytest run are not the child run's.
    unwanted = ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    env = {key: value for key, value in os.environ.items() if key not in unwanted}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    # The lesson writes UTF-8 into a pipe, whatever the platform's code page (runtime.printable_output).
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "encoding": "utf-8", "errors": "replace"}
    process = subprocess.Popen(command, cwd=workdir.name, env=env, **pipes)
    runs[marker] = Background(process, workdir)


def _stop(run: Background) -> None:
    if run.process.poll() is None:
        run.process.kill()
    run.process.communicate()


def _whole_suite(config: pytest.Config) -> bool:
    option = config.option
    return (
        [Path(arg).resolve() for arg in config.args] == [ROOT / "tests"]
        and not option.markexpr
        and not option.keyword
        and not option.collectonly
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    # For the whole suite the runs start before collection, so they overlap everything else.
    if _whole_suite(session.config):
        for marker in BACKGROUND:
            _start(session.config, marker)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The tests that wait for a run go last, when the runs have had the most time.
    items.sort(key=lambda item: any(item.get_closest_marker(marker) for marker in BACKGROUND))


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()  # torch is imported by now: see pytest_unconfigure
    runs = session.config.stash.get(RUNS_KEY, {})
    for marker in BACKGROUND:
        wanted = any(item.get_closest_marker(marker) for item in session.items)
        if wanted and not session.config.option.collectonly:
            _start(session.config, marker)
        elif marker in runs:
            _stop(runs.pop(marker))


def pytest_unconfigure(config: pytest.Config) -> None:
    for run in config.stash.get(RUNS_KEY, {}).values():
        _stop(run)
        run.workdir.cleanup()
    # Python's garbage collector walks every object torch, sympy and matplotlib made, again and
    # again during the run and once more at exit, over a second in all here. Freezing them skips
    # those walks; files are already closed and the operating system takes the memory back.
    gc.freeze()


def finished(config: pytest.Config, marker: str) -> tuple[Background, str, str]:
    """Wait for a background run: (run, stdout, stderr)."""
    run = config.stash.get(RUNS_KEY, {}).get(marker)
    if run is None:
        why = {
            "explorer_window": "xvfb-run is not installed, so no real window is opened here; "
            "install it (apt-get install xvfb) to run this test"
        }
        pytest.skip(why.get(marker, f"no {marker} run was started in this session"))
    try:
        stdout, stderr = run.process.communicate(timeout=LESSON_RUN_LIMIT)
    except subprocess.TimeoutExpired:
        run.process.kill()
        pytest.fail(
            f"{' '.join(run.process.args)} ran longer than {LESSON_RUN_LIMIT:g} s and was stopped.", pytrace=False
        )
    return run, stdout, stderr


@pytest.fixture(scope="session")
def lesson_run(pytestconfig: pytest.Config) -> tuple[Background, str, str]:
    """The finished real `python lesson.py`: (run, stdout, stderr)."""
    return finished(pytestconfig, "lesson_run")


@pytest.fixture(scope="session")
def endless_loops(pytestconfig: pytest.Config) -> tuple[Background, str, str]:
    """The finished pytest run of tests/endless_loops.py with only the time-limit plugin: (run, stdout, stderr)."""
    return finished(pytestconfig, "endless_loops")


@pytest.fixture(scope="session")
def explorer_window(pytestconfig: pytest.Config) -> tuple[Background, str, str]:
    """The finished tests/open_windows_briefly.py under Xvfb (--show, then --explore): (run, stdout, stderr)."""
    return finished(pytestconfig, "explorer_window")


@pytest.fixture(scope="session")
def agg() -> None:
    """Figures drawn into memory and files only, whatever display the machine has."""
    from lesson_support import figures  # imported late: it loads torch, and the background runs start first

    figures.use_files_only()


# --- the lesson's printed output, in-process --------------------------------------------------


def run_main(argv: list[str]) -> tuple[int, str]:
    """Run lesson.main(argv) in this process; return its exit code and what it printed."""
    import lesson

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = lesson.main(argv)
    return code, buffer.getvalue()


def _deeper_output() -> str:
    blocked = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "matplotlib"}
    sys.modules.update(dict.fromkeys([*blocked, "matplotlib"], None))  # `import matplotlib` now fails
    try:
        code, text = run_main(["--no-plots", "--deeper"])
    except ImportError as error:
        pytest.fail(f"python lesson.py --no-plots tried to import matplotlib ({error}); it must not.", pytrace=False)
    finally:
        for name in [*blocked, "matplotlib"]:
            sys.modules.pop(name, None)
        sys.modules.update(blocked)
    assert code == 0, f"python lesson.py --no-plots --deeper exited with {code}; its output:\n{text}"
    return text


@pytest.fixture(scope="session")
def deeper_output() -> str:
    """Everything `python lesson.py --no-plots --deeper` prints, run where matplotlib cannot be imported."""
    return _deeper_output()


@pytest.fixture(scope="session")
def lesson_output(deeper_output: str) -> str:
    """What `python lesson.py --no-plots` prints: the --deeper output without its optional parts.

    The real `python lesson.py` run (test_lesson_run.py) checks that this is what it prints.
    """
    from lesson_support.runtime import required_path

    return required_path(deeper_output)


@dataclass
class ModelCall:
    """One call of a LinearRegression during a section: its modes, and its input when it trained."""

    section: str
    training: bool  # model.training
    inference: bool  # torch.is_inference_mode_enabled()
    grad: bool  # torch.is_grad_enabled()
    inputs: Any  # the input tensor (a copy) of a call that records gradients in training mode, else None


@dataclass
class SectionsAlone:
    """Every section run on its own with plots on, as `--section NAME` runs it: what it printed, drew and called."""

    printed: str
    figures: dict[str, Any]  # name -> the Figure the section emitted, built but not saved
    by_section: dict[str, list[str]]  # section name -> the names of the figures it emitted, in order
    calls: list[ModelCall]  # every call of a LinearRegression, in order
    folder: Path  # the working folder the sections ran in


def _sections_alone(folder: Path) -> SectionsAlone:
    import torch

    import lesson
    from lesson_support import figures
    from lesson_support.figures import FigureOutput

    figures.use_files_only()  # as the agg fixture does
    kept: dict[str, Any] = {}
    by_section: dict[str, list[str]] = {}
    calls: list[ModelCall] = []
    current = [""]

    def emit(self: Any, fig: Any, name: str) -> None:
        kept.setdefault(name, fig)
        by_section[current[0]].append(name)

    def note(module: Any, inputs: tuple[Any, ...]) -> None:
        if isinstance(module, lesson.LinearRegression):
            grad, training = torch.is_grad_enabled(), module.training
            copied = inputs[0].detach().clone() if grad and training else None
            calls.append(ModelCall(current[0], training, torch.is_inference_mode_enabled(), grad, copied))

    pieces = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(note)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(FigureOutput, "emit", emit)
            patch.chdir(folder)  # the saved model lands in figures/ here, not in the repository
            for name, section in lesson.SECTIONS.items():
                current[0] = name
                by_section[name] = []
                buffer = io.StringIO()
                with contextlib.redirect_stdout(buffer):
                    section(lesson.Run(plots=True, figures=FigureOutput(outdir=folder / "figures")))
                pieces.append(buffer.getvalue())
    finally:
        hook.remove()
    return SectionsAlone("".join(pieces), kept, by_section, calls, folder)


@pytest.fixture(scope="session")
def sections_alone(agg: None, tmp_path_factory: pytest.TempPathFactory) -> SectionsAlone:
    """One in-process pass over the sections with figures kept; the print, figure and mode checks share it."""
    return _sections_alone(tmp_path_factory.mktemp("sections-alone"))


def where_files_went_left_out(output: str) -> str:
    """The lesson's output without the lines that say where files went, which differ between modes."""
    saved = output.find(SAVED_MODEL)
    if saved != -1:
        output = output[:saved] + output[output.index("  Loaded into a fresh LinearRegression(2, 1)", saved) :]
    kept = [line for line in output.splitlines() if "figure saved:" not in line and not line.startswith(FILES_LINE)]
    return "\n".join(kept).rstrip("\n")


SAVED_MODEL = "torch.save(model.state_dict(), path) wrote"
FILES_LINE = "Figures and models are saved in"  # lesson_support.cli.FILES_LINE, the line that says where files go
