"""What "run it" (`python -m exercises.exN_...`) shares: a learner's functions on real data, a sentence on failure.

Each exercise's own run lives in its module (grader/ex1.py ... as `run`); the exercise files and
their reference solutions end with `sys.exit(run_it(sys.modules[__name__]))`, which finds the
exercise in the catalog by the file's name.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from grader.catalog import Exercise, exercise_of_file
from grader.harness import global_state, restore_global_state
from grader.messages import GRADER_FILES, TARGET_SIZE_WARNING, describe_exception, losses_problem, raised_in, shown_path
from grader.time_limit import EXERCISE_LIMIT, TimeLimitExceeded, time_limit
from lesson_support import files
from lesson_support.runtime import printable_output

OUTDIR = files.FIGURES  # the repository's, beside the lesson's figures, whatever the current folder


class UnusableResult(Exception):
    """A learner's function returned what this run cannot use; the message says what, as the checks would."""


def expect_losses(value: object, what: str) -> list[float]:
    """The checks' rule for the entries of a loss history (messages.losses_problem), applied here too."""
    problem = losses_problem(value, None, what)
    if problem:
        raise UnusableResult(problem)
    return value


@contextlib.contextmanager
def told_as_the_checks_tell_it() -> Iterator[None]:
    """A check's own function used in "run it": its failure stops the run with the check's sentence."""
    try:
        yield
    except pytest.fail.Exception as failure:
        raise UnusableResult(str(failure.msg)) from None


def run_it(module: ModuleType) -> int:
    """Run the exercise `module` is the stub or the reference solution of; return the exit code."""
    exercise = exercise_of_file(module.__file__ or "")
    if exercise is None:
        raise ValueError(f"{module.__file__} is not an exercise file named in grader/catalog.py")
    try:
        return importlib.import_module(exercise.checks_module).run(module)
    except KeyboardInterrupt:  # while the grader and the lesson load, before the learner's code runs
        print(f"Exercise {exercise.number} stopped: you pressed Ctrl-C before it ran.", file=sys.stderr)
        return 130


def _where(error: BaseException, file: str | None) -> str:
    """ "at exercises/ex4_....py, line 42: for ..." for the learner's innermost line the exception passed, or ""."""
    frames = traceback.extract_tb(error.__traceback__)
    frames = [frame for frame in frames if file and Path(frame.filename) == Path(file)]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip().removesuffix(':')}" if frame.line else ""  # `while True`, not `while True:`
    return f" in {frame.name}(), at {shown_path(frame.filename)}, line {frame.lineno}{code}"


def run_safely(exercise: Exercise, module: ModuleType, show: Callable[[], None]) -> int:
    """Run an exercise's "run it"; a stub or an exception in the learner's code ends it in a sentence, no traceback."""
    path = shown_path(module.__file__) if module.__file__ else module.__name__
    check = exercise.check_command
    printable_output()  # a learner's message may hold any character, and the output may go to a file
    before = global_state()
    try:
        with warnings.catch_warnings(), time_limit(EXERCISE_LIMIT):
            # As in the checks (pyproject.toml): a loss over mismatched shapes is an error, not a warning.
            warnings.filterwarnings("error", message=TARGET_SIZE_WARNING, category=UserWarning)
            show()
    except TimeLimitExceeded as error:
        print(
            f"Exercise {exercise.number} stopped after {EXERCISE_LIMIT:g} s, the checks' own time limit, while it was "
            f"running{_where(error, module.__file__) or ' your code'}; look for a loop that never ends or far more "
            f"epochs than the exercise asks for, then run this again or check it with: {check}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt as error:
        print(
            f"Exercise {exercise.number} stopped: you pressed Ctrl-C while it was running"
            f"{_where(error, module.__file__) or ' its run'}.",
            file=sys.stderr,
        )
        return 130
    except UnusableResult as problem:
        print(f"{problem} Check your functions with: {check}.", file=sys.stderr)
        return 1
    except NotImplementedError as error:
        print(f"Exercise {exercise.number} is not finished yet: {error}", file=sys.stderr)
        print(f"Fill in {path}, then run this again or check it with: {check}", file=sys.stderr)
        return 2
    except (Exception, SystemExit) as error:  # SystemExit: sys.exit() inside a learner's function
        if raised_in(error, module.__file__):
            message = describe_exception(None, error, module.__file__, GRADER_FILES, "run this again")
        else:  # called with arguments it does not take, or it returned what this run cannot use
            message = (
                f"Exercise {exercise.number} stopped with {type(error).__name__}: {error}. Check your functions "
                f"with: {check}, which says what each should take and return."
            )
        print(message, file=sys.stderr)
        return 1
    changed = restore_global_state(before, "Your code")  # as the checks tell it
    if changed:
        print(f"{' '.join(changed)} The checks fail a file that does this: {check}.", file=sys.stderr)
        return 1
    return 0


def output_path(name: str) -> Path:
    """Where "run it" saves the file `name`: the repository's figures/ folder, made if missing, as the lesson does."""
    return files.output_path(name, OUTDIR)


def shown_output(path: Path) -> str:
    """A saved file's path as the learner can open it: relative to the current folder if it is inside it."""
    return files.shown(path)


def save_figure(fig: object, name: str) -> Path:
    path = output_path(f"{name}.png")
    drawn = io.BytesIO()
    fig.savefig(drawn, format="png")
    files.save_bytes(path, drawn.getvalue())  # whole or not at all, as the lesson saves its figures
    print(f"figure saved: {shown_output(path)}")
    return path
