"""Euler, the SPICEprop ordering and diffrax solvers converge to one solution; stiffness handling."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn import presets as P

N_STEPS = 300
DT = P.SPICEPROP_DT


def mif_trace(solver, amplitude=0.02 * P.MILLIAMP, n_steps=N_STEPS, dt=DT):
    net = P.spiceprop_neuron_network(2)
    amp = jnp.asarray([[[amplitude, 0.5 * amplitude]], [[0.3 * amplitude, amplitude]]]).reshape(2, 1, 2)
    amp = jnp.concatenate([amp, 0.5 * amp], axis=1)
    stim = memsnn.Impulses(amp, steps=(0, 120))
    return memsnn.simulate(net, stim, dt=dt, n_steps=n_steps, solver=solver)


def mif_run(solver, **options):
    return np.asarray(mif_trace(solver, **options).membrane_potential[0])


def _pid(rtol, atol):
    # Tolerances as arrays, not Python floats (static to simulate's jit): the reference solve and
    # the adaptive test of the same solver share one compiled program.
    return diffrax.PIDController(rtol=jnp.asarray(rtol), atol=jnp.asarray(atol))


@pytest.fixture(scope="module")
def exact():
    return mif_run(memsnn.Diffrax(diffrax.Tsit5(), _pid(1e-11, 1e-15)))


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def fitted_order(errors, steps):
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


def test_euler_first_order(exact):
    subs = [1, 4, 16]
    errors = [rel_l2(mif_run(memsnn.Euler(substeps=m)), exact) for m in subs]
    order = fitted_order(errors, [DT / m for m in subs])
    assert 0.9 < order < 1.1, (errors, order)
    assert errors[-1] < 1e-3


def test_diffrax_euler_matches_memsnn_euler():
    ours = mif_run(memsnn.Euler(substeps=2))
    theirs = mif_run(memsnn.Diffrax(diffrax.Euler(), dt0=DT / 2))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


def test_heun_second_order(exact):
    # dt = 10 us is pre-asymptotic for Heun (error ratio 5.4 from 10 to 5 us): fit from 5 us down.
    subs = [2, 4, 8]
    errors = [rel_l2(mif_run(memsnn.Diffrax(diffrax.Heun(), dt0=DT / m)), exact) for m in subs]
    order = fitted_order(errors, [DT / m for m in subs])
    assert 1.8 < order < 2.2, (errors, order)


def test_fixed_step_implicit_euler_is_first_order_without_extra_settings(exact):
    # diffrax's implicit solvers normally borrow Newton tolerances from an adaptive controller;
    # with fixed steps memsnn supplies them, so the plain solver just works.
    errors = [rel_l2(mif_run(memsnn.Diffrax(diffrax.ImplicitEuler(), dt0=DT / m)), exact) for m in (2, 8)]
    euler = rel_l2(mif_run(memsnn.Euler(substeps=8)), exact)
    assert 3.0 < errors[0] / errors[1] < 5.0, errors  # first order: 4x smaller for a 4x smaller step
    assert 0.5 < errors[1] / euler < 2.0, (errors, euler)


# The implicit Kvaerno5 is exercised by the stiff test below.
@pytest.mark.parametrize("solver", [diffrax.Tsit5(), diffrax.Dopri5()])
def test_adaptive_solvers_agree(exact, solver):
    got = mif_run(memsnn.Diffrax(solver, _pid(1e-8, 1e-12)))  # Tsit5: the reference's compiled program
    assert rel_l2(got, exact) < 1e-6


def test_spiceprop_ordering_converges_to_same_solution(exact):
    # The reference ordering is a first-order scheme of the same ODE: refine its grid 4x and
    # compare on the coarse grid points.
    coarse = mif_run(memsnn.SpicepropEuler())
    # Impulses sit at steps (0, 120) of whichever grid; rebuild the fine run with the same times.
    net = P.spiceprop_neuron_network(2)
    amp = jnp.asarray([[[0.02, 0.01], [0.01, 0.005]], [[0.006, 0.02], [0.003, 0.01]]]) * P.MILLIAMP
    fine = np.asarray(memsnn.simulate(net, memsnn.Impulses(amp, steps=(3, 483)), dt=DT / 4, n_steps=4 * N_STEPS,
                                      solver=memsnn.SpicepropEuler()).membrane_potential[0])[:, 3::4]
    assert rel_l2(fine, exact) < 0.5 * rel_l2(coarse, exact)


def test_stiff_constant_current_implicit_stable_euler_errors():
    net = P.spiceprop_neuron_network(1)
    stim = memsnn.Current(jnp.full((1, 1), 2e-2 * P.MILLIAMP))
    with pytest.raises(Exception, match="sub-steps"):
        memsnn.simulate(net, stim, dt=DT, n_steps=1000, solver=memsnn.Euler())
    implicit = memsnn.Diffrax(diffrax.Kvaerno5(), diffrax.PIDController(rtol=1e-7, atol=1e-10), dt0=DT)
    v_impl = np.asarray(memsnn.simulate(net, stim, dt=DT, n_steps=1000, solver=implicit).membrane_potential[0])
    assert np.all(np.isfinite(v_impl))
    v_sub = np.asarray(memsnn.simulate(net, stim, dt=DT, n_steps=1000,
                                       solver=memsnn.Euler(substeps=8)).membrane_potential[0])
    assert rel_l2(v_sub, v_impl) < 5e-3
    # One onset transient settling monotonically to a depolarised state, no tonic firing
    # (docs/mif-neuron.md section 6).
    v = v_impl[0, :, 0]
    above = v > 0.030
    assert int(np.sum(above[1:] & ~above[:-1])) <= 1
    tail = np.diff(v[-300:])
    assert np.all(tail <= 0) or np.all(tail >= 0)


def test_checkpointing_gives_identical_gradients():
    import jax

    net = P.spiceprop_neuron_network(2)
    stim = memsnn.Impulses(jnp.full((3, 2, 2), 0.01 * P.MILLIAMP), steps=(0, 50))

    def loss(gain, k):
        n = memsnn.Network([memsnn.Layer(memsnn.Identity(2, gain), net.layers[0].synapse, net.layers[0].neuron)])
        return jnp.sum(memsnn.simulate(n, stim, dt=DT, n_steps=130, checkpoint_every=k).membrane_potential[0] ** 2)

    grad = jax.jit(jax.grad(loss), static_argnums=1)  # compiled whole (eagerly, op by op: many small programs)
    g_full = grad(1.0, None)
    g_ckpt = grad(1.0, 16)
    np.testing.assert_allclose(g_full, g_ckpt, rtol=1e-12)


def test_trace_counts_solver_steps():
    net = P.spiceprop_neuron_network(2)
    stim = memsnn.Impulses(jnp.full((3, 3, 2), 0.01 * P.MILLIAMP), steps=(0, 50, 99))
    run = lambda solver: memsnn.simulate(net, stim, dt=DT, n_steps=100, solver=solver)  # noqa: E731
    # Fixed steps: the runs of the order tests above (their compiled programs).
    fixed = mif_trace(memsnn.Euler(substeps=4))
    assert fixed.solver_steps.tolist() == [4 * N_STEPS] * 2 and fixed.rejected_steps.tolist() == [0] * 2
    assert mif_trace(memsnn.Diffrax(diffrax.Heun(), dt0=DT / 2)).solver_steps.tolist() == [2 * N_STEPS] * 2

    # Adaptive: the counts diffrax reports for the same stretches, solved directly: one between
    # consecutive arrivals of impulses (at the end of their steps): [0, dt), [dt, 51 dt),
    # [51 dt, 100 dt), each followed by a jump (the last one at the end of the run).
    controller = diffrax.PIDController(rtol=1e-8, atol=1e-12)
    trace = run(memsnn.Diffrax(diffrax.Tsit5(), controller))
    term = diffrax.ODETerm(lambda t, y, args: net.vector_field(t, y, None))
    state, accepted, rejected = net.init_state(), 0, 0
    for length in (1, 50, 49):
        # t0, t1 as arrays: the three stretches share one compiled solve (Python floats are static
        # to diffeqsolve's jit: one compile each).
        t0, t1 = jnp.asarray(0.0), jnp.asarray(length * DT)
        sol = diffrax.diffeqsolve(term, diffrax.Tsit5(), t0, t1, DT, state, stepsize_controller=controller,
                                  saveat=diffrax.SaveAt(t1=True), max_steps=4096)
        state = jax.tree.map(lambda y: y[0], sol.ys)
        accepted += int(sol.stats["num_accepted_steps"])
        rejected += int(sol.stats["num_rejected_steps"])
        state = net.inject(state, stim.amplitude[0, 0])
    assert trace.solver_steps.tolist() == [accepted] * 3 and trace.rejected_steps.tolist() == [rejected] * 3
    # The last grid point records the state after the impulses that arrive there.
    np.testing.assert_allclose(trace.membrane_potential[0][:, -1], np.broadcast_to(state[0].neuron.v, (3, 2)),
                               rtol=1e-10)
    assert accepted > 100  # tighter than the grid: the controller really chose the steps


# --- Exponential Euler (stiff linear decays, docs/plasticity.md) ---------------------------------


def _conductance_net(neuron, weight):
    return memsnn.Network([memsnn.Layer(memsnn.Dense(jnp.asarray(weight)), None, neuron)])


def test_exponential_euler_is_exact_on_a_linear_decay_where_euler_diverges():
    """A conductance decays as exp(-t / tau_exc) and an LIF membrane relaxes to v_rest + R I in
    closed form; at h / tau = 10 exponential Euler gives both to rounding, explicit Euler diverges
    (and reports the unstable step)."""
    from memsnn.neurons import ConductanceLIF

    tau_exc, dt, n = 1e-3, 10e-3, 8
    neuron = ConductanceLIF(tau_exc=tau_exc, theta_init=10.0)  # never fires
    net = _conductance_net(neuron, [[3.0]])
    amp = np.zeros((1, n, 1))
    amp[0, 0, 0] = 1.0
    stim = memsnn.Impulses(jnp.asarray(amp))
    exp_trace = memsnn.simulate(net, stim, dt=dt, n_steps=n, record="state", solver=memsnn.ExponentialEuler())
    g = np.asarray(exp_trace.state[0].neuron.g_exc[0, :, 0])
    np.testing.assert_allclose(g, 3.0 * np.exp(-dt / tau_exc * np.arange(n)), rtol=1e-13, atol=0)
    assert float(exp_trace.step_ratio[0]) == 0.0 and int(exp_trace.result[0]) == 0
    euler = memsnn.simulate(net, stim, dt=dt, n_steps=n, record="state", solver=memsnn.Euler(), throw=False)
    assert abs(float(euler.state[0].neuron.g_exc[0, -1, 0])) > 1e6  # (1 - 10)^7 * 3
    assert int(euler.result[0]) == memsnn.RESULTS.unstable_step

    tau = 2e-3
    lif = memsnn.Network([memsnn.Layer(memsnn.Dense(jnp.ones((1, 1))), None,
                                       memsnn.LIF(tau=tau, threshold=10.0, resistance=1.0, v_rest=-0.07))])
    current = memsnn.Current(jnp.full((1, 1), 0.03))  # R I = 30 mV
    trace = memsnn.simulate(lif, current, dt=10 * tau, n_steps=5, solver=memsnn.ExponentialEuler())
    t = trace.times
    np.testing.assert_allclose(trace.membrane_potential[0][0, :, 0], -0.07 + 0.03 * -np.expm1(-t / tau),
                               rtol=1e-14, atol=1e-16)


def _driven_conductance_lif(solver, dt=0.5e-3, n_steps=200):
    """Sub-threshold ConductanceLIF under a current step, starting with open conductances that
    decay (the membrane's coefficient -(1 + g_exc + g_inh) / tau changes within every step)."""
    from memsnn.neurons import ConductanceLIF

    neuron = ConductanceLIF(theta_init=1.0, tau_exc=5e-3, tau_inh=10e-3)
    net = _conductance_net(neuron, [[1.0]])
    state = net.init_state()
    state = (state[0]._replace(neuron=state[0].neuron._replace(g_exc=jnp.full((1,), 2.0),
                                                               g_inh=jnp.full((1,), 30.0))),)
    state = jax.tree.map(lambda x: x[None], state)
    current = memsnn.Current(jnp.full((1, 1), 0.01))
    trace = memsnn.simulate(net, current, dt=dt, n_steps=n_steps, solver=solver, initial_state=state)
    return np.asarray(trace.membrane_potential[0][0, :, 0])


def test_exponential_euler_first_order_on_a_conductance_lif():
    reference = _driven_conductance_lif(memsnn.Diffrax(diffrax.Tsit5(),
                                                       diffrax.PIDController(rtol=1e-11, atol=1e-15)))
    subs = [1, 4, 16]
    errors = [rel_l2(_driven_conductance_lif(memsnn.ExponentialEuler(substeps=m)), reference) for m in subs]
    order = fitted_order(errors, [0.5e-3 / m for m in subs])
    assert 0.85 < order < 1.2, (errors, order)
    assert errors[0] < 1e-2


def test_exponential_euler_keeps_a_burst_of_inhibition_bounded():
    """40 excitatory neurons fire at once; their inhibitory partners open 40 x 17 = 680 leak
    conductances of inhibition on the one neuron left (h (1 + g) / tau = 3.4 at 0.5 ms): explicit
    Euler overshoots below E_inh and bounces above the threshold (a spike out of nothing, the
    spike storm of a 400-neuron Diehl & Cook run); exponential Euler relaxes towards E_inh and
    stays between E_inh and the threshold."""
    from memsnn.neurons import InhibitedPopulation

    population = InhibitedPopulation()
    weight = np.zeros((41, 1))
    weight[:40] = 200.0
    net = _conductance_net(population, weight)
    amp = np.zeros((1, 40, 1))
    amp[0, 0, 0] = 1.0
    stim = memsnn.Impulses(jnp.asarray(amp))
    runs = {}
    for name, solver in (("euler", memsnn.Euler()), ("exponential", memsnn.ExponentialEuler())):
        trace = memsnn.simulate(net, stim, dt=0.5e-3, n_steps=40, record=("state", "spikes"), solver=solver,
                                throw=False)
        runs[name] = trace
    exc = population.excitatory
    e_inh, threshold = float(exc.e_inh), float(exc.v_threshold + exc.theta_init)
    for name, trace in runs.items():
        g_inh = np.asarray(trace.state[0].neuron.excitatory.g_inh[0, :, 40])
        assert g_inh.max() >= 40 * 17.0 * 0.99, name  # the burst happened
    v_euler = np.asarray(runs["euler"].state[0].neuron.excitatory.v[0, :, 40])
    assert v_euler.min() < e_inh or runs["euler"].spikes[0][0, :, 40].sum() > 0
    assert int(runs["euler"].result[0]) == memsnn.RESULTS.unstable_step
    v = np.asarray(runs["exponential"].state[0].neuron.excitatory.v[0, :, 40])
    assert np.all(np.isfinite(v)) and e_inh <= v.min() and v.max() < threshold
    assert float(runs["exponential"].spikes[0][0, :, 40].sum()) == 0.0
    assert int(runs["exponential"].result[0]) == 0 and float(runs["exponential"].step_ratio[0]) == 0.0


def test_exponential_euler_locates_spike_times_inside_a_step():
    """``spike_timing="exact"`` works unchanged: an LIF under a constant current is exact at the
    grid points, and the crossing located between them is the closed-form one up to the linear
    interpolant's O(h^2) error (about h^2 / (8 tau))."""
    tau, dt, threshold, drive = 10e-3, 1e-3, 0.02, 0.03
    lif = memsnn.Network([memsnn.Layer(memsnn.Dense(jnp.ones((1, 1))), None,
                                       memsnn.LIF(tau=tau, threshold=threshold, resistance=1.0, v_rest=0.0))])
    trace = memsnn.simulate(lif, memsnn.Current(jnp.full((1, 1), drive)), dt=dt, n_steps=30,
                            solver=memsnn.ExponentialEuler(), spike_timing="exact", record="spike_times")
    expected = -tau * np.log(1.0 - threshold / drive)
    first = float(trace.first_spike_times()[0, 0])
    assert abs(first - expected) < 0.05 * dt and abs(first - expected) > 0.0
