"""One session of `python -m exercises watch` in a copy of the repository, for tests/test_watch.py.

The session saves into exercise 1, one after the other: a stub, a wrong answer, an endless loop
that also changes torch's settings, a file that ends its process with os._exit(), a half-typed
file and the reference answer, and keeps the screen the watcher shows for each. For the stub,
the wrong answer and the answer, `python -m pytest -m ex1` runs on a copy holding the same file.
The watcher and each pytest run are processes of their own at a lower priority (tests/project_process.py:
forked from this one with torch loaded, where the platform forks), started when collection ends
(test_watch.py loads this plugin); a thread here drives the saves, so that the session takes the
time the other tests leave free instead of adding its length to theirs.

PYTEST_DONT_REWRITE: test_watch.py imports this module before pytest loads it as a plugin.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from project_process import in_background, python_m, warm_libraries
from repository_copy import copy_repository

EXERCISE, FILE = "ex1", Path("exercises/ex1_height_weight.py")
SOLUTION = (ROOT / "exercises" / "solutions" / FILE.name).read_text(encoding="utf-8")
WAIT = 900.0  # seconds the session may take in all before the test gives up on it: a hang guard only
SEPARATOR = "-" * 40 + "\n"


def stub_of(source: str) -> str:
    """The file as a learner gets it: every function's body replaced by raise NotImplementedError."""
    lines = source.splitlines()
    functions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    for function in reversed(functions):
        body = function.body[1:] if ast.get_docstring(function) else function.body
        indent = " " * body[0].col_offset
        lines[body[0].lineno - 1 : body[-1].end_lineno] = [f'{indent}raise NotImplementedError("not written yet")']
    return "\n".join(lines) + "\n"


ANSWERS = {  # what is saved, in this order; check 1 is the watcher's own at the start, on the stub
    "stub": stub_of(SOLUTION),
    "wrong": SOLUTION.replace("HEIGHT_MEAN_CM = 170.0", "HEIGHT_MEAN_CM = 1.70").replace(
        "HEIGHT_STD_CM = 9.0", "HEIGHT_STD_CM = 0.09"
    ),  # metres
    "endless": SOLUTION.replace("import torch\n", "import time\n\nimport torch\n").replace(
        "    mean, std = heights.mean(), heights.std()\n",
        "    torch.set_default_dtype(torch.float64)\n    while True:\n        time.time()\n",
    ),
    "crash": SOLUTION.replace("import sys\n", "import os\nimport sys\n").replace(
        "    generator = torch.Generator()", "    os._exit(3)\n    generator = torch.Generator()"
    ),
    "half-typed": SOLUTION.split("def fit_height_weight(")[0] + "def fit_height_weight(heights, weights\n",
    "right": SOLUTION,
}
COMPARED = ("stub", "wrong", "right")  # each a pytest run of its own: the costly part of this test


def save(path: Path, text: str) -> None:
    """Save as an editor does: the whole new file at once."""
    draft = path.with_suffix(".draft")
    draft.write_text(text, encoding="utf-8")
    os.replace(draft, path)


@dataclass
class PytestSays:
    counts: dict[str, int]
    first_failure: tuple[str, str] | None  # (test name, message)


def junit(path: Path) -> PytestSays:
    root = ElementTree.parse(path).getroot()
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    assert suite is not None
    numbers = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    counts = {
        "failed": numbers["failures"],
        "error": numbers["errors"],
        "skipped": numbers["skipped"],
        "passed": numbers["tests"] - numbers["failures"] - numbers["errors"] - numbers["skipped"],
    }
    first = None
    for case in suite.iter("testcase"):
        problem = next((child for child in case if child.tag in ("failure", "error")), None)
        if problem is not None:
            first = (case.get("name", ""), (problem.text or "").strip())
            break
    return PytestSays({key: value for key, value in counts.items() if value}, first)


@dataclass
class Session:
    screens: dict[str, str]  # answer -> the watcher's screen with its verdict
    pytest_says: dict[str, PytestSays]
    hint_screen: str
    summary: str
    returncode: int


def wait_for(output: Path, pattern: str, process: Any, deadline: float) -> str:
    """The first screen in the watcher's output that matches `pattern`."""
    while time.monotonic() < deadline:
        for screen in output.read_text(encoding="utf-8").split(SEPARATOR):
            if re.search(pattern, screen):
                return screen
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the watcher never showed {pattern!r}; it printed:\n{output.read_text(encoding='utf-8')}")


# Seconds of CPU time one check may use: the endless loop's check uses them up. ex1's checks use
# about 0.1 s each, on a busy machine too (CPU time, not the clock, is counted).
WATCH_LIMIT = 2


@dataclass
class Started:
    """The processes of one session, started before the thread that drives them."""

    watched: Path
    watcher: Any  # project_process.Forked or subprocess.Popen
    keys: int  # the write end of the watcher's input
    output: Path
    copy: Path  # where verdicts_of_pytest runs
    verdicts: Any  # project_process.Forked or Thread: verdicts_of_pytest


def verdicts_of_pytest(copy: Path) -> None:
    """`python -m pytest -m ex1` on each compared answer in turn, in one copy: later runs find the tests compiled."""
    for name in COMPARED:
        save(copy / FILE, ANSWERS[name])
        with open(copy / f"pytest-{name}.out", "w", encoding="utf-8") as out:
            python_m(copy, "pytest", ["-m", EXERCISE, f"--junitxml={copy / f'junit-{name}.xml'}"], out).wait()


def start_session(base: Path) -> Started:
    copy = copy_repository(base / "pytest")
    verdicts = in_background(lambda: verdicts_of_pytest(copy))  # they start first and run beside the session
    watched = copy_repository(base / "watched")
    save(watched / FILE, ANSWERS["stub"])
    output = base / "watcher.out"
    read_end, keys = os.pipe()
    with open(output, "w", encoding="utf-8") as out:
        watcher = python_m(  # not at a lower priority: each of its saves waits for the one before, so it sets the pace
            watched, "exercises", ["watch", EXERCISE, "--time-limit", str(WATCH_LIMIT)], out, read_end, nice=0
        )
    os.close(read_end)
    return Started(watched, watcher, keys, output, copy, verdicts)


def drive_session(started: Started) -> Session:
    watched, watcher, output = started.watched, started.watcher, started.output
    deadline = time.monotonic() + WAIT
    try:
        screens = {"stub": wait_for(output, rf"check 1 of {EXERCISE}, [^\n]* at the start: ", watcher, deadline)}
        os.write(started.keys, b"h")
        hint_screen = wait_for(output, r"\(1 of \d+\) Hint 1\.1", watcher, deadline)
        for number, name in enumerate(list(ANSWERS)[1:], start=2):
            save(watched / FILE, ANSWERS[name])
            screens[name] = wait_for(
                output, rf"check {number} of {EXERCISE}, [^\n]* after your save: ", watcher, deadline
            )
        os.write(started.keys, b"q")
        os.close(started.keys)
        returncode = watcher.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    started.verdicts.wait(timeout=max(deadline - time.monotonic(), 1))
    pytest_says = {}
    for name in COMPARED:
        report = started.copy / f"junit-{name}.xml"
        if not report.is_file():
            printed = (started.copy / f"pytest-{name}.out").read_text(encoding="utf-8")
            raise AssertionError(f"pytest -m {EXERCISE} wrote no report; it printed:\n{printed}")
        pytest_says[name] = junit(report)
    summary = output.read_text(encoding="utf-8").rsplit(SEPARATOR, 1)[-1]
    return Session(screens, pytest_says, hint_screen, summary, returncode)


@dataclass
class Background:
    thread: threading.Thread
    result: list[Session | BaseException]


KEY = pytest.StashKey[Background]()


def pytest_collection_finish(session: pytest.Session) -> None:
    wanted = any(Path(item.path).name == "test_watch.py" for item in session.items)
    if not wanted or session.config.option.collectonly:
        return
    base = Path(tempfile.mkdtemp(prefix="watch-session-"))
    session.config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
    result: list[Session | BaseException] = []
    try:
        warm_libraries()  # before the forks, so that no child pays for it
        started = start_session(base)
    except BaseException as error:
        result.append(error)

    def drive() -> None:
        if result:
            return
        try:
            result.append(drive_session(started))
        except BaseException as error:  # handed to the test that waits for it
            result.append(error)

    thread = threading.Thread(target=drive, name="watch-session", daemon=True)
    thread.start()
    session.config.stash[KEY] = Background(thread, result)


def finished_session(config: pytest.Config) -> Session:
    """Wait for the session started when collection ended."""
    background = config.stash.get(KEY, None)
    if background is None:
        pytest.skip("no watcher session was started in this run")
    background.thread.join(WAIT)
    if not background.result:
        pytest.fail(f"the watcher session did not end within {WAIT:g} s", pytrace=False)
    outcome = background.result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
