"""A PatchDataset streams slide tiles straight into ``eddl.fit`` (no tiles on disk).

Two synthetic slides, one pink (tissue) and one purple (tumour), labelled at slide level; a
tiny network trained on their tiles must separate them, and must then classify each tile of a
mixed slide by its colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import deephealth.eddl as eddl
from deephealth.ecvl.pathology import PatchDataset, SlideSource, Tiler
from deephealth.ecvl.pathology.synthetic import synthetic_slide


def test_fit_on_streamed_tiles(tmp_path: Path) -> None:
    synthetic_slide(tmp_path / "normal.tif", (1024, 768), [("tissue", (0, 0, 1024, 768))])
    synthetic_slide(tmp_path / "tumour.tif", (1024, 768), [("tumour", (0, 0, 1024, 768))], seed=1)
    classes = ["tissue", "tumour"]
    train = PatchDataset(
        [
            SlideSource(tmp_path / "normal.tif", "tissue"),
            SlideSource(tmp_path / "tumour.tif", "tumour"),
        ],
        classes,
        Tiler(32, level=2),
        batch_size=16,
        seed=0,
    )
    in_ = eddl.Input([3, 32, 32])
    out = eddl.Softmax(eddl.Dense(eddl.Flatten(eddl.GlobalAveragePool2D(in_)), 2))
    net = eddl.Model([in_], [out])
    eddl.build(
        net, eddl.adam(0.05), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    history = eddl.fit(net, train, epochs=15, verbose=0)
    assert history[-1]["samples"] == train.num_samples == 2 * 48
    assert history[-1]["metrics"]["categorical_accuracy"] == 1.0

    synthetic_slide(
        tmp_path / "mixed.tif",
        (512, 512),
        [("tissue", (0, 0, 512, 256)), ("tumour", (0, 256, 512, 256))],
    )
    mixed = PatchDataset(
        [SlideSource(tmp_path / "mixed.tif", "tissue")],
        classes,
        Tiler(32, level=1),
        shuffle=False,
        batch_size=64,
    )
    ((x, _),) = list(mixed)
    (predicted,) = eddl.predict(net, [x.numpy()])
    labels = np.asarray(predicted.getdata()).argmax(1)
    np.testing.assert_array_equal(labels, [0] * 32 + [1] * 32)  # top half pink, bottom half purple
