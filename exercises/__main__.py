"""`python -m exercises watch`: check an exercise again every time you save it (grader/watch.py).

`python -m exercises run ex4` is "run it" spelt another way (the same as
`python -m exercises.ex4_train_validate_save`). `python -m exercises` alone says what there is;
"run it" and "check it" stay the commands in exercises/README.md.
"""

from __future__ import annotations

import sys

from exercises.catalog import EXERCISES

USAGE = f"""\
python -m exercises watch          check each exercise again every time you save its file
python -m exercises watch ex2      only exercise 2 (any of {EXERCISES[0].marker} to {EXERCISES[-1].marker})
python -m exercises watch --help   the options (a time limit, a fresh Python per check)
python -m exercises run ex4        run exercise 4 on real data, as python -m exercises.ex4_train_validate_save does

Run an exercise on real data with python -m exercises.ex1_height_weight (and so on), check it
once with python -m pytest -m ex1; exercises/README.md has the table and the hints."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["watch"]:
        from grader import watch

        return watch.main(argv[1:])
    if argv[:1] == ["run"]:
        return run(argv[1:])
    if argv and argv[0] not in ("-h", "--help", "help"):
        print(f"python -m exercises: there is no command {argv[0]!r}; the commands are:\n{USAGE}", file=sys.stderr)
        return 2
    print(USAGE)
    return 0


def run(names: list[str]) -> int:
    """`python -m exercises run exN`: import the exercise file and run it, as `python -m exercises.<file>` does."""
    import importlib

    from exercises.catalog import BY_MARKER

    if len(names) != 1 or names[0] not in BY_MARKER:
        print(
            f"python -m exercises run: name one exercise, one of {', '.join(BY_MARKER)}; for example: "
            f"python -m exercises run {next(iter(BY_MARKER))}.",
            file=sys.stderr,
        )
        return 2
    exercise = BY_MARKER[names[0]]
    try:
        module = importlib.import_module(exercise.module)
        from grader.run_it import run_it
    except KeyboardInterrupt:
        print(f"Exercise {exercise.number} stopped: you pressed Ctrl-C before it ran.", file=sys.stderr)
        return 130
    except ModuleNotFoundError as missing:
        if missing.name != "torch":
            raise
        from lesson_support.environment import not_installed

        print(not_installed(missing, program="python -m exercises run"), file=sys.stderr)
        return 1
    except SyntaxError as error:
        print(
            f"{exercise.file}, line {error.lineno}: SyntaxError: {error.msg}; fix it, then run this again.",
            file=sys.stderr,
        )
        return 1
    return run_it(module)


if __name__ == "__main__":
    sys.exit(main())
