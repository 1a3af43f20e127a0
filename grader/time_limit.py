"""A time limit for every test of the maintainers' suite, on every OS: CPU time, with a wall-clock guard for hangs.

tests/conftest.py takes the hook below; `pytest -p grader.time_limit` loads it alone.

The limit counts the CPU time this process uses (all its threads), so a busy or slow machine,
which stretches the clock, never trips it; a test that waits instead of working (a hang) is
stopped after HANG_FACTOR times as many seconds of the clock. Where there is SIGALRM (Linux,
macOS) two interval timers interrupt the block: ITIMER_PROF for CPU time, ITIMER_REAL for the
clock. Where there is not (Windows) a watchdog thread watches both and raises the same exception in
the waiting thread, through PyThreadState_SetAsyncExc; it takes effect at the next Python
instruction. (The exercises' checks run the learner's code in a child process with limits of its
own, grader/isolation.py.)
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time
from collections.abc import Iterator

import pytest

TIME_LIMIT = 60.0  # seconds of CPU time a test may use, unless it is marked time_limit(seconds)
HANG_FACTOR = 10  # a test is also stopped after this many times its limit in seconds of the clock


class TimeLimitExceeded(BaseException):
    """Raised inside code that ran past its time limit.

    A BaseException, like KeyboardInterrupt, so that `except Exception` in a learner's code or in
    the grader does not swallow it.
    """


def has_alarm() -> bool:
    return hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded inside the block once it has used `seconds` of CPU time (or waited 10 times as long)."""
    if has_alarm() and threading.current_thread() is threading.main_thread():
        with (
            _timer(signal.ITIMER_PROF, signal.SIGPROF, seconds, time.process_time),
            _timer(signal.ITIMER_REAL, signal.SIGALRM, seconds * HANG_FACTOR, time.monotonic),
        ):
            yield
    else:
        with _watchdog(seconds):
            yield


@contextlib.contextmanager
def _timer(which: int, signum: int, seconds: float, clock: object) -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise TimeLimitExceeded

    previous = signal.signal(signum, stop)
    outer, _ = signal.setitimer(which, seconds)  # an enclosing limit's time left, or 0
    started = clock()
    try:
        yield
    finally:
        signal.setitimer(which, 0)
        signal.signal(signum, previous)
        if outer:  # put the enclosing limit back, less the time spent here
            signal.setitimer(which, max(outer - (clock() - started), 0.001))


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    # None clears an exception that was set but has not been raised yet.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"finished": False, "fired": False}
    done = threading.Event()
    cpu_started, wall_started = time.process_time(), time.monotonic()

    def watch() -> None:
        while not done.wait(0.02):
            used, waited = time.process_time() - cpu_started, time.monotonic() - wall_started
            if used > seconds or waited > seconds * HANG_FACTOR:
                with lock:
                    if not state["finished"]:
                        state["fired"] = True
                        _raise_in(target, TimeLimitExceeded)
                return

    watcher = threading.Thread(target=watch, daemon=True, name="time limit")
    watcher.start()
    try:
        yield
    finally:
        with lock:
            state["finished"] = True
            if state["fired"]:
                _raise_in(target, None)  # the block ended just as the watchdog fired: raise nothing later
        done.set()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "time_limit(seconds): a longer or shorter time limit for one test")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    marker = item.get_closest_marker("time_limit")
    if marker and marker.args[0] is None:  # a test that limits its own child processes
        return (yield)
    limit = float(marker.args[0]) if marker else TIME_LIMIT
    try:
        with time_limit(limit):
            return (yield)
    except TimeLimitExceeded:
        pass
    pytest.fail(
        f"stopped after {limit:g} s of CPU time (or {limit * HANG_FACTOR:g} s of waiting): this test should take "
        "a second or two. Look for a loop that never ends, or a wait for something that never comes.",
        pytrace=False,
    )
