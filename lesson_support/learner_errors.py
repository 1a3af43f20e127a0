"""An exception raised in a learner's exercise code, told in one message: what raised what, where, and what to do.

The grader (tests/grading.py) and the exercises' own runs (exercises/_demo.py) both report a
learner's mistake this way, instead of a traceback through their own code.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from lesson_support.data import ROOT

SHOWN_FRAMES = 4  # the learner's last frames shown under the message


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


def describe_exception(
    what: str | None,
    error: BaseException,
    own_file: str | None,
    outer_files: set[str],
    then: str,
    advice: str = "",
) -> str:
    """One message for `error`, raised in a learner's code that was called from `outer_files`.

    `what` names the call ("fit_height_weight()"); None names the learner's function that raised.
    `own_file` is the learner's file: the message points at its last line that ran. `then` says
    what to do after fixing it ("run the check again"); `advice`, if any, follows that sentence.
    """
    frames = traceback.extract_tb(error.__traceback__)
    first = next((k for k, frame in enumerate(frames) if Path(frame.filename).name not in outer_files), len(frames))
    frames = frames[first:]
    own_file = own_file or (frames[0].filename if frames else None)
    own = _in_file(frames, own_file)
    where = own[-1] if own else (frames[-1] if frames else None)
    if where is None:  # raised by the call itself: the function does not take the arguments it was given
        return (
            f"{what or 'your function'} raised {type(error).__name__}: {error}. Keep the names and arguments the "
            "file started with; they are called the way their docstrings describe."
        )
    what = what or f"{(own[0] if own else where).name}()"
    code = f": {where.line.strip()}" if where.line else ""
    told = str(error).rstrip().removesuffix(".")  # the location follows in the same sentence
    message = (
        f"{what} raised {type(error).__name__}: {told} at {shown_path(where.filename)}, line {where.lineno}{code}. "
        f"Fix it there and {then}.{' ' + advice if advice else ''}"
    )
    last = "".join(traceback.format_list(frames[-SHOWN_FRAMES:])).rstrip()
    return f"{message}\nThe last lines it ran:\n{last}"
