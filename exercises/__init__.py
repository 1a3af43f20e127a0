"""Exercises for the lesson: fill in the ex*.py files, then check them with `python -m pytest`."""

import sys

if "-m" in sys.orig_argv[:-1]:  # python -m exercises.ex1_...: a file Python cannot run is told in a sentence
    _running = sys.orig_argv[sys.orig_argv.index("-m") + 1]
    if _running.startswith("exercises.") and _running != "exercises.__main__":
        from grader.run_it import before_running

        before_running(_running)
