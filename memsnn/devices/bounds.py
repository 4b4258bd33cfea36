"""Device parameters in their physical ranges: a smooth bijection from unconstrained coordinates.

Training a device parameter ``p`` directly (or as ``p0 exp(s)``) lets the optimiser move it
anywhere: a negative capacitance, an on resistance above the off resistance, a 1 ns memristor that
no explicit step can follow. Clipping after the step would stop the gradient at the bound and hide
where the optimiser wanted to go. Instead each bounded parameter is a smooth, monotone function of
an unconstrained coordinate ``s`` (any real number) that can only produce values inside
``(low, high)``:

* ``scale="log"`` (a quantity spanning decades: resistances, times, capacitances, voltages that
  are positive): ``p = exp(log low + (log high - log low) sigmoid(s + s0))``;
* ``scale="linear"`` (a signed quantity: the batteries): ``p = low + (high - low) sigmoid(s + s0)``;

with ``s0`` the coordinate of the parameter's initial value ``p0``, so ``s = 0`` is the device as
built. Near the middle of the range a step in ``s`` is a relative (log) or absolute (linear) change
of the parameter; near a bound the steps shrink, and no value of ``s`` crosses it.

The ranges (:data:`DEVICE_BOUNDS`) are those of the SPICEprop MIF and its VolatileMSS memristors
(docs/energy.md, "Physical ranges"): they keep ``R_on < R_off`` and ``V_off < V_on`` by disjoint
intervals, so every point of the box is a valid device.
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["DEVICE_BOUNDS", "Bound", "bounded_leaves", "constrain", "unconstrain", "zero_coordinates"]


@dataclasses.dataclass(frozen=True)
class Bound:
    """The physical range ``(low, high)`` of one parameter, in its SI ``unit``.

    Attributes:
        low, high: the open interval the parameter stays in (``low < high``; both > 0 for log).
        unit: SI unit, for messages and tables.
        scale: ``"log"`` or ``"linear"`` (see the module docstring).
    """

    low: float
    high: float
    unit: str
    scale: str = "log"

    def __post_init__(self):
        if self.scale not in ("log", "linear"):
            raise ValueError(f"Bound: scale must be 'log' or 'linear', got {self.scale!r}.")
        if not self.low < self.high or (self.scale == "log" and not self.low > 0):
            raise ValueError(f"Bound: need low < high (and low > 0 for a log scale), got ({self.low}, {self.high}).")

    def _ends(self):
        return (math.log(self.low), math.log(self.high)) if self.scale == "log" else (self.low, self.high)

    def to_value(self, coordinate):
        """The parameter for an (absolute) coordinate ``z``: inside ``(low, high)`` for every real ``z``."""
        a, b = self._ends()
        u = a + (b - a) * jax.nn.sigmoid(coordinate)
        return jnp.exp(u) if self.scale == "log" else u

    def to_coordinate(self, value):
        """The inverse of :meth:`to_value` (``value`` strictly inside the range)."""
        a, b = self._ends()
        u = jnp.log(value) if self.scale == "log" else value
        f = (u - a) / (b - a)
        return jnp.log(f) - jnp.log1p(-f)


# Physical ranges of the SPICEprop readout's parameters (docs/energy.md), by attribute name, or by
# the end of its dotted path where a name alone is ambiguous (a memristor's tau, not a LIF's).
DEVICE_BOUNDS: dict[str, Bound] = {
    "R_on": Bound(1e2, 1e4, "Ohm"),  # below every R_off: the device stays a memristor
    "R_off": Bound(1e4, 1e7, "Ohm"),
    "V_on": Bound(0.05, 0.5, "V"),  # above every V_off
    "V_off": Bound(1e-3, 0.05, "V"),
    "V_T": Bound(5e-3, 0.05, "V"),  # 0.2-2 x the thermal voltage
    "memristor1.tau": Bound(1e-4, 1e-2, "s"),  # memristor switching time: >= 10 SPICEprop steps
    "memristor2.tau": Bound(1e-4, 1e-2, "s"),
    "tau_a": Bound(1e-4, 1e-2, "s"),  # synapse time constant
    "capacitance": Bound(3e-10, 1e-8, "F"),  # below ~3e-10 F the 10 us Euler step is unstable at rest
    "E1": Bound(-0.1, 0.1, "V", "linear"),
    "E2": Bound(-0.1, 0.1, "V", "linear"),
}


def _name(path, bounds) -> str | None:
    """The key of ``bounds`` that matches ``path`` (the longest dotted suffix of its attribute names)."""
    names = [getattr(k, "name", None) for k in path]
    names = [n for n in names if n is not None]
    for start in range(len(names)):
        key = ".".join(names[start:])
        if key in bounds:
            return key
    return None


def bounded_leaves(tree, bounds: dict[str, Bound] | None = None) -> list[tuple[str, Bound]]:
    """``(path, bound)`` of every floating leaf of ``tree`` whose attribute name has a bound."""
    bounds = DEVICE_BOUNDS if bounds is None else bounds
    found = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(eqx.filter(tree, eqx.is_inexact_array))[0]:
        if _name(path, bounds) is not None:
            found.append((jax.tree_util.keystr(path), bounds[_name(path, bounds)]))
    return found


def _map(fn, tree, coordinates, bounds):
    bounds = DEVICE_BOUNDS if bounds is None else bounds

    def one(path, leaf, s):
        if s is None or not eqx.is_inexact_array(leaf):
            return leaf
        return fn(bounds[_name(path, bounds)], leaf, s)

    return jax.tree_util.tree_map_with_path(one, tree, coordinates, is_leaf=lambda x: x is None)


def zero_coordinates(tree, bounds: dict[str, Bound] | None = None):
    """Coordinates ``s = 0`` shaped like ``tree``: an array for every bounded floating leaf, ``None``
    elsewhere (those leaves stay fixed).

    Raises:
        ValueError: a parameter lies outside its range (the message names it and the range).
    """
    bounds = DEVICE_BOUNDS if bounds is None else bounds

    def one(path, leaf):
        name = _name(path, bounds)
        if not eqx.is_inexact_array(leaf) or name is None:
            return None
        b = bounds[name]
        if isinstance(leaf, jax.core.Tracer):
            return jnp.zeros_like(leaf)
        if not (jnp.all(leaf > b.low) and jnp.all(leaf < b.high)):
            raise ValueError(f"{jax.tree_util.keystr(path)} = {leaf} {b.unit} lies outside its physical range "
                             f"({b.low:g}, {b.high:g}) {b.unit}; change the device or pass bounds= with a range "
                             "that contains it.")
        return jnp.zeros_like(leaf)

    return jax.tree_util.tree_map_with_path(one, tree)


def constrain(tree, coordinates, bounds: dict[str, Bound] | None = None):
    """``tree`` with every leaf that has a coordinate ``s`` replaced by ``to_value(to_coordinate(p0) + s)``.

    ``coordinates`` is shaped like :func:`zero_coordinates` (``None`` leaves keep ``tree``'s value).
    Differentiable in ``coordinates``; the result stays inside the bounds for every ``s``.
    """
    return _map(lambda b, p0, s: b.to_value(b.to_coordinate(p0) + s), tree, coordinates, bounds)


def unconstrain(tree, values, bounds: dict[str, Bound] | None = None):
    """The coordinates ``s`` for which :func:`constrain` ``(tree, s)`` gives ``values`` (a tree like
    ``tree``; its bounded leaves strictly inside their ranges), shaped like :func:`zero_coordinates`."""
    bounds = DEVICE_BOUNDS if bounds is None else bounds

    def one(path, p0, value):
        name = _name(path, bounds)
        if not eqx.is_inexact_array(p0) or name is None:
            return None
        return bounds[name].to_coordinate(value) - bounds[name].to_coordinate(p0)

    return jax.tree_util.tree_map_with_path(one, tree, values)
