"""Memristive crossbars, all in one package (docs/crossbar.md, docs/weight-transfer.md).

* the arrays (:mod:`~memsnn.crossbar.array`): :class:`Crossbar`, :class:`BiasRow` (a bias in one
  more row of devices), :class:`ProgrammedCrossbar` (one chip), :func:`crossbar_from_dense`;
* conductance mapping (:mod:`~memsnn.crossbar.mapping`), device non-idealities
  (:mod:`~memsnn.crossbar.nonideal`), exact IR drop (:mod:`~memsnn.crossbar.irdrop`), periphery
  (:mod:`~memsnn.crossbar.periphery`), presets (:mod:`~memsnn.crossbar.presets`);
* programming: pulse updates (:mod:`~memsnn.crossbar.update`), write-verify and pulse schemes
  (:mod:`~memsnn.crossbar.programming`), quantized weight transfer by the devices' STDP law
  (:mod:`~memsnn.crossbar.quantize`, :mod:`~memsnn.crossbar.weight_transfer`), programming a
  trained model once and reading it later (:mod:`~memsnn.crossbar.deploy`);
* the SPICE netlist of a crossbar with its wires (:mod:`~memsnn.crossbar.spice`).
"""

from .array import (
    AbstractMemristiveArray as AbstractMemristiveArray,
    BiasRow as BiasRow,
    Crossbar as Crossbar,
    ProgrammedCrossbar as ProgrammedCrossbar,
    crossbar_from_dense as crossbar_from_dense,
)
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
from .quantize import MAX_LEVELS as MAX_LEVELS, Quantized as Quantized, fake_quantize as fake_quantize
from .quantize import quantization_scale as quantization_scale, quantize as quantize
from .weight_transfer import STDPLaw as STDPLaw, StdpPulses as StdpPulses, TransferResult as TransferResult
from .weight_transfer import WeightMapTransfer as WeightMapTransfer
