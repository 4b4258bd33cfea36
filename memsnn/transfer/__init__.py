"""Moving trained weights onto memristive hardware.

* :mod:`~memsnn.transfer.quantize`: normalise and quantize weights linearly into ``2n + 1`` levels
  symmetric about zero (:func:`quantize`), and the straight-through :func:`fake_quantize` for
  quantization-aware training.
* :mod:`~memsnn.transfer.stdp_programming`: the device's STDP law (:class:`STDPLaw`, given or fitted,
  with device-to-device variation) inverted to a pulse offset per level, and weight-map programming
  (:class:`WeightMapTransfer`: one step per post-synaptic neuron and level, after Hwang, Kim & Park
  2021), beside one-by-one programming.

See docs/weight-transfer.md.
"""

from .quantize import MAX_LEVELS as MAX_LEVELS, Quantized as Quantized, fake_quantize as fake_quantize
from .quantize import quantization_scale as quantization_scale, quantize as quantize
from .stdp_programming import STDPLaw as STDPLaw, StdpPulses as StdpPulses, TransferResult as TransferResult
from .stdp_programming import WeightMapTransfer as WeightMapTransfer
