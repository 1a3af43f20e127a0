"""`python -m exercises watch`: check an exercise again every time you save it (grader/watch.py).

`python -m exercises` alone says what there is; "run it" and "check it" stay the commands in
exercises/README.md.
"""

from __future__ import annotations

import sys

USAGE = """\
python -m exercises watch          check each exercise again every time you save its file
python -m exercises watch ex2      only exercise 2 (any of ex1 to ex4)
python -m exercises watch --help   the options (a time limit, a fresh Python per check)

Run an exercise on real data with python -m exercises.ex1_height_weight (and so on), check it
once with python -m pytest -m ex1; exercises/README.md has the table and the hints."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["watch"]:
        from grader import watch

        return watch.main(argv[1:])
    if argv and argv[0] not in ("-h", "--help", "help"):
        print(f"python -m exercises: there is no command {argv[0]!r}; the commands are:\n{USAGE}", file=sys.stderr)
        return 2
    print(USAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
