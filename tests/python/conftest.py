"""pytest setup for the Python package's tests.

kvjit is imported from the environment (pip install .) or from a build tree's python/ folder: scripts/test.sh
sets PYTHONPATH=<build>/python. GPU tests (test_gpu_*.py) skip without torch or a CUDA device.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
for candidate in (os.environ.get("KVJIT_PYTHON_DIR"), os.path.join(here, "..", "..", "build", "python")):
    try:
        import kvjit  # noqa: F401
        break
    except ImportError:
        if candidate and os.path.isdir(os.path.join(candidate, "kvjit")):
            sys.path.insert(0, candidate)
