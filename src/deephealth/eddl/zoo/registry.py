"""The zoo's table: model name -> constructor and kind, and `build_model` to build one by name.

Configs, the command line and the web front-end name models by these lower-case keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from deephealth.eddl.model import Model
from deephealth.eddl.zoo.cnn3d import CNN3D
from deephealth.eddl.zoo.deeplab import DeepLabV3Plus
from deephealth.eddl.zoo.densenet import DenseNet121
from deephealth.eddl.zoo.detection import FCOS, CenterNet3D
from deephealth.eddl.zoo.fusion import FusionNet
from deephealth.eddl.zoo.lenet import LeNet
from deephealth.eddl.zoo.mobilenet import MobileNet
from deephealth.eddl.zoo.resnet import ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from deephealth.eddl.zoo.segnet import SegNet
from deephealth.eddl.zoo.signal1d import CNN1D, CNNLSTM, EEGNet, ResNet1D
from deephealth.eddl.zoo.unet import UNet, UNet3D
from deephealth.eddl.zoo.vgg import VGG16, VGG16_BN, VGG19, VGG19_BN

# name -> (constructor, kind); kind "classifier" outputs (K,), "dense" outputs (K, *spatial),
# "multimodal" takes an image and a clinical-values vector and outputs (K,)
# "signal" classifies (C, T) signal windows into (K,); "detector" outputs per-location maps
# (K + 5, H / stride, W / stride) decoded into boxes (eddl.zoo.detection); "detector3d" outputs
# heat-map and diameter maps (K + 1, D / s, H / s, W / s) of 3D patches (sliding windows)
MODELS: dict[str, tuple[Callable[..., Model], str]] = {
    "lenet": (LeNet, "classifier"),
    "vgg16": (VGG16, "classifier"),
    "vgg16_bn": (VGG16_BN, "classifier"),
    "vgg19": (VGG19, "classifier"),
    "vgg19_bn": (VGG19_BN, "classifier"),
    "resnet18": (ResNet18, "classifier"),
    "resnet34": (ResNet34, "classifier"),
    "resnet50": (ResNet50, "classifier"),
    "resnet101": (ResNet101, "classifier"),
    "resnet152": (ResNet152, "classifier"),
    "densenet121": (DenseNet121, "classifier"),
    "mobilenet": (MobileNet, "classifier"),
    "cnn3d": (CNN3D, "classifier"),
    "fusion": (FusionNet, "multimodal"),
    "unet": (UNet, "dense"),
    "unet3d": (UNet3D, "dense"),
    "segnet": (SegNet, "dense"),
    "deeplabv3plus": (DeepLabV3Plus, "dense"),
    "cnn1d": (CNN1D, "signal"),
    "resnet1d": (ResNet1D, "signal"),
    "cnnlstm": (CNNLSTM, "signal"),
    "eegnet": (EEGNet, "signal"),
    "fcos": (FCOS, "detector"),
    "centernet3d": (CenterNet3D, "detector3d"),
}


def list_models(kind: str | None = None) -> list[str]:
    """Names of the zoo models, optionally only those of one kind ("classifier", "dense", "signal",
    "detector")."""
    return [name for name, (_, k) in MODELS.items() if kind is None or k == kind]


def build_model(name: str, input_shape: Sequence[int], num_classes: int, **kwargs: Any) -> Model:
    """Build a zoo model by name.

    Args:
        name: A key of `MODELS` (case-insensitive).
        input_shape: Channels-first input shape.
        num_classes: Classes (classifiers) or output channels (dense models).
        **kwargs: Extra constructor arguments (top, augmentation, base_filters, ...).

    Raises:
        KeyError: for an unknown name, listing the known ones.
    """
    key = name.lower()
    if key not in MODELS:
        raise KeyError(f"unknown zoo model {name!r}; known models: {sorted(MODELS)}")
    return MODELS[key][0](input_shape=input_shape, num_classes=num_classes, **kwargs)
