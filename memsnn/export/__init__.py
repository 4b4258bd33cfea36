"""SPICE export: ngspice netlists of memsnn neurons, and running them to check memsnn against SPICE.

``neuron_netlist`` writes the circuit of any neurons with a SPICE form (each writes its own
fragment); ``run_ngspice`` runs any netlist in batch mode and returns its vectors as numpy arrays;
``simulate_ngspice`` does both for a memsnn network and stimulus and samples the result on memsnn's
grid, ready to compare with :func:`memsnn.simulate`. ``to_nir`` / ``from_nir`` write and read NIR
graphs, each component its own node(s).
"""

from .._ngspice import (
    INSTALL_HINT as INSTALL_HINT,
    NgspiceError as NgspiceError,
    NgspiceNotFoundError as NgspiceNotFoundError,
    find_ngspice as find_ngspice,
    ngspice_version as ngspice_version,
    read_raw as read_raw,
    run_ngspice as run_ngspice,
)
from .netlist import TransientOptions as TransientOptions, neuron_netlist as neuron_netlist
from .simulate import NgspiceTrace as NgspiceTrace, network_netlist as network_netlist
from .simulate import simulate_ngspice as simulate_ngspice
from .nir import from_nir as from_nir, to_nir as to_nir
