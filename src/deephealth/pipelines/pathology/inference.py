"""Slide-level inference: run a patch model over every tile of a slide, resumably.

:func:`predict_slide` tiles a slide (tiler + tissue criterion), reads the tiles with a pool of
threads while onnxruntime runs the previous batch, and returns a :class:`SlidePrediction` that
stitches heat maps and label maps aligned with the slide, exports GeoJSON polygons and
aggregates the tiles into a slide label. Given a run folder, it checkpoints finished tiles as it
goes and, when restarted after an interruption, skips them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deephealth.ecvl.pathology.tiler import Tile, Tiler, iter_tile_pixels
from deephealth.ecvl.slide import OpenSlideImage
from deephealth.pipelines.pathology.aggregate import SlideLabel, aggregate_predictions
from deephealth.pipelines.pathology.maps import label_map, stitch, write_heatmap, write_label_map
from deephealth.pipelines.pathology.model import PatchModel
from deephealth.pipelines.pathology.polygons import export_geojson
from deephealth.pipelines.pathology.runstore import RunStore


@dataclass
class SlidePrediction:
    """Predictions of a patch model for the tiles of one slide.

    Attributes:
        slide_path: the slide.
        slide_size: level-0 ``(width, height)``.
        slide_mpp: level-0 microns per pixel, or ``None``.
        tiles: the predicted tiles.
        outputs: ``(N, C)`` probabilities or ``(N, C, h, w)`` probability maps, in tile order.
        classes: class names.
        computed: how many tiles this call ran (the rest came from the run folder).
    """

    slide_path: str
    slide_size: tuple[int, int]
    slide_mpp: tuple[float, float] | None
    tiles: list[Tile]
    outputs: np.ndarray
    classes: list[str]
    computed: int = 0
    _maps: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def is_segmentation(self) -> bool:
        """Whether the model produced per-pixel maps."""
        return self.outputs.ndim == 4

    def default_downsample(self) -> float:
        """Map resolution: one pixel per tile stride (classifier) or per output pixel (segmenter)."""
        if not self.tiles:
            return 1.0
        tile = self.tiles[0]
        if self.is_segmentation:
            return tile.extent / self.outputs.shape[-1]
        if len(self.tiles) > 1:
            steps = [abs(b.x - a.x) for a, b in zip(self.tiles, self.tiles[1:]) if b.row == a.row]
            if steps:
                return float(min(steps))
        return tile.extent

    def probability_maps(self, downsample: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(probabilities (C, H, W), coverage (H, W))`` at ``downsample`` level-0 px per pixel."""
        ds = float(downsample or self.default_downsample())
        if ds not in self._maps:
            self._maps[ds] = stitch(self.tiles, self.outputs, self.slide_size, ds)
        return self._maps[ds]

    def heatmap(self, cls: str | int, downsample: float | None = None) -> np.ndarray:
        """``(H, W)`` probability map of one class."""
        k = self.classes.index(cls) if isinstance(cls, str) else int(cls)
        return self.probability_maps(downsample)[0][k]

    def label_map(self, downsample: float | None = None) -> np.ndarray:
        """``(H, W)`` uint8 most-probable class (255 where no tile was predicted)."""
        return label_map(*self.probability_maps(downsample))

    def write_heatmap(
        self,
        path: str | os.PathLike[str],
        cls: str | int,
        downsample: float | None = None,
        colormap: str | None = None,
        min_size: int = 256,
    ) -> list[tuple[int, int]]:
        """Write one class's heat map as a slide-aligned pyramidal TIFF (see
        :func:`~deephealth.pipelines.pathology.maps.write_heatmap`)."""
        ds = float(downsample or self.default_downsample())
        probability = self.heatmap(cls, ds)
        return write_heatmap(
            path, probability, ds, self.slide_mpp, colormap=colormap, min_size=min_size
        )

    def write_label_map(
        self, path: str | os.PathLike[str], downsample: float | None = None, min_size: int = 256
    ) -> list[tuple[int, int]]:
        """Write the label map as a slide-aligned pyramidal TIFF (255 = not predicted)."""
        ds = float(downsample or self.default_downsample())
        return write_label_map(path, self.label_map(ds), ds, self.slide_mpp, min_size=min_size)

    def export_geojson(
        self,
        path: str | os.PathLike[str],
        *,
        exclude: Sequence[str] = (),
        downsample: float | None = None,
        min_area: float = 0.0,
    ) -> int:
        """Write the predicted regions of every class not in ``exclude`` as QuPath GeoJSON.

        Returns:
            The number of polygons written.
        """
        ds = float(downsample or self.default_downsample())
        return export_geojson(
            path, self.label_map(ds), ds, self.classes, exclude=exclude, min_area=min_area
        )

    def aggregate(self, method: str = "mean", **options: Any) -> SlideLabel:
        """Slide label from the tile predictions (see :func:`aggregate_predictions`)."""
        probs = self.outputs.mean(axis=(2, 3)) if self.is_segmentation else self.outputs
        return aggregate_predictions(probs, self.classes, method=method, **options)


def _manifest(
    slide: OpenSlideImage, model: PatchModel, tiler: Tiler, n_tiles: int
) -> dict[str, Any]:
    return {
        "slide": os.path.abspath(slide.path),
        "slide_size": list(slide.dimensions),
        "model_sha256": model.fingerprint,
        "tiler": repr(tiler),
        "tiles": n_tiles,
    }


def predict_slide(
    slide: str | os.PathLike[str] | OpenSlideImage,
    model: str | os.PathLike[str] | PatchModel,
    tiler: Tiler,
    *,
    batch_size: int = 32,
    workers: int = 2,
    threads: int | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    checkpoint_tiles: int = 1024,
    on_batch: Callable[[int, int], None] | None = None,
) -> SlidePrediction:
    """Run a patch classifier or segmenter over every tile of a slide.

    Args:
        slide: slide file or opened ``OpenSlideImage``.
        model: ONNX file or :class:`PatchModel`.
        tiler: tiles to predict (resolution, size, overlap, tissue criterion).
        batch_size: tiles per onnxruntime call.
        workers: tile-reader threads (they read while onnxruntime computes).
        threads: onnxruntime intra-op threads when ``model`` is a path.
        run_dir: folder for checkpoints; an interrupted run given the same folder resumes
            without redoing finished tiles.
        checkpoint_tiles: tiles per checkpoint chunk.
        on_batch: called as ``on_batch(done, total)`` after every batch (progress bars).

    Returns:
        The :class:`SlidePrediction`.

    Raises:
        SlideError: the slide cannot be opened or a tile cannot be read (names slide and
            region).
        ValueError: ``run_dir`` belongs to another slide, model or tiling.
    """
    own = not isinstance(slide, OpenSlideImage)
    handle = OpenSlideImage(slide) if own else slide
    try:
        net = model if isinstance(model, PatchModel) else PatchModel(model, threads=threads)
        tiles = tiler.tiles(handle)
        if not tiles:
            raise ValueError(f"slide '{handle.path}': the tiler {tiler!r} lists no tile")
        store = RunStore(run_dir, _manifest(handle, net, tiler, len(tiles))) if run_dir else None
        done_idx, done_out = store.load() if store else (np.zeros(0, np.int64), None)
        finished = set(done_idx.tolist())
        todo = [t for t in tiles if t.index not in finished]
        results: dict[int, np.ndarray] = {}
        pending_idx: list[int] = []
        pending_out: list[np.ndarray] = []
        batch: list[tuple[Tile, np.ndarray]] = []

        def flush() -> None:
            tiles_b = [t for t, _ in batch]
            out = net.predict(np.stack([p for _, p in batch]))
            for t, o in zip(tiles_b, out):
                results[t.index] = o
            pending_idx.extend(t.index for t in tiles_b)
            pending_out.append(out)
            batch.clear()
            if store and len(pending_idx) >= checkpoint_tiles:
                store.save(np.asarray(pending_idx), np.concatenate(pending_out))
                pending_idx.clear()
                pending_out.clear()
            if on_batch:
                on_batch(len(finished) + len(results), len(tiles))

        try:
            for tile, pixels in iter_tile_pixels(handle, todo, workers=workers):
                batch.append((tile, pixels))
                if len(batch) == batch_size:
                    flush()
            if batch:
                flush()
        finally:
            if store and pending_idx:
                store.save(np.asarray(pending_idx), np.concatenate(pending_out))
        if done_out is not None:
            for i, o in zip(done_idx.tolist(), done_out):
                results.setdefault(i, o)
        outputs = np.stack([results[t.index] for t in tiles])
        classes = net.classes(outputs.shape[1])
        return SlidePrediction(
            handle.path, handle.dimensions, handle.mpp, tiles, outputs, classes, computed=len(todo)
        )
    finally:
        if own:
            handle.Close()
