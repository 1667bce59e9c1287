"""Public names of the ONNX storage format and pretrained-model downloads."""

__all__: list[str] = []
