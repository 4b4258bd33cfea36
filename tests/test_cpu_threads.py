"""XLA's CPU threads as a process setting (use_cpu_cores(threads=...)) and the CLI's choice per method."""

import argparse
import os
import subprocess
import sys

import pytest

from memsnn.cli import _cpu_devices
from memsnn.training import use_cpu_cores

# A compute-bound element-wise loop over 1 MiB: XLA splits it into one task per thread of its pool
# (ParallelTaskAssigner, the split written into the compiled program as outer_dimension_partitions).
_COMPILE = """
import sys
from memsnn.training import use_cpu_cores
use_cpu_cores(1, threads=int(sys.argv[1]))
import jax, jax.numpy as jnp

def f(x):
    y = x
    for _ in range(8):
        y = y * y * 0.5 + x
    return y

text = jax.jit(f).lower(jnp.zeros((512, 512), jnp.float32)).compile().as_text()
print("SPLIT" if '"outer_dimension_partitions":["2"]' in text else "WHOLE")
"""


def _compiled_split(threads: int) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "JAX_COMPILATION_CACHE_DIR")}
    run = subprocess.run([sys.executable, "-c", _COMPILE, str(threads)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip().splitlines()[-1]


def test_threads_reach_the_compiled_program():
    # Two threads: the loop is compiled as two tasks; one thread: as one (the setting, made before
    # JAX starts its CPU backend, reaches the compiler). Holds on a machine of any core count.
    assert _compiled_split(2) == "SPLIT"
    assert _compiled_split(1) == "WHOLE"


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "1"])
def test_threads_must_be_a_positive_integer(threads):
    before = os.environ.get("PJRT_NPROC")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        use_cpu_cores(1, threads=threads)
    assert os.environ.get("PJRT_NPROC") == before


def _args(method, cpu_devices=None, command="train"):
    return argparse.Namespace(command=command, method=method, cpu_devices=cpu_devices)


def test_cli_gives_stdp_one_device_and_one_thread():
    # Diehl & Cook's learning is sequential: one device (a second repeats the loop) and one thread.
    assert _cpu_devices(_args("stdp")) == (1, 1)
    # Batch-parallel methods: one device per core, XLA's default threads.
    assert _cpu_devices(_args("spiceprop")) == (os.cpu_count() or 1, None)
    # --cpu-devices decides the devices, and leaves the threads to XLA.
    assert _cpu_devices(_args("stdp", cpu_devices=2)) == (2, None)
    # evaluate splits its batches over all cores, whatever method made the checkpoint.
    assert _cpu_devices(_args(None, command="evaluate")) == (os.cpu_count() or 1, None)
