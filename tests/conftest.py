import functools
import gc
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

# The suite compiles hundreds of small programs that then run for milliseconds: XLA's optimisation
# passes cost more than they save there (about a sixth of the suite's CPU time, measured). Numbers
# are checked to the same tolerances either way; the benchmarks and the library itself compile with
# full optimisation. Set through the environment so that the tests' subprocesses (sharding,
# distributed) inherit it; JAX_DISABLE_MOST_OPTIMIZATIONS=0 in the environment turns it off.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# Two more of them that the switch above leaves on: hoisting loop-invariant code out of while loops
# and simplifying the loops themselves. They move and drop code without changing an operation, and
# they took about a third of the compile of an adaptive event solve's gradient (diffrax nests while
# loops: the delayed-recurrent spike-time test compiled in 25.3 CPU s with them, 17.9 s without;
# its values the same). Appended to XLA_FLAGS, so the tests' subprocesses inherit it too.
if "--xla_disable_hlo_passes" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_disable_hlo_passes="
                               "while-loop-invariant-code-motion,simplify-while-loops").strip()
# XLA's older elemental CPU emitters (--xla_cpu_use_fusion_emitters=false) compile faster than the
# default MLIR fusion emitters, and compiling is most of the suite's time (XLA's backend compile
# ~60 % of the tests' time, tracing ~12 %, lowering ~10 %: jax.monitoring over 459 tests). The whole
# suite: 1,522 -> 1,116 CPU s with them (load 3 before, 14-17 after). Their float64 results are not
# always bit-identical to the default's (rounding in the last bit, e.g. the triplet rule's sparse
# column update against the full one). Users' programs compile with the default emitters, so a test
# whose check is an equality to the last bit carries `@pytest.mark.default_emitters` and runs in a fresh process
# compiled with them (`_run_with_default_emitters` below): it checks the numbers users get.
# MEMSNN_TEST_DEFAULT_EMITTERS=1 runs the whole suite with the default emitters.
_DEFAULT_EMITTERS = os.environ.get("MEMSNN_TEST_DEFAULT_EMITTERS") == "1"
_ELEMENTAL = "--xla_cpu_use_fusion_emitters=false"
# Only on jaxlib 0.10, where it was measured: XLA refuses a flag it no longer knows.
if (not _DEFAULT_EMITTERS and version("jaxlib").split(".")[:2] == ["0", "10"]
        and "xla_cpu_use_fusion_emitters" not in os.environ.get("XLA_FLAGS", "")):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_ELEMENTAL}".strip()


# Many tests compile the same program from new Python functions (every `memsnn train` in a CLI
# test builds its learner and predictor again), which jit's in-memory cache cannot see. JAX's
# persistent compilation cache, keyed on the program itself, serves those repeats: a fresh, empty
# folder for each test session (nothing carries over between sessions), one per pytest-xdist
# worker (no two processes write one folder at once; JAX's writes are not atomic), inherited by
# the tests' subprocesses, removed at the end. A JAX_COMPILATION_CACHE_DIR set in the
# environment is used as it is. Measured in a full `-n 2` run (its first 162 tests): 169 of 1,187
# compiles came from it, each read in about a sixth of the time its compile had taken.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ or "MEMSNN_TEST_JAX_CACHE" in os.environ:
    import atexit
    import shutil
    import tempfile

    if "MEMSNN_TEST_JAX_CACHE" not in os.environ:  # the session's first process owns the folder
        os.environ["MEMSNN_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="memsnn-tests-jax-cache-")
        atexit.register(shutil.rmtree, os.environ["MEMSNN_TEST_JAX_CACHE"], ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(os.environ["MEMSNN_TEST_JAX_CACHE"],
                                                         os.environ.get("PYTEST_XDIST_WORKER", "main"))
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import jax  # noqa: E402  (after the environment it reads)
import pytest  # noqa: E402

# Tight tolerances (reference vectors to 1e-4 mV, finite differences) need float64.
jax.config.update("jax_enable_x64", True)

# Tests read the datasets from ../shared/data and never download.
_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("MEMSNN_DATA_DIR", str(_SHARED_DATA))


# Every program XLA compiles for the CPU stays mapped into the process (its code and data segments)
# for as long as jit's caches hold it, and the kernel allows a process 65,530 memory mappings by
# default (vm.max_map_count). One pytest-xdist worker runs hundreds of tests and compiled ~160
# mappings' worth per test: near the end of the suite it ran out, and XLA's next compile crashed
# the worker (a segmentation fault or an abort inside backend_compile; it never reproduced alone).
# Tests in different files share no compiled programs worth keeping, so the caches are emptied
# after each file; JAX's persistent compilation cache (above) still serves any repeat from disk.
@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    yield
    jax.clear_caches()
    gc.collect()


def pytest_collection_modifyitems(config, items):
    if _DEFAULT_EMITTERS:
        return
    for item in items:
        if item.get_closest_marker("default_emitters") is not None:
            item.runtest = functools.partial(_run_with_default_emitters, item)


def _run_with_default_emitters(item) -> None:
    """Run one test in a fresh pytest process whose programs compile with XLA's default emitters."""
    env = {**os.environ, "MEMSNN_TEST_DEFAULT_EMITTERS": "1",
           "XLA_FLAGS": " ".join(flag for flag in os.environ.get("XLA_FLAGS", "").split() if flag != _ELEMENTAL)}
    # The persistent compilation cache folder is this worker's; this process waits, so one writer at a time.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", item.nodeid],
                          cwd=item.config.rootpath, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{item.nodeid}, run in a process compiled with XLA's default emitters, failed "
                    f"(exit status {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}", pytrace=False)
