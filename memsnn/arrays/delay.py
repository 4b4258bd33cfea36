"""Synaptic delays and recurrence as synapse arrays whose reads change their state (docs/spike-times.md).

:class:`DelayedDense`: every connection (and every one of its ``k`` terminals) has its own delay,
fixed or trainable; the array keeps a ring buffer of its presynaptic activity (the delay line) in
its state. :class:`Recurrent`: a layer reads its own spikes of the previous step through a weight
matrix (lateral inhibition, recurrent excitation), beside its feed-forward array.

Both are read once per grid step (``reads_every_step``), also when no input arrives, and hold
their history in the array slot of the layer state: ``Network`` and ``simulate`` have no special
case for them.

In event runs (``Diffrax(..., events=True)``) both hold delayed events instead: every spike sent
at ``t`` arrives on connection ``(o, i, k)`` at ``t + d_oik`` exactly, through a bounded queue of
pending spikes (:class:`EventQueueState`) in the array's event state; the integrator stops at the
earliest pending arrival (:meth:`~memsnn.arrays.AbstractSynapseArray.next_arrival`) as it stops at
a threshold crossing, and the arrival time's gradient (with respect to the delay and to the
spike time) flows through that stop.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._base import AbstractSynapseArray

__all__ = ["DelayLineState", "DelayedDense", "EventQueueState", "Recurrent", "RecurrentEventState", "RecurrentState"]


class DelayLineState(NamedTuple):
    """The delay line of a :class:`DelayedDense`: ``taps`` past reads, newest first.

    Attributes:
        activity: ``(taps, n_in)`` presynaptic activity of the last ``taps`` reads.
        lag: ``(taps, n_in)`` how long before its grid point each of them spiked (s; exact timing).
    """

    activity: Float[Array, "taps n_in"]
    lag: Float[Array, "taps n_in"]


class EventQueueState(NamedTuple):
    """Spikes sent through an array with delays and not yet delivered everywhere (event runs).

    A ring of the last ``max_pending`` spikes of each input (the ``P`` axis), and per connection the
    number of that input's spikes it has delivered: connection ``(o, i, k)`` holds the spikes of
    input ``i`` numbered ``delivered[o, i, k]`` and up, arriving at ``sent + delay[o, i, k]`` (in
    the order they were sent, as every spike on one connection has the same delay). Counts are
    floats (exact integers), so that the state stays one floating-point pytree for the solver.

    Attributes:
        sent: ``(n_in, P)`` send times (s).
        amplitude: ``(n_in, P)`` the spikes' amplitudes (1 for a spike).
        number: ``(n_in, P)`` each slot's spike number (0, 1, ... per input), -1 where empty.
        count: ``(n_in,)`` spikes sent so far per input.
        delivered: ``(n_out, n_in, k)`` spikes delivered so far on each connection.
    """

    sent: Float[Array, "n_in P"]
    amplitude: Float[Array, "n_in P"]
    number: Float[Array, "n_in P"]
    count: Float[Array, " n_in"]
    delivered: Float[Array, "n_out n_in k"]


def _empty_queue(n_out, n_in, k, pending, dtype) -> EventQueueState:
    zeros = jnp.zeros((n_in, pending), dtype)
    return EventQueueState(zeros, zeros, zeros - 1, jnp.zeros((n_in,), dtype), jnp.zeros((n_out, n_in, k), dtype))


def _push(queue: EventQueueState, amplitude, times, owner: str) -> EventQueueState:
    """``queue`` with the spikes ``amplitude`` ``(n_in,)`` (non-zero entries) sent at ``times`` ``(n_in,)``."""
    pending = queue.sent.shape[1]
    send = amplitude != 0
    slot = jnp.mod(queue.count, pending).astype(jnp.int32)
    held = jnp.take_along_axis(queue.number, slot[:, None], axis=1)[:, 0]
    # A slot is free once its spike has arrived on every connection of its input.
    free = held < jnp.min(queue.delivered, axis=(0, 2))
    queue = eqx.error_if(queue, jnp.any(send & ~free),
                         f"{owner}: more than max_pending={pending} spikes of one input in flight (sent, not yet "
                         "arrived on all its connections) in an event run; raise max_pending.")
    put = (jnp.arange(pending)[None, :] == slot[:, None]) & send[:, None]
    return EventQueueState(jnp.where(put, times[:, None], queue.sent), jnp.where(put, amplitude[:, None], queue.amplitude),
                           jnp.where(put, queue.count[:, None], queue.number), queue.count + send,
                           queue.delivered)


def _arrivals(queue: EventQueueState, delay):
    """Per connection and slot ``(n_out, n_in, k, P)``: whether the spike is pending there, and its arrival (s)."""
    number = queue.number[None, :, None, :]
    pending = (number >= 0) & (number >= queue.delivered[..., None])
    return pending, queue.sent[None, :, None, :] + delay[..., None]


def _next_arrival(queue: EventQueueState, delay):
    pending, arrival = _arrivals(queue, delay)
    return jnp.min(jnp.where(pending, arrival, jnp.inf))


def _deliver(queue: EventQueueState, weight, delay, t):
    """``(drive (n_out,), lagged (n_out,), queue)``: the pending spikes that arrive by ``t`` (their
    weights, and weighted by how long before ``t`` they arrived), removed from the queue."""
    pending, arrival = _arrivals(queue, delay)
    # Within rounding of t: the integrator stops at t = the arrival, computed on another path.
    scale = jnp.abs(t) + jnp.max(jnp.abs(jax.lax.stop_gradient(delay)))
    due = pending & (jax.lax.stop_gradient(arrival) <= t + 64 * jnp.finfo(arrival.dtype).eps * scale)
    weighted = jnp.where(due, weight[..., None] * queue.amplitude[None, :, None, :], 0.0)
    drive = jnp.sum(weighted, axis=(1, 2, 3))
    lagged = jnp.sum(jnp.where(due, weighted * (t - arrival), 0.0), axis=(1, 2, 3))
    return drive, lagged, queue._replace(delivered=queue.delivered + jnp.sum(due, axis=-1).astype(arrival.dtype))


class DelayedDense(AbstractSynapseArray):
    """``y_o(t) = sum_i sum_k W_oik x_i(t - d_oik)``: a dense array with a delay per connection.

    ``weight`` and ``delay`` are ``(n_out, n_in)``, or ``(n_out, n_in, k)`` for ``k`` delayed
    terminals per connection (SpikeProp's sub-synapses: one array with a terminal axis). Delays are
    in seconds on the grid ``dt`` of the run (checked by :func:`memsnn.simulate`).

    Grid timing (``spike_timing="grid"``): a continuous delay ``d = (m + f) dt`` reads between the
    taps ``m`` and ``m + 1`` of the delay line, ``(1 - f) x[t - m] + f x[t - m - 1]`` (an impulse is
    split between the two neighbouring grid points), so ``d y / d d`` is defined. Exact timing: an
    impulse sent ``l`` before its grid point arrives ``d - l`` after it, at the next grid point with
    the lag that places it at its true time (docs/spike-times.md); ``d(arrival)/d d = 1``.

    Event runs (``Diffrax(..., events=True)``): a spike sent at ``t`` arrives on each connection at
    ``t + d`` exactly (delayed events, :class:`EventQueueState`); at most ``max_pending`` spikes of
    one input may be in flight at once (more is an error that says so).

    Delays are fields (pytree leaves), so they can be trained; keep them in ``[0, max_delay]`` by a
    reparametrisation in the model (e.g. ``max_delay * sigmoid(u)``): a delay outside is read at
    the nearest end of the line.

    A delay shared along an axis is kept shared: ``delay`` may be any shape that broadcasts to
    ``weight``'s (e.g. ``(k,)``, the same terminal delays on every connection), stored with
    ``weight``'s rank (``(1, 1, k)``), and the delay line is then read once per distinct delay, not
    once per connection (``n_out`` times less work per step for ``(1, 1, k)``). Give the full shape
    to differentiate or train a delay per connection.

    Attributes:
        weight: ``(n_out, n_in[, k])``.
        delay: seconds, ``0 <= delay <= max_delay``; ``weight``'s rank, each axis its size or 1.
        dt: the grid step (s) the delays are read on (static).
        taps: length of the delay line, ``floor(max_delay / dt) + 2`` (static).
        max_pending: event runs: spikes of one input in flight at once (static, default 8).
    """

    weight: Float[Array, "n_out n_in *k"]
    delay: Float[Array, "n_out n_in *k"]
    dt: float = eqx.field(static=True)
    taps: int = eqx.field(static=True)
    max_pending: int = eqx.field(static=True)
    linear_time_invariant: ClassVar[bool] = False
    reads_every_step: ClassVar[bool] = True

    def __init__(self, weight, delay, *, dt: float, max_delay: float | None = None, max_pending: int = 8):
        weight = jnp.asarray(weight, dtype=float)
        if weight.ndim not in (2, 3):
            raise ValueError(f"DelayedDense: weight must be (n_out, n_in) or (n_out, n_in, k terminals), got shape "
                             f"{weight.shape}.")
        delay = jnp.asarray(delay, dtype=weight.dtype)
        if delay.ndim > weight.ndim or any(d not in (1, w) for d, w in zip(delay.shape[::-1], weight.shape[::-1])):
            raise ValueError(f"DelayedDense: delay of shape {delay.shape} does not broadcast to the weight's "
                             f"{weight.shape}; give one delay per connection (and terminal), or one shared "
                             "along whole axes (size 1 there).")
        # A delay shared along an axis stays shared (one read of the delay line per distinct delay).
        delay = delay.reshape((1,) * (weight.ndim - delay.ndim) + delay.shape)
        if not float(dt) > 0:
            raise ValueError(f"DelayedDense: dt must be > 0 seconds (the grid step of the run), got {dt}.")
        if not isinstance(delay, jax.core.Tracer):
            # NumPy: under jit, jnp on a concrete array is staged too (a tracer, no float()).
            low = float(np.min(np.asarray(delay)))
            if low < 0:
                raise ValueError(f"DelayedDense: delays must be >= 0 seconds (a spike cannot arrive before it is "
                                 f"sent), got a minimum of {low:g} s.")
            high = float(np.max(np.asarray(delay)))
            if max_delay is None:
                max_delay = high
            elif high > max_delay * (1 + 1e-9):
                raise ValueError(f"DelayedDense: a delay of {high:g} s exceeds max_delay={max_delay:g} s.")
        elif max_delay is None:
            raise ValueError("DelayedDense: give max_delay when the delays are traced.")
        if isinstance(max_pending, bool) or int(max_pending) != max_pending or max_pending < 1:
            raise ValueError(f"DelayedDense: max_pending must be a positive integer, got {max_pending!r}.")
        self.weight = weight
        self.delay = delay
        self.dt = float(dt)
        self.taps = int(math.floor(float(max_delay) / self.dt + 1e-9)) + 2
        self.max_pending = int(max_pending)

    @property
    def n_inputs(self) -> int:
        return self.weight.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.weight.shape[0]

    @property
    def max_delay(self) -> float:
        """The longest delay the line holds (s)."""
        return (self.taps - 1) * self.dt

    def init_state(self, n, *, key=None) -> DelayLineState:
        zeros = jnp.zeros((self.taps, self.n_inputs), self.weight.dtype)
        return DelayLineState(zeros, zeros)

    @property
    def supports_events(self) -> bool:
        return True

    def _terminals(self, values):
        return values if values.ndim == 3 else values[..., None]

    def init_event_state(self, n, *, key=None) -> EventQueueState:
        k = 1 if self.weight.ndim == 2 else self.weight.shape[2]
        return _empty_queue(self.n_outputs, self.n_inputs, k, self.max_pending, self.weight.dtype)

    def next_arrival(self, state):
        return _next_arrival(state, self._terminals(self.delay))

    def deliver(self, state, t):
        drive, _, state = _deliver(state, self._terminals(self.weight), self._terminals(self.delay), t)
        return drive, state

    def check_grid(self, dt, n_steps, *, events=False):
        if isinstance(dt, jax.core.Tracer):
            return
        if not events and abs(float(dt) - self.dt) > 1e-9 * self.dt:
            raise ValueError(f"DelayedDense: the array's delays are read on a grid of dt={self.dt:g} s, but the run "
                             f"has dt={float(dt):g} s; build it with DelayedDense(..., dt={float(dt):g}).")
        high = float(np.max(np.asarray(self.delay))) if not isinstance(self.delay, jax.core.Tracer) else self.max_delay
        if high >= n_steps * self.dt:
            raise ValueError(f"DelayedDense: a delay of {high:g} s is longer than the run ({n_steps} steps of "
                             f"{self.dt:g} s = {n_steps * self.dt:g} s): its spikes would never arrive. Shorten the "
                             "delay or run longer.")

    def _gather(self, line, tap):
        # line (taps, n_in), tap (n_out, n_in, ...) -> line[tap, i] per connection
        inputs = jnp.arange(self.n_inputs).reshape((1, -1) + (1,) * (tap.ndim - 2))
        return line[tap, inputs]

    def _taps(self):
        position = jnp.clip(self.delay / self.dt, 0.0, self.taps - 1.0)
        base = jax.lax.stop_gradient(jnp.minimum(jnp.floor(position), self.taps - 2.0))
        return position, base.astype(jnp.int32)

    def _contract(self, values):
        axes = tuple(range(1, values.ndim))
        if values.shape[0] == 1:
            # Read once for every output (shared delays): a matrix-vector product.
            return jnp.tensordot(self.weight, values[0], axes=(axes, tuple(a - 1 for a in axes)))
        return jnp.sum(self.weight * values, axis=axes)

    def read(self, presynaptic, state=None, *, key=None, lag=None, t=None):
        if t is not None:
            # Event run: the spikes join the queue; whatever has arrived by t is delivered now.
            if lag is None:
                raise ValueError("DelayedDense: an event run delays spikes (Impulses), not a Current held over grid "
                                 "steps; drive it with memsnn.Impulses, or run without events.")
            state = self.init_event_state(self.n_outputs) if state is None else state
            state = _push(state, presynaptic, t - lag, "DelayedDense")
            return _deliver(state, self._terminals(self.weight), self._terminals(self.delay), t)
        state = self.init_state(self.n_outputs) if state is None else state
        zeros = jnp.zeros_like(presynaptic)
        line = DelayLineState(jnp.concatenate([presynaptic[None], state.activity[:-1]]),
                              jnp.concatenate([(zeros if lag is None else lag)[None], state.lag[:-1]]))
        position, base = self._taps()
        if lag is None:
            frac = position - base
            value = (1 - frac) * self._gather(line.activity, base) + frac * self._gather(line.activity, base + 1)
            return self._contract(value), None, line
        # Exact timing: the impulse in tap m (sent m grid points ago, l before its grid point) arrives
        # d - l after that grid point, so it is delivered now if ceil((d - l)/dt) (at least 0) is m.
        drive = lagged = 0.0
        delay = self.delay
        for tap in (base, base + 1):
            x, l = self._gather(line.activity, tap), self._gather(line.lag, tap)
            due = jnp.maximum(jnp.ceil(jax.lax.stop_gradient((delay - l) / self.dt) - 1e-9), 0.0)
            delivered = jnp.where(due == tap, x, 0.0)
            drive = drive + delivered
            lagged = lagged + delivered * (tap * self.dt - delay + l)
        return self._contract(drive), self._contract(lagged), line

    def __call__(self, presynaptic, state=None, *, key=None):
        return self.read(presynaptic, state, key=key)[0]


class RecurrentState(NamedTuple):
    """State of a :class:`Recurrent` array: its feed-forward array's, and the layer's last spikes."""

    array: object
    spikes: Float[Array, " n"]
    lag: Float[Array, " n"]


class RecurrentEventState(NamedTuple):
    """Event-run state of a :class:`Recurrent` array: its feed-forward array's event state, and the
    queue of the spikes it feeds back (:class:`EventQueueState`)."""

    array: object
    queue: EventQueueState


class Recurrent(AbstractSynapseArray):
    """A layer's feed-forward array plus the spikes of the previous step of its own layer (or of
    layer ``source``, e.g. a later one: feedback) through ``weight``: ``y = array(x) + W_rec s_prev``
    (an impulse one grid step after the spike, i.e. a synaptic delay of ``dt``; with exact timing it
    keeps the spike's lag).

    Lateral inhibition is ``W_rec = -w (1 - I)`` (every neuron inhibits the others: Diehl & Cook's
    soft winner-take-all with the inhibitory partner of each neuron reduced to its effect); recurrent
    excitation a positive ``W_rec``. The diagonal (self-connections) is kept as given.

    Event runs (``Diffrax(..., events=True)``): a spike at ``t`` acts on the layer at ``t + delay``
    exactly (``delay=None``: at ``t`` itself), held in a queue of at most ``max_pending`` spikes per
    source neuron in flight. Grid runs have no ``delay``: the impulse arrives one grid step after
    the spike (the earliest a grid run can deliver it).

    Attributes:
        array: the feed-forward array (any :class:`AbstractSynapseArray`).
        weight: ``(n, m)`` recurrent weights, row = receiving neuron, in the units of ``array``'s
            output; ``m = n`` for the layer's own spikes, the size of layer ``source`` otherwise.
        source: ``None`` (the layer's own spikes) or the index of the layer whose spikes it reads.
        delay: event runs only: ``None`` or the recurrent delays (s, ``>= 0``), a scalar or ``(n, m)``;
            pytree leaves, so they can be trained.
        max_pending: event runs: spikes of one source neuron in flight at once (static, default 8).
    """

    array: AbstractSynapseArray
    weight: Float[Array, "n m"]
    source: int | None = eqx.field(static=True)
    delay: Float[Array, "n m"] | None
    max_pending: int = eqx.field(static=True)
    linear_time_invariant: ClassVar[bool] = False
    reads_every_step: ClassVar[bool] = True

    def __init__(self, array: AbstractSynapseArray, weight, *, source: int | None = None, delay=None,
                 max_pending: int = 8):
        if not isinstance(array, AbstractSynapseArray):
            raise TypeError(f"Recurrent: array must be a memsnn synapse array (e.g. memsnn.Dense), got "
                            f"{type(array).__name__}.")
        if array.stochastic:
            raise ValueError("Recurrent: a stochastic feed-forward array (read noise) is not supported inside "
                             "Recurrent yet; use a deterministic one.")
        weight = jnp.asarray(weight, dtype=float)
        n = array.n_outputs
        if source is None and weight.shape != (n, n):
            raise ValueError(f"Recurrent: weight must be ({n}, {n}) for a layer of {n} neurons, got {weight.shape}.")
        if weight.ndim != 2 or weight.shape[0] != n:
            raise ValueError(f"Recurrent: weight must be ({n}, size of layer {source}), got {weight.shape}.")
        if source is not None and (isinstance(source, bool) or int(source) != source or source < 0):
            raise ValueError(f"Recurrent: source must be None (the layer's own spikes) or a layer index >= 0, "
                             f"got {source!r}.")
        if delay is not None:
            delay = jnp.broadcast_to(jnp.asarray(delay, dtype=weight.dtype), weight.shape)
            if not isinstance(delay, jax.core.Tracer) and float(np.min(np.asarray(delay))) < 0:
                raise ValueError(f"Recurrent: delays must be >= 0 seconds, got a minimum of "
                                 f"{float(np.min(np.asarray(delay))):g} s.")
        if isinstance(max_pending, bool) or int(max_pending) != max_pending or max_pending < 1:
            raise ValueError(f"Recurrent: max_pending must be a positive integer, got {max_pending!r}.")
        self.array = array
        self.weight = weight
        self.source = None if source is None else int(source)
        self.delay = delay
        self.max_pending = int(max_pending)

    @classmethod
    def lateral_inhibition(cls, array: AbstractSynapseArray, strength: float) -> "Recurrent":
        """Every neuron inhibits all others by ``strength``: ``W_rec = -strength (1 - I)``."""
        n = array.n_outputs
        return cls(array, -float(strength) * (1.0 - np.eye(n)))

    @property
    def n_inputs(self) -> int:
        return self.array.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.array.n_outputs

    def init_state(self, n, *, key=None) -> RecurrentState:
        zeros = jnp.zeros((self.weight.shape[1],), self.weight.dtype)
        return RecurrentState(self.array.init_state(n, key=key), zeros, zeros)

    @property
    def supports_events(self) -> bool:
        return self.array.supports_events

    def _recurrent_delay(self):
        delay = jnp.zeros_like(self.weight) if self.delay is None else self.delay
        return delay[..., None]

    def init_event_state(self, n, *, key=None) -> RecurrentEventState:
        return RecurrentEventState(self.array.init_event_state(n, key=key),
                                   _empty_queue(self.n_outputs, self.weight.shape[1], 1, self.max_pending,
                                                self.weight.dtype))

    def next_arrival(self, state):
        own = _next_arrival(state.queue, self._recurrent_delay())
        inner = self.array.next_arrival(state.array)
        return own if inner is None else jnp.minimum(own, inner)

    def deliver(self, state, t):
        drive, _, queue = _deliver(state.queue, self.weight[..., None], self._recurrent_delay(), t)
        inner_drive, inner = self.array.deliver(state.array, t)
        return (drive if inner_drive is None else drive + inner_drive), RecurrentEventState(inner, queue)

    def vector_field(self, t, state, inputs):
        if isinstance(state, RecurrentEventState):
            return RecurrentEventState(self.array.vector_field(t, state.array, inputs),
                                       jax.tree.map(jnp.zeros_like, state.queue))
        return RecurrentState(self.array.vector_field(t, state.array, inputs), jnp.zeros_like(state.spikes),
                              jnp.zeros_like(state.lag))

    def decay_rate(self, state, inputs):
        return self.array.decay_rate(state.array, inputs)

    def check_grid(self, dt, n_steps, *, events=False):
        if self.delay is not None and not events:
            raise ValueError("Recurrent: delay= is for event runs (Diffrax(..., events=True)); on the grid the "
                             "recurrent impulse arrives one grid step after the spike. Build it without delay=, or "
                             "run with events.")
        self.array.check_grid(dt, n_steps, events=events)

    def read(self, presynaptic, state=None, *, key=None, lag=None, t=None):
        if t is not None:
            # Event run: the fed-back spikes come through the queue (deliver), not with the next read.
            state = self.init_event_state(self.n_outputs) if state is None else state
            drive, lagged, inner = self.array.read(presynaptic, state.array, key=key, lag=lag, t=t)
            return drive, lagged, state._replace(array=inner)
        state = self.init_state(self.n_outputs) if state is None else state
        drive, lagged, inner = self.array.read(presynaptic, state.array, key=key, lag=lag)
        drive = drive + self.weight @ state.spikes
        if lag is not None:
            lagged = lagged + self.weight @ (state.spikes * state.lag)
        return drive, lagged, state._replace(array=inner)

    def __call__(self, presynaptic, state=None, *, key=None):
        return self.read(presynaptic, state, key=key)[0]

    def on_spikes(self, state, spikes, lags, layer, t=None):
        j = layer if self.source is None else self.source
        m = self.weight.shape[1]
        if not 0 <= j < len(spikes) or spikes[j].shape != (m,):
            raise ValueError(f"Recurrent (layer {layer}): reads layer {j}'s spikes, but the network has "
                             f"{len(spikes)} layers" + ("" if not 0 <= j < len(spikes) else
                                                        f" and layer {j} has {spikes[j].shape[0]} neurons, the "
                                                        f"weight expects {m}") + ".")
        if t is not None:
            inner = self.array.on_spikes(state.array, spikes, lags, layer, t=t)
            sent = spikes[j].astype(self.weight.dtype)
            return RecurrentEventState(inner, _push(state.queue, sent, jnp.full_like(sent, t), "Recurrent"))
        inner = self.array.on_spikes(state.array, spikes, lags, layer)
        return RecurrentState(inner, spikes[j].astype(state.spikes.dtype),
                              jnp.zeros_like(state.lag) if lags is None else lags[j].astype(state.lag.dtype))
