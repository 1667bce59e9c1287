"""The pyecvl ``Dataset``: a DeepHealth dataset file loaded into samples, classes and splits.

``Dataset(filename)`` decodes the YAML (paths resolve relative to the file, URLs are kept and fetched
on first read) and raises :class:`DatasetFormatError` listing every structural problem with its
line. Splits are addressed by index, name or :class:`SplitType`.
"""

from __future__ import annotations

import os
from typing import Any

from deephealth.ecvl.dataset.errors import DatasetError, DatasetFormatError
from deephealth.ecvl.dataset.model import Sample, Split, SplitType, Task
from deephealth.ecvl.dataset.parser import decode_file


class Dataset:
    """DeepHealth dataset (pyecvl ``Dataset``).

    Attributes:
        name_: Dataset name.
        description_: Description.
        classes_: Class names (classification).
        features_: Feature names.
        feature_specs_: The declared feature schema (`schema.FeatureSpec` per feature).
        samples_: The :class:`Sample` list.
        split_: The :class:`Split` list, in file order.
        current_split_: Index of the current split.
        task_: :class:`Task` (classification when classes are listed).
        filename_: The YAML file ("" when built in code).
    """

    def __init__(self, filename: str | os.PathLike | None = None, verify: bool = False) -> None:
        """Load ``filename`` (or make an empty dataset when None).

        Args:
            filename: Dataset YAML file.
            verify: Also check that every file exists and decodes (see ``ValidateDataset``).

        Raises:
            DatasetSyntaxError: Not valid YAML (line, column, expected).
            DatasetFormatError: Every structural problem, with its line.
        """
        self.name_ = ""
        self.description_ = ""
        self.classes_: list[str] = []
        self.features_: list[str] = []
        self.feature_specs_: list[Any] = []
        self.samples_: list[Sample] = []
        self.split_: list[Split] = []
        self.current_split_ = 0
        self.filename_ = ""
        if filename is None:
            return
        self.filename_ = os.fspath(filename)
        if verify:
            from deephealth.ecvl.dataset.validate import ValidateDataset

            errors = [i for i in ValidateDataset(self.filename_) if i.severity == "error"]
            if errors:
                raise DatasetFormatError(self.filename_, errors)
        d = decode_file(self.filename_)
        errors = [i for i in d.issues if i.severity == "error"]
        if errors:
            raise DatasetFormatError(self.filename_, errors)
        self.name_, self.description_ = d.name, d.description
        self.classes_, self.features_ = d.classes, d.features
        self.feature_specs_ = d.feature_specs
        self.samples_, self.split_ = d.samples, d.splits

    @property
    def task_(self) -> Task:
        """Classification when classes are listed, else segmentation."""
        return Task.classification if self.classes_ else Task.segmentation

    def _split_index(self, split: Any = -1) -> int:
        if isinstance(split, SplitType):
            split = split.name
        if isinstance(split, bool):
            raise DatasetError(f"invalid split {split!r}")
        if isinstance(split, int):
            if split < 0:
                return self.current_split_
            if split >= len(self.split_):
                raise DatasetError(
                    f"split index {split} out of range ({len(self.split_)} splits: "
                    f"{', '.join(s.split_name_ for s in self.split_)})"
                )
            return split
        for i, s in enumerate(self.split_):
            if s.split_name_ == str(split):
                return i
        names = ", ".join(s.split_name_ for s in self.split_) or "none"
        raise DatasetError(f"no split named {split!r} (splits: {names})")

    def GetSplitIndex(self, split: Any = -1) -> int:
        """Index of a split given by index, name or SplitType (-1: the current split)."""
        return self._split_index(split)

    def GetSplit(self, split: Any = -1) -> list[int]:
        """Sample indices of a split (by index, name or SplitType; -1 = current)."""
        if not self.split_:
            return list(range(len(self.samples_)))
        return self.split_[self._split_index(split)].samples_indices_

    def SetSplit(self, split: Any) -> None:
        """Make ``split`` (index, name or SplitType) the current split."""
        self.current_split_ = self._split_index(split)

    def GetLocations(self) -> list[list[str]]:
        """Locations of every sample (a list per sample)."""
        return [list(s.location_) for s in self.samples_]

    def Dump(self, path: str | os.PathLike) -> None:
        """Write the dataset as DeepHealth YAML; paths become relative to the file's folder."""
        from deephealth.ecvl.dataset.dump import dump_dataset

        dump_dataset(self, path)

    def __len__(self) -> int:
        return len(self.samples_)

    def __repr__(self) -> str:
        splits = ", ".join(f"{s.split_name_}={len(s.samples_indices_)}" for s in self.split_)
        return (
            f"{type(self).__name__}(name={self.name_!r}, samples={len(self.samples_)}, "
            f"classes={len(self.classes_)}, splits=[{splits}])"
        )
