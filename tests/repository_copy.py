"""A copy of the repository to run the watcher or pytest in, without its environments and tools' caches."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_repository(target: Path) -> Path:
    # __pycache__ is kept: its .pyc files match the copied sources (same size and time), so runs in the
    # copy need not compile them again; the grader never trusts a .pyc of an exercise file.
    skip = {".git", ".venv", "venv", ".pytest_cache", ".ruff_cache", "lesson.ipynb"}
    shutil.copytree(
        ROOT,
        target,
        ignore=lambda folder, names: [
            name
            for name in names
            if name in skip
            or name.endswith(".egg-info")
            or (Path(folder) / name / "pyvenv.cfg").exists()  # a virtual environment, whatever its name
            or (Path(folder) == ROOT and name == "figures")
        ],
    )
    return target
