"""The command line of `python lesson.py`: options, and one clear line for every mistake."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from lesson_support import figures, files, runtime
from lesson_support.checks import DivergenceError
from lesson_support.data import DISTANCE_COLUMN, DISTANCE_TIME_CSV, MAX_DATA_MB, TIME_COLUMN, DatasetError

OUTDIR = files.FIGURES  # the repository's figures/, whatever folder the lesson runs from, as for "run it"
FLOAT32 = torch.finfo(torch.float32)
LONG_RUN = 180.0  # seconds: a training section expected to take longer is announced before it starts
Section = Callable[[runtime.Run], Any]
Deeper = Callable[[runtime.Run, Any], None]  # a section's optional part, given what the section returned


def _whole_number(text: str, unit: str = "") -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number{unit}") from None


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; use 1 or more")
    return value


def _seed(text: str) -> int:
    value = _whole_number(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to 2**63 - 1")
    return value


def _step_size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a positive finite number; try 0.01")
    # The model computes in float32: a larger step overflows to inf, a smaller one is 0 and trains nothing.
    if value > FLOAT32.max:
        raise argparse.ArgumentTypeError(
            f"{text} is larger than float32, which the model computes in, can hold ({FLOAT32.max:.4g}); try 0.01"
        )
    if torch.tensor(value, dtype=torch.float32).item() == 0:
        raise argparse.ArgumentTypeError(f"{text} is 0 in float32, which the model computes in, so nothing would train")
    return value


def _outdir(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an empty folder name; name a folder for the figures and saved models, or leave --outdir out to use "
            f"{files.shown(OUTDIR)}"
        )
    return Path(text)


def _dpi(text: str) -> int:
    value = _whole_number(text, " of dots per inch; try 100")
    if not 30 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{value} dpi is outside 30 to 600; 100 suits a screen, 192 a page")
    return value


def _device(text: str) -> str:
    try:
        runtime.pick_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


class OneLineParser(argparse.ArgumentParser):
    """argparse, with every mistake on one line of stderr instead of a usage block and then the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')}; python {self.prog} --help lists the options.\n")


def _section_name(sections: Sequence[str]) -> Callable[[str], str]:
    """--section takes a section's name or its number in --list."""

    def name(text: str) -> str:
        if text in sections:
            return text
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(sections):  # not '²', a digit to Python
            return sections[int(text) - 1]
        choices = ", ".join(f"{number} {section}" for number, section in enumerate(sections, start=1))
        close = difflib.get_close_matches(text, sections, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise argparse.ArgumentTypeError(f"invalid choice: '{text}' ({guess}choose a number or a name: {choices})")

    return name


def build_parser(sections: Sequence[str], defaults: runtime.Run) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="lesson.py",
        description="Linear regression with PyTorch, computed and narrated section by section.",
    )
    parser.add_argument("--list", action="store_true", help="name the sections and stop")
    parser.add_argument(
        "--section",
        action="append",
        type=_section_name(list(sections)),
        metavar="NAME",
        help="run only this section, by name or number (repeatable)",
    )
    parser.add_argument("--deeper", action="store_true", help="also print each section's optional 'going deeper' part")
    parser.add_argument(
        "--epochs", type=_positive_int, default=defaults.epochs, help="epochs of the training section (%(default)s)"
    )
    parser.add_argument(
        "--lr", type=_step_size, default=defaults.lr, help="step size of the training section (%(default)s)"
    )
    parser.add_argument("--seed", type=_seed, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument(
        "--data",
        type=Path,
        default=DISTANCE_TIME_CSV,
        help=f"CSV with columns {DISTANCE_COLUMN},{TIME_COLUMN}, a file of at most {MAX_DATA_MB} MB "
        "(default data/distance_time.csv)",
    )
    parser.add_argument(
        "--outdir",
        type=_outdir,
        default=OUTDIR,
        help="folder for the figures and saved models (default: the repository's figures/, from any folder)",
    )
    parser.add_argument(
        "--dpi", type=_dpi, default=figures.DEFAULT_DPI, help="dots per inch of the saved figures (%(default)s)"
    )
    parser.add_argument("--no-plots", action="store_true", help="print only; do not draw or import matplotlib")
    parser.add_argument("--show", action="store_true", help="also open the figures in windows where there is a display")
    parser.add_argument("--animate", action="store_true", help="also save section 4's descent as descent.gif")
    parser.add_argument(
        "--explore", action="store_true", help="only open a window to drag w, b and lr and step the descent yourself"
    )
    parser.add_argument(
        "--device",
        type=_device,
        default="cpu",
        help="where tensors live: cpu (the default), auto, or a device this machine has, such as cuda:1 or mps",
    )
    return parser


def seconds_per_epoch(run: runtime.Run, epochs: int = 30) -> float:
    """Time the training section's epoch on the run's own data and device: zero_grad, forward, loss, backward, step.

    The section does a little more per epoch (its checks, a print now and then), so this is a
    lower bound on its epoch.
    """
    distances, times = run.deliveries
    model = torch.nn.Linear(1, 1).to(run.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=run.lr)
    loss_fn = torch.nn.MSELoss()

    def epoch() -> None:
        optimizer.zero_grad()
        loss = loss_fn(model(distances), times)
        loss.item()  # the section reads every loss, which waits for the device
        loss.backward()
        optimizer.step()

    epoch()  # the first step loads what torch loads once
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return (time.perf_counter() - start) / epochs


def _spoken(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} seconds"


def long_run_warning(run: runtime.Run) -> str | None:
    """A sentence for an --epochs that would keep the training section busy for more than a few minutes."""
    per_epoch = seconds_per_epoch(run)
    expected = per_epoch * run.epochs
    if expected <= LONG_RUN:
        return None
    return (
        f"--epochs {run.epochs}: the training section would take at least {_spoken(expected)} here (one epoch of its "
        f"loop took {per_epoch * 1e6:.0f} µs just now, on these {len(run.deliveries[0])} deliveries). Ctrl-C stops it; "
        f"a smaller --epochs (the default is {runtime.Run().epochs}) shows the same story sooner."
    )


def _prepare_outdir(outdir: Path) -> str | None:
    """Create the figure folder; return a sentence on what is wrong, or None."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"--outdir {outdir} is a file, not a folder; pass a folder for the figures."
    except OSError as error:
        return (
            f"cannot create the figure folder {outdir} ({error.strerror}); pass a writable --outdir or use --no-plots."
        )
    if not os.access(outdir, os.W_OK | os.X_OK):
        return f"the figure folder {outdir} is not writable; pass a writable --outdir or use --no-plots."
    return None


def _fail(parser: argparse.ArgumentParser, message: str, code: int) -> int:
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return code


def _no_window(parser: argparse.ArgumentParser, why: str, hint: str = "") -> int:
    return _fail(
        parser,
        f"--explore needs a window, and {why}.{hint} To see the descent move without one, run python lesson.py "
        "--animate (it saves descent.gif), or open lesson.py as a notebook.",
        2,
    )


class Terminated(BaseException):
    """SIGTERM, raised where the run is, so that it ends as Ctrl-C does: every file whole, one line said."""


@contextlib.contextmanager
def _termination_as_an_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated instead of ending the process where it stands."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def terminate(signum: int, frame: object) -> NoReturn:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


FILES_LINE = "Figures and models are saved in"  # the one line that says where a run writes


def _not_run(later: list[str]) -> str:
    """'the rest of it', then the steps after it: 'sections 5, 6 and 8' and 'the animation'."""
    numbers = [label.removeprefix("section ").split(" ")[0] for label in later if label.startswith("section ")]
    parts = ["the rest of it"]
    if numbers:
        joined = numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"
        parts.append(f"section{'s' * (len(numbers) > 1)} {joined}")
    parts += [label for label in later if not label.startswith("section ")]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _stopped(how: str, where: str, later: list[str]) -> str:
    """The line for a run stopped by Ctrl-C or SIGTERM: where it was, and what it did not save."""
    saving, files.being_saved = files.being_saved, None
    during = f" while saving {files.shown(saving)}, which is left as it was" if saving else ""
    return f"stopped by {how} in {where}{during}; {_not_run(later)} did not run, so saved nothing."


def _quiet_stdout() -> None:
    """Send what is left of the output nowhere, so that the flush at exit cannot fail a second time."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # ValueError: a stream with no descriptor
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_command_line(
    sections: dict[str, Section],
    argv: Sequence[str] | None = None,
    *,
    deeper: dict[str, Deeper] | None = None,
    animate: Section | None = None,
    explore: Section | None = None,
) -> int:
    """Parse the options, run the chosen sections in order, and turn a user's mistake into one line."""
    runtime.printable_output()
    parser = build_parser(list(sections), runtime.Run())
    args = parser.parse_args(argv)
    try:
        with _termination_as_an_exception():
            code = _run(parser, args, sections, deeper, animate, explore)
        sys.stdout.flush()  # here, where a failure can still be told, not at exit
    except BrokenPipeError:  # the output went to a program that stopped reading, such as head: nothing to say
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:  # while the data or the libraries load, before the first section
        return _fail(parser, "stopped by Ctrl-C before the first section ran, so saved nothing.", 130)
    except Terminated:
        return _fail(parser, "stopped by SIGTERM before the first section ran, so saved nothing.", 143)
    except files.SaveError as error:  # raised outside the sections, such as by a figure kept for --show
        return _fail(parser, str(error), 2)
    except OSError as error:
        if error.filename:  # a file the run reads or writes
            return _fail(parser, f"could not use {error.filename} ({error.strerror or error}).", 2)
        _quiet_stdout()  # no file named: the lesson's own output, sent to a full disk or a closed file
        return _fail(
            parser,
            f"could not write the lesson's output ({error.strerror or error}); send it to a file on a disk with "
            "room, or let it go to the terminal.",
            2,
        )
    return code


def _run(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    sections: dict[str, Section],
    deeper: dict[str, Deeper] | None,
    animate: Section | None,
    explore: Section | None,
) -> int:
    if args.list:
        for number, name in enumerate(sections, start=1):
            print(f"{number}. {name}")
        return 0
    for flag in ("show", "animate", "explore"):
        if getattr(args, flag) and args.no_plots:
            parser.error(f"--{flag} and --no-plots contradict each other; choose one.")
    if (args.explore or not args.no_plots) and (problem := figures.backend_problem()):
        return _fail(parser, problem, 2)
    if args.explore and explore is not None:
        return _explore(parser, args, explore)

    device = runtime.pick_device(args.device)  # checked by the parser already
    plots = not args.no_plots
    show = args.show and figures.has_display()
    run = runtime.Run(
        seed=args.seed,
        device=device,
        device_option=args.device,
        epochs=args.epochs,
        lr=args.lr,
        data=args.data,
        plots=plots,
        deeper=args.deeper,
        figures=figures.FigureOutput(outdir=args.outdir, dpi=args.dpi, show=show),
    )
    names = args.section or list(sections)
    if {"training", "learning_rate"} & set(names):
        try:
            _ = run.deliveries  # read now: a broken file stops the run before anything is printed or created
        except DatasetError as error:
            return _fail(parser, str(error), 2)
    if "training" in names and (warning := long_run_warning(run)):
        print(warning)
    if plots:
        problem = _prepare_outdir(args.outdir)
        if problem:
            parser.error(problem)
        if not show:
            figures.use_files_only()
        print(f"{FILES_LINE} {files.shown(args.outdir)} (--outdir picks another folder); docs/reference.md names them.")
    if args.show and not show:
        print("--show: no display found (DISPLAY is not set), so the figures are only saved as PNG files.")

    runtime.freeze_gc()
    files.being_saved = None  # only a save of this run is named if it is stopped
    numbers = {name: number for number, name in enumerate(sections, start=1)}
    steps = [(f"section {numbers[name]} ({name})", name) for name in sections if name in names]
    if args.animate and animate is not None:
        steps.append(("the animation", ""))
    position, where = 0, steps[0][0] if steps else ""
    try:
        for step, (where, name) in enumerate(steps):
            position = step  # the step the handlers below name
            if not name:
                animate(run)
                continue
            result = sections[name](run)
            if run.deeper and deeper and name in deeper:
                where = f"section {numbers[name]}'s going-deeper part"
                deeper[name](run, result)
    except DatasetError as error:
        return _fail(parser, str(error), 2)
    except DivergenceError as error:
        skipped = [name for _, name in steps[position + 1 :] if name]
        rest = f" The sections after {steps[position][1]} did not run: {', '.join(skipped)}." if skipped else ""
        return _fail(parser, f"{error}{rest}", 1)
    except files.SaveError as error:
        later = [label for label, _ in steps[position + 1 :]]
        return _fail(parser, f"{error} The run stopped in {where}: {_not_run(later)} did not run.", 2)
    except (KeyboardInterrupt, Terminated) as stop:
        later = [label for label, _ in steps[position + 1 :]]
        if isinstance(stop, KeyboardInterrupt):
            return _fail(parser, _stopped("Ctrl-C", where, later), 130)
        return _fail(parser, _stopped("SIGTERM", where, later), 143)
    run.figures.open_windows()
    return 0


def _explore(parser: argparse.ArgumentParser, args: argparse.Namespace, explore: Section) -> int:
    if not figures.has_display():
        return _no_window(parser, "there is no display here (DISPLAY is not set)")
    import matplotlib.pyplot as plt

    if plt.get_backend().lower() == "agg":
        unreachable = figures.unreachable_display()
        if unreachable:
            return _no_window(parser, unreachable)
        return _no_window(
            parser,
            "matplotlib found no window toolkit here (such as Tk or Qt) to open one",
            f" Install Tk for this Python {sys.version_info.major}.{sys.version_info.minor} (on Debian or Ubuntu: "
            "sudo apt-get install python3-tk; with Homebrew: brew install python-tk), or pip install PyQt6.",
        )
    try:
        explore(runtime.Run(seed=args.seed))  # the explorer's few points live on the CPU whatever --device says
    except KeyboardInterrupt:
        return _fail(parser, "interrupted: the explorer window was closed by Ctrl-C; it saves nothing.", 130)
    except Terminated:
        return _fail(parser, "stopped by SIGTERM: the explorer window was closed; it saves nothing.", 143)
    return 0
