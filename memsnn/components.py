"""The component protocol: what every piece of a layer's circuit implements (docs/architecture.md).

A layer of a :class:`~memsnn.Network` is a row of components, each with a slot in the layer state:

==============  =======================================  =====================================
slot            component                                its state
==============  =======================================  =====================================
``array``       :class:`~memsnn.arrays.AbstractSynapseArray`  e.g. conductances that drift (often empty)
``synapse``     :class:`~memsnn.synapses.AbstractSynapse`     synaptic currents
``neuron``      :class:`~memsnn.neurons.AbstractNeuron`       membrane potential, device states
``plasticity``  :class:`AbstractPlasticity`              pre/post-synaptic traces
``energy``      :class:`AbstractEnergyMeter`             energy dissipated so far (J)
==============  =======================================  =====================================

Every component has

* ``init_state(n, *, key=None)``: its state at t = 0 for a layer of ``n`` neurons (a pytree of
  arrays; :func:`empty_state` when it has none);
* ``vector_field(t, state, inputs)``: the continuous part, d state / dt in SI units per second, at
  time ``t`` (s); what ``inputs`` is depends on the kind (the membrane current for a neuron,
  ``None`` for a synapse or an array, the layer's signals for an energy meter);
* ``decay_rate(state, inputs)``: the fastest local relaxation rate (1/s) of its state, which bounds
  the step of an explicit integrator (``dt * rate < ~2``);
* ``linear_coefficient(state, inputs)``: per state variable, the diagonal coefficient ``a`` (1/s) of
  that variable in its own vector field (``f = a y + b``), which :class:`~memsnn.integrators.ExponentialEuler`
  integrates exactly (zeros by default: plain Euler for that component), and
  ``residual_decay_rate(state, inputs)``: the relaxation rate (1/s) that is left for the explicit
  part of such a step (by default ``decay_rate``, the conservative answer);
* event maps, applied at grid points: ``on_impulse`` (input arrives), and for neurons
  ``spikes`` / ``on_spike`` (read, reset);
* the class variable ``stochastic``: whether its event maps draw noise, in which case they take a
  PRNG ``key`` that :func:`memsnn.simulate` threads through the run, reproducibly per seed.

Integrators only ever see the network's state pytree and its vector field, so a new component is
one file implementing this protocol: :class:`~memsnn.Network`, :func:`memsnn.simulate` and the
integrators need no special case for it.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

State = Any  # a pytree of arrays


def empty_state() -> None:
    """The state of a component that has none: ``None``, an empty pytree.

    Not a zero-size array: those are leaves that every scan, solver step and tree map carries
    along, which cost the MIF's Euler scan about 7% in a benchmark.
    """
    return None


class AbstractComponent(eqx.Module):
    """Base of every circuit component (abstract; see the module docstring for the protocol).

    The defaults describe a component without state and without dynamics; components with state
    override :meth:`init_state`, :meth:`vector_field` and :meth:`decay_rate` together, and, where
    their field is (piecewise) linear in a variable, :meth:`linear_coefficient` and
    :meth:`residual_decay_rate`.
    """

    stochastic: ClassVar[bool] = False

    def init_state(self, n: int, *, key: PRNGKeyArray | None = None) -> State:
        """State at t = 0 for a layer of ``n`` neurons; ``key`` for randomly initialised states."""
        return empty_state()

    def vector_field(self, t, state: State, inputs) -> State:
        """d(state)/dt (SI units per second) at time ``t`` (s)."""
        return jax.tree.map(jnp.zeros_like, state)

    def decay_rate(self, state: State, inputs) -> Float[Array, "..."]:
        """Fastest local relaxation rate (1/s) of the state: explicit steps need ``dt * rate < ~2``."""
        return jnp.zeros(())

    def linear_coefficient(self, state: State, inputs) -> State:
        """Per state variable, the diagonal coefficient ``a`` (1/s, ``<= 0`` for a decay) of that
        variable in its own vector field at ``state``: ``f(y) = a y + b`` with ``a`` and ``b``
        depending on the other variables (frozen over a step), a pytree like ``state``.

        :class:`~memsnn.integrators.ExponentialEuler` advances each variable by
        ``h phi1(h a) f``, exact for that linear part and stable for any ``h`` where ``a <= 0``.
        The default, zeros, makes its step plain Euler for this component.
        """
        return jax.tree.map(jnp.zeros_like, state)

    def residual_decay_rate(self, state: State, inputs) -> Float[Array, "..."]:
        """Fastest local relaxation rate (1/s) left once :meth:`linear_coefficient` is integrated
        exactly (the stability check of :class:`~memsnn.integrators.ExponentialEuler`); by default
        :meth:`decay_rate`, which is never too small."""
        return self.decay_rate(state, inputs)


class AbstractPlasticity(AbstractComponent):
    """A learning rule that runs inside the simulated circuit (slot ``plasticity`` of a layer).

    Its state holds the rule's traces; :meth:`vector_field` (``inputs`` is ``None``) lets them
    decay between events. At grid points the layer calls :meth:`on_presynaptic` when input activity
    arrives at the layer's array and :meth:`on_postsynaptic` after the layer's spikes are read.
    Both return the rule's new state and the array's new state; a rule changes weights only through
    ``array.updated(array_state, delta)`` (:class:`~memsnn.arrays.AbstractPlasticArray`), so the
    array's own update law decides what a requested change does (ideal weights, or programming
    pulses on memristive devices). A layer with a plasticity rule needs a plastic array.

    Batch semantics: :func:`memsnn.simulate` runs each sample of a batch as its own network
    instance with its own copy of the array state, so a batch of ``B`` is ``B`` independent
    networks learning in parallel. To learn from a sequence of samples with one set of weights,
    carry the final state into the next run (``simulate(..., initial_state=...)``).
    """

    @abc.abstractmethod
    def on_presynaptic(self, state: State, array, array_state: State,
                       presynaptic: Float[Array, " n_in"], *,
                       key: PRNGKeyArray | None = None) -> tuple[State, State]:
        """``(state, array_state)`` after input activity ``presynaptic`` ``(n_in,)`` arrived at
        ``array`` (an :class:`~memsnn.arrays.AbstractPlasticArray`). ``key``: this event's noise
        (see :meth:`on_postsynaptic`)."""

    @abc.abstractmethod
    def on_postsynaptic(self, state: State, array, array_state: State, spikes: Float[Array, " n"],
                        membrane_potential: Float[Array, " n"], *,
                        key: PRNGKeyArray | None = None) -> tuple[State, State]:
        """``(state, array_state)`` after the layer's neurons emitted ``spikes`` ``(n,)`` (0/1);
        ``membrane_potential`` ``(n,)`` (V, after the reset) is there for voltage-based rules.

        ``key``: the noise of this event, drawn by :func:`memsnn.simulate` for this grid step and
        this layer (``None`` in a run without a key). A rule passes it on to every write it
        requests, ``array.updated(array_state, delta, key=key)``, so that a memristive array draws
        its cycle-to-cycle write noise (and stochastic pulse rounding) from it; a rule with two
        writes in one event splits it. Ideal arrays ignore it.
        """


class AbstractEnergyMeter(AbstractComponent):
    """Integrates a power of the layer's circuit as state (slot ``energy`` of a layer).

    ``vector_field(t, state, inputs)`` receives ``inputs = (layer, layer_state, membrane_current)``
    and returns the power (W) of what it meters, so the energy (J) is integrated by the same solver
    as everything else and every integrator agrees on it.
    """
