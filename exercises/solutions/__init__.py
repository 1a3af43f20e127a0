"""Reference answers to the exercises; the grader checks them with the same tests as yours."""
