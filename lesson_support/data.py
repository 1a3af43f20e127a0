"""Reading the lesson's CSV files, with one sentence naming the file and line for every problem."""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
DISTANCE_TIME_CSV = DATA_DIR / "distance_time.csv"  # the article's four deliveries
DISTANCE_COLUMN = "distance_miles"
TIME_COLUMN = "time_minutes"
HEIGHT_WEIGHT_CSV = DATA_DIR / "height_weight.csv"  # exercise 1's adults
MAX_DATA_MB = 10  # a data file larger than this is refused before it is read: some 400,000 rows of two numbers


class DatasetError(ValueError):
    """A data file that cannot be used; the message names the file and the line."""


SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}  # what spreadsheets also save


def _missing(path: Path) -> str:
    """What to do about a file that is not there: one of the lesson's own, or the learner's."""
    shipped = {DISTANCE_TIME_CSV, HEIGHT_WEIGHT_CSV}
    if path.resolve() in shipped:
        return f"{path}: no such file; it comes with the lesson, so restore it with git checkout -- data/{path.name}."
    where = "" if path.is_absolute() else f" (a relative path starts in the folder you run from, {Path.cwd()})"
    return f"{path}: no such file{where}; check the folder and the file name, including its extension."


def _separator_hint(header: list[str]) -> str:
    """A sentence when a one-cell header shows the file separates its cells with something other than commas."""
    if len(header) != 1:
        return ""
    for mark, name in SEPARATORS.items():
        if mark in header[0]:
            return (
                f" Its cells are separated by {name}, not commas: save it as comma-separated values "
                "(a spreadsheet's 'CSV (comma delimited)'), with a point as the decimal mark."
            )
    return ""


def _kind(mode: int) -> str:
    """What a path that is not a regular file is, in words."""
    kinds = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    kinds += ((stat.S_ISSOCK, "a socket"),)
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _read_text(path: Path) -> str:
    """A regular file's text, refused in a sentence if it is a pipe, a device or larger than MAX_DATA_MB."""
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one forever.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(descriptor, "rb", closefd=True) as handle:
        found = os.fstat(handle.fileno())
        if stat.S_ISDIR(found.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(found.st_mode):
            raise DatasetError(f"{path}: is {_kind(found.st_mode)}, not a CSV file; pass a regular file.")
        limit = MAX_DATA_MB * 1024 * 1024
        data = handle.read(limit + 1)  # a file that grows while it is read is still stopped at the limit
    if len(data) > limit:
        raise DatasetError(
            f"{path}: larger than {MAX_DATA_MB} MB, the most this lesson reads as data; use a smaller sample of it."
        )
    # utf-8-sig: files saved by spreadsheets start with a byte-order mark
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="").read()


def load_csv(path: str | os.PathLike[str], x_column: str, y_column: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read two numeric columns of a CSV file as float32 tensors of shape (n, 1)."""
    path = Path(path)
    try:
        rows = list(csv.reader(io.StringIO(_read_text(path), newline="")))
    except FileNotFoundError:
        raise DatasetError(_missing(path)) from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a folder, not a CSV file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot be read as a UTF-8 text file ({error}).") from None

    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise DatasetError(f"{path}: the file is empty; it needs a header line and at least 2 data rows.")
    _, header = numbered[0]
    header = [name.strip() for name in header]
    for column in (x_column, y_column):
        if column not in header:
            found = ", ".join(header)
            raise DatasetError(
                f"{path}, line 1: no column named '{column}'; the header has {found}.{_separator_hint(header)}"
            )
    for column in (x_column, y_column):
        if header.count(column) > 1:
            places = " and ".join(str(index + 1) for index, name in enumerate(header) if name == column)
            raise DatasetError(
                f"{path}, line 1: the column '{column}' appears more than once (columns {places}); keep one, so that "
                "it is clear which to use."
            )
    body = numbered[1:]
    if not body:
        raise DatasetError(f"{path}: the file has a header but no data rows; add at least 2 rows of numbers.")

    x_index, y_index = header.index(x_column), header.index(y_column)
    xs, ys = [], []
    for number, row in body:
        if len(row) != len(header):
            raise DatasetError(
                f"{path}, line {number}: {len(row)} cell{'s' * (len(row) != 1)} where the header has {len(header)}; "
                "every row needs one value per column."
            )
        for index, values in ((x_index, xs), (y_index, ys)):
            cell = row[index].strip()
            try:
                value = float(cell)
            except ValueError:
                raise DatasetError(
                    f"{path}, line {number}: '{cell}' in column '{header[index]}' is not a number."
                ) from None
            # float32 is what the model computes in, so 1e39 is as unusable as 'inf'.
            if not math.isfinite(value) or not math.isfinite(torch.tensor(value).item()):
                raise DatasetError(
                    f"{path}, line {number}: '{cell}' in column '{header[index]}' is not a finite float32 number."
                )
            values.append(value)
    if len(xs) < 2:
        raise DatasetError(f"{path}: {len(xs)} data row; a line needs at least 2 points to be fitted.")
    if len(set(xs)) == 1:
        raise DatasetError(
            f"{path}: every value in column '{x_column}' is {xs[0]:g}; a line needs at least 2 different "
            f"values of {x_column} to be fitted."
        )
    return torch.tensor(xs).view(-1, 1), torch.tensor(ys).view(-1, 1)


def load_distance_time(path: str | os.PathLike[str] = DISTANCE_TIME_CSV) -> tuple[torch.Tensor, torch.Tensor]:
    """The article's deliveries: distances (miles) and times (minutes), each (n, 1)."""
    return load_csv(path, DISTANCE_COLUMN, TIME_COLUMN)


def load_height_weight() -> tuple[torch.Tensor, torch.Tensor]:
    """Exercise 1's adults: heights (cm) and weights (kg), each (200, 1)."""
    return load_csv(HEIGHT_WEIGHT_CSV, "height_cm", "weight_kg")
