"""Device placement for training and evaluation: one batch split over the local devices.

Each device simulates its slice of every batch; nothing is communicated inside the time loop, only
the gradients (or whatever a learner reduces) are averaged at the end of a step. A batch must split
evenly: :func:`batch_mesh` raises rather than quietly using fewer devices than the caller has.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

__all__ = ["AXIS", "batch_mesh", "forget_failed_computation", "largest_divisor", "on_shards", "padded_batch",
           "replicate", "use_cpu_cores"]

AXIS = "batch"  # the mesh axis the batch is split along


def use_cpu_cores(n: int | None = None) -> int:
    """Expose ``n`` CPU cores (default: all) as ``n`` JAX CPU devices, for :func:`fit` to split batches.

    XLA runs one simulation's small per-step kernels on one core; with one device per core, each
    core simulates its share of the batch. This changes JAX's configuration for the whole process,
    so memsnn never calls it for you: entry points call it explicitly (the ``memsnn`` command,
    the benchmarks, the notebooks), before the first JAX computation; afterwards it changes nothing.

    Returns:
        The number of local devices in effect.
    """
    n = int(n or os.cpu_count() or 1)
    with contextlib.suppress(RuntimeError):  # the backend exists already: keep its devices
        jax.config.update("jax_num_cpu_devices", n)
    return len(jax.local_devices())


def largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of ``n`` that is ``<= at_most`` (at least 1)."""
    return max(d for d in range(1, max(1, min(n, at_most)) + 1) if n % d == 0)


def batch_mesh(batch_size: int, devices=None) -> Mesh | None:
    """A 1-D mesh over ``devices`` (default: all local devices) to split batches of ``batch_size``.

    Returns ``None`` for a single device.

    Raises:
        ValueError: ``batch_size`` is not a multiple of the number of devices.
    """
    devices = list(jax.local_devices() if devices is None else devices)
    n = len(devices)
    if n <= 1:
        return None
    if batch_size % n:
        k = largest_divisor(batch_size, n)
        raise ValueError(
            f"the batch size {batch_size} does not split evenly over the {n} {devices[0].platform} devices; "
            f"choose a batch size that is a multiple of {n}, or pass devices= with a number of devices "
            f"that divides {batch_size} (e.g. devices=jax.local_devices()[:{k}]).")
    return Mesh(np.array(devices), (AXIS,))


def padded_batch(batch_size: int, devices=None) -> int:
    """``batch_size`` rounded up to a multiple of the device count (for evaluation, which pads)."""
    n = len(jax.local_devices() if devices is None else devices)
    return -(-batch_size // n) * n


def on_shards(fn: Callable, mesh: Mesh | None, in_specs, out_specs) -> Callable:
    """``fn`` run by each device of ``mesh`` on its slice (``shard_map``), or ``fn`` itself without a mesh."""
    if mesh is None:
        return fn
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def replicate(tree, mesh: Mesh | None):
    """Put every array of ``tree`` on all devices of ``mesh`` (a no-op without a mesh).

    The train step returns replicated parameters; giving it replicated ones from the first call on
    keeps the input shardings the same, so the step is compiled once, not twice.
    """
    if mesh is None:
        return tree
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(lambda x: jax.device_put(x, sharding) if eqx.is_array(x) else x, tree)


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
