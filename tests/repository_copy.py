"""A copy of the repository to run the watcher or pytest in, without its environments and caches."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_repository(target: Path) -> Path:
    skip = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "lesson.ipynb"}
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
