"""What lesson.py needs but does not teach: reading data, closed forms, checks, figures, the command line."""
