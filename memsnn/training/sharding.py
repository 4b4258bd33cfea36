"""Device placement for training and evaluation: one batch sharded over a mesh of all devices.

memsnn uses JAX's own distributed engine (``jax.sharding``), not a home-made one:

* a 1-D :class:`~jax.sharding.Mesh` over every device of every process (:func:`data_mesh`);
* each batch is a global array sharded along its first axis (:func:`shard_batch`); parameters and
  optimiser state are replicated (:func:`replicate`);
* the step is written for the whole batch, as on one device, and jitted: XLA partitions it, each
  device simulates its slice of the batch, and the compiler inserts the all-reduce that averages
  the gradients (nothing is communicated inside the time loop).

Several processes or hosts join with :func:`initialize_distributed` (``jax.distributed``); each
process then holds the full data set, and gives the mesh only the samples of its own devices. A
batch must split evenly over the devices: :func:`check_batch` raises rather than quietly using
fewer devices than the caller has.
"""

from __future__ import annotations

import contextlib
import os

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

__all__ = ["AXIS", "check_batch", "data_mesh", "forget_failed_computation", "initialize_distributed",
           "is_main_process", "largest_divisor", "padded_batch", "replicate", "replicated", "shard_batch",
           "sharded", "use_cpu_cores"]

AXIS = "batch"  # the mesh axis the batch is split along


def use_cpu_cores(n: int | None = None, *, threads: int | None = None) -> int:
    """Expose ``n`` CPU cores (default: all) as ``n`` JAX CPU devices, for :func:`fit` to split batches.

    XLA runs one simulation's small per-step kernels on one core; with one device per core, each
    core simulates its share of the batch. This changes JAX's configuration for the whole process,
    so memsnn never calls it for you: entry points call it explicitly (the ``memsnn`` command,
    the benchmarks, the notebooks), before the first JAX computation; afterwards it changes nothing.

    Args:
        n: the number of CPU devices (default: one per core).
        threads: the threads of XLA's CPU thread pool, which all devices share (``None``: XLA's
            default, one per core, and never fewer than the devices). XLA splits every
            element-wise kernel of more than ~256 KiB into that many tasks and runs independent
            kernels side by side on the pool. A program of many small steps one after the other
            gains nothing from that and pays for handing the work over: Diehl & Cook's learning
            (one image after another, :attr:`~memsnn.training.Method.cpu_cores` of ``stdp``)
            runs on one thread (docs/plasticity.md). No compiler option of a single computation
            sets this (the pool and the split are fixed when JAX creates its CPU backend), so it
            is set here, process-wide: as the environment variable ``PJRT_NPROC`` that XLA reads
            then, set only while this call starts the backend (subprocesses do not inherit it);
            a ``PJRT_NPROC`` already in the environment is kept.

    Returns:
        The number of local devices in effect.

    Raises:
        ValueError: ``threads`` is not a positive integer.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise ValueError(f"use_cpu_cores: threads must be a positive integer (XLA's CPU threads), got {threads!r}")
    n = int(n or os.cpu_count() or 1)
    with contextlib.suppress(RuntimeError):  # the backend exists already: keep its devices
        jax.config.update("jax_num_cpu_devices", n)
    ours = threads is not None and "PJRT_NPROC" not in os.environ
    if ours:
        os.environ["PJRT_NPROC"] = str(int(threads))
    try:
        return len(jax.local_devices())  # starts the backend (if it is not running yet)
    finally:
        if ours:
            del os.environ["PJRT_NPROC"]


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, *, cpu_devices: int | None = None) -> tuple[int, int]:
    """Join this process to a multi-process (multi-host) JAX run: ``jax.distributed.initialize``.

    Call it first, before any other JAX computation, in every process of the run. Without
    arguments, JAX detects the cluster (SLURM, Open MPI, Kubernetes, Cloud TPU) or reads
    ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``. Afterwards
    ``jax.devices()`` lists the devices of all processes and :func:`data_mesh` spans them.

    Args:
        coordinator_address: ``"host:port"`` of process 0, reachable from every process.
        num_processes: the number of processes of the run.
        process_id: this process's index, ``0 .. num_processes - 1``.
        cpu_devices: on CPU, the number of devices this process exposes (one per core, as
            :func:`use_cpu_cores`, which cannot be used here: it must be set before joining).

    Returns:
        ``(process_index, process_count)``.

    Raises:
        ValueError: the cluster could not be joined (the message says what JAX reported and how
            to name the coordinator).
    """
    if cpu_devices is not None:
        jax.config.update("jax_num_cpu_devices", int(cpu_devices))
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"could not join the distributed run ({first}). Start every process with the same "
            "coordinator: set JAX_COORDINATOR_ADDRESS=host:port, JAX_NUM_PROCESSES=N and a distinct "
            "JAX_PROCESS_ID=0..N-1 in each (or pass them), or run under a cluster manager JAX "
            "detects (SLURM, Open MPI); and join before any other JAX computation.") from err
    return jax.process_index(), jax.process_count()


def is_main_process() -> bool:
    """Whether this is process 0, the one that writes checkpoints and logs (always true in one process)."""
    return jax.process_index() == 0


def largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of ``n`` that is ``<= at_most`` (at least 1)."""
    return max(d for d in range(1, max(1, min(n, at_most)) + 1) if n % d == 0)


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh, axis :data:`AXIS`, over ``devices`` (default: ``jax.devices()``, all processes').

    A mesh of one device is a mesh too: the same code runs on one device and on many.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh: devices is empty; pass at least one device (or None for all).")
    return Mesh(np.array(devices), (AXIS,))


def check_batch(batch_size: int, mesh: Mesh, what: str = "batch size") -> None:
    """Raise if ``batch_size`` does not split evenly over the devices of ``mesh``.

    Raises:
        ValueError: naming the batch size, the device count, and a batch size that works.
    """
    n = mesh.size
    if batch_size % n:
        k = largest_divisor(batch_size, n)
        platform = mesh.devices.flat[0].platform
        raise ValueError(
            f"the {what} {batch_size} does not split evenly over the {n} {platform} devices; "
            f"choose a {what} that is a multiple of {n} (e.g. {-(-batch_size // n) * n}), or pass "
            f"devices= with a number of devices that divides {batch_size} (e.g. "
            f"devices=jax.devices()[:{k}]).")


def padded_batch(batch_size: int, mesh: Mesh) -> int:
    """``batch_size`` rounded up to a multiple of the device count (for evaluation, which pads)."""
    return -(-batch_size // mesh.size) * mesh.size


def sharded(mesh: Mesh) -> NamedSharding:
    """The sharding of a batch: first axis split over the devices of ``mesh``."""
    return NamedSharding(mesh, P(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of parameters and metrics: a full copy on every device of ``mesh``."""
    return NamedSharding(mesh, P())


def _global_array(x, sharding: NamedSharding) -> jax.Array:
    # From host memory: in a multi-process run every process holds the same value and places the
    # pieces of its own devices (an array already on a device cannot be put on other processes').
    return jax.device_put(np.asarray(x), sharding)


def shard_batch(mesh: Mesh, *arrays: np.ndarray) -> tuple[jax.Array, ...]:
    """The global batch arrays (identical in every process), sharded along their first axis.

    Raises:
        ValueError: the batch does not split evenly over the devices (see :func:`check_batch`).
    """
    check_batch(len(arrays[0]), mesh)
    return tuple(_global_array(a, sharded(mesh)) for a in arrays)


def replicate(tree, mesh: Mesh):
    """Every array of ``tree`` copied onto all devices of ``mesh`` (values must agree across processes).

    The step returns replicated parameters; giving it replicated ones from the first call on keeps
    the input shardings the same, so it is compiled once. Non-array leaves (and PRNG keys'
    structure) are kept.
    """
    sharding = replicated(mesh)

    def put(x):
        if not eqx.is_array(x):
            return x
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(_global_array(jax.random.key_data(x), sharding),
                                            impl=jax.random.key_impl(x))
        return _global_array(x, sharding)

    return jax.tree.map(put, tree)


def forget_failed_computation() -> None:
    """Drop JAX's handle on a computation whose runtime check failed, once the error is handled.

    JAX keeps the runtime token of the last multi-device computation with host callbacks
    (equinox's runtime checks are such callbacks) and waits for it when the process exits; if that
    computation failed, the wait raises the same error again, printed as an "Exception ignored in
    atexit callback" traceback after the user already got a clear message.
    """
    try:
        jax.effects_barrier()
    except Exception:  # the failed computation's error, already reported by the caller
        with contextlib.suppress(ImportError, AttributeError):
            from jax._src import dispatch  # no public API clears a failed token

            dispatch.runtime_tokens.clear()
