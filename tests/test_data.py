"""Loading and making data: every broken file gets a DatasetError that names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import lesson

HEADER = "distance_miles,time_minutes\n"
NOISE_STD_RTOL = 0.1  # a sample of 6000 draws has a standard deviation within 10% of σ


def load(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return lesson.load_csv(path, "distance_miles", "time_minutes")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "empty", id="empty file"),
        pytest.param("\n \n", "empty", id="blank lines only"),
        pytest.param(HEADER, "no data rows", id="header only"),
        pytest.param("distance,time\n1,2\n3,4\n", "line 1: no column named 'distance_miles'", id="unknown column"),
        pytest.param(
            HEADER + "1,2\nthree,4\n", "line 3: 'three' in column 'distance_miles' is not a number", id="text"
        ),
        pytest.param(HEADER + "1,\n2,3\n", "line 2: '' in column 'time_minutes' is not a number", id="empty cell"),
        pytest.param(HEADER + "1,nan\n2,3\n", "line 2: 'nan' in column 'time_minutes' is not a finite", id="nan"),
        pytest.param(HEADER + "1,2\n-inf,3\n", "line 3: '-inf' in column 'distance_miles' is not a finite", id="inf"),
        pytest.param(HEADER + "1,2\n2,1e39\n", "line 3: '1e39'", id="beyond float32"),
        pytest.param(HEADER + "1,2\n2,3,4\n", "line 3: 3 cells where the header has 2", id="ragged long row"),
        pytest.param(HEADER + "1\n2,3\n", "line 2: 1 cell where the header has 2", id="ragged short row"),
        pytest.param(HEADER + "1,2\n", "at least 2 points", id="one row"),
        pytest.param(
            HEADER + "1.5,2\n1.5,3\n", "every value in column 'distance_miles' is 1.5", id="one distance only"
        ),
    ],
)
def test_bad_file_is_named_with_its_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "deliveries.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(lesson.DatasetError) as caught:
        load(path)
    message = str(caught.value)
    assert "deliveries.csv" in message, f"the message should name the file; it was: {message}"
    assert expected in message, f"the message should say {expected!r}; it was: {message}"


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")])
def test_a_separator_other_than_a_comma_is_named(tmp_path: Path, separator: str, name: str) -> None:
    path = tmp_path / "deliveries.csv"
    path.write_text(HEADER.replace(",", separator) + f"1{separator}7\n2{separator}12\n", encoding="utf-8")
    with pytest.raises(lesson.DatasetError) as caught:
        load(path)
    message = str(caught.value)
    assert f"separated by {name}, not commas" in message and "comma-separated" in message, message


def test_a_learners_missing_file_is_not_told_to_use_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(lesson.DatasetError) as caught:
        load(Path("my_deliveries.csv"))
    message = str(caught.value)
    assert "git" not in message, message
    assert str(tmp_path) in message and "check the folder and the file name" in message, message


def test_a_missing_shipped_file_is_restored_with_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lesson_support import data

    shipped = tmp_path / "distance_time.csv"
    monkeypatch.setattr(data, "DISTANCE_TIME_CSV", shipped)
    with pytest.raises(lesson.DatasetError, match=r"git checkout -- data/distance_time\.csv"):
        data.load_distance_time(shipped)


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(lesson.DatasetError, ValueError), "DatasetError should subclass ValueError"


@pytest.mark.parametrize("kind", ["missing", "folder", "not text"])
def test_unreadable_path_is_a_dataset_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "deliveries.csv"
    if kind == "folder":
        path.mkdir()
    elif kind == "not text":
        path.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    with pytest.raises(lesson.DatasetError, match=r"deliveries\.csv"):
        load(path)


def test_tolerant_of_a_bom_spaces_crlf_extra_columns_and_order(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.csv"
    path.write_bytes(b"\xef\xbb\xbfdriver, time_minutes ,distance_miles\r\nann, 6.5 ,1\r\n\r\nbo,12,2.0\r\n")
    distances, times = load(path)
    assert distances.tolist() == [[1.0], [2.0]], f"distances read as {distances.tolist()}"
    assert times.tolist() == [[6.5], [12.0]], f"times read as {times.tolist()}"


def test_load_distance_time_is_the_article_data() -> None:
    distances, times = lesson.load_distance_time()
    assert distances.dtype == times.dtype == torch.float32
    assert distances.shape == times.shape == (4, 1)
    assert distances.reshape(-1).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert times.reshape(-1).tolist() == pytest.approx([6.96, 12.11, 16.77, 22.21], rel=1e-6)


def test_make_line_data_shape_and_grid() -> None:
    x, y = lesson.make_line_data(2.0, 1.0)
    assert x.shape == y.shape == (60, 1), f"expected (60, 1), got {tuple(x.shape)} and {tuple(y.shape)}"
    assert x[0, 0].item() == pytest.approx(-3.0) and x[-1, 0].item() == pytest.approx(2.9, abs=1e-5)


def test_make_line_data_without_noise_is_the_line() -> None:
    x, y = lesson.make_line_data(-3.0, 0.5, noise_std=0.0)
    torch.testing.assert_close(y, -3.0 * x + 0.5)


def test_make_line_data_seed_fixes_the_noise() -> None:
    first, again, other = (lesson.make_line_data(1.0, -1.0, seed=seed)[1] for seed in (7, 7, 8))
    assert torch.equal(first, again), "the same seed must give the same data"
    assert not torch.equal(first, other), "a different seed must give different noise"


def test_make_line_data_noise_has_the_asked_spread() -> None:
    residuals = torch.cat([lesson.make_line_data(0.0, 0.0, noise_std=0.5, seed=seed)[1] for seed in range(100)])
    assert residuals.std().item() == pytest.approx(0.5, rel=NOISE_STD_RTOL)
    assert abs(residuals.mean().item()) < 0.05
