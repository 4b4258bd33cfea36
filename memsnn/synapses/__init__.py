"""Current-based synapses driven by impulse (spike) inputs."""

from ._base import AbstractSpiceSynapse as AbstractSpiceSynapse, AbstractSynapse as AbstractSynapse
from .alpha import AlphaState as AlphaState, AlphaSynapse as AlphaSynapse
from .exponential import ExponentialState as ExponentialState, ExponentialSynapse as ExponentialSynapse
