"""Tiny models shared by the training-loop tests (not a test module)."""

import equinox as eqx
import jax
import jax.numpy as jnp


class Softmax(eqx.Module):
    """A linear softmax classifier: the smallest model that exercises the loop and checkpoints."""

    weight: jax.Array
    bias: jax.Array

    def __init__(self, n_in, n_out, key):
        self.weight = 0.1 * jax.random.normal(key, (n_out, n_in))
        self.bias = jnp.zeros(n_out)
