"""`python lesson.py --no-plots --deeper` on a second math path, for test_math_path.py.

The path: ATen's default kernels instead of AVX2 or AVX-512 ones, MKL's compatible code, one thread.
tests/conftest.py runs this in another process. Each library reads its setting when it first loads,
so they are set before torch is imported; the line on stderr says which path ran.
"""

import os
import sys

SECOND_PATH = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"}
os.environ.update(SECOND_PATH)

import torch  # noqa: E402

import lesson  # noqa: E402

code = lesson.main(["--no-plots", "--deeper"])
print("cpu capability", torch.backends.cpu.get_cpu_capability(), "threads", torch.get_num_threads(), file=sys.stderr)
sys.exit(code)
