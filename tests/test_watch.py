"""`python -m exercises watch`, tried as a learner uses it: one session in a copy of the repository.

The session saves a stub, a wrong answer, an endless loop that also changes torch's settings, a
half-typed file and the reference answer into exercise 1, one after the other. For the stub, the
wrong answer, the half-typed file and the answer, a cold `python -m pytest -m ex1` runs on a copy
holding the same file, and the watcher must count and say what it says. All of it runs in other
processes started together, so the session costs about as long as its slowest part.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

EXERCISE, FILE = "ex1", Path("exercises/ex1_height_weight.py")
SOLUTION = (ROOT / "exercises" / "solutions" / FILE.name).read_text(encoding="utf-8")
WAIT = 90.0  # seconds the session may take in all before the test gives up on it
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
    "endless": SOLUTION.replace("import torch\n", "import time\n\nimport torch\n")
    .replace(
        "    generator = torch.Generator()",
        "    torch.set_default_dtype(torch.float64)\n    generator = torch.Generator()",
    )
    .replace("    mean, std = heights.mean(), heights.std()\n", "    while True:\n        time.sleep(0.05)\n"),
    "half-typed": SOLUTION.split("def fit_height_weight(")[0] + "def fit_height_weight(heights, weights\n",
    "right": SOLUTION,
}
COMPARED = ("stub", "wrong", "right")  # each a cold pytest run of its own: the costly part of this test


def copy_repository(target: Path) -> Path:
    skip = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "lesson.ipynb"}
    shutil.copytree(
        ROOT,
        target,
        ignore=lambda folder, names: [
            name
            for name in names
            if name in skip or name.endswith(".egg-info") or (Path(folder) == ROOT and name == "figures")
        ],
    )
    return target


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


def wait_for(output: Path, pattern: str, process: subprocess.Popen[str], deadline: float) -> str:
    """The first screen in the watcher's output that matches `pattern`."""
    while time.monotonic() < deadline:
        for screen in output.read_text(encoding="utf-8").split(SEPARATOR):
            if re.search(pattern, screen):
                return screen
        if process.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail(f"the watcher never showed {pattern!r}; it printed:\n{output.read_text(encoding='utf-8')}")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    base = tmp_path_factory.mktemp("watch")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env.pop("DISPLAY", None)
    cold = {}
    for name in COMPARED:  # the cold runs start first and run beside the session
        copy = copy_repository(base / f"pytest-{name}")
        save(copy / FILE, ANSWERS[name])
        command = [sys.executable, "-m", "pytest", "-m", EXERCISE, f"--junitxml={copy / 'junit.xml'}"]
        cold[name] = (
            copy,
            subprocess.Popen(command, cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
        )
    watched = copy_repository(base / "watched")
    save(watched / FILE, ANSWERS["stub"])
    output = base / "watcher.out"
    with open(output, "w", encoding="utf-8") as out:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "exercises", "watch", EXERCISE, "--time-limit", "1"],
            cwd=watched,
            env=env,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    assert watcher.stdin is not None
    deadline = time.monotonic() + WAIT
    try:
        screens = {"stub": wait_for(output, rf"check 1 of {EXERCISE}, .*: ", watcher, deadline)}
        watcher.stdin.write("h")
        watcher.stdin.flush()
        hint_screen = wait_for(output, r"\(1 of \d+\) Hint 1\.1", watcher, deadline)
        for number, name in enumerate(list(ANSWERS)[1:], start=2):
            save(watched / FILE, ANSWERS[name])
            screens[name] = wait_for(output, rf"check {number} of {EXERCISE}, .*: ", watcher, deadline)
        watcher.stdin.write("q")
        watcher.stdin.close()
        returncode = watcher.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    pytest_says = {}
    for name, (copy, process) in cold.items():
        process.wait(timeout=max(deadline - time.monotonic(), 1))
        pytest_says[name] = junit(copy / "junit.xml")
    summary = output.read_text(encoding="utf-8").rsplit(SEPARATOR, 1)[-1]
    return Session(screens, pytest_says, hint_screen, summary, returncode)


def counted(screen: str) -> dict[str, int]:
    line = re.search(rf"check \d+ of {EXERCISE}, [^:]*: (.*)", screen)
    assert line, screen
    return {category: int(number) for number, category in re.findall(r"(\d+) (\w+)", line[1])}


def first_failure(screen: str) -> tuple[str, str] | None:
    match = re.search(r"The first failing check, (\S+):\n((?:    .*\n?)*)", screen)
    if not match:
        return None
    return match[1], "\n".join(line.removeprefix("    ") for line in match[2].splitlines()).strip()


@pytest.mark.parametrize("answer", COMPARED)
def test_the_watcher_says_what_pytest_says(session: Session, answer: str) -> None:
    screen, says = session.screens[answer], session.pytest_says[answer]
    assert counted(screen) == says.counts, f"the watcher counted otherwise than pytest -m {EXERCISE}:\n{screen}"
    assert first_failure(screen) == says.first_failure, screen


def test_each_answer_gets_its_own_verdict(session: Session) -> None:
    lines = {name: re.search(rf" > {EXERCISE}  (.*)", screen)[1] for name, screen in session.screens.items()}
    assert lines["stub"].startswith("not finished:"), lines
    assert lines["wrong"].startswith("not solved yet:"), lines
    assert lines["half-typed"].startswith("not solved yet:"), lines
    assert lines["right"] == "solved: all 13 checks pass", lines
    assert "SyntaxError" in session.screens["half-typed"]
    assert "Skipped: exercise 1 not attempted yet" in session.screens["stub"]


def test_an_endless_loop_is_stopped_and_the_watching_goes_on(session: Session) -> None:
    screen = session.screens["endless"]
    assert "stopped after 1 s: that is the watcher's limit" in screen, screen
    assert "test_ex1_fit_on_the_shipped_csv[yours]" in screen, "the screen should name the check that was running"
    # That file also switched torch to float64; the checks after it are pytest's all the same.
    assert counted(session.screens["right"]) == session.pytest_says["right"].counts


def test_a_hint_comes_from_the_exercises_readme(session: Session) -> None:
    readme = (ROOT / "exercises" / "README.md").read_text(encoding="utf-8")
    hint = re.search(r"\*\*Hint 1\.1\.\*\* (.*?)\n\n", readme, re.DOTALL)[1]
    shown = re.search(r"Hint 1\.1: (.*?)\n\n", session.hint_screen, re.DOTALL)[1]
    assert " ".join(shown.split()) == " ".join(hint.split())


def test_quitting_ends_with_the_summary(session: Session) -> None:
    assert session.returncode == 0
    assert "exercises solved: 1/1 (ex1)" in session.summary, session.summary
    assert "Traceback" not in session.summary
