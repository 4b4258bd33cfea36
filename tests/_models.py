"""Tiny models shared by the training-loop tests, and the loader of a benchmark script (not a test module)."""

import importlib.util
from pathlib import Path

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


def softmax_loss(model, x, y, *, key=None, throw=True):
    """Cross-entropy and predictions of :class:`Softmax` (the loss protocol of ``GradientLearner``;
    nothing is simulated, so ``key`` and ``throw`` have no effect)."""
    logits = x @ model.weight.T + model.bias
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)
    return jnp.mean(nll), jnp.argmax(logits, axis=1)


def softmax_predict(model, x, *, key=None, throw=True):
    return jnp.argmax(x @ model.weight.T + model.bias, axis=1)


def load_benchmark(name: str):
    """``benchmarks/NAME.py`` as a module (the benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"memsnn_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
