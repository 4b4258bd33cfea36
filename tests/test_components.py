"""The component protocol (issue 10): new components are one class, and the core serves them unchanged.

Each toy component here is what a user would write in their own file; Network, simulate and the
integrators see only the protocol.
"""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn import presets as P
from memsnn.arrays import AbstractSynapseArray
from memsnn.components import AbstractEnergyMeter, AbstractPlasticity


class DecayingDense(AbstractSynapseArray):
    """A dense array whose weights decay: state ``g`` (relative weight) with ``dg/dt = -g / tau``."""

    weight: jax.Array
    tau: jax.Array
    linear_time_invariant: ClassVar[bool] = False

    @property
    def n_inputs(self):
        return self.weight.shape[1]

    @property
    def n_outputs(self):
        return self.weight.shape[0]

    def init_state(self, n, *, key=None):
        return jnp.ones(self.weight.shape)

    def vector_field(self, t, state, inputs):
        return -state / self.tau

    def decay_rate(self, state, inputs):
        return 1.0 / self.tau

    def __call__(self, presynaptic, state=None, *, key=None):
        return (self.weight * state) @ presynaptic


class NoisyDense(AbstractSynapseArray):
    """A dense array with Gaussian read noise of relative size ``sigma`` at every read."""

    weight: jax.Array
    sigma: float
    linear_time_invariant: ClassVar[bool] = False
    stochastic: ClassVar[bool] = True

    @property
    def n_inputs(self):
        return self.weight.shape[1]

    @property
    def n_outputs(self):
        return self.weight.shape[0]

    def __call__(self, presynaptic, state=None, *, key=None):
        noise = 1.0 + self.sigma * jax.random.normal(key, self.weight.shape)
        return (self.weight * noise) @ presynaptic


def _if_layer(array):
    # A non-leaky membrane of 1 F without reset: v is the integral of the input current.
    return memsnn.Layer(array, None, memsnn.IF(capacitance=1.0, threshold=1e9, reset="none"))


@pytest.mark.parametrize("solver", [memsnn.Euler(substeps=20),
                                    memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-9, atol=1e-12))])
def test_array_state_decays_under_every_integrator(solver):
    # v(t) = w x tau (1 - exp(-t / tau)) for a constant input x through a weight w e^{-t/tau}.
    tau, w, x, dt, n = 0.5, 2.0, 3.0, 0.01, 100
    net = memsnn.Network([_if_layer(DecayingDense(jnp.array([[w]]), jnp.asarray(tau)))])
    trace = memsnn.simulate(net, memsnn.Impulses(jnp.full((1, n, 1), x * dt)), dt=dt, n_steps=n, solver=solver,
                            record=("membrane_potential", "state"))
    g = trace.state[0].array[0, :, 0, 0]
    t = trace.times
    if isinstance(solver, memsnn.Euler):  # Euler's own closed form: (1 - h / tau) per sub-step
        np.testing.assert_allclose(g, (1 - dt / 20 / tau) ** (20 * np.arange(1, n + 1)), rtol=1e-12)
    else:
        np.testing.assert_allclose(g, np.exp(-t / tau), rtol=1e-8)
    # Impulses x dt at the end of each step: a Riemann sum of the closed-form integral (to dt / 2 tau).
    v = trace.membrane_potential[0][0, :, 0]
    expected = w * x * tau * (1 - np.exp(-t / tau))
    np.testing.assert_allclose(v, expected, rtol=2e-2)
    # Exactly: each impulse is read through the weight at its arrival (the end of its step).
    np.testing.assert_allclose(v, np.cumsum(w * x * dt * np.asarray(g)), rtol=1e-12)


def test_current_through_a_stateful_array_is_sampled_and_held():
    # A current x through decaying weights: read at the start of each step, held over it, so that
    # Euler's membrane is the left Riemann sum of w x g(t); the array is not hoisted out of the loop.
    tau, w, x, dt, n = 0.5, 2.0, 3.0, 0.01, 50
    net = memsnn.Network([_if_layer(DecayingDense(jnp.array([[w]]), jnp.asarray(tau)))])
    trace = memsnn.simulate(net, memsnn.Current(jnp.full((1, 1), x)), dt=dt, n_steps=n, record=("membrane_potential",))
    g_start = (1 - dt / tau) ** np.arange(n)  # Euler's weight at the start of each step
    np.testing.assert_allclose(trace.membrane_potential[0][0, :, 0], np.cumsum(w * x * dt * g_start), rtol=1e-12)


def test_stochastic_component_is_reproducible_per_key():
    net = memsnn.Network([_if_layer(NoisyDense(jnp.ones((3, 4)), 0.1))])
    stim = memsnn.Impulses(jnp.ones((2, 20, 4)))
    run = lambda key: memsnn.simulate(net, stim, dt=1.0, n_steps=20, key=key).membrane_potential[0]  # noqa: E731
    a, b, c = run(jax.random.key(0)), run(jax.random.key(0)), run(jax.random.key(1))
    np.testing.assert_array_equal(a, b)
    assert float(jnp.max(jnp.abs(a - c))) > 1e-3
    # Samples of one batch draw different noise; without noise every sample would read 4 per step.
    assert float(jnp.max(jnp.abs(a[0] - a[1]))) > 1e-3
    np.testing.assert_allclose(a[:, -1], 80.0, rtol=0.1)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        memsnn.simulate(net, stim, dt=1.0, n_steps=20)


def test_throw_false_marks_the_unstable_point_of_a_vmapped_sweep():
    # Forward Euler on the MIF is unstable above ~0.0086 mA of constant drive at dt = 10 us.
    net = P.spiceprop_neuron_network(1)
    currents = jnp.array([0.002, 0.004, 0.03]) * P.MILLIAMP

    def run(current):
        trace = memsnn.simulate(net, memsnn.Current(current * jnp.ones((1, 1))), dt=P.SPICEPROP_DT, n_steps=2000,
                                throw=False)
        return trace.membrane_potential[0][0, :, 0], trace.result[0]

    v, result = jax.vmap(run)(currents)
    assert result.tolist() == [memsnn.RESULTS.successful, memsnn.RESULTS.successful, memsnn.RESULTS.unstable_step]
    assert bool(jnp.all(jnp.isfinite(v[:2])))
    # The stable points are exactly what a plain run gives.
    alone = memsnn.simulate(net, memsnn.Current(currents[1] * jnp.ones((1, 1))), dt=P.SPICEPROP_DT, n_steps=2000)
    np.testing.assert_allclose(v[1], alone.membrane_potential[0][0, :, 0], rtol=1e-14)
    with pytest.raises(Exception, match="unstable"):
        memsnn.simulate(net, memsnn.Current(currents[2] * jnp.ones((1, 1))), dt=P.SPICEPROP_DT, n_steps=2000)


def test_throw_false_reports_max_steps():
    net = P.spiceprop_neuron_network(1)
    solver = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-12, atol=1e-16), max_steps=8)
    trace = memsnn.simulate(net, memsnn.Impulses(jnp.full((2, 1, 1), 0.01 * P.MILLIAMP), steps=(0,)),
                            dt=P.SPICEPROP_DT, n_steps=100, solver=solver, throw=False)
    assert trace.result.tolist() == [memsnn.RESULTS.max_steps_reached] * 2


def test_record_a_function_of_the_state():
    net = memsnn.Network([memsnn.Layer(memsnn.Dense(jnp.eye(2) * 0.6), None, memsnn.LIF(tau=1.0, resistance=1.0))])
    stim = memsnn.Current(jnp.array([[1.0, 3.0]]))

    def charge_above_rest(t, state, network):
        return jnp.sum(state[0].neuron.v) + 0.0 * t

    full = memsnn.simulate(net, stim, dt=0.1, n_steps=30, record=("membrane_potential",))
    only = memsnn.simulate(net, stim, dt=0.1, n_steps=30, record=(charge_above_rest,))
    assert only.membrane_potential is None and len(only.recorded) == 1
    np.testing.assert_allclose(only.recorded[0][0], full.membrane_potential[0][0].sum(-1), rtol=1e-12)
    with pytest.raises(TypeError, match="names from"):
        memsnn.simulate(net, stim, dt=0.1, n_steps=3, record=(42,))


def _three_layer_lif(key):
    k1, k2, k3 = jax.random.split(key, 3)
    lif = memsnn.LIF(tau=5.0, resistance=5.0, threshold=1.0)
    return memsnn.Network([memsnn.Layer(memsnn.Dense.uniform(6, 8, key=k1, scale=3.0), None, lif),
                           memsnn.Layer(memsnn.Dense.uniform(8, 5, key=k2, scale=3.0), None, lif),
                           memsnn.Layer(memsnn.Dense.uniform(5, 3, key=k3, scale=3.0), None, lif)])


@pytest.mark.parametrize("solver", [memsnn.Euler(), memsnn.Diffrax(diffrax.Heun())])
def test_layerwise_execution_gives_the_plain_numbers(solver):
    net = _three_layer_lif(jax.random.key(3))
    stim = memsnn.Current(jax.random.uniform(jax.random.key(4), (4, 6)))
    options = dict(dt=1.0, n_steps=40, solver=solver, record=("membrane_potential", "spikes"))
    plain = memsnn.simulate(net, stim, **options)
    layered = memsnn.simulate(net, stim, layerwise=True, **options)
    assert sum(float(jnp.sum(s)) for s in plain.spikes) > 20  # the layers really fire
    for a, b in zip(plain.spikes + plain.membrane_potential, layered.spikes + layered.membrane_potential):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("solver", [memsnn.SpicepropEuler(), memsnn.Euler()])
def test_fold_batch_gives_the_plain_numbers(solver):
    # Per-neuron parameters (shape (n,)) must follow their neuron into the folded population.
    net = P.spiceprop_neuron_network(3, capacitance=jnp.array([1e-9, 1.5e-9, 2e-9]))
    amp = jax.random.uniform(jax.random.key(0), (5, 3, 3), maxval=0.02 * P.MILLIAMP)
    stim = memsnn.Impulses(amp, steps=(0, 40, 80))
    options = dict(dt=P.SPICEPROP_DT, n_steps=120, solver=solver, record=("membrane_potential", "state"))
    plain = memsnn.simulate(net, stim, **options)
    folded = memsnn.simulate(net, stim, fold_batch=True, **options)
    np.testing.assert_allclose(folded.membrane_potential[0], plain.membrane_potential[0], rtol=1e-12)
    # Each sample's own step ratio, not the population's (no reduction across the batch in the loop).
    assert np.ptp(np.asarray(plain.step_ratio)) > 0
    np.testing.assert_allclose(folded.step_ratio, plain.step_ratio, rtol=1e-12)
    for a, b in zip(jax.tree.leaves(folded.state), jax.tree.leaves(plain.state)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="fold_batch"):
        memsnn.simulate(_three_layer_lif(jax.random.key(0)), memsnn.Current(jnp.ones((2, 6))), dt=1.0, n_steps=3,
                        fold_batch=True)


class PreTrace(AbstractPlasticity):
    """A pre-synaptic trace (dx/dt = -x / tau, +1 per input event) that also counts post spikes."""

    tau: float

    def init_state(self, n, *, key=None):
        return {"pre": jnp.zeros(()), "post": jnp.zeros(n)}

    def vector_field(self, t, state, inputs):
        return {"pre": -state["pre"] / self.tau, "post": jnp.zeros_like(state["post"])}

    def on_presynaptic(self, state, array, array_state, presynaptic, *, key=None):
        return {**state, "pre": state["pre"] + jnp.sum(presynaptic)}, array_state

    def on_postsynaptic(self, state, array, array_state, spikes, membrane_potential, *, key=None):
        return {**state, "post": state["post"] + spikes}, array_state


class SynapticCharge(AbstractEnergyMeter):
    """Integrates the synaptic current: the charge delivered to each membrane (C)."""

    def init_state(self, n, *, key=None):
        return jnp.zeros(n)

    def vector_field(self, t, state, inputs):
        layer, layer_state, current = inputs
        return layer.synaptic_current(layer_state)


def test_plasticity_and_energy_slots_follow_their_closed_forms():
    tau_p, tau_a, w, dt, n = 0.2, 1e-3, 0.01 * P.MILLIAMP, 1e-5, 1000
    layer = memsnn.Layer(memsnn.arrays.PlasticDense(jnp.ones((1, 1))), memsnn.AlphaSynapse(tau_a), P.spiceprop_mif(),
                         plasticity=PreTrace(tau_p), energy=SynapticCharge())
    net = memsnn.Network([layer])
    trace = memsnn.simulate(net, memsnn.Impulses(jnp.full((1, 1, 1), w), steps=(0,)), dt=dt, n_steps=n,
                            solver=memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-10, atol=1e-20)),
                            record=("state", "spikes"))
    t = np.asarray(trace.times) - dt  # the impulse lands at the end of step 0
    pre = trace.state[0].plasticity["pre"][0]
    np.testing.assert_allclose(pre, w * np.exp(-t / tau_p), rtol=1e-7)
    # Charge of an alpha current w (t/tau) e^{-t/tau}: w tau (1 - (1 + t/tau) e^{-t/tau}).
    charge = trace.state[0].energy[0, :, 0]
    expected = w * tau_a * (1 - (1 + t / tau_a) * np.exp(-t / tau_a))
    np.testing.assert_allclose(charge[1:], expected[1:], rtol=1e-6)
    # The rule saw every spike flag at its grid point.
    np.testing.assert_array_equal(trace.state[0].plasticity["post"][0, :, 0], np.cumsum(trace.spikes[0][0, :, 0]))


def test_layer_rejects_what_is_not_a_component():
    with pytest.raises(TypeError, match="neuron must be a memsnn AbstractNeuron"):
        memsnn.Layer(memsnn.Identity(2), None, memsnn.AlphaSynapse())
    with pytest.raises(TypeError, match="solver must be a memsnn integrator.*CLI option"):
        memsnn.simulate(P.spiceprop_neuron_network(1), memsnn.Current(jnp.zeros((1, 1))), dt=1e-5, n_steps=2,
                        solver="euler")
    with pytest.raises(TypeError, match="parentheses"):
        memsnn.Diffrax(diffrax.Tsit5)


def test_initial_state_continues_a_run_exactly():
    """Two runs of n steps, the second from the first's final state, equal one run of 2n steps."""
    net = _three_layer_lif(jax.random.key(3))
    stim = memsnn.Current(jax.random.uniform(jax.random.key(4), (3, 6), minval=0.0, maxval=3.0))
    whole = memsnn.simulate(net, stim, dt=0.5, n_steps=40, record=("spikes",))
    first = memsnn.simulate(net, stim, dt=0.5, n_steps=20, record=("spikes",))
    second = memsnn.simulate(net, stim, dt=0.5, n_steps=20, record=("spikes",), initial_state=first.final_state)
    for a, b in zip(jax.tree.leaves(whole.final_state), jax.tree.leaves(second.final_state)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(whole.spikes[-1][:, 20:], second.spikes[-1])
    layerwise = memsnn.simulate(net, stim, dt=0.5, n_steps=20, record=("spikes",), initial_state=first.final_state,
                                layerwise=True)
    np.testing.assert_array_equal(layerwise.spikes[-1], second.spikes[-1])


def test_initial_state_errors_say_what_shape_was_expected():
    net = _three_layer_lif(jax.random.key(3))
    stim = memsnn.Current(jnp.ones((2, 6)))
    state = net.init_state()
    with pytest.raises(ValueError, match="leading batch axis|expected"):
        memsnn.simulate(net, stim, dt=0.5, n_steps=2, initial_state=state)
    with pytest.raises(ValueError, match="structure of network.init_state"):
        memsnn.simulate(net, stim, dt=0.5, n_steps=2, initial_state=state[:1])
