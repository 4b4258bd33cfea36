"""Energy of the simulated circuit and the standard metrics beside it (docs/energy.md).

* :class:`MIFEnergy`: an energy meter (:class:`~memsnn.components.AbstractEnergyMeter`) that
  integrates the power of every part of a MIF neuron's circuit as state.
* :mod:`memsnn.energy.metrics`: NeuroBench's synaptic operations (ACs / MACs), activation and
  connection sparsity, footprint, and the 0.9 pJ/AC, 4.6 pJ/MAC proxy.
* :mod:`memsnn.energy.crossbar`: the read energy of a programmed crossbar from its nodal solve
  (cells and wires), and its converters per conversion (:class:`ReadScheme`).

The energy per image of a trained SPICEprop network is a study: :mod:`memsnn.studies.energy`.
"""

from .crossbar import (
    CrossbarReadEnergy as CrossbarReadEnergy,
    ReadScheme as ReadScheme,
    crossbar_read_energy as crossbar_read_energy,
    tile_power_forms as tile_power_forms,
)
from .meters import MIFEnergy as MIFEnergy, MIFEnergyState as MIFEnergyState
from .metrics import (
    AC_ENERGY as AC_ENERGY,
    MAC_ENERGY as MAC_ENERGY,
    activation_sparsity as activation_sparsity,
    connection_sparsity as connection_sparsity,
    footprint as footprint,
    proxy_energy as proxy_energy,
    synaptic_operations as synaptic_operations,
)
