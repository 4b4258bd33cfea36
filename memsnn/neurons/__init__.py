"""Neuron models: MIF (memristive), LIF and IF, conductance-based LIF (Diehl & Cook)."""

from ._base import AbstractNeuron as AbstractNeuron, AbstractSpiceNeuron as AbstractSpiceNeuron
from .lif import IF as IF, LIF as LIF, LIFState as LIFState, heaviside as heaviside
from .lif import DelayedResetState as DelayedResetState
from .mif import MIF as MIF, MIFState as MIFState
from .conductance_lif import ConductanceLIF as ConductanceLIF, ConductanceLIFState as ConductanceLIFState
from .conductance_lif import InhibitedPopulation as InhibitedPopulation
from .conductance_lif import InhibitedPopulationState as InhibitedPopulationState
