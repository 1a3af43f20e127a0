"""The one list of exercises. Everything that counts, numbers, registers or prints exercises reads it.

Importing this module imports nothing heavy (no torch): the lesson's last section, the pytest
plugin that registers the markers and the benchmarks all read it. It lives with the exercises,
so that the lesson and the stubs read it without importing the grader.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, the name of its files, and the task the lesson's last section names.

    Everything else is derived from these, the same way for every exercise: the stub
    exercises/<stem>.py, the reference exercises/solutions/<stem>.py, the checks and "run it" in
    grader/ex<number>.py, the hints under the heading "Exercise <number>" in exercises/README.md,
    and the pytest marker ex<number>.
    """

    number: int
    stem: str  # the file name without .py, the same in exercises/ and exercises/solutions/
    task: str  # a few words, printed by the lesson's last section and in the marker's description

    @property
    def marker(self) -> str:
        return f"ex{self.number}"

    @property
    def file(self) -> str:
        return f"exercises/{self.stem}.py"

    @property
    def solution_file(self) -> str:
        return f"exercises/solutions/{self.stem}.py"

    @property
    def module(self) -> str:
        return f"exercises.{self.stem}"

    @property
    def solution_module(self) -> str:
        return f"exercises.solutions.{self.stem}"

    @property
    def checks_module(self) -> str:
        return f"grader.{self.marker}"

    @property
    def hints_heading(self) -> str:
        """The start of the exercise's heading in exercises/README.md, which its hints follow."""
        return f"## Exercise {self.number}:"

    @property
    def check_command(self) -> str:
        return f"python -m pytest -m {self.marker}"

    @property
    def run_command(self) -> str:
        return f"python -m {self.module}"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(1, "ex1_height_weight", "predict weight from height"),
    Exercise(2, "ex2_optimizer_comparison", "SGD against Adam"),
    Exercise(3, "ex3_loss_curve", "record and plot the loss curve"),
    Exercise(4, "ex4_train_validate_save", "split, batch, validate, save"),
)
BY_MARKER = {exercise.marker: exercise for exercise in EXERCISES}
BY_NUMBER = {exercise.number: exercise for exercise in EXERCISES}


def exercise_of_file(path: str) -> Exercise | None:
    """The exercise whose stub or reference solution is the file `path` (any folder), or None."""
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    return next((exercise for exercise in EXERCISES if exercise.stem == stem), None)
