"""The floor: the fixed cost every run of the lesson pays before it computes anything.

Import torch and matplotlib's pyplot (Agg), build torch.optim.SGD on one tensor (the first
optimizer imports torch's compiler stack) and take one step.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot
import torch

parameter = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.SGD([parameter], lr=0.1)
(parameter * 2).sum().backward()
optimizer.step()
