"""Augmentation containers: apply a list in sequence, or one randomly chosen member.

Containers are augmentations themselves, so they nest, print themselves as a text block closed by
``end`` and read back through :class:`~deephealth.ecvl.augment.factory.AugmentationFactory`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from deephealth.ecvl.augment.base import Augmentation, fmt_number, is_text_call
from deephealth.ecvl.augment.rng import AugmentationParam, global_rng
from deephealth.ecvl.errors import EcvlError


def _as_list(augs: Any) -> list[Augmentation]:
    if augs is None:
        return []
    if isinstance(augs, Augmentation):
        augs = [augs]
    out = list(augs)
    for a in out:
        if not isinstance(a, Augmentation):
            raise EcvlError(f"containers hold augmentations, got {type(a).__name__}: {a!r}")
    return out


class _Container(Augmentation):
    augs_: list[Augmentation]

    def Add(self, aug: Augmentation) -> None:
        """Append an augmentation."""
        self.augs_.extend(_as_list(aug))

    def __len__(self) -> int:
        return len(self.augs_)

    def __iter__(self) -> Iterator[Augmentation]:
        return iter(self.augs_)

    def __getitem__(self, i: int) -> Augmentation:
        return self.augs_[i]

    def _header(self) -> str:
        return type(self).__name__

    def to_text(self, indent: int = 0) -> str:
        """The ECVL text block: header line, one member per line (indented), ``end``."""
        pad = " " * indent
        lines = [pad + self._header(), *(a.to_text(indent + 4) for a in self.augs_), pad + "end"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.augs_!r})"

    @classmethod
    def fromtext(cls, txt: str) -> Augmentation:
        """Create from a text body: members one per line, closed by ``end``.

        Raises:
            AugmentationSyntaxError: Malformed text.
        """
        if not _TEXT_BUILDER:
            raise EcvlError(
                "fromtext needs deephealth.ecvl.augment.factory: import deephealth.ecvl"
            )
        return _TEXT_BUILDER[0](cls.__name__, txt)


# `build_container(name, text)` of `factory.py`, registered there: the factory builds containers
# (it imports this module), so this module does not import it back.
_TEXT_BUILDER: list[Callable[[str, str], Augmentation]] = []


def register_text_builder(build: Callable[[str, str], Augmentation]) -> None:
    """Set the function behind the containers' ``fromtext`` (done by ``factory.py``)."""
    _TEXT_BUILDER[:] = [build]


class SequentialAugmentationContainer(_Container):
    """Apply augmentations one after another (pyecvl SequentialAugmentationContainer).

    Args:
        augs: The augmentations, in order (a list, or several positional arguments).
    """

    def __init__(self, augs: Iterable[Augmentation] | Augmentation | None = None, *more: Any):
        if is_text_call((augs, *more), {}):  # pyecvl core: members as text, closed by ``end``
            self.__dict__.update(type(self).fromtext(augs).__dict__)  # type: ignore[arg-type]
            return
        self.augs_ = _as_list(augs) + _as_list(list(more))
        self._values = {}
        self.params_ = {}

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        """True when every member is deterministic."""
        return all(a.deterministic for a in self.augs_)

    def apply_arrays(self, x, gt=None, rng=None, record=False):
        gen = global_rng() if rng is None else rng
        for a in self.augs_:
            x, gt = a.apply_arrays(x, gt, gen, record)
        return x, gt


class OneOfAugmentationContainer(_Container):
    """With probability ``p``, apply one member chosen uniformly (pyecvl OneOfAugmentationContainer).

    Args:
        p: Probability of applying the chosen augmentation.
        augs: The candidate augmentations.
    """

    deterministic = False

    def __init__(self, p: float | str, augs: Iterable[Augmentation] | None = None, *more: Any):
        if augs is None and is_text_call((p, *more), {}):  # pyecvl core: "p=0.7\n<members>\nend"
            self.__dict__.update(type(self).fromtext(p).__dict__)  # type: ignore[arg-type]
            return
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise EcvlError(f"OneOfAugmentationContainer: p must be in [0, 1], got {p}")
        self.p_ = p
        self.augs_ = _as_list(augs) + _as_list(list(more))
        self._values = {"p": p}
        self.params_ = {"p": AugmentationParam(0.0, 1.0)}

    def _header(self) -> str:
        return f"OneOfAugmentationContainer p={fmt_number(self.p_)}"

    def apply_arrays(self, x, gt=None, rng=None, record=False):
        gen: np.random.Generator = global_rng() if rng is None else rng
        if not self.augs_:
            return x, gt
        index = int(gen.integers(0, len(self.augs_)))
        u = float(gen.uniform(0.0, 1.0))
        if record:
            self.params_["p"].value_ = u
        if u <= self.p_ and self.p_ > 0:
            x, gt = self.augs_[index].apply_arrays(x, gt, gen, record)
        return x, gt


for _cls in (SequentialAugmentationContainer, OneOfAugmentationContainer):
    _cls.__signature__ = inspect.signature(
        _cls.__init__
    ).replace(  # type: ignore[attr-defined]
        parameters=list(inspect.signature(_cls.__init__).parameters.values())[1:]
    )
