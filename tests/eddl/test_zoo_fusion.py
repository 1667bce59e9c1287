"""Image + clinical-values networks: every fusion builds, trains, exports with named inputs and
matches onnxruntime and a re-import in a new process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl import zoo
from deephealth.eddl.zoo.fusion import FUSIONS
from deephealth.serving import InferenceSession


def _inputs(fusion: str, shape: tuple[int, ...], n: int, k: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    img = rng.random((n, *shape), dtype=np.float32)
    tab = rng.normal(size=(n, k)).astype(np.float32)
    return {"image": [img], "tabular": [tab]}.get(fusion, [img, tab])


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("shape", [(1, 16, 16), (1, 8, 8, 8)], ids=["2d", "3d"])
def test_fusion_exports_named_inputs_and_matches_onnxruntime(fusion, shape, tmp_path) -> None:
    net = zoo.build_model("fusion", shape, 2, num_features=6, fusion=fusion, filters=(4, 8))
    expected = {"image": ["image"], "tabular": ["features"]}.get(fusion, ["image", "features"])
    assert [layer.name for layer in net.inputs] == expected
    assert net.outputs[0].output_shape == (2,)
    xs = _inputs(fusion, shape, 3)
    net.graph.eval()
    with torch.no_grad():
        want = net.graph(*[torch.from_numpy(x) for x in xs])[0].numpy()
    path = tmp_path / "m.onnx"
    eddl.save_net_to_onnx_file(net, str(path))
    sess = InferenceSession(path)
    assert sess.input_names == expected
    np.testing.assert_allclose(sess.run(*xs), want, atol=1e-5)
    if fusion != "gated":  # the new-process re-import once, on the variant with every block
        return
    np.save(tmp_path / "want.npy", want)
    np.savez(tmp_path / "x.npz", *xs)
    code = (
        "import sys, numpy as np, torch, deephealth.eddl as eddl\n"
        "net = eddl.import_net_from_onnx_file(sys.argv[1]); net.graph.eval()\n"
        "xs = [torch.from_numpy(a) for a in np.load(sys.argv[2]).values()]\n"
        "with torch.no_grad(): out = net.graph(*xs)[0].numpy()\n"
        "np.testing.assert_array_equal(out, np.load(sys.argv[3]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "x.npz"), str(tmp_path / "want.npy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_gated_fusion_trains_on_both_inputs() -> None:
    """The target needs both modalities (image brightness + a clinical value): the loss falls."""
    rng = np.random.default_rng(1)
    n = 128
    level = rng.random(n).astype(np.float32)
    img = (level[:, None, None, None] * np.ones((n, 1, 8, 8), np.float32)).astype(np.float32)
    tab = rng.normal(size=(n, 3)).astype(np.float32)
    y = (2 * level + tab[:, 0]).reshape(-1, 1).astype(np.float32)
    net = zoo.build_model("fusion", (1, 8, 8), 1, num_features=3, fusion="gated", filters=(4,))
    eddl.build(net, eddl.adam(0.01), ["mse"], ["mae"], eddl.CS_CPU())
    x_t = [eddl.Tensor.fromarray(img), eddl.Tensor.fromarray(tab)]

    def mse() -> float:
        return float(np.mean((np.asarray(eddl.predict(net, x_t)[0]) - y) ** 2))

    before = mse()
    eddl.fit(net, x_t, [eddl.Tensor.fromarray(y)], 32, 30)
    assert mse() < 0.2 * before


def test_bad_fusion_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="fusion must be one of"):
        zoo.build_model("fusion", (1, 8, 8), 1, fusion="middle")
    with pytest.raises(ValueError, match="input_shape"):
        zoo.build_model("fusion", (8, 8), 1)
