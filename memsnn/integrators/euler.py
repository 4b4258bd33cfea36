"""Fixed-step explicit Euler in a ``lax.scan``, and its Gauss-Seidel ordering (the SPICEprop scheme)."""

from __future__ import annotations

import equinox as eqx
import jax

from ..network import tree_axpy
from ._base import AbstractIntegrator, SolveStats, first_step_then_scan


class Euler(AbstractIntegrator):
    """Explicit Euler with ``substeps`` equal steps per grid interval.

    Every right-hand side is evaluated at the start of the step (Jacobi order); an impulse is added
    at the end of its step. First order; stable while ``(dt / substeps) * decay_rate < 2``.
    """

    substeps: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if isinstance(self.substeps, bool) or int(self.substeps) != self.substeps or self.substeps < 1:
            raise ValueError(f"Euler: substeps must be >= 1 (an integer), got {self.substeps!r}.")

    def advance(self, network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every=None, unroll=1):
        h = dt / self.substeps

        def step(k, y, jump):
            t = t0 + k * dt

            def substep(i, y):
                return tree_axpy(h, network.vector_field(t + i * h, y, drive), y)

            # A loop, not a Python unroll: compile time stays flat in the number of sub-steps.
            y = substep(0, y) if self.substeps == 1 else jax.lax.fori_loop(0, self.substeps, substep, y)
            return y if jump is None else jump(y)

        state, saved = first_step_then_scan(step, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll)
        return state, saved, SolveStats.fixed(n_steps * self.substeps)

    def explicit_step(self, dt):
        return dt / self.substeps


class SpicepropEuler(AbstractIntegrator):
    """Explicit Euler in Gauss-Seidel order: the SPICEprop reference discretization (docs/mif-neuron.md, section 4).

    The state is split into its leaves, updated one after the other in pytree order, each with the
    newest values of the leaves before it (the way diffrax's ``SemiImplicitEuler`` splits a state
    between its terms). The :class:`~memsnn.network.LayerState` order (array, synapse, neuron,
    plasticity, energy) and each component's field order make this, for the SPICEprop neuron:
    synapse ``a``, synaptic current ``I`` (with the new ``a``), membrane ``v`` (with the new ``I``
    and the old conductances), memristor states (with the new ``v``). An input impulse lands on a
    leaf right after that leaf's own update (``a = a - dt a / tau + w``), so later leaves of the
    same step see it, as in the reference code. First order like :class:`Euler`, but not the same
    numbers: this is what reproduces the published SPICEprop results.

    Spikes are events of :func:`memsnn.simulate` like for every other integrator: they reach the
    next layer at the end of the step, not within it. Impulses land inside the sweep, so with
    ``spike_timing="exact"`` a crossing is located between the step's start and its end state with
    the impulses of that step (docs/spike-times.md).
    """

    jumps_after_step = False

    def advance(self, network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every=None, unroll=1):
        def sweep(k, y, jump):
            t = t0 + k * dt
            leaves, treedef = jax.tree.flatten(y)
            for j, leaf in enumerate(leaves):
                if leaf.size == 0:
                    continue
                # The whole field is written, but only leaf j of it is used: XLA prunes the rest.
                rate = jax.tree.leaves(network.vector_field(t, jax.tree.unflatten(treedef, leaves), drive))[j]
                leaves[j] = leaf + dt * rate
                if jump is not None:
                    leaves[j] = jax.tree.leaves(jump(jax.tree.unflatten(treedef, leaves)))[j]
            return jax.tree.unflatten(treedef, leaves)

        state, saved = first_step_then_scan(sweep, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll)
        return state, saved, SolveStats.fixed(n_steps)

    def explicit_step(self, dt):
        return dt
