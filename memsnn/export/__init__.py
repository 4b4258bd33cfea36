"""SPICE export: ngspice netlists of memsnn neurons, and running them to check memsnn against SPICE.

``mif_netlist`` / ``lif_netlist`` write the circuit; ``run_ngspice`` runs any netlist in batch mode
and returns its vectors as numpy arrays; ``simulate_ngspice`` does both for a memsnn network and
stimulus and samples the result on memsnn's grid, ready to compare with :func:`memsnn.simulate`.
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
from .netlist import TransientOptions as TransientOptions, lif_netlist as lif_netlist, mif_netlist as mif_netlist
from .simulate import NgspiceTrace as NgspiceTrace, network_netlist as network_netlist
from .simulate import simulate_ngspice as simulate_ngspice
from .nir import from_nir as from_nir, to_nir as to_nir
