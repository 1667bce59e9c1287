"""ONNX mappings, one module per layer family: exporters on the layer table, op importers.

Importing this package attaches every `to_onnx` / `from_onnx` to `LAYER_TYPES` and fills
`OP_IMPORTERS`; it first imports the layer constructors so every kind is registered.
"""

import deephealth.eddl._layers_api  # noqa: F401 (registers the layer kinds)
from deephealth.eddl.onnx.mapping import (  # noqa: F401
    activations,
    augmentation,
    conv,
    core,
    merge,
    normalization,
    pooling,
    recurrent,
    resize,
    shape,
)
