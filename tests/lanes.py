"""Two lanes for the whole suite: a second process forked from this one runs tests beside it.

A learner's machine has two cores or more, and most of what this suite waits for is CPU. Once
collection has ended (torch, matplotlib and every test module imported, torch's first optimizer
step behind it), this plugin forks one worker. Both take groups of tests (a test module each) from
one queue, the longest first as the last run measured them, so that neither waits for the other
at the end. The worker runs each test through pytest's own protocol (fixtures, time limits,
warnings filters, captured output) and writes every report down; this process reads them and
hands them to its own hooks, so the terminal, the exercises' summary, junit files and the cache
see one run, as if every test had run here.

Tests marked `main_process` run here, after the queue is empty: those that wait for a run
started by this process (the real lesson run, the watcher session) and the exercises' checks on
the learner's files, whose summary notes each file as its first check starts.

The lanes stay off, and pytest runs as usual, where there is no fork (Windows), on one core, for
a few tests (`-m ex1`), and with -x, --maxfail, --pdb, -s or --collect-only; `-p no:lanes` turns
them off. A worker that dies is told in one line, and this process runs the tests it left.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from project_process import fork

MARKER = "main_process"
FEWEST_TESTS = 60  # below this the fork is not worth its bookkeeping
DURATIONS = "lanes/durations"  # the cache key of the last run's seconds per test
UNKNOWN = 0.02  # seconds assumed for a test the last run did not time


def _cores() -> int:
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def wanted(session: pytest.Session) -> bool:
    option = session.config.option
    return (
        hasattr(os, "fork")
        and sys.platform != "win32"
        and _cores() >= 2
        and len(session.items) >= FEWEST_TESTS
        and not option.collectonly
        and not getattr(option, "maxfail", 0)
        and not getattr(option, "usepdb", False)
        and getattr(option, "capture", "fd") != "no"
        and not getattr(option, "stepwise", False)
    )


def _groups(session: pytest.Session) -> tuple[list[list[pytest.Item]], list[pytest.Item]]:
    """The queue's groups (a module's tests each, in collection order), longest first; and the main process's own."""
    cache = getattr(session.config, "cache", None)
    seconds: dict[str, float] = (cache.get(DURATIONS, {}) if cache is not None else {}) or {}
    by_module: dict[str, list[pytest.Item]] = {}
    own: list[pytest.Item] = []
    for item in session.items:
        if item.get_closest_marker(MARKER):
            own.append(item)
        else:
            by_module.setdefault(str(item.path), []).append(item)
    groups = sorted(by_module.values(), key=lambda items: -sum(seconds.get(i.nodeid, UNKNOWN) for i in items))
    return groups, own


class Queue:
    """Group numbers in a pipe: each read takes one, whichever process reads it; an empty pipe means done."""

    def __init__(self, count: int) -> None:
        self.read_fd, write_fd = os.pipe()
        os.write(write_fd, b"".join(number.to_bytes(2, "big") for number in range(count)))  # far below a pipe's size
        os.close(write_fd)

    def take(self) -> int | None:
        data = os.read(self.read_fd, 2)  # a pipe hands out whole writes' bytes to one reader at a time
        return int.from_bytes(data, "big") if len(data) == 2 else None


def _items(
    take: Callable[[], int | None], groups: list[list[pytest.Item]], then: list[pytest.Item]
) -> Iterator[pytest.Item]:
    while (number := take()) is not None:
        yield from groups[number]
    yield from then


def run_items(session: pytest.Session, items: Iterator[pytest.Item], between: Callable[[], None]) -> None:
    """pytest's own run loop over `items`, one ahead so that each test knows the next (fixtures' teardown)."""
    item = next(items, None)
    while item is not None:
        nextitem = next(items, None)
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        between()
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        item = nextitem


# --- the worker -------------------------------------------------------------------------------------


class Sender:
    """In the worker: every log hook written down as a JSON line, for the main process to replay."""

    def __init__(self, config: pytest.Config, out: Any) -> None:
        self.config, self.out = config, out

    def send(self, **record: Any) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.send(kind="start", nodeid=nodeid, location=location)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.send(kind="report", data=data)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.send(kind="finish", nodeid=nodeid, location=location)

    def pytest_warning_recorded(self, warning_message: Any, when: str, nodeid: str, location: Any) -> None:
        category = warning_message.category
        self.send(
            kind="warning",
            message=str(warning_message.message),
            category=[category.__module__, category.__qualname__],
            filename=warning_message.filename,
            lineno=warning_message.lineno,
            when=when,
            nodeid=nodeid,
            location=location,
        )


def _work(session: pytest.Session, queue: Queue, groups: list[list[pytest.Item]], path: Path) -> int:
    config = session.config
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle; it ends this one
    if "torch" in sys.modules:
        # torch's OpenMP threads do not survive a fork, and a parallel loop waiting for them would
        # wait for ever; one thread runs every loop in place (as a DataLoader's workers do).
        sys.modules["torch"].set_num_threads(1)
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # output captured into files of this process's own, not the main process's
        capture.stop_global_capturing()
        capture.start_global_capturing()
        capture.suspend_global_capture()
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    with open(path, "a", encoding="utf-8") as out:
        sender = Sender(config, out)
        config.pluginmanager.register(sender, "lanes-sender")

        def took() -> int | None:
            number = queue.take()
            if number is not None:
                sender.send(kind="took", group=number)
            return number

        run_items(session, _items(took, groups, []), lambda: None)
        sender.send(kind="done")
    if capture is not None:
        capture.stop_global_capturing()
    return 0


# --- the main process -------------------------------------------------------------------------------


class Replay:
    """The main process's side: reads the worker's records and hands them to this process's hooks."""

    def __init__(self, config: pytest.Config, path: Path, pid: int, groups: list[list[pytest.Item]]) -> None:
        self.config, self.path, self.pid, self.groups = config, path, pid, groups
        self.offset, self.partial = 0, ""
        self.taken: list[int] = []
        self.started: str | None = None
        self.finished: set[str] = set()
        self.done, self.status = False, None

    def read(self) -> None:
        with open(self.path, encoding="utf-8") as handle:
            handle.seek(self.offset)
            text = handle.read()
            self.offset = handle.tell()
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            self.replay(json.loads(line))

    def replay(self, record: dict[str, Any]) -> None:
        hook, kind = self.config.hook, record["kind"]
        if kind == "took":
            self.taken.append(record["group"])
        elif kind == "start":
            self.started = record["nodeid"]
            hook.pytest_runtest_logstart(nodeid=record["nodeid"], location=tuple(record["location"]))
        elif kind == "report":
            report = hook.pytest_report_from_serializable(config=self.config, data=record["data"])
            if isinstance(report.longrepr, list):  # a skip's (path, line, reason), which JSON made a list
                report.longrepr = tuple(report.longrepr)
            hook.pytest_runtest_logreport(report=report)
        elif kind == "finish":
            self.finished.add(record["nodeid"])
            self.started = None
            hook.pytest_runtest_logfinish(nodeid=record["nodeid"], location=tuple(record["location"]))
        elif kind == "warning":
            hook.pytest_warning_recorded.call_historic(  # as pytest's warnings plugin calls it
                kwargs={
                    "warning_message": _warning(record),
                    "when": record["when"],
                    "nodeid": record["nodeid"],
                    "location": tuple(record["location"]) if record["location"] else None,
                }
            )
        elif kind == "done":
            self.done = True

    def ended(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def finish(self, session: pytest.Session) -> None:
        """Wait for the worker; if it died, tell so and run here what it had taken and not finished."""
        while True:
            self.read()
            if self.done or self.ended():
                break
            time.sleep(0.01)
        if not self.ended():
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self.read()
        if self.done:
            return
        left = [item for number in self.taken for item in self.groups[number] if item.nodeid not in self.finished]
        crashed = next((item for item in left if item.nodeid == self.started), None)
        where = f" while it ran {crashed.nodeid}" if crashed else ""
        line = (
            f"The second test process ended with exit status {self.status}{where}; the tests it had not finished run "
            "here instead (run python -m pytest tests -p no:lanes to run every test in one process)."
        )
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, yellow=True)
        if crashed is not None:  # told as failed, and not run again here: it would end this process too
            left.remove(crashed)
            report = pytest.TestReport(
                crashed.nodeid, crashed.location, {}, "failed", f"{line}\nThat test ended the process.", "call"
            )
            self.config.hook.pytest_runtest_logreport(report=report)
            self.config.hook.pytest_runtest_logfinish(nodeid=crashed.nodeid, location=crashed.location)
        run_items(session, iter(left), lambda: None)


def _warning(record: dict[str, Any]) -> warnings.WarningMessage:
    module, name = record["category"]
    category: Any = UserWarning
    with contextlib.suppress(Exception):
        category = getattr(sys.modules[module], name)
    return warnings.WarningMessage(category(record["message"]), category, record["filename"], record["lineno"])


BEFORE_FORK: list[Callable[[pytest.Session], None]] = []  # conftest adds the work both lanes would otherwise repeat


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return None  # pytest's own loop says so
    if not wanted(session):
        return None
    groups, own = _groups(session)
    if len(groups) < 2:
        return None
    for work in BEFORE_FORK:
        work(session)
    session.config._tmp_path_factory.getbasetemp()  # one scratch folder for both, made before they part
    folder = Path(tempfile.mkdtemp(prefix="pytest-lanes-"))
    path = folder / "reports.jsonl"
    path.touch()
    queue = Queue(len(groups))
    pid = fork()
    if pid == 0:
        code = 1
        try:
            code = _work(session, queue, groups, path)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    replay = Replay(session.config, path, pid, groups)
    try:
        run_items(session, _items(queue.take, groups, own), replay.read)
        replay.finish(session)
    finally:
        if not replay.ended():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(queue.read_fd)
        with contextlib.suppress(OSError):
            path.unlink()
            folder.rmdir()
    return True


class Timer:
    """The seconds each test took, kept in pytest's cache for the next run's order of groups."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.left_out: set[str] = set()  # collected but deselected (-m, -k): their timings stay

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.left_out.update(item.nodeid for item in items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(session.config, "cache", None)
        if cache is not None and self.seconds:
            # Tests this run left out keep their last timing, also those of modules it did not collect
            # (`-m ex1` collects one module); tests that no longer exist are forgotten.
            collected = {item.nodeid for item in session.items} | self.left_out | set(self.seconds)
            modules = {nodeid.split("::")[0] for nodeid in collected}

            def exists(nodeid: str) -> bool:
                module = nodeid.split("::")[0]
                return nodeid in collected if module in modules else (session.config.rootpath / module).is_file()

            known = {nodeid: seconds for nodeid, seconds in (cache.get(DURATIONS, {}) or {}).items() if exists(nodeid)}
            known.update({nodeid: round(seconds, 4) for nodeid, seconds in self.seconds.items()})
            cache.set(DURATIONS, known)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.pluginmanager.register(Timer(), "lanes-timer")
