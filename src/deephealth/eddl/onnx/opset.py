"""The ONNX opset deephealth writes by default, and the lowest it writes.

A module of its own so the light public API (`api.py`) and the exporter (`export.py`, which loads
the `onnx` package) share it without importing each other.
"""

DEFAULT_OPSET = 17
