"""The one list of exercises (exercises/catalog.py): every exercise in it has all its pieces, and all read it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from exercises.catalog import BY_MARKER, EXERCISES, Exercise, exercise_of_file

ROOT = Path(__file__).resolve().parents[1]
HINTS = ROOT / "exercises" / "README.md"
GUARD = (
    'if __name__ == "__main__":\n    from grader.run_it import run_it\n\n    sys.exit(run_it(sys.modules[__name__]))\n'
)


def _arguments(node: ast.FunctionDef) -> list[str]:
    return [argument.arg for argument in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    }


def missing_pieces(exercise: Exercise, root: Path = ROOT) -> list[str]:
    """What an exercise in the list lacks, in words: each piece its files must hold.

    The learner's stub is read only for what a solved one still holds: the solution's functions,
    with the same arguments, and a hint named by each function that still raises NotImplementedError.
    """
    missing = []
    stub, solution = root / exercise.file, root / exercise.solution_file
    if not stub.is_file():
        missing.append(f"a stub at {exercise.file}")
    if not solution.is_file():
        missing.append(f"a solution at {exercise.solution_file}")
    elif not solution.read_text(encoding="utf-8").endswith(GUARD):
        missing.append(f"the run_it guard at the end of {exercise.solution_file}")
    if stub.is_file() and solution.is_file():
        stubbed, solved = _functions(stub), _functions(solution)
        if not solved:
            missing.append(f"functions in {exercise.solution_file}")
        for name, node in solved.items():
            if name not in stubbed or _arguments(stubbed[name]) != _arguments(node):
                missing.append(f"{name}() in the stub, with the solution's arguments {_arguments(node)}")
        for name, node in stubbed.items():
            still_a_stub = isinstance(node.body[-1], ast.Raise) and "NotImplementedError" in ast.unparse(node.body[-1])
            if still_a_stub and f"hint {exercise.number}." not in ast.unparse(node.body[-1]):
                missing.append(f"a NotImplementedError naming its hint in {name}()")
    checks_file = root / "grader" / f"{exercise.marker}.py"
    if not checks_file.is_file():
        missing.append(f"checks in grader/{exercise.marker}.py")
    else:
        defined = set(_functions(checks_file))
        source = checks_file.read_text(encoding="utf-8")
        if "\nGRADED = {" not in source:
            missing.append(f"graded tests (GRADED) in grader/{exercise.marker}.py")
        if "run" not in defined:
            missing.append(f'a "run it" (run(module)) in grader/{exercise.marker}.py')
    hints = (
        (root / "exercises" / "README.md").read_text(encoding="utf-8")
        if (root / "exercises" / "README.md").is_file()
        else ""
    )
    if exercise.hints_heading not in hints or f"**Hint {exercise.number}.1.**" not in hints:
        missing.append(f"hints in exercises/README.md under {exercise.hints_heading} ...")
    if f"`{exercise.run_command}` | `{exercise.check_command}` |" not in hints:
        missing.append(f"a row in the table of exercises/README.md with `{exercise.run_command}`")
    return missing


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.marker)
def test_every_exercise_has_all_its_pieces(exercise: Exercise) -> None:
    assert missing_pieces(exercise) == []


def test_an_exercise_without_its_files_is_caught(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "README.md").write_text("# Exercises\n", encoding="utf-8")
    missing = " ".join(missing_pieces(Exercise(9, "ex9_nothing_yet", "a task"), tmp_path))
    for piece in ("a stub", "a solution", "checks in grader/ex9.py", "hints in exercises/README.md", "a row in"):
        assert piece in missing, missing


def test_a_stub_without_hints_or_a_run_is_caught(tmp_path: Path) -> None:
    exercise = Exercise(1, "ex1_height_weight", "a task")
    for folder in ("exercises", "exercises/solutions", "grader"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    stub = "import sys\n\n\ndef f():\n    raise NotImplementedError('f')\n\n\n" + GUARD
    (tmp_path / exercise.file).write_text(stub, encoding="utf-8")
    (tmp_path / exercise.solution_file).write_text("def g():\n    return 1\n", encoding="utf-8")
    (tmp_path / "grader" / "ex1.py").write_text("GRADED = {}\n", encoding="utf-8")
    (tmp_path / "exercises" / "README.md").write_text("## Exercise 1: x\n\n**Hint 1.1.** y\n", encoding="utf-8")
    missing = " ".join(missing_pieces(exercise, tmp_path))
    for piece in ("the run_it guard at the end of exercises/solutions", "g() in the stub", "naming its hint in f()"):
        assert piece in missing, missing
    assert 'a "run it"' in missing and "graded tests" in missing, missing


def test_the_numbers_run_from_one_and_name_the_files() -> None:
    assert [exercise.number for exercise in EXERCISES] == list(range(1, len(EXERCISES) + 1))
    assert all(exercise.stem.startswith(f"{exercise.marker}_") for exercise in EXERCISES)
    assert exercise_of_file("C:\\course\\exercises\\ex2_optimizer_comparison.py") is BY_MARKER["ex2"]
    assert exercise_of_file("exercises/solutions/ex4_train_validate_save.py") is BY_MARKER["ex4"]
    assert exercise_of_file("lesson.py") is None


def test_the_markers_come_from_the_list(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {exercise.marker for exercise in EXERCISES} <= registered
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r'"ex\d+:', pyproject), "the exercise markers are registered from the list, not typed"


def test_the_lesson_and_the_readmes_name_every_exercise_in_the_list(lesson_output: str) -> None:
    for source in [ROOT / "lesson.py", *sorted((ROOT / "lesson_support").glob("*.py"))]:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert not [name for name in imported if name.split(".")[0] == "grader"], f"{source.name} imports the grader"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    next_steps = readme[readme.index("## 8. Next steps") : readme.index("## Key takeaways")]
    rows = [line for line in next_steps.splitlines() if line.startswith("| ") and "`exercises/" in line]
    assert len(rows) == len(EXERCISES), rows
    printed = lesson_output[lesson_output.index("Next steps: the exercises") :]
    for exercise, row in zip(EXERCISES, rows, strict=True):
        assert f"`{exercise.file}` | `{exercise.check_command}` |" in row, row
        assert f"{exercise.file:<40} {exercise.task:<32} {exercise.check_command}" in printed


EXERCISES_PAGE = (ROOT / "exercises" / "README.md").read_text(encoding="utf-8")
BEFORE_THE_TASKS, PAGE_WORDS, EXERCISE_WORDS = 500, 2200, 650


def test_the_exercises_page_leads_with_the_tasks() -> None:
    # The table and the commands first; how the grader and the watcher work comes after the exercises.
    first = EXERCISES_PAGE.index("\n## Exercise 1:")
    assert len(EXERCISES_PAGE[:first].split()) <= BEFORE_THE_TASKS, EXERCISES_PAGE[:first]
    assert len(EXERCISES_PAGE.split()) <= PAGE_WORDS, f"exercises/README.md holds {len(EXERCISES_PAGE.split())} words"
    headings = re.findall(r"^## (.*)$", EXERCISES_PAGE, re.M)
    tasks = [index for index, heading in enumerate(headings) if heading.startswith("Exercise ")]
    assert tasks == list(range(len(EXERCISES))), f"the exercises come first, in order: {headings}"
    sections = re.split(r"^## ", EXERCISES_PAGE, flags=re.M)[1:]
    for heading, section in zip(headings, sections, strict=True):
        if heading.startswith("Exercise "):
            assert len(section.split()) <= EXERCISE_WORDS, f"'{heading}' holds {len(section.split())} words"


def test_every_hint_a_message_cites_is_on_the_page() -> None:
    cited = set()
    for path in [*ROOT.glob("grader/*.py"), *ROOT.glob("exercises/*.py"), ROOT / "lesson.py"]:
        cited |= set(re.findall(r"[Hh]int (\d+)\.(\d+)", path.read_text(encoding="utf-8")))
    cited = {(major, minor) for major, minor in cited if int(major) <= len(EXERCISES)}  # not a docstring's example
    assert len(cited) >= 2 * len(EXERCISES), cited
    for major, minor in sorted(cited):
        assert f"**Hint {major}.{minor}.**" in EXERCISES_PAGE, f"Hint {major}.{minor} is cited but not on the page"
