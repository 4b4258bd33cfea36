"""The training methods that :func:`memsnn.training.train` and the CLI know, listed in one place.

A method (:class:`~memsnn.training._method.Method`) says how to build its model from a JSON config,
its loss and prediction functions, which leaves are trained, and its command-line options. To add
one, define its ``Method`` beside its model and add it to :data:`METHODS` below; it is then
available as ``memsnn train --method NAME``.
"""

from __future__ import annotations

from ._method import Method
from .conversion import CONVERSION
from .stdp import STDP
from .surrogate import SURROGATE
from .rstdp import RSTDP
from .spikeprop import SPIKEPROP
from .spiceprop import SPICEPROP
from .tempotron import TEMPOTRON
from .ttfs import TTFS

__all__ = ["METHODS", "Method", "get_method"]


def get_method(name: str) -> Method:
    """The method ``name``; the error lists the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown training method {name!r}; known methods: {sorted(METHODS)}.") from None


# Every method memsnn knows, by name: the one list `train`, `evaluate` and the CLI read.
METHODS: dict[str, Method] = {method.name: method for method in (SPICEPROP, SURROGATE, CONVERSION, STDP,
                                                                      TEMPOTRON, TTFS, RSTDP,
                                                                      SPIKEPROP)}
