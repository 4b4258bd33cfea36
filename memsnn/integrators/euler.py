"""Fixed-step explicit Euler in a ``lax.scan``, its Gauss-Seidel ordering (the SPICEprop scheme), and
exponential Euler (exact on the components' linear decays)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..network import tree_axpy
from ._base import AbstractIntegrator, SolveStats, first_step_then_scan


class Euler(AbstractIntegrator):
    """Explicit Euler with ``substeps`` equal steps per grid interval.

    Every right-hand side is evaluated at the start of the step (Jacobi order); an impulse is added
    at the end of its step. First order; stable while ``(dt / substeps) * decay_rate < 2``.
    """

    substeps: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        _check_substeps("Euler", self.substeps)

    def advance(self, network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every=None, unroll=1):
        def update(t, h, y):
            return tree_axpy(h, network.vector_field(t, y, drive), y)

        return _substeps_scan(update, self.substeps, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll)

    def explicit_step(self, dt):
        return dt / self.substeps


def _substeps_scan(update, substeps: int, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll):
    """:meth:`AbstractIntegrator.advance` of a one-step scheme ``update(t, h, y) -> y`` taken
    ``substeps`` times per grid step, the impulses ``jump`` at the end of the first grid step."""
    h = dt / substeps

    def step(k, y, jump):
        t = t0 + k * dt

        def substep(i, y):
            return update(t + i * h, h, y)

        # A loop, not a Python unroll: compile time stays flat in the number of sub-steps.
        y = substep(0, y) if substeps == 1 else jax.lax.fori_loop(0, substeps, substep, y)
        return y if jump is None else jump(y)

    state, saved = first_step_then_scan(step, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll)
    return state, saved, SolveStats.fixed(n_steps * substeps)


def _check_substeps(owner: str, substeps) -> None:
    if isinstance(substeps, bool) or int(substeps) != substeps or substeps < 1:
        raise ValueError(f"{owner}: substeps must be >= 1 (an integer), got {substeps!r}.")


def phi1(z):
    """``(exp(z) - 1) / z`` elementwise, 1 at ``z = 0``; accurate to rounding for every ``z``
    (``expm1``), with a Taylor series ``1 + z/2 + z^2/6`` where ``|z| < 1e-5`` so that the
    value and its derivative (1/2 at 0) are smooth through 0."""
    small = jnp.abs(z) < 1e-5
    safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z * (0.5 + z / 6.0), jnp.expm1(safe) / safe)


def _exponential_step(h, y, f, a):
    """``y + h phi1(h a) f``, written as ``exp(h a) y + h phi1(h a) (f - a y)``: the decay factor
    multiplies ``y`` instead of cancelling most of it (a pure decay stays exact to rounding)."""
    z = h * a
    return jnp.exp(z) * y + h * phi1(z) * (f - a * y)


class ExponentialEuler(AbstractIntegrator):
    """Exponential Euler with ``substeps`` equal steps per grid interval (Brian2's ``exponential_euler``).

    Every state variable ``y`` with vector field ``f`` and diagonal linear coefficient ``a``
    (:meth:`~memsnn.components.AbstractComponent.linear_coefficient`, 1/s), both evaluated at the
    start of the step and frozen over it, advances by

        y + h phi1(h a) f  =  exp(h a) y + h phi1(h a) (f - a y),    phi1(z) = (exp(z) - 1) / z

    (computed in the second form, in which a pure decay keeps its relative precision): the exact
    solution of ``dy/dt = a (y - y_eq)`` over ``h``. A conductance-based membrane relaxes towards
    its momentary equilibrium without overshooting it, however large ``h (1 + g) / tau`` is
    (explicit Euler needs it below 2). Variables whose coefficient is 0 (every component that
    declares none) take a plain Euler step, so this is :class:`Euler` wherever nothing is linear.
    First order; impulses at the end of their step, and spike times located inside a step, as
    with :class:`Euler`. The stability check (``Trace.step_ratio``) multiplies ``h`` by the rates
    left beside the linear parts (:meth:`~memsnn.components.AbstractComponent.residual_decay_rate`).
    """

    substeps: int = eqx.field(static=True, default=1)
    exact_linear_part = True

    def __check_init__(self):
        _check_substeps("ExponentialEuler", self.substeps)

    def advance(self, network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every=None, unroll=1):
        def update(t, h, y):
            field, coefficient = network.vector_field(t, y, drive), network.linear_coefficient(y, drive)
            return jax.tree.map(lambda yi, fi, ai: _exponential_step(h, yi, fi, ai), y, field, coefficient)

        return _substeps_scan(update, self.substeps, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll)

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
