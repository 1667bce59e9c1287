"""A one-stage, anchor-free 2D detector (FCOS-style) built from EDDL layers.

Backbone: conv-BN-ReLU stages that halve the size (a small ResNet-like encoder without the
shortcuts' cost), a feature-pyramid top-down path (1×1 lateral convolutions, up-sampling and
addition) that brings the deepest features back to the output stride, and a head of two 3×3
convolutions. The single output map, at `stride` (4 by default), has ``num_classes + 5`` channels
per location: class logits (sigmoid, focal loss), the four distances left/top/right/bottom from
the location to the box sides divided by the stride (softplus, GIoU loss), and a centerness logit
(BCE). `targets.encode_fcos` builds the matching training targets from boxes,
`decode.decode_fcos` turns the map into boxes (with non-maximum suppression), and
`onnx_nms.add_detection_postprocess` appends the same decoding and ONNX `NonMaxSuppression` to
the exported model, so its file returns final boxes, scores and labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import check_args, finish
from deephealth.eddl.zoo.detection.pyramid import pyramid_trunk


def FCOS(
    input_shape: Sequence[int] = (1, 128, 128),
    num_classes: int = 1,
    filters: Sequence[int] = (16, 32, 64, 128),
    fpn_filters: int = 64,
    stride: int = 4,
) -> Model:
    """The detector network (see the module docstring).

    Args:
        input_shape: (C, H, W); H and W divisible by 2 ** (len(filters) - 1) * ... (the deepest
            stage's total stride).
        num_classes: Object classes.
        filters: Filters of the encoder stages; stage k has stride 2 ** k.
        fpn_filters: Width of the pyramid and of the head.
        stride: Output stride (a power of two reached by one of the stages).

    Raises:
        ValueError: naming the bad argument.
    """
    shape = check_args(input_shape, num_classes, (2,))
    inp, h = pyramid_trunk(shape, filters, fpn_filters, stride, "FCOS")
    cls = eddl.Conv2D(h, int(num_classes), [3, 3], padding="same")
    box = eddl.Softplus(eddl.Conv2D(h, 4, [3, 3], padding="same"))
    ctr = eddl.Conv2D(h, 1, [3, 3], padding="same")
    out = eddl.Concat([cls, box, ctr], axis=0)
    return finish(inp, out, "fcos")
