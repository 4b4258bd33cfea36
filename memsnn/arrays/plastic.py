"""The ideal plastic array: a weight matrix held as state, for learning inside the simulation."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._base import AbstractProgrammableArray


class PlasticDense(AbstractProgrammableArray):
    """``y = W x`` where ``W`` ``(n_out, n_in)`` is the slot's state, changed by a plasticity rule.

    The ideal counterpart of a memristive crossbar: a requested change ``delta`` is added exactly,
    then held inside the hard bounds ``[w_min, w_max]`` (the bounds of additive STDP; soft bounds
    are the rule's business, through the weight dependence of the change it asks for).

    Between simulations it holds ``initial_weight`` (:class:`~memsnn.arrays.AbstractProgrammableArray`):
    a gradient rule's step is added to it the same way, so a model trained on it is the ideal
    reference of the same model on a :class:`~memsnn.crossbar.ProgrammedCrossbar`.

    Attributes:
        initial_weight: ``(n_out, n_in)`` weights at t = 0 (A per unit of input activity); the
            state of every sample starts from it (and gradients reach it through the run).
        w_min, w_max: hard bounds of the weights (``None``: unbounded on that side).
    """

    initial_weight: Float[Array, "n_out n_in"]
    w_min: float | None = eqx.field(static=True)
    w_max: float | None = eqx.field(static=True)

    def __init__(self, initial_weight, *, w_min: float | None = None, w_max: float | None = None):
        weight = jnp.asarray(initial_weight, dtype=float)
        if weight.ndim != 2:
            raise ValueError(f"PlasticDense: initial_weight must be 2-D (n_out, n_in), got shape {weight.shape}.")
        if w_min is not None and w_max is not None and not w_min < w_max:
            raise ValueError(f"PlasticDense: need w_min < w_max, got w_min={w_min}, w_max={w_max}.")
        self.initial_weight = weight
        self.w_min = None if w_min is None else float(w_min)
        self.w_max = None if w_max is None else float(w_max)

    @property
    def n_inputs(self) -> int:
        return self.initial_weight.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.initial_weight.shape[0]

    def init_state(self, n, *, key=None):
        if n != self.n_outputs:
            raise ValueError(f"PlasticDense: a layer of {n} neurons cannot use an array with {self.n_outputs} outputs.")
        return self.initial_weight

    def __call__(self, presynaptic, state=None, *, key=None):
        weight = self.initial_weight if state is None else state
        return weight @ presynaptic

    def weights(self, state):
        return state

    def updated(self, state, delta, *, key=None):
        weight = state + delta
        # maximum/minimum rather than jnp.clip: XLA's CPU loop for clip was ~25 % slower on the
        # (n_out, n_in) update that a learning simulation does at every step.
        if self.w_min is not None:
            weight = jnp.maximum(weight, self.w_min)
        if self.w_max is not None:
            weight = jnp.minimum(weight, self.w_max)
        return weight

    @property
    def held_state(self):
        return self.initial_weight

    def starting_from(self, state):
        return eqx.tree_at(lambda a: a.initial_weight, self, state)

    def updated_columns(self, state, columns, delta, *, key=None):
        # Only the k columns are read and written (in place inside a time loop), with the same
        # arithmetic as updated: the same weights, bit for bit.
        columns = jnp.asarray(columns)
        weight = state.at[:, columns].get(mode="fill", fill_value=0) + delta
        if self.w_min is not None:
            weight = jnp.maximum(weight, self.w_min)
        if self.w_max is not None:
            weight = jnp.minimum(weight, self.w_max)
        return state.at[:, columns].set(weight, mode="drop")
