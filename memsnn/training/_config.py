"""Method configs: frozen dataclasses that travel in checkpoints as JSON."""

from __future__ import annotations

import dataclasses


class JsonConfig:
    """Mixin for a frozen dataclass config: ``to_dict`` for the checkpoint, ``from_dict`` back.

    ``from_dict`` names unknown settings (a checkpoint from another version, a typo) instead of
    failing with a bare ``TypeError``.
    """

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown settings {sorted(unknown)}; known: {sorted(names)}.")
        return cls(**d)
