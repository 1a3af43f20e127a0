"""`python -m exercises watch`, tried as a learner uses it: its verdicts beside pytest's for the same files.

The session itself (tests/watch_session.py) runs in other processes beside the other tests.
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from watch_session import COMPARED, EXERCISE, WATCH_LIMIT, Session, finished_session

from exercises.catalog import BY_MARKER
from grader.plugin import checks_of

pytest_plugins = ["watch_session"]  # starts the session when collection ends


@pytest.fixture(scope="module")
def session(pytestconfig: pytest.Config) -> Session:
    return finished_session(pytestconfig)


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
    checks = 2 * len(checks_of(BY_MARKER[EXERCISE]).GRADED) + 1  # yours and the reference's, and the shipped data's
    assert lines["right"] == f"solved: all {checks} checks pass", lines
    assert "SyntaxError" in session.screens["half-typed"]
    assert re.search(r"Skipped: exercise 1: .*not written yet", session.screens["stub"])


def test_an_endless_loop_is_stopped_and_the_watching_goes_on(session: Session) -> None:
    screen = session.screens["endless"]
    # Stopped at the CPU-time limit, or on a machine so busy that the loop got little CPU, at the clock's.
    assert re.search(rf"The check was stopped: fit_height_weight\(\) (used {WATCH_LIMIT} s of CPU time|waited)", screen)
    assert "test_exercise[ex1-fit_on_the_shipped_csv-yours]" in screen, (
        "the screen should name the check that was running"
    )
    # That file also switched torch to float64; the checks after it are pytest's all the same.
    assert counted(session.screens["right"]) == session.pytest_says["right"].counts


def test_a_process_that_ends_in_the_middle_is_told_and_the_watching_goes_on(session: Session) -> None:
    screen = session.screens["crash"]
    assert "ended with exit code 3" in screen, screen
    assert "os._exit()" in screen, "the screen should name what ends a process so"


def test_a_hint_comes_from_the_exercises_readme(session: Session) -> None:
    readme = (ROOT / "exercises" / "README.md").read_text(encoding="utf-8")
    hint = re.search(r"\*\*Hint 1\.1\.\*\* (.*?)\n\n", readme, re.DOTALL)[1]
    shown = re.search(r"Hint 1\.1: (.*?)\n\n", session.hint_screen, re.DOTALL)[1]
    assert " ".join(shown.split()) == " ".join(hint.split())


def test_quitting_ends_with_the_summary(session: Session) -> None:
    assert session.returncode == 0
    assert "exercises solved: 1/1 (ex1)" in session.summary, session.summary
    assert "Traceback" not in session.summary
