"""What every test shares: a time limit per test, one real run of lesson.py, the lesson's output."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT = 60.0  # seconds a test may run before it is stopped with a message, so a loop that never ends fails
LESSON_RUN_LIMIT = 240.0  # seconds the real `python lesson.py` run may take


# --- a time limit for every test --------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    marker = item.get_closest_marker("time_limit")
    limit = float(marker.args[0]) if marker else TIME_LIMIT
    if not hasattr(signal, "setitimer"):  # Windows has no interval timer; tests then run unlimited
        return (yield)

    def stop(signum: int, frame: object) -> None:
        pytest.fail(
            f"stopped after {limit:g} s: this test should take a second or two. Look for a loop that never ends "
            "or far more epochs than the exercise asks for.",
            pytrace=False,
        )

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- one real `python lesson.py` run, started early so it overlaps the other tests -------------


@dataclass
class LessonRun:
    process: subprocess.Popen[str]
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def figures(self) -> Path:
        return Path(self.workdir.name) / "figures"


RUN_KEY = pytest.StashKey[LessonRun]()


def _start_lesson_run(config: pytest.Config) -> None:
    if RUN_KEY in config.stash:
        return
    workdir = tempfile.TemporaryDirectory(prefix="lesson-run-")
    # As a learner on a machine with no display: no DISPLAY, no backend chosen, default output folder.
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "lesson.py")],
        cwd=workdir.name,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    config.stash[RUN_KEY] = LessonRun(process, workdir)


def _whole_suite(config: pytest.Config) -> bool:
    option = config.option
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not option.markexpr
        and not option.keyword
        and not option.collectonly
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    # For the whole suite the run starts before collection, so it overlaps everything else.
    if _whole_suite(session.config):
        _start_lesson_run(session.config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The test that waits for the run goes last, when the run has had the most time.
    items.sort(key=lambda item: item.get_closest_marker("lesson_run") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    wanted = any(item.get_closest_marker("lesson_run") for item in session.items)
    if wanted and not session.config.option.collectonly:
        _start_lesson_run(session.config)
    elif RUN_KEY in session.config.stash:
        run = session.config.stash[RUN_KEY]
        run.process.kill()
        run.process.communicate()


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        if run.process.poll() is None:
            run.process.kill()
        run.process.communicate()
        run.workdir.cleanup()


@pytest.fixture(scope="session")
def lesson_run(pytestconfig: pytest.Config) -> tuple[LessonRun, str, str]:
    """The finished real run: (run, stdout, stderr)."""
    run = pytestconfig.stash[RUN_KEY]
    try:
        stdout, stderr = run.process.communicate(timeout=LESSON_RUN_LIMIT)
    except subprocess.TimeoutExpired:
        run.process.kill()
        pytest.fail(f"python lesson.py ran longer than {LESSON_RUN_LIMIT:g} s and was stopped.", pytrace=False)
    return run, stdout, stderr


# --- the lesson's printed output, in-process --------------------------------------------------


def run_main(argv: list[str]) -> tuple[int, str]:
    """Run lesson.main(argv) in this process; return its exit code and what it printed."""
    import lesson

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = lesson.main(argv)
    return code, buffer.getvalue()


@pytest.fixture(scope="session")
def lesson_output() -> str:
    """Everything `python lesson.py --no-plots` prints, run where matplotlib cannot be imported."""
    blocked = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "matplotlib"}
    sys.modules.update(dict.fromkeys([*blocked, "matplotlib"], None))  # `import matplotlib` now fails
    try:
        code, text = run_main(["--no-plots"])
    except ImportError as error:
        pytest.fail(f"python lesson.py --no-plots tried to import matplotlib ({error}); it must not.", pytrace=False)
    finally:
        for name in [*blocked, "matplotlib"]:
            sys.modules.pop(name, None)
        sys.modules.update(blocked)
    assert code == 0, f"python lesson.py --no-plots exited with {code}; its output:\n{text}"
    return text
