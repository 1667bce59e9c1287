"""pyeddl-style scripts (only the imports changed) train on real data and reach their quality.

Data: scikit-learn's bundled digits (1797 8×8 images, 10 classes), split 75/25 with a fixed seed.
Each script is written as a pyeddl user would write it: `import deephealth.eddl as eddl`,
`from deephealth.eddl import Tensor`, pyeddl layer names and `build`/`fit`/`evaluate`.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import deephealth.eddl as eddl
from deephealth.eddl import Tensor


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    x_tr, x_te, l_tr, l_te = train_test_split(
        x, d.target, test_size=0.25, random_state=0, stratify=d.target
    )
    onehot = np.eye(10, dtype=np.float32)
    return x_tr, onehot[l_tr], x_te, onehot[l_te]


def accuracy(net, x, y):
    return eddl.evaluate(net, [x], [y], verbose=0)["categorical_accuracy"]


def test_mlp_reaches_95_percent_on_digits(digits):
    x_train, y_train, x_test, y_test = digits
    eddl.set_seed(1)
    in_ = eddl.Input([64])
    layer = eddl.LeakyReLu(eddl.Dense(in_, 128))
    layer = eddl.LeakyReLu(eddl.Dense(layer, 64))
    out = eddl.Softmax(eddl.Dense(layer, 10))
    net = eddl.Model([in_], [out])
    eddl.build(
        net, eddl.rmsprop(0.001), ["soft_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU(1)
    )
    xt, yt = Tensor.fromarray(x_train), Tensor.fromarray(y_train)
    eddl.fit(net, [xt], [yt], 32, 5, verbose=0)
    assert accuracy(net, x_test, y_test) >= 0.95


def test_cnn_with_batchnorm_reaches_95_percent(digits):
    x_train, y_train, x_test, y_test = digits
    eddl.set_seed(2)
    in_ = eddl.Input([64])
    layer = eddl.Reshape(in_, [1, 8, 8])
    layer = eddl.ReLu(eddl.BatchNormalization(eddl.Conv(layer, 16, [3, 3]), True))
    layer = eddl.MaxPool(layer, [2, 2])
    layer = eddl.ReLu(eddl.Conv(layer, 32, [3, 3]))
    out = eddl.Softmax(eddl.Dense(eddl.Flatten(layer), 10))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.005), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU(1))
    eddl.fit(net, [x_train], [y_train], 32, 8, verbose=0)
    assert eddl.evaluate(net, [x_test], [y_test], verbose=0)["accuracy"] >= 0.95


def test_conv1d_net_over_image_rows(digits):
    x_train, y_train, x_test, y_test = digits
    eddl.set_seed(3)
    in_ = eddl.Input([8, 8])  # 8 channels (rows) x 8 positions
    layer = eddl.ReLu(eddl.Conv1D(in_, 32, [3]))
    layer = eddl.MaxPool1D(layer, [2])
    layer = eddl.ReLu(eddl.Conv1D(layer, 32, [3]))
    out = eddl.Softmax(eddl.Dense(eddl.Flatten(layer), 10))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.003), ["sce"], ["categorical_accuracy"], eddl.CS_CPU(1))
    eddl.fit(net, [x_train.reshape(-1, 8, 8)], [y_train], 32, 8, verbose=0)
    assert accuracy(net, x_test.reshape(-1, 8, 8), y_test) >= 0.93


def test_autoencoder_fit_x_x(digits):
    x_train, _, x_test, _ = digits
    eddl.set_seed(4)
    in_ = eddl.Input([64])
    layer = eddl.ReLu(eddl.Dense(in_, 32))
    layer = eddl.ReLu(eddl.Dense(layer, 16))
    layer = eddl.ReLu(eddl.Dense(layer, 32))
    out = eddl.Sigmoid(eddl.Dense(layer, 64))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.005), ["mse"], ["mae"], eddl.CS_CPU(1))
    before = eddl.evaluate(net, [x_test], [x_test], verbose=0)["mse"]
    eddl.fit(net, [x_train], [x_train], 32, 15, verbose=0)
    after = eddl.evaluate(net, [x_test], [x_test], verbose=0)
    baseline = float(((x_test - x_train.mean(0)) ** 2).mean())  # predicting the mean image
    assert after["mse"] < before / 2 and after["mse"] < 0.6 * baseline


def test_lstm_sequence_classifier_reads_rows_in_order(digits):
    x_train, y_train, x_test, y_test = digits
    eddl.set_seed(5)
    in_ = eddl.Input([8, 8])  # 8 time steps (rows) of 8 features
    layer = eddl.LSTM(in_, 64)
    out = eddl.Softmax(eddl.Dense(layer, 10))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.01), ["sce"], ["categorical_accuracy"], eddl.CS_CPU(1))
    eddl.fit(net, [x_train.reshape(-1, 8, 8)], [y_train], 32, 10, verbose=0)
    assert accuracy(net, x_test.reshape(-1, 8, 8), y_test) >= 0.9


def test_resnet_style_net_with_add(digits):
    x_train, y_train, x_test, y_test = digits

    def block(layer, filters):
        shortcut = layer
        layer = eddl.ReLu(eddl.BatchNormalization(eddl.Conv(layer, filters, [3, 3]), True))
        layer = eddl.BatchNormalization(eddl.Conv(layer, filters, [3, 3]), True)
        return eddl.ReLu(eddl.Add([layer, shortcut]))

    eddl.set_seed(6)
    in_ = eddl.Input([1, 8, 8])
    layer = eddl.ReLu(eddl.Conv(in_, 16, [3, 3]))
    layer = block(block(layer, 16), 16)
    layer = eddl.GlobalAveragePool(layer)
    out = eddl.Softmax(eddl.Dense(eddl.Flatten(layer), 10))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.005), ["sce"], ["categorical_accuracy"], eddl.CS_CPU(1))
    eddl.fit(net, [x_train.reshape(-1, 1, 8, 8)], [y_train], 32, 6, verbose=0)
    assert accuracy(net, x_test.reshape(-1, 1, 8, 8), y_test) >= 0.93


def test_unet_style_segmentation_with_upsampling_and_concat(digits):
    x_train, _, x_test, _ = digits
    masks_tr = (x_train > 0.5).astype(np.float32).reshape(-1, 1, 8, 8)
    masks_te = (x_test > 0.5).astype(np.float32).reshape(-1, 1, 8, 8)
    noisy = np.random.default_rng(0)
    xin_tr = (x_train.reshape(-1, 1, 8, 8) + 0.2 * noisy.normal(size=masks_tr.shape)).astype(
        np.float32
    )
    xin_te = (x_test.reshape(-1, 1, 8, 8) + 0.2 * noisy.normal(size=masks_te.shape)).astype(
        np.float32
    )
    eddl.set_seed(7)
    in_ = eddl.Input([1, 8, 8])
    d1 = eddl.ReLu(eddl.Conv(in_, 8, [3, 3]))
    d2 = eddl.ReLu(eddl.Conv(eddl.MaxPool(d1, [2, 2]), 16, [3, 3]))
    u1 = eddl.UpSampling(d2, [2, 2])
    u1 = eddl.ReLu(eddl.Conv(eddl.Concat([u1, d1], 0), 8, [3, 3]))
    out = eddl.Sigmoid(eddl.Conv(u1, 1, [1, 1]))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.01), ["binary_cross_entropy"], [["dice", "iou"]], eddl.CS_CPU(1))
    eddl.fit(net, [xin_tr], [masks_tr], 32, 8, verbose=0)
    res = eddl.evaluate(net, [xin_te], [masks_te], verbose=0)
    assert res["dice"] >= 0.8 and res["iou"] >= 0.7


def test_train_batch_loop_as_in_pyeddl_examples(digits):
    x_train, y_train, x_test, y_test = digits
    eddl.set_seed(8)
    in_ = eddl.Input([64])
    layer = eddl.ReLu(eddl.Dense(in_, 128))
    out = eddl.Activation(eddl.Dense(layer, 10), "softmax")
    net = eddl.Model([in_], [out])
    eddl.build(
        net, eddl.sgd(0.05, 0.9), ["soft_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU(1)
    )
    xt, yt = Tensor.fromarray(x_train), Tensor.fromarray(y_train)
    s = xt.shape
    batch_size = 32
    for _ in range(6):
        eddl.reset_loss(net)
        for _ in range(s[0] // batch_size):
            indices = np.random.randint(0, s[0], batch_size)
            eddl.train_batch(net, [xt], [yt], indices)
    eddl.reset_loss(net)
    xs, ys = Tensor.fromarray(x_test), Tensor.fromarray(y_test)
    for j in range(0, x_test.shape[0], batch_size):
        idx = np.arange(j, min(j + batch_size, x_test.shape[0]))
        eddl.eval_batch(net, [xs], [ys], idx)
    assert eddl.get_metrics(net)[0] >= 0.95


class MSELoss(eddl.Loss):
    def __init__(self):
        eddl.Loss.__init__(self, "py_mean_squared_error")

    def delta(self, t, y, d):
        Tensor.copy(y - t, d)
        d.div_(t.getShape()[0])

    def value(self, t, y):
        aux = t - y
        aux = aux * aux
        return aux.sum() / (2 * t.getShape()[0])


class CategoricalAccuracy(eddl.Metric):
    def __init__(self):
        eddl.Metric.__init__(self, "py_categorical_accuracy")

    def value(self, t, y):
        a, b = t.getdata(), y.getdata()
        return float((np.argmax(a, axis=-1) == np.argmax(b, axis=-1)).sum())


def test_python_defined_loss_and_metric(digits):
    x_train, y_train, x_test, y_test = digits
    eddl.set_seed(9)
    in_ = eddl.Input([64])
    layer = eddl.ReLu(eddl.Dense(in_, 64))
    out = eddl.Softmax(eddl.Dense(layer, 10))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.sgd(0.5, 0.9), [MSELoss()], [CategoricalAccuracy()], eddl.CS_CPU(1))
    eddl.fit(net, [x_train], [y_train], 32, 10, verbose=0)
    res = eddl.evaluate(net, [x_test], [y_test], verbose=0)
    assert res["py_categorical_accuracy"] >= 0.93
    assert 0 < res["py_mean_squared_error"] < 0.1
