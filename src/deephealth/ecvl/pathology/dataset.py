"""Streaming patch dataset: tiles read from slides on the fly, in batches for training.

:class:`PatchDataset` lists the tiles of a set of slides once (tiler + tissue criterion),
labels them from each slide's label or from its annotation polygons, and on every pass yields
``(x, y)`` batches in a fresh shuffled order without writing tiles to disk: ``x`` is ``NCHW``
float32 in ``[0, 1]`` (optionally standardized), ``y`` a one-hot ``(N, classes)`` matrix (or
``(N, classes, H, W)`` masks for segmentation), as torch tensors or numpy arrays. Tiles are
read by a pool of threads; optional stain normalization / augmentation run on each tile.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deephealth.ecvl.pathology.annotations import Annotation, AnnotationLabeler, read_geojson
from deephealth.ecvl.pathology.tiler import Tile, Tiler, ordered_map, read_tile


@dataclass
class SlideSource:
    """One slide of a patch dataset.

    Attributes:
        path: slide file.
        label: slide-level class name given to every tile (classification), or ``None``.
        annotations: GeoJSON file or list of :class:`Annotation` labelling tiles by polygon.
    """

    path: str | os.PathLike[str]
    label: str | None = None
    annotations: str | os.PathLike[str] | Sequence[Annotation] | None = None


@dataclass(frozen=True)
class Sample:
    """A listed tile: which slide, which tile, which class index."""

    source: int
    tile: Tile
    label: int


class PatchDataset:
    """Iterable of ``(x, y)`` batches of tiles streamed from whole-slide images.

    Args:
        sources: slides with their labels (:class:`SlideSource`, or ``(path, label)`` pairs).
        classes: class names in index order.
        tiler: how to tile every slide.
        batch_size: tiles per batch.
        target: ``"class"`` (one-hot per tile) or ``"mask"`` (one-hot mask per pixel, from
            annotations).
        background: class name of unannotated tissue for annotation-labelled slides (``None``
            drops tiles no annotation covers).
        min_fraction: fraction of a tile a polygon class must cover to label it.
        shuffle: new random order on every pass.
        seed: seed of the shuffling (pass ``epoch`` is added to it).
        drop_last: drop the last incomplete batch.
        transform: function applied to each ``(H, W, 3)`` uint8 tile (stain normalization,
            stain augmentation, any augmentation on arrays).
        mean: per-channel mean subtracted after scaling to ``[0, 1]``.
        std: per-channel standard deviation divided after that.
        as_tensor: yield torch tensors (else numpy arrays).
        workers: reader threads.
    """

    def __init__(
        self,
        sources: Sequence[SlideSource | tuple[str, str]],
        classes: Sequence[str],
        tiler: Tiler,
        *,
        batch_size: int = 32,
        target: str = "class",
        background: str | None = None,
        min_fraction: float = 0.5,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        as_tensor: bool = True,
        workers: int = 1,
    ) -> None:
        if target not in ("class", "mask"):
            raise ValueError(f"target must be 'class' or 'mask', got '{target}'")
        self.sources = [s if isinstance(s, SlideSource) else SlideSource(*s) for s in sources]
        self.classes = list(classes)
        self.tiler = tiler
        self.batch_size = batch_size
        self.target = target
        self.background = background
        self.min_fraction = min_fraction
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.transform = transform
        self.mean = None if mean is None else np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.std = None if std is None else np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        self.as_tensor = as_tensor
        self.workers = workers
        self.epoch = 0
        self._slides: list[Any] = []
        self._labelers: list[AnnotationLabeler | None] = []
        self._samples: list[Sample] | None = None

    # -- listing ---------------------------------------------------------------------------
    def _open(self) -> None:
        from deephealth.ecvl.slide import OpenSlideImage

        if self._slides:
            return
        for source in self.sources:
            slide = OpenSlideImage(source.path)
            self._slides.append(slide)
            labeler = None
            if source.annotations is not None:
                ann = source.annotations
                polygons = read_geojson(ann) if isinstance(ann, (str, os.PathLike)) else list(ann)
                labeler = AnnotationLabeler(
                    polygons,
                    self.classes,
                    slide.dimensions,
                    background=self.background,
                    min_fraction=self.min_fraction,
                )
            elif source.label is None or self.target == "mask":
                raise ValueError(
                    f"slide '{source.path}' needs annotations"
                    + ("" if self.target == "mask" else " or a slide label")
                )
            elif source.label not in self.classes:
                raise ValueError(
                    f"slide '{source.path}': label '{source.label}' not in {self.classes}"
                )
            self._labelers.append(labeler)

    @property
    def samples(self) -> list[Sample]:
        """Every labelled tile of every slide (listed on first use)."""
        if self._samples is None:
            self._open()
            samples: list[Sample] = []
            for i, (source, slide) in enumerate(zip(self.sources, self._slides)):
                labeler = self._labelers[i]
                for tile in self.tiler.tiles(slide):
                    if labeler is None:
                        label: int | None = self.classes.index(source.label)  # type: ignore[arg-type]
                    elif self.target == "mask":
                        label = 0
                    else:
                        label = labeler.label(tile)
                    if label is not None:
                        samples.append(Sample(i, tile, label))
            self._samples = samples
        return self._samples

    def __len__(self) -> int:
        """Number of batches per pass."""
        n = len(self.samples)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        """Number of tiles per pass."""
        return len(self.samples)

    def class_counts(self) -> dict[str, int]:
        """Number of tiles of each class (``target="class"``)."""
        counts = np.bincount([s.label for s in self.samples], minlength=len(self.classes))
        return dict(zip(self.classes, (int(c) for c in counts)))

    # -- reading -----------------------------------------------------------------------------
    def read_sample(self, sample: Sample) -> tuple[np.ndarray, np.ndarray | int]:
        """Read one sample: ``(tile pixels (H, W, 3) uint8, class index or mask)``."""
        pixels = read_tile(self._slides[sample.source], sample.tile)
        if self.transform is not None:
            pixels = self.transform(pixels)
        if self.target == "mask":
            labeler = self._labelers[sample.source]
            return pixels, labeler.mask(sample.tile)  # type: ignore[union-attr]
        return pixels, sample.label

    def _batch(self, items: list[tuple[np.ndarray, np.ndarray | int]]) -> tuple[Any, Any]:
        x = np.stack([p for p, _ in items]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        if self.mean is not None:
            x -= self.mean
        if self.std is not None:
            x /= self.std
        eye = np.eye(len(self.classes), dtype=np.float32)
        if self.target == "mask":
            y = eye[np.stack([m for _, m in items])].transpose(0, 3, 1, 2)
        else:
            y = eye[np.asarray([lab for _, lab in items])]
        y = np.ascontiguousarray(y)
        if self.as_tensor:
            import torch

            return torch.from_numpy(x), torch.from_numpy(y)
        return x, y

    def order(self, epoch: int) -> list[Sample]:
        """The samples in the order of pass ``epoch``."""
        samples = list(self.samples)
        if self.shuffle:
            rng = np.random.default_rng(self.seed + epoch)
            samples = [samples[i] for i in rng.permutation(len(samples))]
        return samples

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        """Yield the batches of one pass (each pass reshuffles)."""
        order = self.order(self.epoch)
        self.epoch += 1
        batch: list[tuple[np.ndarray, np.ndarray | int]] = []
        for _, item in ordered_map(self.read_sample, order, self.workers):
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self._batch(batch)
                batch = []
        if batch and not self.drop_last:
            yield self._batch(batch)

    def close(self) -> None:
        """Close the slides."""
        for slide in self._slides:
            slide.Close()
        self._slides = []
        self._labelers = []
        self._samples = None

    def __enter__(self) -> PatchDataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
