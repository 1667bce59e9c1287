"""Public names of pyeddl's API that map onto existing parts (see `deephealth.eddl.compat`)."""

from deephealth.eddl.compat.norms import Norm, NormMax, NormMinMax
from deephealth.eddl.compat.optimizer_classes import (
    SGD,
    AdaDelta,
    Adagrad,
    Adam,
    Adamax,
    Nadam,
    RMSProp,
)
from deephealth.eddl.compat.utils import CS_COMPSS, CS_FPGA, get_topk_predictions, getInput
from deephealth.eddl.tensor import TransformationMode, WrappingMode

__all__ = [
    "CS_COMPSS",
    "CS_FPGA",
    "SGD",
    "AdaDelta",
    "Adagrad",
    "Adam",
    "Adamax",
    "Nadam",
    "Norm",
    "NormMax",
    "NormMinMax",
    "RMSProp",
    "TransformationMode",
    "WrappingMode",
    "getInput",
    "get_topk_predictions",
]
