"""Spike functions: exact Heaviside forward, analytic surrogate derivative backward, clear errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn import spikes

X = jnp.linspace(-1.5, 1.5, 61)

# Closed forms, written independently of memsnn.spikes.
CLOSED_FORMS = {
    "fast_sigmoid": lambda x, k: 1.0 / (1.0 + k * np.abs(x)) ** 2,
    "arctan": lambda x, k: (k / 2) / (1.0 + (np.pi * k * x / 2) ** 2),
    "sigmoid": lambda x, k: k * np.exp(-k * x) / (1.0 + np.exp(-k * x)) ** 2,
    "triangular": lambda x, k: k * np.maximum(0.0, 1.0 - k * np.abs(x)),
    "straight_through": lambda x, k: np.where(np.abs(x) <= 0.5 / k, k, 0.0),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("slope", [0.5, 2.0, 25.0])
def test_forward_is_heaviside_and_gradient_is_the_surrogate(name, slope):
    fn = spikes.surrogate(name, slope)
    out = fn(X)
    np.testing.assert_array_equal(out, (np.asarray(X) >= 0).astype(float))
    assert out.dtype == X.dtype
    grad = jax.vmap(jax.grad(fn))(X)
    np.testing.assert_allclose(grad, CLOSED_FORMS[name](np.asarray(X), slope), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["fast_sigmoid", "arctan", "sigmoid", "triangular", "straight_through"])
def test_smooth_surrogates_have_unit_area_except_fast_sigmoid(name):
    fn = spikes.surrogate(name, 4.0)
    x = np.linspace(-200, 200, 2_000_001)
    area = np.trapezoid(np.asarray(fn.derivative(jnp.asarray(x))), x)
    # The fast sigmoid is snnTorch's: peak 1 at threshold, area 2 / slope.
    expected = 2 / 4.0 if name == "fast_sigmoid" else 1.0
    assert area == pytest.approx(expected, rel=2e-2)


def test_jvp_jit_vmap_and_chain_rule():
    fn = spikes.fast_sigmoid(10.0)
    f = jax.jit(lambda w, x: jnp.sum(fn(w * x - 1.0)))
    w, x = 0.9, jnp.array([0.5, 1.0, 2.0])
    g = jax.grad(f)(w, x)
    expected = np.sum(np.asarray(x) / (1 + 10 * np.abs(w * np.asarray(x) - 1)) ** 2)
    assert float(g) == pytest.approx(expected, rel=1e-12)
    _, tangent = jax.jvp(fn, (x - 1.0,), (jnp.ones(3),))
    np.testing.assert_allclose(tangent, 1 / (1 + 10 * np.abs(np.asarray(x) - 1)) ** 2)


def test_spike_functions_are_hashable_static_values():
    a, b = spikes.fast_sigmoid(25.0), spikes.fast_sigmoid(25)
    assert a == b and hash(a) == hash(b)
    assert a != spikes.fast_sigmoid(10.0) and a != spikes.arctan(25.0)
    assert jax.tree.leaves(a) == []  # nothing traced: a static field of a neuron

    @eqx.filter_jit
    def run(fn, x):
        return fn(x)

    run(a, X)
    run(b, X)
    assert run._cached._cache_size() == 1  # equal spike functions do not retrace


def test_defaults_match_snntorch_slopes():
    assert spikes.fast_sigmoid().slope == 25.0
    assert spikes.arctan().slope == 2.0
    assert spikes.sigmoid().slope == 25.0
    assert spikes.surrogate("superspike") == spikes.fast_sigmoid()
    assert spikes.surrogate("ATan", 3) == spikes.arctan(3.0)


@pytest.mark.parametrize("slope", [0, -1.0, math.nan, math.inf, "25", True])
def test_bad_slopes_are_rejected(slope):
    with pytest.raises(ValueError, match="slope must be a finite number > 0"):
        spikes.fast_sigmoid(slope)
    with pytest.raises(ValueError, match="slope must be a finite number > 0"):
        spikes.surrogate("arctan", slope)


def test_unknown_surrogate_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown spike function 'relu'; choose from .*fast_sigmoid"):
        spikes.surrogate("relu")
