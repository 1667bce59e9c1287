"""Detectors of the zoo: the FCOS-style 2D network, its training targets, decoding with
non-maximum suppression (torch), and the ONNX post-processing that returns final boxes; the
CenterNet-style 3D nodule detector with patch targets and sliding-window inference."""

from deephealth.eddl.zoo.detection.centernet3d import CenterNet3D
from deephealth.eddl.zoo.detection.fcos import FCOS

__all__ = ["FCOS", "CenterNet3D"]
