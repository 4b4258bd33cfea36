import os
from pathlib import Path

# The suite compiles hundreds of small programs that then run for milliseconds: XLA's optimisation
# passes cost more than they save there (about a sixth of the suite's CPU time, measured). Numbers
# are checked to the same tolerances either way; the benchmarks and the library itself compile with
# full optimisation. Set through the environment so that the tests' subprocesses (sharding,
# distributed) inherit it; JAX_DISABLE_MOST_OPTIMIZATIONS=0 in the environment turns it off.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax  # noqa: E402  (after the environment it reads)

# Tight tolerances (reference vectors to 1e-4 mV, finite differences) need float64.
jax.config.update("jax_enable_x64", True)

# Tests read the datasets from ../shared/data and never download.
_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("MEMSNN_DATA_DIR", str(_SHARED_DATA))
