"""The grader's checks: each takes an exercise module and either returns or fails with a sentence.

Every check compares with a reference computed here, independently of the reference solutions:
the least-squares line for exercise 1, plain torch.optim loops for exercises 2 and 3. Each
failure says what was expected, what came, the tolerance and the likely cause, told apart by
what can be measured. An exception in a learner's code becomes one message that names the
function and the learner's own line; the grader's own frames never appear.

Every call into a learner's code goes through `Answer.run`, which keeps the rest of the run safe
from it: the learner gets copies of the inputs (a change to them is reported, and the grader's
references use the untouched originals), torch's global settings and the shipped data files are
put back afterwards (a change is reported), `sys.exit()` is caught, and a function that ran out
of time once is not waited for again.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import importlib.util
import inspect
import io
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import torch
from time_limit import TimeLimitExceeded, time_limit
from torch import nn, optim

import lesson
from lesson_support import learner_errors

FILES = {number: Path(file).stem for number, (_, file, _) in enumerate(lesson.EXERCISES, start=1)}
PREDICTION_TOL_KG = 0.25  # the fitted line may differ from least squares by this much anywhere in the data
LOSS_RTOL = 1e-4  # a loss history matches the reference run to this relative tolerance...
LOSS_ATOL = 1e-6  # ...or this absolute one, for losses near zero
PARAM_ATOL = 1e-4  # final weights after training in place
ADULT_MEAN_CM = (150.0, 190.0)  # a plausible adult population: its mean height...
ADULT_SPREAD_CM = (3.0, 15.0)  # ...and its standard deviation
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMPORT_LIMIT = 30.0  # seconds an exercise file may take to import (a demo run without its __main__ guard)
GRADER_FILES = {Path(__file__).name, "test_exercises.py", "conftest.py", "time_limit.py"}
# The data files the lesson ships, as they were when the grader started: put back if a learner's code writes them.
SHIPPED_DATA = {path: path.read_bytes() for path in sorted(lesson.DATA_DIR.glob("*.csv"))}


def fail(message: str) -> None:
    pytest.fail(message, pytrace=False)


Advice = dict[type[BaseException], str]


def describe_exception(what: str, error: BaseException, own_file: str | None, advice: str = "") -> str:
    """One message for an exception raised in a learner's code: what raised what, where, and `advice`."""
    return learner_errors.describe_exception(what, error, own_file, GRADER_FILES, "run the check again", advice)


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


def restore_shipped_data(what: str) -> list[str]:
    """Put back a shipped data file that no longer holds what it held when the grader started; a sentence each."""
    changed = []
    for path, content in SHIPPED_DATA.items():
        try:
            unchanged = path.read_bytes() == content
        except OSError:
            unchanged = False
        if not unchanged:
            path.write_bytes(content)
            shown = learner_errors.shown_path(str(path))
            changed.append(
                f"{what} wrote {shown}, a data file the lesson ships; the grader has put it back. Write your own "
                f"files elsewhere (if {shown} changed outside the checks, restore it with: git checkout {shown})."
            )
    return changed


def restore_everything(before: dict[str, Any], what: str) -> list[str]:
    """restore_global_state and restore_shipped_data: what a learner's code may not leave changed, one sentence each."""
    said = restore_global_state(before, what) + restore_shipped_data(what)
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
    """Collect every torch.optim optimizer built inside the block that takes a step, whatever name it came under."""
    stepped: list[optim.Optimizer] = []
    original = optim.Optimizer.__init__

    def note_step(optimizer: optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not any(optimizer is seen for seen in stepped):
            stepped.append(optimizer)

    @functools.wraps(original)
    def recording(self: optim.Optimizer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register_step_post_hook(note_step)

    optim.Optimizer.__init__ = recording
    try:
        yield stepped
    finally:
        optim.Optimizer.__init__ = original


def _drawn(fig: Any) -> list[tuple[int, int]]:
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
        saved.append((self, _target(fname), _drawn(self)))
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


class Answer:
    """One exercise file as the grader calls it: the learner's (`yours`) or the reference."""

    broken: ClassVar[dict[str, str]] = {}  # module name -> why it cannot be used, reported once
    timed_out: ClassVar[dict[tuple[str, Any], str]] = {}  # (call, function) -> the check where it ran out of time

    def __init__(self, number: int, module: ModuleType, yours: bool) -> None:
        self.number, self.module, self.yours = number, module, yours
        self.path = f"exercises/{'' if yours else 'solutions/'}{FILES[number]}.py"
        self.optimizers: list[optim.Optimizer] = []  # the optimizers the last call built and stepped with
        self.saved_figures: list[tuple[Any, str | None, list[tuple[int, int]]]] = []  # the figures it saved

    @classmethod
    def load(cls, number: int, yours: bool, name: str | None = None) -> Answer:
        """Import exercise `number` (or the module `name`); a file that does not import fails once, then skips.

        A file that changes torch's global settings or a shipped data file while it imports, or ends
        the program (sys.exit), counts as one that does not import: the change is put back and named.
        """
        name = name or f"exercises.{'' if yours else 'solutions.'}{FILES[number]}"
        path = f"{name.replace('.', '/')}.py"
        if name in cls.broken:
            pytest.skip(f"{path} cannot be imported; its error is reported once, in the first failing check above")
        what = f"importing {path}"
        problem = None
        before = global_state()
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        file = spec.origin if spec is not None else None
        try:
            with time_limit(IMPORT_LIMIT):
                module = importlib.import_module(name)
        except SyntaxError as error:
            problem = _syntax_message(path, error)
        except TimeLimitExceeded:
            problem = (
                f"{what} did not finish in {IMPORT_LIMIT:g} s: something at the top level of the file runs for "
                "ever, outside any function (a loop, or the demo line that belongs under "
                'if __name__ == "__main__":).'
            )
        except (Exception, SystemExit) as error:  # a learner's NameError at import time reads as a sentence
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
        key = (what, code)  # the same function object in every check of one learner's file
        if key in self.timed_out:
            fail(f"{what} did not finish in time in an earlier check ({self.timed_out[key]}); not run again here.")
        given = (private_copy(args), private_copy(kwargs))
        problem, skip = None, False
        before = global_state()
        try:
            with optimizers_stepped() as self.optimizers, figures_saved() as self.saved_figures:
                result = code(*given[0], **given[1])
        except NotImplementedError:
            if not self.yours:
                raise
            skip = True  # skipped below, outside the except block, so no exception is chained to the skip
        except TimeLimitExceeded:
            self.timed_out[key] = _current_test()
            raise
        except (Exception, SystemExit) as error:
            if not self.yours:
                raise
            said = next((sentence for kind, sentence in (advice or {}).items() if isinstance(error, kind)), "")
            problem = describe_exception(what, error, getattr(self.module, "__file__", None), said)
        finally:
            changes = restore_everything(before, what)
        if changes:
            problem = " ".join([problem, "Also:", *changes] if problem else changes)
        elif problem is None and not skip:
            problem = changed_input(what, code, given, args, kwargs)
        if problem is not None:
            if not self.yours:
                raise AssertionError(problem)
            fail(problem)
        if skip:
            pytest.skip(f"exercise {self.number} not attempted yet: open {self.path}")
        return result


def _current_test() -> str:
    test = os.environ.get("PYTEST_CURRENT_TEST", "")  # "tests/test_exercises.py::test_ex3_plot[yours] (call)"
    return test.rsplit(" ", 1)[0].split("::")[-1] or "an earlier check"


def _syntax_message(path: str, error: SyntaxError) -> str:
    text = (error.text or "").rstrip("\n")
    indent = len(text) - len(text.lstrip())
    caret = f"\n    {text.strip()}\n    {' ' * max((error.offset or 1) - 1 - indent, 0)}^" if text else ""
    return f"{path}, line {error.lineno}: SyntaxError: {error.msg}.{caret}"


# --- validating what came back ----------------------------------------------------------------


def _kind(value: object) -> str:
    """What a function returned, in words, ending its sentence; None usually means a missing return statement."""
    if value is None:
        return "None. Does the function end with a return statement?"
    return f"a {type(value).__name__}."


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
    """A loss history by the rule every run of an exercise uses (learner_errors.losses_problem), as floats."""
    problem = learner_errors.losses_problem(value, epochs, what)
    if problem:
        fail(problem)
    return [float(loss) for loss in value]


def expect_figure(value: object, what: str) -> Any:
    from matplotlib.figure import Figure

    if not isinstance(value, Figure):
        fail(f"{what} should return a matplotlib Figure (e.g. fig from plt.subplots()), but it returned {_kind(value)}")
    return value


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL)


def _same(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(map(_close, got, expected))


NO_STEP_HINT = (
    "Every loss is the same, so no step changed the model. Either the optimizer holds another model's parameters "
    "(build it from the trained model's .parameters(), after that model exists), or optimizer.zero_grad() between "
    "loss.backward() and optimizer.step() wipes the gradients before the step uses them, or backward() or step() "
    "is missing. Each epoch runs zero_grad, forward, loss, backward, step, in that order."
)


def settings_problem(
    answer: Answer, asked: type[optim.Optimizer], what: str, allowed: tuple[type[optim.Optimizer], ...] = ()
) -> str:
    """Why the optimizers the last call stepped with are not what was asked, in a sentence; "" if they are.

    Names a class outside `allowed` (by default `asked` alone), or a setting beyond lr on one of class `asked`.
    """
    allowed = allowed or (asked,)
    for optimizer in answer.optimizers:
        if type(optimizer) not in allowed:
            names = " and ".join(f"optim.{kind.__name__}" for kind in allowed)
            return (
                f"{what}: your code trained with optim.{type(optimizer).__name__}, which the exercise does not "
                f"ask for; use {names}, with only the step size set."
            )
        settings = non_default_settings(optimizer) if type(optimizer) is asked else []
        if settings:
            name = asked.__name__
            return (
                f"{what} comes from optim.{name} built with {', '.join(settings)}. The exercise asks for plain "
                f"{name}, with only the step size set: optim.{name}(model.parameters(), lr=...)."
            )
    return ""


def explain_history(
    got: list[float],
    expected: list[float],
    what: str,
    start_hint: str,
    alternatives: Callable[[], Iterator[tuple[str, Callable[[], list[float]]]]],
    points: int,
    settings_hint: str = "",
) -> None:
    """Fail with the first epoch where a loss history leaves the reference, and the cause that epoch points to.

    A wrong start or loss shows at epoch 0, a wrong step size or optimizer at epoch 1 (the first
    step), a missing zero_grad at epoch 2 (the first step that would add to an old gradient).
    `alternatives` lists the likely mistakes with a replay of each; the first one the history
    matches is named (each is replayed only when the ones before it did not match). `settings_hint`
    names a setting the learner's optimizer was built with; it explains a history that leaves the
    reference after the first epoch when no replay matched.
    """
    k = next((k for k, (a, b) in enumerate(zip(got, expected, strict=True)) if not _close(a, b)), None)
    if k is None:
        return
    named = next((cause for cause, replay in alternatives() if _same(got, replay())), None)
    if named:
        hint = named
    elif k > 0 and all(_close(loss, got[0]) for loss in got):
        hint = NO_STEP_HINT
    elif len(got) > 2 and all(_close(a, b) for a, b in zip(got[:-1], expected[1:], strict=True)):
        hint = "Your losses are one epoch late: record each loss in its forward pass, before optimizer.step()."
    elif k == 0 and _close(got[0], points * expected[0]):
        hint = f"Your first loss is {points} times the expected one: you summed the squared errors; take their mean."
    elif k == 0:
        hint = start_hint
    elif settings_hint:
        hint = settings_hint
    elif k == 1:
        hint = (
            "The first loss matches, so the start and the loss are right; the first step is not. Check the "
            "optimizer class and its step size lr."
        )
    else:
        hint = (
            f"The losses agree up to epoch {k - 1}, so the start and the first step are right, but something "
            "carries over from one step to the next. Check that optimizer.zero_grad() runs every epoch and that "
            "the optimizer has no extra settings such as momentum."
        )
    fail(
        f"{what}: at epoch {k} the loss should be {expected[k]:.6g}, but yours is {got[k]:.6g} "
        f"(relative tolerance {LOSS_RTOL:g}). {hint}"
    )


def reference_history(
    x: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    optimizer_class: type[optim.Optimizer],
    lr: float,
    epochs: int,
    *,
    zero_grad: bool = True,
    reduction: str = "mean",
    **optimizer_options: float,
) -> list[float]:
    """The plain loop every history is checked against: zero_grad, forward, loss, backward, step.

    Trains `model` in place and returns its losses. A run already made from the same data, start
    and settings is not made again: its losses and final parameters are reused.
    """
    tensors = (x, y, *model.parameters())
    key = (
        *((tensor.dtype, tensor.shape, tensor.detach().numpy().tobytes()) for tensor in tensors),
        optimizer_class,
        lr,
        epochs,
        zero_grad,
        reduction,
        tuple(sorted(optimizer_options.items())),
    )
    if key not in _reference_runs:
        optimizer = optimizer_class(model.parameters(), lr=lr, **optimizer_options)
        losses = []
        for _ in range(epochs):
            if zero_grad:
                optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y, reduction=reduction)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        _reference_runs[key] = (losses, [parameter.detach().clone() for parameter in model.parameters()])
    losses, trained = _reference_runs[key]
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), trained, strict=True):
            parameter.copy_(value)
    return list(losses)


_reference_runs: dict[tuple[Any, ...], tuple[list[float], list[torch.Tensor]]] = {}


def seeded_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return lesson.LinearRegression()


def line_data(
    points: int, slope: float, intercept: float, noise: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = 4 * torch.rand(points, 1, generator=generator)
    return x, slope * x + intercept + noise * torch.randn(points, 1, generator=generator)


OPTIMIZERS = {"SGD": optim.SGD, "Adam": optim.Adam}
MOMENTUM = 0.9  # the momentum learners reach for


def likely_mistakes(
    x: torch.Tensor, y: torch.Tensor, seed: int, asked: str, lr: float, other_lr: float | None, epochs: int
) -> Callable[[], Iterator[tuple[str, Callable[[], list[float]]]]]:
    """The mistakes a learner makes with `asked` (SGD or Adam) at step size lr: each diagnosis with its replay."""

    def replay(name: str, rate: float, **options: Any) -> Callable[[], list[float]]:
        return lambda: reference_history(x, y, seeded_model(seed), OPTIMIZERS[name], rate, epochs, **options)

    def mistakes() -> Iterator[tuple[str, Callable[[], list[float]]]]:
        other = next(name for name in OPTIMIZERS if name != asked)
        yield f"It matches {other} at lr {lr:g}, not {asked}: build optim.{asked} for this run.", replay(other, lr)
        yield (
            f"It matches {asked} without optimizer.zero_grad(): gradients add up from epoch to epoch; call "
            "optimizer.zero_grad() at the start of every epoch.",
            replay(asked, lr, zero_grad=False),
        )
        yield (
            f"It matches {asked} on a summed loss instead of the mean: use nn.MSELoss() (or .mean()), not .sum() "
            "or reduction='sum' (the old size_average=False sums too).",
            replay(asked, lr, reduction="sum"),
        )
        if asked == "SGD":
            yield (
                f"It matches SGD with momentum {MOMENTUM:g}: momentum carries part of each step into the next. "
                f"Use plain optim.SGD(model.parameters(), lr={lr:g}), with no momentum.",
                replay(asked, lr, momentum=MOMENTUM),
            )
        if other_lr is not None and other_lr != lr:
            yield (
                f"It matches {other} at lr {other_lr:g}: the two runs look swapped; '{asked.lower()}' should hold "
                f"optim.{asked} at lr {lr:g}.",
                replay(other, other_lr),
            )
            yield (
                f"It matches {asked} at lr {other_lr:g}, the step size meant for {other}; use lr {lr:g}.",
                replay(asked, other_lr),
            )

    return mistakes


# --- exercise 1: height and weight ------------------------------------------------------------


CSV_DECIMALS_ATOL = 0.05  # a shipped CSV keeps one decimal


def check_shipped_csv(path: Path, columns: tuple[str, str], expected: tuple[torch.Tensor, torch.Tensor]) -> None:
    """A data file the lesson ships holds what its generator makes; if not, say how to restore it."""
    shown = learner_errors.shown_path(str(path))
    restore = f"It is a file the lesson ships; restore it with: git checkout {shown}"
    try:
        found = lesson.load_csv(path, *columns)
    except lesson.DatasetError as error:
        fail(f"{error} {restore}")
    for column, got, want in zip(columns, found, expected, strict=True):
        if got.shape != want.shape or not torch.allclose(got, want, atol=CSV_DECIMALS_ATOL, rtol=0):
            fail(
                f"{shown} has changed: its column {column} is not what the generator makes (shape {tuple(want.shape)}, "
                f"within {CSV_DECIMALS_ATOL} for one decimal). Something wrote over it. {restore}"
            )


def adults(mean_cm: float, spread_cm: float, slope: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The grader's own adults: heights N(mean, spread²) and weight on a line through 70 kg at 170 cm."""
    generator = torch.Generator().manual_seed(seed)
    heights = mean_cm + spread_cm * torch.randn(n, 1, generator=generator)
    weights = 70 + slope * (heights - 170) + 7 * torch.randn(n, 1, generator=generator)
    return heights, weights


def _pair(answer: Answer, n: int, seed: int | None, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """make_height_weight_data(n, seed=seed), or with its defaults where seed is None, checked as two (n, 1) tensors."""
    result = answer("make_height_weight_data") if seed is None else answer("make_height_weight_data", n, seed=seed)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"make_height_weight_data should return (heights, weights), a pair of tensors; it returned {result!r}.")
    heights = expect_tensor(result[0], (n, 1), f"heights from {what}")
    return heights, expect_tensor(result[1], (n, 1), f"weights from {what}")


def check_data_contract(answer: Answer) -> None:
    heights, _ = _pair(answer, 50, 3, "make_height_weight_data(50)")
    if heights.dtype != torch.float32:
        fail(
            f"heights should be float32, the dtype nn.Linear computes in, but they are {heights.dtype}; "
            "make them with torch's default dtype, or convert with .float()."
        )
    _pair(answer, 200, None, "make_height_weight_data() with its defaults")


def check_data_seed(answer: Answer) -> None:
    first, again, other = (_pair(answer, 100, seed, f"make_height_weight_data(100, seed={seed})") for seed in (5, 5, 6))
    if not (torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])):
        fail(
            "make_height_weight_data(100, seed=5) gave different data on two calls; draw the noise from "
            "torch.Generator().manual_seed(seed) so the same seed gives the same data."
        )
    if torch.equal(first[0], other[0]):
        fail("seeds 5 and 6 gave the same heights; the seed should decide the random draws.")


def _height_units(mean: float, spread: float) -> str:
    if 1.2 <= mean <= 2.3:
        return " That looks like metres; use centimetres (1 m = 100 cm)."
    if 50 <= mean <= 80:
        return " That looks like inches; use centimetres (1 in = 2.54 cm)."
    if abs(mean) < 1 and 0.5 <= spread <= 2:
        return " That looks like standard-normal draws; scale them: mean + spread · torch.randn(...)."
    return ""


def check_data_realistic(answer: Answer) -> None:
    heights, weights = _pair(answer, 2000, 1, "make_height_weight_data(2000)")
    mean, spread = heights.mean().item(), heights.std().item()
    (low_mean, high_mean), (low_spread, high_spread) = ADULT_MEAN_CM, ADULT_SPREAD_CM
    if not (low_mean <= mean <= high_mean and low_spread <= spread <= high_spread):
        fail(
            f"the heights have mean {mean:.3g} and spread {spread:.3g}, in your units; adults' heights in cm have a "
            f"mean of {low_mean:g} to {high_mean:g} and a spread of {low_spread:g} to {high_spread:g}."
            + _height_units(mean, spread)
        )
    slope, bias = lesson.least_squares(heights, weights)
    weight_at_mean = slope * mean + bias
    if not 0.2 <= slope <= 2.0 or not 45 <= weight_at_mean <= 110:
        pounds = " That looks like pounds; use kilograms (1 lb = 0.4536 kg)." if 100 < weight_at_mean < 250 else ""
        fail(
            f"weight rises {slope:.3g} per cm and averages {weight_at_mean:.4g}, in your units; adults gain roughly "
            f"0.2 to 2 kg per cm around 45 to 110 kg.{pounds}"
        )
    residuals = weights - (slope * heights + bias)
    if residuals.std().item() < 0.5:
        fail(f"the weights sit on the line (spread {residuals.std().item():.3f} kg); add Gaussian noise of a few kg.")


def _predict(answer: Answer, model: nn.Module, heights: torch.Tensor, what: str) -> torch.Tensor:
    dtypes = {parameter.dtype for parameter in model.parameters()} - {heights.dtype}
    advice = {}
    if dtypes:
        advice[RuntimeError] = (
            f"The returned model's parameters are {', '.join(map(str, dtypes))}, and the heights it is given are "
            f"{heights.dtype}, as the data's are: keep the model float32 (no .double()), or convert it back with "
            "model.float() before returning it."
        )
    with torch.no_grad():
        predicted = answer.run("the returned model", model, heights, advice=advice)
    if not isinstance(predicted, torch.Tensor):
        fail(f"{what} should be a torch.Tensor, but the model returned a {type(predicted).__name__}.")
    return predicted


def _fit_diagnosis(
    answer: Answer,
    model: nn.Module,
    heights: torch.Tensor,
    weights: torch.Tensor,
    grid: torch.Tensor,
    predicted: torch.Tensor,
) -> str:
    """Why a fit misses the least-squares line, from what can be measured about the returned model."""
    predicted = predicted.double().reshape(-1)  # the model's predictions at the grid heights
    g = grid.double().reshape(-1)
    slope, bias = lesson.least_squares(heights, weights)
    mean_h = heights.double().mean().item()
    mean_w, std_w = weights.double().mean().item(), weights.double().std().item()
    scaled = (heights - heights.mean()) / heights.std()
    slope_z, bias_z = lesson.least_squares(scaled, weights)  # the line on standardised heights

    def near(candidate: torch.Tensor, tolerance: float) -> bool:
        return bool((predicted - candidate).abs().max() <= tolerance)

    if near(slope_z * g + bias_z, 2 * PREDICTION_TOL_KG):
        return (
            "Your model predicts, for raw centimetres, what the least-squares line of standardised heights "
            "predicts: it was trained on (height - mean) / std and returned as is. Fold the scaling into the "
            "layer, or wrap it in your own nn.Module, so the returned model takes raw centimetres (hint 1.2)."
        )
    unscale = (
        f"Multiply by the weights' std ({std_w:.3g}) and add their mean ({mean_w:.4g}), in the layer or in your "
        "module, so the model returns kilograms"
    )
    if near((slope * g + bias - mean_w) / std_w, 0.05):
        return (
            "Your model's outputs are standardised weights, (kg - mean) / std: the weights were scaled for "
            f"training and never scaled back. {unscale}."
        )
    if near((slope_z * g + bias_z - mean_w) / std_w, 0.05):
        return (
            "Your model was trained on standardised heights and standardised weights and returned as is: it "
            f"expects (height - mean) / std and returns (kg - mean) / std. {unscale}, and fold the heights' "
            "scaling in too (hint 1.2)."
        )
    fitted_slope, fitted_bias = lesson.least_squares(g, predicted)
    level, expected_level = fitted_slope * mean_h + fitted_bias, slope * mean_h + bias
    if 50 <= fitted_slope / slope <= 200:
        return (
            f"Your line rises {fitted_slope:.4g} kg per cm, {fitted_slope / slope:.0f} times the least-squares "
            f"slope ({slope:.4g}): the model expects heights in metres. It must take centimetres: divide by 100 "
            "inside your own module, or fold the 1/100 into the layer's weight, before returning it."
        )
    swapped_slope, swapped_bias = lesson.least_squares(weights, heights)  # the line of heights against weights
    off_right = (predicted - (slope * g + bias)).abs().max().item()
    off_swapped = (predicted - (swapped_slope * g + swapped_bias)).abs().max().item()
    near_swapped = any(0.8 <= fitted_slope / reference <= 1.25 for reference in (swapped_slope, 1 / slope))
    if near_swapped and off_swapped < off_right / 4:  # the slope, and the level too: it predicts heights
        return (
            f"Your line's slope is {fitted_slope:.4g} where least squares has {slope:.4g}; it is near the slope of "
            f"heights against weights ({swapped_slope:.4g} cm per kg) and the reciprocal of the right one "
            f"({1 / slope:.4g}): heights and weights are swapped. The model takes heights in cm and predicts "
            "weights in kg: train it with the heights as inputs and the weights as targets."
        )
    half_range = (g.max() - g.min()).item() / 2
    if abs(fitted_slope - slope) * half_range <= PREDICTION_TOL_KG / 2:
        return (
            f"Your slope is right ({fitted_slope:.4g} kg/cm; least squares has {slope:.4g}), but the whole line sits "
            f"{level - expected_level:+.2f} kg off: the bias is wrong. When you fold the scaling back into the layer, "
            "compute the new bias from the weight that training gave, before you overwrite it: "
            "b - w·mean/std (hint 1.2)."
        )
    own = _predict(answer, model, heights, "model(heights)").double()
    if own.shape != weights.shape:
        return "Compare your model's predictions with the least-squares line yourself: lesson.least_squares(h, w)."
    loss, best = ((own - weights) ** 2).mean().item(), ((slope * heights + bias - weights) ** 2).mean().item()
    falling = (
        f"Your line's MSE is {loss:.4g} kg², the least-squares line's {best:.4g} kg²: training stopped short of the "
        "minimum."
    )
    if abs(level - expected_level) <= PREDICTION_TOL_KG:
        return (
            f"At the mean height ({mean_h:.1f} cm) your line is right, but its slope is {fitted_slope:.4g} kg/cm "
            f"where least squares has {slope:.4g}. {falling} On raw centimetres the slope and the bias are tied "
            f"together and steps must stay below {lesson.max_stable_lr(heights):.2g}, so this direction barely moves; "
            "standardise the heights, train, and fold the scaling back (hint 1.2)."
        )
    return (
        f"At the mean height ({mean_h:.1f} cm) your line is {level - expected_level:+.2f} kg off, and its slope is "
        f"{fitted_slope:.4g} kg/cm where least squares has {slope:.4g}. {falling} On standardised heights, SGD at "
        "lr 0.1 gets there in a few hundred epochs; too few epochs stop it early, and a step size too large for "
        "the last stretch (a large Adam lr, say) leaves the line hovering around the minimum. On raw centimetres "
        f"no stable step size (below {lesson.max_stable_lr(heights):.2g}) gets there in time (hint 1.2)."
    )


def check_fit(answer: Answer, heights: torch.Tensor, weights: torch.Tensor, source: str) -> None:
    raw_cm = "On raw centimetres only tiny steps are stable: standardise the heights first (hint 1.2)."
    model = answer("fit_height_weight", heights, weights, advice={lesson.DivergenceError: raw_cm})
    if not isinstance(model, nn.Module):
        fail(f"fit_height_weight should return the trained nn.Module, but it returned {_kind(model)}")
    grid = torch.linspace(heights.min().item(), heights.max().item(), 9).view(-1, 1)
    predicted = _predict(answer, model, grid, "model(heights) for 9 heights of shape (9, 1)")
    if predicted.is_floating_point() and not torch.isfinite(predicted).all():
        fail(
            f"On {source}, your model predicts nan or inf: training diverged. The likely cause is a step size too "
            f"large for raw centimetres, where only steps below {lesson.max_stable_lr(heights):.2g} are stable; "
            "standardise the heights first, then train (hint 1.2)."
        )
    predicted = expect_tensor(predicted, (9, 1), "model(heights) for 9 heights of shape (9, 1)")
    slope, bias = lesson.least_squares(heights, weights)
    expected = slope * grid.double() + bias
    error = (predicted.double() - expected).abs()
    worst = int(error.argmax())
    if error[worst].item() > PREDICTION_TOL_KG:
        fail(
            f"On {source}, at {grid[worst].item():.1f} cm your model predicts {predicted[worst].item():.2f} kg, but "
            f"the least-squares line of the same data gives {expected[worst].item():.2f} kg: off by "
            f"{error[worst].item():.2f} kg, more than the {PREDICTION_TOL_KG} kg allowed. "
            + _fit_diagnosis(answer, model, heights, weights, grid, predicted)
        )


# --- exercise 2: SGD against Adam -------------------------------------------------------------

START_HINT_EX2 = (
    "The first loss is already off, so a model did not start from torch.manual_seed(seed); LinearRegression(). "
    "Build both from that one start (copy.deepcopy, or reseed before each), and use the mean squared error."
)


def check_compare(answer: Answer, x: torch.Tensor, y: torch.Tensor, **settings: Any) -> None:
    defaults = {"epochs": 200, "lr_sgd": 0.01, "lr_adam": 0.1, "seed": 0}
    used = {**defaults, **settings}
    histories = answer("compare_optimizers", x, y, **settings)
    if not isinstance(histories, dict) or set(histories) != {"sgd", "adam"}:
        got = f"the keys {sorted(map(str, histories))}." if isinstance(histories, dict) else _kind(histories)
        fail(f"compare_optimizers should return a dict with the keys 'sgd' and 'adam'; it returned {got}")
    settings = {}
    for name, asked, other in (("sgd", "SGD", "adam"), ("adam", "Adam", "sgd")):
        got = expect_losses(histories[name], used["epochs"], f"histories['{name}']")
        lr, other_lr = used[f"lr_{name}"], used[f"lr_{other}"]
        expected = reference_history(x, y, seeded_model(used["seed"]), OPTIMIZERS[asked], lr, used["epochs"])
        mistakes = likely_mistakes(x, y, used["seed"], asked, lr, other_lr, used["epochs"])
        settings[name] = settings_problem(answer, OPTIMIZERS[asked], f"histories['{name}']", (optim.SGD, optim.Adam))
        what = f"histories['{name}'] with {used}"
        explain_history(got, expected, what, START_HINT_EX2, mistakes, len(x), settings[name])
    # A setting such as amsgrad=True may change the losses by less than the tolerance on these data: named anyway.
    if any(settings.values()):
        fail(next(sentence for sentence in settings.values() if sentence))


def _floats(values: Any) -> list[float] | None:
    try:
        return [float(value) for value in values]
    except (TypeError, ValueError):  # dates, categories: not a loss curve
        return None


def _series(ax: Any) -> list[tuple[Any, list[float], list[float]]]:
    """Every line and scatter plot on an axes: (artist, x values, y values)."""
    from matplotlib.collections import PathCollection

    found = [(line, _floats(line.get_xdata()), _floats(line.get_ydata())) for line in ax.get_lines()]
    for collection in ax.collections:
        if isinstance(collection, PathCollection):  # ax.scatter
            offsets = collection.get_offsets()
            found.append((collection, _floats(offsets[:, 0]), _floats(offsets[:, 1])))
    return [(artist, xs, ys) for artist, xs, ys in found if xs is not None and ys is not None]


def _plots(ys: list[float], losses: list[float]) -> bool:
    return len(ys) == len(losses) and all(map(_close, ys, losses))


def _legend_texts(fig: Any) -> list[str]:
    """The texts of every legend in a figure: its axes' (ax.legend()), its own and its subfigures' (fig.legend())."""
    legends, figures = [], [fig]
    while figures:
        figure = figures.pop()
        legends += figure.legends
        figures += figure.subfigs
    legends += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [text.get_text().lower() for legend in legends for text in legend.get_texts()]


def check_plot_comparison(answer: Answer, histories: dict[str, list[float]]) -> None:
    fig = expect_figure(answer("plot_optimizer_comparison", histories), "plot_optimizer_comparison")
    for ax in fig.axes:
        curves = {name for _, _, ys in _series(ax) for name, losses in histories.items() if _plots(ys, losses)}
        if curves == set(histories):
            break
    else:
        fail("no axes of the figure holds both loss curves; plot histories['sgd'] and histories['adam'] on one axes.")
    texts = _legend_texts(fig)
    if not any("sgd" in text for text in texts) or not any("adam" in text for text in texts):
        fail(
            f"the legend should name SGD and Adam; it reads {texts}. Give each curve a label=... and call ax.legend()."
        )
    if not ax.get_xlabel() or not ax.get_ylabel():
        fail("label both axes, e.g. ax.set_xlabel('epoch') and ax.set_ylabel('loss').")
    if ax.get_yscale() != "log":
        fail(f"the loss axis has a {ax.get_yscale()} scale; use ax.set_yscale('log') so both curves stay readable.")


# --- exercise 3: the loss curve ---------------------------------------------------------------

START_HINT_EX3 = "The first loss is already off: compute the mean squared error of model(x) against y, before any step."


def check_train_with_history(answer: Answer, x: torch.Tensor, y: torch.Tensor, seed: int, **settings: Any) -> None:
    used = {"epochs": 500, "lr": 0.01, **settings}
    model = seeded_model(seed)
    start = copy.deepcopy(model)
    twin = copy.deepcopy(model)
    returned = answer("train_with_history", model, x, y, **settings)
    got = expect_losses(returned, used["epochs"], "the value train_with_history returned")
    expected = reference_history(x, y, twin, optim.SGD, used["lr"], used["epochs"])
    untouched = all(torch.equal(a, b) for a, b in zip(model.parameters(), start.parameters(), strict=True))
    if untouched and used["epochs"] > 1:
        if all(_close(loss, got[0]) for loss in got):
            fail(f"the model passed in is unchanged. {NO_STEP_HINT}")
        if _same(got, expected):
            fail(
                "your losses are right, but the model passed in is unchanged: you trained a copy. Train `model`, "
                "the argument, in place (build the optimizer from model.parameters())."
            )
        fail(
            "the model passed in is unchanged, and your losses are not its losses: train_with_history built a "
            "model of its own and trained that one. Train `model`, the argument: optim.SGD(model.parameters(), lr=lr)."
        )
    mistakes = likely_mistakes(x, y, seed, "SGD", used["lr"], None, used["epochs"])
    settings_hint = settings_problem(answer, optim.SGD, "the history")
    explain_history(got, expected, f"train_with_history with {used}", START_HINT_EX3, mistakes, len(x), settings_hint)
    if settings_hint:
        fail(settings_hint)
    for (name, mine), reference in zip(model.named_parameters(), twin.parameters(), strict=True):
        if not torch.allclose(mine, reference, atol=PARAM_ATOL):
            fail(
                f"after training, {name} is {mine.tolist()} but should be {reference.tolist()} "
                f"(tolerance {PARAM_ATOL}): the losses were right, so something changed the model after the last step."
            )


def check_plot_loss_curve(answer: Answer, losses: list[float], path: Path | None) -> None:
    importlib.import_module("matplotlib.figure")  # loaded before the call, so that its savefig calls are seen
    fig = expect_figure(answer("plot_loss_curve", losses, path), "plot_loss_curve")
    epochs = len(losses)
    for ax in fig.axes:
        curve = next(((xs, ys) for _, xs, ys in _series(ax) if _plots(ys, losses)), None)
        if curve is not None:
            break
    else:
        fail(f"no line or scatter plot in the figure plots the {epochs} losses; draw them with ax.plot(losses).")
    xs = curve[0]
    if xs not in ([float(k) for k in range(epochs)], [float(k) for k in range(1, epochs + 1)]):
        fail(f"the x values should be the epochs 0..{epochs - 1} (or 1..{epochs}); they start {xs[:3]}.")
    if not ax.get_xlabel() or not ax.get_ylabel():
        fail("label both axes, e.g. ax.set_xlabel('epoch') and ax.set_ylabel('loss').")
    if path is not None:
        check_saved_png(answer, fig, Path(path), "plot_loss_curve(losses, path)")


def check_saved_png(answer: Answer, fig: Any, path: Path, what: str) -> None:
    """The PNG at `path` holds `fig`, the figure returned: saved from it, after it was drawn, and not blank."""
    if not path.is_file():
        fail(f"{what} should save the figure at {path}, but no file is there: call fig.savefig(path).")
    content = path.read_bytes()
    if not content.startswith(PNG_MAGIC):
        fail(f"{path} is not a PNG file; save with fig.savefig(path) and a path ending in .png.")
    into_path = [(figure, drawn) for figure, target, drawn in answer.saved_figures if target == str(path.resolve())]
    if into_path and not any(figure is fig for figure, _ in into_path):
        fail(
            f"{path} was saved from another figure than the one {what} returned. plt.savefig(path) saves pyplot's "
            "current figure, which is not a Figure() you made yourself: call fig.savefig(path) on the figure you "
            "draw on and return."
        )
    if into_path and next(drawn for figure, drawn in reversed(into_path) if figure is fig) != _drawn(fig):
        fail(
            f"{path} was saved before the figure was finished: the returned figure holds more than the saved file. "
            "Draw everything first, then call fig.savefig(path) just before returning."
        )
    from matplotlib import image

    try:
        pixels = image.imread(io.BytesIO(content), format="png")
    except Exception as error:  # a truncated or damaged file
        fail(f"{path} starts like a PNG but cannot be read as one ({error}); save it with fig.savefig(path).")
    if (pixels == pixels[0, 0]).all():
        fail(
            f"{path} is blank, one colour only: the figure saved is not the one drawn on. Call fig.savefig(path) "
            "on the figure you return (plt.savefig saves pyplot's current figure instead)."
        )
