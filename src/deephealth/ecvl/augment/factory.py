"""Build augmentations from ECVL text (pyecvl ``AugmentationFactory``).

``AugmentationFactory.create(text)`` parses one augmentation or container block and builds it by
name from the registry every augmentation class joins when it is defined. Unknown names, unknown
parameters and mistyped values are reported with the line and column where they occur.
"""

from __future__ import annotations

from deephealth.ecvl.augment import crop, distortion, geometric, intensity, noise  # noqa: F401
from deephealth.ecvl.augment import signal as _signal_augs  # noqa: F401
from deephealth.ecvl.augment.base import REGISTRY, Augmentation
from deephealth.ecvl.augment.containers import (
    OneOfAugmentationContainer,
    SequentialAugmentationContainer,
    register_text_builder,
)
from deephealth.ecvl.augment.parser import (
    AugmentationSyntaxError,
    AugNode,
    ParamValue,
    parse,
    parse_block,
)


def _container(
    name: str, params: dict[str, ParamValue], children: list[Augmentation], line: int, col: int,
    source: str,
) -> Augmentation:  # fmt: skip
    if name == "SequentialAugmentationContainer":
        for key, pv in params.items():
            raise AugmentationSyntaxError(
                pv.line, pv.column - len(key) - 1, "no parameters for SequentialAugmentationContainer",
                repr(key), source,
            )  # fmt: skip
        return SequentialAugmentationContainer(children)
    extra = [k for k in params if k != "p"]
    if extra:
        pv = params[extra[0]]
        raise AugmentationSyntaxError(
            pv.line, pv.column - len(extra[0]) - 1, "only p=<probability> for OneOfAugmentationContainer",
            repr(extra[0]), source,
        )  # fmt: skip
    p = params.get("p")
    if p is None:
        raise AugmentationSyntaxError(
            line, col, "p=<probability> as first parameter of OneOfAugmentationContainer",
            "it missing", source,
        )  # fmt: skip
    if p.kind != "number" or not 0.0 <= float(p.value) <= 1.0:  # type: ignore[arg-type]
        raise AugmentationSyntaxError(
            p.line, p.column, "p to be a number in [0,1]", str(p.value), source
        )
    return OneOfAugmentationContainer(float(p.value), children)  # type: ignore[arg-type]


def build(node: AugNode, source: str) -> Augmentation:
    """Build the augmentation described by a parsed node.

    Raises:
        AugmentationSyntaxError: Unknown augmentation or parameter, or a mistyped value.
    """
    if node.name in ("SequentialAugmentationContainer", "OneOfAugmentationContainer"):
        children = [build(c, source) for c in node.children]
        return _container(node.name, node.params, children, node.line, node.column, source)
    cls = REGISTRY.get(node.name)
    if cls is None or node.name.startswith("_"):
        known = ", ".join(sorted(REGISTRY))
        raise AugmentationSyntaxError(
            node.line, node.column, f"an augmentation name ({known})", repr(node.name), source
        )
    return cls.from_params(node.params, node.line, node.column, source)


def build_container(name: str, text: str) -> Augmentation:
    """Build container ``name`` from a ``fromtext`` body (members, ``end``)."""
    params, nodes = parse_block(text, with_params=name == "OneOfAugmentationContainer")
    children = [build(c, text) for c in nodes]
    return _container(name, params, children, 1, 1, text)


register_text_builder(build_container)


class AugmentationFactory:
    """Create augmentations from text strings (pyecvl ``AugmentationFactory``).

    Example:
        >>> AugmentationFactory.create('AugFlip p=0.5').to_text()
        'AugFlip p=0.5'
        >>> AugmentationFactory.create('AugFlip', 'p=0.25').to_text()
        'AugFlip p=0.25'
    """

    @staticmethod
    def create(s1: str, s2: str | None = None) -> Augmentation:
        """Parse ``s1`` (name and parameters), or name ``s1`` with parameter text ``s2``.

        Raises:
            AugmentationSyntaxError: Malformed text, with line, column and what was expected.
        """
        text = s1 if s2 is None else f"{s1} {s2}"
        return build(parse(text), text)
