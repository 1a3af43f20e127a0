"""The learner's code in a child process: whatever it does costs one sentence and that check, never the session.

The jobs here are constructed (functions of this module, run by grader/isolation.py as a check's
child runs the learner's code); one end-to-end run of `python -m pytest` in a copy of the
repository holds exercise files that end their process, patch torch, raise KeyboardInterrupt and
delete data/, and checks that the session, the summary and the reference checks are untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import optim

from exercises.catalog import BY_NUMBER, EXERCISES
from grader import harness, isolation, plugin, run_it

ROOT = Path(__file__).resolve().parents[1]
ROOMY = isolation.Limits()  # the checks' own limits, for jobs that end by themselves
SPINS = isolation.Limits(0.3, wall_seconds=600)  # 0.3 s of CPU time, however busy the machine is
WAITS = isolation.Limits(600, wall_seconds=1.5)  # 1.5 s of the clock, for a job that uses almost no CPU


def test_a_job_that_reports_is_heard() -> None:
    outcome = isolation.run(lambda: isolation.Outcome("skipped", "not written yet"), ROOMY)
    assert (outcome.kind, outcome.message) == ("skipped", "not written yet")


def test_a_job_that_ends_its_own_process_is_told_not_passed() -> None:
    def ends() -> isolation.Outcome:
        isolation.calling("fit_height_weight()")
        os._exit(0)

    outcome = isolation.run(ends, ROOMY)
    assert (outcome.kind, outcome.exitcode, outcome.calling) == ("ended", 0, "fit_height_weight()")
    told = isolation.explain(outcome, "Fix it.")
    assert "ended with exit code 0 (os._exit()" in told and "while fit_height_weight() was running" in told, told


def test_a_loop_that_swallows_every_exception_is_stopped_by_its_cpu_time() -> None:
    def spins() -> isolation.Outcome:
        while True:
            try:  # noqa: SIM105  (a bare except around the work, as a learner writes it)
                sum(range(100))
            except BaseException:
                pass

    outcome = isolation.run(spins, SPINS)
    assert outcome.kind == "stopped"
    assert "used 0.3 s of CPU time" in isolation.explain(outcome, "Fix it.")


def test_code_that_waits_is_stopped_by_the_clock_and_a_thread_that_died_is_named() -> None:
    def waits() -> isolation.Outcome:
        threading.Thread(target=lambda: undefined_name).start()  # noqa: F821  (the learner's NameError)
        time.sleep(60)
        return isolation.Outcome("passed")

    outcome = isolation.run(waits, WAITS)
    told = isolation.explain(outcome, "Fix it.")
    assert outcome.kind == "stopped" and "waited 1.5 s" in told, told
    assert "A thread it started had died first: " in told and "NameError: name 'undefined_name'" in told, told


def test_threads_and_processes_left_behind_end_with_the_child(tmp_path: Path) -> None:
    later = tmp_path / "written later"

    def leaves_work_behind() -> isolation.Outcome:
        threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon: it would keep a process alive
        if os.fork() == 0:  # a process of its own that writes after the check
            time.sleep(1)
            later.write_text("too late")
            os._exit(0)
        return isolation.Outcome("passed")

    assert isolation.run(leaves_work_behind, ROOMY).kind == "passed"
    time.sleep(2)
    assert not later.exists()


def test_a_ctrl_c_here_ends_the_child_and_is_raised_here() -> None:
    started = []

    def sleeps() -> isolation.Outcome:
        isolation.report("calling", "sleeps()")
        time.sleep(60)
        return isolation.Outcome("passed")

    def interrupt_once_it_runs() -> None:
        started.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    # Python ignores Ctrl-C in a process started with it ignored (a background job): as a terminal's, here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, interrupt_once_it_runs)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            isolation.run(sleeps, isolation.Limits(100))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert started


def test_torch_replaced_by_the_learners_code_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    harness.warm_up()
    before = harness.library_snapshot()
    assert harness.replaced_in_libraries(before) == []
    monkeypatch.setattr(optim, "Adam", optim.AdamW)
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: None)
    assert harness.replaced_in_libraries(before) == ["torch.load", "torch.optim.Adam"]


def test_an_exercise_file_that_is_missing_or_unreadable_is_one_sentence(tmp_path: Path) -> None:
    missing = harness.unreadable_file(tmp_path / "ex1.py", "exercises/ex1.py")
    assert missing.startswith("exercises/ex1.py is missing") and "git checkout -- exercises/ex1.py" in missing
    folder = tmp_path / "ex2.py"
    folder.mkdir()  # a folder where the file belongs: it cannot be read as one
    assert harness.unreadable_file(folder, "exercises/ex2.py").startswith("exercises/ex2.py cannot be read (")
    readable = tmp_path / "ex3.py"
    readable.write_text("pass\n")
    assert harness.unreadable_file(readable, "exercises/ex3.py") is None


def test_run_it_tells_a_file_python_cannot_parse_in_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exercise = EXERCISES[0]
    (tmp_path / "exercises").mkdir()
    (tmp_path / exercise.file).write_text("def make_height_weight_data(n=200, seed=0:\n    pass\n")
    monkeypatch.setattr(run_it, "ROOT", tmp_path)
    with pytest.raises(SystemExit) as ended:
        run_it.before_running(exercise.module)
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{exercise.file}, line 1: SyntaxError: ") and "Traceback" not in err, err
    run_it.before_running("exercises.__main__")  # not an exercise file: nothing to say
    run_it.before_running("pytest")


def test_a_remembered_verdict_whose_time_is_no_time_is_left_out(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfigure("-p", "grader.plugin")
    summary = config.pluginmanager.get_plugin("exercise-summary")
    for checked in (float("nan"), float("inf"), 1e300):
        config.cache.set(
            plugin.MEMORY.format(marker=EXERCISES[0].marker), {"state": "solved", "checked": checked, "file_hash": "x"}
        )
        assert EXERCISES[0].marker not in summary.earlier()


# --- the learner's command, end to end, in a copy of the repository ----------------------------------------

BAD_ANSWERS = {  # exercise number -> (what replaces what in its reference solution, the sentence it must get)
    1: (
        "    generator = torch.",
        "    import os\n\n    os._exit(0)\n    generator = torch.",
        "exit code 0 (os._exit()",
    ),
    2: (
        "from torch import nn, optim\n",
        "from torch import nn, optim\n\noptim.Adam = optim.AdamW\n",
        "replaced torch.",
    ),
    3: ('    """The loss against the epoch', '    raise KeyboardInterrupt\n    """', "KeyboardInterrupt (what Ctrl-C"),
}


def bad_answer(number: int) -> str:
    exercise = BY_NUMBER[number]
    old, new, _ = BAD_ANSWERS[number]
    source = (ROOT / exercise.solution_file).read_text(encoding="utf-8")
    assert old in source, f"{exercise.solution_file} no longer has {old!r}"
    return source.replace(old, new, 1)


@pytest.fixture(scope="module")
def session_with_bad_answers(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    from repository_copy import copy_repository

    copy = copy_repository(tmp_path_factory.mktemp("bad-answers") / "repository")
    for number in BAD_ANSWERS:
        (copy / BY_NUMBER[number].file).write_text(bad_answer(number), encoding="utf-8")
    # exercise 4's file deletes data/ when its split is called
    ex4 = (copy / BY_NUMBER[4].solution_file).read_text(encoding="utf-8")
    ex4 = ex4.replace(
        "def split_rows(",
        "def split_rows(*args, **kwargs):\n    import shutil\n\n    shutil.rmtree('"
        + str(copy / "data")
        + "')\n    return _split_rows(*args, **kwargs)\n\n\ndef _split_rows(",
        1,
    )
    (copy / BY_NUMBER[4].file).write_text(ex4, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(copy)
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rN", "--color=no"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return ran, copy


def test_bad_answers_cost_their_own_checks_and_nothing_else(
    session_with_bad_answers: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    ran, copy = session_with_bad_answers
    out = ran.stdout
    assert ran.returncode == 1, out + ran.stderr
    assert "exercises solved: 0/" in out, out
    for number, (_, _, sentence) in BAD_ANSWERS.items():
        assert sentence in out, f"exercise {number}: {sentence!r} not found in\n{out}"
    assert "the grader has put them back" in out and "deleted data/" in out, out
    assert "reference solutions: " in out and "checks, all pass" in out, out
    shipped = harness.shipped
    assert shipped.Keeper(copy).damaged == [], "a shipped file stayed damaged after the run"


def test_where_there_is_no_safe_fork_each_child_is_a_fresh_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As on macOS and Windows: the check is sent to a fresh Python, pickled, and its verdict comes back.
    monkeypatch.setattr(isolation, "START_METHOD", "spawn")
    monkeypatch.setattr(harness, "_workers", {})
    try:
        harness.grade(1, "data_shapes", False, tmp_path)
        harness.grade(1, "data_same_seed_same_data", False, tmp_path)  # the same child, still alive
    finally:
        harness.end_workers()


def test_a_shipped_file_damaged_before_the_checks_stops_them_with_its_restore_command(tmp_path: Path) -> None:
    from repository_copy import copy_repository

    copy = copy_repository(tmp_path / "repository")
    with open(copy / "data" / "height_weight.csv", "a", encoding="utf-8") as cut:  # as a write killed part-way
        cut.write("171.2,")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "ex1"],
        cwd=copy,
        env={**env, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == pytest.ExitCode.USAGE_ERROR, ran.stdout + ran.stderr
    told = "data/height_weight.csv is not as the lesson ships it (changed by hand, or by a run that was stopped"
    assert told in ran.stdout + ran.stderr and "git checkout -- data/height_weight.csv" in ran.stdout + ran.stderr
    assert "passed" not in ran.stdout and "failed" not in ran.stdout, ran.stdout


class _StartsAWriter:
    """A job (picklable, as a worker's jobs are) that leaves a thread appending to a file every 20 ms."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self) -> isolation.Outcome:
        def write() -> None:
            while True:
                with open(self.path, "a") as out:
                    out.write(".")
                time.sleep(0.02)

        threading.Thread(target=write, daemon=True).start()
        return isolation.Outcome("passed")


def test_a_paused_child_and_what_it_left_running_do_nothing_until_its_next_job(tmp_path: Path) -> None:
    written = tmp_path / "written"
    child = isolation.Child()
    try:
        assert child.run(_StartsAWriter(str(written)), ROOMY).kind == "passed"
        child.pause()
        time.sleep(0.2)  # let a write under way finish before the count
        before = written.stat().st_size
        time.sleep(1)
        assert written.stat().st_size == before, "the child's thread kept writing while it was paused"
        assert child.run(_StartsAWriter(str(tmp_path / "again")), ROOMY).kind == "passed"  # resumed: runs again
        time.sleep(0.5)
        assert written.stat().st_size > before, "the child's thread did not go on once the child was resumed"
    finally:
        child.end()
