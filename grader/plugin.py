"""The exercises' pytest plugin: markers read from the catalog, a scratch folder, verdicts and the end-of-run summary.

tests/conftest.py loads it (`pytest_plugins`). A graded test carries its exercise's marker (ex1,
ex2, ...) and a parameter `who`: "yours" for the learner's file, "reference" for the solution.
Another program that runs pytest and wants each exercise's verdict (a watch loop, say) registers
a plugin of its own with a `Tally` in it:

    class Watcher:
        def __init__(self):
            self.tally = Tally()

        def pytest_runtest_logreport(self, report):
            self.tally.add(report)

    watcher = Watcher()
    pytest.main(["-q", "-m", "ex4"], plugins=[watcher])
    watcher.tally.verdict(BY_MARKER["ex4"])  # .state, .solved, .first_failure, .line()

`graded(report)` says which exercise and which answer a single report belongs to; the reports
carry it in `report.user_properties` too, as ("exercise", "ex4") and ("who", "yours").
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import importlib.util
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from exercises.catalog import BY_MARKER, EXERCISES, Exercise

GRADED_TESTS = "test_exercises.py"  # the one test module (in exercises/) that holds every graded check
SHIPPED_DATA = "shipped_data"  # the marker of a check of a data file the lesson ships: neither yours nor the reference
WHO = ("yours", "reference")
_RANK = {"passed": 0, "skipped": 1, "failed": 2}  # a check's outcome is its worst phase's


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-limit",
        type=float,
        default=None,
        help="seconds of CPU time one exercise check may use before it is stopped (default 30; "
        "five times as many seconds of waiting)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # This process imports torch and matplotlib and frees almost everything by reference counting: the
    # garbage collector's walks over what they made cost about a second a run and free nothing.
    # The checks' child processes turn it on again, over a frozen copy of all this (grader/harness.py).
    gc.disable()
    if importlib.util.find_spec("torch") is None:  # a terminal whose environment was never activated
        from lesson_support.environment import not_installed

        missing = ModuleNotFoundError("No module named 'torch'", name="torch")
        pytest.exit(not_installed(missing, program="python -m pytest"), returncode=pytest.ExitCode.USAGE_ERROR)
    for exercise in EXERCISES:
        described = f"exercise {exercise.number}, {exercise.task}"
        config.addinivalue_line("markers", f"{exercise.marker}: {described} (run alone with: {exercise.check_command})")
    config.addinivalue_line(
        "markers", f"{SHIPPED_DATA}: checks a data file the lesson ships; counted apart from the exercises' checks"
    )
    config.pluginmanager.register(Summary(config), "exercise-summary")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and not session.config.option.keyword:
        top = session.config.rootpath
        session.config.get_terminal_writer().line(
            f"No checks here: the exercises' checks live in {top / 'exercises'}. Run python -m pytest from the "
            f"repository's top folder ({top}) or from exercises/, or python -m pytest -m {EXERCISES[0].marker} for "
            "one exercise."
        )


def exercises_alone(config: pytest.Config) -> bool:
    """Whether -m picks exercises' checks and nothing else: `-m ex2`, `-m "ex1 or ex3"`, never with `not`."""
    words = re.findall(r"\w+", config.option.markexpr or "")
    return bool(words) and set(words) <= {*BY_MARKER, "or", "and"}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # `python -m pytest -m ex2` runs checks of GRADED_TESTS alone, so the other test modules are not
    # even imported, and a learner's check answers sooner. (pytest never asks this of a path typed
    # on the command line.) pytest_collection_modifyitems holds every graded check to that module.
    if (
        collection_path.suffix == ".py"
        and collection_path.name.startswith("test_")
        and collection_path.name != GRADED_TESTS
        and exercises_alone(config)
    ):
        return True
    return None


# --- which exercise and which answer a test belongs to ---------------------------------------------


def _exercise_of_item(item: pytest.Item) -> tuple[Exercise, str] | None:
    exercise = next((exercise for exercise in EXERCISES if item.get_closest_marker(exercise.marker)), None)
    if exercise is None:
        return None
    if item.get_closest_marker(SHIPPED_DATA):
        return exercise, SHIPPED_DATA
    callspec = getattr(item, "callspec", None)
    who = callspec.params.get("who", "reference") if callspec is not None else "reference"
    return exercise, who


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        found = _exercise_of_item(item)
        if found is None:
            continue
        if item.path.name != GRADED_TESTS:
            marker = found[0].marker
            raise pytest.UsageError(
                f"{item.nodeid} carries the exercise marker {marker} outside {GRADED_TESTS}, so "
                f"`python -m pytest -m {marker}` would never run it: move it into {GRADED_TESTS}."
            )
        item.user_properties += [("exercise", found[0].marker), ("who", found[1])]


def graded(report: pytest.TestReport) -> tuple[Exercise, str] | None:
    """The exercise a test report belongs to, and whose answer it ran ("yours", "reference" or SHIPPED_DATA)."""
    properties = dict(report.user_properties)
    exercise = BY_MARKER.get(properties.get("exercise", ""))
    return (exercise, properties.get("who", "reference")) if exercise is not None else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    found = _exercise_of_item(item)
    if found is not None and report.skipped and isinstance(report.longrepr, tuple):
        # The skip of a stub is told at the learner's file, not at the grader's line that raised it.
        _, _, reason = report.longrepr
        report.longrepr = (found[0].file, None, reason)
    return report


# --- verdicts ----------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """How one exercise stands after a run: counted from its checks on the learner's file."""

    exercise: Exercise
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    unimportable: int = 0  # of the skipped: those that wait for the file to import, not for a function
    first_failure: str | None = None  # the message of the first check that failed, as pytest reported it

    @property
    def checks(self) -> int:
        return self.passed + self.failed + self.skipped

    @property
    def state(self) -> str:
        """One of "not checked", "not attempted", "not solved", "partly done" and "solved"."""
        if self.checks == 0:
            return "not checked"
        if self.failed:
            return "not solved"
        if self.skipped == self.checks:
            return "not attempted"
        if self.skipped:
            return "partly done"
        return "solved"

    @property
    def solved(self) -> bool:
        return self.state == "solved"

    def line(self) -> str:
        exercise = self.exercise
        unwritten = self.skipped - self.unimportable
        waiting = f", {self.unimportable} wait for the file to import" if self.unimportable else ""
        waiting += f", {unwritten} wait for functions {NOT_WRITTEN}" if unwritten else ""
        return {
            "not checked": f"{exercise.marker}: not checked in this run (check it with: {exercise.check_command})",
            "not attempted": f"{exercise.marker}: not attempted yet: open {exercise.file}",
            "not solved": f"{exercise.marker}: not solved yet: {self.failed} of {self.checks} checks fail (read their "
            f"messages above){waiting}",
            "partly done": f"{exercise.marker}: partly done: {self.passed} of {self.checks} checks pass{waiting}",
            "solved": f"{exercise.marker}: solved, all {self.checks} checks pass",
        }[self.state]


REFERENCE_CHECKS: list[tuple[int, str]] = []  # this run's checks of the reference solutions: (exercise, check)
NOT_WRITTEN = "not written yet"  # how a skip line and the summary both tell a function that raises NotImplementedError
CANNOT_IMPORT = "cannot be imported"  # how a check's skip line tells a file whose import failed in an earlier check


@dataclass(frozen=True)
class Remembered:
    """An exercise's verdict from an earlier run that checked all of it, as pytest's cache keeps it."""

    state: str  # a Verdict.state
    checked: float  # when, as time.time()
    file_hash: str  # the sha256 of the exercise file then

    def line(self, exercise: Exercise, file_hash: str | None) -> str:
        when = _when(self.checked)
        if file_hash != self.file_hash:  # never "solved" for a file that changed since
            again = f"check it with: {exercise.check_command}"
            return f"{exercise.marker}: changed since it was last checked, {when} ({again})"
        return f"{exercise.marker}: {self.state} when last checked, {when} (not checked in this run)"


def _when(timestamp: float) -> str:
    """ "10:31 today", "10:31 yesterday" or "3 Dec 10:31", in local time."""
    moment = datetime.datetime.fromtimestamp(timestamp)
    days = (datetime.date.today() - moment.date()).days
    day = {0: "today", 1: "yesterday"}.get(days, f"on {moment.day} {moment:%b}")
    return f"{moment:%H:%M} {day}"


def file_hash(path: Path) -> str | None:
    """The sha256 of a file's bytes, or None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass
class Tally:
    """The outcome of every graded check seen, by exercise and answer; verdicts and the summary come from it."""

    outcomes: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (marker, who) -> {nodeid: outcome}
    messages: dict[str, str] = field(default_factory=dict)  # nodeid -> the failure's text
    unimportable: set[str] = field(default_factory=set)  # nodeids skipped because the file does not import

    def add(self, report: pytest.TestReport) -> None:
        """Count one report (of any phase); reports of tests that are not graded are left out."""
        found = graded(report)
        if found is None:
            return
        exercise, who = found
        checks = self.outcomes.setdefault((exercise.marker, who), {})
        # A check's outcome is its worst phase: a failure anywhere fails it, then a skip, then a pass.
        previous = checks.get(report.nodeid, "passed")
        checks[report.nodeid] = max(previous, report.outcome, key=_RANK.__getitem__)
        if report.failed and report.nodeid not in self.messages:
            self.messages[report.nodeid] = _failure_text(report)
        if report.skipped and isinstance(report.longrepr, tuple) and CANNOT_IMPORT in str(report.longrepr[-1]):
            self.unimportable.add(report.nodeid)

    def verdict(self, exercise: Exercise) -> Verdict:
        checks = self.outcomes.get((exercise.marker, "yours"), {})
        verdict = Verdict(exercise)
        for nodeid, outcome in checks.items():
            setattr(verdict, outcome, getattr(verdict, outcome) + 1)
            verdict.unimportable += outcome == "skipped" and nodeid in self.unimportable
            if outcome == "failed" and verdict.first_failure is None:
                verdict.first_failure = self.messages.get(nodeid)
        return verdict

    def outcomes_of(self, who: str) -> list[str]:
        return [outcome for (_, owner), checks in self.outcomes.items() if owner == who for outcome in checks.values()]

    def summary(
        self,
        earlier: Mapping[str, tuple[Remembered, str | None]] | None = None,
        partly_checked: Collection[str] = (),
    ) -> list[str]:
        """The lines of the end-of-run summary; none when no graded check ran.

        `earlier` holds, for exercises this run did not check, the verdict remembered from an
        earlier run and the hash of the exercise file now; `partly_checked` the exercises of
        which only some checks ran (-k, a node id, -x).
        """
        if not self.outcomes:
            return []
        earlier = earlier or {}
        verdicts = [self.verdict(exercise) for exercise in EXERCISES]
        solved, lines, checked = [], [], []
        for verdict in verdicts:
            marker = verdict.exercise.marker
            if verdict.state != "not checked":
                checked.append(marker)
                partly = marker in partly_checked
                if verdict.solved and not partly:
                    solved.append(marker)
                some = f" (only some of its checks ran; all of them: {verdict.exercise.check_command})"
                lines.append(f"  {verdict.line()}{some if partly else ''}")
            elif marker in earlier:
                remembered, now = earlier[marker]
                if remembered.state == "solved" and now == remembered.file_hash:
                    solved.append(marker)
                lines.append(f"  {remembered.line(verdict.exercise, now)}")
            else:
                lines.append(f"  {verdict.line()}")
        lines.insert(
            0, f"exercises solved: {len(solved)}/{len(verdicts)}" + (f" ({', '.join(solved)})" if solved else "")
        )
        if checked and len(checked) < len(verdicts):
            lines.append(f"  checked in this run: {', '.join(checked)}")
        reference = self.outcomes_of("reference")
        if reference:
            broken = reference.count("failed")
            state = (
                f"{broken} of {len(reference)} fail: the grader or the solutions are broken" if broken else "all pass"
            )
            lines.append(f"  reference solutions: {len(reference)} check{'s' if len(reference) != 1 else ''}, {state}")
        if "failed" in self.outcomes_of(SHIPPED_DATA):
            lines.append(
                "  shipped data: a file under data/ is not the one the lesson ships (read its check above); restore it "
                "with: git checkout data/"
            )
        return lines


def _failure_text(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.removeprefix("Failed: ")


MEMORY = "exercises/{marker}"  # the key of an exercise's last verdict in pytest's cache: .pytest_cache/v/exercises/ex4


class Summary:
    """The plugin object that counts this run's graded reports, remembers its verdicts and prints the summary.

    An exercise's verdict is remembered in pytest's cache (one key per exercise, so that the
    watcher's children, which run pytest for one exercise each, never overwrite each other's) when
    this run checked every one of its checks on the learner's file, with the sha256 of that file as
    it was when its first check started; a file that changed during the run is not remembered. The
    summary tells an exercise this run did not check by its remembered verdict, unless its file has
    changed since. Without the cache (-p no:cacheprovider) nothing is remembered or read.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tally = Tally()
        self.selected: dict[str, set[str]] = {}  # marker -> the nodeids of this run's checks on the learner's file
        self.deselected: set[str] = set()  # the exercises with a check on the learner's file left out (-k, -m, --lf)
        self.hashes: dict[str, str | None] = {}  # marker -> the file's hash when its first check started

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            found = _exercise_of_item(item)
            if found is not None and found[1] == "yours":
                self.deselected.add(found[0].marker)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from grader import shipped  # reads a few small files; imports nothing heavy

        graded_here = self.config.rootpath == shipped.ROOT and any(map(_exercise_of_item, session.items))
        damaged = shipped.Keeper().damaged_sentence() if graded_here else None
        if damaged:  # every verdict would be the damaged file's, not the answer's
            pytest.exit(f"The checks cannot run yet: {damaged}", returncode=pytest.ExitCode.USAGE_ERROR)
        REFERENCE_CHECKS.clear()
        for item in session.items:
            found = _exercise_of_item(item)
            if found is not None and found[1] == "yours":
                self.selected.setdefault(found[0].marker, set()).add(item.nodeid)
            elif found is not None and found[1] == "reference" and "check" in getattr(item, "callspec", ()).params:
                REFERENCE_CHECKS.append((found[0].number, item.callspec.params["check"]))

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        for marker, nodeids in self.selected.items():
            if nodeid in nodeids and marker not in self.hashes:  # just before the first check imports the file
                self.hashes[marker] = file_hash(self._file(marker))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tally.add(report)

    def _file(self, marker: str) -> Path:
        return self.config.rootpath / BY_MARKER[marker].file

    def partly_checked(self) -> set[str]:
        """The exercises of which this run checked only some checks on the learner's file."""
        by_node_id = any("::" in arg for arg in self.config.args)  # pytest tests/...::test_exercise[ex4-split-yours]
        partly = set()
        for marker, nodeids in self.selected.items():
            ran = self.tally.outcomes.get((marker, "yours"), {})
            if by_node_id or marker in self.deselected or not nodeids <= ran.keys():
                partly.add(marker)
        return partly

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is None:
            return
        partly = self.partly_checked()
        for marker in self.selected:
            before, now = self.hashes.get(marker), file_hash(self._file(marker))
            if marker in partly or before is None or before != now:
                continue
            state = self.tally.verdict(BY_MARKER[marker]).state
            cache.set(MEMORY.format(marker=marker), {"state": state, "checked": time.time(), "file_hash": now})

    def earlier(self) -> dict[str, tuple[Remembered, str | None]]:
        """For each exercise this run did not check: its remembered verdict and its file's hash now."""
        cache = getattr(self.config, "cache", None)
        found = {}
        for exercise in EXERCISES:
            if cache is None or exercise.marker in self.selected:
                continue
            record = cache.get(MEMORY.format(marker=exercise.marker), None)
            try:
                remembered = Remembered(str(record["state"]), float(record["checked"]), str(record["file_hash"]))
                _when(remembered.checked)  # a time that is no time (nan, inf, far out of range) is no record
            except (TypeError, KeyError, ValueError, OverflowError, OSError):  # nothing remembered, or not a record
                continue
            found[exercise.marker] = (remembered, file_hash(self._file(exercise.marker)))
        return found

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = self.tally.summary(self.earlier(), self.partly_checked())
        if lines:
            terminalreporter.section("exercises")
            for line in lines:
                terminalreporter.line(line)


# --- where a learner's code runs ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def scratch_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture
def in_a_scratch_folder(scratch_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run outside the repository, so a learner's code that writes to a relative path leaves nothing in it."""
    monkeypatch.chdir(scratch_folder)
    return scratch_folder


def checks_of(exercise: Exercise) -> Any:
    """The module holding an exercise's checks, graded tests and "run it" (grader/ex<number>.py)."""
    import importlib

    return importlib.import_module(exercise.checks_module)
