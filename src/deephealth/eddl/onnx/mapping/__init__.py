"""ONNX mappings, one module per layer family: exporters, weight readers, op importers.

Importing this package fills the tables of `deephealth.eddl.onnx.registry` (`EXPORTERS`,
`WEIGHT_READERS`, `OP_IMPORTERS`), then checks them against the layer table: a layer kind without
exporter fails here, at import, not at the first export of a network that uses it.
"""

import deephealth.eddl._layers_api  # noqa: F401 (registers the layer kinds)
from deephealth.eddl.onnx.mapping import (  # noqa: F401
    activations,
    attention,
    augmentation,
    auxiliary,
    conv,
    core,
    merge,
    normalization,
    pooling,
    recurrent,
    resize,
    shape,
)
from deephealth.eddl.onnx.registry import check_complete

check_complete()
