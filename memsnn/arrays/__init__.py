"""Synapse arrays: map pre-synaptic activity (n_in,) to post-synaptic drive (n_out,).

The memristive arrays are in :mod:`memsnn.crossbar` (:class:`memsnn.crossbar.Crossbar`)."""

from ._base import AbstractPlasticArray as AbstractPlasticArray, AbstractSynapseArray as AbstractSynapseArray
from ._base import AbstractProgrammableArray as AbstractProgrammableArray
from .dense import Dense as Dense, Identity as Identity
from .conv import Conv2d as Conv2d
from .plastic import DelayedPlastic as DelayedPlastic, DelayedPlasticState as DelayedPlasticState
from .plastic import PlasticDense as PlasticDense
from .delay import DelayedDense as DelayedDense, Recurrent as Recurrent
