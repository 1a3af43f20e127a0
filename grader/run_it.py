"""What "run it" (`python -m exercises.exN_...`) shares: a learner's functions on real data, a sentence on failure.

Each exercise's own run lives in its module (grader/ex1.py ... as `run`); the exercise files and
their reference solutions end with `sys.exit(run_it(sys.modules[__name__]))`, which finds the
exercise in the catalog by the file's name.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import runpy
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from exercises.catalog import BY_NUMBER, Exercise, exercise_of_file
from grader import isolation
from grader.harness import SHIPPED, global_state, restore_global_state, syntax_message, unreadable_file
from grader.messages import GRADER_FILES, TARGET_SIZE_WARNING, describe_exception, losses_problem, raised_in, shown_path
from lesson_support import files
from lesson_support.data import ROOT
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


class RunModule:
    """`python -m <module>` of an exercise file, as its child process runs it: the file imported there, then run."""

    def __init__(self, module_name: str) -> None:
        self.module_name = module_name

    def __call__(self) -> isolation.Outcome:
        isolation.calling(f"importing {self.module_name.replace('.', '/')}.py")
        try:
            runpy.run_module(self.module_name, run_name="__main__", alter_sys=True)
        except SystemExit as ended:  # the file's own last line: sys.exit(run_it(...))
            code = ended.code if isinstance(ended.code, int) else (0 if ended.code is None else 1)
            return isolation.Outcome("passed", exitcode=code)
        return isolation.Outcome("passed", exitcode=0)


def before_running(module_name: str) -> None:
    """`python -m exercises.exN_...`, before Python runs the file: the whole run in a child process, then exit.

    The file is imported in the child, so the checks' limits hold while it imports too, and a file
    that is missing, unreadable or unparsable gets one sentence, where Python would print a
    traceback through runpy.
    """
    exercise = exercise_of_file(module_name.rsplit(".", 1)[-1])
    if exercise is None or module_name not in (exercise.module, exercise.solution_module):
        return
    shown = f"{module_name.replace('.', '/')}.py"
    problem = unreadable_file(ROOT / shown, shown)
    if problem is None:
        try:
            compile((ROOT / shown).read_bytes(), str(ROOT / shown), "exec")
        except SyntaxError as error:
            problem = f"{syntax_message(shown, error)}\nFix that line, then run this again."
        except ValueError as error:  # a NUL byte, say
            problem = f"{shown} cannot be compiled: {error}."
    if problem is not None:
        print(problem, file=sys.stderr)
        sys.exit(1)
    if isolation.inside():
        return
    sys.exit(_supervised(exercise, RunModule(module_name)))


def _supervised(exercise: Exercise, job: Callable[[], isolation.Outcome]) -> int:
    """Run a "run it" job in a child process; its exit code, or 1 or 130 with a sentence for what stopped it."""
    printable_output()  # a learner's message may hold any character, and the output may go to a file
    check = exercise.check_command
    try:
        outcome = isolation.run(job, isolation.Limits(isolation.CPU_LIMIT), forward=True)
    except KeyboardInterrupt:
        outcome = None
    said = SHIPPED.put_back("Your code")
    if outcome is None:
        print(f"Exercise {exercise.number} stopped: you pressed Ctrl-C while it was running.", file=sys.stderr)
        code = 130
    elif outcome.kind == "passed":
        code = outcome.exitcode if outcome.exitcode is not None else 1
    elif outcome.kind == "failed":  # the grader's own fault, told with its traceback
        print(outcome.message, file=sys.stderr)
        code = 1
    else:
        then = f"Then run this again, or check it with: {check}"
        print(isolation.explain(outcome, then, run=f"Exercise {exercise.number}"), file=sys.stderr)
        code = 1
    if said:
        print(f"{' '.join(said)} The checks fail a file that does this: {check}.", file=sys.stderr)
        code = code or 1
    return code


def run_it(module: ModuleType) -> int:
    """Run the exercise `module` is the stub or the reference solution of; return the exit code."""
    exercise = exercise_of_file(module.__file__ or "")
    if exercise is None:
        raise ValueError(f"{module.__file__} is not an exercise file named in exercises/catalog.py")
    try:
        return importlib.import_module(exercise.checks_module).run(module)
    except KeyboardInterrupt:  # while the grader and the lesson load, before the learner's code runs
        print(f"Exercise {exercise.number} stopped: you pressed Ctrl-C before it ran.", file=sys.stderr)
        return 130


class RunIt:
    """An exercise's "run it", as the child process runs it: the exercise's own run of the module, there."""

    def __init__(self, number: int, module: ModuleType) -> None:
        self.number, self.module, self.module_name = number, module, module.__name__

    def __getstate__(self) -> dict[str, Any]:  # a fresh child (no fork) imports the module itself, as its main
        return {"number": self.number, "module": None, "module_name": self.module_name}

    def __call__(self) -> isolation.Outcome:
        module = self.module or sys.modules.get(self.module_name) or sys.modules["__main__"]
        code = importlib.import_module(BY_NUMBER[self.number].checks_module).run(module)
        return isolation.Outcome("passed", exitcode=code)


def run_safely(exercise: Exercise, module: ModuleType, show: Callable[[], None]) -> int:
    """Run an exercise's "run it" in a child process; whatever the learner's code does ends in a sentence.

    The child runs `show` (`_run_here`); this process stops it at the checks' own limits, ends
    whatever it started, and puts back a shipped file it changed, each told in a sentence.
    """
    if isolation.inside():
        return _run_here(exercise, module, show)
    return _supervised(exercise, RunIt(exercise.number, module))


def _run_here(exercise: Exercise, module: ModuleType, show: Callable[[], None]) -> int:
    """The "run it" in this process: a stub or an exception in the learner's code ends it in a sentence."""
    path = shown_path(module.__file__) if module.__file__ else module.__name__
    check = exercise.check_command
    printable_output()
    isolation.calling("your code")
    before = global_state()
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
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # SystemExit: sys.exit() inside a learner's function
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
