"""Plasticity rules measured from simulations against closed forms (issue 13, figure 1).

Post-synaptic spikes are placed with a "teacher" input: input 1 of the plastic array carries a
charge far above threshold, so the LIF fires on the grid step the teacher arrives; input 0 is the
synapse under study (too weak to make the neuron fire). Each batch sample is an independent
network instance, so one simulate call measures a whole curve.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.plasticity import PairSTDP, RewardSTDP, TripletSTDP, VoltageSTDP, set_reward

DT = 1e-4  # s
TAU_M = 20e-3


def _layer(rule, w0=(0.1, 10.0), **array_options):
    """One LIF (threshold 1, R = tau: a charge q moves v by q) behind a 2-input plastic array."""
    array = PlasticDense(jnp.asarray([w0]), **array_options)
    return memsnn.Layer(array, None, memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=1.0, reset="zero"),
                        plasticity=rule)


def _trains(pre_steps, teacher_steps, n_steps):
    """``(batch, n_steps, 2)`` 0/1 impulses: input 0 at ``pre_steps[b]``, input 1 at ``teacher_steps[b]``."""
    amp = np.zeros((len(pre_steps), n_steps, 2))
    for b, (pre, post) in enumerate(zip(pre_steps, teacher_steps)):
        amp[b, np.atleast_1d(pre), 0] = 1.0
        amp[b, np.atleast_1d(post), 1] = 1.0
    return memsnn.Impulses(jnp.asarray(amp))


def _run(layer, stim, n_steps, dt=DT, initial_state=None):
    net = memsnn.Network([layer])
    return memsnn.simulate(net, stim, dt=dt, n_steps=n_steps, record="spikes", initial_state=initial_state)


def _dw(trace, w0=0.1):
    return np.asarray(trace.final_state[0].array[:, 0, 0]) - w0


def test_pair_window_measured_from_simulation():
    """Pre/post pairs at s = t_post - t_pre in -50..50 ms give A+ e^{-s/tau+} and -A- e^{s/tau-}
    (one pair: the same for both interactions, see the next test)."""
    a_plus, a_minus, tau_plus, tau_minus = 0.01, 0.012, 17e-3, 34e-3
    rule = PairSTDP(2, a_plus=a_plus, a_minus=a_minus, tau_plus=tau_plus, tau_minus=tau_minus)
    lags = np.arange(-50, 51, 5)  # ms
    lag_steps = np.round(lags * 1e-3 / DT).astype(int)
    start = 600
    trace = _run(_layer(rule), _trains(start - lag_steps, np.full(len(lags), start), 1300), 1300)
    # Exactly one post spike per sample, on the teacher's step.
    np.testing.assert_array_equal(np.asarray(trace.spikes[0]).sum(axis=(1, 2)), np.ones(len(lags)))
    dw = _dw(trace)
    s = lags * 1e-3
    # Closed form of the continuous rule; the Euler-decayed traces differ by ~k (dt/tau)^2 / 2 < 0.9 %.
    window = np.where(s >= 0, a_plus * np.exp(-s / tau_plus), -a_minus * np.exp(s / tau_minus))
    np.testing.assert_allclose(dw, window, rtol=1e-2)
    # Exactly the discrete (Euler) decay of the traces.
    k = np.abs(lag_steps)
    discrete = np.where(s >= 0, a_plus * (1 - DT / tau_plus) ** k, -a_minus * (1 - DT / tau_minus) ** k)
    np.testing.assert_allclose(dw, discrete, rtol=1e-9)


def test_nearest_and_all_to_all_differ_where_they_should():
    """Three pre spikes 10 ms apart, then one post 10 ms after the last: all-to-all sums the three
    pairs, nearest-neighbour counts only the last; a single pair is the same for both."""
    a_plus, tau = 0.01, 20e-3
    pre = [np.array([300, 400, 500]), np.array([500])]
    post = [600, 600]
    changes = {}
    for interaction in ("all", "nearest"):
        rule = PairSTDP(2, a_plus=a_plus, a_minus=0.0, tau_plus=tau, interaction=interaction)
        changes[interaction] = _dw(_run(_layer(rule), _trains(pre, post, 700), 700))
    decay = lambda k: (1 - DT / tau) ** k  # noqa: E731
    np.testing.assert_allclose(changes["all"][0], a_plus * (decay(100) + decay(200) + decay(300)), rtol=1e-9)
    np.testing.assert_allclose(changes["nearest"][0], a_plus * decay(100), rtol=1e-9)
    np.testing.assert_allclose(changes["all"][1], changes["nearest"][1], rtol=1e-12)
    assert changes["all"][0] > 1.5 * changes["nearest"][0]


def _batched_state(layer, batch, **slots):
    """The layer's initial state for ``batch`` instances, with ``slots`` replaced (batched values)."""
    state = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch,) + jnp.shape(x)), layer.init_state())
    return (state._replace(**slots),)


def test_soft_bounds_scale_the_change_with_the_distance_to_the_bound():
    w_max, w0 = 1.0, np.array([0.2, 0.7])
    rule = PairSTDP(2, a_plus=0.01, a_minus=0.0, tau_plus=20e-3, weight_dependence="multiplicative", w_max=w_max)
    layer = _layer(rule)
    weights = jnp.stack([jnp.asarray([[w, 10.0]]) for w in w0])
    state = _batched_state(layer, 2, array=weights)
    trace = _run(layer, _trains([100, 100], [100, 100], 200), 200, initial_state=state)
    np.testing.assert_allclose(_dw(trace, w0), 0.01 * (w_max - w0) / w_max, rtol=1e-9)


def _triplet_reference(rule: TripletSTDP, pre, post, n_steps, h):
    """Event-driven triplet rule on the grid, in the simulator's order: decay, pre events, post events."""
    d = {name: 1 - h / float(getattr(rule, name)) for name in ("tau_plus", "tau_x", "tau_minus", "tau_y")}
    r1 = r2 = o1 = o2 = 0.0
    w = 0.0
    pre, post = set(pre), set(post)
    for k in range(n_steps):
        r1, r2, o1, o2 = r1 * d["tau_plus"], r2 * d["tau_x"], o1 * d["tau_minus"], o2 * d["tau_y"]
        if k in pre:
            w -= o1 * (float(rule.a2_minus) + float(rule.a3_minus) * r2)
            r1, r2 = r1 + 1, r2 + 1
        if k in post:
            w += r1 * (float(rule.a2_plus) + float(rule.a3_plus) * o2)
            o1, o2 = o1 + 1, o2 + 1
    return w


def test_triplet_rule_reproduces_the_frequency_dependence_of_pairing():
    """Pairing protocol (Sjoestroem et al. 2001, Pfister & Gerstner 2006 Fig. 4): 15 pairs with
    s = +-10 ms at 1-50 Hz. Post-pre pairs depress at low frequency and potentiate at high
    frequency (the sign change); pre-post pairs potentiate more the higher the frequency."""
    h, n_pairs, lag = 5e-4, 15, 20  # 10 ms
    freqs = np.array([1.0, 5.0, 10.0, 20.0, 40.0, 50.0])
    n_steps = int(n_pairs / freqs.min() / h) + 50
    rule = TripletSTDP.pfister_gerstner(2, "minimal", "all")
    pre_trains, post_trains = [], []
    for sign in (+1, -1):
        for f in freqs:
            first = 50 + np.round(np.arange(n_pairs) / f / h).astype(int)
            pre_trains.append(first if sign > 0 else first + lag)
            post_trains.append(first + lag if sign > 0 else first)
    trace = _run(_layer(rule, w0=(0.0, 10.0)), _trains(pre_trains, post_trains, n_steps), n_steps, dt=h)
    dw = _dw(trace, 0.0) / n_pairs
    expected = np.array([_triplet_reference(rule, p, q, n_steps, h) for p, q in zip(pre_trains, post_trains)]) / n_pairs
    np.testing.assert_allclose(dw, expected, rtol=1e-6, atol=1e-12)
    pre_post, post_pre = dw[: len(freqs)], dw[len(freqs):]
    assert post_pre[0] < 0 < post_pre[-1], post_pre  # the sign change
    assert np.all(np.diff(pre_post) > 0) and pre_post[-1] > 2 * pre_post[0], pre_post


def test_full_triplet_model_adds_the_pre_triplet_depression():
    """Two pre spikes 5 ms apart after a post spike: the full model's a3_minus term deepens the
    second depression by a3_minus o1 r2."""
    minimal = TripletSTDP.pfister_gerstner(2, "minimal", "all")
    full = TripletSTDP.pfister_gerstner(2, "full", "all", a2_minus=float(minimal.a2_minus),
                                        tau_y=float(minimal.tau_y), a3_plus=float(minimal.a3_plus))
    pre, post = [np.array([200, 250])], [100]
    got = {name: _dw(_run(_layer(rule, w0=(0.5, 10.0)), _trains(pre, post, 300), 300), 0.5)[0]
           for name, rule in (("minimal", minimal), ("full", full))}
    o1_second = (1 - DT / float(full.tau_minus)) ** 150
    r2_second = (1 - DT / float(full.tau_x)) ** 50
    np.testing.assert_allclose(got["full"] - got["minimal"], -float(full.a3_minus) * o1_second * r2_second, rtol=1e-9)


def _poisson_layer(rule, n_in=20, seed=0, batch=2, n_steps=600):
    key_w, key_s = jax.random.split(jax.random.key(seed))
    w0 = jax.random.uniform(key_w, (3, n_in), minval=0.2, maxval=0.8)
    layer = memsnn.Layer(PlasticDense(w0, w_min=0.0, w_max=1.0), None,
                         memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=1.0, reset="zero"), plasticity=rule)
    spikes = jax.random.bernoulli(key_s, 0.05, (batch, n_steps, n_in)).astype(float)
    return layer, memsnn.Impulses(spikes), w0


@pytest.mark.parametrize("tau_eligibility", [None, 0.5])
def test_zero_reward_changes_nothing(tau_eligibility):
    """Two network instances on the same spike trains, rewarded 0 and 1 (set_reward on the initial state)."""
    layer, stim, w0 = _poisson_layer(RewardSTDP(20, tau_eligibility=tau_eligibility, learning_rate=0.05))
    stim = memsnn.Impulses(jnp.broadcast_to(stim.amplitude[:1], stim.amplitude.shape))
    state = set_reward(_batched_state(layer, 2), 0, jnp.asarray([0.0, 1.0]))
    trace = _run(layer, stim, 600, initial_state=state)
    assert np.asarray(trace.spikes[0][0]).sum() > 10  # there were pairs to learn from
    final = np.asarray(trace.final_state[0].array)
    np.testing.assert_array_equal(final[0], np.asarray(w0))
    assert np.max(np.abs(final[1] - np.asarray(w0))) > 1e-3  # the rewarded instance learned


def test_mstdp_is_reward_times_pair_stdp():
    """Florian's MSTDP with a constant reward r equals pair STDP with amplitudes scaled by gamma r."""
    gamma, r = 0.05, 0.5
    pair = PairSTDP(20, a_plus=gamma * r * 1.0, a_minus=gamma * r * 1.05)
    layer, stim, w0 = _poisson_layer(pair)
    expected = _run(layer, stim, 600).final_state[0].array
    assert np.max(np.abs(np.asarray(expected) - np.asarray(w0))) > 1e-3
    reward_layer = memsnn.Layer(layer.array, None, layer.neuron,
                                plasticity=RewardSTDP(20, learning_rate=gamma, initial_reward=r))
    np.testing.assert_allclose(_run(reward_layer, stim, 600).final_state[0].array, expected, rtol=1e-12, atol=1e-15)


def test_eligibility_trace_credits_a_delayed_reward():
    """MSTDPET: a pre-post pair, then (next run) a held reward r without spikes. The weight change
    is gamma r e0 sum_k h (1 - h/tau_e)^k, with e0 = a_plus (1 - h/tau_+)^10 from the pair."""
    gamma, r, tau_e, h = 2.0, 0.7, 0.1, DT
    rule = RewardSTDP(2, a_plus=1.0, a_minus=1.0, tau_plus=20e-3, learning_rate=gamma, tau_eligibility=tau_e)
    layer = _layer(rule, w0=(0.1, 10.0))
    first = _run(layer, _trains([90], [100], 101), 101)
    np.testing.assert_array_equal(np.asarray(first.final_state[0].array[:, 0, 0]), [0.1])  # no reward yet
    e0 = (1 - h / 20e-3) ** 10
    np.testing.assert_allclose(first.final_state[0].plasticity.eligibility[0, 0, 0], e0, rtol=1e-12)
    state = set_reward(first.final_state, 0, r)
    n = 101  # the same shapes as the first run: no new compilation
    second = _run(layer, memsnn.Impulses(jnp.zeros((1, n, 2))), n, initial_state=state)
    expected = gamma * r * e0 * h * np.sum((1 - h / tau_e) ** np.arange(n))
    np.testing.assert_allclose(np.asarray(second.final_state[0].array[0, 0, 0]) - 0.1, expected, rtol=1e-9)
    with pytest.raises(TypeError, match="no reward-modulated rule"):
        set_reward(_batched_state(_layer(PairSTDP(2)), 1), 0, 1.0)


def test_voltage_rule_depresses_only_above_theta_minus_and_potentiates_at_spikes():
    rest = -70.6e-3
    neuron = memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=20e-3, v_rest=rest, v_reset=rest, reset="zero")
    rule = VoltageSTDP(2, v_rest=rest)

    def run(w0, pre, post, n=600):
        layer = memsnn.Layer(PlasticDense(jnp.asarray([w0])), None, neuron, plasticity=rule)
        return _dw(_run(layer, _trains(pre, post, n), n), w0[0])

    # Input without effect on the membrane (weight 0): u_minus = theta_minus, no change at all.
    np.testing.assert_array_equal(run((0.0, 0.0), [np.array([100, 200])], [590]), [0.0])
    # Input after a depolarisation of 5 mV (the teacher is sub-threshold here): depression only.
    assert run((1e-3, 5e-3), [np.array([120])], [100])[0] < 0
    # Input just before a spike: the held spike potential meets the input trace: potentiation.
    assert run((1e-3, 1.0), [np.array([95])], [100])[0] > 0


def test_rules_check_their_array():
    with pytest.raises(ValueError, match="n_inputs must be a positive integer"):
        PairSTDP(0)
    with pytest.raises(ValueError, match="interaction must be one of"):
        TripletSTDP(3, interaction="nearest-neighbour")
    with pytest.raises(ValueError, match="built for n_inputs=3 but the layer's array has 2 inputs"):
        _run(_layer(PairSTDP(3)), _trains([1], [2], 3), 3)
    with pytest.raises(TypeError, match="must be plastic"):
        memsnn.Layer(memsnn.Dense(jnp.ones((1, 2))), None, memsnn.LIF(), plasticity=PairSTDP(2))


def test_the_same_rule_programs_crossbar_devices():
    """On a Crossbar of ideal devices the rule's changes are exact (the window of PlasticDense); on
    NeuroSim devices (31 levels) each change becomes whole pulses: a change below half a pulse is
    lost, a larger one moves the device."""
    from memsnn.crossbar import Crossbar
    from memsnn.crossbar import preset

    pre, post, n = [100, 100, 140], [120, 120, 120], 200  # s = +2, +2, -2 ms
    stim = _trains(pre, post, n)

    def final_weight(array, a_plus):
        rule = PairSTDP(2, a_plus=a_plus, a_minus=a_plus, tau_plus=20e-3, tau_minus=20e-3)
        layer = memsnn.Layer(array, None, memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=1.0, reset="zero"),
                             plasticity=rule)
        return np.asarray(jax.vmap(array.weights)(_run(layer, stim, n).final_state[0].array))[:, 0, 0]

    ideal_devices = Crossbar(jnp.asarray([[0.1, 10.0]]), **preset("ideal", w_max=10.0)._asdict())
    exact = _dw(_run(_layer(PairSTDP(2, a_plus=0.01, a_minus=0.01)), stim, n))
    np.testing.assert_allclose(final_weight(ideal_devices, 0.01) - 0.1, exact, rtol=1e-9, atol=1e-12)
    neurosim = Crossbar(jnp.asarray([[0.3, 1.0]]), **preset("neurosim", w_max=1.0)._asdict())
    start = float(neurosim.weights(neurosim.init_state(1))[0, 0])
    lif = memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=0.6, reset="zero")

    def on_devices(a_plus):
        rule = PairSTDP(2, a_plus=a_plus, a_minus=a_plus, tau_plus=20e-3, tau_minus=20e-3)
        trace = memsnn.simulate(memsnn.Network([memsnn.Layer(neurosim, None, lif, plasticity=rule)]), stim,
                                dt=DT, n_steps=n, key=jax.random.key(0))
        return np.asarray(jax.vmap(neurosim.weights)(trace.final_state[0].array))[:, 0, 0] - start

    np.testing.assert_allclose(on_devices(0.005), np.zeros(3), atol=1e-12)  # < half of a 1/30 pulse: lost
    moved = on_devices(0.2)
    assert moved[0] > 0.05 and moved[2] < -0.05, moved


# The triplet rule's updates agree to the last bit with XLA's default emitters (users' programs), not the suite's.
@pytest.mark.parametrize("rule_name", ["pair", pytest.param("triplet", marks=pytest.mark.default_emitters)])
@pytest.mark.parametrize("dependence", ["additive", "multiplicative"])
def test_an_update_of_the_spiking_columns_alone_equals_the_full_update(rule_name, dependence, monkeypatch):
    """A step without post-synaptic spikes changes only the columns of its pre-synaptic spikes
    (``updated_at_spikes``): the weights are bitwise those of the full update, also with a
    post-synaptic spike or more spiking inputs than the sparse budget (then the full update runs),
    on an ideal array and on a crossbar."""
    from memsnn.crossbar import Crossbar, preset
    from memsnn.plasticity import pair

    n, n_in = 5, 3 * pair.SPARSE_COLUMNS
    keys = jax.random.split(jax.random.key(3), 6)
    weight = jax.random.uniform(keys[0], (n, n_in), maxval=0.9)
    if rule_name == "pair":
        rule = PairSTDP(n_in, a_plus=0.3, a_minus=0.2, weight_dependence=dependence)
    else:
        rule = TripletSTDP(n_in, a2_plus=0.05, a3_plus=0.3, a2_minus=0.2, a3_minus=0.1, weight_dependence=dependence)
    # Traces far from rest (large changes: some weights clip at the bounds).
    state = rule.init_state(n)
    leaves, structure = jax.tree.flatten(state)
    state = jax.tree.unflatten(structure, [jax.random.uniform(k, x.shape, maxval=2.0)
                                           for x, k in zip(leaves, jax.random.split(keys[1], len(leaves)))])
    arrays = [PlasticDense(weight, w_min=0.0, w_max=1.0),
              Crossbar(weight, **preset("ideal", w_max=1.0)._asdict())]

    def after(array, pre, post):
        s = rule.on_presynaptic(state, array, array.init_state(n), pre.astype(float))[0]
        return rule.on_postsynaptic(s, array, array.init_state(n), post.astype(float), jnp.zeros(n))[1]

    few = jnp.zeros(n_in).at[jnp.asarray([0, 7, 8, n_in - 1])].set(1.0)
    many = (jax.random.uniform(keys[2], (n_in,)) < 0.7).astype(float)
    assert int(many.sum()) > pair.SPARSE_COLUMNS
    silent = jnp.zeros(n)
    cases = [(few, silent), (few, silent.at[2].set(1.0)), (many, silent), (jnp.zeros(n_in), silent)]
    for array in arrays:
        sparse = [jax.jit(lambda p, q: after(array, p, q))(pre, post) for pre, post in cases]
        with monkeypatch.context() as m:
            m.setattr(pair, "SPARSE_COLUMNS", n_in)  # every array takes the full update
            full = [jax.jit(lambda p, q: after(array, p, q))(pre, post) for pre, post in cases]
        for a, b in zip(sparse, full):
            np.testing.assert_array_equal(np.asarray(array.weights(a)), np.asarray(array.weights(b)))
        changed = np.asarray(array.weights(sparse[0]) != array.weights(array.init_state(n)))
        assert changed.any() and not changed[:, ~np.asarray(few, bool)].any()


def test_a_delayed_array_delivers_each_impulse_after_its_delay_with_the_weight_it_was_sent_with():
    """``DelayedPlastic``: input j sent at step s reaches neuron o at step s + floor(d_oj / dt) with
    the weight of the send step (Brian 1's DelayConnection), also after a weight change in flight;
    a step with more spiking inputs than ``chunk`` is delivered in full."""
    from memsnn.arrays import DelayedPlastic
    w = jnp.asarray([[0.5, 2.0, 1.0], [1.5, 0.25, 3.0]])
    steps = np.asarray([[3, 0, 1], [1, 4, 2]])
    array = DelayedPlastic(PlasticDense(w), steps * DT, dt=DT, chunk=2)
    assert array.delay_taps == 5
    np.testing.assert_array_equal(array.delay_steps, steps)
    state = array.init_state(2)
    inputs = {2: [1.0, 0.0, 0.0], 3: [0.0, 1.0, 0.0], 6: [1.0, 1.0, 1.0]}
    drives = []
    for k in range(12):
        drive, _, state = array.read(jnp.asarray(inputs.get(k, [0.0, 0.0, 0.0])), state)
        drives.append(np.asarray(drive))
        if k == 3:  # in flight: input 0's impulse to neuron 0, input 1's to neuron 1
            state = array.updated(state, jnp.ones_like(w))
    expected = np.zeros((12, 2))
    for k, x in inputs.items():
        weight = np.asarray(w) + (1.0 if k > 3 else 0.0)
        for o in range(2):
            for j in range(3):
                expected[k + steps[o, j], o] += weight[o, j] * x[j]
    np.testing.assert_allclose(np.asarray(drives), expected, rtol=0, atol=1e-6)
    # What is in flight is dropped by a rest; the weights stay.
    _, _, state = array.read(jnp.ones((3,)), array.rested(state))
    rested = array.rested(state)
    np.testing.assert_array_equal(rested.pending, 0.0)
    np.testing.assert_allclose(array.weights(rested), np.asarray(w) + 1.0, rtol=0, atol=1e-6)


@pytest.mark.parametrize("m", [0, 5, 20])
def test_triplet_rule_on_a_delayed_array_reads_its_traces_at_the_arrivals(m):
    """One pre/post pair 5 ms apart with the pre synapse delayed by ``m`` steps: potentiation
    ``a2+ exp(-(t_post - t_pre - m dt) / tau+)`` (the pre trace as it arrived) and depression
    ``-a2- exp(-(t_pre + m dt - t_post) / tau-)`` (the post trace at the arrival): the closed forms
    of Brian 1's STDP on a DelayConnection, not those of the undelayed pair (m > 0)."""
    from memsnn.arrays import DelayedPlastic
    a2_plus, a2_minus, tau_plus, tau_minus, taps = 0.01, 0.012, 17e-3, 34e-3, 21
    dw = {}
    for order, (pre, post) in {"pre-post": (100, 150), "post-pre": (150, 100)}.items():
        array = DelayedPlastic(PlasticDense(jnp.asarray([[0.1, 10.0]])), np.asarray([[m * DT, 0.0]]), dt=DT,
                               max_delay=(taps - 1) * DT)
        rule = TripletSTDP(2, a2_plus=a2_plus, a3_plus=0.0, a2_minus=a2_minus, a3_minus=0.0, tau_plus=tau_plus,
                           tau_minus=tau_minus, interaction="nearest", delay_taps=array.delay_taps)
        layer = memsnn.Layer(array, None, memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=1.0, reset="zero"),
                             plasticity=rule)
        trace = memsnn.simulate(memsnn.Network([layer]), _trains([pre], [post], 400), dt=DT, n_steps=400,
                                record="spikes", solver=memsnn.ExponentialEuler())
        np.testing.assert_array_equal(np.nonzero(np.asarray(trace.spikes[0][0, :, 0]))[0], [post])
        dw[order] = float(trace.final_state[0].array.array[0, 0, 0]) - 0.1
    np.testing.assert_allclose(dw["pre-post"], a2_plus * np.exp(-(50 - m) * DT / tau_plus), rtol=1e-5)
    np.testing.assert_allclose(dw["post-pre"], -a2_minus * np.exp(-(50 + m) * DT / tau_minus), rtol=1e-5)


def test_rules_refuse_a_delayed_array_they_do_not_read():
    from memsnn.arrays import DelayedPlastic
    array = DelayedPlastic(PlasticDense(jnp.asarray([[0.1, 10.0]])), np.asarray([[3 * DT, 0.0]]), dt=DT)
    stim = _trains([10], [20], 40)
    for rule, message in ((PairSTDP(2), "does not read"), (TripletSTDP(2), "delay_taps=0 steps"),
                          (TripletSTDP(2, delay_taps=7), "delay_taps=7 steps")):
        layer = memsnn.Layer(array, None, memsnn.LIF(tau=TAU_M, resistance=TAU_M, threshold=1.0, reset="zero"),
                             plasticity=rule)
        with pytest.raises(ValueError, match=message):
            _run(layer, stim, 40)
    with pytest.raises(ValueError, match="one per connection"):
        DelayedPlastic(PlasticDense(jnp.ones((1, 2))), np.zeros((2,)), dt=DT)
    with pytest.raises(ValueError, match=">= 0 seconds"):
        DelayedPlastic(PlasticDense(jnp.ones((1, 2))), -np.ones((1, 2)), dt=DT)
