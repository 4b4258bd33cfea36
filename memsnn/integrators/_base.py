"""The integrator interface and the checkpointed scan that every time loop uses."""

from __future__ import annotations

import abc
from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp


class StepCount(NamedTuple):
    """Solver steps taken over a stretch: ``accepted`` and ``rejected`` (int32 scalars).

    Fixed-step schemes accept every step they take; adaptive ones report diffrax's counts.
    """

    accepted: jax.Array
    rejected: jax.Array

    @classmethod
    def fixed(cls, n: int) -> "StepCount":
        return cls(jnp.asarray(n, jnp.int32), jnp.asarray(0, jnp.int32))

    def plus(self, other: "StepCount") -> "StepCount":
        """Both counts summed (``+`` would concatenate the tuples)."""
        return StepCount(self.accepted + other.accepted, self.rejected + other.rejected)


class AbstractIntegrator(eqx.Module):
    """Advances a :class:`~memsnn.network.Network` over a stretch of the time grid.

    ``advance`` integrates ``n_steps`` grid intervals of length ``dt`` from ``t0`` with the constant
    ``drive`` and returns ``(state, saved, steps)``: the final state, ``save_fn(state)`` stacked at
    the grid points ``t0 + k dt``, ``k = 1..n_steps`` (``None`` if ``save_fn`` is ``None``), and the
    :class:`StepCount` of solver steps it took.

    Impulse convention (shared by all integrators): ``impulse`` (or ``None``) lands at the *end* of
    the first step, ``t0 + dt``, and is part of the state recorded for that step. It is the
    convention of the SPICEprop reference code and of snnTorch (``mem = beta * mem + input``).
    """

    @abc.abstractmethod
    def advance(self, network, state, impulse, drive, t0, dt: float, n_steps: int,
                save_fn: Callable | None, checkpoint_every: int | None = None): ...

    def explicit_step(self, dt: float) -> float | None:
        """The step size of an explicit fixed-step scheme (for the stability check), else None."""
        return None

    @property
    def stability_limit(self) -> float:
        """Bound on ``h * decay_rate`` for the scheme on the negative real axis."""
        return 2.0

    @property
    def name(self) -> str:
        return type(self).__name__


def checkpointed_scan(body: Callable, carry, length: int, checkpoint_every: int | None = None,
                      unroll: int = 1):
    """``lax.scan(body, carry, arange(length))``, optionally with O(T/k + k) memory for BPTT.

    With ``checkpoint_every = k`` the steps run in chunks of ``k`` whose insides are recomputed in
    the backward pass (``jax.checkpoint``), so only one carry per chunk is stored. ``unroll`` steps
    per loop iteration let XLA fuse consecutive steps (faster for small states, longer compile).
    """
    index = jnp.arange(length)
    if not checkpoint_every or checkpoint_every >= length:
        return jax.lax.scan(body, carry, index, unroll=unroll)
    k = int(checkpoint_every)
    n_chunks = length // k

    @jax.checkpoint
    def chunk(c, idx):
        return jax.lax.scan(body, c, idx, unroll=unroll)

    carry, ys = jax.lax.scan(chunk, carry, index[: n_chunks * k].reshape(n_chunks, k))
    ys = jax.tree.map(lambda y: y.reshape((n_chunks * k,) + y.shape[2:]), ys)
    if length % k:
        carry, tail = jax.lax.scan(body, carry, index[n_chunks * k:], unroll=unroll)
        ys = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), ys, tail)
    return carry, ys




def first_step_then_scan(first_step: Callable, step: Callable, state, n_steps: int,
                         save_fn: Callable | None, checkpoint_every: int | None):
    """Run ``first_step`` (which takes the impulse) once, then ``step`` for the remaining steps."""
    save = (lambda y: None) if save_fn is None else save_fn
    state = first_step(state)
    first = save(state)
    if n_steps == 1:
        return state, jax.tree.map(lambda r: r[None], first)

    def body(y, _):
        y = step(y)
        return y, save(y)

    state, rest = checkpointed_scan(body, state, n_steps - 1, checkpoint_every)
    return state, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)
