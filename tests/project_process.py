"""`python -m MODULE ARGS...` run in a copy of the repository, as cheaply as this platform allows.

Where `os.fork` exists (Linux, macOS), the run is a child forked from the test process, which has
torch, matplotlib and pytest imported and torch's first optimizer step behind it: the child
forgets every module of the project (lesson.py, lesson_support/, grader/, exercises/, tests/), so
that what it imports comes from the copy, as in a fresh Python started there, and then runs the
module as `python -m` does (runpy, `__name__ == "__main__"`). A start costs a few tenths of a
second instead of the three a fresh Python pays for torch. Elsewhere (Windows) it is that fresh
Python. Either way the run has the copy as its working folder and first path entry, no display,
and none of this pytest run's options.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
UNWANTED_ENV = ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_CURRENT_TEST")
FORKS = hasattr(os, "fork") and sys.platform != "win32"


def warm_libraries() -> None:
    """What every forked run should find done: torch, matplotlib and their first optimizer step and PNG."""
    from grader.watch import warm_libraries as warm

    warm()


def _forget_the_project(folder: Path) -> None:
    """In a forked child: make the project's modules import afresh from `folder`."""
    root, prefix = str(ROOT), os.path.realpath(sys.prefix)  # CI's environment lives inside the repository
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        path = getattr(module, "__path__", None)  # a package's folders (torch has modules whose __path__ is not)
        places = [file, *(path if isinstance(path, list) else [])]
        ours = any(place.startswith(root) and not os.path.realpath(place).startswith(prefix) for place in places)
        if ours or name == "conftest":
            del sys.modules[name]
    # pytest's import hook of this run would rewrite the copy's test modules for this run's settings.
    sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "AssertionRewritingHook"]
    sys.path[:] = [str(folder), *(entry for entry in sys.path if entry not in ("", root, str(ROOT / "tests")))]
    sys.path_importer_cache.clear()
    os.chdir(folder)


class Forked:
    """A forked child, with the part of subprocess.Popen's interface the tests use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class Thread:
    """Work done in a thread where there is no fork, with the same poll and wait."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def poll(self) -> int | None:
        return None if self.thread.is_alive() else 0

    def wait(self, timeout: float | None = None) -> int:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise subprocess.TimeoutExpired("a thread", timeout or 0)
        return 0

    def kill(self) -> None:
        pass  # a thread ends with its work


def fork() -> int:
    """os.fork(), with this process's output flushed first and Python 3.12's warning about threads kept quiet."""
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks; torch's and OpenBLAS's idle workers
        # count, and each library re-creates its own in the child.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def in_background(work: Callable[[], None]) -> Forked | Thread:
    """Do `work` beside the tests: in a forked child where there is fork (it may start python_m runs), else a thread."""
    if not FORKS:
        return Thread(work)
    pid = fork()
    if pid:
        return Forked(pid)
    code = 1
    try:
        work()
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def python_m(
    folder: Path, module: str, args: list[str], stdout: IO[str], stdin: int | None = None, nice: int = 10
) -> Forked | subprocess.Popen[str]:
    """Start `python -m module *args` in `folder`; its output goes to `stdout` (a file), its input from `stdin`."""
    env = {key: value for key, value in os.environ.items() if key not in UNWANTED_ENV}
    if not FORKS:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=folder,
            env=env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
        )
    pid = fork()
    if pid:
        return Forked(pid)
    code = 1
    try:  # the child: nothing of this pytest run may go on here, whatever happens
        os.nice(nice)  # the run takes the time the other tests leave free
        os.environ.clear()
        os.environ.update(env)
        for number in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL if number != signal.SIGINT else signal.default_int_handler)
        signal.setitimer(signal.ITIMER_REAL, 0)
        os.dup2(stdin if stdin is not None else os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(stdout.fileno(), 1)
        os.dup2(stdout.fileno(), 2)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
        _forget_the_project(folder)
        sys.dont_write_bytecode = False  # as a learner's Python: a later run in the same copy compiles less
        sys.argv = [module, *args]
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as ended:
            code = ended.code if isinstance(ended.code, int) else (0 if ended.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
