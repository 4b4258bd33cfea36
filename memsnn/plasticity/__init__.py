"""Plasticity rules that learn inside the simulated circuit (docs/plasticity.md).

Each rule is a :class:`~memsnn.components.AbstractPlasticity` component for a layer's
``plasticity`` slot: its traces are state (decaying in its vector field), and it changes weights
only through the layer's plastic array (``array.updated``), so every rule runs on ideal weights
(:class:`~memsnn.arrays.PlasticDense`) and on memristive crossbars alike.

* :class:`PairSTDP`: pair-based STDP, all-to-all or nearest-neighbour, additive or soft-bound.
* :class:`TripletSTDP`: Pfister & Gerstner 2006, minimal and full; Diehl & Cook's rule.
* :class:`RewardSTDP`: reward-modulated STDP (Florian 2007 MSTDP / MSTDPET, Izhikevich 2007).
* :class:`VoltageSTDP`: a Clopath-style voltage-based rule.
* :class:`ReSuMe`: supervised learning of target spike trains (Ponulak & Kasinski 2010).
"""

from .pair import PairSTDP as PairSTDP, PairTraces as PairTraces
from .triplet import TripletSTDP as TripletSTDP, TripletTraces as TripletTraces
from .reward import RewardSTDP as RewardSTDP, RewardTraces as RewardTraces, set_reward as set_reward
from .voltage import VoltageSTDP as VoltageSTDP, VoltageTraces as VoltageTraces
from .resume import ReSuMe as ReSuMe, ReSuMeTraces as ReSuMeTraces, schreiber_correlation as schreiber_correlation
