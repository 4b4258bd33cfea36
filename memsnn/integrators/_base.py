"""The integrator interface and the checkpointed scan that every time loop uses."""

from __future__ import annotations

import abc
import enum
from typing import Callable, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp


class RESULTS(enum.IntEnum):
    """Outcome of a simulation, per sample (``Trace.result`` with ``simulate(..., throw=False)``).

    Larger codes are reported first when several happen in one run.
    """

    successful = 0
    solver_failed = 1  # an implicit step did not converge, or another solver failure
    max_steps_reached = 2  # an adaptive solve ran out of max_steps
    nonfinite_state = 3  # the state became NaN or inf
    unstable_step = 4  # an explicit step exceeded the scheme's stability limit


class SolveStats(NamedTuple):
    """What an integrator reports about a stretch: ``accepted`` and ``rejected`` solver steps (int32
    scalars) and its ``result`` (a :class:`RESULTS` code, int32 scalar).

    Fixed-step schemes accept every step they take and always succeed; adaptive ones report
    diffrax's counts and outcome.
    """

    accepted: jax.Array
    rejected: jax.Array
    result: jax.Array

    @classmethod
    def fixed(cls, n: int) -> "SolveStats":
        return cls(jnp.asarray(n, jnp.int32), jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))

    def plus(self, other: "SolveStats") -> "SolveStats":
        """Counts summed, the worse result kept (``+`` would concatenate the tuples)."""
        return SolveStats(self.accepted + other.accepted, self.rejected + other.rejected,
                          jnp.maximum(self.result, other.result))


Jump = Callable  # state -> state: the event map applied at the end of a stretch's first step


class EventMaps(NamedTuple):
    """What an integrator that stops at threshold crossings (:attr:`AbstractIntegrator.stops_at_events`)
    needs from the network; :func:`memsnn.simulate` builds it from the component protocol
    (docs/spike-times.md). The integrator knows nothing of the components behind these maps.

    Attributes:
        thresholds: ``state -> tuple`` of ``g (n,)`` per layer (a spike is an upward crossing of 0).
        immediate: ``state -> tuple`` of ``(n,)`` bool per layer: neurons that must fire where they
            are, without a crossing (a neuron with a reset left at or above its threshold).
        resets: per layer, whether its neurons reset when they fire (static ``bool``): a neuron
            without a reset is re-armed only once it is below its threshold again.
        fire: ``(state, t, crossed, start, index) -> (state, spikes)``: the event maps at time ``t``
            (s): resets of the neurons in ``crossed`` (per layer ``(n,)`` bool, and of those that
            the impulses they send carry over their thresholds), the impulses to the next layers
            and plasticity, all at ``t``. ``start`` is ``g`` per layer at the start of the
            stretch (a neuron without a reset at or above 0 there does not fire again); ``index``
            numbers the events inside a grid step (noise keys). ``spikes``: per layer ``(n,)``.
        next_arrival: ``state -> t`` (s, a scalar): the earliest arrival of an impulse that an
            array holds back (a delay), ``+inf`` if none; the solve stops there too.
        deliver: ``(state, t) -> state``: the held-back impulses that arrive by ``t`` arrive.
    """

    thresholds: Callable
    immediate: Callable
    resets: tuple
    fire: Callable
    next_arrival: Callable
    deliver: Callable


class AbstractIntegrator(eqx.Module):
    """Advances a :class:`~memsnn.network.Network` over a stretch of the time grid.

    ``advance`` integrates ``n_steps`` grid intervals of length ``dt`` from ``t0`` with the constant
    ``drive`` (a current into the first layer's membrane, or ``None``) and returns
    ``(state, saved, stats)``: the final state, ``save_fn(t, state)`` stacked at the grid points
    ``t = t0 + k dt``, ``k = 1..n_steps`` (``None`` if ``save_fn`` is ``None``), and the
    :class:`SolveStats` of the stretch.

    Event convention (shared by all integrators): ``jump`` (a function ``state -> state``, or
    ``None``) is the arrival of input impulses; it acts at the *end* of the first step, ``t0 + dt``,
    and is part of the state recorded for that step. It is the convention of the SPICEprop
    reference code and of snnTorch (``mem = beta * mem + input``).

    An integrator only sees ``network.vector_field(t, state, drive)`` and ``jump``; it knows nothing
    of the components inside (docs/architecture.md).

    Spike times (``simulate(..., spike_timing="exact")``, docs/spike-times.md): the integrator says
    how a threshold crossing inside a step is located from the step's own states
    (:meth:`crossing_fraction`, of :attr:`dense_order`), and whether it applies ``jump`` after the
    whole step (:attr:`jumps_after_step`), so that the state before the impulses is the step's own.
    """

    jumps_after_step: ClassVar[bool] = True
    #: Whether the scheme integrates the components' diagonal linear parts exactly
    #: (:meth:`~memsnn.components.AbstractComponent.linear_coefficient`): its stability check then
    #: uses the rates left beside them (``Network.decay_rate(..., residual=True)``).
    exact_linear_part: ClassVar[bool] = False

    @property
    def stops_at_events(self) -> bool:
        """Whether the integrator stops its solve at each threshold crossing inside a grid step and
        applies the event maps there (:meth:`advance_events`, ``Diffrax(..., events=True)``)
        instead of locating the crossings after the step (:meth:`crossing_fraction`)."""
        return False

    def advance_events(self, network, state, drive, t0, dt: float, maps: EventMaps):
        """One grid step ``[t0, t0 + dt]``, stopping at every threshold crossing (found by root
        finding) to apply ``maps.fire`` there, and at every arrival of a delayed impulse
        (``maps.next_arrival``, up to and including ``t0 + dt``) to apply ``maps.deliver`` there:
        ``(state, first, count, start, stats)``, with the
        state at ``t0 + dt`` (before the impulses that land there), per layer the first spike
        time in the step ``(n,)`` (s, ``+inf`` where none) and the number of spikes ``(n,)``, and
        ``g`` per layer at the start of the last stretch as ``maps.fire`` takes it.
        Only integrators with :attr:`stops_at_events` implement it."""
        raise ValueError(f"{self.name} does not stop at threshold crossings; exact spike times are located "
                         "inside each step instead (docs/spike-times.md).")

    @abc.abstractmethod
    def advance(self, network, state, jump: Jump | None, drive, t0, dt: float, n_steps: int,
                save_fn: Callable | None, checkpoint_every: int | None = None, unroll: int = 1):
        """Advance ``state`` by ``n_steps`` grid steps of ``dt`` from ``t0``: ``(state, saved, SolveStats)``.

        ``checkpoint_every`` and ``unroll`` are the execution options of :func:`memsnn.simulate`
        (see :func:`checkpointed_scan`); an integrator with a loop of its own (adaptive diffrax
        solves) ignores ``unroll``.
        """

    def advance_stretches(self, network, state, stretches: tuple, jump_at: Callable, drive, dt: float,
                          save_fn: Callable | None, checkpoint_every: int | None = None, unroll: int = 1):
        """Advance over consecutive stretches of the grid that start with impulses:
        ``(state, saved, SolveStats)`` over all of them, ``saved`` with one row per grid step.

        ``stretches``: ``((start, stop, row), ...)``, static ints covering ``[0, n_steps)`` in order;
        ``row`` is the stimulus row whose impulses arrive at the end of step ``start`` (``None``:
        none), and ``jump_at(row, k)`` builds that ``jump`` for step ``k`` (``row`` and ``k`` may
        be traced). This default makes one :meth:`advance` per stretch; an integrator whose
        compile grows with every call (adaptive diffrax solves) overrides it with a loop.
        """
        pieces, stats = [], SolveStats.fixed(0)
        for start, stop, row in stretches:
            jump = None if row is None else jump_at(row, start)
            state, out, taken = self.advance(network, state, jump, drive, start * dt, dt, stop - start, save_fn,
                                             checkpoint_every, unroll)
            pieces.append(out)
            stats = stats.plus(taken)
        return state, jax.tree.map(lambda *xs: jnp.concatenate(xs), *pieces), stats

    def explicit_step(self, dt: float) -> float | None:
        """The step size of an explicit fixed-step scheme (for the stability check), else None."""
        return None

    @property
    def dense_order(self) -> int:
        """Order of the interpolant that locates a crossing inside a step: 1 (linear between the
        step's end values, the dense output of a first-order scheme) or 3 (cubic Hermite through
        the end values and their time derivatives, for schemes of order >= 2)."""
        return 1

    def crossing_fraction(self, g0, g1, dg0, dg1, h):
        """Where inside a step of length ``h`` the function ``g`` (``g0 < 0 <= g1`` at its ends,
        time derivatives ``dg0``, ``dg1``; ``None`` for :attr:`dense_order` 1) crosses 0, as a
        fraction in ``[0, 1]``: see :func:`crossing_fraction`."""
        return crossing_fraction(g0, g1, dg0, dg1, h, order=self.dense_order)

    @property
    def stability_limit(self) -> float:
        """Bound on ``h * decay_rate`` for the scheme on the negative real axis."""
        return 2.0

    @property
    def name(self) -> str:
        return type(self).__name__

    def failure_message(self, result: RESULTS) -> str:
        """What to tell the user when a stretch ended with ``result`` (solver-specific codes)."""
        return f"memsnn.simulate: the integrator {self.name} failed ({result.name})."


def checkpointed_scan(body: Callable, carry, length: int, checkpoint_every: int | None = None,
                      unroll: int = 1, start: int = 0):
    """``lax.scan(body, carry, start + arange(length))``, optionally with O(T/k + k) memory for BPTT.

    With ``checkpoint_every = k`` the steps run in chunks of ``k`` whose insides are recomputed in
    the backward pass (``jax.checkpoint``), so only one carry per chunk is stored. ``unroll`` steps
    per loop iteration let XLA fuse consecutive steps (faster for small states, longer compile);
    with ``unroll >= checkpoint_every`` each chunk becomes straight-line code, no inner loop at all.
    """
    index = start + jnp.arange(length)
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


def first_step_then_scan(step: Callable, state, jump: Jump | None, t0, dt, n_steps: int,
                         save_fn: Callable | None, checkpoint_every: int | None, unroll: int = 1):
    """Run ``step(k, y, jump)`` for grid steps ``k = 0..n_steps-1`` of a stretch.

    ``step(k, y, jump)`` advances from ``t0 + k dt`` to ``t0 + (k + 1) dt`` and applies ``jump``
    (``None`` for all but the first step) at its end. The first step runs on its own; the others
    in a (checkpointed, ``unroll``-ed) scan. Returns ``(state, saved)`` as :meth:`AbstractIntegrator.advance`.
    """
    save = (lambda t, y: None) if save_fn is None else save_fn
    state = step(0, state, jump)
    first = save(t0 + dt, state)
    if n_steps == 1:
        return state, jax.tree.map(lambda r: r[None], first)

    def body(y, k):
        y = step(k, y, None)
        return y, save(t0 + (k + 1) * dt, y)

    state, rest = checkpointed_scan(body, state, n_steps - 1, checkpoint_every, unroll=unroll, start=1)
    return state, jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)


def crossing_fraction(g0, g1, dg0=None, dg1=None, h=None, *, order: int = 1, newton_steps: int = 4):
    """Fraction ``s`` in ``[0, 1]`` of a step at which an interpolant of ``g`` crosses 0, for
    ``g0 < 0 <= g1`` (elsewhere a finite placeholder with zero gradient; callers mask it).

    ``order=1``: the linear interpolant, ``s = g0 / (g0 - g1)``. ``order=3``: the cubic Hermite
    interpolant through ``g0, g1`` and the slopes ``h dg0, h dg1`` (local error O(h^4)), its root
    found by ``newton_steps`` Newton steps from the linear estimate (differentiated through, which
    at convergence is the implicit function theorem: ds/dtheta = -(dp/dtheta) / (dp/ds)).

    The expression is differentiable in all arguments: d t* / d theta = h ds/dtheta is the
    interpolant's own crossing-time derivative, the discrete counterpart of EventProp's
    ``-(dg/dtheta) / (dg/dt)``; it grows without bound at a grazing crossing (``g1 -> 0``), as the
    true one does.
    """
    crossing = (g0 < 0) & (g1 >= 0)
    denominator = jnp.where(crossing, g0 - g1, -1.0)
    s = jnp.where(crossing, g0 / denominator, 0.0)
    if order == 1:
        return s
    m0, m1 = h * dg0, h * dg1

    def cubic(s):
        s2, s3 = s * s, s * s * s
        value = (2 * s3 - 3 * s2 + 1) * g0 + (s3 - 2 * s2 + s) * m0 + (-2 * s3 + 3 * s2) * g1 + (s3 - s2) * m1
        slope = (6 * s2 - 6 * s) * g0 + (3 * s2 - 4 * s + 1) * m0 + (-6 * s2 + 6 * s) * g1 + (3 * s2 - 2 * s) * m1
        return value, slope

    for _ in range(newton_steps):
        value, slope = cubic(s)
        # A Newton step only where the slope is upward (the crossing is); elsewhere keep s.
        ok = crossing & (slope > 0)
        s = jnp.where(ok, s - value / jnp.where(ok, slope, 1.0), s)
        s = jnp.clip(s, 0.0, 1.0)
    return s
