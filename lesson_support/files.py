"""Where the lesson and the exercises' "run it" write their files, and how: whole, or not at all.

One rule for both: files go to the repository's figures/ folder, whatever folder the command runs
from (`python lesson.py --outdir DIR` picks another). A file is first written in full to a hidden
temporary file beside its target and then moved into place with os.replace, so a run stopped by
Ctrl-C, a signal or a full disk leaves every file either as it was or whole.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from lesson_support.data import ROOT

FIGURES = ROOT / "figures"  # the lesson's and "run it"'s folder for figures and saved models
PART = ".part"  # the ending of a file still being written: .NAME.<random>.part, beside NAME
being_saved: Path | None = None  # the file a save is writing at this moment, for the line an interrupt prints


class SaveError(OSError):
    """A file that could not be saved; the message names it and says that it was left as it was."""

    def __init__(self, message: str, target: Path) -> None:
        super().__init__(message)
        self.message, self.filename = message, str(target)

    def __str__(self) -> str:
        return self.message


def shown(path: Path) -> str:
    """A path as the output names it: relative to the current folder when inside it, else in full."""
    here = Path.cwd().resolve()
    full = path.resolve()
    return Path(os.path.relpath(full, here)).as_posix() if full.is_relative_to(here) else str(full)


def output_path(name: str, folder: Path = FIGURES) -> Path:
    """Where the file `name` is saved: in `folder`, made if missing."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _refuse_to_replace(target: Path) -> str | None:
    """Why the file at `target` must not be replaced, or None."""
    try:
        found = target.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(found.st_mode):
        return "a folder is in its place; move the folder or pass another --outdir"
    if not stat.S_ISREG(found.st_mode) and not stat.S_ISLNK(found.st_mode):
        return "something other than a file is in its place; move it or pass another --outdir"
    if not os.access(target, os.W_OK) or not found.st_mode & 0o222:  # marked read-only: kept, even for root
        return "the file there is read-only, so it is kept; make it writable or pass another --outdir"
    return None


def write(descriptor: int, data: bytes) -> None:
    """Write all of `data` to an open file and close it (tests replace this to fill a disk or pause a save)."""
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def save_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` whole: into a temporary file beside it, then moved into place.

    Raises SaveError, with the file left as it was, when the target cannot be replaced or the
    write fails (a full disk, a read-only folder). An interrupt (Ctrl-C, a signal turned into an
    exception) also leaves the file as it was; the temporary file is removed either way.
    """
    problem = _refuse_to_replace(target)
    if problem:
        raise SaveError(f"{shown(target)} was not saved: {problem}.", target)
    global being_saved
    part, being_saved = None, target  # still set if an interrupt ends the save: the run's last line names it
    try:
        while part is None:
            name = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PART}")
            with contextlib.suppress(FileExistsError):  # O_EXCL: never reuse a file that is already there
                descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
                part = name
        write(descriptor, data)
        os.replace(part, target)
        part = being_saved = None
    except OSError as error:
        being_saved = None
        reason = error.strerror or str(error)
        message = f"could not save {shown(target)} ({reason}); any earlier file there is left as it was."
        raise SaveError(message, target) from None
    finally:
        if part is not None:  # the write failed or was interrupted: the target was never touched
            with contextlib.suppress(OSError):
                part.unlink()


@contextlib.contextmanager
def whole_file(target: Path) -> Iterator[io.BytesIO]:
    """A file object to write into; what it holds is saved to `target` whole when the block ends without an error."""
    buffer = io.BytesIO()
    yield buffer
    save_bytes(target, buffer.getvalue())
