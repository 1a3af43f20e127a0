"""What to say when the lesson runs in a Python that lacks its packages: usually a terminal whose
virtual environment was never activated."""

from __future__ import annotations

import os
import sys

ACTIVATE = r".venv\Scripts\activate" if os.name == "nt" else ". .venv/bin/activate"


def not_installed(error: ModuleNotFoundError, program: str = "lesson.py") -> str:
    """One line for a missing package: which, for which Python, and the command that fixes it."""
    return (
        f"{program}: error: {error.name} is not installed for this Python ({sys.executable}); activate the "
        f"lesson's environment first with {ACTIVATE} (a new terminal needs it again), or install the packages "
        "with the README's install command."
    )
