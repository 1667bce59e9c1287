"""ONNX, the storage format of EDDL: export, import (own and foreign graphs), checkpoints.

Each layer kind's ONNX writer/reader lives in `mapping/` and is entered in the tables of
`registry.py` (`EXPORTERS[kind]`, `WEIGHT_READERS[kind]`), checked against the layer table when
`mapping/` is imported; foreign graphs are read through `OP_IMPORTERS`, keyed by ONNX op type. `api.py` holds pyeddl's public functions; the checkpoint written beside
an ONNX file is one kind of `deephealth.eddl.training.checkpoint`. The `onnx` package and the
mappings load on first use, so `import deephealth.eddl` does not pay for them.
"""

from deephealth.eddl.onnx.api import (
    import_net_from_onnx_file,
    import_net_from_onnx_string,
    save_net_to_onnx_file,
    serialize_net_to_onnx_string,
)
from deephealth.eddl.onnx.errors import (
    OnnxError,
    OnnxExportError,
    OnnxImportError,
    UnsupportedOpsError,
)
from deephealth.eddl.training.checkpoint import CheckpointError, load_checkpoint

__all__ = [
    "CheckpointError",
    "OnnxError",
    "OnnxExportError",
    "OnnxImportError",
    "UnsupportedOpsError",
    "import_net_from_onnx_file",
    "import_net_from_onnx_string",
    "load_checkpoint",
    "save_net_to_onnx_file",
    "serialize_net_to_onnx_string",
]
