"""Where a run happens: its settings, the device, notebook or script, and the garbage collector."""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lesson_support.data import DISTANCE_TIME_CSV, load_distance_time
from lesson_support.figures import FigureOutput
from lesson_support.files import shown

SEED = 42  # every section reseeds with it, so one section alone prints what the full run does


@dataclass
class Run:
    """The settings of one run of the lesson, passed from section to section."""

    seed: int = SEED
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    device_option: str = "cpu"  # what --device said: cpu, auto, or a device such as cuda:1
    epochs: int = 500  # the article's run, as lesson.py's TRAIN_EPOCHS and TRAIN_LR
    lr: float = 0.01
    data: Path = DISTANCE_TIME_CSV
    plots: bool = True
    deeper: bool = False  # also run each section's optional "going deeper" part (--deeper)
    figures: FigureOutput = field(default_factory=FigureOutput)

    @functools.cached_property
    def deliveries(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The distances and times of --data, read once, on the run's device."""
        distances, times = load_distance_time(self.data)
        return distances.to(self.device), times.to(self.device)

    @property
    def writes_files(self) -> bool:
        """Whether this run keeps files: a script with figures does; --no-plots and a notebook do not."""
        return self.plots and not self.figures.inline

    @contextlib.contextmanager
    def files_folder(self) -> Iterator[Path]:
        """Where a section may write a file: beside the figures, or else a temporary folder removed afterwards."""
        if self.writes_files:
            self.figures.outdir.mkdir(parents=True, exist_ok=True)
            yield self.figures.outdir
            return
        with tempfile.TemporaryDirectory(prefix="lesson-") as folder:
            yield Path(folder)

    def describe(self, path: Path) -> str:
        """A written file's path as the output names it, the same on every run."""
        if self.writes_files:
            return shown(path)
        why = "--no-plots keeps no files" if not self.plots else "a notebook shows figures inline and keeps no files"
        return f"{path.name} to a temporary folder, removed after this\n  section: {why}."


def heading(number: int, title: str) -> None:
    """A section's first printed line."""
    print(f"\n== {number}. {title} ==")


GOING_DEEPER_MARK = "-- Going deeper (optional), section"


def going_deeper(number: int, title: str) -> None:
    """The first printed line of a section's optional part: what it shows."""
    print(f"\n{GOING_DEEPER_MARK} {number}: {title} --")


def required_path(output: str) -> str:
    """The lesson's output without its optional parts: what `python lesson.py` prints without --deeper.

    An optional part runs from its heading, and the blank line printed before it, to the blank line
    before the next section's heading, or to the end.
    """
    kept: list[str] = []
    skipping = False
    for line in output.split("\n"):
        if line.startswith(GOING_DEEPER_MARK):
            skipping = True
            kept.pop()  # the blank line before the optional part's heading
        elif line.startswith("== ") and skipping:
            skipping = False
            kept.append("")  # the blank line before this heading, skipped with the part
        if not skipping:
            kept.append(line)
    if skipping and output.endswith("\n"):
        kept.append("")
    return "\n".join(kept)


def devices_here() -> list[str]:
    """The devices this machine has for PyTorch: cpu, then each device of its accelerator (cuda:0, mps:0, ...)."""
    names = ["cpu"]
    if torch.accelerator.is_available():
        kind = torch.accelerator.current_accelerator().type
        names += [f"{kind}:{index}" for index in range(torch.accelerator.device_count())]
    return names


def pick_device(name: str) -> torch.device:
    """--device as a torch.device: auto, or any device torch.device accepts that this machine has.

    Raises ValueError with one sentence for a name PyTorch does not know or a device this machine lacks.
    """
    if name == "auto":  # the line the PyTorch tutorials teach
        return torch.device(torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu")
    here = devices_here()
    has = f"this machine has {', '.join(here)}" if len(here) > 1 else "this machine has the cpu only"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"'{name}' is not a device PyTorch knows; {has}, or use auto") from None
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if device.type == "cpu" and device.index in (None, 0):
        return device
    counted = device.index is None or device.index < torch.accelerator.device_count()
    if accelerator is not None and device.type == accelerator.type and counted:
        return device
    raise ValueError(f"PyTorch sees no {name} here; {has}, or use auto")


def freeze_gc() -> None:
    """Stop the garbage collector walking the libraries' long-lived objects.

    torch and matplotlib leave a few hundred thousand objects that live until the program ends.
    Freezing them keeps Python's collector from walking them again, during the run and at exit:
    about a second less to wait, with the same results.
    """
    gc.freeze()


LESSON_SYMBOLS = "²·×ŷελσ∂≈"  # what the lesson prints beyond ASCII


def printable_output() -> None:
    """Let print() write the lesson's symbols wherever the output goes.

    A terminal takes them. Output redirected to a file or a pipe on Windows is written in a code
    page such as cp1252, which has no λ or σ: there, print() would stop the lesson with a
    UnicodeEncodeError. Such a stream is switched to UTF-8 instead.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            LESSON_SYMBOLS.encode(getattr(stream, "encoding", None) or "ascii")
        except (LookupError, UnicodeEncodeError):
            if hasattr(stream, "reconfigure"):
                stream.reconfigure(encoding="utf-8")


def in_notebook(module_name: str) -> bool:
    """True when the lesson's cells run in Jupyter or VS Code rather than as `python lesson.py` or an import."""
    return module_name == "__main__" and "ipykernel" in sys.modules


def notebook_runner(module_name: str) -> Callable[..., Any]:
    """A function that runs a section (or its optional part) under its own cell in a notebook.

    It returns what the section returned, for the optional part's cell; elsewhere it runs nothing
    and returns None.
    """
    if not in_notebook(module_name):
        return lambda section, *given: None
    run = Run(figures=FigureOutput(inline=True), deeper=True)

    def run_in_notebook(section: Callable[..., Any], *given: Any) -> Any:
        return section(run, *given)

    return run_in_notebook
