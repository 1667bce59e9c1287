"""ECVL: the computer-vision library for medical images, with pyecvl's names.

`import deephealth.ecvl as ecvl` replaces `import pyecvl.ecvl as ecvl`. The names are
implemented in small modules beneath; this file only gathers them.
"""

from deephealth.ecvl import _core_api, _data_api
from deephealth.ecvl._core_api import *
from deephealth.ecvl._data_api import *

__all__ = [*_core_api.__all__, *_data_api.__all__]
