"""Leaky and non-leaky integrate-and-fire neurons with a threshold event rule."""

from __future__ import annotations

from typing import Callable, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from .._spice import number
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
                f"lif_netlist: the LIF has reset={self.reset_mode!r}. memsnn applies the threshold and "
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
