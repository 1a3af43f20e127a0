"""The two lanes (tests/lanes.py): every test runs once, in one of two processes, and is reported as it ended."""

from __future__ import annotations

import json
import os
import re
import sys

import lanes
import pytest

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="the lanes need fork"),
    pytest.mark.skipif(lanes._cores() < 2, reason="the lanes stay off where this process may use one core only"),
]

COUNT = lanes.FEWEST_TESTS  # tests per module: enough for the lanes to start
MODULE = """
import os
import warnings

import pytest


@pytest.mark.parametrize("number", range({count}))
def test_{name}(number, pytestconfig):
    with open(os.path.join(os.environ["LANES_OUT"], f"{name}-{{number}}"), "w") as out:
        out.write(str(os.getpid()))
    if number == 3:
        warnings.warn("a warning from {name}")
    if number == 5:
        print("printed by {name}")
        assert number == -1, "{name} 5 fails"
    if number == 7:
        pytest.skip("{name} 7 skips")
    if {crash} and number == 11 and os.getpid() != int(open(os.path.join(os.environ["LANES_OUT"], "main")).read()):
        os._exit(9)  # only in the second process: the main one would end the whole run


@pytest.mark.main_process
def test_{name}_here():
    with open(os.path.join(os.environ["LANES_OUT"], "{name}-here"), "w") as out:
        out.write(str(os.getpid()))
"""


CONFTEST = """
import os


def pytest_configure(config):
    with open(os.path.join(os.environ["LANES_OUT"], "main"), "w") as out:
        out.write(str(os.getpid()))
"""
NAMES = ("alpha", "beta", "gamma")


def suite(pytester: pytest.Pytester, crash: bool = False) -> tuple[pytest.RunResult, dict[str, int]]:
    """Three modules of tests run with the lanes; which process (pid) ran each test, "main" for the main one."""
    pytester.makeini(f"[pytest]\nmarkers =\n    {lanes.MARKER}: in the main process\n")
    pytester.makeconftest(CONFTEST)
    for name in NAMES:
        pytester.makepyfile(**{f"test_{name}": MODULE.format(count=COUNT, name=name, crash=crash)})
    out = pytester.mkdir("out")
    environment = {"LANES_OUT": str(out), "PYTHONPATH": os.pathsep.join([os.path.dirname(lanes.__file__)])}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)
        result = pytester.runpytest_subprocess("-p", "lanes", "-p", "no:cacheprovider", "-rfs")
    ran = {path.name: int(path.read_text()) for path in out.iterdir()}
    return result, ran


def test_each_test_runs_once_in_one_of_two_processes_and_is_reported(pytester: pytest.Pytester) -> None:
    result, ran = suite(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3 * (COUNT - 2) + 3, failed=3, skipped=3, warnings=3)
    main_pid = ran.pop("main")
    assert len(ran) == 3 * (COUNT + 1)
    assert len(set(ran.values())) == 2, "the tests should have run in two processes"
    assert {ran[f"{name}-here"] for name in NAMES} == {main_pid}, "tests marked main_process run in the main one"
    for name in NAMES:  # failures, output and skips as pytest tells them, from either lane
        result.stdout.fnmatch_lines([f"*AssertionError: {name} 5 fails*"])
        result.stdout.fnmatch_lines([f"*printed by {name}*"])
        result.stdout.fnmatch_lines([f"SKIPPED*{name} 7 skips"])
        result.stdout.fnmatch_lines([f"*UserWarning: a warning from {name}"])


def test_a_second_process_that_dies_is_told_and_its_tests_run_here(pytester: pytest.Pytester) -> None:
    result, ran = suite(pytester, crash=True)
    text = result.stdout.str()
    died = re.search(
        r"The second test process ended with exit status 9 while it ran test_(\w+)\.py::test_\w+\[11\];", text
    )
    assert died, text
    assert "python -m pytest tests -p no:lanes" in text
    # The test that ended it is failed, not run again; every other test ran once and is reported,
    # those after it in its module by the main process.
    main_pid = ran.pop("main")
    assert len(ran) == 3 * (COUNT + 1)
    after = [f"{died[1]}-{number}" for number in range(12, COUNT)]
    assert {ran[name] for name in after} == {main_pid}
    result.assert_outcomes(passed=3 * (COUNT - 2) + 3 - 1, failed=3 + 1, skipped=3, warnings=3)
    result.stdout.fnmatch_lines([f"FAILED test_{died[1]}.py::test_{died[1]}[[]11[]]*"])


def test_the_timings_kept_for_the_next_run_forget_only_tests_that_no_longer_exist(pytester: pytest.Pytester) -> None:
    def module(count: int) -> str:
        return f"import pytest\n\n\n@pytest.mark.parametrize('n', range({count}))\ndef test_it(n):\n    pass\n"

    def timed() -> set[str]:
        pytester.runpytest_inprocess("-p", "lanes", *argv)
        return set(json.loads((pytester.path / ".pytest_cache" / "v" / lanes.DURATIONS).read_text()))

    pytester.makepyfile(test_alpha=module(3), test_beta=module(2))
    alpha = [f"test_alpha.py::test_it[{n}]" for n in range(3)]
    beta = [f"test_beta.py::test_it[{n}]" for n in range(2)]
    argv: list[str] = []
    assert timed() == {*alpha, *beta}
    argv = ["-k", "not 0", "--ignore", "test_beta.py"]  # one test deselected, one module not collected: both kept
    assert timed() == {*alpha, *beta}
    (pytester.path / "test_beta.py").unlink()
    pytester.makepyfile(test_alpha=module(2))
    argv = []
    assert timed() == set(alpha[:2])
