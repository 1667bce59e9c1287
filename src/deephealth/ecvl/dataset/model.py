"""The in-memory model of a DeepHealth dataset: split types, tasks, samples and splits (pyecvl names).

These are plain records; :mod:`.parser` fills them from YAML, :mod:`.dataset` wraps them in the
pyecvl ``Dataset`` class, and :mod:`.dump` writes them back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class SplitType(enum.IntEnum):
    """The three standard split names (pyecvl ``SplitType``); other names are allowed too."""

    training = 0
    validation = 1
    test = 2


class Task(enum.IntEnum):
    """Dataset task (pyecvl ``Task``): classification when classes are listed, else segmentation."""

    classification = 0
    segmentation = 1


@dataclass
class Sample:
    """One dataset sample (pyecvl ``Sample``).

    Attributes:
        location_: Image path(s) or URL(s); several locations are merged as channels.
        label_: Class indices (one, or several for multi-label), or None.
        label_path_: Ground-truth image path (segmentation), or None.
        values_: Feature index → value, or None.
        boxes_: Boxes as (corner coordinates, class index): ``[x0, y0, x1, y1]`` in 2D,
            ``[x0, y0, z0, x1, y1, z1]`` in 3D, pixel-edge coordinates; None when not given.
        size_: Original ``[width, height]`` once loaded.
        line_: YAML line of the sample (0 when built in code).
    """

    location_: list[str] = field(default_factory=list)
    label_: list[int] | None = None
    label_path_: str | None = None
    values_: dict[int, str] | None = None
    boxes_: list[tuple[list[float], int]] | None = None
    size_: list[int] = field(default_factory=list)
    line_: int = 0

    def LoadImage(self, ctype: Any = "RGB", is_gt: bool = False) -> Any:
        """Read the sample image (or its ground truth) as an Image (pyecvl ``Sample.LoadImage``).

        Args:
            ctype: ColorType (or its name) of the result: RGB, BGR, GRAY or none (as stored).
            is_gt: Read ``label_path_`` instead of ``location_``.

        Raises:
            SampleLoadError: A file is missing or cannot be decoded.
        """
        from deephealth.ecvl.augment._arrays import new_image
        from deephealth.ecvl.dataset.reader import color_name, read_sample_array
        from deephealth.ecvl.image import ColorType

        arr = read_sample_array(self, ctype, is_gt)
        if not self.size_:
            self.size_ = [int(arr.shape[-2]), int(arr.shape[-3])]
        name = color_name(ctype)
        ct = ColorType(name) if name in ColorType.__members__ else ColorType.none
        if arr.shape[-1] != {"RGB": 3, "BGR": 3, "GRAY": 1}.get(name, arr.shape[-1]):
            ct = ColorType.none
        return new_image(arr, ct)


@dataclass
class Split:
    """A named subset of the samples (pyecvl ``Split``).

    Attributes:
        split_name_: Name (``training``, ``validation``, ``test`` or any other).
        samples_indices_: Sample indices.
        drop_last_: Whether the last incomplete batch is dropped.
        no_label_: Whether the split's samples have no labels.
        num_batches_: Number of batches for the current batch size.
        last_batch_: Size of the last batch.
        line_: YAML line of the split (0 when built in code).
    """

    split_name_: str = ""
    samples_indices_: list[int] = field(default_factory=list)
    drop_last_: bool = False
    no_label_: bool = False
    num_batches_: int = 0
    last_batch_: int = 0
    line_: int = 0

    def __init__(
        self,
        split_name_: str = "",
        samples_indices_: list[int] | None = None,
        drop_last_: bool = False,
        no_label_: bool = False,
        num_batches_: int = 0,
        last_batch_: int = 0,
        line_: int = 0,
        *,
        drop_last: bool | None = None,
        no_label: bool | None = None,
    ) -> None:
        """Positional order as pyecvl's ``Split(name, indices, drop_last, no_label)``; the
        keywords ``drop_last=``/``no_label=`` (pyecvl) and ``drop_last_=``/``no_label_=`` both work.
        """
        self.split_name_ = split_name_
        self.samples_indices_ = [] if samples_indices_ is None else list(samples_indices_)
        self.drop_last_ = bool(drop_last_ if drop_last is None else drop_last)
        self.no_label_ = bool(no_label_ if no_label is None else no_label)
        self.num_batches_, self.last_batch_, self.line_ = num_batches_, last_batch_, line_

    @property
    def split_type_(self) -> SplitType | None:
        """The SplitType for the standard names, else None."""
        return SplitType.__members__.get(self.split_name_)

    def SetNumBatches(self, batch_size: int) -> None:
        """Compute ``num_batches_`` for ``batch_size`` (honouring ``drop_last_``)."""
        n = len(self.samples_indices_)
        self.num_batches_ = n // batch_size if self.drop_last_ else -(-n // batch_size)

    def SetLastBatch(self, batch_size: int) -> None:
        """Compute ``last_batch_`` (size of the last batch) for ``batch_size``."""
        n = len(self.samples_indices_)
        rem = n % batch_size
        self.last_batch_ = batch_size if rem == 0 or self.drop_last_ else rem
