"""Bad input gets a clear error that names what was wrong; no silent recompilation."""

import diffrax
import jax.numpy as jnp
import pytest

import memsnn
from memsnn import presets as P
import importlib

simulate_module = importlib.import_module("memsnn.simulate")


def test_feature_count_mismatch_names_both_sizes():
    net = memsnn.Network([P.spiceprop_layer(weight=jnp.zeros((10, 784)))])
    stim = memsnn.Impulses(jnp.zeros((2, 3, 783)), steps=(0, 400, 800))
    with pytest.raises(ValueError, match="783 input features, the network expects 784"):
        memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=1000)


@pytest.mark.parametrize("kwargs, match", [
    (dict(R_on=0.0), "R_on must be > 0"),
    (dict(R_on=-5.0), "R_on must be > 0"),
    (dict(R_on=2e5), "R_on .* must be smaller than R_off"),
    (dict(tau=0.0), "tau must be > 0"),
    (dict(V_T=-1.0), "V_T must be > 0"),
])
def test_impossible_memristor(kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.spiceprop_memristor(**kwargs)


@pytest.mark.parametrize("build, match", [
    (lambda: P.spiceprop_mif(capacitance=0.0), "capacitance must be > 0"),
    (lambda: memsnn.AlphaSynapse(tau_a=-1e-3), "tau_a must be > 0"),
    (lambda: memsnn.LIF(tau=0.0), "tau must be > 0"),
    (lambda: memsnn.LIF(threshold=0.0), "threshold must be > 0"),
    (lambda: memsnn.LIF(reset="sometimes"), "reset must be"),
    (lambda: memsnn.Euler(substeps=0), "substeps must be >= 1"),
])
def test_impossible_parameters(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_unstable_explicit_step_is_reported_with_alternatives():
    net = P.spiceprop_neuron_network(1)
    # One event of 0.1 mA drives x1 + x2 far above the Euler budget (docs section 6).
    stim = memsnn.Impulses(jnp.full((1, 1, 1), 0.1 * P.MILLIAMP), steps=(0,))
    with pytest.raises(Exception) as info:
        memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=600)
    message = str(info.value)
    for hint in ("unstable", "smaller dt", "sub-steps", "implicit"):
        assert hint in message
    # The advertised alternative works.
    trace = memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=600, solver=memsnn.Euler(substeps=4))
    assert bool(jnp.all(jnp.isfinite(trace.membrane_potential[0])))


def test_stability_ratio_before_running():
    net = P.spiceprop_neuron_network(1)
    assert memsnn.stability_ratio(net, memsnn.Euler(), P.SPICEPROP_DT) < 1
    assert memsnn.stability_ratio(net, memsnn.Euler(), 1e-3) > 1


def test_bad_shapes_and_values():
    net = P.spiceprop_neuron_network(2)
    with pytest.raises(ValueError, match="impulse at step 1000 is beyond n_steps=1000"):
        memsnn.simulate(net, memsnn.Impulses(jnp.zeros((1, 1, 2)), steps=(1000,)), dt=1e-5, n_steps=1000)
    with pytest.raises(ValueError, match="one row per step"):
        memsnn.simulate(net, memsnn.Impulses(jnp.zeros((1, 5, 2))), dt=1e-5, n_steps=10)
    with pytest.raises(ValueError, match="dt must be > 0"):
        memsnn.simulate(net, memsnn.Current(jnp.zeros((1, 2))), dt=0.0, n_steps=10)
    with pytest.raises(ValueError, match="cannot record"):
        memsnn.simulate(net, memsnn.Current(jnp.zeros((1, 2))), dt=1e-5, n_steps=10, record=("voltage",))
    with pytest.raises(ValueError, match="strictly increasing"):
        memsnn.Impulses(jnp.zeros((1, 2, 2)), steps=(5, 5))
    with pytest.raises(ValueError, match="layer 0 has 2 neurons but layer 1's array expects 3"):
        memsnn.Network([P.spiceprop_layer(2), P.spiceprop_layer(weight=jnp.zeros((1, 3)))])


def test_nan_input_is_reported():
    net = P.spiceprop_neuron_network(1)
    stim = memsnn.Impulses(jnp.full((1, 1, 1), jnp.nan), steps=(0,))
    with pytest.raises(Exception, match="NaN or inf"):
        memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=50)


def test_same_shapes_do_not_recompile():
    net = P.spiceprop_neuron_network(3)
    stim = memsnn.Impulses(jnp.full((4, 3, 3), 0.01 * P.MILLIAMP), steps=(0, 40, 80))
    memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=100)
    # The size of simulate's jit cache: one entry per compilation.
    before = simulate_module.simulate._cached._cache_size()
    # New values, same shapes and settings: served from the cache.
    net2 = P.spiceprop_neuron_network(3, capacitance=2e-9)
    memsnn.simulate(net2, memsnn.Impulses(stim.amplitude * 0.5, steps=(0, 40, 80)), dt=P.SPICEPROP_DT, n_steps=100)
    memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=100)
    assert simulate_module.simulate._cached._cache_size() == before


def test_adaptive_solver_out_of_steps_names_max_steps():
    import diffrax

    net = P.spiceprop_neuron_network(1)
    stim = memsnn.Current(jnp.full((1, 1), 2e-2 * P.MILLIAMP))
    solver = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-10, atol=1e-14), max_steps=16)
    with pytest.raises(Exception, match=r"used all max_steps=16 steps.*Raise max_steps"):
        memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=100, solver=solver)
    # Enough steps: the same solve runs.
    solver = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-10, atol=1e-14))
    trace = memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=100, solver=solver)
    assert bool(jnp.all(jnp.isfinite(trace.membrane_potential[0])))


def test_api_settings_that_used_to_pass_silently():
    # A spike flag below the starting potential reported a spike at every step.
    with pytest.raises(ValueError, match="v_init .* must be smaller than spike_threshold"):
        memsnn.MIF(spike_threshold=-0.03)
    net = P.spiceprop_neuron_network(1)
    stim = memsnn.Current(jnp.zeros((1, 1)))
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=10, checkpoint_every=-1)
    with pytest.raises(TypeError, match="solver must be a memsnn integrator"):
        memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=10, solver="euler")
    with pytest.raises(TypeError, match="diffrax solver instance"):
        memsnn.Diffrax(diffrax.Tsit5)
