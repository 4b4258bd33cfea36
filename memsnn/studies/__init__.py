"""Studies of trained networks: what they cost and how they fare on hardware (docs/energy.md,
docs/crossbar.md).

* :mod:`~memsnn.studies.energy`: energy per image of a SPICEprop network, per layer and per
  component (:func:`spiceprop_energy`); synaptic operations and proxy energy of a surrogate-gradient
  network (:func:`surrogate_energy`).
* :mod:`~memsnn.studies.codesign`: device-network co-design: sensitivity maps, Monte-Carlo over
  device variation and vmapped sweeps (sharded over all devices), the accuracy-energy Pareto front.
* :mod:`~memsnn.studies.deploy`: a trained model programmed once onto a chip and read later
  (:func:`accuracy_over_time`, :func:`evaluate_checkpoint_on_crossbar`).

Studies use trained networks, so they sit above :mod:`memsnn.training`; the device-parameter
bounds they share with training are :mod:`memsnn.devices.bounds`.
"""

from .codesign import (
    codesign_loss as codesign_loss,
    device_parameters as device_parameters,
    get_parameter as get_parameter,
    monte_carlo as monte_carlo,
    pareto_front as pareto_front,
    readout_metrics as readout_metrics,
    sensitivity as sensitivity,
    set_parameters as set_parameters,
    sweep as sweep,
)
from .deploy import (
    TIMES as TIMES,
    accuracy_over_time as accuracy_over_time,
    evaluate_checkpoint_on_crossbar as evaluate_checkpoint_on_crossbar,
)
from .energy import (
    SpicepropEnergy as SpicepropEnergy,
    SurrogateEnergy as SurrogateEnergy,
    spiceprop_energy as spiceprop_energy,
    spiceprop_readout_energy as spiceprop_readout_energy,
    surrogate_energy as surrogate_energy,
)
