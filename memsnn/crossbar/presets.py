"""Named crossbar configurations from the literature (docs/crossbar.md, "Presets")."""

from __future__ import annotations

from typing import NamedTuple

from .irdrop import Wires
from .mapping import ConductanceMapping
from .nonideal import Chain, Drift, FiniteLevels, ProgrammingNoise, ReadNoise, StuckAt, chain
from .periphery import ADC, DAC
from .update import PulseUpdate

__all__ = ["CrossbarPreset", "preset", "PRESETS"]

PRESETS = ("ideal", "pcm", "reram", "neurosim", "realistic")


class CrossbarPreset(NamedTuple):
    """The configured pieces of a crossbar; ``Crossbar(weight, **preset(...)._asdict())``.

    Attributes:
        mapping: weight-to-conductance mapping.
        nonideality: the chain of device non-idealities.
        wires: line resistances, or ``None`` (no IR drop).
        dac, adc: periphery.
        tile: ``(rows, cols)`` of one physical array, or ``None``.
        update: the devices' pulse response (plasticity), or ``None`` (ideal add and clip).
    """

    mapping: ConductanceMapping
    nonideality: Chain
    wires: Wires | None
    dac: DAC
    adc: ADC
    tile: tuple[int, int] | None
    update: PulseUpdate | None


def preset(name: str, *, w_max: float = 1.0, seed: int = 0) -> CrossbarPreset:
    """The pieces of a named crossbar configuration.

    Args:
        name: one of

            * ``"ideal"``: 1..100 uS differential pairs, no non-ideality (reads are ``W x``).
            * ``"pcm"``: IBM aihwkit's ``PCMLikeNoiseModel`` (Nandakumar et al., ICECS 2019):
              ``g_max = 25 uS``, ``g_min = 0``, its programming-noise polynomial, drift
              statistics (t0 = 20 s) and 1/f read noise.
            * ``"reram"``: aihwkit's ``ReRamWan2022NoiseModel`` (Wan et al., Nature 2022):
              ``g_max = 40 uS``, its programming-noise polynomial (1 s), 1 % read noise (the
              short-term read noise aihwkit's documentation recommends adding).
            * ``"neurosim"``: MLP_NeuroSim V3.0's default device: 0.476..10 uS, 31 levels,
              nonlinear LTP/LTD (labels ±4.22), 0.5 % cycle-to-cycle write noise; read at 0.5 V.
            * ``"realistic"``: 0.1..10 uS, 16 levels, programming noise (sigma 1 % of the range),
              2 % read noise, 1 % stuck-at devices (0.5 % SA0 + 0.5 % SA1) programmed fault-aware
              (write-verify finds them; each one's partner compensates, :class:`StuckAt`), 1 Ohm
              wires (rows and columns) on 256 x 256 tiles.

        w_max: the weight magnitude mapped to the full conductance range.
        seed: seed of the chip's fixed properties (PCM drift exponents).
    """
    if name == "ideal":
        return CrossbarPreset(ConductanceMapping(1e-6, 100e-6, w_max=w_max), chain(), None, DAC(), ADC(), None, None)
    if name == "pcm":
        return CrossbarPreset(
            ConductanceMapping(0.0, 25e-6, w_max=w_max),
            chain(ProgrammingNoise.pcm(), Drift.pcm(seed=seed), ReadNoise.pcm()),
            None, DAC(), ADC(), None, None)
    if name == "reram":
        return CrossbarPreset(
            ConductanceMapping(0.0, 40e-6, w_max=w_max),
            chain(ProgrammingNoise.reram(), ReadNoise(0.01)),
            None, DAC(), ADC(), None, None)
    if name == "neurosim":
        update = PulseUpdate.neurosim()
        return CrossbarPreset(
            ConductanceMapping(update.g_min, update.g_max, w_max=w_max),
            chain(FiniteLevels(update.n_pulses + 1)),
            None, DAC(v_read=0.5), ADC(), None, update)
    if name == "realistic":
        return CrossbarPreset(
            ConductanceMapping(0.1e-6, 10e-6, w_max=w_max),
            chain(FiniteLevels(16), ProgrammingNoise(0.01), StuckAt(0.005, 0.005, fault_aware=True), ReadNoise(0.02)),
            Wires(1.0, 1.0), DAC(), ADC(), (256, 256), None)
    raise ValueError(f"memsnn.crossbar.preset: unknown preset {name!r}; choose one of {PRESETS}.")
