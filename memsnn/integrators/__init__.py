"""Integrators, passed to :func:`memsnn.simulate` as objects (like diffrax's ``solver=``)."""

from ._base import RESULTS as RESULTS, AbstractIntegrator as AbstractIntegrator, SolveStats as SolveStats
from ._base import EventMaps as EventMaps, checkpointed_scan as checkpointed_scan
from .diffrax_bridge import BracketedNewton as BracketedNewton, Diffrax as Diffrax
from .euler import Euler as Euler, ExponentialEuler as ExponentialEuler, SpicepropEuler as SpicepropEuler
