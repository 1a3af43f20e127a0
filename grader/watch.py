"""`python -m exercises watch`: every save of an exercise file checks that exercise again, on one screen.

    python -m exercises watch              # every exercise
    python -m exercises watch ex3          # only exercise 3
    python -m exercises watch --no-fork    # a fresh Python per check, as on Windows

Each check is `python -m pytest -m exN` itself: pytest runs with those very arguments in a child
process, with one small plugin of ours (`Reporter`) that writes every report pytest makes into a
file, one JSON line each. The screen counts what pytest counted and shows the message of the first
check that failed, as pytest printed it. So the watcher cannot disagree with pytest: it only reads
pytest's reports (their outcome, the category pytest's terminal counts them in, their longrepr,
the skip reason), never the grader's modules.

The child, not the watcher, runs the learner's code, so an endless loop, a crash, `sys.exit()`,
`os._exit()`, a file that does not parse or a change to torch's global settings ends or spoils
only the child. Each check in it runs the learner's code in a process of its own, stopped after
`--time-limit` seconds of CPU time (30 by default), as `python -m pytest --cpu-limit` stops it: the
screen shows the check's own sentence, as pytest does.

Speed. A cold `python -m pytest -m exN` spends almost all its time importing torch, matplotlib and
the tests. Where `os.fork` exists and works (Linux, macOS), the watcher imports them once and
collects the tests once (a `--collect-only` pytest run in its own process, whose output goes
nowhere), then forks a child per check that starts with all of that loaded. Better still, it forks
each child ahead of time: the spare child runs pytest up to the end of its collection and waits
there, before any test and before any exercise file is imported; a save tells it to go on. A
forked child that dies before it gets that far (a library that cannot be forked) turns forking off
for the rest of the session. Where there is no fork (Windows), or with `--no-fork`, the spare is a
fresh `python -m grader.watch --child exN` that waits at the same place: the next save after a
check is as quick, the first one pays for a Python that imports torch.

The watcher loads no learner file itself. If collecting the tests imported one, forking would hand
children a stale copy, so the watcher then starts a fresh process per check instead. When a file
the loaded tests depend on changes (lesson.py, tests/, grader/, pyproject.toml), the watcher
starts itself again, so that children never run yesterday's grader.

Watching files: the watcher polls the modification time and size of each exercise file every
20 ms. There is one file per exercise; a poll costs a few microseconds and needs no library, it behaves
alike on every operating system and file system (network drives and WSL mounts included, where
change notifications are unreliable), and the poll also serves the keyboard and the children's
reports, so the whole watcher is one loop with no threads. A save that arrives while that
exercise is being checked stops the check and starts it again on the new file.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import pytest

from grader.isolation import CPU_LIMIT

ROOT = Path(__file__).resolve().parents[1]
HINTS = ROOT / "exercises" / "README.md"
POLL = 0.02  # seconds between two looks at the files, the keyboard and the running checks
TIME_LIMIT = CPU_LIMIT  # seconds of CPU time one check may use, passed to pytest as --cpu-limit
CATEGORIES = ("failed", "error", "passed", "skipped", "xfailed", "xpassed")  # pytest's order in its last line


@dataclasses.dataclass(frozen=True)
class Exercise:
    name: str  # the marker: ex1
    file: Path  # relative to the repository: exercises/ex1_height_weight.py
    task: str
    number: int  # its place in the list, as the hints count: Hint 1.2 belongs to exercise 1


def exercises() -> list[Exercise]:
    """The exercises, in order: the only place the watcher learns which there are."""
    from exercises.catalog import EXERCISES

    return [Exercise(entry.marker, Path(entry.file), entry.task, entry.number) for entry in EXERCISES]


def hints(path: Path = HINTS) -> dict[int, list[str]]:
    """The hints of exercises/README.md by exercise number: paragraphs that start with **Hint N.k.**"""
    found: dict[int, list[str]] = {}
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    for paragraph in re.split(r"\n\s*\n", text):
        match = re.match(r"\*\*Hint (\d+)\.(\d+)\.\*\*\s*(.*)", paragraph.strip(), re.DOTALL)
        if match:
            found.setdefault(int(match[1]), []).append(f"Hint {match[1]}.{match[2]}: {' '.join(match[3].split())}")
    return found


# --- the child: pytest itself, with a plugin that writes down its reports ---------------------------


class Reporter:
    """A pytest plugin that writes each report as a JSON line, and waits for a save before the first test."""

    def __init__(self, out: TextIO, go: int | None) -> None:
        self.out, self.go, self.config = out, go, None

    def send(self, **record: Any) -> None:
        record["t"] = time.monotonic()  # the machine's one monotonic clock: a check can be timed from outside
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def pytest_configure(self, config: Any) -> None:
        self.config = config

    def _category(self, report: Any) -> str:
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        return category if isinstance(category, str) else category[0]  # a plugin may return (word, markup)

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            nodeid = report.nodeid or "collection"
            self.send(kind="report", nodeid=nodeid, category="error", message=report.longreprtext)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: Any):
        self.send(kind="ready", total=len(session.items))
        if self.go is not None and not os.read(self.go, 1):
            os._exit(0)  # the watcher has gone: leave without running anything
        self.send(kind="go")
        return (yield)

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.send(kind="start", nodeid=nodeid)

    def pytest_runtest_logreport(self, report: Any) -> None:
        message = ""
        if report.failed:
            message = report.longreprtext
        elif report.skipped and isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
            message = str(report.longrepr[2]).removeprefix("Skipped: ")
        self.send(
            kind="report",
            nodeid=report.nodeid,
            category=self._category(report),
            outcome=report.outcome,
            message=message,
        )


def warm_libraries() -> None:
    """Pay what torch and matplotlib cost the first time, before any check: imports, the first step, the first PNG."""
    from grader.harness import warm_up

    warm_up()


def run_checks(exercise: str, go: int | None, report: Path, log: Path | None, cpu_limit: float) -> int:
    """In a child: run `python -m pytest -m <exercise>` in this process, its reports into `report`."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # a learner's input() gets end-of-file instead of waiting for the watcher's keyboard
    if log is not None:
        logged = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(logged, 1)
        os.dup2(logged, 2)
    sys.argv = [str(Path(pytest.__file__).with_name("__main__.py")), "-m", exercise]
    with open(report, "w", encoding="utf-8") as out:
        reporter = Reporter(out, go)
        code = int(pytest.main(["-m", exercise, "--cpu-limit", f"{cpu_limit:g}"], plugins=[reporter]))
        reporter.send(kind="end", exitstatus=code)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code


# --- the watcher's side of a child ---------------------------------------------------------------


class Child:
    """One run of one exercise's checks in another process, forked or fresh, read through its report file."""

    def __init__(self, exercise: Exercise, folder: Path, fork: dict[str, Any] | None, cpu_limit: float) -> None:
        self.exercise, self.cpu_limit = exercise, cpu_limit
        self.report = Path(tempfile.mkstemp(prefix=f"{exercise.name}-", suffix=".jsonl", dir=folder)[1])
        self.log = self.report.with_suffix(".log")
        self.offset, self.pending = 0, b""
        self.started: float | None = None  # when it was told to go
        self.status: int | None = None  # the exit status, once it ended (negative: the signal that ended it)
        self.pid = 0
        self.process: subprocess.Popen[bytes] | None = None
        if fork is not None:
            self._fork(fork)
        else:
            self._spawn()

    def _fork(self, fork: dict[str, Any]) -> None:
        read, self.go_fd = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered here may be written twice
        with warnings.catch_warnings():
            # Python 3.12+ warns when a process with threads forks. Ours has no Python threads; numpy's
            # OpenBLAS has idle workers, which OpenBLAS itself re-creates in a forked child.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            code = 70
            try:
                os.setpgid(0, 0)  # its own process group: Ctrl-C is the watcher's, and a kill takes its children
                os.close(self.go_fd)
                for fd in fork["parent_fds"]:  # other children's go pipes: those must close when the watcher goes
                    with contextlib.suppress(OSError):
                        os.close(fd)
                if not fork["gc"]:
                    gc.disable()  # as the collection left it in a cold run
                code = run_checks(self.exercise.name, read, self.report, self.log, self.cpu_limit)
            except BaseException:  # the child's own failure is pytest's to report; this only keeps it from returning
                with contextlib.suppress(Exception):
                    import traceback

                    traceback.print_exc()
            finally:
                os._exit(code)
        os.close(read)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also here, so that a kill right after the fork reaches the group
        self.pid = pid
        fork["parent_fds"].add(self.go_fd)
        self.parent_fds = fork["parent_fds"]

    def _spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "grader.watch",
            "--child",
            self.exercise.name,
            str(self.report),
            f"{self.cpu_limit:g}",
        ]
        env = {**os.environ, "MPLBACKEND": "Agg"}
        flags = {"start_new_session": True}
        if os.name == "nt":
            flags = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, **flags
            )
        self.pid = self.process.pid
        self.parent_fds = None

    def go(self) -> None:
        self.started = time.monotonic()
        with contextlib.suppress(OSError):
            if self.process is not None:
                assert self.process.stdin is not None
                self.process.stdin.write(b"g")
                self.process.stdin.close()
            else:
                os.write(self.go_fd, b"g")
                self._forget_go()

    def _forget_go(self) -> None:
        if self.parent_fds is not None and self.go_fd in self.parent_fds:
            self.parent_fds.discard(self.go_fd)
            with contextlib.suppress(OSError):
                os.close(self.go_fd)

    def records(self) -> list[dict[str, Any]]:
        """The reports written since the last call."""
        try:
            with open(self.report, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except OSError:
            return []
        self.offset += len(data)
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]

    def ended(self) -> bool:
        if self.status is None:
            if self.process is not None:
                self.status = self.process.poll()
            else:
                with contextlib.suppress(ChildProcessError):
                    pid, wait_status = os.waitpid(self.pid, os.WNOHANG)
                    if pid:
                        self.status = os.waitstatus_to_exitcode(wait_status)
        return self.status is not None

    def kill(self) -> None:
        if not self.ended():
            if os.name == "nt":
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.pid)], capture_output=True, check=False)
            else:
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(self.pid, signal.SIGKILL)
            if self.process is not None:
                self.process.wait()
            else:
                with contextlib.suppress(ChildProcessError):
                    self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            self.ended()
        if self.process is None:
            self._forget_go()

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def remove(self) -> None:
        self.kill()
        for path in (self.report, self.log):
            with contextlib.suppress(OSError):
                path.unlink()


@dataclasses.dataclass
class Verdict:
    """What pytest reported for one run of one exercise's checks, as the screen tells it."""

    total: int | None = None  # the checks pytest selected
    counts: Counter[str] = dataclasses.field(default_factory=Counter)  # pytest's categories, as its last line counts
    outcomes: dict[str, str] = dataclasses.field(default_factory=dict)  # nodeid -> passed, failed or skipped
    failure: tuple[str, str] | None = None  # the first failing check and its message, as pytest printed it
    skip: tuple[str, str] | None = None  # the first skipped check and its reason
    running: str | None = None
    ready: bool = False
    exitstatus: int | None = None
    problem: str | None = None  # the watcher's own sentence: stopped at the time limit, or the process died
    stopped: str = ""  # the same in a few words, for the progress list
    seconds: float | None = None  # from the save (or the start) to the verdict
    log: str = ""  # the end of pytest's own output, kept when pytest ended without a failing check

    def feed(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "ready":
            self.total, self.ready = record["total"], True
        elif kind == "start":
            self.running = record["nodeid"]
        elif kind == "end":
            self.exitstatus, self.running = record["exitstatus"], None
        elif kind == "report":
            nodeid, category = record["nodeid"], record["category"]
            if category:
                self.counts[category] += 1
            outcome = "failed" if category in ("failed", "error") else record.get("outcome", "failed")
            previous = self.outcomes.get(nodeid, "passed")  # a check's outcome is its worst phase's
            self.outcomes[nodeid] = max(previous, outcome, key=("passed", "skipped", "failed").index)
            if outcome == "failed" and self.failure is None:
                self.failure = (nodeid, record["message"])
            elif outcome == "skipped" and self.skip is None:
                self.skip = (nodeid, record["message"])

    @property
    def finished(self) -> bool:
        return self.exitstatus is not None or self.problem is not None

    @property
    def solved(self) -> bool:
        return self.exitstatus == 0 and not self.problem and self.state == "solved"

    @property
    def state(self) -> str:
        if self.problem:
            return "stopped"
        if self.exitstatus is None:
            return "checking"
        if "failed" in self.outcomes.values():
            return "failing"
        if self.exitstatus != 0:
            return "pytest"
        if "skipped" in self.outcomes.values():
            return "unfinished"
        return "solved" if self.outcomes else "pytest"

    def count_line(self) -> str:
        """The counts as pytest's last line gives them: '1 failed, 7 passed, 5 skipped'."""
        parts = [f"{self.counts[category]} {category}" for category in CATEGORIES if self.counts[category]]
        return ", ".join(parts) or "no checks ran"

    def summary(self) -> str:
        """One line for the progress list."""
        checks = len(self.outcomes)
        failing = list(self.outcomes.values()).count("failed")
        skipped = list(self.outcomes.values()).count("skipped")
        return {
            "checking": "not solved yet: a check fails (checking the rest ...)" if self.failure else "checking ...",
            "stopped": self.stopped or "stopped",
            "failing": f"not solved yet: {failing} of {checks} checks fail",
            "unfinished": f"not finished: {skipped} of {checks} checks skipped",
            "pytest": f"pytest ended with exit status {self.exitstatus} ({self.count_line()})",
            "solved": f"solved: all {checks} checks pass",
        }[self.state]


# --- the screen and the keyboard -------------------------------------------------------------------


class Keys:
    """Single key presses from a terminal, or typed lines from a pipe; never waits."""

    def __init__(self) -> None:
        self.stream = sys.stdin
        self.saved = None
        self.closed = self.stream is None or self.stream.closed
        self.tty = not self.closed and self.stream.isatty()
        if self.tty and os.name != "nt":
            import termios
            import tty

            self.saved = termios.tcgetattr(self.stream.fileno())
            tty.setcbreak(self.stream.fileno())  # keys arrive one by one, unechoed; Ctrl-C still interrupts

    def read(self) -> str:
        if self.closed:
            return ""
        if os.name == "nt":
            if not self.tty:
                return ""  # a pipe on Windows cannot be polled without a thread: keys need a terminal there
            import msvcrt

            keys = ""
            while msvcrt.kbhit():
                keys += msvcrt.getwch()
            return keys
        import select

        if not select.select([self.stream], [], [], 0)[0]:
            return ""
        data = os.read(self.stream.fileno(), 64)
        if not data:
            self.closed = True  # end of input: no more keys, the watching goes on
        return data.decode(errors="replace")

    def restore(self) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self.saved)
            self.saved = None


def _enable_terminal_sequences() -> bool:
    """Whether the screen may be cleared with the usual escape sequence (Windows needs it switched on)."""
    if os.name != "nt":
        return True
    try:
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.GetStdHandle(-11)
        mode = ctypes.c_uint32()
        return bool(kernel32.GetConsoleMode(handle, ctypes.byref(mode))) and bool(
            kernel32.SetConsoleMode(handle, mode.value | 0x0004)  # ENABLE_VIRTUAL_TERMINAL_PROCESSING
        )
    except (AttributeError, OSError):
        return False


@dataclasses.dataclass
class Slot:
    """One exercise as the watcher follows it."""

    exercise: Exercise
    signature: tuple[int, int] | None = None
    spare: Child | None = None
    child: Child | None = None
    verdict: Verdict | None = None
    checks: int = 0
    saved: float | None = None  # when the save that started the current check was seen
    queued: bool = False
    hint: int = 0  # the hints shown so far


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def _duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"


class Watcher:
    def __init__(self, chosen: list[Exercise], time_limit: float, fork: bool, out: TextIO) -> None:
        self.slots = [Slot(exercise) for exercise in chosen]
        self.time_limit, self.out = time_limit, out
        self.fork: dict[str, Any] | None = {"parent_fds": set(), "gc": True} if fork else None
        self.folder = Path(tempfile.mkdtemp(prefix="lesson-watch-"))
        self.hints = hints()
        self.focus = self.slots[0]
        self.note = ""  # a line under the screen: a hint, or what the watcher just did
        self.tty = out.isatty()
        self.clear = self.tty and _enable_terminal_sequences()
        self.shown = ""
        self.dependencies: dict[Path, tuple[int, int] | None] = {}
        self.restart = False
        self.told: set[tuple[str, int]] = set()  # the checks whose failure a log was shown before they ended

    # - starting -

    def warm_up(self) -> None:
        """Load torch, matplotlib and the tests once, so that every forked child starts with them loaded."""
        warm_libraries()
        path, learner = list(sys.path), {(ROOT / slot.exercise.file).resolve() for slot in self.slots}
        quiet = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(1), os.dup(2)
        try:
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            code = pytest.main(["-m", self.slots[0].exercise.name, "--collect-only", "-q", "-p", "no:cacheprovider"])
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (quiet, *saved):
                os.close(fd)
        if code == pytest.ExitCode.INTERRUPTED:
            raise KeyboardInterrupt  # Ctrl-C while loading: pytest took it, the watcher ends
        sys.path[:] = path  # a cold run starts from Python's own path; pytest adds to it in the child
        assert self.fork is not None
        self.fork["gc"] = gc.isenabled()  # the tests' conftest may switch the collector off; children keep that
        gc.enable()  # the watcher itself lives long
        loaded = {Path(module.__file__).resolve() for module in list(sys.modules.values()) if _file(module)}
        if loaded & learner:
            self.fork = None
            self.note = (
                "Collecting the tests imported an exercise file, so a forked check could see an old copy of it: "
                "each check starts a fresh Python instead (slower, but right)."
            )
            return
        venv = Path(sys.prefix).resolve()
        for file in loaded:
            if file.is_relative_to(ROOT) and not file.is_relative_to(venv):
                self.dependencies[file] = _signature(file)
        self.dependencies[ROOT / "pyproject.toml"] = _signature(ROOT / "pyproject.toml")

    def changed_dependency(self) -> Path | None:
        return next((path for path, seen in self.dependencies.items() if _signature(path) != seen), None)

    # - children -

    def new_child(self, slot: Slot) -> Child:
        return Child(slot.exercise, self.folder, self.fork, self.time_limit)

    def start(self, slot: Slot) -> None:
        """Check the exercise now: the spare goes on, or a new child starts."""
        # Python trusts a cached .pyc whose source has the same size and the same whole second: two quick
        # saves of a one-digit change would otherwise check the first one again.
        with contextlib.suppress(OSError, NotImplementedError, ValueError):
            Path(importlib.util.cache_from_source(str(ROOT / slot.exercise.file))).unlink(missing_ok=True)
        if slot.child is not None:
            slot.child.remove()
        slot.child, slot.spare = (slot.spare or self.new_child(slot)), None
        slot.child.go()
        slot.verdict, slot.queued = Verdict(), False
        slot.checks += 1

    def running(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.child is not None]

    def most_at_once(self) -> int:
        return max(os.cpu_count() or 1, 1) if self.fork is not None else 1

    def follow(self, slot: Slot) -> bool:
        """Read what the slot's child reported; return whether the screen changed."""
        child, verdict = slot.child, slot.verdict
        if child is None or verdict is None:
            return False
        records = child.records()
        for record in records:
            verdict.feed(record)
        changed = bool(records)
        if verdict.exitstatus is None and child.ended():
            for record in child.records():
                verdict.feed(record)
            if verdict.exitstatus is None:
                if not verdict.ready and child.status is not None and child.status < 0 and self.fork is not None:
                    self.fork = None  # this machine cannot fork a child with these libraries loaded
                    self.note = "A forked check died before it started; each check now starts a fresh Python."
                    slot.queued, slot.child = True, None
                    slot.checks -= 1
                    child.remove()
                    return True
                verdict.problem = self._died(child, verdict)
                verdict.stopped = "stopped: the checks' process ended before pytest finished"
            changed = True
        if verdict.finished:
            verdict.seconds = time.monotonic() - (slot.saved or child.started or time.monotonic())
            if verdict.state == "pytest":
                verdict.log = child.log_tail()
            child.remove()
            slot.child = None
        return changed

    @staticmethod
    def _while(verdict: Verdict) -> str:
        return f" (it was running {verdict.running.split('::')[-1]})" if verdict.running else ""

    @staticmethod
    def _died(child: Child, verdict: Verdict) -> str:
        status = child.status or 0
        if status < 0:
            with contextlib.suppress(ValueError):
                how = f"was ended by {signal.Signals(-status).name}"
                return f"crashed: the checks' process {how}{Watcher._while(verdict)}. Save the file to check again."
            how = f"was ended by signal {-status}"
        else:
            how = f"ended with exit status {status} before pytest finished"
        return (
            f"stopped: the checks' process {how}{Watcher._while(verdict)}; os._exit() in an exercise file ends "
            f"it so. Its last output:\n{child.log_tail()}"
        )

    def keep_spares(self) -> None:
        """Fork the next checks ahead of time, but only while nothing runs, so that no check waits for it."""
        if self.running():
            return
        wanted = self.slots if self.fork is not None else [self.focus]
        for slot in self.slots:
            if slot.spare is not None and slot not in wanted:
                slot.spare.remove()
                slot.spare = None
        for slot in wanted:
            if slot.spare is None:
                slot.spare = self.new_child(slot)  # one that ends early (pytest cannot start) tells why when used

    # - the loop -

    def run(self) -> None:
        keys = Keys()
        try:
            for slot in self.slots:
                slot.signature = _signature(ROOT / slot.exercise.file)
                slot.queued = True
            dirty = True
            last_tick = 0.0
            while not self.restart:
                now = time.monotonic()
                for slot in self.slots:
                    signature = _signature(ROOT / slot.exercise.file)
                    if signature != slot.signature:
                        slot.signature, slot.saved, slot.queued = signature, now, True
                        if slot.child is not None:
                            slot.child.remove()
                            slot.child = None
                        self.focus, self.note, dirty = slot, "", True
                for slot in self.running():
                    if self.follow(slot):
                        dirty = True
                        if slot.verdict and slot.verdict.finished:
                            self._after(slot)
                waiting = sorted((slot for slot in self.slots if slot.queued), key=lambda slot: slot.saved is None)
                for slot in waiting:
                    if len(self.running()) < self.most_at_once():
                        self.start(slot)
                        dirty = True
                typed = keys.read()
                for key in typed:
                    dirty |= self.key(key)
                if self.dependencies and (path := self.changed_dependency()):
                    self.note = f"{path.relative_to(ROOT)} changed: starting the watcher again with the new code."
                    self.restart = True
                if not self.running():
                    self.keep_spares()
                if dirty or (self.tty and self.running() and now - last_tick > 0.5):
                    self.render(final=not self.running())
                    dirty, last_tick = False, now
                time.sleep(POLL)
        finally:
            keys.restore()

    def _after(self, slot: Slot) -> None:
        """When a check ends: at the start, move to the first exercise not solved yet."""
        everything = all(s.verdict and s.verdict.finished and s.saved is None for s in self.slots)
        if slot.saved is None and everything:
            self.focus = next((s for s in self.slots if not (s.verdict and s.verdict.solved)), self.slots[0])

    def key(self, key: str) -> bool:
        key = key.lower()
        if key == "q":
            raise KeyboardInterrupt
        if key == "h":
            self.next_hint()
            return True
        if key == "r":
            self.focus.saved, self.focus.queued, self.note = time.monotonic(), True, ""
            return True
        if key.isdigit():
            chosen = next((slot for slot in self.slots if slot.exercise.number == int(key)), None)
            if chosen is not None:
                self.focus, self.note = chosen, ""
                return True
        return False

    def next_hint(self) -> None:
        slot = self.focus
        self.hints = hints()  # read again: the file may have changed since
        found = self.hints.get(slot.exercise.number, [])
        if not found:
            self.note = f"exercises/README.md has no hints for exercise {slot.exercise.number}."
            return
        if slot.hint >= len(found):
            slot.hint = 0
        self.note = f"({slot.hint + 1} of {len(found)}) {found[slot.hint]}"
        slot.hint += 1
        if slot.hint == len(found):
            self.note += "\nThat was the last hint of this exercise; h shows the first again."

    # - the screen -

    def screen(self) -> str:
        width, height = shutil.get_terminal_size((100, 30))
        width = max(width - 1, 40)
        solved = [slot for slot in self.slots if slot.verdict and slot.verdict.solved]
        lines = [
            "python -m exercises watch: every save of an exercise file checks that exercise again.",
            f"progress: {len(solved)} of {len(self.slots)} solved",
        ]
        for slot in self.slots:
            state = slot.verdict.summary() if slot.verdict else "waiting to be checked"
            if slot.queued and slot.verdict and slot.verdict.finished:
                state = "waiting to be checked again"
            mark = ">" if slot is self.focus else " "
            lines.append(f" {mark} {slot.exercise.name}  {state}")
        lines += ["", *self.detail(self.focus)]
        if self.note:
            lines += ["", *self.note.splitlines()]
        lines += ["", "keys: h next hint, r check again, 1-9 show another exercise, q quit (Ctrl-C too)"]
        if not self.tty:  # a log or a pipe: pytest's messages as pytest wrote them
            return "\n".join(lines)
        wrapped = [piece for line in lines for piece in (textwrap.wrap(line, width, subsequent_indent="    ") or [""])]
        if len(wrapped) > height - 1:
            cut = len(wrapped) - (height - 1)
            more = f"    (more: python -m pytest -m {self.focus.exercise.name})"
            wrapped = [*wrapped[: -cut - 3], more, *wrapped[-3:]]
        return "\n".join(wrapped)

    def detail(self, slot: Slot) -> list[str]:
        exercise, verdict = slot.exercise, slot.verdict
        lines = [f"{exercise.name}, {exercise.task}: {exercise.file.as_posix()}"]
        if verdict is None:
            return lines
        after = "at the start" if slot.saved is None else "after your save"
        if not verdict.finished:
            began = slot.saved or (slot.child.started if slot.child else None) or time.monotonic()
            elapsed = time.monotonic() - began
            done = sum(verdict.counts[category] for category in CATEGORIES)
            of = f" of {verdict.total}" if verdict.total is not None else ""
            lines.append(f"check {slot.checks} of {exercise.name}, running for {_duration(elapsed)} ({done}{of} done)")
            if verdict.failure:  # the verdict is settled: a failing check stays failing, whatever comes after it
                lines += self.failure(verdict)
            return lines
        lines.append(
            f"check {slot.checks} of {exercise.name}, {_duration(verdict.seconds or 0)} {after}: {verdict.count_line()}"
        )
        if verdict.problem:
            lines.append(verdict.problem)
        elif verdict.failure:
            lines += self.failure(verdict)
        elif verdict.state == "unfinished" and verdict.skip:
            lines.append(f"Skipped: {verdict.skip[1]}")
        elif verdict.state == "pytest":
            lines.append(
                f"pytest ended with exit status {verdict.exitstatus} and reported no failing check; "
                f"run python -m pytest -m {exercise.name} to read what it says."
            )
            lines += [f"    {line}" for line in verdict.log.splitlines()]
        elif verdict.solved:
            module = ".".join(exercise.file.with_suffix("").parts)
            lines.append(f"Solved. Run it on real data with: python -m {module}")
        return lines

    @staticmethod
    def failure(verdict: Verdict) -> list[str]:
        assert verdict.failure is not None
        nodeid, message = verdict.failure
        return [
            f"The first failing check, {nodeid.split('::')[-1]}:",
            *("    " + line for line in message.rstrip().splitlines()),
        ]

    def render(self, final: bool) -> None:
        text = self.screen()
        if text == self.shown:
            return
        self.shown = text
        focus = self.focus
        settled = focus.verdict is not None and focus.verdict.failure is not None and not focus.verdict.finished
        if settled and (focus.exercise.name, focus.checks) not in self.told:
            self.told.add((focus.exercise.name, focus.checks))  # a log gets the screen once the verdict is known
        else:
            settled = False
        if self.clear:
            self.out.write("\x1b[H\x1b[2J" + text + "\n")
        elif self.tty or final or settled:
            self.out.write("-" * 40 + "\n" + text + "\n")
        self.out.flush()

    # - the end -

    def summary(self) -> str:
        solved = [slot.exercise.name for slot in self.slots if slot.verdict and slot.verdict.solved]
        lines = [f"exercises solved: {len(solved)}/{len(self.slots)}" + (f" ({', '.join(solved)})" if solved else "")]
        for slot in self.slots:
            verdict = slot.verdict
            state = verdict.summary() if verdict and verdict.finished else "not checked to the end"
            lines.append(f"  {slot.exercise.name}: {state}")
        return "\n".join(lines)

    def close(self) -> None:
        for slot in self.slots:
            for child in (slot.child, slot.spare):
                if child is not None:
                    child.remove()
            slot.child = slot.spare = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _file(module: object) -> str | None:
    file = getattr(module, "__file__", None)
    return file if isinstance(file, str) else None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds; try 20")
    return value


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "win32"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exercises watch",
        description="Check an exercise again every time you save its file, with the checks python -m pytest -m exN "
        "runs.",
    )
    parser.add_argument("names", nargs="*", metavar="exN", help="the exercises to watch (default: all)")
    parser.add_argument(
        "--time-limit",
        type=_seconds,
        default=TIME_LIMIT,
        metavar="S",
        help=f"seconds of CPU time one check may use before it is stopped (default {TIME_LIMIT:g})",
    )
    parser.add_argument("--no-fork", action="store_true", help="start a fresh Python for every check, as on Windows")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        from lesson_support.environment import not_installed

        missing = ModuleNotFoundError("No module named 'torch'", name="torch")
        print(not_installed(missing, program="python -m exercises watch"), file=sys.stderr)
        return 1
    os.chdir(ROOT)  # the checks run from the repository's top folder, as python -m pytest must
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")  # a message may hold λ where the console's code page has none
    try:
        known = exercises()
    except Exception as error:  # lesson.py is where the list lives; a broken lesson.py stops the watcher here
        print(
            f"lesson.py does not import ({type(error).__name__}: {error}); fix it, then start again.", file=sys.stderr
        )
        return 1
    unknown = [name for name in args.names if name not in {exercise.name for exercise in known}]
    if unknown:
        names = ", ".join(exercise.name for exercise in known)
        parser.error(f"there is no exercise {', '.join(unknown)}; the exercises are {names}")
    chosen = [exercise for exercise in known if not args.names or exercise.name in args.names]
    watcher = Watcher(chosen, args.time_limit, fork=_can_fork() and not args.no_fork, out=sys.stdout)
    signal.signal(signal.SIGTERM, _interrupt)  # a terminal closed or a kill: the same tidy end as Ctrl-C
    try:
        if watcher.fork is not None:
            print("Loading torch, matplotlib and the checks once ...", flush=True)
            watcher.warm_up()
        watcher.run()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # its output went into a pipe that closed (| head): end quietly, as head's reader expects
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit must not fail
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleaning up
        watcher.close()
    if watcher.restart:
        print(watcher.note, flush=True)
        os.execv(sys.executable, [sys.executable, "-m", "exercises", "watch", *(argv or sys.argv[2:])])
    print("\n" + watcher.summary())
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:  # a check in a fresh process: python -m grader.watch --child ex1 REPORT
        go = os.dup(0)
        warm_libraries()  # as the forking watcher does, while this spare waits for a save
        sys.exit(run_checks(sys.argv[2], go, Path(sys.argv[3]), None, float(sys.argv[4])))
    sys.exit(main())
