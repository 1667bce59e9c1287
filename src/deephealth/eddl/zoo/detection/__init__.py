"""Detectors of the zoo: the FCOS-style 2D network, its training targets, decoding with
non-maximum suppression (torch), and the ONNX post-processing that returns final boxes."""

from deephealth.eddl.zoo.detection.fcos import FCOS

__all__ = ["FCOS"]
