"""Public names of the model, build, training, Tensor and computing-service parts of EDDL."""

from deephealth.eddl.model import Model

__all__ = ["Model"]
