"""Memristor device models: state equations and currents, SI units, parameters as pytree leaves."""

from ._base import AbstractMemristor as AbstractMemristor
from .mif_memristor import VolatileMSS as VolatileMSS
from .ion_drift import LinearIonDrift as LinearIonDrift
from .knowm import GeneralizedMSS as GeneralizedMSS, MeanMetastableSwitch as MeanMetastableSwitch
from .vteam import VTEAM as VTEAM
from .yakopcic import Yakopcic as Yakopcic
