"""`python -m pytest -m EXERCISE` in each of several folders, from one Python that imports torch once.

    python tests/pytest_verdicts.py ex1 FOLDER...   # writes FOLDER/junit.xml in each; exits 0

For tests/watch_session.py: the verdicts that the watcher's screens are compared with. Each
folder's run is pytest's own `main`, with the arguments the learner types, in a child forked
from this process before it imports anything of the project (only torch, numpy and matplotlib):
so every run collects the folder's tests and imports its exercise file afresh, as a cold
`python -m pytest` does, and the three runs pay for one import of torch instead of three. A
platform without fork runs each folder in a fresh Python instead.
"""

from __future__ import annotations

import os
import subprocess
import sys


def pytest_in(folder: str, exercise: str) -> list[str]:
    return ["-m", exercise, f"--junitxml={os.path.join(folder, 'junit.xml')}"]


def main(argv: list[str]) -> int:
    exercise, folders = argv[0], argv[1:]
    if not hasattr(os, "fork"):
        for folder in folders:
            subprocess.run([sys.executable, "-m", "pytest", *pytest_in(folder, exercise)], cwd=folder, check=False)
        return 0
    import matplotlib  # noqa: F401  (what every run imports anyway; the children inherit it)
    import numpy  # noqa: F401
    import pytest
    import torch  # noqa: F401

    children = []
    for folder in folders:
        pid = os.fork()
        if pid == 0:
            os.chdir(folder)
            sys.path[0] = folder  # what `python -m pytest` run in that folder puts first
            sys.argv = [sys.argv[0]]
            code = 3
            try:
                code = int(pytest.main(pytest_in(folder, exercise)))
            finally:
                sys.stdout.flush()
                os._exit(code)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
