"""Open the real explorer window with `python lesson.py --explore`, take one step, and close it.

tests/conftest.py runs this under xvfb-run, where there is one.
"""

import sys

import matplotlib.pyplot as plt

import lesson

show = plt.show


def show_briefly(*args: object, **kwargs: object) -> None:
    fig = plt.gcf()
    print("window", plt.get_backend(), *fig.canvas.get_width_height())
    timer = fig.canvas.new_timer(interval=1000)
    timer.add_callback(plt.close, "all")
    timer.start()
    show(*args, **kwargs)


plt.show = show_briefly
sys.exit(lesson.main(["--explore"]))
