"""The ideal plastic array: a weight matrix held as state, for learning inside the simulation;
and per-connection delays in front of any plastic array (:class:`DelayedPlastic`)."""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._base import AbstractPlasticArray, AbstractProgrammableArray


class PlasticDense(AbstractProgrammableArray):
    """``y = W x`` where ``W`` ``(n_out, n_in)`` is the slot's state, changed by a plasticity rule.

    The ideal counterpart of a memristive crossbar: a requested change ``delta`` is added exactly,
    then held inside the hard bounds ``[w_min, w_max]`` (the bounds of additive STDP; soft bounds
    are the rule's business, through the weight dependence of the change it asks for).

    Between simulations it holds ``initial_weight`` (:class:`~memsnn.arrays.AbstractProgrammableArray`):
    a gradient rule's step is added to it the same way, so a model trained on it is the ideal
    reference of the same model on a :class:`~memsnn.crossbar.ProgrammedCrossbar`.

    Attributes:
        initial_weight: ``(n_out, n_in)`` weights at t = 0 (A per unit of input activity); the
            state of every sample starts from it (and gradients reach it through the run).
        w_min, w_max: hard bounds of the weights (``None``: unbounded on that side).
    """

    initial_weight: Float[Array, "n_out n_in"]
    w_min: float | None = eqx.field(static=True)
    w_max: float | None = eqx.field(static=True)

    def __init__(self, initial_weight, *, w_min: float | None = None, w_max: float | None = None):
        weight = jnp.asarray(initial_weight, dtype=float)
        if weight.ndim != 2:
            raise ValueError(f"PlasticDense: initial_weight must be 2-D (n_out, n_in), got shape {weight.shape}.")
        if w_min is not None and w_max is not None and not w_min < w_max:
            raise ValueError(f"PlasticDense: need w_min < w_max, got w_min={w_min}, w_max={w_max}.")
        self.initial_weight = weight
        self.w_min = None if w_min is None else float(w_min)
        self.w_max = None if w_max is None else float(w_max)

    @property
    def n_inputs(self) -> int:
        return self.initial_weight.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.initial_weight.shape[0]

    def init_state(self, n, *, key=None):
        if n != self.n_outputs:
            raise ValueError(f"PlasticDense: a layer of {n} neurons cannot use an array with {self.n_outputs} outputs.")
        return self.initial_weight

    def __call__(self, presynaptic, state=None, *, key=None):
        weight = self.initial_weight if state is None else state
        return weight @ presynaptic

    def weights(self, state):
        return state

    def updated(self, state, delta, *, key=None):
        weight = state + delta
        # maximum/minimum rather than jnp.clip: XLA's CPU loop for clip was ~25 % slower on the
        # (n_out, n_in) update that a learning simulation does at every step.
        if self.w_min is not None:
            weight = jnp.maximum(weight, self.w_min)
        if self.w_max is not None:
            weight = jnp.minimum(weight, self.w_max)
        return weight

    @property
    def held_state(self):
        return self.initial_weight

    def starting_from(self, state):
        return eqx.tree_at(lambda a: a.initial_weight, self, state)

    def updated_columns(self, state, columns, delta, *, key=None):
        # Only the k columns are read and written (in place inside a time loop), with the same
        # arithmetic as updated: the same weights, bit for bit.
        columns = jnp.asarray(columns)
        weight = state.at[:, columns].get(mode="fill", fill_value=0) + delta
        if self.w_min is not None:
            weight = jnp.maximum(weight, self.w_min)
        if self.w_max is not None:
            weight = jnp.minimum(weight, self.w_max)
        return state.at[:, columns].set(weight, mode="drop")


class DelayedPlasticState(NamedTuple):
    """State of a :class:`DelayedPlastic`: the wrapped array's state, and the drive in flight.

    Attributes:
        array: the wrapped plastic array's state (weights, device conductances).
        pending: ``(taps, n_out)`` the drive that arrives at this grid step (row 0) and at each of
            the next ``taps - 1`` steps, from the impulses already sent.
    """

    array: object
    pending: Float[Array, "taps n_out"]


class DelayedPlastic(AbstractPlasticArray):
    """A plastic array whose connections delay their impulses: an impulse of input ``j`` sent at
    grid step ``s`` reaches neuron ``o`` at step ``s + m_oj`` with the weight ``W_oj`` it had when
    it was sent (the post-synaptic delays of Brian 1's ``DelayConnection``, what Diehl & Cook's
    input synapses use: ``m = floor(d / dt)``, ``d`` uniform in [0, 10) ms).

    The read is sparse in the inputs: at each step the columns of the inputs that spike are added
    to a small buffer of what arrives at the next ``taps`` steps (``(taps, n_out)``, in the state),
    and its first row is delivered; the weight matrix is never read in full. A plasticity rule sees
    the delays through :attr:`delay_steps` / :attr:`delay_taps` (:class:`~memsnn.plasticity.TripletSTDP`
    reads its pre-synaptic trace at each synapse as it was ``m_oj`` steps ago, and depresses at
    the arrival); weight changes go to the wrapped array's update law unchanged.

    The read uses the wrapped array's :meth:`weights` (an ideal read of a crossbar: no read noise).
    Grid runs only (no exact spike timing, no event runs). Read at every grid step
    (``reads_every_step``): what is in flight arrives also when no input does.

    Attributes:
        array: the wrapped plastic array (``(n_out, n_in)`` weights, e.g. :class:`PlasticDense`
            or a :class:`memsnn.crossbar.Crossbar`).
        steps: ``(n_out, n_in)`` integer delays in grid steps, ``0 <= m < taps`` (:attr:`delay_steps`).
        dt: the grid step (s) the delays are counted in (static).
        taps: the longest delay in steps plus one (static).
        chunk: inputs added to the buffer per pass (static); a step with more spiking inputs
            takes more passes (exact for any number).
    """

    array: AbstractPlasticArray
    steps: Int[Array, "n_out n_in"]
    dt: float = eqx.field(static=True)
    taps: int = eqx.field(static=True)
    chunk: int = eqx.field(static=True)
    reads_every_step: ClassVar[bool] = True

    def __init__(self, array: AbstractPlasticArray, delay, *, dt: float, max_delay: float | None = None,
                 chunk: int = 8):
        """``delay``: ``(n_out, n_in)`` seconds (``>= 0``), each counted as ``floor(delay / dt)``
        grid steps (Brian 1's rounding); ``max_delay`` (s): the longest delay the buffer holds
        (default: the largest given)."""
        if not isinstance(array, AbstractPlasticArray):
            raise TypeError(f"DelayedPlastic: array must be a memsnn.arrays.AbstractPlasticArray, got "
                            f"{type(array).__name__}.")
        if isinstance(array, DelayedPlastic):
            raise TypeError("DelayedPlastic: the array is already delayed; give one DelayedPlastic the total delays.")
        if not float(dt) > 0:
            raise ValueError(f"DelayedPlastic: dt must be > 0 seconds (the grid step of the run), got {dt}.")
        delay = np.asarray(delay, dtype=float)
        if delay.shape != (array.n_outputs, array.n_inputs):
            raise ValueError(f"DelayedPlastic: delay must be (n_out, n_in) = ({array.n_outputs}, {array.n_inputs}) "
                             f"seconds, one per connection, got shape {delay.shape}.")
        if not np.all(np.isfinite(delay)) or delay.min() < 0:
            raise ValueError(f"DelayedPlastic: delays must be finite and >= 0 seconds, got a minimum of "
                             f"{delay.min():g} s.")
        # Within float32 rounding of a whole step counts as that step.
        steps = np.floor(delay / float(dt) + 1e-4).astype(np.int32)
        longest = int(steps.max()) if max_delay is None else int(math.floor(float(max_delay) / float(dt) + 1e-4))
        if steps.max() > longest:
            raise ValueError(f"DelayedPlastic: a delay of {delay.max():g} s exceeds max_delay={max_delay:g} s.")
        if isinstance(chunk, bool) or int(chunk) != chunk or chunk < 1:
            raise ValueError(f"DelayedPlastic: chunk must be a positive integer, got {chunk!r}.")
        self.array = array
        self.steps = jnp.asarray(steps)
        self.dt = float(dt)
        self.taps = longest + 1
        self.chunk = int(chunk)

    @property
    def n_inputs(self) -> int:
        return self.array.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.array.n_outputs

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.array.stochastic

    @property
    def delay_taps(self) -> int:
        return self.taps

    @property
    def delay_steps(self):
        return self.steps

    def init_state(self, n, *, key=None) -> DelayedPlasticState:
        return DelayedPlasticState(self.array.init_state(n, key=key), jnp.zeros((self.taps, self.n_outputs)))

    def rested(self, state: DelayedPlasticState) -> DelayedPlasticState:
        return state._replace(array=self.array.rested(state.array), pending=jnp.zeros_like(state.pending))

    def check_grid(self, dt, n_steps, *, events=False):
        if events:
            raise ValueError("DelayedPlastic: grid runs only; event runs (Diffrax(..., events=True)) are not "
                             "supported.")
        if not isinstance(dt, jax.core.Tracer) and abs(float(dt) - self.dt) > 1e-9 * self.dt:
            raise ValueError(f"DelayedPlastic: the delays are counted in steps of dt={self.dt:g} s, but the run has "
                             f"dt={float(dt):g} s; build it with DelayedPlastic(..., dt={float(dt):g}).")
        self.array.check_grid(dt, n_steps, events=events)

    def read(self, presynaptic, state=None, *, key=None, lag=None, t=None):
        if lag is not None or t is not None:
            raise ValueError("DelayedPlastic: exact spike timing and event runs are not supported; run on the grid.")
        state = self.init_state(self.n_outputs) if state is None else state
        n_in, n_out, chunk = self.n_inputs, self.n_outputs, self.chunk
        x = jnp.asarray(presynaptic)
        spiking = jnp.nonzero(x != 0, size=n_in + chunk, fill_value=n_in)[0]
        count = jnp.sum(x != 0)

        def add(pending, inner, start):
            columns = jax.lax.dynamic_slice(spiking, (start,), (chunk,))
            w = self.array.weights(inner).at[:, columns].get(mode="fill", fill_value=0)
            w = w * x.at[columns].get(mode="fill", fill_value=0)[None, :]
            m = self.steps.at[:, columns].get(mode="fill", fill_value=0)
            # pending[m_oc, o] += w_oc: a scatter-add of n_out * chunk elements, each (o, c) to one
            # slot (a one-hot contraction over the taps costs ~2x more on the CPU, and a small chunk
            # less: ~3 inputs spike per step in Diehl & Cook's network).
            return pending.at[m, jnp.arange(n_out)[:, None]].add(w)

        def more(carry):
            pending, inner, start = carry
            return add(pending, inner, start), inner, start + chunk

        # The first chunk of spiking inputs in line; a step with more takes further passes. The
        # array's state goes through the loop as its carry (not captured by it), so that XLA
        # neither copies the weight matrix into the loop nor orders a weight update after a copy.
        pending = add(state.pending, state.array, jnp.zeros((), jnp.int32))
        pending, inner, _ = jax.lax.while_loop(lambda c: c[2] < count, more,
                                               (pending, state.array, jnp.full((), chunk, jnp.int32)))
        drive = pending[0]
        pending = jnp.concatenate([pending[1:], jnp.zeros_like(pending[:1])])
        return drive, None, DelayedPlasticState(inner, pending)

    def __call__(self, presynaptic, state=None, *, key=None):
        return self.read(presynaptic, state, key=key)[0]

    def weights(self, state: DelayedPlasticState):
        return self.array.weights(state.array)

    def updated(self, state: DelayedPlasticState, delta, *, key=None):
        return state._replace(array=self.array.updated(state.array, delta, key=key))

    def updated_columns(self, state: DelayedPlasticState, columns, delta, *, key=None):
        return state._replace(array=self.array.updated_columns(state.array, columns, delta, key=key))
