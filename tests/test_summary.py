"""The end-of-run summary and the verdicts (grader/plugin.py), end to end: real pytest runs of constructed checks.

Each run is a pytest session of its own (pytester, in this process), with only the exercises'
plugin: its graded tests carry an exercise's marker and a `who` parameter, as exercises/test_exercises.py's do.
"""

from __future__ import annotations

import json
import re

import pytest

from exercises.catalog import BY_MARKER, EXERCISES
from grader.plugin import CANNOT_IMPORT, MEMORY, NOT_WRITTEN, SHIPPED_DATA, Tally, file_hash

ALL = len(EXERCISES)  # how many exercises the summary counts, from the one list

CHECKS = """
import pytest

WHO = ["yours", "reference"]


@pytest.mark.ex1
@pytest.mark.parametrize("who", WHO)
def test_ex1_first(who):
    pass


@pytest.mark.ex1
@pytest.mark.parametrize("who", WHO)
def test_ex1_second(who):
    pass


@pytest.mark.ex2
@pytest.mark.parametrize("who", WHO)
def test_ex2_passes(who):
    pass


@pytest.mark.ex2
@pytest.mark.parametrize("who", WHO)
def test_ex2_fails_for_the_learner(who):
    if who == "yours":
        pytest.fail("the loss at epoch 3 is off", pytrace=False)


@pytest.mark.ex3
@pytest.mark.parametrize("who", WHO)
def test_ex3_stub(who):
    if who == "yours":
        pytest.skip("exercise 3 not attempted yet (a function still raises NotImplementedError)")


@pytest.fixture
def broken_setup():
    raise RuntimeError("a fixture broke")


@pytest.mark.ex4
@pytest.mark.parametrize("who", WHO)
def test_ex4_passes(who):
    pass


@pytest.mark.ex4
@pytest.mark.parametrize("who", ["yours"])
def test_ex4_setup_fails(who, broken_setup):
    pass


@pytest.mark.ex4
@pytest.mark.parametrize("who", ["yours"])
def test_ex4_teardown_fails(who, request):
    request.addfinalizer(lambda: pytest.fail("teardown failed", pytrace=False))
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["grader.plugin"]\n')
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider --strict-markers\n")
    return pytester


def write_checks(pytester: pytest.Pytester, checks: str, **others: str) -> None:
    """Write constructed checks into a test_exercises.py, where graded checks must be, and other modules beside it.

    The file sits in a package of its own, so it is never taken for exercises/test_exercises.py.
    """
    pytester.makepyfile(**{"graded/__init__": "", "graded/test_exercises": checks}, **others)


def summary_of(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    start = next(k for k, line in enumerate(lines) if "exercises" in line and "=" in line)
    return [line for line in lines[start + 1 :] if line and not line.startswith("=")][:7]


def test_the_summary_counts_only_exercises_whose_every_check_passes(project: pytest.Pytester) -> None:
    write_checks(project, CHECKS)
    result = project.runpytest_inprocess("-rs")
    assert summary_of(result)[:5] == [
        f"exercises solved: 1/{ALL} (ex1)",
        "  ex1: solved, all 2 checks pass",
        "  ex2: not solved yet: 1 of 2 checks fail (read their messages above)",
        "  ex3: not attempted yet: open exercises/ex3_loss_curve.py",
        "  ex4: not solved yet: 2 of 3 checks fail (read their messages above)",
    ]
    assert "  reference solutions: 6 checks, all pass" in result.outlines
    # The skip is told at the learner's file, not at the line of the check that raised it.
    assert any(
        line.startswith("SKIPPED [1] exercises/ex3_loss_curve.py: exercise 3 not attempted") for line in result.outlines
    )


def test_a_failing_reference_check_is_counted_and_blamed_on_the_grader(project: pytest.Pytester) -> None:
    write_checks(
        project,
        CHECKS.replace(
            '    if who == "yours":\n        pytest.fail', '    if who == "reference":\n        pytest.fail'
        ),
    )
    result = project.runpytest_inprocess()
    lines = summary_of(result)
    assert "  ex2: solved, all 2 checks pass" in lines
    assert "  reference solutions: 6 checks, 1 of 6 fail: the grader or the solutions are broken" in lines, lines


def test_partly_done_and_not_checked(project: pytest.Pytester) -> None:
    write_checks(
        project,
        """
import pytest


@pytest.mark.ex2
@pytest.mark.parametrize("who", ["yours"])
@pytest.mark.parametrize("part", ["written", "stub"])
def test_ex2(who, part):
    if part == "stub":
        pytest.skip("not attempted")
""",
    )
    lines = summary_of(project.runpytest_inprocess())
    assert lines[0] == f"exercises solved: 0/{ALL}"
    assert "  ex1: not checked in this run (check it with: python -m pytest -m ex1)" in lines
    assert "  ex2: partly done: 1 of 2 checks pass, 1 wait for functions not written yet" in lines
    assert not any("reference solutions" in line for line in lines), "no reference check ran"


def test_a_run_without_graded_checks_prints_no_summary(project: pytest.Pytester) -> None:
    project.makepyfile(test_constructed_plain="def test_plain():\n    pass\n")
    result = project.runpytest_inprocess()
    assert not any("exercises solved" in line for line in result.outlines)


def test_a_changed_shipped_data_file_is_its_own_line(project: pytest.Pytester) -> None:
    write_checks(
        project,
        f"""
import pytest


@pytest.mark.ex1
@pytest.mark.{SHIPPED_DATA}
def test_csv():
    pytest.fail("data/height_weight.csv has changed", pytrace=False)
""",
    )
    lines = project.runpytest_inprocess().outlines
    assert any(line.startswith("  shipped data: a file under data/ is not the one the lesson ships") for line in lines)
    assert not any("reference solutions" in line for line in lines), "a data check is not the reference's"
    assert "  ex1: not checked in this run (check it with: python -m pytest -m ex1)" in lines


def test_another_plugin_reads_each_exercises_verdict_from_the_reports(project: pytest.Pytester) -> None:
    write_checks(project, CHECKS)

    class Watcher:
        def __init__(self) -> None:
            self.tally = Tally()

        def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
            self.tally.add(report)

    watcher = Watcher()
    project.runpytest_inprocess("-m", "ex2 or ex4", plugins=[watcher])
    ex2, ex4 = watcher.tally.verdict(BY_MARKER["ex2"]), watcher.tally.verdict(BY_MARKER["ex4"])
    assert (ex2.state, ex2.solved, ex2.failed, ex2.first_failure) == (
        "not solved",
        False,
        1,
        "the loss at epoch 3 is off",
    )
    assert (ex4.state, ex4.passed, ex4.failed) == ("not solved", 1, 2)
    assert "a fixture broke" in ex4.first_failure
    assert watcher.tally.verdict(BY_MARKER["ex1"]).state == "not checked"


IMPORTED = 'raise RuntimeError("this module was imported")\n'


def test_an_exercise_alone_collects_only_the_graded_module(project: pytest.Pytester) -> None:
    write_checks(project, CHECKS, test_lesson_math=IMPORTED)
    for chosen, outcomes in (("ex1", {"passed": 4}), ("ex3 or ex1", {"passed": 5, "skipped": 1})):
        result = project.runpytest_inprocess("-m", chosen)
        result.assert_outcomes(**outcomes, deselected=14 - sum(outcomes.values()))  # no error: not imported
    # Anything else is collected as usual: every module, or one typed on the command line.
    for argv in (["-m", "not ex1"], [], ["-m", "ex1", "test_lesson_math.py"]):
        result = project.runpytest_inprocess(*argv)
        assert result.ret == pytest.ExitCode.INTERRUPTED and "this module was imported" in result.stdout.str(), argv


def test_a_graded_check_outside_the_graded_module_is_refused_in_one_sentence(project: pytest.Pytester) -> None:
    elsewhere = CHECKS.split("@pytest.mark.ex2")[0].replace("test_ex1_", "test_stray_ex1_")
    write_checks(project, CHECKS, test_more_checks=elsewhere)
    result = project.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: test_more_checks.py::test_stray_ex1_first[yours] carries the exercise marker ex1 outside "
        "test_exercises.py, so `python -m pytest -m ex1` would never run it: move it into test_exercises.py."
    ) in result.stderr.lines
    assert "Traceback" not in result.stderr.str()


# --- the summary remembers: verdicts kept in pytest's cache, forgotten when the file changes ----------

REMEMBERED = """
import pytest


@pytest.mark.ex1
@pytest.mark.parametrize("who", ["yours"])
def test_ex1(who):
    pass


@pytest.mark.ex4
@pytest.mark.parametrize("who", ["yours"])
@pytest.mark.parametrize("part", ["split", "training"])
def test_ex4(who, part):
    pass
"""


@pytest.fixture
def remembering(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project whose runs keep pytest's cache, with the exercise files the memory hashes."""
    pytester.makeconftest('pytest_plugins = ["grader.plugin"]\n')
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    write_checks(pytester, REMEMBERED)
    for exercise in BY_MARKER.values():
        path = pytester.path / exercise.file
        path.parent.mkdir(exist_ok=True)
        path.write_text("# the learner's file\n", encoding="utf-8")
    return pytester


LAST_CHECKED = r"ex4: solved when last checked, \d\d:\d\d (today|yesterday) \(not checked in this run\)"


def test_an_exercise_solved_in_an_earlier_run_stays_solved(remembering: pytest.Pytester) -> None:
    summary_of(remembering.runpytest_inprocess("-m", "ex4"))
    lines = summary_of(remembering.runpytest_inprocess("-m", "ex1"))
    assert lines[0] == f"exercises solved: 2/{ALL} (ex1, ex4)", lines
    assert re.fullmatch(LAST_CHECKED, lines[4].strip()), lines
    assert "  ex2: not checked in this run (check it with: python -m pytest -m ex2)" in lines
    assert "  checked in this run: ex1" in lines


def test_a_file_changed_since_is_never_told_solved(remembering: pytest.Pytester) -> None:
    remembering.runpytest_inprocess("-m", "ex4")
    (remembering.path / BY_MARKER["ex4"].file).write_text("# changed\n", encoding="utf-8")
    lines = summary_of(remembering.runpytest_inprocess("-m", "ex1"))
    assert lines[0] == f"exercises solved: 1/{ALL} (ex1)", lines
    assert re.fullmatch(
        r"ex4: changed since it was last checked, \d\d:\d\d (today|yesterday) "
        r"\(check it with: python -m pytest -m ex4\)",
        lines[4].strip(),
    ), lines


@pytest.mark.parametrize(
    ("check", "remembered"),
    [("def test_ex1(who):", True), ("def test_ex4(who, part):", False)],
    ids=["before its first check", "between its checks"],
)
def test_a_file_saved_during_the_run_is_remembered_only_if_saved_before_its_first_check(
    remembering: pytest.Pytester, check: str, remembered: bool
) -> None:
    ex4 = BY_MARKER["ex4"].file
    saves = f"{check}\n    open({ex4!r}, 'w').write('# saved during the run\\n')"  # as an editor saves it
    write_checks(remembering, REMEMBERED.replace(f"{check}\n    pass", saves))
    remembering.runpytest_inprocess()
    memory = remembering.path / ".pytest_cache/v" / MEMORY.format(marker="ex4")
    if remembered:
        kept = json.loads(memory.read_text())
        assert (kept["state"], kept["file_hash"]) == ("solved", file_hash(remembering.path / ex4)), (
            f"ex4 should be remembered solved, with the hash of the file its checks ran on: {kept}"
        )
    else:
        assert not memory.exists(), "a file that changed between its own checks was remembered"


def test_a_failure_told_in_plain_text_is_the_first_failure_as_written() -> None:
    told = "[XPASS(strict)] the check was expected to fail"  # a report with no crash location, only its text
    report = pytest.TestReport(
        "graded/test_exercises.py::test_ex2[yours]",
        ("graded/test_exercises.py", 0, "test_ex2[yours]"),
        {},
        "failed",
        told,
        "call",
        user_properties=[("exercise", "ex2"), ("who", "yours")],
    )
    tally = Tally()
    tally.add(report)
    assert tally.verdict(BY_MARKER["ex2"]).first_failure == told


@pytest.mark.parametrize(
    ("first", "why"),
    [(["-m", "ex4", "-k", "split"], "only some checks ran"), (["-m", "ex4", "-p", "no:cacheprovider"], "no cache")],
)
def test_a_partial_run_or_no_cache_remembers_nothing(remembering: pytest.Pytester, first: list[str], why: str) -> None:
    lines = summary_of(remembering.runpytest_inprocess(*first))
    if why == "only some checks ran":
        some = "  ex4: solved, all 1 checks pass (only some of its checks ran; all of them: python -m pytest -m ex4)"
        assert lines[0] == f"exercises solved: 0/{ALL}" and some in lines, lines
    lines = summary_of(remembering.runpytest_inprocess("-m", "ex1"))
    assert "  ex4: not checked in this run (check it with: python -m pytest -m ex4)" in lines, lines


def test_skip_lines_and_the_summary_both_say_what_a_check_waits_for(project: pytest.Pytester) -> None:
    write_checks(
        project,
        f"""
import pytest


@pytest.mark.ex4
@pytest.mark.parametrize("who", ["yours"])
@pytest.mark.parametrize("part", ["written wrong", "stub", "another stub", "not imported"])
def test_ex4(who, part):
    if part == "written wrong":
        pytest.fail("the split overlaps", pytrace=False)
    if part == "not imported":  # as the grader skips the checks after one that could not import the file
        pytest.skip("exercises/ex4_train_validate_save.py {CANNOT_IMPORT}; its error is reported once")
    pytest.skip("exercise 4: load_model is {NOT_WRITTEN} (hint 4.4 in exercises/README.md)")
""",
    )
    result = project.runpytest_inprocess("-rs")
    line = (
        "  ex4: not solved yet: 1 of 4 checks fail (read their messages above), 1 wait for the file to import, "
        "2 wait for functions not written yet"
    )
    assert line in summary_of(result), summary_of(result)
    assert any(
        line.endswith("exercise 4: load_model is not written yet (hint 4.4 in exercises/README.md)")
        for line in result.outlines
    )
