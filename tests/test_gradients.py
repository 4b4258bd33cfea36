"""jax.grad through simulate agrees with central finite differences (float64)."""

import functools

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn import presets as P

DT = P.SPICEPROP_DT
N_STEPS = 250

SOLVERS = {
    "euler": memsnn.Euler(),
    "spiceprop": memsnn.SpicepropEuler(),
    "tsit5": memsnn.Diffrax(diffrax.Tsit5()),
}


def network():
    weight = jnp.asarray([[1.0, 0.4, -0.2], [0.3, 0.8, 0.5]]) * 0.01 * P.MILLIAMP
    return memsnn.Network([P.spiceprop_layer(weight=weight)])


STIM = memsnn.Impulses(jnp.asarray([[[1.0, 0.5, 0.2], [0.3, 1.0, 0.7]], [[0.6, 0.2, 1.0], [1.0, 1.0, 0.0]]]),
                       steps=(0, 100))

# Every device parameter of the MIF (both memristors) and the synapse time constant.
PARAMETERS = {
    "R_on": lambda n: n.layers[0].neuron.memristor1.R_on,
    "R_off": lambda n: n.layers[0].neuron.memristor1.R_off,
    "V_on": lambda n: n.layers[0].neuron.memristor1.V_on,
    "V_off": lambda n: n.layers[0].neuron.memristor1.V_off,
    "V_T": lambda n: n.layers[0].neuron.memristor1.V_T,
    "tau": lambda n: n.layers[0].neuron.memristor1.tau,
    "R_on_2": lambda n: n.layers[0].neuron.memristor2.R_on,
    "R_off_2": lambda n: n.layers[0].neuron.memristor2.R_off,
    "C": lambda n: n.layers[0].neuron.capacitance,
    "E2": lambda n: n.layers[0].neuron.E2,
    "tau_a": lambda n: n.layers[0].synapse.tau_a,
}


def loss(net, solver):
    v = memsnn.simulate(net, STIM, dt=DT, n_steps=N_STEPS, solver=solver).membrane_potential[0]
    # Something like the SPICEprop loss: log-softmax over neurons of v in mV, summed over time.
    return -jnp.sum(jax.nn.log_softmax(v / P.MILLIVOLT, axis=-1)[..., 0])


@functools.cache
def loss_and_grad(solver_name):
    """The loss and its gradient with respect to the whole network as one compiled program per solver:
    the gradient and every finite-difference evaluation of the loss run it (one compile, not a
    forward and a backward program apart)."""
    solver = SOLVERS[solver_name]
    return eqx.filter_jit(eqx.filter_value_and_grad(lambda n: loss(n, solver)))


@functools.cache
def gradient(solver_name):
    """The gradient of the loss with respect to the whole network (computed once per solver: the
    weight and device-parameter tests read the same one)."""
    return loss_and_grad(solver_name)(network())[1]


def central_difference(f, x, rel=1e-5):
    h = rel * max(abs(x), 1e-12)
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("solver_name", list(SOLVERS))
def test_grad_wrt_weights(solver_name):
    net = network()
    g = np.asarray(gradient(solver_name).layers[0].array.weight)
    w0 = np.asarray(net.layers[0].array.weight)
    for idx in [(0, 0), (1, 2), (0, 1)]:
        def f(value, idx=idx):
            w = jnp.asarray(w0).at[idx].set(value)
            return float(loss_and_grad(solver_name)(eqx.tree_at(lambda n: n.layers[0].array.weight, net, w))[0])
        fd = central_difference(f, float(w0[idx]))
        np.testing.assert_allclose(g[idx], fd, rtol=1e-5)


# Euler only: the Tsit5 path of the same gradient is test_grad_wrt_weights[tsit5] (25 s saved).
@pytest.mark.parametrize("solver_name", ["euler"])
def test_grad_wrt_device_parameters(solver_name):
    net = network()
    grads = gradient(solver_name)
    for name, where in PARAMETERS.items():
        value = float(where(net))

        def f(p, where=where):
            # float64 like the network's own leaves (not a weakly typed array): every parameter's
            # evaluations share one compiled simulation instead of compiling one each.
            return float(loss_and_grad(solver_name)(eqx.tree_at(where, net, jnp.asarray(p, where(net).dtype)))[0])

        fd = central_difference(f, value)
        g = float(where(grads))
        scale = abs(fd) + 1e-9 * abs(f(value)) / abs(value)
        assert abs(g - fd) <= 1e-5 * scale, (name, g, fd)
        assert g != 0.0 or name.endswith("_2"), name


def test_grad_through_adaptive_solve():
    solver = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-10, atol=1e-14))
    net = network()
    # One compiled program gives the gradient and the loss at the shifted weights.
    value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(lambda n: loss(n, solver)))
    g = float(value_and_grad(net)[1].layers[0].array.weight[0, 1])
    w0 = np.asarray(net.layers[0].array.weight)

    def f(value):
        w = jnp.asarray(w0).at[0, 1].set(value)
        return float(value_and_grad(eqx.tree_at(lambda n: n.layers[0].array.weight, net, w))[0])

    # Adaptive step selection is not differentiated (step sizes are treated as constants), so the
    # match is to the solver tolerance, not to rounding.
    np.testing.assert_allclose(g, central_difference(f, float(w0[0, 1]), rel=1e-4), rtol=1e-4)
