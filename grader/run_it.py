"""What "run it" (`python -m exercises.exN_...`) shares: a learner's functions on real data, a sentence on failure.

Each exercise's own run lives in its module (grader/ex1.py ... as `run`); the exercise files and
their reference solutions end with `sys.exit(run_it(sys.modules[__name__]))`, which finds the
exercise in the catalog by the file's name.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from grader.catalog import Exercise, exercise_of_file
from grader.messages import GRADER_FILES, TARGET_SIZE_WARNING, describe_exception, losses_problem, raised_in, shown_path
from lesson_support.runtime import printable_output

OUTDIR = Path("figures")  # beside the lesson's figures


class UnusableResult(Exception):
    """A learner's function returned what this run cannot use; the message says what, as the checks would."""


def expect_losses(value: object, what: str) -> list[float]:
    """The checks' rule for the entries of a loss history (messages.losses_problem), applied here too."""
    problem = losses_problem(value, None, what)
    if problem:
        raise UnusableResult(problem)
    return value


def run_it(module: ModuleType) -> int:
    """Run the exercise `module` is the stub or the reference solution of; return the exit code."""
    exercise = exercise_of_file(module.__file__ or "")
    if exercise is None:
        raise ValueError(f"{module.__file__} is not an exercise file named in grader/catalog.py")
    return importlib.import_module(exercise.checks_module).run(module)


def run_safely(exercise: Exercise, module: ModuleType, show: Callable[[], None]) -> int:
    """Run an exercise's "run it"; a stub or an exception in the learner's code ends it in a sentence, no traceback."""
    path = shown_path(module.__file__) if module.__file__ else module.__name__
    check = exercise.check_command
    printable_output()  # a learner's message may hold any character, and the output may go to a file
    try:
        with warnings.catch_warnings():
            # As in the checks (pyproject.toml): a loss over mismatched shapes is an error, not a warning.
            warnings.filterwarnings("error", message=TARGET_SIZE_WARNING, category=UserWarning)
            show()
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
    return 0


def save_figure(fig: object, name: str) -> Path:
    OUTDIR.mkdir(exist_ok=True)
    path = OUTDIR / f"{name}.png"
    fig.savefig(path)
    print(f"figure saved: {path}")
    return path
