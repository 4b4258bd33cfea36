"""memsnn: differentiable simulation and training of memristive spiking neural networks in JAX."""

__version__ = "0.1.0"

from . import components as components
from . import arrays as arrays, devices as devices, integrators as integrators, neurons as neurons
from . import export as export, plasticity as plasticity, presets as presets, synapses as synapses
from .arrays import Dense as Dense, Identity as Identity
from .integrators import RESULTS as RESULTS, Diffrax as Diffrax, Euler as Euler, SpicepropEuler as SpicepropEuler
from .integrators import ExponentialEuler as ExponentialEuler
from .network import Layer as Layer, LayerState as LayerState, Network as Network
from .neurons import IF as IF, LIF as LIF, MIF as MIF
from .simulate import Trace as Trace, simulate as simulate, stability_ratio as stability_ratio
from .stimulus import Current as Current, Impulses as Impulses
from .synapses import AlphaSynapse as AlphaSynapse, ExponentialSynapse as ExponentialSynapse
