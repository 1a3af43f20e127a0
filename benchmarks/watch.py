"""Save to verdict: how soon `python -m exercises watch` shows a check after a save, beside a cold pytest.

    python benchmarks/watch.py                 # forked checks, 5 rounds
    python benchmarks/watch.py --rounds 9 --no-fork-rounds 3

In a copy of the repository (your exercise files are never touched), one watcher follows every
exercise. Each round saves, into each exercise in turn, a stub, a wrong answer and the reference
solution, and times each save from just before the file is replaced to the moment the watcher
prints the screen with that check's verdict (its output is a pipe, so it prints each finished
screen once). A learner pauses between saves; so does this, for a second (five with --no-fork). Each round also times
one cold `python -m pytest -m ex4` on the same copy while the watcher is idle, so both figures
come from the same minutes of the machine. Then a second watcher with `--no-fork` does the same,
the way checks run on Windows: there the stub is the first save after moving to another exercise,
which starts a fresh Python; the wrong answer and the solution find a spare one waiting.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from repository_copy import copy_repository  # noqa: E402  (the watch test's copy, shared)

PYTHON = sys.executable
SEPARATOR = "-" * 40 + "\n"  # the watcher's line between two screens when its output is not a terminal
FILES = {
    "ex1": "ex1_height_weight.py",
    "ex2": "ex2_optimizer_comparison.py",
    "ex3": "ex3_loss_curve.py",
    "ex4": "ex4_train_validate_save.py",
}
WRONG = {  # one mistake in each reference solution: (text, replaced by)
    "ex1": ("HEIGHT_MEAN_CM = 170.0", "HEIGHT_MEAN_CM = 1.70"),  # metres
    "ex2": ("if loss <= target", "if loss < target"),
    "ex3": ("        optimizer.zero_grad()\n", ""),
    "ex4": ("order[: n - n_validation], ", "order[: n - n_validation + 1], "),  # one row in both parts
}
STATES = ("stub", "wrong", "solution")
PAUSE = 1.0  # seconds between two saves, as a learner reads the screen
PAUSE_NO_FORK = 5.0  # long enough for a fresh Python to be ready and waiting, as it is while a learner types


def stub_of(source: str) -> str:
    """The file as a learner gets it: every function's body replaced by raise NotImplementedError."""
    lines = source.splitlines()
    for function in reversed([node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]):
        body = function.body[1:] if ast.get_docstring(function) else function.body
        indent = " " * body[0].col_offset
        lines[body[0].lineno - 1 : body[-1].end_lineno] = [f'{indent}raise NotImplementedError("not written yet")']
    return "\n".join(lines) + "\n"


def answers(name: str) -> dict[str, str]:
    solution = (ROOT / "exercises" / "solutions" / FILES[name]).read_text(encoding="utf-8")
    old, new = WRONG[name]
    assert old in solution, f"the wrong answer of {name} no longer applies to its solution: {old!r}"
    return {"stub": stub_of(solution), "wrong": solution.replace(old, new, 1), "solution": solution}


def save(path: Path, text: str) -> None:
    draft = path.with_suffix(".draft")
    draft.write_text(text, encoding="utf-8")
    os.replace(draft, path)


class Watcher:
    """A `python -m exercises watch` whose output is read as it comes."""

    def __init__(self, repository: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [PYTHON, "-m", "exercises", "watch", *options],
            cwd=repository,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.text = ""
        self.checks = dict.fromkeys(FILES, 0)

    def screen_with(self, needle: str, timeout: float = 120.0) -> float:
        """Wait for a finished screen that holds `needle`; return the moment it arrived (perf_counter)."""
        return self.screen_where(lambda screen: needle in screen, needle, timeout)

    def screen_where(self, wanted: Callable[[str], bool], what: str, timeout: float = 120.0) -> float:
        assert self.process.stdout is not None
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            finished = [screen for screen in self.text.split(SEPARATOR)[1:] if re.search(r"^keys: .*\n", screen, re.M)]
            if any(wanted(screen) for screen in finished):
                return time.perf_counter()
            if select.select([self.process.stdout], [], [], 0.5)[0]:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.text += chunk.decode(errors="replace")
        sys.exit(f"the watcher never showed {what}; it printed:\n{self.text[-3000:]}")

    def started(self) -> None:
        """Wait until every exercise has its first verdict."""

        def all_checked(screen: str) -> bool:
            return all(f" {name}  " in screen for name in FILES) and not any(
                word in screen for word in ("checking ...", "waiting to be checked")
            )

        self.screen_where(all_checked, "a verdict for every exercise")
        self.checks = dict.fromkeys(FILES, 1)

    def save_and_time(self, repository: Path, name: str, text: str) -> tuple[float, float]:
        """Seconds from the save to the verdict on screen, and to the screen with every check counted.

        A failing check settles the verdict (not solved yet) and is on screen at once; a stub or a
        solution is settled only by the last check.
        """
        self.checks[name] += 1
        this = f"check {self.checks[name]} of {name}, "
        before = time.perf_counter()
        save(repository / "exercises" / FILES[name], text)
        settled = self.screen_where(
            lambda screen: this in screen and ("The first failing check" in screen or "after your save:" in screen),
            this,
        )
        return settled - before, self.screen_where(
            lambda screen: this in screen and "after your save:" in screen, this
        ) - before

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"q")
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cold_pytest(repository: Path, name: str) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "pytest", "-q", "-m", name], cwd=repository, capture_output=True, check=False)
    return time.perf_counter() - start


def measure(repository: Path, rounds: int, options: tuple[str, ...], cold: list[float] | None, pause: float) -> dict:
    texts = {name: answers(name) for name in FILES}
    for name in FILES:
        save(repository / "exercises" / FILES[name], texts[name]["stub"])
    watcher = Watcher(repository, *options)
    start = time.perf_counter()
    times: dict[tuple[str, str], list[float]] = {(name, state): [] for name in FILES for state in STATES}
    counted: dict[tuple[str, str], list[float]] = {(name, state): [] for name in FILES for state in STATES}
    try:
        watcher.started()
        startup = time.perf_counter() - start
        for _ in range(rounds):
            for name in FILES:
                for state in STATES:
                    time.sleep(pause)
                    settled, whole = watcher.save_and_time(repository, name, texts[name][state])
                    times[name, state].append(settled)
                    counted[name, state].append(whole)
            if cold is not None:
                time.sleep(PAUSE)
                cold.append(cold_pytest(repository, "ex4"))
    finally:
        watcher.stop()
    return {"startup": startup, "times": times, "counted": counted}


def report(title: str, result: dict) -> None:
    print(f"\n{title}: first screen with every verdict after {result['startup']:.2f} s")
    print("median s from the save to the verdict on screen (to the screen with every check counted)")
    print(f"{'exercise':<10}" + "".join(f"{state:>16}" for state in STATES))
    for name in FILES:
        settled = [statistics.median(result["times"][name, state]) for state in STATES]
        counted = [statistics.median(result["counted"][name, state]) for state in STATES]
        cells = [f"{first:.2f} ({last:.2f})" for first, last in zip(settled, counted, strict=True)]
        print(f"{name:<10}" + "".join(f"{cell:>16}" for cell in cells))
    every = [value for values in result["times"].values() for value in values]
    print(f"all saves: median {statistics.median(every):.2f} s, slowest {max(every):.2f} s, {len(every)} saves")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of saves with forked checks (default 5)")
    parser.add_argument(
        "--no-fork-rounds", type=int, default=2, help="rounds with a fresh Python per check (default 2; 0 skips)"
    )
    args = parser.parse_args(argv)
    print(
        f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
        if Path("/proc/loadavg").exists()
        else ""
    )
    with tempfile.TemporaryDirectory(prefix="watch-bench-") as folder:
        repository = copy_repository(Path(folder) / "repository")
        cold: list[float] = []
        forked = measure(repository, args.rounds, (), cold, PAUSE)
        report("forked checks (Linux, macOS)", forked)
        print(f"cold python -m pytest -m ex4: median {statistics.median(cold):.2f} s of {len(cold)}")
        if args.no_fork_rounds:
            fresh = measure(repository, args.no_fork_rounds, ("--no-fork",), None, PAUSE_NO_FORK)
            report("a fresh Python per check, --no-fork (as on Windows)", fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
