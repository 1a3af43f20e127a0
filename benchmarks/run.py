"""Time the lesson and the tests against the floor, interleaved, and print the median ratios.

    python benchmarks/run.py              # 5 rounds
    python benchmarks/run.py --rounds 9
    python benchmarks/run.py --without xvfb-run   # as on a learner's machine, where CI's Xvfb is absent

Run it with the Python of an environment made by the README's install command alone: the test
suite skips its notebook test without jupytext and nbclient, and its real-window test without
xvfb-run, as it does on a learner's machine. See benchmarks/README.md.

A first, untimed round runs every command once, as a learner's first run does: Python writes its
bytecode and pytest its cache, which every later run reads (the benchmark runs its commands without
PYTHONDONTWRITEBYTECODE, whatever this shell sets). Then each round runs every command once, in
turn, so a slow moment of the machine hits all of them alike. Wall time is the median over rounds;
peak memory is the largest resident set of the command's own process (os.wait4), not of processes
it starts. lesson.py and the tests call gc.freeze() once the libraries are loaded, so the "× frozen
floor" column compares them with a floor that does the same.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))
from exercises.catalog import EXERCISES  # noqa: E402  (the one list of exercises; it imports nothing heavy)

# Targets, as ratios to the floor.
TARGETS = {
    "python lesson.py": ("time", 1.1),
    "python lesson.py --no-plots": ("time", 0.8),
    "python -m pytest": ("time", 0.8),
    "python -m pytest, all solved": ("time", 1.0),
    **{f"python -m pytest -m {exercise.marker}": ("time", 0.8) for exercise in EXERCISES},
}
SOLVED = "python -m pytest, all solved"  # run in a copy of the repository whose exercise files are the solutions
MEMORY_TARGET = ("python lesson.py", 1.15)


def commands(outdir: str) -> dict[str, list[str]]:
    return {
        "floor": [PYTHON, str(ROOT / "benchmarks" / "floor.py")],
        "floor with gc.freeze()": [PYTHON, str(ROOT / "benchmarks" / "floor.py"), "--freeze"],
        "python lesson.py": [PYTHON, "lesson.py", "--outdir", outdir],
        "python lesson.py --animate": [PYTHON, "lesson.py", "--outdir", outdir, "--animate"],
        "python lesson.py --no-plots": [PYTHON, "lesson.py", "--no-plots"],
        "python -m pytest": [PYTHON, "-m", "pytest", "-q"],
        SOLVED: [PYTHON, "-m", "pytest", "-q"],
        "python -m pytest tests": [PYTHON, "-m", "pytest", "-q", "tests"],
        **{
            f"python -m pytest -m {name}": [PYTHON, "-m", "pytest", "-q", "-m", name]
            for name in (exercise.marker for exercise in EXERCISES)
        },
    }


# As on a learner's machine, Python keeps the bytecode it compiles (__pycache__) and pytest its cache
# (.pytest_cache: the exercises' summary, the last run's test durations): a machine that sets
# PYTHONDONTWRITEBYTECODE would make every run compile lesson.py, grader/ and the tests again.
LEARNER_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
# The README installs no Xvfb, so on a learner's machine the suite skips its real-window test. A
# machine that has xvfb-run (as CI's does) times that test too, unless --without xvfb-run is given.
HIDDEN = "xvfb-run"


def path_without(program: str, folder: Path) -> str:
    """A PATH on which `program` is not found: `folder`, filled with links to every other program on PATH."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory):
                link = folder / entry.name
                if entry.name != program and not link.exists() and os.access(entry.path, os.X_OK):
                    link.symlink_to(entry.path)
    return str(folder)


def measure(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (its own and its children's) and peak resident MiB of one run.

    A failing command stops the benchmark.
    """
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {process.returncode}:\n{errors}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def solved_copy(folder: Path) -> Path:
    """A copy of the repository whose exercise files are the reference solutions: a learner who solved them all."""
    copy = folder / "solved"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", ".pytest_cache", "figures", "*.egg-info")
    )
    for exercise in EXERCISES:
        shutil.copy(copy / exercise.solution_file, copy / exercise.file)
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of interleaved runs (default 5)")
    parser.add_argument(
        "--without", choices=[HIDDEN], help="run every command with a PATH that has no xvfb-run, as a learner's"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lesson-bench-") as outdir, tempfile.TemporaryDirectory() as programs:
        env = dict(LEARNER_ENV)
        if args.without:
            env["PATH"] = path_without(args.without, Path(programs))
        runs = commands(outdir)
        solved = solved_copy(Path(outdir))
        where = {name: solved if name == SOLVED else ROOT for name in runs}
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        memory: dict[str, list[float]] = {name: [] for name in runs}
        for name, command in runs.items():  # untimed: what a learner's first run writes (bytecode, caches)
            measure(command, env, where[name])
        print("warm-up round done", file=sys.stderr)
        for round_number in range(1, args.rounds + 1):
            for name, command in runs.items():
                seconds, cpu_seconds, mib = measure(command, env, where[name])
                times[name].append(seconds)
                cpu[name].append(cpu_seconds)
                memory[name].append(mib)
            print(f"round {round_number}/{args.rounds} done", file=sys.stderr)

    floor_time, floor_memory = statistics.median(times["floor"]), max(memory["floor"])
    frozen_time = statistics.median(times["floor with gc.freeze()"])
    floor_cpu = statistics.median(cpu["floor"])
    header = ("median s", "× floor", "target", "× frozen floor", "CPU s", "× floor", "peak MiB", "× floor")
    print(
        f"{'command':<30} "
        + " ".join(f"{title:>{width}}" for title, width in zip(header, (9, 8, 7, 15, 7, 8, 9, 8), strict=True))
    )
    for name in runs:
        seconds, cpu_seconds, mib = statistics.median(times[name]), statistics.median(cpu[name]), max(memory[name])
        target = f"≤ {TARGETS[name][1]:g}" if name in TARGETS else ""
        print(
            f"{name:<30} {seconds:9.2f} {seconds / floor_time:8.2f} {target:>7} {seconds / frozen_time:15.2f} "
            f"{cpu_seconds:7.1f} {cpu_seconds / floor_cpu:8.2f} {mib:9.0f} {mib / floor_memory:8.2f}"
        )
    name, limit = MEMORY_TARGET
    print(f"memory target: {name} at most {limit:g} × the floor's peak")
    misses = [name for name, (_, limit) in TARGETS.items() if statistics.median(times[name]) / floor_time > limit]
    if max(memory[MEMORY_TARGET[0]]) / floor_memory > MEMORY_TARGET[1]:
        misses.append(f"{MEMORY_TARGET[0]} (memory)")
    print("all targets met" if not misses else f"over target: {', '.join(misses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
