"""A time limit for every test, on every OS, so a learner's endless loop fails and the run goes on.

tests/conftest.py takes the hook below; `pytest -p time_limit` loads it alone.

Where there is SIGALRM (Linux, macOS) an interval timer interrupts the block. Where there is not
(Windows) a watchdog thread raises the same exception in the waiting thread, through
PyThreadState_SetAsyncExc; it takes effect at the next Python instruction, which is where a
learner's loop spends its time.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time
from collections.abc import Iterator

import pytest

TIME_LIMIT = 60.0  # seconds a test may run, unless it is marked time_limit(seconds)
EXERCISE_LIMIT = 30.0  # seconds one check of an exercise may run, and an exercise's "run it"


class TimeLimitExceeded(BaseException):
    """Raised inside code that ran past its time limit.

    A BaseException, like KeyboardInterrupt, so that `except Exception` in a learner's code or in
    the grader does not swallow it.
    """


def has_alarm() -> bool:
    return hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded inside the block if it runs longer than `seconds`."""
    if has_alarm() and threading.current_thread() is threading.main_thread():
        with _alarm(seconds):
            yield
    else:
        with _watchdog(seconds):
            yield


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, stop)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)  # an enclosing limit's time left, or 0
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # put the enclosing limit back, less the time spent here
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


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

    def fire() -> None:
        with lock:
            if not state["finished"]:
                state["fired"] = True
                _raise_in(target, TimeLimitExceeded)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["finished"] = True
            if state["fired"]:
                _raise_in(target, None)  # the block ended just as the watchdog fired: raise nothing later
        timer.cancel()


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
        f"stopped after {limit:g} s: this test should take a second or two. Look for a loop that never ends "
        "or far more epochs than the exercise asks for.",
        pytrace=False,
    )
