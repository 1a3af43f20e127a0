"""Exercises for the lesson: fill in the ex*.py files, then check them with `python -m pytest`."""
