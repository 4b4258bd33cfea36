import os
from pathlib import Path

import jax

# Tight tolerances (reference vectors to 1e-4 mV, finite differences) need float64.
jax.config.update("jax_enable_x64", True)

# Tests read the datasets from ../shared/data and never download.
_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("MEMSNN_DATA_DIR", str(_SHARED_DATA))
