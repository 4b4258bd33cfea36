"""Presets reproducing published neurons exactly.

The SPICEprop neuron (Zhou et al., arXiv 2203.01426; docs/mif-neuron.md sections 3-5): the reference
code works in mV and mA with ``kappa = dt / C = 1e4 Ohm`` per 10 us step, i.e. C = 1 nF. memsnn is SI
inside, so an input weight of 1 code unit (1 mA) is ``1e-3`` A here.
"""

from __future__ import annotations

from .arrays import Dense, Identity
from .devices import VolatileMSS
from .network import Layer, Network
from .neurons import MIF
from .synapses import AlphaSynapse

SPICEPROP_DT = 10e-6  # s: one reference time step
SPICEPROP_STEPS = 1000  # steps per sample (10 ms)
SPICEPROP_EVENT_STEPS = (0, 400, 800)  # input impulses
MILLIAMP = 1e-3  # A per reference current unit
MILLIVOLT = 1e-3  # V per reference voltage unit


def spiceprop_memristor(**overrides) -> VolatileMSS:
    """The MIF memristor with the paper's table: R_on 1 kOhm, R_off 100 kOhm, V_on 110 mV,
    V_off 5 mV, V_T 15 mV, tau 1 ms."""
    params = dict(R_on=1e3, R_off=1e5, V_on=0.110, V_off=0.005, V_T=0.015, tau=1e-3)
    params.update(overrides)
    return VolatileMSS(**params)


def spiceprop_mif(**overrides) -> MIF:
    """The SPICEprop MIF neuron: C = 1 nF, E1 = 0, E2 = 50 mV, x(0) = 0.0238, spike flag at 30 mV."""
    params = dict(capacitance=1e-9, E1=0.0, E2=0.050, memristor1=spiceprop_memristor(),
                  memristor2=spiceprop_memristor(), spike_threshold=0.030, x1_init=0.0238, x2_init=0.0238)
    params.update(overrides)
    return MIF(**params)


def spiceprop_layer(n: int | None = None, *, weight=None, tau_a: float = 1e-3, neuron: MIF | None = None) -> Layer:
    """An alpha-synapse MIF layer: ``Identity(n)`` input array, or ``Dense(weight)`` if given."""
    if (n is None) == (weight is None):
        raise ValueError("spiceprop_layer: give exactly one of n (identity array) or weight (dense array).")
    array = Identity(n) if weight is None else Dense(weight)
    return Layer(array, AlphaSynapse(tau_a), spiceprop_mif() if neuron is None else neuron)


def spiceprop_neuron_network(n: int = 1, **mif_overrides) -> Network:
    """``n`` independent SPICEprop MIF neurons, each driven by its own input through an alpha synapse."""
    return Network([Layer(Identity(n), AlphaSynapse(1e-3), spiceprop_mif(**mif_overrides))])
