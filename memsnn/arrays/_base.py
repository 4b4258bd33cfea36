"""The synapse-array interface, shared by the ideal dense array and memristive crossbars."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..components import AbstractComponent, State


class AbstractSynapseArray(AbstractComponent):
    """Maps one sample's pre-synaptic activity ``(n_in,)`` to post-synaptic drive ``(n_out,)``.

    For impulse inputs the output is a synaptic weight (A, added to the synapse state); for current
    inputs it is a current (A). A read is an event at a grid point: with a current input the result
    is held over the following grid step (sample and hold).

    The array is a component (:mod:`memsnn.components`): its state (slot ``array``, e.g. device
    conductances) may follow a vector field and be changed by plasticity; stochastic arrays (read
    noise) receive a PRNG ``key`` at every read.

    ``linear_time_invariant`` declares that the read is a fixed linear map of ``presynaptic`` that
    depends neither on the state nor on a key: :func:`memsnn.simulate` then applies it to all of a
    stimulus's time steps at once, outside the time loop.

    Arrays whose reads change their own state (a delay line, the layer's own previous spikes:
    :mod:`memsnn.arrays.delay`) override :meth:`read` and :meth:`on_spikes` and set
    ``reads_every_step``: they are then read once per grid step, also when no input arrives.

    Event runs (``Diffrax(..., events=True)``, docs/spike-times.md) read arrays at the spike times
    themselves (``read(..., t=t)``). An array with delayed events keeps what it has sent and not
    yet delivered in its event state (:meth:`init_event_state`), says when the earliest of it
    arrives (:meth:`next_arrival`: the integrator stops there, as at a threshold crossing) and
    hands it over at that time (:meth:`deliver`); :attr:`supports_events` says whether it can.
    """

    linear_time_invariant: eqx.AbstractClassVar[bool]
    reads_every_step: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def n_inputs(self) -> int: ...

    @property
    @abc.abstractmethod
    def n_outputs(self) -> int: ...

    @abc.abstractmethod
    def __call__(self, presynaptic: Float[Array, " n_in"], state: State = None, *,
                 key: PRNGKeyArray | None = None) -> Float[Array, " n_out"]:
        """The drive ``(n_out,)`` for ``presynaptic`` activity ``(n_in,)``; ``state`` is the slot's
        state (``None`` for stateless arrays), ``key`` the read's noise key (stochastic arrays)."""

    def read(self, presynaptic: Float[Array, " n_in"], state: State = None, *, key: PRNGKeyArray | None = None,
             lag: Float[Array, " n_in"] | None = None, t=None):
        """A read as an event: ``(drive, lagged, state)``.

        ``drive`` is :meth:`__call__`'s; ``state`` the array's state after the read (unchanged here;
        a delay line pushes ``presynaptic`` into its buffer). ``lag`` (exact spike timing,
        docs/spike-times.md) is how long before this grid point each input spiked (s); ``lagged`` is
        then the drive weighted by the time each delivered impulse arrived before the grid point
        (``None`` without ``lag``): for a plain array, the read of ``presynaptic * lag``.

        ``t`` (event runs only, a scalar in s): the read happens at time ``t`` (a spike time or a
        grid point), the inputs were sent ``lag`` before it, and ``state`` is the event state
        (:meth:`init_event_state`). ``drive`` is then what arrives by ``t``; an array with delays
        keeps the rest pending (:meth:`next_arrival`, :meth:`deliver`). Without delays, ``t``
        changes nothing (here).
        """
        drive = self(presynaptic, state, key=key)
        lagged = None if lag is None else self.lagged_drive(presynaptic, lag, state, key=key)
        return drive, lagged, state

    def lagged_drive(self, presynaptic: Float[Array, " n_in"], lag: Float[Array, " n_in"], state: State = None, *,
                     key: PRNGKeyArray | None = None) -> Float[Array, " n_out"]:
        """The drive ``(n_out,)`` weighted by how long (s) before the grid point each impulse
        arrived (exact spike timing, docs/spike-times.md): the part of the read that is linear in
        the impulses, applied to ``presynaptic * lag``. An array with a term that does not depend
        on its inputs (:class:`~memsnn.arrays.Dense`'s bias) leaves it out: that term arrives with
        the event at the grid point, lag 0."""
        return self(presynaptic * lag, state, key=key)

    def on_spikes(self, state: State, spikes: tuple, lags: tuple | None, layer: int, t=None) -> State:
        """The array's state after every layer of the network fired at a grid point: ``spikes[j]``
        ``(n_j,)`` are layer ``j``'s spikes (``lags[j]`` how long before the grid point, with exact
        timing, else ``None``), ``layer`` the index of this array's own layer. Unchanged here; a
        recurrent array keeps the spikes it reads at the next step (its own layer's or a later one's).
        ``t`` (event runs): the spikes happened at time ``t`` (s), inside a step or at a grid point,
        and a recurrent array keeps them pending until they arrive (:meth:`deliver`).
        """
        return state

    def rested(self, state: State) -> State:
        """The state after a pause without input long enough that nothing sent is still in
        flight: unchanged here (learned or programmed state is kept); an array that delays its
        inputs (:class:`~memsnn.arrays.DelayedPlastic`) drops the impulses it still holds."""
        return state

    @property
    def supports_events(self) -> bool:
        """Whether the array can run in event runs (``Diffrax(..., events=True)``). An array read
        once per grid step (:attr:`reads_every_step`) must implement event reads (``read(..., t=)``,
        and :meth:`next_arrival` / :meth:`deliver` for what it delays) and say so."""
        return not self.reads_every_step

    def init_event_state(self, n: int, *, key: PRNGKeyArray | None = None) -> State:
        """The array's state at t = 0 in an event run (default: :meth:`init_state`); an array with
        delayed events adds its buffer of pending arrivals."""
        return self.init_state(n, key=key)

    def next_arrival(self, state: State) -> Float[Array, ""] | None:
        """Event runs: the earliest time (s, a scalar, ``+inf`` when nothing is pending) at which an
        impulse the array holds arrives; the integrator stops there to :meth:`deliver` it. ``None``
        (here): the array never holds impulses back."""
        return None

    def deliver(self, state: State, t) -> tuple[Float[Array, " n_out"] | None, State]:
        """Event runs: ``(drive, state)``: the summed weight ``(n_out,)`` of the pending impulses that
        arrive by time ``t`` (s), and the state without them. ``(None, state)`` here (nothing pending)."""
        return None, state

    def check_grid(self, dt: float, n_steps: int, *, events: bool = False) -> None:
        """Raise a clear error if the array cannot run on this grid (e.g. a delay longer than the
        run); :func:`memsnn.simulate` calls it before running, with ``events`` for event runs.
        Nothing to check here."""

    # NIR (memsnn.export.nir): an array kind with a NIR form writes and reads its own node(s).

    #: The NIR node types (class names) that :meth:`from_nir` reads; empty: no NIR form.
    nir_node_types: ClassVar[tuple[str, ...]] = ()

    def nir_input_shape(self) -> tuple[int, ...]:
        """The NIR shape of this array's inputs: ``(n_inputs,)`` (images: ``(C, H, W)``)."""
        return (self.n_inputs,)

    def to_nir(self, nir, layer: int, in_shape: tuple[int, ...]) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:
        """This array's NIR nodes ``[(name, node), ...]`` (named ``f"{layer}.kind"``) behind neurons
        of NIR shape ``in_shape``, and the NIR shape of the neurons after it.

        Raises:
            TypeError: the array has no NIR form (the default).
        """
        raise TypeError(f"to_nir: layer {layer}'s array is a {type(self).__name__}; NIR export supports the ideal "
                        "arrays memsnn.arrays.Dense, Conv2d and Identity (a memristive array has no NIR node).")

    @classmethod
    def from_nir(cls, nir, nodes: list[tuple[str, Any]], shape: tuple[int, ...],
                 where: str) -> "tuple[AbstractSynapseArray, tuple[int, ...]] | None":
        """The array that the NIR array nodes ``[(name, node), ...]`` in front of a neuron describe
        (the first of them one of :attr:`nir_node_types`), behind neurons of NIR shape ``shape``,
        and the NIR shape of the neurons after it; ``None`` if the nodes are not this kind's."""
        return None

    def tiled(self, copies: int) -> "AbstractSynapseArray | None":
        """This array for ``copies`` independent copies of its neurons side by side, or ``None``
        when it cannot be split that way (it mixes its inputs). ``simulate(..., fold_batch=True)``
        uses it to run a batch as one population; elementwise arrays override it."""
        return None


class AbstractPlasticArray(AbstractSynapseArray):
    """A synapse array whose weights are its state, so that a plasticity rule can change them.

    The ideal version stores weights; a memristive crossbar stores device conductances and turns a
    requested weight change into programming of its devices (their own update law, bounds and
    noise). A plasticity rule (:class:`~memsnn.components.AbstractPlasticity`) only ever asks for a
    change through :meth:`updated`, so the same rule runs on ideal and on memristive synapses.

    Reads depend on the state, so plastic arrays are never linear-time-invariant.
    """

    linear_time_invariant: ClassVar[bool] = False

    @property
    def delay_taps(self) -> int:
        """0: every input arrives at its synapses on the grid step it is sent. An array with
        per-connection delays (:class:`~memsnn.arrays.DelayedPlastic`) returns its longest delay
        in grid steps plus one; a rule reads its traces' last ``delay_taps`` steps there."""
        return 0

    @property
    def delay_steps(self) -> Int[Array, "n_out n_in"] | None:
        """``None`` (no delays), or each connection's delay in grid steps ``(n_out, n_in)``, at
        most ``delay_taps - 1`` (:class:`~memsnn.arrays.DelayedPlastic`)."""
        return None

    @abc.abstractmethod
    def weights(self, state: State) -> Float[Array, "n_out n_in"]:
        """The effective signed weight matrix ``(n_out, n_in)`` that ``state`` represents now."""

    @abc.abstractmethod
    def updated(self, state: State, delta: Float[Array, "n_out n_in"], *,
                key: PRNGKeyArray | None = None) -> State:
        """The state after a requested weight change ``delta`` ``(n_out, n_in)`` (same units as
        :meth:`weights`), applied through the array's update law: the change reached may differ
        from ``delta`` (bounds, device nonlinearity, finite levels, write noise drawn with ``key``)."""

    @abc.abstractmethod
    def updated_columns(self, state: State, columns: Int[Array, " k"], delta: Float[Array, "n_out k"], *,
                        key: PRNGKeyArray | None = None) -> State:
        """:meth:`updated` for a change confined to a few inputs: ``delta[:, c]`` is the change of
        column ``columns[c]``, every other column's change is zero; an index ``n_inputs`` pads
        ``columns`` (its ``delta`` is ignored). The state is the one that :meth:`updated` gives for
        the full change (an array may touch only those columns: a plasticity rule asks for the
        change of one time step's pre-synaptic spikes this way)."""


class AbstractProgrammableArray(AbstractPlasticArray):
    """A plastic array that holds its state between simulations (the weights a model keeps from one
    training step to the next): every run starts from :attr:`held_state`, and a rule that learns
    between runs (a gradient rule such as the Tempotron's or SpikeProp's) changes it only by
    programming a requested weight change through :meth:`updated`, as a plasticity rule does inside
    a run. :class:`~memsnn.arrays.PlasticDense` adds the change exactly (then its bounds); a
    :class:`~memsnn.crossbar.ProgrammedCrossbar` (one chip) sends the devices pulses, with their
    nonlinearity, bounds, write noise and finite levels.

    :func:`memsnn.training.apply_updates` (what :class:`~memsnn.training.GradientLearner` applies
    an optimiser's step with) programs every such array in a model this way; a rule computes its
    change in weight units from :meth:`weight_gradient`.
    """

    @property
    @abc.abstractmethod
    def held_state(self) -> State:
        """The state every simulation of this array starts from (weights, device conductances)."""

    @abc.abstractmethod
    def starting_from(self, state: State) -> "AbstractProgrammableArray":
        """This array holding ``state`` instead (same devices, same settings)."""

    def weight_gradient(self, state_gradient: State) -> Float[Array, "n_out n_in"]:
        """The gradient with respect to the weights ``(n_out, n_in)`` of a loss whose gradient with
        respect to :attr:`held_state` is ``state_gradient`` (a pytree like the state).

        :meth:`weights` is linear in the state, ``W = J s`` (plus a constant); a loss that reads the
        state through ``W`` has ``dL/ds = J^T dL/dW``, and ``J J^T`` is diagonal (each weight has its
        own devices), so ``dL/dW = J (dL/ds) / (J J^T 1)``: exact for such reads (an ideal read of a
        crossbar: ``k/2 (dL/dG+ - dL/dG-)`` for a differential pair), the least-squares pull-back of
        the state gradient for reads with other dependences on the state (read noise, ADC).
        """
        state = self.held_state
        _, along = jax.jvp(self.weights, (state,), (state_gradient,))
        weights, pull = jax.vjp(self.weights, state)
        (back,) = pull(jnp.ones_like(weights))
        _, norm = jax.jvp(self.weights, (state,), (back,))
        return along / norm

    def programmed_by(self, delta: Float[Array, "n_out n_in"], *, key: PRNGKeyArray | None = None
                      ) -> "AbstractProgrammableArray":
        """This array after the weight change ``delta`` ``(n_out, n_in)`` is programmed into its held
        state by :meth:`updated` (the change reached may differ from ``delta``: bounds, device
        nonlinearity, finite levels, write noise drawn with ``key``)."""
        return self.starting_from(self.updated(self.held_state, delta, key=key))
