"""memsnn's LIF with ``reset_delay=True`` computes what snnTorch's ``Leaky`` computes (optional extra)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.training.surrogate import build_surrogate, surrogate_loss, surrogate_trainable

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
from snntorch import surrogate as snn_surrogate  # noqa: E402

N_IN, N_HIDDEN, N_OUT, STEPS, SLOPE = 12, 20, 4, 9, 5.0
BETA = float(np.float32(0.8))  # snnTorch keeps beta as a float32 tensor, also in a float64 network


def test_membrane_traces_spikes_and_gradients_match_snntorch():
    model = build_surrogate(dict(image_shape=(1, 3, 4), hidden=(N_HIDDEN,), n_classes=N_OUT, n_steps=STEPS,
                                 beta=BETA, slope=SLOPE, reset_delay=True, detach_reset=True, dtype="float64",
                                 loss="ce_membrane", unroll=1), key=jax.random.key(0))
    model = eqx.tree_at(lambda m: m.arrays[0].weight, model, model.arrays[0].weight * 3)
    images = np.random.default_rng(0).random((5, N_IN))
    labels = np.array([0, 1, 2, 3, 0])

    fc1, fc2 = torch.nn.Linear(N_IN, N_HIDDEN).double(), torch.nn.Linear(N_HIDDEN, N_OUT).double()
    with torch.no_grad():
        for fc, array in ((fc1, model.arrays[0]), (fc2, model.arrays[1])):
            fc.weight.copy_(torch.tensor(np.array(array.weight)))
            fc.bias.copy_(torch.tensor(np.array(array.bias)))
    lif1 = snn.Leaky(beta=BETA, spike_grad=snn_surrogate.fast_sigmoid(slope=SLOPE))
    lif2 = snn.Leaky(beta=BETA, spike_grad=snn_surrogate.fast_sigmoid(slope=SLOPE))
    x = torch.tensor(images)
    mem1, mem2 = lif1.init_leaky(), lif2.init_leaky()
    recs = {"spk1": [], "mem1": [], "spk2": [], "mem2": []}
    for _ in range(STEPS):
        spk1, mem1 = lif1(fc1(x), mem1)
        spk2, mem2 = lif2(fc2(spk1.double()), mem2)  # snnTorch spikes are float32 0/1
        for name, value in (("spk1", spk1), ("mem1", mem1), ("spk2", spk2), ("mem2", mem2)):
            recs[name].append(value)
    theirs = {k: torch.stack(v, dim=1) for k, v in recs.items()}
    loss = sum(torch.nn.functional.cross_entropy(theirs["mem2"][:, k], torch.tensor(labels)) for k in range(STEPS))
    loss.backward()

    spikes, membranes = model.run(jnp.asarray(images))
    np.testing.assert_allclose(membranes[0], theirs["mem1"].detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(membranes[1], theirs["mem2"].detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(spikes[0], theirs["spk1"].detach().numpy())
    assert 0 < float(spikes[0].mean()) < 1

    params, static = eqx.partition(model, surrogate_trainable(model))
    ours_loss, _ = surrogate_loss(model, jnp.asarray(images), jnp.asarray(labels))
    grads = jax.grad(lambda p: surrogate_loss(eqx.combine(p, static), jnp.asarray(images), jnp.asarray(labels))[0])(params)
    assert float(ours_loss) == pytest.approx(float(loss), rel=1e-12)
    # snnTorch's spikes are float32, so its gradient through them is float32-accurate only.
    np.testing.assert_allclose(grads.arrays[0].weight, fc1.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads.arrays[1].weight, fc2.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
