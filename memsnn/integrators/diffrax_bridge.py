"""Integrate a network with any diffrax solver: explicit, implicit, fixed or adaptive steps."""

from __future__ import annotations

import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from ._base import AbstractIntegrator

# Real-axis stability bound |h lambda| of explicit Runge-Kutta schemes (approximate, from their
# stability polynomials). Used only to report unstable fixed steps early.
_EXPLICIT_LIMITS = {
    diffrax.Euler: 2.0,
    diffrax.Heun: 2.0,
    diffrax.Midpoint: 2.0,
    diffrax.Ralston: 2.0,
    diffrax.Bosh3: 2.5,
    diffrax.Tsit5: 3.5,
    diffrax.Dopri5: 3.3,
    diffrax.Dopri8: 5.0,
}


class Diffrax(AbstractIntegrator):
    """Bridge to ``diffrax.diffeqsolve``.

    Between impulse times the network's vector field is integrated by ``solver``; impulses are
    applied as state jumps at their grid times, so every solver converges to the same solution as
    :class:`~memsnn.integrators.Euler` with a shrinking step.

    Attributes:
        solver: a diffrax solver, e.g. ``diffrax.Tsit5()`` or ``diffrax.Kvaerno5()``.
        stepsize_controller: ``None`` for fixed steps of ``dt0`` (default: the grid step), or e.g.
            ``diffrax.PIDController(rtol=1e-6, atol=1e-9)`` for adaptive steps.
        dt0: initial (adaptive) or fixed step (s); ``None`` = the grid step.
        adjoint: how to differentiate, e.g. ``diffrax.RecursiveCheckpointAdjoint()`` (default,
            exact discretise-then-optimise) or ``diffrax.BacksolveAdjoint()`` (O(1) memory).
        max_steps: cap on solver steps per stretch between impulses (adaptive solves).
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    stepsize_controller: diffrax.AbstractStepSizeController | None = None
    dt0: float | None = eqx.field(static=True, default=None)
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    max_steps: int = eqx.field(static=True, default=65536)

    @property
    def _fixed(self) -> bool:
        return self.stepsize_controller is None or isinstance(self.stepsize_controller, diffrax.ConstantStepSize)

    def advance(self, network, state, impulse, drive, t0, dt, n_steps, save_fn, checkpoint_every=None):
        if impulse is None:
            return self._solve(network, state, drive, t0, dt, n_steps, save_fn)
        # The impulse lands at t0 + dt: integrate the first step, jump, then the rest.
        state, _ = self._solve(network, state, drive, t0, dt, 1, None)
        state = network.inject(state, impulse)
        first = None if save_fn is None else save_fn(state)
        if n_steps == 1:
            return state, (None if save_fn is None else jax.tree.map(lambda r: r[None], first))
        state, rest = self._solve(network, state, drive, t0 + dt, dt, n_steps - 1, save_fn)
        if save_fn is None:
            return state, None
        return state, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)

    def _solve(self, network, state, drive, t0, dt, n_steps, save_fn):
        # The network's vector field is autonomous within a stretch (constant drive), so each stretch
        # is solved in local time from 0: with a global t0, t0 + k * dt0 rounds past t1 and diffrax
        # rebalances the last fixed steps, which breaks agreement with the Euler scan.
        term = diffrax.ODETerm(lambda t, y, args: network.vector_field(y, drive))
        t1 = n_steps * dt
        dt0 = dt if self.dt0 is None else self.dt0
        if self._fixed:
            controller = diffrax.ConstantStepSize()
            # The exact step count lets diffrax size its checkpointing for the backward pass.
            max_steps = math.ceil(n_steps * dt / dt0 - 1e-9)
        else:
            controller = self.stepsize_controller
            max_steps = self.max_steps
        subs = [diffrax.SubSaveAt(t1=True)]
        if save_fn is not None:
            ts = dt * jnp.arange(1, n_steps + 1)
            subs.append(diffrax.SubSaveAt(ts=ts, fn=lambda t, y, args: save_fn(y)))
        sol = diffrax.diffeqsolve(
            term, self.solver, 0.0, t1, dt0, state,
            saveat=diffrax.SaveAt(subs=subs),
            stepsize_controller=controller,
            adjoint=self.adjoint,
            max_steps=max_steps,
        )
        final = jax.tree.map(lambda y: y[0], sol.ys[0])
        return final, (sol.ys[1] if save_fn is not None else None)

    def explicit_step(self, dt):
        if not self._fixed or type(self.solver) not in _EXPLICIT_LIMITS:
            return None
        return dt if self.dt0 is None else self.dt0

    @property
    def stability_limit(self) -> float:
        return _EXPLICIT_LIMITS.get(type(self.solver), 2.0)

    @property
    def name(self) -> str:
        kind = "fixed" if self._fixed else "adaptive"
        return f"Diffrax({type(self.solver).__name__}, {kind})"

