"""Two learner tests that never end and one that passes, for the time-limit plugin's own test.

tests/conftest.py copies this file into an empty folder and runs pytest there with only
`-p grader.time_limit`; test_grader.py checks that each endless test fails once, with the message, and
that the run goes on to the passing test and the summary.
"""

import pytest

from grader import time_limit


@pytest.fixture
def as_on_windows(monkeypatch):
    monkeypatch.setattr(time_limit, "has_alarm", lambda: False)  # signal has no SIGALRM there


@pytest.mark.time_limit(0.1)
def test_endless():
    while True:
        pass


@pytest.mark.time_limit(0.1)
def test_endless_on_windows(as_on_windows):
    while True:
        pass


def test_after():
    assert True
