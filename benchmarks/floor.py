"""The floor: the fixed cost every run of the lesson pays before it computes anything.

Import torch and matplotlib's pyplot (Agg), build torch.optim.SGD on one tensor (the first
optimizer imports torch's compiler stack) and take one step.

With --freeze it also calls gc.freeze() after the imports, as lesson.py does, to show how much
of the lesson's speed comes from that alone.
"""

import gc
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot
import torch

if "--freeze" in sys.argv:
    gc.freeze()
parameter = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.SGD([parameter], lr=0.1)
(parameter * 2).sum().backward()
optimizer.step()
