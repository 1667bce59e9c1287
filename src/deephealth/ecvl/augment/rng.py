"""Random parameters of augmentations and the seed that makes a run replay exactly.

ECVL draws every random parameter from one process-wide engine that
``AugmentationParam.SetSeed`` reseeds; this module keeps that engine (a numpy ``Generator``) for
the pyecvl ``Apply`` path. The parallel loader does not share it: it gives every sample its own
generator derived from ``(seed, epoch, sample index)``, so results do not depend on how samples are
spread over workers.
"""

from __future__ import annotations

import numpy as np

_STATE: dict[str, np.random.Generator] = {"rng": np.random.default_rng()}
_SEED: list[int | None] = [None]


def global_rng() -> np.random.Generator:
    """The process-wide generator used by ``Augmentation.Apply`` (reseeded by ``SetSeed``)."""
    return _STATE["rng"]


def keyed_rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator determined by ``seed`` and integer keys (e.g. split, epoch, sample index).

    The loader uses one per sample, so the result does not depend on worker count or order.
    """
    return np.random.Generator(np.random.PCG64([seed & 0xFFFFFFFF, *keys]))


def global_seed() -> int | None:
    """The seed last given to ``AugmentationParam.SetSeed`` (None if never seeded)."""
    return _SEED[0]


class AugmentationParam:
    """A parameter drawn uniformly in ``[min_, max_]`` each time an augmentation is applied.

    Attributes:
        min_: Lower bound.
        max_: Upper bound.
        value_: The last drawn value.
    """

    seed_min = 0
    seed_max = 2**32 - 1

    def __init__(self, min: float = 0.0, max: float = 0.0) -> None:  # noqa: A002 - pyecvl names
        """Create a parameter with range ``[min, max]``."""
        self.min_ = float(min)
        self.max_ = float(max)
        self.value_ = float(min)

    def GenerateValue(self, rng: np.random.Generator | None = None) -> float:
        """Draw a new ``value_`` (from the global engine unless ``rng`` is given) and return it."""
        gen = global_rng() if rng is None else rng
        self.value_ = (
            float(gen.uniform(self.min_, self.max_)) if self.max_ > self.min_ else self.min_
        )
        return self.value_

    @staticmethod
    def SetSeed(seed: int) -> None:
        """Reseed the global engine so that the following augmentations replay exactly."""
        _STATE["rng"] = np.random.default_rng(int(seed))
        _SEED[0] = int(seed)

    def __repr__(self) -> str:
        return f"AugmentationParam(min_={self.min_}, max_={self.max_}, value_={self.value_})"
