"""A learner's code runs in a child process that the grader watches from outside.

Every graded check and every "run it" calls the learner's functions in a child process: forked
from this one where that is safe (Linux), a fresh Python elsewhere (macOS, Windows). A child runs
one job (`run`), or one job after another (`Child`: the checks of one exercise on one answer),
and can be frozen between them (`Child.pause`) with everything it started. The child leads a
process group of its own, and the parent ends the whole group (threads and any process the
learner's code started go with it) when the child is no longer needed, or when

- the CPU time of the group passes the CPU limit: an endless loop. A busy or slow machine stretches
  a right answer's wall-clock time, not the work it does, so this limit never stops a right answer;
- its wall-clock time passes the wall limit, several times longer: code that sleeps or waits.

Whatever the learner's code does (os._exit(), KeyboardInterrupt, a bare `except:` around a loop,
torch patched, a thread left running, a process forked, files deleted), it ends or spoils only
that child, and the parent says what happened in one sentence. The shipped files are checked
against their known content after the child is gone (grader/shipped.py).

The child runs torch on one thread: the exercises' tensors hold a few hundred numbers, where
threads cost more than they bring, and a forked child must not reuse its parent's thread pool.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

CPU_LIMIT = 30.0  # CPU seconds a check or a "run it" may use: about 100 times what the reference answers use
WALL_FACTOR = 5  # ...and wall-clock seconds, as a multiple of that, for code that sleeps or waits
POLL = 0.05  # seconds between two looks at the child's CPU time
# Where forking a process that has loaded torch is safe; elsewhere each child is a fresh Python.
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

_channel: Connection | None = None  # in a child: where it reports to the parent
RUN_HERE = False  # True: `inside()` says so, and the code that would start a child runs here instead (tests)


@dataclass
class Limits:
    """Seconds of CPU time a child's job may use, and of the clock it may take (WALL_FACTOR times as many)."""

    cpu: float = CPU_LIMIT
    wall_seconds: float | None = None  # None: WALL_FACTOR times `cpu`

    @property
    def wall(self) -> float:
        return self.wall_seconds if self.wall_seconds is not None else self.cpu * WALL_FACTOR


@dataclass
class Outcome:
    """What a child reported, or what the parent saw happen to it."""

    kind: str  # "passed", "skipped", "failed"; "stopped" when the parent ended it; "ended" when it ended unasked
    message: str = ""
    calling: str | None = None  # the learner's call that was running last, as "fit_height_weight()"
    state: dict[str, Any] = field(default_factory=dict)  # what the child learned that later children need
    exitcode: int | None = None


def inside() -> bool:
    """Whether this process is a child that runs a learner's code (so it starts no child of its own)."""
    return _channel is not None or RUN_HERE


class _Forwarded:
    """A child's sys.stdout or sys.stderr: what it writes is written by the parent, on the parent's own stream."""

    def __init__(self, name: str) -> None:
        self.name, self.encoding, self.errors = name, "utf-8", "replace"

    def write(self, text: str) -> int:
        report("write", self.name, str(text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def report(*message: Any) -> None:
    """In a child: send a message to the parent (nothing happens outside a child)."""
    if _channel is not None:
        with contextlib.suppress(OSError, ValueError):  # the parent is gone
            _channel.send(message)


def calling(what: str) -> None:
    """In a child: tell the parent which of the learner's calls runs now, to name it if the child is stopped."""
    report("calling", what)


def _thread_died(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    error = args.exc_value
    where = ""
    frames = traceback.extract_tb(args.exc_traceback) if args.exc_traceback else []
    if frames:
        where = f" at {_shown(frames[-1].filename)}, line {frames[-1].lineno}"
    name = args.thread.name if args.thread is not None else "a thread"
    report("thread died", f"{name} raised {type(error).__name__}: {error}{where}")


def _shown(path: str) -> str:
    from grader.messages import shown_path

    return shown_path(path)


def _outcome_of(job: Callable[[], Outcome]) -> Outcome:
    try:
        return job()
    except BaseException as error:  # the grader's own fault: told with its traceback
        text = "".join(traceback.format_exception(error))
        return Outcome("failed", f"the grader raised {type(error).__name__}: {error}\n{text}")


def _child(channel: Connection, jobs: Connection | Callable[[], Outcome], forward: bool) -> None:
    """A child's life: one job given at its start, or (a worker) every job sent down `jobs` until it closes."""
    global _channel
    _channel = channel
    if forward:
        sys.stdout, sys.stderr = _Forwarded("stdout"), _Forwarded("stderr")
    if hasattr(os, "setpgid"):
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # a group of its own: the parent ends it all, and Ctrl-C reaches only the parent
    threading.excepthook = _thread_died
    import torch

    torch.set_num_threads(1)
    gc.enable()  # the parent may run without it; a learner's code may make cycles
    while True:
        if isinstance(jobs, Connection):
            try:
                job = jobs.recv()
            except (EOFError, OSError):  # the parent has no more jobs
                break
        else:
            job = jobs
        report("outcome", _outcome_of(job))
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if not isinstance(jobs, Connection):
            break
    os._exit(0)  # threads and atexit handlers the learner's code left are not waited for


def _cpu_seconds(process: psutil.Process, descendants: list[psutil.Process]) -> float:
    total = 0.0
    for member in [process, *descendants]:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
        if member is process:
            total += times.children_user + times.children_system  # children it has already waited for
    return total


def _end(process: multiprocessing.process.BaseProcess, watched: psutil.Process | None) -> None:
    """End the child and everything it started. Its exit is collected later, when the next child starts."""
    group: list[psutil.Process] = []
    if watched is not None:
        with contextlib.suppress(psutil.Error):
            group = watched.children(recursive=True)
    if hasattr(os, "killpg") and process.pid is not None:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
    for member in [*([watched] if watched is not None else []), *group]:
        with contextlib.suppress(psutil.Error):
            member.kill()


class Child:
    """A child process, watched from here: it runs one job (`run`), or one job after another (a worker)."""

    def __init__(self, job: Callable[[], Outcome] | None = None, forward: bool = False) -> None:
        """Start it: with `job`, to run that one job; without, to run each job `run` sends it (jobs are pickled)."""
        context = multiprocessing.get_context(START_METHOD)
        self.forward = forward
        self.receiver, sender = context.Pipe(duplex=False)
        self.jobs: Connection | None = None
        if job is None:
            jobs_end, self.jobs = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_child, args=(sender, job if job is not None else jobs_end, forward), name="learner's code"
        )
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # or the child would write it again
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock the child: torch's idle
            # workers are threads, and the child runs torch on one thread of its own.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.process.start()
        sender.close()
        if job is None:
            jobs_end.close()
        if hasattr(os, "setpgid"):
            with contextlib.suppress(OSError):
                os.setpgid(self.process.pid, self.process.pid)  # as the child does, so a kill right away reaches all
        self.watched: psutil.Process | None
        try:
            self.watched = psutil.Process(self.process.pid)
        except psutil.Error:
            self.watched = None
        self.alive, self.busy = True, False
        self.sent_at, self.cpu_at_send = time.monotonic(), 0.0

    def cpu_seconds(self, descendants: list[psutil.Process]) -> float:
        return _cpu_seconds(self.watched, descendants) if self.watched is not None else 0.0

    def pause(self) -> None:
        """Freeze the child and all it started (threads, processes) until its next job: nothing of it runs meanwhile."""
        self._signal_all(signal.SIGSTOP if hasattr(signal, "SIGSTOP") else None, psutil.Process.suspend)

    def _resume(self) -> None:
        self._signal_all(signal.SIGCONT if hasattr(signal, "SIGCONT") else None, psutil.Process.resume)

    def _signal_all(self, signum: int | None, fallback: Callable[[psutil.Process], None]) -> None:
        if not self.alive:
            return
        if signum is not None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signum)
                return
        members = [self.watched] if self.watched is not None else []
        with contextlib.suppress(psutil.Error):
            members += self.watched.children(recursive=True) if self.watched is not None else []
        for member in members:
            with contextlib.suppress(psutil.Error):
                fallback(member)

    def send(self, job: Callable[[], Outcome] | None) -> None:
        """Start `job` in the child (None: the job it was started with); `wait` gives its outcome."""
        assert self.alive and not self.busy, "a child runs one job at a time, and nothing once it was stopped"
        self._resume()
        if job is not None:
            assert self.jobs is not None
            self.jobs.send(job)
        self.busy = True
        self.sent_at, self.cpu_at_send = time.monotonic(), self.cpu_seconds([])

    def run(self, job: Callable[[], Outcome] | None, limits: Limits) -> Outcome:
        """Send `job` (None: the job it was started with) and wait for its outcome within `limits`."""
        self.send(job)
        return self.wait(limits)

    def wait(self, limits: Limits) -> Outcome:
        """The outcome of the job sent last, within `limits` counted from when it was sent.

        A child that is stopped or ends here is ended with all it started, and runs nothing more.
        A Ctrl-C while it runs ends it too, and is raised here.
        """
        process, receiver = self.process, self.receiver
        started, cpu_before, descendants = self.sent_at, self.cpu_at_send, []
        last_call, thread_errors = None, []
        outcome: Outcome | None = None
        looks = 0
        try:
            while outcome is None:
                ready = wait([receiver, process.sentinel], timeout=POLL)
                if receiver in ready:
                    try:
                        message = receiver.recv()
                    except (EOFError, OSError):
                        message = None
                    if message is None:
                        process.join()
                        outcome = Outcome("ended", exitcode=process.exitcode)
                    elif message[0] == "write":
                        stream = getattr(sys, message[1])
                        stream.write(message[2])
                        stream.flush()
                    elif message[0] == "calling":
                        last_call = message[1]
                    elif message[0] == "thread died":
                        thread_errors.append(message[1])
                    elif message[0] == "outcome":
                        outcome = message[1]
                    continue
                if process.sentinel in ready:
                    process.join()
                    outcome = Outcome("ended", exitcode=process.exitcode)
                    continue
                looks += 1
                if self.watched is not None and looks % 20 == 1:  # processes it started, once a second
                    try:
                        descendants = self.watched.children(recursive=True)
                    except psutil.Error:
                        descendants = []
                cpu = self.cpu_seconds(descendants) - cpu_before
                wall = time.monotonic() - started
                if cpu > limits.cpu:
                    outcome = Outcome("stopped", f"cpu:{limits.cpu:g}:{wall:.0f}")
                elif wall > limits.wall:
                    outcome = Outcome("stopped", f"wall:{limits.wall:g}:{cpu:.1f}")
        except BaseException:
            self.end()
            raise
        self.busy = False
        if outcome.kind in ("stopped", "ended"):
            self.end()
            outcome.calling = last_call
            outcome.state["thread errors"] = thread_errors
        return outcome

    def end(self) -> None:
        """End the child and everything it started (its exit is collected when the next child starts)."""
        if self.alive:
            self.alive = False
            _end(self.process, self.watched)
            self.receiver.close()
            if self.jobs is not None:
                self.jobs.close()


def run(job: Callable[[], Outcome], limits: Limits | None = None, forward: bool = False) -> Outcome:
    """Run `job` in a child process of its own within `limits`; what it reported, or why it reported nothing.

    With `forward`, what the child prints reaches this process's sys.stdout and sys.stderr, as if
    printed here. A Ctrl-C while the child runs ends the child and is raised here.
    """
    child = Child(job, forward)
    try:
        return child.run(None, limits or Limits())
    finally:
        child.end()  # threads and processes it left behind end with it


def explain(outcome: Outcome, then: str, run: str = "The check") -> str:
    """One sentence for a child the parent stopped, or that ended before it reported; `run` names what it ran."""
    who = outcome.calling or "your code"
    threads = outcome.state.get("thread errors") or []
    died = f" A thread it started had died first: {threads[0]}." if threads else ""
    if outcome.kind == "stopped":
        kind, limit, other = outcome.message.split(":")
        if kind == "cpu":
            return (
                f"{run} was stopped: {who} used {limit} s of CPU time, where a right answer needs well under "
                f"a second of it on any machine. Look for a loop that never ends, or far more epochs than the "
                f"exercise asks for.{died} {then}"
            )
        return (
            f"{run} was stopped: {who} waited {limit} s and used only {other} s of CPU time in them, so it "
            f"waits for something that never comes (input(), time.sleep(), a lock, a thread that died, a queue "
            f"that stays empty).{died} {then}"
        )
    code = outcome.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"was killed by {name} (a crash in native code, a kill, or the machine out of memory)"
    else:
        how = f"ended with exit code {code} (os._exit(), or a library that ends the process)"
    return (
        f"{run}'s process {how} while {who} was running, before it could finish. A function must "
        f"return its result and leave the program running; raise an exception to report a problem.{died} {then}"
    )
