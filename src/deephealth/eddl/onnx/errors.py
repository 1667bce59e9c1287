"""Errors of the ONNX wing: export, import of our own and foreign files, checkpoints."""

from __future__ import annotations

from deephealth.errors import EddlError


class OnnxError(EddlError, ValueError):
    """An ONNX model cannot be written or read; the message names the file, node or layer."""


class OnnxExportError(OnnxError):
    """A network cannot be written as ONNX (a layer kind without an exporter, ...)."""


class OnnxImportError(OnnxError):
    """An ONNX file cannot be turned into a Model (bad file, dtype, shape, ...)."""


class UnsupportedOpsError(OnnxImportError):
    """The graph holds ops the library cannot map; `ops` maps each op type to its node names."""

    def __init__(self, source: str, ops: dict[str, list[str]]) -> None:
        self.ops = ops
        listing = "; ".join(
            f"{op} (nodes: {', '.join(names)})" for op, names in sorted(ops.items())
        )
        super().__init__(f"{source}: {len(ops)} unsupported ONNX op type(s): {listing}")
