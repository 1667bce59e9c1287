"""EDDL: a deep-learning library with pyeddl's API, executed by PyTorch.

`import deephealth.eddl as eddl` replaces `import pyeddl.eddl as eddl`, and
`from deephealth.eddl import Tensor` replaces `from pyeddl.tensor import Tensor`. The names are
implemented in small modules beneath; this file only gathers them.
"""

from deephealth.eddl import _compat_api, _errors_api, _layers_api, _onnx_api, _train_api
from deephealth.eddl import distributed as distributed  # registers build's default-strategy hook
from deephealth.eddl._compat_api import *
from deephealth.eddl._errors_api import *
from deephealth.eddl._layers_api import *
from deephealth.eddl._onnx_api import *
from deephealth.eddl._train_api import *

__all__ = [
    *_layers_api.__all__,
    *_train_api.__all__,
    *_onnx_api.__all__,
    *_errors_api.__all__,
    *_compat_api.__all__,
]
