"""A learner's mistake in exercise code, told in one message: what raised what, where, and what to do.

The checks (grader/harness.py) and the exercises' own runs ("run it", grader/run_it.py) both
report a learner's mistake this way, instead of a traceback through their own code, and both hold
a returned loss history to the same rule (`losses_problem`).
"""

from __future__ import annotations

import math
import numbers
import os
import pickle
import re
import traceback
from collections.abc import Collection
from pathlib import Path

import torch

from lesson_support.data import ROOT

# The grader's own files, by full path: their frames are never shown as the learner's.
GRADER_FILES = frozenset(os.path.realpath(path) for path in Path(__file__).parent.glob("*.py"))
SHOWN_FRAMES = 4  # the learner's last frames shown under the message
# nn.MSELoss and F.mse_loss warn with this text when predictions and targets differ in shape, and
# return a broadcast (wrong) number. The grader (pyproject.toml) and an exercise's own run both
# turn this one warning into an error; other warnings, such as the deprecated size_average=, stay warnings.
TARGET_SIZE_WARNING = "Using a target size"


def shown_path(path: str | None) -> str:
    """A file as the learner knows it: relative to the repository when it is inside it."""
    if not path:
        return "?"
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path


def _in_file(frames: list[traceback.FrameSummary], file: str | None) -> list[traceback.FrameSummary]:
    return [frame for frame in frames if file and Path(frame.filename) == Path(file)]


def raised_in(error: BaseException, file: str | None) -> bool:
    """Whether the exception passed through `file` (the learner's) on its way out."""
    return bool(_in_file(traceback.extract_tb(error.__traceback__), file))


def _exit_message(what: str, error: SystemExit, where: traceback.FrameSummary | None) -> str:
    """SystemExit: which line ended the program, and why an exercise file must not."""
    call = f"sys.exit({error.code!r})" if error.code is not None else "sys.exit()"
    if where is None:
        return f"{what} ended the program with {call}; return the result instead."
    line = (where.line or "").strip()
    at = f"at {shown_path(where.filename)}, line {where.lineno}{': ' + line if line else ''}"
    if where.name == "<module>" and "run_it(" in line:
        return (
            f"{what} ran the exercise's own demo and ended with {call} {at}. That line belongs under "
            'if __name__ == "__main__":, indented, as the file started: python -m exercises... still runs it, '
            "and importing the file (as the checks do) no longer does. Put the guard back."
        )
    return (
        f"{what} ended the program with {call} {at}. A function that ends the program stops every check "
        "after it: return the result instead, or raise an exception to report a problem."
    )


def describe_exception(
    what: str | None,
    error: BaseException,
    own_file: str | None,
    outer_files: Collection[str],
    then: str,
    advice: str = "",
) -> str:
    """One message for `error`, raised in a learner's code that was called from `outer_files` (full paths).

    `what` names the call ("fit_height_weight()"); None names the learner's function that raised.
    `own_file` is the learner's file: the message points at the innermost line of it that ran.
    An exception raised inside a library is told there, but the learner is sent to their own
    line, never asked to fix the library. `then` says what to do after fixing it ("run the check
    again"); `advice`, if any, follows that sentence. SystemExit gets a message of its own.
    """
    frames = traceback.extract_tb(error.__traceback__)
    first = next((k for k, f in enumerate(frames) if os.path.realpath(f.filename) not in outer_files), len(frames))
    frames = frames[first:]
    while len(frames) > 1 and os.path.realpath(frames[-1].filename) in outer_files:
        frames = frames[:-1]  # the grader's own watch over a library call (a torch function mode), not the learner's
    own_file = own_file or (frames[0].filename if frames else None)
    own = _in_file(frames, own_file)
    where = own[-1] if own else None
    if isinstance(error, SystemExit):
        return _exit_message(what or (f"{own[0].name}()" if own else "your code"), error, where)
    if not frames:  # raised by the call itself: the function does not take the arguments it was given
        return (
            f"{what or 'your function'} raised {type(error).__name__}: {error}. Keep the names and arguments the "
            "file started with; they are called the way their docstrings describe."
        )
    what = what or f"{(own[0] if own else frames[-1]).name}()"
    told = str(error).rstrip().removesuffix(".")  # the location follows in the same sentence
    raised = f"{type(error).__name__}: {told}" if told else type(error).__name__
    if isinstance(error, KeyboardInterrupt):  # never a Ctrl-C: the learner's code runs where none reaches it
        raised += " (what Ctrl-C raises; a function must not raise it)"
    if where is not None:
        code = f": {where.line.strip()}" if where.line else ""
        inside = ""
        if where is not frames[-1]:  # raised further in, in a library the learner's line called
            inside = f" (raised inside {shown_path(frames[-1].filename)}, which your line called)"
        message = (
            f"{what} raised {raised} at {shown_path(where.filename)}, line {where.lineno}"
            f"{code}{inside}. Fix it there and {then}."
        )
    else:  # no line of the learner's file ran: a library was given something it cannot use
        message = (
            f"{what} raised {raised}, inside {shown_path(frames[-1].filename)}, line "
            f"{frames[-1].lineno}, which is not your code: look at what your code gave it, and {then}."
        )
    shapes = _target_size_shapes(error)
    if shapes:
        message += (
            f" The loss compared predictions of shape {shapes[0]} with targets of shape {shapes[1]}, and broadcasting "
            "them gives a wrong number. The line to fix is the one that gave them different shapes (a .view(-1), "
            ".squeeze() or [:, 0] on one of them, or targets made as a flat tensor), not the loss line: both must "
            "be (n, 1)."
        )
    message += f" {advice}" if advice else ""
    if where is not None:  # the learner's own lines, up to the innermost one: never a library's frames
        shown = frames[: frames.index(where) + 1][-SHOWN_FRAMES:]
        heading = "The last lines it ran:"
    else:
        shown = frames[-SHOWN_FRAMES:]
        heading = f"The last lines it ran, inside {shown_path(frames[-1].filename)} (not your code):"
    last = "".join(traceback.format_list(shown)).rstrip()
    return f"{message}\n{heading}\n{last}"


_TARGET_SIZE = re.compile(
    r"target size \(torch\.Size\(\[([\d, ]*)\]\)\) that is different to the input size \(torch\.Size\(\[([\d, ]*)\]\)\)"
)


def _target_size_shapes(error: BaseException) -> tuple[str, str] | None:
    """(the predictions' shape, the targets' shape) from the warning nn.MSELoss gives for mismatched shapes."""
    found = _TARGET_SIZE.search(str(error)) if isinstance(error, UserWarning) else None
    if found is None:
        return None
    target, predicted = (tuple(int(size) for size in group.split(",") if size.strip()) for group in found.groups())
    return str(predicted), str(target)


def article(noun: str) -> str:
    """ "a" or "an" before a noun, by its first letter: an OrderedDict, a tensor."""
    return "an" if noun[:1].lower() in "aeiou" else "a"


def losses_problem(value: object, epochs: int | None, what: str) -> str | None:
    """Why `value` is not a loss history of `epochs` plain numbers, in one sentence; None when it is one.

    The rule for every returned history, in the checks and in an exercise's own run: a list (or
    tuple) of `epochs` Python or numpy scalars (any number of them where `epochs` is None).
    Tensors and numpy arrays are refused, with the call that turns them into numbers. `what` is a
    singular noun phrase ("histories['sgd']").
    """
    library = type(value).__module__.split(".")[0]
    if library in ("torch", "numpy") and hasattr(value, "tolist"):
        kind = "tensor" if library == "torch" else "numpy array"
        return (
            f"{what} is a {kind}; return a list of floats, one per epoch: append loss.item() each epoch "
            f"(or convert the whole {kind} with .tolist())."
        )
    if not isinstance(value, list | tuple):
        got = "None. Does the function end with a return statement?" if value is None else f"a {type(value).__name__}."
        count = f"{epochs} floats" if epochs is not None else "floats, one per epoch"
        return f"{what} should be a list of {count}, but it is {got}"
    if epochs is not None and len(value) != epochs:
        return f"{what} has {len(value)} entries; expected one per epoch, {epochs}."
    for k, loss in enumerate(value):
        kind = type(loss).__name__
        if type(loss).__module__.split(".")[0] == "torch":
            graph = (
                " This one still requires grad, so the list would also keep every epoch's autograd graph alive."
                if getattr(loss, "requires_grad", False)
                else ""
            )
            return (
                f"entry {k} of {what} is a tensor, not a float; append loss.item(), which gives a plain Python "
                f"float.{graph}"
            )
        if type(loss).__module__ == "numpy" and not isinstance(loss, numbers.Real):
            return (
                f"entry {k} of {what} is a numpy {kind}, not a float (loss.detach().numpy() gives one); append "
                "loss.item(), which gives a plain Python float."
            )
        if not isinstance(loss, numbers.Real) or isinstance(loss, bool):
            return f"entry {k} of {what} should be a float, but it is a {kind}."
        if not math.isfinite(loss):
            return (
                f"entry {k} of {what} is {loss}: training diverged. Check the step size and that the loss is the MSE."
            )
    return None


WHOLE_MODEL_SAVED = (
    "torch.load(path, weights_only=True) refuses the saved file: it holds a pickled object of a class weights_only "
    "does not allow, such as the whole model from torch.save(model, path). Save the weights only: "
    "torch.save(model.state_dict(), path)."
)


def unreadable_weights(path: Path) -> str | None:
    """Why torch.load(path, weights_only=True) cannot read a file a learner's save_model wrote; None when it can."""
    try:
        torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        return WHOLE_MODEL_SAVED
    except Exception as error:
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else ""
        return (
            f"torch.load(path, weights_only=True) cannot read the saved file ({type(error).__name__}: {first_line}). "
            "Write it with torch.save(model.state_dict(), path)."
        )
    return None
