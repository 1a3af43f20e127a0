"""The files the lesson ships that a learner's code must leave alone, checked against their known content.

data/ (the lesson's and the exercises' data) and exercises/solutions/ (the reference answers the
checks compare with) are shipped: grader/shipped.json holds the sha256 of each, as the repository
holds it (line endings as LF, so a Windows checkout matches). `Keeper` remembers the files that
match it when the checks start, puts back any a learner's code changed or deleted, and names each
in a sentence; a file that did not match to begin with (changed by hand, or by a run that was
killed) is named with the command that restores it, never blamed on the grader or the reference.

After changing a shipped file on purpose: python -m grader.shipped (writes grader/shipped.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("data", "exercises/solutions")
MANIFEST = Path(__file__).with_name("shipped.json")


def digest(content: bytes) -> str:
    return hashlib.sha256(content.replace(b"\r\n", b"\n")).hexdigest()


def on_disk(root: Path = ROOT) -> list[str]:
    """The shipped folders' files as they are now, as paths relative to the repository (caches left out)."""
    found = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found.append(path.relative_to(root).as_posix())
    return found


def known() -> dict[str, str]:
    """Every shipped file, as a path relative to the repository, and the sha256 of its content."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def restore_command(paths: list[str]) -> str:
    return f"git checkout -- {' '.join(paths)}"


def write_whole(path: Path, content: bytes) -> None:
    """Write `content` to `path` whole or not at all: into a file beside it, then moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Keeper:
    """The shipped files as the checks found them: those that match their known content, kept to put back."""

    def __init__(self, root: Path = ROOT, manifest: dict[str, str] | None = None) -> None:
        self.root = root
        self.kept: dict[str, bytes] = {}
        self.damaged: list[str] = []  # shipped files that did not match their known content to begin with
        for relative, expected in (known() if manifest is None else manifest).items():
            content = _read(root / relative)
            if content is not None and digest(content) == expected:
                self.kept[relative] = content
            else:
                self.damaged.append(relative)

    def damaged_sentence(self) -> str | None:
        """What is wrong with the shipped files before any check ran, and how to restore them; None if nothing."""
        if not self.damaged:
            return None
        one = len(self.damaged) == 1
        it = "it" if one else "them"
        return (
            f"{_listed(self.damaged)} {'is' if one else 'are'} not as the lesson ships {it} (changed by hand, or by a "
            f"run that was stopped part-way); restore {it} with: {restore_command(self.damaged)}"
        )

    def put_back(self, what: str) -> list[str]:
        """Put back every kept file that changed or went missing; a sentence naming them and that `what` did it."""
        deleted, changed = [], []
        for relative, content in self.kept.items():
            path = self.root / relative
            now = _read(path)
            if now != content:
                write_whole(path, content)
                (deleted if now is None else changed).append(relative)
        if not deleted and not changed:
            return []
        done = " and ".join(
            f"{verb} {_listed(files)}" for verb, files in (("deleted", deleted), ("changed", changed)) if files
        )
        files = "a file" if len(deleted) + len(changed) == 1 else "files"
        them = "it" if files == "a file" else "them"
        return [
            f"{what} {done}, {files} the lesson ships; the grader has put {them} back. Write your own files "
            "elsewhere: in the current folder, or at a path you are given."
        ]


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def main() -> int:
    manifest = {relative: digest((ROOT / relative).read_bytes()) for relative in on_disk()}
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{MANIFEST.relative_to(ROOT).as_posix()}: {len(manifest)} shipped files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
