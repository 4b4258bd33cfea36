"""The energy of a MIF layer as ngspice computes it from the exported netlist (the check of
:class:`~memsnn.energy.MIFEnergy`).

The netlist is :func:`memsnn.export.network_netlist`'s, with one integrator per metered power
added: a behavioural current source of ``p(t)`` (W) into a capacitor of :data:`ENERGY_CAPACITANCE`,
whose voltage is then ``int p dt / ENERGY_CAPACITANCE``, integrated by ngspice's own solver at its
own time points. The powers are written from the netlist's own branch expressions: memristor ``k``
absorbs ``(V(v) - E_k) * i_k``, battery ``k`` ``E_k * i_k`` and the synapse delivers
``V(v) * I_syn``, with ``i_k`` the B-source current of branch ``k`` and ``I_syn`` the current of the
synapse's VCCS into the membrane.
"""

from __future__ import annotations

import re

import numpy as np

from .._ngspice import run_ngspice
from .simulate import network_netlist
from ..neurons import MIF

__all__ = ["ENERGY_CAPACITANCE", "ngspice_mif_energy"]

ENERGY_CAPACITANCE = 1e-9  # F: an energy node reads 1 V per nJ (node voltages ~0.1 V, like the membrane's)
_COMPONENTS = ("memristor1", "memristor2", "battery1", "battery2", "synapse")


def ngspice_mif_energy(network, stimulus, *, dt: float, n_steps: int, options=None, timeout: float | None = None
                       ) -> dict[str, np.ndarray]:
    """Energy (J) of each part of a one-layer MIF network after ``n_steps``, computed by ngspice.

    Args:
        network, stimulus, dt, n_steps, options: as :func:`memsnn.export.simulate_ngspice` (the
            layer's neuron must be a :class:`~memsnn.MIF`; its ``energy`` slot is ignored).
        timeout: seconds before ngspice is stopped.

    Returns:
        ``{component: (batch, n)}`` for ``memristor1``, ``memristor2``, ``battery1``, ``battery2``,
        ``synapse`` (as the fields of :class:`~memsnn.energy.MIFEnergyState`) and ``capacitor``
        (``C (v_end^2 - v_0^2) / 2`` from ngspice's final membrane potential).
    """
    layer = network.layers[0]
    neuron = layer.neuron
    if not isinstance(neuron, MIF):
        raise TypeError(f"ngspice_mif_energy: the layer's neuron must be a memsnn.MIF, got {type(neuron).__name__}.")
    netlist = network_netlist(network, stimulus, dt=dt, n_steps=n_steps, options=options, record=("v",),
                              grid_breakpoints=False)
    batch, n = stimulus.amplitude.shape[0], layer.size
    total = batch * n
    per_neuron = lambda x: np.tile(np.broadcast_to(np.asarray(x, float), (n,)), batch)  # noqa: E731
    e1, e2 = per_neuron(neuron.E1), per_neuron(neuron.E2)
    lines, extra, saves = netlist.splitlines(), [], []
    text = "\n".join(lines)
    for i in range(total):
        branch = [_expression(text, rf"^B{k}_{i} v_{i} 0 I=(.*)$") for k in (1, 2)]
        powers = {
            "memristor1": f"(V(v_{i})-({float(e1[i])!r}))*({branch[0]})",
            "memristor2": f"(V(v_{i})-({float(e2[i])!r}))*({branch[1]})",
            "battery1": f"({float(e1[i])!r})*({branch[0]})",
            "battery2": f"({float(e2[i])!r})*({branch[1]})",
        }
        synapse = re.search(rf"^Gsyn_{i} 0 v_{i} (\S+) 0 (\S+)$", text, re.MULTILINE)
        powers["synapse"] = "0" if synapse is None else f"V(v_{i})*{synapse.group(2)}*V({synapse.group(1)})"
        for name, power in powers.items():
            extra += [f"BE{name}_{i} 0 E{name}_{i} I={power}", f"CE{name}_{i} E{name}_{i} 0 {ENERGY_CAPACITANCE!r} IC=0"]
            saves.append(f"v(e{name}_{i})")
        saves.append(f"v(v_{i})")
    at = next(j for j, line in enumerate(lines) if line.startswith(".options"))
    save_lines = [".save " + " ".join(saves[k:k + 8]) for k in range(0, len(saves), 8)]
    body = [line for line in lines[at:] if not line.startswith(".save")]
    netlist = "\n".join(lines[:at] + ["* energy integrators (memsnn.export.energy): 1 V = 1 nJ"] + extra + body[:-1]
                        + save_lines + body[-1:])
    vectors = run_ngspice(netlist, timeout=timeout)
    out = {name: np.array([vectors[f"v(e{name}_{i})"][-1] for i in range(total)]) * ENERGY_CAPACITANCE
           for name in _COMPONENTS}
    v_end = np.array([vectors[f"v(v_{i})"][-1] for i in range(total)])
    v0, c = per_neuron(neuron.v_init), per_neuron(neuron.capacitance)
    out["capacitor"] = 0.5 * c * (v_end ** 2 - v0 ** 2)
    return {name: value.reshape(batch, n) for name, value in out.items()}


def _expression(text: str, pattern: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:  # the netlist writer changed its element names
        raise RuntimeError(f"ngspice_mif_energy: no line matching {pattern!r} in the exported netlist.")
    return found.group(1)

