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


def mif_run(solver, amplitude=0.02 * P.MILLIAMP, n_steps=N_STEPS, dt=DT):
    net = P.spiceprop_neuron_network(2)
    amp = jnp.asarray([[[amplitude, 0.5 * amplitude]], [[0.3 * amplitude, amplitude]]]).reshape(2, 1, 2)
    amp = jnp.concatenate([amp, 0.5 * amp], axis=1)
    stim = memsnn.Impulses(amp, steps=(0, 120))
    return np.asarray(memsnn.simulate(net, stim, dt=dt, n_steps=n_steps, solver=solver).membrane_potential[0])


@pytest.fixture(scope="module")
def exact():
    return mif_run(memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-11, atol=1e-15)))


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
    got = mif_run(memsnn.Diffrax(solver, diffrax.PIDController(rtol=1e-8, atol=1e-12)))
    assert rel_l2(got, exact) < 1e-6


def test_spiceprop_ordering_converges_to_same_solution(exact):
    # The reference ordering is a first-order scheme of the same ODE: refine its grid 4x and
    # compare on the coarse grid points.
    fine = mif_run(memsnn.SpicepropEuler(), n_steps=4 * N_STEPS, dt=DT / 4)
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

    g_full = jax.grad(loss)(1.0, None)
    g_ckpt = jax.grad(loss)(1.0, 16)
    np.testing.assert_allclose(g_full, g_ckpt, rtol=1e-12)


def test_trace_counts_solver_steps():
    net = P.spiceprop_neuron_network(2)
    stim = memsnn.Impulses(jnp.full((3, 3, 2), 0.01 * P.MILLIAMP), steps=(0, 50, 99))
    run = lambda solver: memsnn.simulate(net, stim, dt=DT, n_steps=100, solver=solver)  # noqa: E731
    fixed = run(memsnn.Euler(substeps=4))
    assert fixed.solver_steps.tolist() == [400] * 3 and fixed.rejected_steps.tolist() == [0] * 3
    assert run(memsnn.Diffrax(diffrax.Heun(), dt0=DT / 2)).solver_steps.tolist() == [200] * 3

    # Adaptive: the counts diffrax reports for the same stretches, solved directly: one between
    # consecutive arrivals of impulses (at the end of their steps): [0, dt), [dt, 51 dt),
    # [51 dt, 100 dt), each followed by a jump (the last one at the end of the run).
    controller = diffrax.PIDController(rtol=1e-8, atol=1e-12)
    trace = run(memsnn.Diffrax(diffrax.Tsit5(), controller))
    term = diffrax.ODETerm(lambda t, y, args: net.vector_field(t, y, None))
    state, accepted, rejected = net.init_state(), 0, 0
    for length in (1, 50, 49):
        sol = diffrax.diffeqsolve(term, diffrax.Tsit5(), 0.0, length * DT, DT, state, stepsize_controller=controller,
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
