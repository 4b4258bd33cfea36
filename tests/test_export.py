"""memsnn.export: ngspice netlists of MIF and LIF neurons, run in ngspice and checked against memsnn.

The tests that run ngspice skip only on a developer machine without it; in CI (the CI environment
variable set) a missing ngspice fails them, with the install hint.
"""

import os
import re
import shutil

import diffrax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn import export
from memsnn import presets as P

needs_ngspice = pytest.mark.skipif(
    shutil.which("ngspice") is None and not os.environ.get("CI"),
    reason="ngspice is not installed (apt-get install ngspice); CI installs it and runs these tests",
)

DT, N_STEPS = P.SPICEPROP_DT, P.SPICEPROP_STEPS


def rel_l2(a, b, axis=None):
    return np.linalg.norm(np.asarray(a) - np.asarray(b), axis=axis) / np.linalg.norm(np.asarray(b), axis=axis)


def spiceprop_impulses(weights_mA):
    """The SPICEprop schedule (impulses at steps 0, 400, 800), one neuron per weight."""
    w = jnp.asarray(weights_mA, dtype=float) * P.MILLIAMP
    return memsnn.Impulses(w[:, None, None] * jnp.ones((w.size, 3, 1)), steps=P.SPICEPROP_EVENT_STEPS)


# --- netlist text, no simulator needed ---------------------------------------------------------

def pwl_points(netlist, name):
    line = re.search(rf"^{name} .*?PWL\((.*?)\)", netlist, re.S | re.M).group(1).replace("\n+", " ")
    values = np.asarray(line.split(), dtype=float)
    return values[0::2], values[1::2]


def test_netlist_impulses_are_exact_steps_centred_on_the_events():
    options = export.TransientOptions(pulse_width=1e-8, current_scale=1e-6)
    weights = np.array([[1e-5, 2e-5], [0.0, 3e-5], [0.0, 0.0]])
    events = [1e-5, 4.01e-3]
    netlist = export.neuron_netlist(P.spiceprop_mif(), memsnn.AlphaSynapse(1e-3), weights, events, 1e-2,
                                 options=options)
    for i in range(2):
        # The a-node capacitor returns to a staircase source that steps by w / current_scale volts,
        # along a ramp centred on each event.
        assert re.search(rf"^Ca_{i} a_{i} in_{i} ", netlist, re.M)
        t, y = pwl_points(netlist, f"Vin_{i}")
        np.testing.assert_allclose(np.diff(y)[0::2], weights[i] / 1e-6, rtol=1e-12)
        np.testing.assert_allclose(0.5 * (t[0::2] + t[1::2]), events, rtol=1e-12)
        np.testing.assert_allclose(t[1::2] - t[0::2], 1e-8, rtol=1e-6)
    assert re.search(r"^Ca_2 a_2 0 ", netlist, re.M) and "Vin_2" not in netlist  # no input, no source
    assert netlist.count("Cx1_") == 3 and netlist.count("Bx2_") == 3
    assert re.search(r"^\.tran \S+ 0\.01 uic$", netlist, re.M)
    assert "method=trap" in netlist and "reltol=1e-09" in netlist
    assert netlist.rstrip().endswith(".end")


def test_netlist_rejects_what_spice_cannot_express():
    mif, syn = P.spiceprop_mif(), memsnn.AlphaSynapse(1e-3)
    with pytest.raises(ValueError, match="pulse width"):
        export.neuron_netlist(mif, syn, [[1e-5]], [0.0], 1e-2)
    with pytest.raises(ValueError, match="closer together"):
        export.neuron_netlist(mif, syn, [[1e-5, 1e-5]], [1e-5, 1e-5 + 1e-9], 1e-2)
    with pytest.raises(ValueError, match="reset"):
        export.neuron_netlist(memsnn.LIF(), None, [[1e-3]], [1e-3], 1e-2)
    with pytest.raises(ValueError, match="shape"):
        export.neuron_netlist(P.spiceprop_mif(capacitance=jnp.ones(3) * 1e-9), syn, np.zeros((2, 1)), [1e-5], 1e-2)
    with pytest.raises(ValueError, match="one layer"):
        net = memsnn.Network([P.spiceprop_layer(2), P.spiceprop_layer(2)])
        export.simulate_ngspice(net, spiceprop_impulses([0.01, 0.01]).amplitude.reshape(1, 3, 2), dt=DT, n_steps=10)


def test_missing_ngspice_names_the_install_command(monkeypatch):
    monkeypatch.delenv("MEMSNN_NGSPICE", raising=False)
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    for call in (lambda: export.find_ngspice(),
                 lambda: export.run_ngspice("* empty\n.end\n"),
                 lambda: export.simulate_ngspice(P.spiceprop_neuron_network(1), spiceprop_impulses([0.01]),
                                                 dt=DT, n_steps=N_STEPS)):
        with pytest.raises(export.NgspiceNotFoundError, match="apt-get install ngspice"):
            call()


# --- ngspice runs --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def memsnn_adaptive():
    """memsnn's adaptive solution (Tsit5, rtol 1e-8) of the SPICEprop neuron at 0.01 mA."""
    solver = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-8, atol=1e-12))
    trace = memsnn.simulate(P.spiceprop_neuron_network(1), spiceprop_impulses([0.01]), dt=DT, n_steps=N_STEPS,
                            solver=solver, record=("state",))
    state = trace.state[0]
    return {"v": state.neuron.v, "x1": state.neuron.x1, "x2": state.neuron.x2, "a": state.synapse.a,
            "isyn": state.synapse.I}


@needs_ngspice
def test_adaptive_diffrax_matches_ngspice_within_2e_4(memsnn_adaptive):
    spice = export.simulate_ngspice(P.spiceprop_neuron_network(1), spiceprop_impulses([0.01]), dt=DT,
                                    n_steps=N_STEPS, record=export.netlist.MIF_SIGNALS)
    assert spice.membrane_potential.shape == (1, N_STEPS, 1)
    np.testing.assert_allclose(spice.times, DT * np.arange(1, N_STEPS + 1))
    # The figure: relative L2 of v(t) within 2e-4. The tight default options reach ~5e-7.
    assert rel_l2(memsnn_adaptive["v"], spice.signals["v"]) < 2e-4
    for name in ("x1", "x2", "a", "isyn"):
        assert rel_l2(spice.signals[name], memsnn_adaptive[name]) < 1e-4, name
    # The depolarisation peak of docs/mif-neuron.md section 6 (63 mV for 0.01 mA), from SPICE.
    assert abs(float(spice.membrane_potential.max()) / P.MILLIVOLT - 63.0) < 0.5


@needs_ngspice
def test_batch_netlist_matches_one_neuron_netlists():
    # Three neurons in one netlist, one with its own capacitance, against each simulated alone:
    # the neurons share ngspice's time steps but nothing else.
    weights, caps = [0.003, 0.01, 0.03], [1e-9, 0.8e-9, 1e-9]
    net = P.spiceprop_neuron_network(3, capacitance=jnp.asarray(caps))
    stim = memsnn.Impulses(jnp.asarray(weights)[None, None, :] * P.MILLIAMP * jnp.ones((1, 3, 3)),
                           steps=P.SPICEPROP_EVENT_STEPS)
    batch = export.simulate_ngspice(net, stim, dt=DT, n_steps=N_STEPS, record=("v", "x1"))
    assert batch.membrane_potential.shape == (1, N_STEPS, 3)
    for j, (w, c) in enumerate(zip(weights, caps)):
        alone = export.simulate_ngspice(P.spiceprop_neuron_network(1, capacitance=c), spiceprop_impulses([w]),
                                        dt=DT, n_steps=N_STEPS, record=("v", "x1"))
        for name in ("v", "x1"):
            assert rel_l2(batch.signals[name][0, :, j], alone.signals[name][0, :, 0]) < 2e-5, (j, name)


@needs_ngspice
def test_lif_neuron_netlist_matches_the_closed_form():
    # RC membrane: a current step and charge impulses, v(t) = v_rest + R I (1 - e^{-t/tau}) + sum of
    # decaying jumps q R / tau. Three neurons with different drives in one netlist.
    tau, R, v_rest = 20e-3, 1e8, -0.065
    lif = memsnn.LIF(tau=tau, resistance=R, threshold=0.1, v_rest=v_rest, reset="none")
    currents = np.array([0.0, 2e-10, 5e-10])
    charges = np.array([[4e-12, 0.0], [2e-12, 1e-12], [0.0, 0.0]])
    events = np.array([5e-3, 12e-3])
    netlist = export.neuron_netlist(lif, None, charges, events, 0.05, current=currents, t_step=1e-4)
    out = export.run_ngspice(netlist)
    t = out["time"]
    for i in range(3):
        exact = v_rest + R * currents[i] * (1 - np.exp(-t / tau))
        for tk, q in zip(events, charges[i]):
            exact += np.where(t >= tk, q * R / tau * np.exp(-(t - tk) / tau), 0.0)
        away = np.min(np.abs(t[:, None] - events[None]), axis=1) > 1e-7  # not inside a pulse
        np.testing.assert_allclose(out[f"v(v_{i})"][away], exact[away], rtol=0, atol=1e-6 * abs(v_rest))


@needs_ngspice
def test_lif_network_through_an_alpha_synapse_matches_memsnn_euler():
    # The LIF path of simulate_ngspice against memsnn's Euler on a 10x finer grid (first order:
    # about 5e-4 from the exact solution), compared on the coarse grid's times.
    lif = memsnn.LIF(tau=5e-3, resistance=1e3, threshold=1.0, reset="none")
    net = memsnn.Network([memsnn.Layer(memsnn.Identity(2), memsnn.AlphaSynapse(1e-3), lif)])
    amplitude = jnp.asarray([[[1e-5, 2e-5], [3e-5, 0.0]]])
    spice = export.simulate_ngspice(net, memsnn.Impulses(amplitude, steps=(9, 199)), dt=1e-5, n_steps=400,
                                    record=("v", "a", "isyn"))
    fine = memsnn.simulate(net, memsnn.Impulses(amplitude, steps=(99, 1999)), dt=1e-6, n_steps=4000,
                           record=("state",))
    state = fine.state[0]
    assert rel_l2(spice.membrane_potential, state.neuron.v[:, 9::10]) < 2e-3
    assert rel_l2(spice.signals["isyn"], state.synapse.I[:, 9::10]) < 2e-3


@needs_ngspice
def test_ngspice_failure_is_reported_with_its_output():
    with pytest.raises(export.NgspiceError, match="ngspice failed"):
        export.run_ngspice("* broken\nX1 a 0 no_such_subcircuit\nR1 a 0 1k\n.tran 1e-6 1e-5\n.end\n")
    assert re.match(r"ngspice-\d+", export.ngspice_version())
