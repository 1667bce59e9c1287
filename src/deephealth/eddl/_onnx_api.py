"""Public names of the ONNX storage format and pretrained-model downloads."""

from deephealth.eddl.onnx import (
    CheckpointError,
    OnnxError,
    OnnxExportError,
    OnnxImportError,
    UnsupportedOpsError,
    import_net_from_onnx_file,
    import_net_from_onnx_string,
    load_checkpoint,
    save_net_to_onnx_file,
    serialize_net_to_onnx_string,
)
from deephealth.eddl.zoo.downloads import (
    DownloadError,
    download_densenet121,
    download_model,
    download_resnet18,
    download_resnet34,
    download_resnet50,
    download_resnet101,
    download_resnet152,
    download_vgg16,
)

__all__ = [
    "CheckpointError",
    "DownloadError",
    "OnnxError",
    "OnnxExportError",
    "OnnxImportError",
    "UnsupportedOpsError",
    "download_densenet121",
    "download_model",
    "download_resnet101",
    "download_resnet152",
    "download_resnet18",
    "download_resnet34",
    "download_resnet50",
    "download_vgg16",
    "import_net_from_onnx_file",
    "import_net_from_onnx_string",
    "load_checkpoint",
    "save_net_to_onnx_file",
    "serialize_net_to_onnx_string",
]
