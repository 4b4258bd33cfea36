"""External inputs to a network, batched: impulses at grid steps, or a current drive."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


class Impulses(eqx.Module):
    """Impulse (spike) inputs arriving at grid steps, applied as jumps of the synaptic state.

    Attributes:
        amplitude: ``(batch, n_events, n_in)``: input activity of each event (weighted by the first
            layer's array, in A for a current synapse, C without a synapse).
        steps: the grid step of each event (static), strictly increasing; ``None`` means one event
            row per grid step (spike trains, ``n_events == n_steps``).
        lag: ``None``, or ``(batch, n_events, n_in)``: how long (s, in ``[0, dt]``) before the end of
            its step each impulse arrived, for inputs at continuous times with
            ``simulate(..., spike_timing="exact")`` (latency codes: :func:`memsnn.data.latency_impulses`).
    """

    amplitude: Float[Array, "batch n_events n_in"]
    steps: tuple[int, ...] | None = eqx.field(static=True)
    lag: Float[Array, "batch n_events n_in"] | None = None

    def __init__(self, amplitude, steps=None, lag=None):
        self.amplitude = jnp.asarray(amplitude)
        self.lag = None if lag is None else jnp.asarray(lag)
        if steps is not None:
            steps = tuple(int(s) for s in steps)
            if any(b <= a for a, b in zip(steps[:-1], steps[1:])) or (steps and steps[0] < 0):
                raise ValueError(f"Impulses: steps must be non-negative and strictly increasing, got {steps}.")
        self.steps = steps


class Current(eqx.Module):
    """A current drive into the first layer's array, piecewise constant on the grid.

    Attributes:
        amplitude: ``(batch, n_in)`` constant in time, or ``(batch, n_steps, n_in)`` one value per
            grid step (A).
    """

    amplitude: Float[Array, "batch *steps n_in"]

    def __init__(self, amplitude):
        self.amplitude = jnp.asarray(amplitude)

    @property
    def is_constant(self) -> bool:
        return self.amplitude.ndim == 2
