"""A voltage-based STDP rule in the style of Clopath et al. 2010.

Plasticity depends on the post-synaptic membrane potential ``u`` instead of post-synaptic spike
times: the rule low-pass filters ``u`` twice and the input spikes once,

    tau_minus d(u_minus)/dt = u - u_minus,    tau_plus d(u_plus)/dt = u - u_plus,
    tau_x dx/dt = -x  (+1 per input spike),

    pre spike of j:  w_ij -= a_ltd [u_minus_i - theta_minus]+                      (depression)
    always:          dw_ij/dt = a_ltp x_j [u_i - theta_plus]+ [u_plus_i - theta_minus]+   (potentiation)

so a synapse is depressed by input that arrives while the neuron has been moderately depolarised,
and potentiated when its input trace meets a strongly depolarised (spiking) membrane.

memsnn's neurons reset on the grid, so the membrane the rule sees after the reset never shows the
action potential; the rule holds ``u`` = the membrane potential read at each grid point, and
``u = v_spike`` (default +20 mV, the peak of Clopath's spike) for the step after a spike. The
potentiation is integrated over each grid step in the rule's state (``pending``) and requested
from the array once per step with the step's depression (``array.updated``). Clopath's
homeostatic scaling of ``a_ltd`` and the adaptive-exponential neuron are not part of the rule.
Defaults: Clopath et al. 2010's visual-cortex values in SI units (``a_ltd`` 14e-5 / mV,
``a_ltp`` 8e-5 / mV^2 per ms, ``theta_minus`` -70.6 mV, ``theta_plus`` -45.3 mV, ``tau_minus``
10 ms, ``tau_plus`` 7 ms, ``tau_x`` 15 ms).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ..components import AbstractPlasticity
from .pair import check_array, check_n_inputs

__all__ = ["VoltageSTDP", "VoltageTraces"]


class VoltageTraces(NamedTuple):
    """State of :class:`VoltageSTDP`.

    Attributes:
        x: ``(n_inputs,)`` input trace.
        u: ``(n,)`` held membrane potential (V), ``v_spike`` after a spike.
        u_minus, u_plus: ``(n,)`` low-pass filtered membrane potentials (V).
        pending: ``(n, n_inputs)`` potentiation integrated since the last request.
        ltd_at_spike, pre_spikes: this step's depression, ``ltd_at_spike (n,)`` times ``pre_spikes (n_inputs,)``.
    """

    x: Float[Array, " n_in"]
    u: Float[Array, " n"]
    u_minus: Float[Array, " n"]
    u_plus: Float[Array, " n"]
    pending: Float[Array, "n n_in"]
    ltd_at_spike: Float[Array, " n"]
    pre_spikes: Float[Array, " n_in"]


class VoltageSTDP(AbstractPlasticity):
    """Clopath-style voltage-based STDP (module docstring for the equations).

    Attributes:
        n_inputs: number of inputs of the layer's array.
        a_ltd: depression per volt of ``[u_minus - theta_minus]+`` (weight units / V).
        a_ltp: potentiation rate (weight units / (V^2 s)).
        theta_minus, theta_plus: the two voltage thresholds (V).
        tau_minus, tau_plus, tau_x: filter time constants (s).
        v_rest: the held membrane potential and the filters at t = 0 (V).
        v_spike: the membrane potential the rule sees for the step after a spike (V).
    """

    n_inputs: int = eqx.field(static=True)
    a_ltd: Float[Array, ""]
    a_ltp: Float[Array, ""]
    theta_minus: Float[Array, ""]
    theta_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_x: Float[Array, ""]
    v_rest: Float[Array, ""]
    v_spike: Float[Array, ""]

    def __init__(self, n_inputs: int, *, a_ltd=0.14, a_ltp=8e4, theta_minus=-70.6e-3, theta_plus=-45.3e-3,
                 tau_minus=10e-3, tau_plus=7e-3, tau_x=15e-3, v_rest=-70.6e-3, v_spike=20e-3):
        self.n_inputs = check_n_inputs("VoltageSTDP", n_inputs)
        f = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
        self.a_ltd, self.a_ltp, self.theta_minus, self.theta_plus = map(f, (a_ltd, a_ltp, theta_minus, theta_plus))
        self.tau_minus, self.tau_plus, self.tau_x = map(f, (tau_minus, tau_plus, tau_x))
        self.v_rest, self.v_spike = f(v_rest), f(v_spike)

    def __check_init__(self):
        for name in ("tau_minus", "tau_plus", "tau_x"):
            require_positive("VoltageSTDP", name, getattr(self, name), "s")

    def init_state(self, n, *, key=None) -> VoltageTraces:
        rest = jnp.full((n,), self.v_rest)
        return VoltageTraces(x=jnp.zeros((self.n_inputs,)), u=rest, u_minus=rest, u_plus=rest,
                             pending=jnp.zeros((n, self.n_inputs)), ltd_at_spike=jnp.zeros((n,)),
                             pre_spikes=jnp.zeros((self.n_inputs,)))

    def vector_field(self, t, state: VoltageTraces, inputs):
        gate = jnp.maximum(state.u - self.theta_plus, 0.0) * jnp.maximum(state.u_plus - self.theta_minus, 0.0)
        zero = jnp.zeros_like
        return VoltageTraces(x=-state.x / self.tau_x, u=zero(state.u),
                             u_minus=(state.u - state.u_minus) / self.tau_minus,
                             u_plus=(state.u - state.u_plus) / self.tau_plus,
                             pending=self.a_ltp * gate[:, None] * state.x[None, :],
                             ltd_at_spike=zero(state.ltd_at_spike), pre_spikes=zero(state.pre_spikes))

    def decay_rate(self, state, inputs):
        return jnp.max(1.0 / jnp.stack([self.tau_minus, self.tau_plus, self.tau_x]))

    def on_presynaptic(self, state: VoltageTraces, array, array_state, presynaptic, *, key=None):
        check_array("VoltageSTDP", array, self.n_inputs)
        s = (presynaptic > 0).astype(state.x.dtype)
        ltd = self.a_ltd * jnp.maximum(state.u_minus - self.theta_minus, 0.0)
        return state._replace(x=state.x + s, ltd_at_spike=ltd, pre_spikes=s), array_state

    def on_postsynaptic(self, state: VoltageTraces, array, array_state, spikes, membrane_potential, *, key=None):
        delta = state.pending - state.ltd_at_spike[:, None] * state.pre_spikes[None, :]
        array_state = array.updated(array_state, delta, key=key)
        u = jnp.where(spikes > 0, self.v_spike, membrane_potential)
        zero = jnp.zeros_like
        return state._replace(u=u, pending=zero(state.pending), ltd_at_spike=zero(state.ltd_at_spike),
                              pre_spikes=zero(state.pre_spikes)), array_state
