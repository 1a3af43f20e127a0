"""The exercise system: one list of exercises, a harness that runs a learner's code safely, the checks, a pytest plugin.

    (exercises/catalog.py is THE list of exercises, number, file name and task: everything derives from it.
    It lives with the exercises, so that the lesson and the stubs read it without importing the grader.)
    isolation.py   a child process for the learner's code, watched from outside: CPU-time and wall limits,
                   its whole process group ended, what it did told in a sentence
    shipped.py     data/ and exercises/solutions/ held to their known content (shipped.json), put back
    harness.py     Answer: a learner's file called safely (copies in, torch's settings put back, sys.exit
                   caught); grade(), one graded check in a child; the expect_* helpers of the contracts
    messages.py    a learner's exception told in one sentence at their own line; the rule for loss lists
    time_limit.py  the maintainers' tests' time limit, CPU time on every OS (-p grader.time_limit)
    histories.py   loss histories (exercises 2 and 3): the reference loop, the likely mistakes replayed
    plots.py       what a figure holds (exercises 2 and 3): curves, legends, the PNG saved from it
    run_it.py      what every "run it" shares: a stub or an exception ends it with a sentence
    ex1.py ...     one module per exercise: its checks, GRADED (its graded tests) and run(module)
    plugin.py      the pytest plugin: markers from the list, the scratch folder, verdicts, the summary

Adding exercise 5 takes six files, and copies nothing:

1. exercises/ex5_<name>.py, the stub: a docstring that names the run and check commands and the
   hints, then each function with its contract in its docstring and a body that raises
   NotImplementedError("<function> is not written yet (hint 5.1 in exercises/README.md)"), and at
   the end the same three lines as every exercise:
       if __name__ == "__main__":
           from grader.run_it import run_it
           sys.exit(run_it(sys.modules[__name__]))
2. exercises/solutions/ex5_<name>.py, the reference answer, with the same functions and ending.
3. grader/ex5.py: `EXERCISE = BY_NUMBER[5]`; the checks, each taking an `Answer` and calling the
   learner's functions through it (`answer("function", *args)`), comparing with a computation of
   their own and failing with `fail(sentence)`; `GRADED`, a dict from a test name to a function
   (answer, folder) that runs one check; and `run(module) -> int`, "run it", whose body is a
   `show()` handed to `run_safely(EXERCISE, module, show)`.
4. exercises/catalog.py: one line in EXERCISES, Exercise(5, "ex5_<name>", "<task in a few words>").
5. exercises/README.md: a row of the table, and a section "## Exercise 5: ..." with what the grader
   checks and hints **Hint 5.1.** ... .
6. tests/test_grader_ex5.py, the grader's own tests: constructed answers (never the learner's
   file) just inside and just outside every tolerance, each mistake with the message it must get,
   and `run` called on the reference with its printed numbers compared with a reference.

The marker ex5, the graded tests (exercises/test_exercises.py), the summary, the lesson's last
section, the benchmarks and the README test all read the list; tests/test_catalog.py fails when an
exercise in it lacks a stub, a solution, checks, a "run it", hints or tests of its grader.

The grader's own tests were measured with mutation testing (mutmut); benchmarks/README.md says how
to run it again.
"""
