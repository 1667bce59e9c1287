"""Model zoo: ready-made networks built with the eddl layer API (so each exports to ONNX).

Every constructor takes the channels-first `input_shape` and the class count, `top=True` for a
feature extractor without the classifier, and `augmentation` for in-graph augmentation layers.
`build_model(name, ...)` builds one by its lower-case name from `MODELS`.
"""

from deephealth.eddl.zoo.cnn3d import CNN3D
from deephealth.eddl.zoo.deeplab import DeepLabV3Plus
from deephealth.eddl.zoo.densenet import DenseNet, DenseNet121
from deephealth.eddl.zoo.lenet import LeNet
from deephealth.eddl.zoo.mobilenet import MobileNet
from deephealth.eddl.zoo.registry import MODELS, build_model, list_models
from deephealth.eddl.zoo.resnet import ResNet, ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from deephealth.eddl.zoo.segnet import SegNet
from deephealth.eddl.zoo.signal1d import CNN1D, CNNLSTM, EEGNet, ResNet1D
from deephealth.eddl.zoo.unet import UNet, UNet3D
from deephealth.eddl.zoo.vgg import VGG, VGG16, VGG16_BN, VGG19, VGG19_BN

__all__ = [
    "CNN1D",
    "CNN3D",
    "CNNLSTM",
    "EEGNet",
    "ResNet1D",
    "MODELS",
    "VGG",
    "VGG16",
    "VGG16_BN",
    "VGG19",
    "VGG19_BN",
    "DeepLabV3Plus",
    "DenseNet",
    "DenseNet121",
    "LeNet",
    "MobileNet",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "SegNet",
    "UNet",
    "UNet3D",
    "build_model",
    "list_models",
]
