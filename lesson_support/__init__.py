"""What lesson.py needs but does not teach: reading data, closed forms, checks, figures, the command line;
and how an exception in a learner's exercise code is reported."""
