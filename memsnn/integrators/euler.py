"""Fixed-step explicit Euler in a ``lax.scan``, and the SPICEprop (Gauss-Seidel) ordering of it."""

from __future__ import annotations

import equinox as eqx
import jax

from ..network import tree_axpy
from ._base import AbstractIntegrator, StepCount, first_step_then_scan


class Euler(AbstractIntegrator):
    """Explicit Euler with ``substeps`` equal steps per grid interval.

    Every right-hand side is evaluated at the start of the step; an impulse is added at the end of
    its step. First order; stable while ``(dt / substeps) * decay_rate < 2``.
    """

    substeps: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if int(self.substeps) < 1:
            raise ValueError(f"Euler: substeps must be >= 1, got {self.substeps}.")

    def advance(self, network, state, impulse, drive, t0, dt, n_steps, save_fn, checkpoint_every=None):
        h = dt / self.substeps

        def substep(_, y):
            return tree_axpy(h, network.vector_field(y, drive), y)

        def step(y):
            # A loop, not a Python unroll: compile time stays flat in the number of sub-steps.
            return substep(0, y) if self.substeps == 1 else jax.lax.fori_loop(0, self.substeps, substep, y)

        def first(y):
            y = step(y)
            return y if impulse is None else network.inject(y, impulse)

        state, saved = first_step_then_scan(first, step, state, n_steps, save_fn, checkpoint_every)
        return state, saved, StepCount.fixed(n_steps * self.substeps)

    def explicit_step(self, dt):
        return dt / self.substeps


class SpicepropEuler(AbstractIntegrator):
    """The SPICEprop reference discretization (docs/mif-neuron.md, section 4).

    Each step updates, in order and each with the newest values: synapse ``a`` (with the step's
    impulse added after the decay), synaptic current ``I``, membrane ``v`` (old conductances),
    memristor states (new ``v``). First order like :class:`Euler`, but not the same numbers: this
    is what reproduces the published SPICEprop results.
    """

    def advance(self, network, state, impulse, drive, t0, dt, n_steps, save_fn, checkpoint_every=None):
        state, saved = first_step_then_scan(
            lambda y: network.sequential_step(y, impulse, drive, dt),
            lambda y: network.sequential_step(y, None, drive, dt),
            state, n_steps, save_fn, checkpoint_every,
        )
        return state, saved, StepCount.fixed(n_steps)

    def explicit_step(self, dt):
        return dt
