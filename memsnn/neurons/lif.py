"""Leaky and non-leaky integrate-and-fire neurons with a threshold event rule."""

from __future__ import annotations

from typing import Callable, ClassVar, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._nir import UNREACHABLE, NirStep, never_fires, parameter, per_neuron
from .._spice import number
from .._validation import require_positive
from ..spikes import SpikeFunction
from ..synapses import ExponentialSynapse
from ._base import AbstractNeuron, AbstractSpiceNeuron

ResetMode = Literal["subtract", "zero", "none"]


class LIFState(NamedTuple):
    """Membrane potential ``v`` (V) of ``n`` integrate-and-fire neurons."""

    v: Float[Array, " n"]


class DelayedResetState(NamedTuple):
    """LIF state with ``reset_delay=True``: membrane ``v`` (V) and the ``pending`` spikes (0/1)
    of the previous grid step, whose threshold subtraction lands at the end of the current step."""

    v: Float[Array, " n"]
    pending: Float[Array, " n"]


@jax.custom_jvp
def heaviside(x):
    """Unit step ``x >= 0`` with a zero derivative (the exact derivative almost everywhere)."""
    return (x >= 0).astype(x.dtype)


@heaviside.defjvp
def _heaviside_jvp(primals, tangents):
    (x,), _ = primals, tangents
    return heaviside(x), jnp.zeros_like(x)


def _reset(v, spikes, threshold, v_reset, mode: str):
    if mode == "subtract":
        return v - spikes * threshold
    if mode == "zero":
        return v - spikes * (v - v_reset)
    return v


def _check_reset(owner: str, mode: str):
    if mode not in ("subtract", "zero", "none"):
        raise ValueError(f"{owner}: reset must be 'subtract', 'zero' or 'none', got {mode!r}.")


def _nir_checks(neuron: "LIF | IF", synapse, step: NirStep) -> bool:
    """What NIR cannot express of a LIF / IF layer; returns whether the layer never fires (a
    ``reset="none"`` readout, exported as a leaky or plain integrator)."""
    where = step.where
    if neuron.reset_mode == "subtract":
        raise ValueError(
            f"{where} resets by subtraction (reset='subtract'), which NIR cannot express: NIR's LIF and IF "
            "reset the membrane to v_reset. Build (or train) the network with reset='zero' to export it.")
    if not (neuron.spike_fn is heaviside or isinstance(neuron.spike_fn, SpikeFunction)):
        raise TypeError(f"{where}'s spike function {neuron.spike_fn!r} is not memsnn's step (heaviside, or a "
                        "surrogate from memsnn.spikes, a step forward); NIR neurons fire with a step.")
    silent = neuron.reset_mode == "none"
    if silent and not never_fires(neuron.threshold):
        raise ValueError(
            f"{where} fires without a reset (reset='none'), which NIR cannot express. Use reset='zero', or "
            "make it a readout that never fires (a threshold of the largest float), exported as a leaky "
            "integrator.")
    if synapse is not None and not isinstance(synapse, ExponentialSynapse):
        raise TypeError(f"{where} has a {type(synapse).__name__}; NIR export supports no synapse (charge lands "
                        "on the membrane) or memsnn.ExponentialSynapse (NIR's CubaLIF).")
    if synapse is not None and not step.spike_driven:
        raise ValueError(f"{where} has a synapse but is driven by a current stimulus, which memsnn feeds "
                         "straight into the membrane while NIR would filter it; export with "
                         "stimulus='impulses', or drop the synapse.")
    return silent


class LIF(AbstractSpiceNeuron):
    """Leaky integrate-and-fire: ``tau dv/dt = -(v - v_rest) + R I``; spike when ``v >= threshold``.

    Spikes are checked on the simulation grid (after each step), then the reset rule acts:
    ``"subtract"`` removes ``threshold`` (keeps the overshoot), ``"zero"`` sets ``v = v_reset``,
    ``"none"`` leaves ``v``. ``spike_fn`` maps ``v - threshold`` to a spike in [0, 1]; the default is
    the exact Heaviside step (zero gradient), a surrogate can be passed for surrogate-gradient training
    (:mod:`memsnn.spikes`).

    ``reset_delay=True`` (subtractive reset only) is snnTorch's ``Leaky`` convention: the threshold
    of a spike read at step ``k`` is subtracted, undecayed, at the end of step ``k + 1``, so that with
    Euler, ``R = tau`` and ``beta = 1 - dt / tau`` the recorded membrane is snnTorch's
    ``mem[k] = beta mem[k-1] + I[k] - S[k-1] threshold``. The default (``False``, snnTorch's
    ``reset_delay=False``) subtracts at once, so the subtraction decays with the membrane.
    ``detach_reset=True`` stops gradients through the reset, as snnTorch does.

    Attributes:
        tau: membrane time constant (s).
        resistance: membrane resistance R (Ohm).
        threshold: firing threshold (V), > 0 relative to ``v_rest``.
        v_rest, v_reset: rest and reset potentials (V).
    """

    tau: Float[Array, "..."]
    resistance: Float[Array, "..."]
    threshold: Float[Array, "..."]
    v_rest: Float[Array, "..."]
    v_reset: Float[Array, "..."]
    reset_mode: str = eqx.field(static=True)
    spike_fn: Callable = eqx.field(static=True)
    reset_delay: bool = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(self, tau=20e-3, resistance=1.0, threshold=1.0, v_rest=0.0, v_reset=0.0,
                 reset: ResetMode = "subtract", spike_fn: Callable = heaviside,
                 reset_delay: bool = False, detach_reset: bool = False):
        _check_reset("LIF", reset)
        if reset_delay and reset != "subtract":
            raise ValueError(f"LIF: reset_delay=True needs reset='subtract', got {reset!r} (with 'zero' "
                             "the default timing already gives snnTorch's spikes).")
        self.reset_delay = bool(reset_delay)
        self.detach_reset = bool(detach_reset)
        self.tau = jnp.asarray(tau, dtype=float)
        self.resistance = jnp.asarray(resistance, dtype=float)
        self.threshold = jnp.asarray(threshold, dtype=float)
        self.v_rest = jnp.asarray(v_rest, dtype=float)
        self.v_reset = jnp.asarray(v_reset, dtype=float)
        self.reset_mode = reset
        self.spike_fn = spike_fn

    def __check_init__(self):
        require_positive("LIF", "tau", self.tau, "s")
        require_positive("LIF", "resistance", self.resistance, "Ohm")
        require_positive("LIF", "threshold", self.threshold, "V")

    def init_state(self, n: int, *, key=None) -> LIFState | DelayedResetState:
        v = self.v_rest * jnp.ones((n,))
        return DelayedResetState(v, jnp.zeros((n,))) if self.reset_delay else LIFState(v=v)

    def vector_field(self, t, state, current):
        dv = (-(state.v - self.v_rest) + self.resistance * current) / self.tau
        return state._replace(v=dv, **({"pending": jnp.zeros_like(dv)} if self.reset_delay else {}))

    def membrane_potential(self, state):
        return state.v

    def _landed(self, state):
        # With reset_delay the previous step's subtraction lands at the end of this step, before
        # spikes are read; spikes() and on_spike() run right after the step.
        return state.v - state.pending * self.threshold if self.reset_delay else state.v

    def spikes(self, state):
        return self.spike_fn(self._landed(state) - self.v_rest - self.threshold)

    def threshold_function(self, state):
        """``v - v_rest - threshold`` (V): a spike is its upward crossing of 0."""
        return self._landed(state) - self.v_rest - self.threshold

    def on_spike(self, state, spikes):
        spikes = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        if self.reset_delay:
            return DelayedResetState(self._landed(state), spikes)
        return LIFState(v=self.v_rest + _reset(state.v - self.v_rest, spikes, self.threshold,
                                               self.v_reset - self.v_rest, self.reset_mode))

    @property
    def has_event_rule(self) -> bool:
        return self.reset_mode != "none"

    def on_impulse(self, state: LIFState, charge):
        # A charge q on a membrane of capacitance tau/R moves v by q R / tau.
        return state._replace(v=state.v + charge * self.resistance / self.tau)

    def decay_rate(self, state: LIFState, current):
        return jnp.broadcast_to(1.0 / self.tau, state.v.shape)

    def linear_coefficient(self, state, current):
        """``-1/tau`` for ``v`` (1/s; 0 for the pending spikes of ``reset_delay``)."""
        a = jnp.broadcast_to(-1.0 / self.tau, state.v.shape)
        return state._replace(v=a, **({"pending": jnp.zeros_like(a)} if self.reset_delay else {}))

    def residual_decay_rate(self, state, current):
        return jnp.zeros_like(state.v)

    # --- SPICE form (memsnn.export) -----------------------------------------------------------------

    def spice_lines(self, index: int, impulse_ref: str, options) -> list[str]:
        """``C = tau / R`` from ``v_i`` to ``impulse_ref``, ``R`` to a battery at ``v_rest``.

        Only the sub-threshold membrane: memsnn checks the threshold and resets on its time grid, a
        discrete-time rule with no exact SPICE counterpart.

        Raises:
            ValueError: the LIF resets (``reset`` other than ``"none"``).
        """
        if self.reset_mode != "none":
            raise ValueError(
                f"netlist: the LIF has reset={self.reset_mode!r}. memsnn applies the threshold and "
                "reset on its time grid, which SPICE cannot reproduce exactly; export the sub-threshold "
                "membrane with LIF(..., reset='none') and compare while v stays below threshold."
            )
        i, v_rest = index, number(self, "v_rest", self.v_rest)
        return [f"Cm_{i} v_{i} {impulse_ref} {number(self, 'tau / R', self.tau / self.resistance)} IC={v_rest}",
                f"Rm_{i} v_{i} rest_{i} {number(self, 'resistance', self.resistance)}",
                f"Vrest_{i} rest_{i} 0 DC {v_rest}"]

    def spice_signals(self, options) -> dict[str, tuple[float, float]]:
        return {"v": (1.0, float(self.v_rest))}

    def spice_impulse(self, options) -> tuple[str, float]:
        # A charge q on a membrane of capacitance tau/R moves v by q R / tau.
        return "v", float(self.resistance / self.tau)

    nir_node_types: ClassVar[tuple[str, ...]] = ("LIF", "LI", "CubaLIF", "CubaLI")

    def to_nir(self, synapse, shape, step):
        silent = _nir_checks(self, synapse, step)
        nir, dt, scale = step.nir, step.dt, step.scale

        def p(value):
            return per_neuron(value, shape)

        v_rest = np.asarray(self.v_rest, dtype=np.float64)
        tau = p(np.asarray(self.tau, dtype=np.float64) * scale)
        resistance = np.asarray(self.resistance, dtype=np.float64)
        # memsnn's threshold is relative to v_rest, NIR's is absolute.
        threshold, v_reset = p(v_rest + np.asarray(self.threshold, dtype=np.float64)), p(self.v_reset)
        if synapse is None:
            r = p(resistance / dt if step.spike_driven else resistance)
            if silent:
                return nir.LI(tau=tau, r=r, v_leak=p(v_rest))
            return nir.LIF(tau=tau, r=r, v_leak=p(v_rest), v_threshold=threshold, v_reset=v_reset)
        # The synaptic current is a current (A), so r = R; an impulse of weight w makes the current jump
        # by w, which the reader's Euler step gives with nir_dt w_in w / tau_syn' = dt w_in w / tau_s.
        tau_s = np.asarray(synapse.tau_s, dtype=np.float64)
        common = dict(tau_syn=p(tau_s * scale), tau_mem=tau, r=p(resistance), v_leak=p(v_rest), w_in=p(tau_s / dt))
        if silent:
            return nir.CubaLI(**common)
        return nir.CubaLIF(**common, v_threshold=threshold, v_reset=v_reset)

    @classmethod
    def from_nir(cls, node, n, step, spike_fn):
        nir, dt, scale, where = step.nir, step.dt, step.scale, step.where

        def p(name):
            return parameter(name, getattr(node, name), n, where)

        if isinstance(node, (nir.LIF, nir.LI)):
            tau, r, v_leak = np.asarray(p("tau")) / scale, np.asarray(p("r")), p("v_leak")
            resistance = r * dt if step.spike_driven else r
            if isinstance(node, nir.LI):
                return None, cls(tau=tau, resistance=resistance, threshold=UNREACHABLE, v_rest=v_leak,
                                 reset="none", spike_fn=spike_fn)
            return None, cls(tau=tau, resistance=resistance, threshold=np.asarray(p("v_threshold")) - v_leak,
                             v_rest=v_leak, v_reset=p("v_reset"), reset="zero", spike_fn=spike_fn)
        if not step.spike_driven:
            raise ValueError(f"from_nir: {where} is a CubaLIF driven by a current stimulus, which memsnn feeds "
                             "straight into the membrane; read it with stimulus='impulses'.")
        tau_syn, w_in = np.asarray(p("tau_syn")) / scale, np.asarray(p("w_in"))
        # The graph's w_in scales every input of the synapse; memsnn's impulse of weight w makes the
        # current jump by w, so w_in must be tau_syn / dt (snnTorch writes exactly that).
        if not np.allclose(w_in, tau_syn / dt, rtol=1e-9, atol=0):
            raise ValueError(f"from_nir: {where} has w_in {w_in} but memsnn's synapse needs w_in = tau_syn / dt "
                             f"= {tau_syn / dt} (scale the weights of the array in front of it instead).")
        synapse = ExponentialSynapse(tau_s=tau_syn)
        tau, v_leak = np.asarray(p("tau_mem")) / scale, p("v_leak")
        if isinstance(node, nir.CubaLI):
            return synapse, cls(tau=tau, resistance=p("r"), threshold=UNREACHABLE, v_rest=v_leak,
                                reset="none", spike_fn=spike_fn)
        return synapse, cls(tau=tau, resistance=p("r"), threshold=np.asarray(p("v_threshold")) - v_leak,
                            v_rest=v_leak, v_reset=p("v_reset"), reset="zero", spike_fn=spike_fn)


class IF(AbstractNeuron):
    """Non-leaky integrate-and-fire: ``C dv/dt = I``; threshold and reset as :class:`LIF`.

    Attributes:
        capacitance: C (F).
        threshold: firing threshold (V), > 0.
        v_reset: reset potential (V) for ``reset="zero"``.
        detach_reset: no gradient through the reset (static).
    """

    capacitance: Float[Array, "..."]
    threshold: Float[Array, "..."]
    v_reset: Float[Array, "..."]
    reset_mode: str = eqx.field(static=True)
    spike_fn: Callable = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(self, capacitance=1.0, threshold=1.0, v_reset=0.0, reset: ResetMode = "subtract",
                 spike_fn: Callable = heaviside, detach_reset: bool = False):
        _check_reset("IF", reset)
        self.detach_reset = bool(detach_reset)
        self.capacitance = jnp.asarray(capacitance, dtype=float)
        self.threshold = jnp.asarray(threshold, dtype=float)
        self.v_reset = jnp.asarray(v_reset, dtype=float)
        self.reset_mode = reset
        self.spike_fn = spike_fn

    def __check_init__(self):
        require_positive("IF", "capacitance", self.capacitance, "F")
        require_positive("IF", "threshold", self.threshold, "V")

    def init_state(self, n: int, *, key=None) -> LIFState:
        return LIFState(v=jnp.zeros((n,)))

    def vector_field(self, t, state: LIFState, current):
        return LIFState(v=current / self.capacitance + 0.0 * state.v)

    def membrane_potential(self, state: LIFState):
        return state.v

    def spikes(self, state: LIFState):
        return self.spike_fn(state.v - self.threshold)

    def threshold_function(self, state: LIFState):
        """``v - threshold`` (V): a spike is its upward crossing of 0."""
        return state.v - self.threshold

    def on_spike(self, state: LIFState, spikes):
        spikes = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        return LIFState(v=_reset(state.v, spikes, self.threshold, self.v_reset, self.reset_mode))

    @property
    def has_event_rule(self) -> bool:
        return self.reset_mode != "none"

    def on_impulse(self, state: LIFState, charge):
        return LIFState(v=state.v + charge / self.capacitance)

    def decay_rate(self, state: LIFState, current):
        return jnp.zeros_like(state.v)

    nir_node_types: ClassVar[tuple[str, ...]] = ("IF", "I")

    def to_nir(self, synapse, shape, step):
        silent = _nir_checks(self, synapse, step)
        if synapse is not None:
            raise TypeError(f"{step.where}: an IF neuron behind a synapse has no NIR node (NIR's current-based "
                            "neuron is the leaky CubaLIF); use memsnn.LIF or drop the synapse.")
        # dv/dt = I / C in memsnn time is dv/dt' = I / (C scale) in graph time t' = scale t; an impulse
        # of weight w moves v by w / C, which the reader's step nir_dt = scale dt gives with r w nir_dt.
        r = 1.0 / (np.asarray(self.capacitance, dtype=np.float64) * step.scale * (step.dt if step.spike_driven else 1.0))
        if silent:
            return step.nir.I(r=per_neuron(r, shape))
        return step.nir.IF(r=per_neuron(r, shape), v_threshold=per_neuron(self.threshold, shape),
                           v_reset=per_neuron(self.v_reset, shape))

    @classmethod
    def from_nir(cls, node, n, step, spike_fn):
        def p(name):
            return parameter(name, getattr(node, name), n, step.where)

        capacitance = 1.0 / (np.asarray(p("r")) * step.scale * (step.dt if step.spike_driven else 1.0))
        if isinstance(node, step.nir.I):
            return None, cls(capacitance=capacitance, threshold=UNREACHABLE, reset="none", spike_fn=spike_fn)
        return None, cls(capacitance=capacitance, threshold=p("v_threshold"), v_reset=p("v_reset"), reset="zero",
                         spike_fn=spike_fn)
