"""Memristor device models: state equations and currents, SI units, parameters as pytree leaves."""

from ._base import AbstractMemristor as AbstractMemristor
from .mif_memristor import VolatileMSS as VolatileMSS
