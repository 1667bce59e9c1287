"""pyeddl's `Tensor`, backed by a `torch.Tensor`.

`from deephealth.eddl import Tensor` replaces `from pyeddl.tensor import Tensor`. The class is in
`core`; its element-wise math (`math`), reductions (`reduce`), shape ops (`shape`) and image
transforms (`image`) are mixins in their own modules, and `io` reads and writes the file formats.
"""

from deephealth.eddl.tensor._base import DEV_CPU, DEV_GPU, TensorError, as_torch
from deephealth.eddl.tensor.core import Tensor
from deephealth.eddl.tensor.image import TransformationMode, WrappingMode
from deephealth.eddl.tensor.io import bin_bytes, read_bin, write_bin

__all__ = [
    "DEV_CPU",
    "DEV_GPU",
    "Tensor",
    "TensorError",
    "TransformationMode",
    "WrappingMode",
    "as_torch",
    "bin_bytes",
    "read_bin",
    "write_bin",
]
