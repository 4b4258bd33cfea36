"""Integrators, passed to :func:`memsnn.simulate` as objects (like diffrax's ``solver=``)."""

from ._base import RESULTS as RESULTS, AbstractIntegrator as AbstractIntegrator, SolveStats as SolveStats
from ._base import checkpointed_scan as checkpointed_scan
from .diffrax_bridge import Diffrax as Diffrax
from .euler import Euler as Euler, SpicepropEuler as SpicepropEuler
