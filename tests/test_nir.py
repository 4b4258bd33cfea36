"""NIR export and import (memsnn.export.to_nir / from_nir): round trips and snnTorch reading the graph."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import Conv2d, Dense, Identity

nir = pytest.importorskip("nir")
from memsnn.export import from_nir, to_nir  # noqa: E402

RECORD = ("spikes", "membrane_potential")


def _run(network, stimulus, dt, n_steps):
    return memsnn.simulate(network, stimulus, dt=dt, n_steps=n_steps, record=RECORD)


def _assert_same_run(ours, theirs):
    for a, b in zip(ours.spikes, theirs.spikes):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ours.membrane_potential, theirs.membrane_potential):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def _through_file(graph, tmp_path):
    # nir.write / nir.read (HDF5) as a user would save and share the graph.
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    return nir.read(path)


def _dense_network():
    """Two LIF layers in SI units (tau 20 ms, v_rest -65 mV, reset to -70 mV), per-neuron tau, and a
    current-based third layer (ExponentialSynapse: NIR's CubaLIF)."""
    k1, k2, k3, k4 = jax.random.split(jax.random.key(3), 4)
    tau = jax.random.uniform(k4, (16,), minval=10e-3, maxval=30e-3)
    hidden = memsnn.LIF(tau=tau, resistance=5e7, threshold=15e-3, v_rest=-65e-3, v_reset=-70e-3, reset="zero")
    return memsnn.Network([
        memsnn.Layer(Dense.uniform(10, 16, key=k1, scale=2e-9, use_bias=True), None, hidden),
        memsnn.Layer(Dense.uniform(16, 8, key=k2, scale=4e-10), None,
                     memsnn.LIF(tau=20e-3, resistance=5e7, threshold=5e-3, v_rest=-65e-3, v_reset=-65e-3,
                                reset="zero")),
        memsnn.Layer(Dense.uniform(8, 4, key=k3, scale=4e-8), memsnn.ExponentialSynapse(tau_s=5e-3),
                     memsnn.LIF(tau=10e-3, resistance=1e7, threshold=2e-3, reset="zero")),
    ])


def test_dense_round_trip_gives_identical_spikes(tmp_path):
    network, dt, n_steps = _dense_network(), 1e-3, 60
    rng = np.random.default_rng(0)
    # Spike trains as impulses into the first layer (a charge per spike, C).
    stimulus = memsnn.Impulses(jnp.asarray((rng.random((4, n_steps, 10)) < 0.3).astype(np.float64)))
    graph = to_nir(network, dt=dt, stimulus="impulses")
    assert [type(n).__name__ for n in graph.nodes.values()] == [
        "Input", "Affine", "LIF", "Linear", "LIF", "Linear", "CubaLIF", "Output"]
    back = from_nir(_through_file(graph, tmp_path), dt=dt, stimulus="impulses")
    ours, theirs = _run(network, stimulus, dt, n_steps), _run(back, stimulus, dt, n_steps)
    _assert_same_run(ours, theirs)
    for spikes in ours.spikes:  # every layer fires, but not at every step
        assert 0.02 < float(spikes.mean()) < 0.6


def test_conv_round_trip_gives_identical_spikes(tmp_path):
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    c1 = Conv2d.uniform((2, 14, 14), 4, 3, key=k1, pool=2, scale=3.0)  # VALID: 12x12 -> pooled 6x6
    c2 = Conv2d.uniform(c1.out_shape, 5, 3, key=k2, pool=2, scale=4.0, padding="SAME")  # 6x6 -> 3x3
    readout = Dense.uniform(c2.n_outputs, 3, key=k3, use_bias=True, scale=3.0)

    def lif(reset="zero", threshold=1.0):
        return memsnn.LIF(tau=5.0, resistance=5.0, threshold=threshold, reset=reset)

    never = float(np.finfo(np.float64).max)  # the surrogate training's integrator readout
    network = memsnn.Network([memsnn.Layer(c1, None, lif()), memsnn.Layer(c2, None, lif()),
                              memsnn.Layer(readout, None, lif("none", never))])
    graph = to_nir(network, dt=1.0)
    assert list(graph.nodes) == ["input", "0.conv", "0.pool", "0.neuron", "1.conv", "1.pool", "1.neuron",
                                 "2.flatten", "2.linear", "2.neuron", "output"]
    assert isinstance(graph.nodes["2.neuron"], nir.LI)
    assert graph.nodes["1.conv"].padding == (1, 1)
    back = from_nir(_through_file(graph, tmp_path), dt=1.0)
    stimulus = memsnn.Current(jnp.asarray(np.random.default_rng(1).random((3, c1.n_inputs)) * 2))
    ours, theirs = _run(network, stimulus, 1.0, 8), _run(back, stimulus, 1.0, 8)
    _assert_same_run(ours, theirs)
    assert 0.02 < float(ours.spikes[0].mean()) < 0.6 and float(ours.spikes[1].mean()) > 0.01
    assert float(ours.spikes[2].max()) == 0.0


def test_graph_values_follow_the_unit_conventions():
    """LIF tau = 20 ms, R = 50 MOhm, dt = 1 ms: a spike-driven layer has r = R / dt; a current-driven
    one r = R; nir_dt rescales tau and keeps beta = 1 - dt / tau; IF has r = 1 / C (per dt)."""
    lif = memsnn.LIF(tau=20e-3, resistance=5e7, threshold=10e-3, v_rest=-65e-3, v_reset=-70e-3, reset="zero")
    network = memsnn.Network([memsnn.Layer(Identity(3, gain=2.0), None, lif),
                              memsnn.Layer(Dense(np.eye(3)), None, memsnn.IF(capacitance=1e-9, threshold=0.1,
                                                                             reset="zero"))])
    current = to_nir(network, dt=1e-3)
    node = current.nodes["0.neuron"]
    np.testing.assert_allclose(node.tau, [20e-3] * 3)
    np.testing.assert_allclose(node.r, [5e7] * 3)
    np.testing.assert_allclose(node.v_threshold, [-55e-3] * 3)  # absolute: v_rest + threshold
    np.testing.assert_allclose(node.v_leak, [-65e-3] * 3)
    np.testing.assert_allclose(node.v_reset, [-70e-3] * 3)
    np.testing.assert_allclose(current.nodes["0.scale"].scale, [2.0] * 3)
    np.testing.assert_allclose(current.nodes["1.neuron"].r, [1e9 / 1e-3] * 3)  # 1 / (C dt)
    impulses = to_nir(network, dt=1e-3, nir_dt=1e-4, stimulus="impulses")
    np.testing.assert_allclose(impulses.nodes["0.neuron"].r, [5e10] * 3)  # R / dt
    np.testing.assert_allclose(impulses.nodes["0.neuron"].tau, [2e-3] * 3)
    np.testing.assert_allclose(1 - 1e-4 / impulses.nodes["0.neuron"].tau, 1 - 1e-3 / 20e-3)
    assert impulses.metadata == {"dt": 1e-4}
    back = from_nir(impulses, dt=1e-3, nir_dt=1e-4, stimulus="impulses")
    assert isinstance(back.layers[0].array, Identity) and float(back.layers[0].array.gain) == 2.0
    np.testing.assert_allclose(back.layers[0].neuron.tau, 20e-3)
    np.testing.assert_allclose(back.layers[0].neuron.resistance, 5e7)
    np.testing.assert_allclose(back.layers[1].neuron.capacitance, 1e-9)


def _lif(reset="zero", **kw):
    return memsnn.LIF(tau=5.0, resistance=5.0, threshold=1.0, reset=reset, **kw)


@pytest.mark.parametrize("layer, message", [
    (memsnn.Layer(Dense(np.ones((2, 2))), None, _lif("subtract")), "reset='subtract'"),
    (memsnn.Layer(Dense(np.ones((2, 2))), None, _lif("none")), "fires without a reset"),
    (memsnn.Layer(Dense(np.ones((2, 2))), memsnn.AlphaSynapse(1e-3), _lif()), "AlphaSynapse"),
    (memsnn.Layer(Dense(np.ones((2, 2))), None, memsnn.MIF()), "MIF"),
])
def test_what_nir_cannot_express_is_refused(layer, message):
    with pytest.raises((ValueError, TypeError), match=message):
        to_nir(memsnn.Network([layer]), dt=1.0, stimulus="impulses")


def test_graphs_memsnn_cannot_read_are_refused():
    lif = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    branch = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "a": nir.Linear(weight=np.eye(2)), "b": lif,
                                 "c": nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                                              v_threshold=np.ones(2), v_reset=np.zeros(2)),
                                 "output": nir.Output(np.array([2]))},
                          edges=[("input", "a"), ("a", "b"), ("a", "c"), ("b", "output")], metadata={})
    with pytest.raises(ValueError, match="feeds"):
        from_nir(branch, dt=1.0)
    delay = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "d": nir.Delay(delay=np.ones(2)), "b": lif,
                                "output": nir.Output(np.array([2]))},
                         edges=[("input", "d"), ("d", "b"), ("b", "output")], metadata={})
    with pytest.raises(TypeError, match="Delay"):
        from_nir(delay, dt=1.0)
    with pytest.raises(ValueError, match="positive time step"):
        to_nir(memsnn.Network([memsnn.Layer(Dense(np.eye(2)), None, _lif())]), dt=0.0)


# --------------------------------------------------------------------------------------------
# snnTorch (optional extra memsnn[snntorch]) reads the exported graph with its own NIR importer.


@pytest.mark.parametrize("architecture", ["dense", "conv"])
def test_snntorch_reads_an_exported_surrogate_network_with_the_same_spikes(architecture, tmp_path):
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch import utils as snn_utils
    from snntorch.import_nir import import_from_nir

    from memsnn.training.surrogate import build_surrogate

    n_steps = 12
    if architecture == "dense":
        config = dict(architecture="dense", image_shape=(1, 4, 4), hidden=(24,), n_classes=5)
    else:
        config = dict(architecture="conv", image_shape=(1, 14, 14), conv_channels=(4, 6), kernel_size=3, pool=2,
                      n_classes=5)
    # snnTorch's importer resets to zero (NIR's LIF) and runs in float32.
    model = build_surrogate(dict(config, beta=0.85, threshold=1.0, reset="zero", n_steps=n_steps, dtype="float32",
                                 loss="ce_count", unroll=1), key=jax.random.key(0))
    scale = 3.0 if architecture == "dense" else 4.0  # trained-like: every layer fires
    model = eqx.tree_at(lambda m: m.arrays, model, tuple(
        eqx.tree_at(lambda a: a.weight, a, a.weight * scale) for a in model.arrays))
    images = np.random.default_rng(2).random((4, model.config.n_inputs)).astype(np.float32)
    ours, our_membranes = model.run(jnp.asarray(images))

    # snnTorch 1.0 reads NIR with a fixed step of 1e-4 s; memsnn's surrogate networks run with dt = 1.
    graph = _through_file(to_nir(model.network(), dt=1.0, nir_dt=1e-4), tmp_path)
    net = import_from_nir(graph)
    recorded, membranes = {}, {}

    def record(module, inputs, out, name):
        recorded.setdefault(name, []).append(out.detach().reshape(-1))
        membranes.setdefault(name, []).append(module.mem.detach().reshape(-1).clone())  # after the reset

    for name, module in net.named_modules():
        if isinstance(module, snn.Leaky):
            module.register_forward_hook(lambda mod, inputs, out, name=name: record(mod, inputs, out, name))
    with torch.no_grad():
        for image in images:  # NIR shapes have no batch axis: one unbatched sample at a time
            snn_utils.reset(net)
            x = torch.from_numpy(image.reshape(model.config.image_shape if architecture == "conv" else -1))
            for _ in range(n_steps):
                net(x)
    theirs = [torch.stack(v).reshape(len(images), n_steps, -1).numpy() for v in recorded.values()]
    their_membranes = [torch.stack(v).reshape(len(images), n_steps, -1).numpy() for v in membranes.values()]
    assert len(theirs) == len(ours)
    for ours_v, theirs_v in zip(our_membranes, their_membranes):  # float32 on both sides
        np.testing.assert_allclose(np.asarray(ours_v), theirs_v, rtol=0, atol=1e-5)
    for layer, (a, b) in enumerate(zip(ours, theirs)):
        a = np.asarray(a)
        assert a.shape == b.shape
        mismatches = int(np.sum(a != b))
        assert mismatches == 0, f"layer {layer}: {mismatches} of {a.size} spikes differ"
        assert 0.01 < float(a.mean()) < 0.7, f"layer {layer} fires at rate {float(a.mean())}"
