"""The model zoo: every model builds with the right output shape and parameter count, runs, and the
small configurations export to ONNX and match onnxruntime."""

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl import zoo
from deephealth.serving import InferenceSession

# Reference parameter counts at 3x224x224 and 1000 classes (the torchvision implementations).
REFERENCE_PARAMS = {
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "densenet121": 7_978_856,
    "mobilenet": 4_231_976,
}

# name -> (input shape, classes, kwargs, expected output shape, params order of magnitude)
SMALL = {
    "lenet": ((1, 28, 28), 10, {}, (10,), 1e6),
    "resnet18": ((3, 32, 32), 5, {}, (5,), 1e7),
    "mobilenet": ((3, 32, 32), 3, {"alpha": 0.25}, (3,), 1e5),
    "densenet121": ((3, 32, 32), 4, {}, (4,), 1e6),
    "vgg16_bn": ((3, 32, 32), 10, {"hidden": 64}, (10,), 1e7),
    "cnn3d": ((1, 16, 16, 16), 2, {}, (2,), 1e5),
    "unet": ((1, 32, 32), 1, {"base_filters": 8, "depth": 2}, (1, 32, 32), 1e4),
    "unet3d": ((1, 16, 16, 16), 3, {"base_filters": 4, "depth": 2}, (3, 16, 16, 16), 1e4),
    "segnet": ((3, 32, 32), 2, {"base_filters": 4}, (2, 32, 32), 1e5),
    "deeplabv3plus": ((3, 32, 32), 1, {"base_filters": 8}, (1, 32, 32), 1e5),
    "cnn1d": ((4, 256), 2, {}, (2,), 1e5),
    "resnet1d": ((12, 500), 3, {"base_filters": 8}, (3,), 1e5),
    "cnnlstm": ((4, 256), 2, {}, (2,), 1e5),
    "eegnet": ((8, 256), 2, {}, (2,), 1e3),
    "centernet3d": ((1, 16, 16, 16), 1, {"filters": (4, 8), "fpn_filters": 4}, (2, 8, 8, 8), 3e3),
    "fcos": ((1, 32, 32), 2, {"filters": (8, 16), "fpn_filters": 8, "stride": 2}, (7, 16, 16), 1e4),
}


def _params(model) -> int:
    return sum(layer.num_parameters() for layer in model.layers)


def test_every_model_is_covered():
    assert set(SMALL) | set(REFERENCE_PARAMS) | {"unet", "fusion"} >= set(zoo.list_models())
    assert set(zoo.list_models("dense")) == {"unet", "unet3d", "segnet", "deeplabv3plus"}


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_reference_parameter_counts(name):
    model = zoo.build_model(name, (3, 224, 224), 1000)
    assert model.outputs[0].output_shape == (1000,)
    assert _params(model) == REFERENCE_PARAMS[name]


def test_unet_paper_size():
    model = zoo.UNet((1, 256, 256), 1)
    assert 30e6 < _params(model) < 32e6  # U-Net with 64 base filters: 31.0M


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_models_run_export_and_match_onnxruntime(name, tmp_path):
    shape, k, kw, out_shape, magnitude = SMALL[name]
    model = zoo.build_model(name, shape, k, **kw)
    assert model.outputs[0].output_shape == out_shape
    assert magnitude / 10 < _params(model) < magnitude * 10
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    model.graph.eval()
    with torch.no_grad():
        y = model.graph(torch.from_numpy(x))[0].numpy()
    assert y.shape == (2, *out_shape) and np.isfinite(y).all()
    if k > 1 and name not in ("unet3d", "segnet", "fcos"):
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)  # softmax over classes
    path = tmp_path / f"{name}.onnx"
    eddl.save_net_to_onnx_file(model, str(path))
    y_ort = InferenceSession(path).run(x)
    np.testing.assert_allclose(y_ort, y, atol=1e-4 * max(1.0, float(np.abs(y).max())))


def test_top_returns_feature_extractor():
    feats = zoo.ResNet18((3, 32, 32), 7, top=True)
    assert feats.outputs[0].output_shape == (512,) and feats.name == "resnet18_features"
    assert zoo.VGG16((3, 32, 32), top=True).outputs[0].output_shape == (512,)
    assert zoo.UNet((1, 32, 32), 2, base_filters=8, depth=2, top=True).outputs[0].output_shape == (
        8,
        32,
        32,
    )


def test_output_activations():
    seg = zoo.UNet((1, 16, 16), 1, base_filters=4, depth=1)
    assert seg.outputs[0].kind == "Activation" and seg.outputs[0].params["act"] == "sigmoid"
    multi = zoo.UNet((1, 16, 16), 3, base_filters=4, depth=1)
    assert multi.outputs[0].params["act"] == "softmax"
    reg = zoo.UNet((1, 16, 16), 1, base_filters=4, depth=1, activation="linear")
    assert reg.outputs[0].kind == "Conv2D"


def test_in_graph_augmentation_is_training_only():
    model = zoo.LeNet((1, 28, 28), 10, augmentation=["flip", "shift"])
    kinds = [layer.kind for layer in model.layers[:4]]
    assert kinds[0] == "Input" and len(model.layers) == len(zoo.LeNet().layers) + 2
    x = torch.rand(3, 1, 28, 28)
    model.graph.eval()
    with torch.no_grad():
        a, b = model.graph(x)[0], model.graph(x)[0]
    torch.testing.assert_close(a, b)  # inference: augmentation off, deterministic
    assert kinds[1] != "Conv2D"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: zoo.build_model("alexnet", (3, 32, 32), 2), "unknown zoo model"),
        (lambda: zoo.ResNet(20), "depth must be one of"),
        (lambda: zoo.VGG(11), "depth must be one of"),
        (lambda: zoo.LeNet((28, 28), 10), "channels-first 2D"),
        (lambda: zoo.LeNet((1, 28, 28), 0), "num_classes must be positive"),
        (lambda: zoo.UNet((1, 30, 30), 1, depth=2), "divisible by 4"),
        (lambda: zoo.UNet3D((1, 32, 32), 1), r"\(C, D, H, W\)"),
        (lambda: zoo.CNN3D((1, 32, 32), 2), "channels-first 3D"),
        (lambda: zoo.SegNet((3, 48, 48), 1), "divisible by 32"),
        (
            lambda: zoo.UNet((1, 16, 16), 1, depth=1, activation="relu6"),
            "unknown output activation",
        ),
        (lambda: zoo.LeNet(augmentation=["twist"]), "unknown augmentation"),
        (lambda: zoo.MobileNet(alpha=0), "alpha"),
    ],
)
def test_errors(call, match):
    with pytest.raises((ValueError, KeyError), match=match):
        call()
