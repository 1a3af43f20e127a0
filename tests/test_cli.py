"""The command line: sections, options, and one clear line for every mistake."""

from __future__ import annotations

import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, SectionsAlone, run_main, where_files_went_left_out

import lesson
import lesson_support.figures
from lesson_support.closed_form import round_down


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run main(argv), expect argparse's exit 2, return what it wrote on stderr."""
    with pytest.raises(SystemExit) as caught:
        lesson.main(argv)
    assert caught.value.code == 2, f"{argv} should exit 2, exited {caught.value.code}"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lesson.py: error: "), f"one line, no usage block first:\n{err}"
    assert err.endswith("; python lesson.py --help lists the options.\n"), err
    return err


def test_importing_prints_writes_and_plots_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # A fresh import of lesson.py and its support package, where `import matplotlib` would fail.
    for name in [name for name in sys.modules if name.split(".")[0] in ("lesson_support", "matplotlib")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    spec = importlib.util.spec_from_file_location("lesson_fresh_import", ROOT / "lesson.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        pytest.fail(f"importing lesson must not import matplotlib, but it did: {error}", pytrace=False)
    assert capsys.readouterr() == ("", ""), "importing lesson must print nothing"
    assert list(tmp_path.iterdir()) == [], "importing lesson must write nothing"
    assert callable(module.main)  # monkeypatch puts the original modules back afterwards


def test_no_plots_never_imports_matplotlib(lesson_output: str) -> None:
    # lesson_output ran `--no-plots` with matplotlib made unimportable; it got through every section.
    assert "== 8. Next steps" in lesson_output


def test_output_is_free_of_nan_and_inf(lesson_output: str) -> None:
    found = re.findall(r"\b(?:nan|inf)\b", lesson_output, flags=re.IGNORECASE)
    assert not found, f"the lesson printed {found}"


def test_sections_alone_print_the_same_and_draw_labelled_figures(
    lesson_output: str, sections_alone: SectionsAlone
) -> None:
    # Every section seeds itself, so running them one at a time prints what the full run printed;
    # with plots on, the only difference is where files went ("figure saved", the saved model).
    from matplotlib.text import Text

    assert where_files_went_left_out(sections_alone.printed) == where_files_went_left_out(lesson_output)
    assert (sections_alone.folder / "figures" / "delivery_model.pt").is_file()

    figures = sections_alone.figures  # their names are held to docs/figures by test_lesson_run.py
    assert figures, "the sections emitted no figure"
    # Tick labels are made when a figure is drawn, at the sizes the lesson's style sets.
    style = lesson_support.figures.STYLE
    ticks = {key: style[key] for key in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "font.size")}
    assert min(ticks.values()) >= lesson_support.figures.MIN_FONT_PT, ticks
    for name, fig in figures.items():
        assert fig.get_figwidth() <= lesson_support.figures.WIDE, f"{name} is wider than a README column"
        small = {
            text.get_text(): text.get_fontsize()
            for text in fig.findobj(Text)
            if text.get_visible() and text.get_text() and text.get_fontsize() < lesson_support.figures.MIN_FONT_PT
        }
        assert not small, f"{name}: text below {lesson_support.figures.MIN_FONT_PT} pt: {small}"
        for ax in fig.axes:
            labels = [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
            assert all(labels), f"{name}: an axes lacks a label or title: {labels}"
            assert ax.lines or ax.collections or ax.patches, f"{name}: an axes with nothing drawn on it"


def test_list_names_the_sections(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == [
        word for number, name in enumerate(lesson.SECTIONS, 1) for word in (f"{number}.", name)
    ]


def test_unknown_section(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["--section", "trainig"], capsys)
    assert "invalid choice: 'trainig'" in err and "training" in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--lr", "0"], "not a positive finite number"),
        (["--lr", "-0.1"], "not a positive finite number"),
        (["--lr", "nan"], "not a positive finite number"),
        (["--lr", "inf"], "not a positive finite number"),
        (["--lr", "fast"], "'fast' is not a number"),
        (["--epochs", "0"], "not positive"),
        (["--epochs", "2.5"], "'2.5' is not a whole number"),
        (["--seed", "-1"], "outside"),
        (["--device", "tpu"], "'tpu' is not a device PyTorch knows"),
        (["--device", "cuda:x"], "'cuda:x' is not a device PyTorch knows"),
        (["--show", "--no-plots"], "contradict"),
        (["--dpi", "10"], "outside 30 to 600"),
        (["--dpi", "high"], "'high' is not a whole number of dots per inch"),
    ],
)
def test_bad_numbers_and_options_are_usage_errors(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(argv, capsys)
    assert expected in err, err
    assert "Traceback" not in err


def test_outdir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "figures"
    blocker.write_text("not a folder")
    assert "is a file, not a folder" in usage_error(["--outdir", str(blocker)], capsys)


def test_outdir_that_cannot_be_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "cannot create the figure folder" in usage_error(["--outdir", str(blocker / "figures")], capsys)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="a folder is read-only only on POSIX systems, and never for root"
)
def test_outdir_that_is_read_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert "is not writable" in usage_error(["--outdir", str(locked)], capsys)


def test_broken_data_file_stops_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "deliveries.csv"
    broken.write_text("distance_miles,time_minutes\n1,7\n2,twelve\n")
    assert lesson.main(["--no-plots", "--data", str(broken)]) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing should run before the data is checked"
    assert err.count("\n") == 1 and "deliveries.csv, line 3: 'twelve'" in err, err
    # With figures on, the figure folder is not even created.
    assert lesson.main(["--data", str(broken), "--outdir", str(tmp_path / "figures")]) == 2
    assert not (tmp_path / "figures").exists(), "a broken data file should stop the run before it creates folders"


def test_divergence_exits_1_with_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson.main(["--no-plots", "--section", "training", "--lr", "0.5"]) == 1
    out, err = capsys.readouterr()
    limit = lesson.max_stable_lr(lesson.load_distance_time()[0])
    printed = f"{round_down(limit):g}"
    assert float(printed) < limit, f"the limit is printed as {printed}, which is not below {limit}"
    assert f"not below 2/λmax, a little above {printed}" in out, out
    assert err.startswith("lesson.py: error: training diverged at epoch ") and err.count("\n") == 1, err
    assert f"steps below {printed} are stable" in err, err
    assert "Trained:" not in out, "a diverging run must not go on to tell the convergence story"
    assert not re.search(r"\b(?:nan|inf)\b", out + err, flags=re.IGNORECASE), out + err


@pytest.mark.skipif(torch.accelerator.is_available(), reason="this machine has an accelerator")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "xpu", "meta", "cpu:1"])
def test_a_device_this_machine_lacks(device: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["--device", device], capsys)
    assert f"PyTorch sees no {device} here; this machine has the cpu only, or use auto" in err, err


def test_any_device_the_accelerator_has_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    # A machine with two CUDA devices, as torch.accelerator reports it: cuda, cuda:0 and cuda:1 pass; cuda:2 does not.
    from lesson_support import runtime

    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: 2)
    assert runtime.devices_here() == ["cpu", "cuda:0", "cuda:1"]
    for name in ("cpu", "cuda", "cuda:0", "cuda:1"):
        assert runtime.pick_device(name) == torch.device(name)
    assert runtime.pick_device("auto") == torch.device("cuda")
    for name, sentence in (
        ("cuda:2", "PyTorch sees no cuda:2 here; this machine has cpu, cuda:0, cuda:1, or use auto"),
        ("mps", "PyTorch sees no mps here; this machine has cpu, cuda:0, cuda:1, or use auto"),
    ):
        with pytest.raises(ValueError, match=re.escape(sentence)):
            runtime.pick_device(name)


def test_auto_is_the_tutorials_line() -> None:
    from lesson_support import runtime

    expected = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    assert runtime.pick_device("auto") == torch.device(expected)
    source = (ROOT / "lesson.py").read_text(encoding="utf-8")
    line = 'torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"'
    assert line in source and line in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "torch.cuda.is_available" not in source
    code, text = run_main(["--no-plots", "--section", "workflow", "--device", "auto"])
    assert code == 0 and f"LinearRegression(2, 1) on {expected}," in text, text


def test_a_tensors_to_is_said_exactly() -> None:
    # README section 7: .to() returns a tensor on that device, the tensor itself when it is already there.
    tensor = torch.zeros(2)
    assert tensor.to("cpu") is tensor and tensor.to(torch.float64) is not tensor
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "a tensor's `.to(device)` returns a tensor on that device (the tensor itself when it is already there)" in (
        readme
    )


def test_options_reach_the_training_section() -> None:
    code, text = run_main(["--no-plots", "--section", "training", "--epochs", "20", "--lr", "0.02", "--seed", "1"])
    assert code == 0
    assert "optim.SGD(lr=0.02), 20 epochs" in text and "(seed 1)" in text, text


def test_show_without_a_display_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(lesson_support.figures.sys, "platform", "linux")
    code, text = run_main(["--section", "prediction", "--show", "--outdir", str(tmp_path)])
    assert code == 0
    assert "no display found" in text and "saved as PNG files" in text, text


def test_show_where_no_window_can_open_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A DISPLAY that leads nowhere: matplotlib falls back to drawing into files only.
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(lesson_support.figures.sys, "platform", "linux")
    code, text = run_main(["--section", "data_and_cost", "--show", "--outdir", str(tmp_path), "--dpi", "40"])
    assert code == 0
    assert "no window could be opened here" in text, text
    data = (tmp_path / "data_and_cost.png").read_bytes()
    width = int.from_bytes(data[16:20], "big")
    assert width == round(6.4 * 40), f"--dpi 40 should make a 6.4-inch figure 256 px wide, not {width}"


def test_output_redirected_on_windows_is_written_in_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    # `python lesson.py > out.txt` on Windows writes in a code page such as cp1252, which has no σ.
    raw = io.BytesIO()
    redirected = io.TextIOWrapper(raw, encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", redirected)
    assert lesson.main(["--section", "data_and_cost", "--no-plots"]) == 0
    redirected.flush()
    text = raw.getvalue().decode("utf-8")
    assert "σ" in text and "ŷ" in text, text


def test_the_self_check_answers_are_what_the_lesson_prints(
    lesson_output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Question 4 asks about --lr 0.12; the other answers come from the plain run.
    assert lesson.main(["--no-plots", "--section", "training", "--lr", "0.12"]) == 1
    out, err = capsys.readouterr()
    assert "training diverged at epoch 1: " in err, err
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    answers = readme.split("<summary>Answers</summary>", 1)[1].split("</details>", 1)[0]
    answers = re.sub(r"^\d+\. ", "", answers, flags=re.MULTILINE)  # the list's own numbers
    number = r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?%?"
    printed = set(re.findall(number, lesson_output + out + err)) | {"0.12"}  # 0.12 is the question's own
    missing = [value for value in re.findall(number, re.sub(r"`[^`]*`", "", answers)) if value not in printed]
    assert not missing, f"the README's self-check answers quote numbers the lesson does not print: {missing}"
    assert "sets it\n  to None," in lesson_output
    assert "RuntimeError: a leaf Variable that requires grad is being used in an in-place operation." in lesson_output
    assert "a leaf Variable that requires grad is being used in an in-place\n   operation." in answers


def test_a_python_without_torch_gets_one_sentence_naming_the_activate_command() -> None:
    # As in a new terminal where the lesson's environment was never activated: torch cannot be imported.
    hide_torch = "import runpy, sys; sys.modules['torch'] = None; runpy.run_path('lesson.py', run_name='__main__')"
    ran = subprocess.run([sys.executable, "-c", hide_torch], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 1 and ran.stdout == "", ran
    assert ran.stderr.count("\n") == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert ran.stderr.startswith("lesson.py: error: torch is not installed for this Python"), ran.stderr
    assert ". .venv/bin/activate" in ran.stderr or r".venv\Scripts\activate" in ran.stderr, ran.stderr


@pytest.mark.parametrize(
    ("program", "call"),
    [
        ("python -m pytest", "import pytest; sys.exit(pytest.main(['-p', 'no:cacheprovider', '-q']))"),
        ("python -m exercises watch", "from exercises.__main__ import main; sys.exit(main(['watch']))"),
    ],
    ids=["pytest", "watch"],
)
def test_pytest_and_the_watcher_without_torch_say_the_same_one_sentence(program: str, call: str) -> None:
    hide_torch = f"import sys; sys.modules['torch'] = None; {call}"
    ran = subprocess.run([sys.executable, "-c", hide_torch], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert ran.returncode != 0 and "Traceback" not in ran.stdout + ran.stderr, ran
    said = ran.stderr.strip().removeprefix("Exit: ")
    assert said.count("\n") == 0 and said.startswith(f"{program}: error: torch is not installed"), ran.stderr
    assert ". .venv/bin/activate" in said or r".venv\Scripts\activate" in said, said
    assert "error" not in ran.stdout, ran.stdout


def test_a_section_by_its_number_is_the_section_by_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson.main(["--no-plots", "--section", "6"]) == 0
    by_number = capsys.readouterr().out
    assert lesson.main(["--no-plots", "--section", "learning_rate"]) == 0
    assert by_number == capsys.readouterr().out and by_number.startswith("\n== 6. ")
    err = usage_error(["--section", str(len(lesson.SECTIONS) + 1)], capsys)
    assert f"invalid choice: '{len(lesson.SECTIONS) + 1}'" in err and "5 training" in err, err


def test_deeper_adds_each_optional_part_after_its_section(deeper_output: str, lesson_output: str) -> None:
    from lesson_support.runtime import GOING_DEEPER_MARK

    headings = re.findall(rf"^(== \d|{re.escape(GOING_DEEPER_MARK)} \d)", deeper_output, re.MULTILINE)
    numbers = [int(heading[-1]) for heading in headings]
    assert numbers == sorted(numbers), headings
    deeper = [list(lesson.SECTIONS).index(name) + 1 for name in lesson.GOING_DEEPER]
    assert [n for h, n in zip(headings, numbers, strict=True) if h.startswith("--")] == deeper, headings
    assert GOING_DEEPER_MARK not in lesson_output


def test_an_epoch_count_that_would_run_for_hours_is_announced_from_a_measured_epoch() -> None:
    from lesson_support import cli, runtime

    sentence = cli.long_run_warning(runtime.Run(epochs=1_000_000_000))
    assert sentence is not None, "a billion epochs must be announced at the start"
    per_epoch = float(re.search(r"one epoch of its loop took (\d+) µs", sentence)[1])
    assert per_epoch > 0, sentence
    assert sentence.startswith("--epochs 1000000000: the training section would take at least "), sentence
    assert "Ctrl-C stops it" in sentence
    assert cli.long_run_warning(runtime.Run()) is None, "the default run must start without a warning"
