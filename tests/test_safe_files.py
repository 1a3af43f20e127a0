"""Files whole or not at all, one output folder, and one sentence for every bad input the lesson can be given.

Each fault is made to happen: a signal in the middle of a save (the save paused by replacing
lesson_support.files.write), a full disk (a write that fails, or a small file-size limit), a
FIFO, a device, a duplicated column, and the options a learner can mistype.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, run_main

import lesson
from lesson_support import cli, data, files

POSIX = pytest.mark.skipif(os.name != "posix", reason="signals, FIFOs, /dev/zero and file-size limits are POSIX's")
OLD = b"the learner's earlier file, to be kept whole"


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("lesson.py: error: ") and "Traceback" not in err, err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(files.PART))


# --- saves: whole or not at all ------------------------------------------------------------------


def test_a_save_moves_a_whole_file_into_place(tmp_path: Path) -> None:
    target = tmp_path / "training.png"
    target.write_bytes(OLD)
    files.save_bytes(target, b"new and whole")
    assert target.read_bytes() == b"new and whole" and leftovers(tmp_path) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~current_umask()), "made as any new file is"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("fault", [KeyboardInterrupt, OSError(errno.ENOSPC, "No space left on device")])
def test_a_save_cut_short_leaves_the_earlier_file(
    fault: BaseException | type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "delivery_model.pt"
    target.write_bytes(OLD)

    def half_then_fault(descriptor: int, content: bytes) -> None:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content[: len(content) // 2])
        raise fault

    monkeypatch.setattr(files, "write", half_then_fault)
    expected = KeyboardInterrupt if fault is KeyboardInterrupt else files.SaveError
    with pytest.raises(expected) as raised:
        files.save_bytes(target, b"x" * 2013)
    assert target.read_bytes() == OLD and leftovers(tmp_path) == []
    if expected is files.SaveError:
        assert str(raised.value) == (
            f"could not save {target} (No space left on device); any earlier file there is left as it was."
        )
    else:
        assert files.being_saved == target, "an interrupt leaves the file it was saving named for the last line"
        files.being_saved = None


def test_a_folder_where_the_model_goes_is_told_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / lesson.MODEL_FILE).mkdir()
    code = lesson.main(["--section", "workflow", "--outdir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert one_line(err) == (
        f"lesson.py: error: {tmp_path / lesson.MODEL_FILE} was not saved: a folder is in its place; move the folder "
        "or pass another --outdir. The run stopped in section 7 (workflow): the rest of it did not run.\n"
    )
    assert (tmp_path / lesson.MODEL_FILE).is_dir()


@POSIX
def test_a_read_only_model_file_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / lesson.MODEL_FILE
    model.write_bytes(OLD)
    model.chmod(0o444)
    assert lesson.main(["--section", "workflow", "--outdir", str(tmp_path)]) == 2
    assert "the file there is read-only, so it is kept" in one_line(capsys.readouterr().err)
    assert model.read_bytes() == OLD


def test_a_full_disk_while_saving_the_model_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / lesson.MODEL_FILE
    model.write_bytes(OLD)

    def full(descriptor: int, content: bytes) -> None:
        os.close(descriptor)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "write", full)
    code = lesson.main(["--section", "workflow", "--section", "next_steps", "--outdir", str(tmp_path)])
    err = one_line(capsys.readouterr().err)
    assert code == 2
    assert f"could not save {model} (No space left on device); any earlier file there is left as it was." in err
    assert err.endswith("The run stopped in section 7 (workflow): the rest of it and section 8 did not run.\n"), err
    assert model.read_bytes() == OLD and leftovers(tmp_path) == []


# --- a signal in the middle of a save, in a real process -----------------------------------------

PAUSED = "the save is half written"
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from lesson_support import files

    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal, whatever this test inherits

    def half_then_wait(descriptor, content):
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content[: len(content) // 2])
            handle.flush()
            print({paused!r}, file=sys.stderr, flush=True)
            time.sleep(120)
            handle.write(content[len(content) // 2 :])

    files.write = half_then_wait
    import lesson
    sys.exit(lesson.main(sys.argv[1:]))
    """
).format(paused=PAUSED)


@POSIX
@pytest.mark.parametrize(
    ("signal_sent", "how", "code", "sections", "name", "where", "later"),
    [
        (
            signal.SIGTERM,
            "SIGTERM",
            143,
            ["training", "learning_rate"],
            "training.png",
            "section 5 (training)",
            "the rest of it and section 6",
        ),
        (signal.SIGINT, "Ctrl-C", 130, ["workflow"], lesson.MODEL_FILE, "section 7 (workflow)", "the rest of it"),
    ],
    ids=["SIGTERM-figure", "Ctrl-C-model"],
)
def test_a_signal_in_the_middle_of_a_save_leaves_the_file_whole_and_names_it(
    signal_sent: signal.Signals,
    how: str,
    code: int,
    sections: list[str],
    name: str,
    where: str,
    later: str,
    tmp_path: Path,
) -> None:
    target = tmp_path / name
    target.write_bytes(OLD)
    argv = [arg for section in sections for arg in ("--section", section)] + ["--outdir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        said = child.stderr.readline().decode()
        assert said.strip() == PAUSED, said + child.stderr.read().decode()
        assert target.read_bytes() == OLD and len(leftovers(tmp_path)) == 1, "paused with the half in a .part file"
        child.send_signal(signal_sent)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == code, err.decode()
    assert one_line(err.decode()) == (
        f"lesson.py: error: stopped by {how} in {where} while saving {name}, which is left as it was; "  # from here
        f"{later} did not run, so saved nothing.\n"
    )
    assert target.read_bytes() == OLD and leftovers(tmp_path) == []


@POSIX
def test_a_file_size_limit_fills_the_disk_and_the_figure_is_kept(tmp_path: Path) -> None:
    figure = tmp_path / "data_and_cost.png"
    figure.write_bytes(OLD)
    limited = textwrap.dedent(
        """
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        import lesson
        sys.exit(lesson.main(sys.argv[1:]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    ran = subprocess.run(
        [sys.executable, "-c", limited, "--section", "data_and_cost", "--outdir", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    assert "could not save data_and_cost.png (File too large); any earlier file there is left as it was." in one_line(
        ran.stderr
    )
    assert figure.read_bytes() == OLD and leftovers(tmp_path) == []


# --- one folder, said once ---------------------------------------------------------------------


def test_an_empty_outdir_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for empty in ("", " "):
        with pytest.raises(SystemExit) as caught:
            lesson.main(["--outdir", empty])
        assert caught.value.code == 2
        err = one_line(capsys.readouterr().err)
        assert "argument --outdir: an empty folder name; name a folder for the figures and saved models" in err, err


def test_from_another_folder_the_lesson_saves_where_run_it_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader import run_it

    repository_figures = tmp_path / "repository" / "figures"  # the repository's root, moved away from the folder
    monkeypatch.setattr(cli, "OUTDIR", repository_figures)
    monkeypatch.setattr(run_it, "OUTDIR", repository_figures)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out = run_main(["--section", "data_and_cost"])
    assert code == 0
    assert out.startswith(f"{cli.FILES_LINE} {repository_figures} (--outdir picks another folder)"), out
    assert f"  figure saved: {repository_figures / 'data_and_cost.png'}\n" in out
    assert run_it.shown_output(run_it.output_path("data_and_cost.png")) in out, "one rule, printed one way"
    assert list(elsewhere.iterdir()) == []


def test_the_whole_model_saved_by_deeper_is_told(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson.main(["--deeper", "--section", "workflow", "--outdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"torch.save(model, path) wrote {tmp_path / lesson.WHOLE_MODEL_FILE}\n" in out
    saved = sorted(path.name for path in tmp_path.iterdir())
    assert saved == sorted([lesson.MODEL_FILE, lesson.WHOLE_MODEL_FILE, "workflow.png"]), saved


def test_the_line_that_says_where_files_go_is_the_one_the_tests_leave_out() -> None:
    import conftest

    assert conftest.FILES_LINE == cli.FILES_LINE


# --- data files: regular ones, of a stated size ------------------------------------------------


@POSIX
def test_a_fifo_is_refused_without_waiting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "deliveries.csv"
    os.mkfifo(fifo)
    assert lesson.main(["--no-plots", "--data", str(fifo)]) == 2  # a writer never comes: it must not wait for one
    assert one_line(capsys.readouterr().err) == (
        f"lesson.py: error: {fifo}: is a named pipe (FIFO), not a CSV file; pass a regular file.\n"
    )


@POSIX
def test_a_device_is_refused_before_it_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson.main(["--no-plots", "--data", "/dev/zero"]) == 2
    assert "/dev/zero: is a device, not a CSV file; pass a regular file." in one_line(capsys.readouterr().err)


def test_a_file_above_the_size_limit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    large = tmp_path / "deliveries.csv"
    with large.open("wb") as handle:
        handle.truncate(data.MAX_DATA_MB * 1024 * 1024 + 1)  # sparse: no disk space needed
    assert lesson.main(["--no-plots", "--data", str(large)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"lesson.py: error: {large}: larger than {data.MAX_DATA_MB} MB, the most this lesson reads as data; use a "
        "smaller sample of it.\n"
    )


def test_a_duplicated_column_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    twice = tmp_path / "deliveries.csv"
    twice.write_text("distance_miles,time_minutes,distance_miles\n1,7,10\n2,12,20\n")
    assert lesson.main(["--no-plots", "--data", str(twice)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"lesson.py: error: {twice}, line 1: the column 'distance_miles' appears more than once (columns 1 and 3); "
        "keep one, so that it is clear which to use.\n"
    )


# --- options and the environment ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--lr", "3.5e39"], "argument --lr: 3.5e39 is larger than float32, which the model computes in, can hold"),
        (["--lr", "1e-46"], "argument --lr: 1e-46 is 0 in float32, which the model computes in, so nothing"),
        (["--lr", "1e-320"], "argument --lr: 1e-320 is 0 in float32"),
        (["--section", "²"], "argument --section: invalid choice: '²' (choose a number or a name: 1 prediction, "),
    ],
)
def test_options_float32_and_unicode_digits_cannot_hold_are_refused(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        lesson.main(argv)
    assert caught.value.code == 2
    assert expected in one_line(capsys.readouterr().err)


def lesson_process(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """python lesson.py with no display and the given environment variables."""
    environment = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    command = [sys.executable, str(ROOT / "lesson.py"), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**environment, **env})


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("argv", [["--list"], ["--no-plots", "--section", "prediction"]])
def test_output_to_a_full_disk_is_told_as_such(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:  # every write to it fails with ENOSPC
        monkeypatch.setattr(sys, "stdout", full)
        assert lesson.main(argv) == 2
    assert one_line(capsys.readouterr().err) == (
        "lesson.py: error: could not write the lesson's output (No space left on device); send it to a file on a "
        "disk with room, or let it go to the terminal.\n"
    )


def test_an_unknown_mplbackend_is_named(tmp_path: Path) -> None:
    ran = lesson_process(["--section", "prediction", "--outdir", str(tmp_path)], MPLBACKEND="nonsense")
    assert ran.returncode == 2 and ran.stdout == ""
    assert one_line(ran.stderr).startswith(
        "lesson.py: error: MPLBACKEND is set to 'nonsense', a backend matplotlib does not know; unset it"
    )


# --- verdicts that follow the numbers ----------------------------------------------------------


def test_inputs_near_1e_30_give_a_step_just_below_the_limit_that_is_below_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("distance_miles,time_minutes\n1e-30,7\n2e-30,12\n3e-30,17\n")
    limit = lesson.max_stable_lr(lesson.load_distance_time(tiny)[0])
    assert limit == 1.0, "2/λmax is exactly 1 here: a limit with so few digits that rounding down must step below it"
    assert lesson.main(["--no-plots", "--section", "learning_rate", "--section", "training", "--data", str(tiny)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "(just below the limit)" in line)
    assert row.startswith("  lr 0.9999 (just below the limit):") and "diverging" not in row, row
    assert "Not close (close is within 10%)" in out and "Close, within" not in out, out
    assert re.search(r"loss 16\.\d+, above the closed form.s", out), out
