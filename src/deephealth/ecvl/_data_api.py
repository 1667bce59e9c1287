"""Public names of the augmentation, dataset and loader parts of ECVL."""

from deephealth.ecvl.augment import *  # noqa: F403
from deephealth.ecvl.augment import __all__ as _augment_all
from deephealth.ecvl.dataset import *  # noqa: F403
from deephealth.ecvl.dataset import __all__ as _dataset_all
from deephealth.ecvl.tensor_bridge import ImageToTensor, MakeGrid, TensorToImage, TensorToView

__all__: list[str] = [
    *_augment_all,
    *_dataset_all,
    "ImageToTensor",
    "MakeGrid",
    "TensorToImage",
    "TensorToView",
]
