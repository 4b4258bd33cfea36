"""Memristive crossbars: conductance mapping, device non-idealities, exact IR drop, periphery,
pulse programming and SPICE export (docs/crossbar.md). The array itself is
:class:`memsnn.arrays.Crossbar`."""

from .irdrop import (
    IRDropSolution as IRDropSolution,
    Wires as Wires,
    ir_drop_matrix as ir_drop_matrix,
    ir_drop_severity as ir_drop_severity,
    solve_ir_drop as solve_ir_drop,
    solve_ir_drop_nodes as solve_ir_drop_nodes,
)
from .mapping import ConductanceMapping as ConductanceMapping, Conductances as Conductances
from .nonideal import (
    AbstractNonideality as AbstractNonideality,
    Chain as Chain,
    Drift as Drift,
    FiniteLevels as FiniteLevels,
    IVNonlinearity as IVNonlinearity,
    ProgrammingNoise as ProgrammingNoise,
    ReadNoise as ReadNoise,
    StuckAt as StuckAt,
    chain as chain,
    global_drift_compensation as global_drift_compensation,
)
from .periphery import ADC as ADC, DAC as DAC
from .presets import PRESETS as PRESETS, CrossbarPreset as CrossbarPreset, preset as preset
from .update import PulseUpdate as PulseUpdate
