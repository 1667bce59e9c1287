"""The Augmentation base class: parameter table, text form, joint image/ground-truth application.

Every augmentation declares its parameters once, in a ``spec`` table of :class:`Param` rows (name,
kind, default). From that table the base class builds the pyecvl constructor (positional or
keyword arguments, validated), the ``params_`` map of random :class:`AugmentationParam`, the text
form (``AugRotate angle=[-5,5] interp="linear"``) and ``fromtext``. A subclass only writes
``_transform``, which receives canonical arrays (see :mod:`._arrays`) for the image and its ground
truth and the values drawn for this application.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from deephealth.ecvl.augment import _arrays
from deephealth.ecvl.augment.parser import AugmentationSyntaxError, ParamValue, parse_params
from deephealth.ecvl.augment.rng import AugmentationParam, global_rng
from deephealth.ecvl.errors import EcvlError

REQUIRED: Any = inspect.Parameter.empty
INTERPOLATIONS = tuple(_arrays.INTERP)
BORDERS = tuple(_arrays.BORDER)
_TEXT_KIND = {
    "range": ("range",),
    "prob": ("number",),
    "number": ("number",),
    "vector": ("vector",),
    "ivector": ("vector",),
    "numvec": ("number", "vector"),
    "interp": ("string",),
    "border": ("string",),
}
_KIND_WORD = {
    "range": "a range [min,max]",
    "prob": "a number in [0,1]",
    "number": "a number",
    "vector": "a tuple (a,b,...)",
    "ivector": "a tuple of integers (a,b,...)",
    "numvec": "a number or a tuple (a,b,...)",
    "interp": "a string, one of " + ", ".join(f'"{n}"' for n in INTERPOLATIONS),
    "border": "a string, one of " + ", ".join(f'"{n}"' for n in BORDERS),
}


@dataclass(frozen=True)
class Param:
    """One row of an augmentation's parameter table.

    Attributes:
        name: Parameter name (constructor keyword and text key).
        kind: ``range``, ``prob``, ``number``, ``vector``, ``ivector``, ``numvec``, ``interp`` or
            ``border``. ``range`` is drawn per application; ``prob`` is compared with a draw.
        default: Default value, or ``REQUIRED``; ``None`` means "absent" (not printed).
    """

    name: str
    kind: str
    default: Any = REQUIRED


def fmt_number(x: float) -> str:
    """Shortest text for a number that reads back to the same float (``255``, ``0.5``, ``1e-05``)."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _enum_name(value: Any) -> str:
    name = getattr(value, "name", value)
    name = str(name).lower()
    if name.startswith("border_"):
        name = name[len("border_") :]
    if name.startswith("inter_"):
        name = name[len("inter_") :]
    return {"reflect101": "reflect_101"}.get(name, name)


REGISTRY: dict[str, type[Augmentation]] = {}


class Augmentation:
    """Base of all augmentations (pyecvl ``Augmentation``).

    Attributes:
        params_: Random parameters (``AugmentationParam``) redrawn at each ``Apply``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls
        cls.__signature__ = signature_from_spec(cls.spec)  # type: ignore[attr-defined]

    spec: ClassVar[tuple[Param, ...]] = ()
    #: whether the result depends only on the input (no random draw): cacheable preprocessing
    deterministic: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Bind arguments to the ``spec`` table (pyecvl positional order), validating each.

        A single string argument is read as ECVL parameter text, as pyecvl's core constructors do:
        ``AugFlip('p=0.5')`` equals ``AugFlip(0.5)`` and ``AugFlip.fromtext('p=0.5')``.
        """
        if is_text_call(args, kwargs):
            self.__dict__.update(type(self).fromtext(args[0]).__dict__)
            return
        name = type(self).__name__
        if len(args) > len(self.spec):
            raise TypeError(f"{name} takes at most {len(self.spec)} arguments, got {len(args)}")
        values: dict[str, Any] = {}
        for p, a in zip(self.spec, args):
            values[p.name] = a
        for k, v in kwargs.items():
            if k not in {p.name for p in self.spec}:
                allowed = ", ".join(p.name for p in self.spec) or "none"
                raise TypeError(f"{name} got an unexpected parameter {k!r} (allowed: {allowed})")
            if k in values:
                raise TypeError(f"{name} got parameter {k!r} twice")
            values[k] = v
        self._values: dict[str, Any] = {}
        for p in self.spec:
            if p.name not in values:
                if p.default is REQUIRED:
                    raise TypeError(f"{name} needs parameter {p.name!r} ({_KIND_WORD[p.kind]})")
                self._values[p.name] = p.default
            else:
                self._values[p.name] = self._coerce(p, values[p.name])
        self._check()
        self.params_: dict[str, AugmentationParam] = {}
        for p in self.spec:
            v = self._values[p.name]
            if p.kind == "range":
                self.params_[p.name] = AugmentationParam(v[0], v[1])
            elif p.kind == "prob":
                self.params_[p.name] = AugmentationParam(0.0, 1.0)

    # ----------------------------------------------------------------------------- parameters
    def _coerce(self, p: Param, v: Any) -> Any:
        where = f"{type(self).__name__}: {p.name}"
        if v is None and p.default is None:
            return None
        try:
            if p.kind == "range":
                lo, hi = (float(t) for t in v)
                if lo > hi:
                    raise EcvlError(f"{where} range [{lo}, {hi}] has min > max")
                return (lo, hi)
            if p.kind in ("number", "prob"):
                x = float(v)
                if p.kind == "prob" and not 0.0 <= x <= 1.0:
                    raise EcvlError(f"{where} must be a probability in [0, 1], got {x}")
                return x
            if p.kind == "vector":
                return tuple(float(t) for t in v)
            if p.kind == "ivector":
                out = tuple(int(round(float(t))) for t in v)
                if any(t <= 0 for t in out):
                    raise EcvlError(f"{where} sizes must be positive, got {out}")
                return out
            if p.kind == "numvec":
                if isinstance(v, (int, float, np.number)):
                    return float(v)
                return tuple(float(t) for t in v)
            if p.kind == "interp":
                s = _enum_name(v)
                if s not in _arrays.INTERP:
                    raise EcvlError(f"{where} must be one of {INTERPOLATIONS}, got {v!r}")
                return s
            if p.kind == "border":
                s = _enum_name(v)
                if s not in _arrays.BORDER:
                    raise EcvlError(f"{where} must be one of {BORDERS}, got {v!r}")
                return s
        except (TypeError, ValueError) as e:
            raise EcvlError(f"{where} must be {_KIND_WORD[p.kind]}, got {v!r}") from e
        raise AssertionError(p.kind)

    def _check(self) -> None:
        """Hook for cross-parameter validation (raise :class:`EcvlError`)."""

    def get(self, name: str) -> Any:
        """The constructor value of parameter ``name``."""
        return self._values[name]

    # ------------------------------------------------------------------------------- drawing
    def _draw(self, rng: np.random.Generator, record: bool = False) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, prm in self.params_.items():
            lo, hi = prm.min_, prm.max_
            out[key] = float(rng.uniform(lo, hi)) if hi > lo else lo
            if record:
                prm.value_ = out[key]
        return out

    def _transform(
        self, x: np.ndarray, gt: np.ndarray | None, v: dict[str, float], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def apply_arrays(
        self,
        x: np.ndarray,
        gt: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        record: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply to canonical arrays: ``(H, W, C)`` or ``(D, H, W, C)``; ground truth alike.

        Args:
            x: Image array (not modified; the result may be a view of it).
            gt: Ground-truth array with the same spatial shape, or None.
            rng: Generator for this application (the global engine if None).
            record: Store the drawn values in ``params_`` (as pyecvl's ``Apply`` does).

        Returns:
            The transformed ``(x, gt)``.
        """
        gen = global_rng() if rng is None else rng
        return self._transform(x, gt, self._draw(gen, record), gen)

    def Apply(self, img: Any, gt: Any = None) -> None:
        """Apply in place to an ECVL Image and, for geometric augmentations, its ground truth.

        Args:
            img: The Image to augment (modified in place).
            gt: Optional ground-truth Image, transformed with the same random draw (nearest
                interpolation by default).
        """
        if hasattr(img, "fs_"):  # a deephealth.ecvl.signal.Signal applies it to its samples
            img.apply_augmentation(self)
            return
        has_gt = gt is not None and not gt.IsEmpty()
        x = _arrays.image_to_array(img)
        g = _arrays.image_to_array(gt) if has_gt else None
        x, g = self.apply_arrays(x, g, global_rng(), record=True)
        _arrays.array_to_image(x, img)
        if has_gt and g is not None:
            _arrays.array_to_image(g, gt)

    def __call__(self, img: Any, gt: Any = None) -> None:
        self.Apply(img, gt)

    # ---------------------------------------------------------------------------------- text
    def _text_params(self) -> list[str]:
        parts = []
        for p in self.spec:
            v = self._values[p.name]
            if v is None:
                continue
            if p.kind == "range":
                parts.append(f"{p.name}=[{fmt_number(v[0])},{fmt_number(v[1])}]")
            elif p.kind in ("vector", "ivector") or (p.kind == "numvec" and isinstance(v, tuple)):
                parts.append(f"{p.name}=({','.join(fmt_number(t) for t in v)})")
            elif p.kind in ("interp", "border"):
                parts.append(f'{p.name}="{v}"')
            else:
                parts.append(f"{p.name}={fmt_number(v)}")
        return parts

    def to_text(self, indent: int = 0) -> str:
        """The ECVL text form (reads back with ``AugmentationFactory.create``)."""
        return " " * indent + " ".join([type(self).__name__, *self._text_params()])

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if v is not None)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_text() == other.to_text()  # type: ignore[union-attr]

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_params(
        cls,
        params: dict[str, ParamValue],
        line: int = 1,
        column: int = 1,
        source: str | None = None,
    ) -> Augmentation:
        """Build from parsed text parameters, reporting type errors at their line and column."""
        known = {p.name: p for p in cls.spec}
        kwargs: dict[str, Any] = {}
        for key, pv in params.items():
            p = known.get(key)
            if p is None:
                allowed = ", ".join(known) or "no parameters"
                raise AugmentationSyntaxError(
                    pv.line, pv.column - len(key) - 1, f"a parameter of {cls.__name__} ({allowed})",
                    repr(key), source,
                )  # fmt: skip
            if pv.kind not in _TEXT_KIND[p.kind]:
                raise AugmentationSyntaxError(
                    pv.line, pv.column, f"{key} to be {_KIND_WORD[p.kind]}", f"a {pv.kind}", source
                )
            if p.kind == "range" and len(pv.value) != 2:  # type: ignore[arg-type]
                raise AugmentationSyntaxError(
                    pv.line, pv.column, f"{key} to be a range of two numbers [min,max]",
                    f"{len(pv.value)} numbers", source,  # type: ignore[arg-type]
                )  # fmt: skip
            kwargs[key] = pv.value
        missing = [p.name for p in cls.spec if p.default is REQUIRED and p.name not in kwargs]
        if missing:
            p = known[missing[0]]
            raise AugmentationSyntaxError(
                line, column, f"parameter {p.name}={_KIND_WORD[p.kind]} for {cls.__name__}",
                "it missing", source,
            )  # fmt: skip
        try:
            return cls(**kwargs)
        except EcvlError as e:
            raise AugmentationSyntaxError(
                line, column, "valid parameter values", str(e), source
            ) from None

    @classmethod
    def fromtext(cls, txt: str) -> Augmentation:
        """Create from a parameter text, e.g. ``AugRotate.fromtext('angle=[-5,5]')``.

        A leading augmentation name equal to this class's is accepted too.

        Raises:
            AugmentationSyntaxError: Malformed text, unknown or mistyped parameters.
        """
        body = txt.strip()
        if body.split(maxsplit=1)[:1] == [cls.__name__]:
            body = body[len(cls.__name__) :]
        return cls.from_params(parse_params(body), source=body)


def is_text_call(args: tuple, kwargs: dict) -> bool:
    """Whether constructor arguments are one ECVL text string (pyecvl core's text constructors)."""
    return len(args) == 1 and not kwargs and isinstance(args[0], str)


def signature_from_spec(spec: Sequence[Param]) -> inspect.Signature:
    """An ``inspect.Signature`` for a spec table (so ``help()`` shows the pyecvl arguments)."""
    params = [
        inspect.Parameter(
            p.name + "_" if keyword.iskeyword(p.name) else p.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=p.default,
        )
        for p in spec
    ]
    return inspect.Signature(params)
