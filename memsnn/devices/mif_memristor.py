"""The memristor of the memristive integrate-and-fire neuron (docs/mif-neuron.md, eq. 1b-1c).

It is the KNOWM mean metastable switch with the sign of ``V_off`` flipped: the device switches off
whenever the voltage across it falls below ``+V_off``, which makes it volatile (it relaxes back
towards off without drive). That volatility is what resets the MIF neuron after a spike.
Equations, presets and the SPICE form: docs/devices.md.
"""

from __future__ import annotations

from ._mss import AbstractMetastableSwitch


class VolatileMSS(AbstractMetastableSwitch):
    """Volatile mean-metastable-switch memristor used by the MIF neuron.

    ``dx/dt = [(1 - x) sigma((V - V_on)/V_T) - x sigma((V_off - V)/V_T)] / tau``,
    ``G = x / R_on + (1 - x) / R_off``. ``x`` in [0, 1] is the fraction of switched-on channels.
    Defaults are the SPICEprop table: 1 kOhm / 100 kOhm, V_on 110 mV, V_off 5 mV, V_T 15 mV, 1 ms.
    Parameters as in :class:`~memsnn.devices._mss.AbstractMetastableSwitch`.
    """

    def __init__(self, R_on=1e3, R_off=1e5, V_on=0.110, V_off=0.005, V_T=0.015, tau=1e-3):
        self._set_parameters(R_on, R_off, V_on, V_off, V_T, tau)

    def off_switching_voltage(self):
        return self.V_off
