"""Open the lesson's real windows for a moment each: `--show` for one section, then `--explore`.

tests/conftest.py runs this under xvfb-run, where there is one, and test_motion.py reads what it
prints: one line per window opened, with matplotlib's backend and the window's size in pixels.
"""

import sys
import tempfile

import matplotlib.pyplot as plt

import lesson

show = plt.show


def show_briefly(*args: object, **kwargs: object) -> None:
    for number in plt.get_fignums():
        print("window", plt.get_backend(), *plt.figure(number).canvas.get_width_height())
    timer = plt.gcf().canvas.new_timer(interval=1000)
    timer.add_callback(plt.close, "all")
    timer.start()
    show(*args, **kwargs)


plt.show = show_briefly
with tempfile.TemporaryDirectory() as outdir:
    shown = lesson.main(["--show", "--section", "data_and_cost", "--outdir", outdir])
print("show exited", shown)
sys.exit(lesson.main(["--explore"]))
