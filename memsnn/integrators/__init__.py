"""Integrators, passed to :func:`memsnn.simulate` as objects (like diffrax's ``solver=``)."""

from ._base import AbstractIntegrator as AbstractIntegrator, StepCount as StepCount
from .diffrax_bridge import Diffrax as Diffrax
from .euler import Euler as Euler, SpicepropEuler as SpicepropEuler
