"""Integrate a network with any diffrax solver: explicit, implicit, fixed or adaptive steps."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix

from ._base import RESULTS, AbstractIntegrator, SolveStats, first_step_then_scan

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
    """Integrate the network with a diffrax solver.

    Impulses are state jumps at their grid times (the end of their step), so every solver converges
    to the same solution as :class:`~memsnn.integrators.Euler` with a shrinking step.

    - Fixed steps (``stepsize_controller=None``): ``dt0`` must divide the grid step. The steps run
      in memsnn's own ``lax.scan`` over ``solver.step`` (with ``checkpoint_every`` from
      :func:`~memsnn.simulate`), which differentiates exactly and as fast as the Euler scan.
    - Adaptive steps (a ``diffrax.PIDController``): one ``diffeqsolve`` per stretch between
      impulses, saving on the grid. The default adjoint keeps one checkpoint per solver step
      (``max_steps`` of them, allocated only under reverse-mode autodiff): with fewer checkpoints,
      diffrax 0.7's recursive checkpointing returned wrong gradients for grid saves in our tests.
      ``diffrax.BacksolveAdjoint()`` gives O(1) memory at the price of a backward ODE solve.

    Attributes:
        solver: a diffrax solver, e.g. ``diffrax.Tsit5()`` or ``diffrax.Kvaerno5()``.
        stepsize_controller: ``None`` for fixed steps of ``dt0``, or e.g.
            ``diffrax.PIDController(rtol=1e-6, atol=1e-9)`` for adaptive steps.
        dt0: fixed step, or initial step for adaptive solves (s); ``None`` = the grid step.
        adjoint: adaptive solves only: how to differentiate (see above).
        max_steps: adaptive solves only: cap on solver steps per stretch between impulses.
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    stepsize_controller: diffrax.AbstractStepSizeController | None = None
    dt0: float | None = eqx.field(static=True, default=None)
    adjoint: diffrax.AbstractAdjoint | None = None
    max_steps: int = eqx.field(static=True, default=4096)

    def __check_init__(self):
        if not isinstance(self.solver, diffrax.AbstractSolver):
            what = f"the class {self.solver.__name__}" if isinstance(self.solver, type) else repr(self.solver)
            raise TypeError(f"Diffrax: solver must be a diffrax solver instance such as diffrax.Tsit5() "
                            f"(note the parentheses), got {what}.")
        if self.stepsize_controller is not None and not isinstance(
                self.stepsize_controller, diffrax.AbstractStepSizeController):
            raise TypeError("Diffrax: stepsize_controller must be None (fixed steps) or a diffrax controller "
                            f"instance such as diffrax.PIDController(rtol=1e-6, atol=1e-9), got "
                            f"{self.stepsize_controller!r}.")
        if self.dt0 is not None and not float(self.dt0) > 0:
            raise ValueError(f"Diffrax: dt0 must be > 0 seconds (or None for the grid step), got {self.dt0}.")
        if isinstance(self.max_steps, bool) or int(self.max_steps) != self.max_steps or self.max_steps < 1:
            raise ValueError(f"Diffrax: max_steps must be a positive integer, got {self.max_steps!r}.")

    @property
    def _fixed(self) -> bool:
        return self.stepsize_controller is None or isinstance(self.stepsize_controller, diffrax.ConstantStepSize)

    def _substeps(self, dt: float) -> int:
        if self.dt0 is None:
            return 1
        ratio = dt / self.dt0
        m = round(ratio)
        if m < 1 or abs(ratio - m) > 1e-6 * ratio:
            raise ValueError(f"Diffrax: with fixed steps, dt0={self.dt0} must divide the grid step dt={dt}.")
        return m

    def advance(self, network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every=None, unroll=1):
        if self._fixed:
            return self._fixed_steps(network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every, unroll)
        if jump is None:
            return self._adaptive(network, state, drive, t0, dt, n_steps, save_fn)
        # The impulse lands at the end of the first step: solve it, jump, then the rest.
        state, _, stats = self._adaptive(network, state, drive, t0, dt, 1, None)
        state = jump(state)
        first = None if save_fn is None else save_fn(t0 + dt, state)
        if n_steps == 1:
            return state, (None if save_fn is None else jax.tree.map(lambda r: r[None], first)), stats
        state, rest, more = self._adaptive(network, state, drive, t0 + dt, dt, n_steps - 1, save_fn)
        stats = stats.plus(more)
        if save_fn is None:
            return state, None, stats
        return state, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest), stats

    def _fixed_steps(self, network, state, jump, drive, t0, dt, n_steps, save_fn, checkpoint_every, unroll):
        term = diffrax.ODETerm(_network_field)
        m = self._substeps(dt)
        h = dt / m
        solver = _with_root_tolerances(self.solver, jax.tree.leaves(state)[0].dtype)

        def grid_step(k, y, jump):
            # Local times 0..h for every sub-step, the true time passed in args: the same numbers
            # for every step. The solver state restarts at every grid step: FSAL caches would be
            # stale after a jump.
            def substep(i, carry):
                y, solver_state = carry
                args = (network, drive, t0 + k * dt + i * h)
                y, _, _, solver_state, _ = solver.step(term, 0.0, h, y, args, solver_state, made_jump=False)
                return y, solver_state

            carry = (y, solver.init(term, 0.0, h, y, (network, drive, t0 + k * dt)))
            carry = substep(0, carry) if m == 1 else jax.lax.fori_loop(0, m, substep, carry)
            return carry[0] if jump is None else jump(carry[0])

        state, saved = first_step_then_scan(grid_step, state, jump, t0, dt, n_steps, save_fn, checkpoint_every, unroll)
        return state, saved, SolveStats.fixed(n_steps * m)

    def _adaptive(self, network, state, drive, t0, dt, n_steps, save_fn):
        # Solved in local time from 0 (the true time t0 + t reaches the vector field through args).
        subs = [diffrax.SubSaveAt(t1=True)]
        if save_fn is not None:
            subs.append(diffrax.SubSaveAt(ts=dt * jnp.arange(1, n_steps + 1),
                                          fn=lambda t, y, args: save_fn(t0 + t, y)))
        adjoint = self.adjoint if self.adjoint is not None else diffrax.RecursiveCheckpointAdjoint(self.max_steps)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(_network_field), self.solver, 0.0, n_steps * dt,
            dt if self.dt0 is None else self.dt0, state,
            args=(network, drive, t0),
            saveat=diffrax.SaveAt(subs=subs),
            stepsize_controller=self.stepsize_controller,
            adjoint=adjoint,
            max_steps=self.max_steps,
            throw=False,  # failures become RESULTS codes, reported by simulate in memsnn's words
        )
        final = jax.tree.map(lambda y: y[0], sol.ys[0])
        result = jnp.where(sol.result == diffrax.RESULTS.successful, RESULTS.successful,
                           jnp.where(sol.result == diffrax.RESULTS.max_steps_reached, RESULTS.max_steps_reached,
                                     RESULTS.solver_failed)).astype(jnp.int32)
        stats = SolveStats(jnp.asarray(sol.stats["num_accepted_steps"], jnp.int32),
                           jnp.asarray(sol.stats["num_rejected_steps"], jnp.int32), result)
        return final, (sol.ys[1] if save_fn is not None else None), stats

    def failure_message(self, result):
        name = type(self.solver).__name__
        if result == RESULTS.max_steps_reached:
            return (f"memsnn.Diffrax: the adaptive {name} solve used all max_steps={self.max_steps} steps within "
                    "one stretch between impulses. The tolerances may be tighter than the floating-point type "
                    "allows (float32 cannot reach rtol ~1e-7), or the circuit stiff for an explicit solver. "
                    "Raise max_steps (memsnn.Diffrax(..., max_steps=...)), loosen rtol/atol, or use an implicit "
                    "solver such as diffrax.Kvaerno5().")
        return (f"memsnn.Diffrax: the adaptive {name} solve failed (diffrax reported a non-convergent implicit "
                "step or a singular system). Loosen rtol/atol, or try another solver.")

    @property
    def dense_order(self) -> int:
        # Cubic Hermite for schemes of order >= 2 (its O(h^4) error is below theirs for h small).
        return 1 if self.solver.order(diffrax.ODETerm(_network_field)) < 2 else 3

    def explicit_step(self, dt):
        if not self._fixed or type(self.solver) not in _EXPLICIT_LIMITS:
            return None
        return dt / self._substeps(dt)

    @property
    def stability_limit(self) -> float:
        return _EXPLICIT_LIMITS.get(type(self.solver), 2.0)

    @property
    def name(self) -> str:
        kind = "fixed" if self._fixed else "adaptive"
        return f"Diffrax({type(self.solver).__name__}, {kind})"


def _with_root_tolerances(solver, dtype):
    """Give an implicit solver's Newton (chord) iteration tolerances for fixed steps.

    diffrax's implicit solvers take those tolerances from an adaptive step-size controller by
    default; with fixed steps there is none, and ``solver.step`` would fail deep inside the root
    finder. Tolerances the user set are kept. Otherwise: rtol 1e-10 (float64) or 1e-5 (float32),
    atol 1e-4 rtol (the states are volts, amperes and unit-free memristor states, none below 1e-9
    in magnitude when it matters), RMS norm.
    """
    root = getattr(solver, "root_finder", None)
    if root is None or not all(hasattr(root, name) for name in ("rtol", "atol", "norm")):
        return solver
    if isinstance(root.rtol, (int, float)) and isinstance(root.atol, (int, float)) and callable(root.norm):
        return solver
    rtol = 1e-10 if jnp.dtype(dtype) == jnp.float64 else 1e-5
    root = eqx.tree_at(lambda r: (r.rtol, r.atol, r.norm), root, (rtol, 1e-4 * rtol, optimistix.rms_norm))
    return eqx.tree_at(lambda s: s.root_finder, solver, root)


def _network_field(t, y, args):
    network, drive, t_offset = args
    return network.vector_field(t_offset + t, y, drive)
