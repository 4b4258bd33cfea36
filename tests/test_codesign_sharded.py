"""Co-design sweeps and Monte-Carlo sharded over devices: 4 simulated CPU devices give the numbers
of one device, for sweep lengths that do not divide 4 (padded, the padding dropped).

The 4-device run is a subprocess (the device count is fixed when JAX starts); the one-device
reference runs here. Tiny readout (3 MIF neurons, 40 plain-Euler steps, float64).
"""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.studies import codesign
from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop

from test_sharding import HERE, _cpu_env, _last_json  # noqa: E402  (tests/ is on sys.path)

TINY = dict(n_inputs=6, hidden=(), n_classes=3, n_steps=40, event_steps=(0, 20), dtype="float64", solver="euler",
            checkpoint_every=None, unroll=1)  # unroll=1: the step compiled once per loop body, not 5 times
# 5 settings on 4 devices: 3 padded. One device per neuron (5, 3), the shape of the Monte-Carlo
# draws below, so both share one compilation. Setting 1 has an unstable neuron (3e-11 F): marked, not fatal.
SETTINGS = {"neuron.capacitance": np.array([[1e-9] * 3, [1e-9, 3e-11, 1e-9], [2e-9] * 3, [1e-9, 2e-9, 5e-9], [5e-9] * 3]),
            "neuron.memristor2.R_off": np.array([[1e5] * 3, [1e5] * 3, [1e6, 1e5, 1e6], [3e4] * 3, [2e5] * 3])}


def experiment(devices=None) -> dict:
    """A sweep of 5 settings and a Monte-Carlo of 5 samples on ``devices``, as JSON-able lists."""
    model = build_spiceprop(SpicepropConfig(**TINY), key=jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (4, 6)))
    drive, labels = model.drive(x), jnp.array([0, 2, 1, 2])
    swept = codesign.sweep(model, drive, labels, SETTINGS, devices=devices)
    mc = codesign.monte_carlo(model, drive, labels, key=jax.random.key(3), n_samples=5, devices=devices,
                              sigma={"neuron.capacitance": 0.1, "neuron.memristor2.R_off": 0.3})
    return {"sweep": {k: np.asarray(v).tolist() for k, v in swept.items()},
            "monte_carlo": {k: np.asarray(v).tolist() for k, v in mc.items()}}


_FOUR_DEVICES = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, sys.argv[1])
import test_codesign_sharded as t
assert len(jax.devices()) == 4
print(json.dumps(t.experiment()))
"""


def test_sweep_and_monte_carlo_on_four_devices_give_the_numbers_of_one():
    proc = subprocess.run([sys.executable, "-c", _FOUR_DEVICES, HERE], capture_output=True, text=True,
                          env=_cpu_env(xla_flags="--xla_force_host_platform_device_count=4"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    four = _last_json(proc.stdout)
    one = experiment(devices=jax.devices("cpu")[:1])
    for name in ("sweep", "monte_carlo"):
        assert set(four[name]) == set(one[name]) == {"loss", "accuracy", "energy", "dissipated", "ok"}
        for k in one[name]:
            assert len(four[name][k]) == 5, (name, k)  # every point, no padding left
            a, b = np.asarray(four[name][k]), np.asarray(one[name][k])
            ok = np.asarray(one[name]["ok"])
            np.testing.assert_allclose(a[ok], b[ok], rtol=1e-6, atol=0, err_msg=f"{name}.{k}")
        assert four[name]["ok"] == one[name]["ok"]
    assert one["sweep"]["ok"] == [True, False, True, True, True]
    assert np.ptp(one["monte_carlo"]["energy"]) > 0  # the samples differ: the draws reach the devices
    # The settings stay sharded through the time loop: nothing gathered onto one device mid-run.
    assert "Involuntary full rematerialization" not in proc.stderr


def test_what_cannot_be_swept_is_named():
    model = build_spiceprop(SpicepropConfig(**TINY), key=jax.random.key(0))
    drive, labels = jnp.zeros((1, 3)), jnp.zeros(1, jnp.int32)
    with pytest.raises(ValueError, match="no settings to run"):
        codesign.sweep(model, drive, labels, {"neuron.capacitance": []})
    with pytest.raises(ValueError, match="the Python loop \\(vectorize=False\\) runs on the default device"):
        codesign.sweep(model, drive, labels, SETTINGS, vectorize=False, devices=jax.devices()[:1])
    with pytest.raises(ValueError, match="need n_samples >= 1"):
        codesign.monte_carlo(model, drive, labels, key=jax.random.key(0), n_samples=0, sigma={"neuron.E2": 0.1})
