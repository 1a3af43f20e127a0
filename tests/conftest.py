"""What every test shares: a time limit per test (time_limit.py), one real run of lesson.py, its output."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from time_limit import pytest_configure, pytest_runtest_call  # noqa: F401  (hooks: a time limit for every test)

ROOT = Path(__file__).resolve().parents[1]
LESSON_RUN_LIMIT = 240.0  # seconds the real `python lesson.py` run may take


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
    gc.freeze()  # torch is imported by now: see pytest_unconfigure
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
    # Python's garbage collector walks every object torch, sympy and matplotlib made, again and
    # again during the run and once more at exit, over a second in all here. Freezing them skips
    # those walks; files are already closed and the operating system takes the memory back.
    gc.freeze()


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


@pytest.fixture
def in_a_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so a learner's code that writes to a relative path leaves nothing in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def agg() -> None:
    """Figures drawn into memory and files only, whatever display the machine has."""
    import matplotlib

    matplotlib.use("Agg")


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


# --- the exercise summary at the end of every run ---------------------------------------------

_outcomes: dict[tuple[str, str], dict[str, str]] = {}  # (exercise, "yours" or "reference") -> {test id: outcome}


def _exercise_files() -> dict[str, str]:
    try:
        from lesson import EXERCISES  # imported late: the lesson run starts before torch is loaded here
    except Exception:  # a lesson.py that does not import is reported by the tests themselves
        return {}
    return {name: file for name, file, _ in EXERCISES}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    exercise = next((name for name in _exercise_files() if name in report.keywords), None)
    if exercise is None:
        return
    checks = _outcomes.setdefault((exercise, "yours" if "[yours" in report.nodeid else "reference"), {})
    # A check's outcome is its worst phase: a failure anywhere fails it, then a skip, then a pass.
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    previous = checks.get(report.nodeid, "passed")
    checks[report.nodeid] = max(previous, report.outcome, key=rank.__getitem__)


def _exercise_line(exercise: str, file: str, checks: dict[str, str]) -> tuple[bool, str]:
    """Whether the learner solved this exercise, and one line saying how it stands."""
    counts = {outcome: list(checks.values()).count(outcome) for outcome in ("passed", "failed", "skipped")}
    total = len(checks)
    if total == 0:
        return False, f"{exercise}: not checked in this run (run it with: python -m pytest -m {exercise})"
    if counts["skipped"] == total:
        return False, f"{exercise}: not attempted yet: open {file}"
    if counts["failed"]:
        return (
            False,
            f"{exercise}: not solved yet: {counts['failed']} of {total} checks fail (read their messages above)",
        )
    if counts["skipped"]:
        return (
            False,
            f"{exercise}: partly done: {counts['passed']} of {total} checks pass, the rest not attempted yet",
        )
    return True, f"{exercise}: solved, all {total} checks pass"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    solved, lines = [], []
    files = _exercise_files()
    for exercise, file in files.items():
        done, line = _exercise_line(exercise, file, _outcomes.get((exercise, "yours"), {}))
        lines.append(line)
        if done:
            solved.append(exercise)
    terminalreporter.section("exercises")
    terminalreporter.line(
        f"exercises solved: {len(solved)}/{len(files)}" + (f" ({', '.join(solved)})" if solved else "")
    )
    for line in lines:
        terminalreporter.line(f"  {line}")
    reference = [outcome for (_, who), checks in _outcomes.items() if who == "reference" for outcome in checks.values()]
    broken = reference.count("failed")
    if reference:
        state = f"{broken} of {len(reference)} fail: the grader or the solutions are broken" if broken else "all pass"
        checks = f"{len(reference)} check{'s' if len(reference) != 1 else ''}"
        terminalreporter.line(f"  reference solutions: {checks}, {state}")
