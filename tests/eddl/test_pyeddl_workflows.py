"""The workflows of pyeddl's example scripts, written as a pyeddl user writes them.

Each test is pyeddl-shaped code (`eddl.download_mnist()`, `Tensor.load("mnist_trX.bin")`,
`Model([in_], [])`, `newloss`, `download_model(name, key)`, `net.lin[0]`, ...) with only the import
changed. Data are small stand-ins in EDDL's original formats served by a loopback mirror: MNIST's
files hold real Fashion-MNIST images (same layout: N×784 pixels in [0, 255], one-hot labels), CIFAR
and DRIVE files hold generated images with learnable structure, and the pretrained model is an
ONNX network with the layer names of EDDL's ResNet-18 file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.eddl.http_mirror import MirrorServer

import deephealth.eddl as eddl
from deephealth.eddl import Tensor
from deephealth.eddl.examples import fashion_mnist
from deephealth.eddl.tensor import bin_bytes


def _write_mirror(root: Path) -> None:
    x, y, xt, yt = fashion_mnist.load(fashion_mnist.DEFAULT_DIR, 600)
    onehot = np.eye(10, dtype=np.float32)
    files = {
        "mnist_trX.bin": np.rint(x.reshape(len(x), 784) * 255.0),
        "mnist_trY.bin": y,
        "mnist_tsX.bin": np.rint(xt[:200].reshape(200, 784) * 255.0),
        "mnist_tsY.bin": yt[:200],
    }
    rng = np.random.default_rng(0)
    for part, n in (("tr", 240), ("ts", 60)):
        labels = rng.integers(0, 10, n)
        img = rng.uniform(0, 60, (n, 3, 32, 32))
        img[np.arange(n), labels % 3] += 18.0 * (labels[:, None, None] + 1)  # class = colour level
        files[f"cifar_{part}X.bin"] = np.rint(img)
        files[f"cifar_{part}Y.bin"] = onehot[labels]
    files["drive_trX.bin"] = rng.integers(0, 256, (4, 40, 40, 3))
    files["drive_trY.bin"] = 255.0 * rng.integers(0, 2, (4, 40, 40))
    for name, array in files.items():
        data = bin_bytes(array)
        (root / name).write_bytes(data)
        (root / f"{name}.sha256").write_text(hashlib.sha256(data).hexdigest() + f"  {name}\n")
    # an ONNX file with the layer names of EDDL's resnet18.onnx (data, flatten_170, dense)
    x_in = eddl.Input([3, 32, 32], name="data")
    h = eddl.ReLu(eddl.Conv2D(x_in, 8, [3, 3], [2, 2], name="resnetv15_conv0_fwd"))
    h = eddl.Flatten(eddl.GlobalAveragePool2D(h, name="resnetv15_pool1_fwd"), name="flatten_170")
    net = eddl.Model([x_in], [eddl.Dense(h, 1000, name="resnetv15_dense0_fwd")])
    eddl.save_net_to_onnx_file(net, str(root / "resnet18.onnx"))


@pytest.fixture(scope="module")
def mirror_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (fashion_mnist.DEFAULT_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST is installed by scripts/install_system_deps.sh")
    root = tmp_path_factory.mktemp("mirror")
    _write_mirror(root)
    return root


@pytest.fixture
def workdir(mirror_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    server = MirrorServer(mirror_root)
    monkeypatch.setenv("DEEPHEALTH_DATASETS_URL", server.url)
    monkeypatch.setenv("DEEPHEALTH_MODELS_URL", server.url)
    monkeypatch.setenv("DEEPHEALTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    eddl.set_seed(1)
    yield tmp_path
    server.stop()


def test_mnist_mlp(workdir: Path) -> None:
    eddl.download_mnist()
    in_ = eddl.Input([784])
    layer = eddl.LeakyReLu(eddl.Dense(in_, 64))
    out = eddl.Softmax(eddl.Dense(layer, 10), -1)
    net = eddl.Model([in_], [out])
    eddl.build(
        net, eddl.rmsprop(0.01), ["soft_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    x_train = Tensor.load("mnist_trX.bin")
    y_train = Tensor.load("mnist_trY.bin")
    x_test = Tensor.load("mnist_tsX.bin")
    y_test = Tensor.load("mnist_tsY.bin")
    x_train = x_train.select([":500"])
    y_train = y_train.select([":500"])
    x_train.div_(255.0)
    x_test.div_(255.0)
    eddl.fit(net, [x_train], [y_train], 50, 4, verbose=0)
    result = eddl.evaluate(net, [x_test], [y_test], bs=50, verbose=0)
    assert x_train.shape == [500, 784] and x_test.shape == [200, 784]
    assert result["categorical_accuracy"] > 0.4  # 10 classes; Fashion-MNIST, 500 images, 4 epochs


def test_mnist_losses_newloss_on_a_model_without_outputs(workdir: Path) -> None:
    def mse_loss(inputs):
        diff = eddl.Diff(inputs[0], inputs[1])
        return eddl.Mult(diff, diff)

    eddl.download_mnist()
    in_ = eddl.Input([784])
    target = eddl.Reshape(in_, [1, 28, 28])
    layer = eddl.Reshape(in_, [1, 28, 28])
    layer = eddl.ReLu(eddl.Conv(layer, 8, [3, 3]))
    out = eddl.Sigmoid(eddl.Conv(layer, 1, [3, 3]))
    net = eddl.Model([in_], [])
    assert {lay.name for lay in net.lout} == {out.name, target.name}
    eddl.build(net, eddl.adam(0.01), [], [], eddl.CS_CPU())
    mse = eddl.newloss(mse_loss, [out, target], "mse_loss")
    x_train = Tensor.load("mnist_trX.bin").select([":200"])
    x_train.div_(255.0)
    batch = Tensor([50, 784])
    losses = []
    for _ in range(3):
        for _ in range(4):
            eddl.next_batch([x_train], [batch])
            eddl.zeroGrads(net)
            eddl.forward(net, [batch])
            losses.append(eddl.compute_loss(mse) / 50)
            eddl.optimize(mse)
            eddl.update(net)
    assert mse.value == pytest.approx(losses[-1] * 50)
    assert np.mean(losses[-4:]) < 0.85 * np.mean(losses[:4])  # it learns (27 % in 12 steps)


def test_drive_style_augmentation_net_read_with_getoutput(workdir: Path) -> None:
    eddl.download_drive()
    in_1 = eddl.Input([3, 40, 40])
    in_2 = eddl.Input([1, 40, 40])
    layer = eddl.Concat([in_1, in_2])
    layer = eddl.CenteredCrop(layer, [32, 32])
    img = eddl.Select(layer, ["0:3"])
    mask = eddl.Select(layer, ["3"])
    danet = eddl.Model([in_1, in_2], [])
    eddl.build(danet)
    x_train = Tensor.load("drive_trX.bin").permute([0, 3, 1, 2])
    y_train = Tensor.load("drive_trY.bin")
    y_train.reshape_([4, 1, 40, 40])
    y_train.div_(255.0)
    xbatch, ybatch = Tensor([2, 3, 40, 40]), Tensor([2, 1, 40, 40])
    eddl.next_batch([x_train, y_train], [xbatch, ybatch])
    eddl.forward(danet, [xbatch, ybatch])
    x_da, y_da = eddl.getOutput(img), eddl.getOutput(mask)
    assert x_da.shape == [2, 3, 32, 32] and y_da.shape == [2, 1, 32, 32]
    np.testing.assert_array_equal(x_da.getdata(), xbatch.getdata()[:, :, 4:36, 4:36])
    np.testing.assert_array_equal(y_da.getdata(), ybatch.getdata()[:, :, 4:36, 4:36])
    assert set(np.unique(y_da.getdata())) <= {0.0, 1.0}


def test_onnx_import_and_reshape_for_transfer_learning(workdir: Path) -> None:
    eddl.download_cifar10()
    eddl.download_model(
        "resnet18.onnx", "re7jodd12srksd7"
    )  # EDDL's Dropbox key: the mirror serves it
    net = eddl.import_net_from_onnx_file("resnet18.onnx", [3, 32, 32], eddl.DEV_CPU)
    names = [layer.name for layer in net.layers]
    eddl.removeLayer(net, "resnetv15_dense0_fwd")
    layer = eddl.getLayer(net, "flatten_170")
    out = eddl.Softmax(eddl.Dense(layer, 10, True, "new_dense"))
    in_ = eddl.getLayer(net, "data")
    net = eddl.Model([in_], [out])
    eddl.build(
        net,
        eddl.Adam(0.005),
        ["softmax_cross_entropy"],
        ["categorical_accuracy"],
        eddl.CS_CPU(),
        False,
    )
    eddl.initializeLayer(net, "new_dense")
    frozen = eddl.getLayer(net, "resnetv15_conv0_fwd").module.weight.detach().clone()
    x_train = Tensor.load("cifar_trX.bin")
    y_train = Tensor.load("cifar_trY.bin")
    x_train.div_(255.0)
    with pytest.warns(UserWarning, match="no layer 'resnetv15_dense0_fwd'"):
        for n in names:  # as pyeddl's example: the removed layer's name is ignored, as EDDL
            eddl.setTrainable(net, n, False)
    eddl.fit(net, [x_train], [y_train], 40, 2, verbose=0)
    after = eddl.getLayer(net, "resnetv15_conv0_fwd").module.weight.detach()
    assert np.array_equal(frozen.numpy(), after.numpy())  # pretrained part frozen
    assert net.lout[0].output_shape == (10,)


def test_image_classification_application(workdir: Path) -> None:
    eddl.download_model("resnet18.onnx", "re7jodd12srksd7")
    net = eddl.import_net_from_onnx_file("resnet18.onnx", [3, 32, 32])
    input_, output = net.lin[0], net.lout[0]
    net = eddl.Model([input_], [eddl.Softmax(output)])
    eddl.build(
        net,
        eddl.adam(0.001),
        ["softmax_cross_entropy"],
        ["categorical_accuracy"],
        eddl.CS_CPU(),
        False,
    )
    rng = np.random.default_rng(3)
    Tensor.fromarray(rng.integers(0, 256, (3, 48, 64)).astype(np.float32)).save("photo.png")
    image = Tensor.load("photo.png")
    assert image.shape == [3, 48, 64]
    image.unsqueeze_(0)
    image = image.scale([32, 32])
    image.div_(255.0)
    image.sub_(0.5)
    (probs,) = eddl.predict(net, [image])
    names = [f"class_{i}" for i in range(1000)]
    text = eddl.get_topk_predictions(probs, names, 5)
    p = probs.getdata().reshape(-1)
    best = np.argsort(-p, kind="stable")[:5]
    assert text.splitlines()[0] == f"1. class_{best[0]} ({100 * p[best[0]]:.2f}%)"
    assert [line.split()[1] for line in text.splitlines()] == [f"class_{i}" for i in best]


def test_tensor_script_array_round_trip(workdir: Path) -> None:
    a = np.arange(6).reshape([2, 3]).astype(np.float32)
    t = Tensor.fromarray(a)
    t.save("./a.bin", "bin")
    t1 = Tensor.load("a.bin", "bin")
    np.testing.assert_array_equal(t1.getdata(), a)
    u = Tensor.add(Tensor.mult(t1, 2), t1)  # pyeddl's static forms
    np.testing.assert_array_equal(np.array(u, copy=False), 3 * a)
    v = Tensor.concat([t1, u], 0)
    v.set_select(["1", ":"], Tensor.fromarray(np.full([1, 3], -1, np.float32)))
    assert v.select(["1", ":"]).shape == [1, 3] and v.select(["1"]).sum() == -3.0
    np.testing.assert_allclose(Tensor.mult2D(t1, Tensor.permute(t1, [1, 0])).getdata(), a @ a.T)
    assert t1.trace() == 0.0 + 4.0 and t1.max() == 5.0 and t1.argmax() == 5


def test_builtin_loss_and_metric_on_tensors_as_pyeddl() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((8, 10), dtype=np.float32), rng.random((8, 10), dtype=np.float32)
    t, y = Tensor.fromarray(a), Tensor.fromarray(b)
    d = Tensor([8, 10])
    eddl.getLoss("mse").delta(t, y, d)
    np.testing.assert_allclose(d.getdata(), (b - a) / 8, rtol=1e-6)
    assert eddl.getLoss("mse").value(t, y) == pytest.approx(((a - b) ** 2).sum() / 10, rel=1e-5)
    assert eddl.getMetric("mse").value(t, y) == pytest.approx(((a - b) ** 2).sum() / 10, rel=1e-5)
    hits = (a.argmax(1) == b.argmax(1)).sum()
    assert eddl.getMetric("categorical_accuracy").value(t, y) == pytest.approx(hits)
