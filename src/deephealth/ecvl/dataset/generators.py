"""Build datasets from folder trees (pyecvl ``GenerateClassificationDataset`` / ``...Segmentation...``).

Classification: ``root/<split>/<class>/<image>`` (or ``root/<class>/<image>`` without splits).
Segmentation: ``root/<split>/`` holding images and ground truths either side by side (ground truths
recognised by ``suffix``) or in ``images/`` and ``ground_truth/`` subfolders; ``gt_name`` names one
ground truth shared by every image of a split that has none of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from deephealth.ecvl.dataset.dataset import Dataset
from deephealth.ecvl.dataset.errors import DatasetError
from deephealth.ecvl.dataset.model import Sample, Split

IMAGE_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".dcm", ".nii", ".nii.gz", ".npy",
)  # fmt: skip
_STANDARD_SPLITS = ("training", "validation", "test")


def _images(folder: Path) -> list[Path]:
    # scandir's entries know their type without a stat per file (100,000-file folders)
    with os.scandir(folder) as it:
        names = sorted(
            e.name for e in it if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)
        )
    return [folder / n for n in names]


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)


def _order_splits(dirs: list[Path]) -> list[Path]:
    rank = {n: i for i, n in enumerate(_STANDARD_SPLITS)}
    return sorted(dirs, key=lambda p: (rank.get(p.name, len(rank)), p.name))


class GenerateDataset:
    """Common part of the generators (pyecvl ``GenerateDataset``).

    Attributes:
        dataset_root_directory_: The root folder.
        splits_: Split folder names found.
        num_samples_: Samples per split.
        d_: The generated :class:`Dataset`.
    """

    def __init__(self, dataset_root_directory: str | os.PathLike) -> None:
        root = Path(dataset_root_directory).resolve()
        if not root.is_dir():
            raise DatasetError(
                f"dataset root {os.fspath(dataset_root_directory)!r} is not a folder"
            )
        self.dataset_root_directory_ = root
        self.splits_: list[str] = []
        self.num_samples_: list[int] = []
        self.d_ = Dataset()
        self.d_.name_ = root.name
        self.d_.description_ = root.name

    def _add_split(self, name: str, indices: list[int]) -> None:
        self.splits_.append(name)
        self.num_samples_.append(len(indices))
        self.d_.split_.append(Split(split_name_=name, samples_indices_=indices))

    def GetDataset(self) -> Dataset:
        """The generated dataset (write it with ``Dump``)."""
        return self.d_


class GenerateClassificationDataset(GenerateDataset):
    """Dataset from ``root/<split>/<class>/*`` or ``root/<class>/*`` (pyecvl name).

    Args:
        dataset_root_directory: The root folder.
    """

    def __init__(self, dataset_root_directory: str | os.PathLike) -> None:
        super().__init__(dataset_root_directory)
        root = self.dataset_root_directory_
        top = _subdirs(root)
        has_splits = bool(top) and all(_subdirs(d) and not _images(d) for d in top)
        split_dirs = _order_splits(top) if has_splits else [root]
        classes = sorted({c.name for d in split_dirs for c in _subdirs(d)})
        if not classes:
            raise DatasetError(f"{root}: no class folders found")
        self.d_.classes_ = classes
        for d in split_dirs:
            indices = []
            for ci, cname in enumerate(classes):
                cdir = d / cname
                if not cdir.is_dir():
                    continue
                for img in _images(cdir):
                    indices.append(len(self.d_.samples_))
                    self.d_.samples_.append(Sample(location_=[str(img)], label_=[ci]))
            if has_splits:
                self._add_split(d.name, indices)


class GenerateSegmentationDataset(GenerateDataset):
    """Dataset of images and ground truths from a folder tree (pyecvl name).

    Args:
        dataset_root_directory: The root folder.
        suffix: Ending of ground-truth files (``"_segmentation.png"``), or an extension
            (``".png"``) when ground truths differ from images only by extension.
        gt_name: Ground truth shared by the images of a split that have none of their own.
    """

    def __init__(
        self, dataset_root_directory: str | os.PathLike, suffix: str = "", gt_name: str = ""
    ) -> None:
        super().__init__(dataset_root_directory)
        root = self.dataset_root_directory_
        self.suffix_, self.gt_name_ = str(suffix), str(gt_name)
        top = [d for d in _subdirs(root) if d.name not in ("images", "ground_truth")]
        split_dirs = _order_splits(top) if top else [root]
        for d in split_dirs:
            indices = self._load_split(d)
            if top:
                self._add_split(d.name, indices)

    def _gt_for(self, img: Path, gt_dir: Path) -> Path | None:
        stem = img.name[: -len(".nii.gz")] if img.name.endswith(".nii.gz") else img.stem
        cand = gt_dir / (stem + self.suffix_) if self.suffix_ else gt_dir / img.name
        if cand.exists() and cand != img:
            return cand
        shared = gt_dir / self.gt_name_ if self.gt_name_ else None
        return shared if shared is not None and shared.exists() else None

    def _load_split(self, d: Path) -> list[int]:
        img_dir, gt_dir = d / "images", d / "ground_truth"
        separate = img_dir.is_dir() and gt_dir.is_dir()
        if not separate:
            img_dir = gt_dir = d
        files = _images(img_dir)
        if not separate:
            gts = {f.name for f in files if self.suffix_ and f.name.endswith(self.suffix_)}
            if self.gt_name_:
                gts.add(self.gt_name_)
            files = [f for f in files if f.name not in gts]
        indices = []
        for f in files:
            gt = self._gt_for(f, gt_dir)
            indices.append(len(self.d_.samples_))
            self.d_.samples_.append(
                Sample(location_=[str(f)], label_path_=None if gt is None else str(gt))
            )
        return indices
