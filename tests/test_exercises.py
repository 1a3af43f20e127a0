"""The exercise grader: every check runs on your exercises/ex*.py and on the reference solutions.

    python -m pytest -m ex1      # one exercise (ex1 to ex4)
    python -m pytest             # everything; the summary at the end says which exercises you solved

A function that still raises NotImplementedError is reported as not attempted yet (skipped).
"""

from __future__ import annotations

from pathlib import Path

import grading
import pytest
import torch
from grading import Answer

import lesson

pytestmark = [
    pytest.mark.time_limit(30),  # a learner's endless loop fails after 30 s with a message
    pytest.mark.usefixtures("in_a_scratch_folder"),  # files a learner's code writes land outside the repository
]
WHO = ["yours", "reference"]

GRADER_ADULTS = {  # the grader's own data: adult heights with means 160 to 180 cm and spreads up to 10 cm
    "short adults": {"mean_cm": 162.0, "spread_cm": 6.0, "slope": 0.7, "n": 150, "seed": 11},
    "tall adults": {"mean_cm": 178.0, "spread_cm": 10.0, "slope": 1.1, "n": 400, "seed": 12},
}


def _answer(number: int, who: str) -> Answer:
    return Answer.load(number, yours=who == "yours")


@pytest.fixture(params=WHO)
def ex1(request: pytest.FixtureRequest) -> Answer:
    return _answer(1, request.param)


@pytest.fixture(params=WHO)
def ex2(request: pytest.FixtureRequest) -> Answer:
    return _answer(2, request.param)


@pytest.fixture(params=WHO)
def ex3(request: pytest.FixtureRequest) -> Answer:
    return _answer(3, request.param)


# --- exercise 1 ------------------------------------------------------------------------------


@pytest.mark.ex1
def test_ex1_data_shapes(ex1: Answer) -> None:
    grading.check_data_contract(ex1)


@pytest.mark.ex1
def test_ex1_data_same_seed_same_data(ex1: Answer) -> None:
    grading.check_data_seed(ex1)


@pytest.mark.ex1
def test_ex1_data_looks_like_adults(ex1: Answer) -> None:
    grading.check_data_realistic(ex1)


@pytest.mark.ex1
def test_ex1_fit_on_the_shipped_csv(ex1: Answer) -> None:
    heights, weights = lesson.load_csv(lesson.DATA_DIR / "height_weight.csv", "height_cm", "weight_kg")
    grading.check_fit(ex1, heights, weights, "data/height_weight.csv")


@pytest.mark.ex1
@pytest.mark.parametrize("group", list(GRADER_ADULTS))
def test_ex1_fit_on_the_graders_data(ex1: Answer, group: str) -> None:
    grading.check_fit(ex1, *grading.adults(**GRADER_ADULTS[group]), f"the grader's {group}")


@pytest.mark.ex1
@pytest.mark.shipped_data
def test_ex1_shipped_csv_comes_from_the_reference_generator() -> None:
    from exercises.solutions.ex1_height_weight import make_height_weight_data

    grading.check_shipped_csv(
        lesson.DATA_DIR / "height_weight.csv", ("height_cm", "weight_kg"), make_height_weight_data(200, seed=0)
    )


# --- exercise 2 ------------------------------------------------------------------------------


@pytest.mark.ex2
def test_ex2_histories_on_the_article_data(ex2: Answer) -> None:
    grading.check_compare(ex2, *lesson.load_distance_time())


@pytest.mark.ex2
def test_ex2_histories_with_other_settings(ex2: Answer) -> None:
    x, y = grading.line_data(30, slope=-1.5, intercept=2.0, noise=0.2, seed=4)
    grading.check_compare(ex2, x, y, epochs=40, lr_sgd=0.05, lr_adam=0.02, seed=7)


@pytest.mark.ex2
@pytest.mark.parametrize(
    ("losses", "target", "expected"),
    [
        ([5.0, 3.0, 1.0], 3.0, 1),  # "at most": equal counts
        ([5.0, 3.0, 1.0], 2.0, 2),
        ([5.0, 3.0, 1.0], 9.0, 0),
        ([5.0, 3.0, 1.0], 0.5, None),
        ([4.0, 1.0, 3.0, 0.5], 2.0, 1),  # the first, not the last
        ([], 1.0, None),
    ],
)
def test_ex2_epochs_to_reach(ex2: Answer, losses: list[float], target: float, expected: int | None) -> None:
    got = ex2("epochs_to_reach", losses, target)
    if got != expected:
        grading.fail(
            f"epochs_to_reach({losses}, {target}) should be {expected!r}, but it returned {got!r}. It is the index "
            "k of the first loss with losses[k] <= target, counting from 0, or None if there is none."
        )


@pytest.mark.ex2
def test_ex2_plot(ex2: Answer, agg: None) -> None:
    x, y = lesson.load_distance_time()
    histories = {
        "sgd": grading.reference_history(x, y, grading.seeded_model(0), torch.optim.SGD, 0.01, 30),
        "adam": grading.reference_history(x, y, grading.seeded_model(0), torch.optim.Adam, 0.1, 30),
    }
    grading.check_plot_comparison(ex2, histories)


# --- exercise 3 ------------------------------------------------------------------------------


@pytest.mark.ex3
def test_ex3_history_on_the_article_data(ex3: Answer) -> None:
    grading.check_train_with_history(ex3, *lesson.load_distance_time(), seed=lesson.SEED)


@pytest.mark.ex3
def test_ex3_history_with_other_settings(ex3: Answer) -> None:
    x, y = grading.line_data(25, slope=0.5, intercept=-1.0, noise=0.3, seed=9)
    grading.check_train_with_history(ex3, x, y, seed=2, epochs=60, lr=0.05)


@pytest.mark.ex3
def test_ex3_plot(ex3: Answer, agg: None) -> None:
    grading.check_plot_loss_curve(ex3, [10.0 / (k + 1) for k in range(40)], None)


@pytest.mark.ex3
def test_ex3_plot_saves_a_png(ex3: Answer, agg: None, tmp_path: Path) -> None:
    grading.check_plot_loss_curve(ex3, [2.0, 1.0, 0.7, 0.6], tmp_path / "curve.png")


# --- exercise 4 ------------------------------------------------------------------------------

GRADER_PLANES = {  # the grader's own data for exercise 4: planes y = x·wᵀ + b plus noise, x standard normal
    "plane": {"n": 200, "weights": (1.5, -2.0), "bias": 0.5, "noise": 0.1, "seed": 21},
    "small plane": {"n": 90, "weights": (-0.8, 2.5), "bias": -1.0, "noise": 0.03, "seed": 22},
}


@pytest.fixture(params=WHO)
def ex4(request: pytest.FixtureRequest) -> Answer:
    return _answer(4, request.param)


@pytest.fixture(scope="session")
def grading_ex4():
    """Exercise 4's checks, in tests/grading_ex4.py beside grading.py."""
    import grading_ex4

    return grading_ex4


@pytest.mark.ex4
def test_ex4_split(ex4: Answer, grading_ex4) -> None:
    grading_ex4.check_split(ex4)


@pytest.mark.ex4
def test_ex4_validation_loss(ex4: Answer, grading_ex4) -> None:
    grading_ex4.check_validation_loss(ex4, *grading_ex4.plane_data(**GRADER_PLANES["small plane"]))


@pytest.mark.ex4
def test_ex4_training_with_the_defaults(ex4: Answer, grading_ex4) -> None:
    grading_ex4.check_training(ex4, *grading_ex4.plane_data(**GRADER_PLANES["plane"]), n_validation=40, split_seed=1)


@pytest.mark.ex4
def test_ex4_training_with_other_settings(ex4: Answer, grading_ex4) -> None:
    x, y = grading_ex4.plane_data(**GRADER_PLANES["small plane"])
    grading_ex4.check_training(
        ex4, x, y, n_validation=20, split_seed=2, epochs=8, batch_size=16, lr=0.1, seed=5, device=torch.device("cpu")
    )


@pytest.mark.ex4
def test_ex4_same_seed_same_batches(ex4: Answer, grading_ex4) -> None:
    x, y = grading_ex4.plane_data(**GRADER_PLANES["small plane"])
    grading_ex4.check_training_seed(ex4, x, y, n_validation=20, epochs=1, batch_size=16)


@pytest.mark.ex4
def test_ex4_save_model(ex4: Answer, grading_ex4, tmp_path: Path) -> None:
    grading_ex4.check_save(ex4, grading_ex4.plane_data(**GRADER_PLANES["small plane"])[0], tmp_path)


@pytest.mark.ex4
def test_ex4_load_model(ex4: Answer, grading_ex4, tmp_path: Path) -> None:
    grading_ex4.check_load(ex4, grading_ex4.plane_data(**GRADER_PLANES["small plane"])[0], tmp_path)
