"""Integrate a network with any diffrax solver: explicit, implicit, fixed or adaptive steps."""

from __future__ import annotations

from typing import Callable, ClassVar

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import optimistix

from ._base import RESULTS, AbstractIntegrator, EventMaps, SolveStats, first_step_then_scan

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
      arrivals of impulses (sparse ``Impulses.steps``), saving on the grid, all stretches in one
      ``lax.scan`` around a single solve, compiled once however many impulses. Each stretch saves
      as many grid points as the longest (the surplus overwritten), which costs run time when the
      stretches differ in length: SPICEprop's impulses at steps 0, 400 and 800 of 1000 (Tsit5,
      rtol 1e-4, batch 200, float64, forward and backward) take 4.75 CPU s per call against 4.22
      with one compiled solve per stretch, but compile in 21 CPU s instead of 52. The default
      adjoint keeps one checkpoint per solver step (``max_steps`` of them, allocated only under
      reverse-mode autodiff): with fewer checkpoints, diffrax 0.7's recursive checkpointing
      returned wrong gradients for grid saves in our tests. ``diffrax.BacksolveAdjoint()`` gives
      O(1) memory at the price of a backward ODE solve.
    - Spike events (``events=True``, adaptive steps, ``simulate(..., spike_timing="exact")``):
      inside each grid step the solve stops at every threshold crossing, located by root finding
      on the solver's dense output (a ``diffrax.Event`` on the neurons' threshold functions,
      ``event_root_finder``), applies the event maps there (reset, impulses to the next layers,
      plasticity) and goes on to the grid point. It also stops at every arrival of a spike that an
      array delays (``DelayedDense``, ``Recurrent``: ``next_arrival`` of the array protocol) and
      delivers it there, at the spike time plus the delay exactly. At most ``max_events`` crossings
      and arrivals per grid step (more end the run with ``RESULTS.max_steps_reached``). Spike-time gradients come from
      diffrax's differentiation of the event time (the implicit function theorem on the root,
      ``dt*/dtheta = -(dg/dtheta)/(dg/dt)``). docs/spike-times.md compares it with the located
      crossing.

    Attributes:
        solver: a diffrax solver, e.g. ``diffrax.Tsit5()`` or ``diffrax.Kvaerno5()``.
        stepsize_controller: ``None`` for fixed steps of ``dt0``, or e.g.
            ``diffrax.PIDController(rtol=1e-6, atol=1e-9)`` for adaptive steps.
        dt0: fixed step, or initial step for adaptive solves (s); ``None`` = the grid step.
        adjoint: adaptive solves only: how to differentiate (see above).
        max_steps: adaptive solves only: cap on solver steps per stretch between impulses (with
            ``events``: per stretch between events).
        events: stop at threshold crossings (above); adaptive steps and ``spike_timing="exact"`` only.
        event_root_finder: ``events`` only: an optimistix root finder for the crossing time; default
            :class:`BracketedNewton` to 1e-12 of the grid step (float64; 1e-6 in float32).
        max_events: ``events`` only: bound on the crossings and delayed arrivals handled inside one
            grid step, all neurons and arrays of the network together (the loop ends as soon as the grid point is reached: the bound costs
            nothing until it is used).
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    stepsize_controller: diffrax.AbstractStepSizeController | None = None
    dt0: float | None = eqx.field(static=True, default=None)
    adjoint: diffrax.AbstractAdjoint | None = None
    max_steps: int = eqx.field(static=True, default=4096)
    events: bool = eqx.field(static=True, default=False)
    event_root_finder: optimistix.AbstractRootFinder | None = None
    max_events: int = eqx.field(static=True, default=64)

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
        if not isinstance(self.events, bool):
            raise TypeError(f"Diffrax: events must be True or False, got {self.events!r}.")
        if self.events and self._fixed:
            raise ValueError("Diffrax: events=True stops an adaptive solve at each threshold crossing, so it needs an "
                             "adaptive step-size controller, e.g. Diffrax(diffrax.Tsit5(), "
                             "diffrax.PIDController(rtol=1e-8, atol=1e-10), events=True). Fixed steps locate the "
                             "crossing inside each step without events: simulate(..., spike_timing='exact').")
        if self.event_root_finder is not None:
            if not self.events:
                raise ValueError("Diffrax: event_root_finder is used only with events=True.")
            if not isinstance(self.event_root_finder, optimistix.AbstractRootFinder):
                raise TypeError("Diffrax: event_root_finder must be an optimistix root finder such as "
                                f"optimistix.Newton(rtol=1e-12, atol=1e-15), got {self.event_root_finder!r}.")
        if isinstance(self.max_events, bool) or int(self.max_events) != self.max_events or self.max_events < 1:
            raise ValueError(f"Diffrax: max_events must be a positive integer, got {self.max_events!r}.")

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

    def advance_stretches(self, network, state, stretches, jump_at, drive, dt, save_fn, checkpoint_every=None,
                          unroll=1):
        if self._fixed:
            return super().advance_stretches(network, state, stretches, jump_at, drive, dt, save_fn,
                                             checkpoint_every, unroll)
        # One solve per piece between consecutive arrivals of impulses (the end of an impulse's
        # step), the impulses applied at the piece's end; all pieces in one loop around one
        # diffeqsolve (compiled once, however many impulses). Each solve saves at `width` grid
        # points (the longest piece's), the ones past its end repeating its end point; they land
        # in one (n_steps + width) buffer, each piece overwriting what the one before saved past
        # its end.
        n_steps = stretches[-1][1]
        arrivals = {start + 1: (row, start) for start, _, row in stretches if row is not None}
        ends = sorted(set(arrivals) | {n_steps})
        starts = [0] + ends[:-1]
        width = max(b - a for a, b in zip(starts, ends))
        dtype = jax.tree.leaves(state)[0].dtype
        xs = (jnp.asarray(starts), jnp.asarray([b - a for a, b in zip(starts, ends)]),
              jnp.asarray([e in arrivals for e in ends]),
              jnp.asarray([arrivals.get(e, (0, e - 1))[0] for e in ends]))

        def piece(carry, x):
            y, buffer = carry
            start, length, jumps, row = x
            t0 = start * dt
            y, out, stats = self._adaptive(network, y, drive, t0, dt, length, save_fn, width)
            if arrivals:
                y = jax.tree.map(lambda a, b: jnp.where(jumps, a, b), jump_at(row, start + length - 1)(y), y)
                if save_fn is not None:  # the state recorded at an arrival is the one after its impulses
                    last = save_fn(t0 + length * dt, y)
                    out = jax.tree.map(lambda rows, r: rows.at[length - 1].set(jnp.where(jumps, r, rows[length - 1])),
                                       out, last)
            buffer = jax.tree.map(lambda b, rows: jax.lax.dynamic_update_slice_in_dim(b, rows, start, 0), buffer, out)
            return (y, buffer), stats

        buffer = None
        if save_fn is not None:
            shapes = jax.eval_shape(lambda y: save_fn(jnp.zeros((), dtype), y), state)
            buffer = jax.tree.map(lambda s: jnp.zeros((n_steps + width,) + s.shape, s.dtype), shapes)
        (state, buffer), stats = jax.lax.scan(piece, (state, buffer), xs)
        stats = SolveStats(jnp.sum(stats.accepted), jnp.sum(stats.rejected), jnp.max(stats.result))
        return state, (None if buffer is None else jax.tree.map(lambda b: b[:n_steps], buffer)), stats

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

    def _adaptive(self, network, state, drive, t0, dt, n_steps, save_fn, width=None):
        # Solved in local time from 0 (the true time t0 + t reaches the vector field through args).
        # n_steps may be traced if `width` (static) is given: saves at the first `width` grid
        # points, those past n_steps at its end.
        subs = [diffrax.SubSaveAt(t1=True)]
        t1 = n_steps * dt
        if save_fn is not None:
            ts = dt * jnp.arange(1, (n_steps if width is None else width) + 1)
            subs.append(diffrax.SubSaveAt(ts=ts if width is None else jnp.minimum(ts, t1),
                                          fn=lambda t, y, args: save_fn(t0 + t, y)))
        adjoint = self.adjoint if self.adjoint is not None else diffrax.RecursiveCheckpointAdjoint(self.max_steps)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(_network_field), self.solver, 0.0, t1,
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

    @property
    def stops_at_events(self) -> bool:
        return self.events

    def advance_events(self, network, state, drive, t0, dt, maps: EventMaps):
        dtype = jax.tree.leaves(state)[0].dtype
        double = jnp.dtype(dtype) == jnp.float64
        root = self.event_root_finder
        if root is None:
            root = BracketedNewton(rtol=0.0, atol=(1e-12 if double else 1e-6) * dt)
        # One condition for the whole network: the largest threshold function over the armed neurons
        # (below threshold at the start of the stretch). Its first upward zero is the first crossing;
        # near it, its value and slope are the crossing neuron's, so the root and its derivative are.
        def condition(t, y, args, **kwargs):
            armed = args[3]
            g = maps.thresholds(y)
            return jnp.max(jnp.concatenate([jnp.where(a, gi, -jnp.ones_like(gi)) for a, gi in zip(armed, g)]))

        event = diffrax.Event(condition, root_finder=root, direction=True)
        adjoint = self.adjoint if self.adjoint is not None else diffrax.RecursiveCheckpointAdjoint()
        term = diffrax.ODETerm(_network_field)
        dt0 = dt if self.dt0 is None else self.dt0

        def solve(y, t_start, t_end, armed):
            sol = diffrax.diffeqsolve(term, self.solver, t_start, t_end, dt0, y, args=(network, drive, t0, armed),
                                      saveat=diffrax.SaveAt(t1=True), stepsize_controller=self.stepsize_controller,
                                      adjoint=adjoint, max_steps=self.max_steps, throw=False, event=event)
            hit = sol.result == diffrax.RESULTS.event_occurred
            ok = (sol.result == diffrax.RESULTS.successful) | hit
            result = jnp.where(ok, RESULTS.successful,
                               jnp.where(sol.result == diffrax.RESULTS.max_steps_reached, RESULTS.max_steps_reached,
                                         RESULTS.solver_failed)).astype(jnp.int32)
            stats = SolveStats(jnp.asarray(sol.stats["num_accepted_steps"], jnp.int32),
                               jnp.asarray(sol.stats["num_rejected_steps"], jnp.int32), result)
            return sol.ts[0], jax.tree.map(lambda x: x[0], sol.ys), hit, stats

        def arm(y, disarmed):
            g = maps.thresholds(y)
            armed = tuple((gi < 0) & ~d for gi, d in zip(g, disarmed))
            return g, armed, tuple(jnp.where(a, gi, jnp.zeros_like(gi)) for a, gi in zip(armed, g))

        g0 = maps.thresholds(state)
        zeros_like_g = tuple(jnp.zeros(gi.shape, bool) for gi in g0)
        t_start0 = jnp.zeros((), dtype)

        def one_event(carry):
            t_start, y, disarmed, first, count, stats, done, index = carry
            g, armed, start = arm(y, disarmed)
            now = maps.immediate(y)
            any_now = jnp.any(jnp.stack([jnp.any(n) for n in now]))
            # The stretch ends at the grid point or at the earliest arrival of a delayed impulse,
            # whichever comes first (its time carries the gradient of the arrival); done (under vmap
            # the loop runs on for the other samples), or a neuron to fire where it is: length 0.
            arrival = maps.next_arrival(y) - t0
            # An arrival inside the step or at its end: stop there, with the arrival's value clipped to
            # the stretch (rounding puts one at a grid point an ulp either side) and its derivative
            # kept (min/max would drop it at such ties).
            within = jax.lax.stop_gradient(arrival) <= dt
            arrival = jnp.where(within, arrival, jnp.asarray(dt, dtype))  # no inf below
            stop = arrival + jax.lax.stop_gradient(jnp.clip(arrival, t_start, dt) - arrival)
            t_end = jnp.where(done | any_now, t_start, stop)
            t_hit, y_hit, hit, taken = solve(y, t_start, t_end, armed)
            # A stretch of length 0 (a neuron firing where it is, an arrival at the start or the end of
            # the stretch) takes no solver step, so diffrax gives no derivative for its ends: the flow
            # over it, (dt_end - dt_start) f(y), is added here (zero in value).
            empty = jax.lax.stop_gradient(t_end) == jax.lax.stop_gradient(t_start)
            moved = (t_end - jax.lax.stop_gradient(t_end)) - (t_start - jax.lax.stop_gradient(t_start))
            rate = _network_field(t_end, y, (network, drive, t0))
            y_hit = jax.tree.map(lambda a, f: jnp.where(empty, a + moved * f, a), y_hit, rate)
            # Without a crossing the stretch ended at t_end itself: take it with its whole derivative
            # (diffrax's final time splits it with its own clipping at such ties).
            t_hit = jnp.where(hit, t_hit, t_end)
            hit = hit & ~done & ~any_now
            arrived = ~done & ~any_now & ~hit & within
            g_hit = maps.thresholds(y_hit)
            top = jnp.max(jnp.concatenate([jnp.where(a, gi, -jnp.inf) for a, gi in zip(armed, g_hit)]))
            tie = 64 * jnp.finfo(dtype).eps * (1 + jnp.abs(top))
            crossed = tuple(jnp.where(any_now, n, hit & a & (gi >= top - tie))
                            for n, a, gi in zip(now, armed, g_hit))
            fires = ~done & (hit | any_now)
            fired, spikes = maps.fire(y_hit, t0 + t_hit, crossed, start, index + 1)
            delivered = maps.deliver(y_hit, t0 + t_hit)
            y = jax.tree.map(lambda a, b, c: jnp.where(fires, a, jnp.where(arrived, b, c)), fired, delivered, y_hit)
            spikes = tuple(jnp.where(fires, s, jnp.zeros_like(s)) for s in spikes)
            first = tuple(jnp.minimum(f, jnp.where(s > 0, t0 + t_hit, jnp.inf)) for f, s in zip(first, spikes))
            count = tuple(c + s for c, s in zip(count, spikes))
            # A neuron without a reset that fired stays disarmed until it is below threshold at a grid point.
            disarmed = tuple(d | ((s > 0) & (not r)) for d, s, r in zip(disarmed, spikes, maps.resets))
            return t_hit, y, disarmed, first, count, stats.plus(taken), done | ~(fires | arrived), index + 1

        first0 = tuple(jnp.full(gi.shape, jnp.inf, dtype) for gi in g0)
        count0 = tuple(jnp.zeros(gi.shape, dtype) for gi in g0)
        carry = (t_start0, state, zeros_like_g, first0, count0, SolveStats.fixed(0), jnp.asarray(False),
                 jnp.asarray(0, jnp.int32))
        # A loop that ends once every sample has reached the grid point (one pass per event, plus one),
        # bounded by max_events; checkpointed for reverse-mode autodiff, like diffrax's own loop.
        t_start, y, disarmed, first, count, stats, done, _ = eqxi.while_loop(
            lambda c: ~c[6] & (c[7] <= self.max_events), one_event, carry, max_steps=self.max_events + 1,
            kind="checkpointed")
        # Still short of the grid point after max_events + 1 crossings: a failure, reported like max_steps
        # (the state is left where the last event put it).
        stats = stats._replace(result=jnp.where(done, stats.result, RESULTS.max_steps_reached).astype(jnp.int32))
        return y, first, count, arm(y, disarmed)[2], stats

    def failure_message(self, result):
        name = type(self.solver).__name__
        if result == RESULTS.max_steps_reached:
            events = (f" With events=True it also means more than max_events={self.max_events} threshold "
                      "crossings and delayed arrivals (all neurons together) inside one grid step: raise max_events "
                      "(memsnn.Diffrax(..., max_events=...)) or use a finer grid."
                      if self.events else "")
            return (f"memsnn.Diffrax: the adaptive {name} solve used all max_steps={self.max_steps} steps within "
                    "one stretch between impulses. The tolerances may be tighter than the floating-point type "
                    "allows (float32 cannot reach rtol ~1e-7), or the circuit stiff for an explicit solver. "
                    "Raise max_steps (memsnn.Diffrax(..., max_steps=...)), loosen rtol/atol, or use an implicit "
                    "solver such as diffrax.Kvaerno5()." + events)
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


class _BracketState(eqx.Module):
    lower: jax.Array
    upper: jax.Array
    flip: jax.Array
    diff: jax.Array
    f: jax.Array


class BracketedNewton(optimistix.AbstractRootFinder):
    """Newton's method for a scalar root inside a bracket, with bisection wherever a Newton step
    would leave it: the default root finder of ``Diffrax(..., events=True)``.

    diffrax hands its event root finder the step in which the condition changed sign (``lower``,
    ``upper`` options). Plain ``optimistix.Newton`` can wander off a condition that is not monotone
    inside that step or that switches between neurons, and then fails (seen on two-layer LIF
    networks); keeping every iterate inside the shrinking bracket always converges, quadratically
    near a simple root. Gradients of the root do not depend on the root finder (optimistix
    differentiates the root by the implicit function theorem).

    Attributes:
        rtol, atol: stop once a step or the bracket is below ``atol + rtol |t|`` (s), or ``f == 0``.
    """

    rtol: float
    atol: float
    norm: ClassVar[Callable] = jnp.abs

    def init(self, fn, y, args, options, f_struct, aux_struct, tags):
        lower = jnp.asarray(options["lower"], f_struct.dtype)
        upper = jnp.asarray(options["upper"], f_struct.dtype)
        f_lower, _ = fn(lower, args)
        f_upper, _ = fn(upper, args)
        inf = jnp.asarray(jnp.inf, f_struct.dtype)
        return _BracketState(lower, upper, f_lower > f_upper, inf, inf)

    def step(self, fn, y, args, options, state, tags):
        (f, aux), (slope, _) = jax.jvp(lambda t: fn(t, args), (y,), (jnp.ones_like(y),))
        below = state.flip ^ (f < 0)  # y is on the lower side of the root
        lower = jnp.where(below, y, state.lower)
        upper = jnp.where(below, state.upper, y)
        lo, hi = jnp.minimum(lower, upper), jnp.maximum(lower, upper)
        newton = y - f / jnp.where(slope == 0, 1.0, slope)
        inside = (slope != 0) & jnp.isfinite(newton) & (newton > lo) & (newton < hi)
        new_y = jnp.where(f == 0, y, jnp.where(inside, newton, 0.5 * (lower + upper)))
        return new_y, _BracketState(lower, upper, state.flip, jnp.abs(new_y - y), f), aux

    def terminate(self, fn, y, args, options, state, tags):
        scale = self.atol + self.rtol * jnp.abs(y)
        done = (state.diff < scale) | (jnp.abs(state.upper - state.lower) < scale) | (state.f == 0)
        return done, optimistix.RESULTS.successful

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        return y, aux, {}


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
    network, drive, t_offset = args[:3]
    return network.vector_field(t_offset + t, y, drive)
