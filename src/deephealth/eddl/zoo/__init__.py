"""Model zoo: ready-made networks built with the eddl layer API (so each exports to ONNX)."""
