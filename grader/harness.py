"""Running a learner's code safely: copies in, global state put back, a time limit, one message out.

Every call into a learner's code goes through `Answer.run`, which keeps the rest of the run safe
from it: the learner gets copies of the inputs (a change to them is reported, and the grader's
references use the untouched originals), torch's global settings and the shipped data files are
put back afterwards (a change is reported), `sys.exit()` is caught, and a function that ran out
of time once is not waited for again. An exception in a learner's code becomes one message that
names the function and the learner's own line (grader/messages.py); the grader's own frames never
appear. The `expect_*` helpers hold what came back to its contract, each with a sentence.

What a learner's code may not change: torch's settings that hold for the whole program
(`TORCH_SETTINGS`: the default dtype and device, grad mode, anomaly detection, deterministic
algorithms, the number of threads) and the data files the lesson ships. Reseeding torch's global
random generator (`torch.manual_seed`) is allowed: it changes no setting, and every check that
depends on randomness seeds what it needs itself. Work a file does while it is imported counts as
the file's: it is held to the same rules and reported as "importing exercises/...".
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import importlib.util
import inspect
import io
import math
import numbers
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import torch
from torch import optim
from torch.optim.optimizer import register_optimizer_step_post_hook

from exercises.catalog import BY_NUMBER
from grader import isolation, messages, shipped
from grader.plugin import CANNOT_IMPORT, NOT_WRITTEN
from grader.time_limit import TimeLimitExceeded

LOSS_RTOL = 1e-4  # a loss history matches the reference run to this relative tolerance...
LOSS_ATOL = 1e-6  # ...or this absolute one, for losses near zero
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The frames of a traceback that are the grader's, never shown as the learner's: this package and the graded tests.
GRADER_FILES = messages.GRADER_FILES | {os.path.realpath(messages.ROOT / "exercises" / "test_exercises.py")}
# The files the lesson ships (data/, exercises/solutions/), as the checks found them: put back if a learner's code
# changes them.
SHIPPED = shipped.Keeper()


def fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


Advice = dict[type[BaseException], str]


def describe_exception(what: str, error: BaseException, own_file: str | None, advice: str = "") -> str:
    """One message for an exception raised in a learner's code: what raised what, where, and `advice`."""
    return messages.describe_exception(what, error, own_file, GRADER_FILES, "run the check again", advice)


# --- what a learner's code may change for the whole program, and how it is put back ---------------


def _set_grad_mode(enabled: bool) -> None:
    torch.set_grad_enabled(enabled)


def _set_deterministic(mode: tuple[bool, bool]) -> None:
    torch.use_deterministic_algorithms(mode[0], warn_only=mode[1])


# name -> (read it, set it, the call that sets it to a value, what that does to everything after it)
TORCH_SETTINGS: dict[str, tuple[Callable[[], Any], Callable[[Any], None], Callable[[Any], str], str]] = {
    "default dtype": (
        torch.get_default_dtype,
        torch.set_default_dtype,
        lambda value: f"torch.set_default_dtype({value})",
        "every tensor and layer made afterwards, in the lesson's and the grader's code too, takes that dtype. "
        "Make your own tensors float32 (the default), or convert one with .double() where you need it",
    ),
    "grad mode": (
        torch.is_grad_enabled,
        _set_grad_mode,
        lambda value: f"torch.set_grad_enabled({value})",
        "no backward() works after it, anywhere. Put the lines that need no gradients under "
        "`with torch.no_grad():`, which ends with them",
    ),
    "default device": (
        torch.get_default_device,
        torch.set_default_device,
        lambda value: f"torch.set_default_device({str(value)!r})",
        "every tensor made afterwards goes there. Leave the default (CPU) alone and move your own tensors with .to()",
    ),
    "anomaly detection": (
        torch.is_anomaly_enabled,
        torch.set_anomaly_enabled,
        lambda value: f"torch.autograd.set_detect_anomaly({value})",
        "it slows every backward() afterwards. Use `with torch.autograd.detect_anomaly():` around the lines to debug",
    ),
    "deterministic algorithms": (
        lambda: (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()),
        _set_deterministic,
        lambda value: f"torch.use_deterministic_algorithms({value[0]})",
        "it changes which operations may run afterwards. Leave it as it was",
    ),
    "number of threads": (
        torch.get_num_threads,
        torch.set_num_threads,
        lambda value: f"torch.set_num_threads({value})",
        "it changes how fast everything afterwards runs. Leave it as it was",
    ),
}


_rc_params: dict[str, Any] = {}  # the last copy of matplotlib's rcParams: copying them costs 0.2 ms, comparing 5 µs


def global_state() -> dict[str, Any]:
    """Torch's settings that hold for the whole program, and matplotlib's rcParams if it is loaded."""
    global _rc_params
    state = {name: read() for name, (read, *_) in TORCH_SETTINGS.items()}
    if "matplotlib" in sys.modules:
        rc_params = sys.modules["matplotlib"].rcParams
        if not dict.__eq__(rc_params, _rc_params):
            _rc_params = dict.copy(rc_params)
        state["rcParams"] = _rc_params
    return state


def restore_global_state(before: dict[str, Any], what: str) -> list[str]:
    """Put back what changed since `before`; a sentence for each torch setting that `what` changed.

    matplotlib's rcParams (a style, a dpi) are put back without a word: they change only figures.
    """
    changed = []
    for name, (read, write, call, effect) in TORCH_SETTINGS.items():
        now = read()
        if now != before[name]:
            write(before[name])
            shown = now[0] if name == "deterministic algorithms" else now
            changed.append(
                f"{what} left torch's {name} at {shown} ({call(now)}) for the whole program: {effect}. "
                "The grader has put it back."
            )
    if "rcParams" in before:
        rc_params = sys.modules["matplotlib"].rcParams
        if not dict.__eq__(rc_params, before["rcParams"]):  # as matplotlib's rc_context puts them back
            dict.update(rc_params, {key: value for key, value in before["rcParams"].items() if key != "backend"})
    return changed


def restore_everything(before: dict[str, Any], what: str) -> list[str]:
    """restore_global_state and restore_shipped_data: what a learner's code may not leave changed, one sentence each."""
    said = restore_global_state(before, what) + SHIPPED.put_back(what)
    return said[:1] + [f"It also {sentence.removeprefix(what).lstrip()}" for sentence in said[1:]]


# --- the learner's inputs: copies in, a change to them reported ---------------------------------------


def private_copy(value: Any) -> Any:
    """A copy of an input for a learner's call: tensors, arrays, lists, tuples and dicts are copied, all else shared.

    Models and optimizers are passed as they are: a function may be asked to train a model in place.
    """
    if isinstance(value, torch.Tensor):
        twin = value.detach().clone()
        return twin.requires_grad_() if value.requires_grad and value.is_leaf else twin
    if isinstance(value, list | tuple):
        items = [private_copy(item) for item in value]
        return items if isinstance(value, list) else type(value)(items)
    if isinstance(value, dict):
        return {key: private_copy(item) for key, item in value.items()}
    if type(value).__module__ == "numpy" and hasattr(value, "copy"):
        return value.copy()
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether an input still holds what the grader gave: tensors element by element, containers item by item."""
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(torch.equal(a, b) or torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
        )
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[key], b[key]) for key in a)
    if type(a).__module__ == "numpy" and hasattr(a, "shape"):
        return type(b) is type(a) and a.shape == b.shape and bool((a == b).all())
    if a is b:  # shared, not copied: a model trained in place, a path
        return True
    try:
        return bool(a == b) or (a != a and b != b)  # numbers and strings by value; nan is nan
    except Exception:  # an object whose == is not a plain comparison
        return True


def _argument_names(code: Callable[..., Any], count: int) -> list[str]:
    """What to call each of `count` positional arguments: its parameter's name, or 'its input'."""
    try:
        parameters = list(inspect.signature(code).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    named = [f"`{parameter.name}`" for parameter in parameters if parameter.kind in kinds]
    return [named[k] if k < len(named) else "its input" for k in range(count)]


def changed_input(
    what: str,
    code: Callable[..., Any],
    given: tuple[tuple[Any, ...], dict[str, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> str | None:
    """A sentence naming the first input the learner's call changed in place, or None.

    `given` holds the copies the call received, `args` and `kwargs` the grader's untouched originals.
    """
    names = _argument_names(code, len(args))
    pairs = [*zip(names, args, given[0], strict=True), *((f"`{key}`", kwargs[key], given[1][key]) for key in kwargs)]
    for name, original, now in pairs:
        if same_value(original, now):
            continue
        if isinstance(original, torch.Tensor):
            return (
                f"{what} changed {name}, the tensor passed to it, in place: the caller's data must stay as it was. "
                "Make a new tensor instead, e.g. scaled = (x - x.mean()) / x.std(), where x -= x.mean(), "
                "x.sub_(...) or x[...] = ... change the caller's."
            )
        kind = type(original).__name__
        return (
            f"{what} changed {name}, the {kind} passed to it: the caller's data must stay as it was. Work on a "
            f"copy (copy.deepcopy, or {kind}(...) for a flat {kind}) instead of sorting, reversing, appending to or "
            "assigning into the one passed in."
        )
    return None


# --- the optimizers a learner's call builds -----------------------------------------------------------

# The settings that change the arithmetic of a step (the others choose an implementation).
STEP_SETTINGS = ("momentum", "dampening", "nesterov", "betas", "eps", "weight_decay", "amsgrad", "maximize")


@contextlib.contextmanager
def optimizers_stepped() -> Iterator[list[optim.Optimizer]]:
    """Collect every torch.optim optimizer that takes a step inside the block, whatever name it came under.

    torch's own hook for every optimizer's step (torch.optim.optimizer.register_optimizer_step_post_hook).
    """
    stepped: list[optim.Optimizer] = []

    def note_step(optimizer: optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not any(optimizer is seen for seen in stepped):
            stepped.append(optimizer)

    handle = register_optimizer_step_post_hook(note_step)
    try:
        yield stepped
    finally:
        handle.remove()


def drawn(fig: Any) -> list[tuple[int, int]]:
    """What a figure's axes hold: its lines and collections (scatter plots), counted per axes."""
    return [(len(ax.lines), len(ax.collections)) for ax in fig.axes]


def _target(fname: Any) -> str | None:
    if isinstance(fname, str | os.PathLike):
        return str(Path(fname).resolve())
    name = getattr(fname, "name", None)  # an open file
    return str(Path(name).resolve()) if isinstance(name, str) else None


@contextlib.contextmanager
def figures_saved() -> Iterator[list[tuple[Any, str | None, list[tuple[int, int]]]]]:
    """Every Figure.savefig inside the block (plt.savefig included): the figure, the file, what its axes held then."""
    saved: list[tuple[Any, str | None, list[tuple[int, int]]]] = []
    figure = sys.modules.get("matplotlib.figure")  # a check of a saved figure loads it before the call
    if figure is None:  # no figure can be drawn without it: nothing to watch
        yield saved
        return
    original = figure.Figure.savefig

    @functools.wraps(original)
    def recording(self: Any, fname: Any, *args: Any, **kwargs: Any) -> Any:
        saved.append((self, _target(fname), drawn(self)))
        return original(self, fname, *args, **kwargs)

    figure.Figure.savefig = recording
    try:
        yield saved
    finally:
        figure.Figure.savefig = original


def non_default_settings(optimizer: optim.Optimizer) -> list[str]:
    """The step settings an optimizer was built with that differ from its class's defaults, as `name=value`."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(type(optimizer).__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    chosen = []
    for name in STEP_SETTINGS:
        values = [_plain(group[name]) for group in optimizer.param_groups if name in group]
        value = next((value for value in values if value != _plain(defaults.get(name))), None)
        if name in defaults and value is not None:
            chosen.append(f"{name}={value!r} (the default is {defaults[name]!r})")
    return chosen


def _plain(value: Any) -> Any:
    """A setting as plain numbers: tensors as floats, a list of betas as a tuple, so equal settings compare equal."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, list | tuple):
        return tuple(_plain(item) for item in value)
    return value


# --- one exercise file, called the way a learner's code should be -------------------------------------


def forget_bytecode(file: str) -> None:
    """Remove the cached .pyc of a learner's file, so that importing it compiles what the file holds now.

    Python trusts a .pyc whose source has the same size and the same modification time in whole
    seconds: two saves within one second that change `1.70` into `170.` look alike to it, and the
    checks would run the earlier file.
    """
    with contextlib.suppress(OSError, ValueError, NotImplementedError):
        os.remove(importlib.util.cache_from_source(file))


class Answer:
    """One exercise file as the grader calls it: the learner's (`yours`) or the reference."""

    broken: ClassVar[dict[str, str]] = {}  # module name -> why it cannot be used, reported once
    timed_out: ClassVar[dict[tuple[str, str], str]] = {}  # (module, call) -> the check where it ran out of time

    def __init__(self, number: int, module: ModuleType, yours: bool) -> None:
        self.number, self.module, self.yours = number, module, yours
        exercise = BY_NUMBER[number]
        self.path = exercise.file if yours else exercise.solution_file
        self.optimizers: list[optim.Optimizer] = []  # the optimizers the last call built and stepped with
        self.saved_figures: list[tuple[Any, str | None, list[tuple[int, int]]]] = []  # the figures it saved

    @classmethod
    def load(cls, number: int, yours: bool, name: str | None = None) -> Answer:
        """Import exercise `number` (or the module `name`); a file that does not import fails once, then skips.

        A file that changes torch's global settings or a shipped data file while it imports, or ends
        the program (sys.exit), counts as one that does not import: the change is put back and named.
        """
        name = name or (BY_NUMBER[number].module if yours else BY_NUMBER[number].solution_module)
        path = f"{name.replace('.', '/')}.py"
        if name in cls.broken:
            pytest.skip(f"{path} {CANNOT_IMPORT}; its error is reported once, in the first failing check above")
        what = f"importing {path}"
        problem = None
        before = global_state()
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        file = spec.origin if spec is not None else None
        if yours and file:
            forget_bytecode(file)
        isolation.calling(what)
        try:
            in_the_list = name in (BY_NUMBER[number].module, BY_NUMBER[number].solution_module)
            unreadable = (
                unreadable_file(Path(file) if file else messages.ROOT / path, path) if file or in_the_list else None
            )
            if unreadable:
                raise _Unreadable(unreadable)
            module = importlib.import_module(name)  # the check's process limits it: see grade()
        except _Unreadable as error:
            problem = str(error)
        except SyntaxError as error:
            problem = syntax_message(path, error)
        except (Exception, SystemExit, KeyboardInterrupt) as error:  # a NameError at import time reads as a sentence
            problem = describe_exception(what, error, file)
        finally:
            changes = restore_everything(before, what)
        if changes:
            problem = " ".join([problem, "Also:", *changes] if problem else changes)
        if problem is not None:
            if not yours:
                raise AssertionError(problem)
            cls.broken[name] = problem
            sys.modules.pop(name, None)
            fail(f"{problem}\nNo check of exercise {number} can run until the file imports cleanly.")
        return cls(number, module, yours)

    def __call__(self, function: str, *args: Any, advice: Advice | None = None, **kwargs: Any) -> Any:
        """Call the learner's `function`; `advice` maps an exception type to a sentence added to its message."""
        implementation = getattr(self.module, function, None)
        if not callable(implementation):
            fail(f"{self.path} has no function {function}(); keep the names and arguments the file started with.")
        return self.run(f"{function}()", implementation, *args, advice=advice, **kwargs)

    def run(self, what: str, code: Callable[..., Any], *args: Any, advice: Advice | None = None, **kwargs: Any) -> Any:
        """Call the learner's code on copies of the inputs; a stub skips, anything else that goes wrong fails.

        Fails with one message for: an exception (sys.exit() included), an input changed in place,
        a change to torch's global settings or to a shipped data file (both put back first), and a
        call that already ran out of time in an earlier check. The optimizers the call built and
        stepped with are kept in `self.optimizers`, the figures it saved in `self.saved_figures`.
        """
        key = (getattr(self.module, "__name__", self.path), what)
        if key in self.timed_out:
            fail(f"{what} did not finish in time in an earlier check ({self.timed_out[key]}); not run again here.")
        given = (private_copy(args), private_copy(kwargs))
        problem, skip = None, False
        before = global_state()
        isolation.calling(what)
        try:
            with optimizers_stepped() as self.optimizers, figures_saved() as self.saved_figures:
                result = code(*given[0], **given[1])
        except NotImplementedError as error:
            if not self.yours:
                raise
            skip = str(error) or f"{what} is {NOT_WRITTEN} (it raises NotImplementedError)"  # skipped below, unchained
        except TimeLimitExceeded:
            self.timed_out[key] = _current_test()
            raise
        except (Exception, SystemExit, KeyboardInterrupt) as error:  # Ctrl-C never reaches a check's process
            if not self.yours:
                raise
            said = next((sentence for kind, sentence in (advice or {}).items() if isinstance(error, kind)), "")
            problem = describe_exception(what, error, getattr(self.module, "__file__", None), said)
        finally:
            changes = restore_everything(before, what)
        if changes:  # a changed setting first: it is the likely cause of an exception that followed it
            problem = " ".join(
                [*changes, f"Then it raised an exception, probably because of that: {problem}"] if problem else changes
            )
        elif problem is None and not skip:
            problem = changed_input(what, code, given, args, kwargs)
        if problem is not None:
            if not self.yours:
                raise AssertionError(problem)
            fail(problem)
        if skip:
            pytest.skip(
                f"exercise {self.number}: {skip}"
            )  # the stub's own "split_rows is not written yet (hint 4.1 ...)"
        return result


class _Unreadable(Exception):
    """An exercise file that is missing or cannot be read: its sentence, as unreadable_file words it."""


def unreadable_file(file: Path, shown: str) -> str | None:
    """A sentence for an exercise file that is missing or cannot be read, or None when it can be read."""
    try:
        file.read_bytes()
    except FileNotFoundError:
        return (
            f"{shown} is missing: the checks import this very file. Put it back (renamed or moved?), or restore "
            f"the starting file with: git checkout -- {shown}"
        )
    except OSError as error:
        return f"{shown} cannot be read ({error.strerror or error}): give yourself read access to it, then try again."
    return None


def _current_test() -> str:
    test = os.environ.get("PYTEST_CURRENT_TEST", "")  # "exercises/test_exercises.py::test_ex3_plot[yours] (call)"
    return test.rsplit(" ", 1)[0].split("::")[-1] or "an earlier check"


def syntax_message(path: str, error: SyntaxError) -> str:
    text = (error.text or "").rstrip("\n")
    indent = len(text) - len(text.lstrip())
    caret = f"\n    {text.strip()}\n    {' ' * max((error.offset or 1) - 1 - indent, 0)}^" if text else ""
    return f"{path}, line {error.lineno}: SyntaxError: {error.msg}.{caret}"


# --- validating what came back ----------------------------------------------------------------


def kind(value: object) -> str:
    """What a function returned, in words, ending its sentence; None usually means a missing return statement."""
    if value is None:
        return "None. Does the function end with a return statement?"
    name = type(value).__name__
    return f"{messages.article(name)} {name}."


def expect_tensor(value: object, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        hint = ""
        if type(value).__module__ == "numpy":
            hint = " Make tensors with torch (torch.randn with a torch.Generator), or convert: torch.from_numpy(a)."
        fail(f"{what} should be a torch.Tensor of shape {shape}, but it is a {type(value).__name__}.{hint}")
    if tuple(value.shape) != shape:
        hint = " Use .view(-1, 1) to make a column." if value.numel() == math.prod(shape) else ""
        fail(f"{what} should have shape {shape}, but it has shape {tuple(value.shape)}.{hint}")
    if not value.is_floating_point():
        fail(f"{what} should hold floats (float32), but its dtype is {value.dtype}.")
    if not torch.isfinite(value).all():
        fail(f"{what} contains nan or inf; the computation that made it diverged or divided by zero.")
    return value


def expect_losses(value: object, epochs: int, what: str) -> list[float]:
    """A loss history by the rule every run of an exercise uses (messages.losses_problem), as floats."""
    problem = messages.losses_problem(value, epochs, what)
    if problem:
        fail(problem)
    return [float(loss) for loss in value]


def expect_figure(value: object, what: str) -> Any:
    from matplotlib.figure import Figure

    if not isinstance(value, Figure):
        fail(f"{what} should return a matplotlib Figure (e.g. fig from plt.subplots()), but it returned {kind(value)}")
    return value


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL)


def same_losses(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(map(close, got, expected))


def expect_float(value: object, what: str) -> float:
    """A plain, finite Python number (a loss the contract returns as a float), or a sentence saying what it is."""
    if isinstance(value, torch.Tensor):
        graph = " This one still requires grad: it was computed with gradients recorded." if value.requires_grad else ""
        fail(f"{what} is a tensor, not a float; return loss.item(), a plain Python float.{graph}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        fail(f"{what} should be a float, but it is {kind(value)}")
    if not math.isfinite(value):
        fail(f"{what} is {value}; the mean squared error of a finite model is finite.")
    return float(value)


# --- one graded check, run in a child process -------------------------------------------------------


_warmed: list[str] = []  # what warm_up has done in this process: "torch", "figures"


def warm_up(figures: bool = True) -> None:
    """Pay once, in this process, what torch (and matplotlib, for `figures`) cost the first time: imports, the first
    step, the first PNG.

    Every check's child then starts with all of it done; and torch wraps some of its own functions on
    first use (an optimizer class's step, torch.manual_seed), which must have happened before a child
    takes note of what torch holds (`library_snapshot`).
    """
    if "torch" not in _warmed:
        _warm_torch()
        _warmed.append("torch")
    if figures and "figures" not in _warmed:
        _warm_figures()
        _warmed.append("figures")
    gc.freeze()  # what the libraries made is never collected: a child's garbage collector walks only what it makes


def _warm_figures() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure

    figure = matplotlib.figure.Figure()
    axes = figure.add_subplot()
    axes.plot([1, 2], [1, 2], label="a")
    axes.set_yscale("log")
    axes.legend()
    figure.savefig(io.BytesIO(), format="png")


def _warm_torch() -> None:
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    import lesson  # the exercises use its pieces

    # What the exercises' code does, once, in miniature: each library loads what it loads on first use here.
    inputs, targets = torch.linspace(0, 1, 8).view(-1, 2), torch.ones(4, 1)
    model, loss_function = nn.Linear(2, 1), nn.MSELoss()
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=2, shuffle=True, generator=torch.Generator())
    for kind in (optim.SGD, optim.Adam):
        optimizer = kind(model.parameters(), lr=0.1)
        for batch, batch_targets in loader:
            optimizer.zero_grad()
            loss_function(model(batch), batch_targets).backward()
            optimizer.step()
    lesson.LinearRegression()(inputs[:, :1])
    with torch.inference_mode():
        model(inputs)
    saved = io.BytesIO()
    torch.save(model.state_dict(), saved)
    saved.seek(0)
    torch.load(saved, weights_only=True)
    for value in vars(optim).values():  # torch wraps each optimizer class's step when it is first built
        if isinstance(value, type) and issubclass(value, optim.Optimizer) and value is not optim.Optimizer:
            with contextlib.suppress(Exception):
                value([torch.zeros(1, requires_grad=True)])


def library_namespaces() -> dict[str, Any]:
    """The parts of torch a learner's code could replace for everyone: modules, and the classes the exercises use."""
    import torch.nn.functional
    import torch.utils.data
    from torch import nn

    spaces: dict[str, Any] = {
        "torch": torch,
        "torch.nn": nn,
        "torch.nn.functional": torch.nn.functional,
        "torch.optim": optim,
        "torch.utils.data": torch.utils.data,
        "torch.Tensor": torch.Tensor,
    }
    for module_name, module, base in (("torch.optim", optim, optim.Optimizer), ("torch.nn", nn, nn.Module)):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, base):
                spaces[f"{module_name}.{name}"] = value
    return spaces


def library_snapshot() -> dict[tuple[str, str], tuple[Any, Any]]:
    """What each of torch's names holds now: (space, name) -> (the module or class holding it, its value)."""
    return {
        (space, name): (holder, value)
        for space, holder in library_namespaces().items()
        for name, value in vars(holder).items()
    }


def replaced_in_libraries(before: dict[tuple[str, str], tuple[Any, Any]]) -> list[str]:
    """The names of torch that no longer hold what they held in `before` (replaced or deleted): `torch.optim.Adam`."""
    missing = object()
    return [
        f"{space}.{name}"
        for (space, name), (holder, value) in before.items()
        if vars(holder).get(name, missing) is not value
    ]


_library_as_found: list[dict[tuple[str, str], tuple[Any, Any]]] = []  # in a child: torch as its first check found it
_workers: dict[tuple[int, bool], isolation.Child] = {}  # (exercise, yours) -> the child that runs those checks


def _worker(number: int, yours: bool) -> isolation.Child:
    """The child that runs exercise `number`'s checks on one answer: one per answer and exercise, kept between checks.

    Its checks share what it imported (the answer, the grader's references); a check that stops or
    ends it costs only itself, and the next check starts a new one.
    """
    for key in [key for key in _workers if key[0] != number]:  # one exercise at a time
        _workers.pop(key).end()
    child = _workers.get((number, yours))
    if child is None or not child.alive:
        child = _workers[(number, yours)] = isolation.Child()
    return child


def end_workers() -> None:
    """End every child that runs checks, and all they started; put back what they changed since their last check."""
    for child in _workers.values():
        child.end()
    _workers.clear()
    _ahead.clear()
    _ahead_done.clear()
    SHIPPED.put_back("")


@dataclass
class Check:
    """One graded check, as a child process runs it: exercise `number`'s check `name`, on the learner's file or not."""

    number: int
    name: str
    yours: bool
    folder: str  # the check's own empty folder
    broken: dict[str, str]  # Answer.broken and Answer.timed_out as the parent knows them
    timed_out: dict[tuple[str, str], str]

    def __call__(self) -> isolation.Outcome:
        from grader.plugin import checks_of

        Answer.broken.update(self.broken)
        Answer.timed_out.update(self.timed_out)
        if not _library_as_found:  # this child's first check: torch before any learner's code ran here
            _library_as_found.append(library_snapshot())
        before = _library_as_found[0]
        outcome = isolation.Outcome("passed")
        try:
            answer = Answer.load(self.number, yours=self.yours)
            checks_of(BY_NUMBER[self.number]).GRADED[self.name](answer, Path(self.folder))
        except pytest.skip.Exception as skipped:
            outcome = isolation.Outcome("skipped", str(skipped.msg))
        except pytest.fail.Exception as failed:
            outcome = isolation.Outcome("failed", str(failed.msg))
        except AssertionError as error:  # the reference answer, held to a contract
            outcome = isolation.Outcome("failed", str(error) or "".join(traceback.format_exception(error)))
        replaced = replaced_in_libraries(before)
        if replaced:
            path = BY_NUMBER[self.number].file if self.yours else BY_NUMBER[self.number].solution_file
            sentence = (
                f"{path} replaced {', '.join(replaced[:3])} for the whole program (an assignment such as "
                f"{replaced[0].removeprefix('torch.')} = ..., at the top of the file or in a function): every "
                "later caller, the grader's reference run included, would get yours. Give your own function or "
                "class a name of its own and leave torch as it is."
            )
            if outcome.kind == "failed":
                sentence += f" Then: {outcome.message}"
            outcome = isolation.Outcome("failed", sentence)
        outcome.state["broken"] = dict(Answer.broken)
        return outcome


_ahead: dict[tuple[int, str], isolation.Outcome] = {}  # reference checks already run: (exercise, check) -> outcome
_ahead_done: list[bool] = []


def _references_first(folder: Path, limits: isolation.Limits) -> None:
    """Run this run's reference checks now, before any learner's code runs, two at a time.

    They are the costly half of the checks (the reference's own training runs); side by side they
    take half the time on two cores, and no learner's code is running that could touch data/ under them.
    """
    from grader.plugin import REFERENCE_CHECKS, checks_of

    if not REFERENCE_CHECKS:
        return
    numbers = {number for number, _ in REFERENCE_CHECKS}
    warm_up(figures=any(getattr(checks_of(BY_NUMBER[number]), "DRAWS_FIGURES", False) for number in numbers))
    count = min(2, os.cpu_count() or 1)
    shares = [REFERENCE_CHECKS[lane::count] for lane in range(count)]  # each lane its share, in the run's order
    # One child per lane for every exercise: the reference answers are the grader's own code, which
    # leaves nothing behind for another exercise's check (a new child follows one that was stopped).
    children: list[isolation.Child | None] = [None for _ in shares]

    def work(lane: int) -> None:
        for number, name in shares[lane]:
            child = children[lane]
            if child is None or not child.alive:
                child = children[lane] = isolation.Child()
            scratch = tempfile.mkdtemp(prefix=f"{name}-", dir=folder.parent)
            _ahead[(number, name)] = child.run(Check(number, name, False, scratch, {}, {}), limits)

    lanes = [threading.Thread(target=work, args=(lane,), daemon=True) for lane in range(count)]
    try:
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
    finally:
        for child in children:
            if child is not None:
                child.end()


def grade(number: int, name: str, yours: bool, folder: Path, cpu_limit: float | None = None) -> None:
    """Run one graded check in a child process and give its verdict here: return, pytest.skip or pytest.fail.

    The learner's checks run one at a time, never beside another check: a learner's code that
    deletes a shipped file must not take it from under another check. Between its checks the
    learner's child is frozen, with whatever threads or processes it left running. The reference's
    checks have all run before the first of them (`_references_first`).
    """
    exercise = BY_NUMBER[number]
    module = exercise.module if yours else exercise.solution_module
    from grader.plugin import checks_of

    limits = isolation.Limits(cpu_limit or isolation.CPU_LIMIT)
    if not _ahead_done:
        _ahead_done.append(True)
        _references_first(folder, limits)
    outcome = None if yours else _ahead.pop((number, name), None)
    if outcome is None:
        warm_up(figures=getattr(checks_of(exercise), "DRAWS_FIGURES", False))
        child = _worker(number, yours)
        child.send(Check(number, name, yours, str(folder), dict(Answer.broken), dict(Answer.timed_out)))
        outcome = child.wait(limits)
        if yours:
            child.pause()
    Answer.broken.update(outcome.state.get("broken", {}))
    message = outcome.message
    if outcome.kind in ("stopped", "ended"):
        importing = (outcome.calling or "").startswith("importing ")
        then = "Fix it, then run the check again."
        if importing:  # every check would import it again: told once, the other checks skip
            then = (
                "That happens at the top level of the file, outside any function (a loop, or a demo line that "
                f'belongs under if __name__ == "__main__":). {then}'
            )
        message = isolation.explain(outcome, then)
        if importing:
            Answer.broken[module] = message
        elif outcome.kind == "stopped" and outcome.calling:
            Answer.timed_out[(module, outcome.calling)] = name
    said = SHIPPED.put_back("Your code" if yours else exercise.solution_file)  # the child and all it started are gone
    if said:
        message = " ".join([*said, message] if outcome.kind != "passed" and message else said)
    if outcome.kind == "passed" and not said:
        return
    if outcome.kind == "skipped" and not said:
        pytest.skip(message)
    fail(message)
