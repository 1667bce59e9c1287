"""ECVL augmentations (pyecvl names), their text syntax and containers.

Every augmentation applies jointly to an image and its ground truth, prints itself as ECVL text and
reads back through :class:`AugmentationFactory`. See ``docs/augmentations.md``.
"""

from deephealth.ecvl.augment.base import Augmentation
from deephealth.ecvl.augment.containers import (
    OneOfAugmentationContainer,
    SequentialAugmentationContainer,
)
from deephealth.ecvl.augment.crop import AugCenterCrop, AugRandomCrop
from deephealth.ecvl.augment.distortion import (
    AugElasticTransform,
    AugGridDistortion,
    AugOpticalDistortion,
)
from deephealth.ecvl.augment.factory import AugmentationFactory
from deephealth.ecvl.augment.geometric import (
    AugFlip,
    AugMirror,
    AugResizeDim,
    AugResizeScale,
    AugRotate,
    AugTranspose,
)
from deephealth.ecvl.augment.intensity import (
    AugBrightness,
    AugDivBy255,
    AugGammaContrast,
    AugGaussianBlur,
    AugNormalize,
    AugScaleFromTo,
    AugScaleTo,
    AugToFloat32,
)
from deephealth.ecvl.augment.noise import (
    AugAdditiveLaplaceNoise,
    AugAdditivePoissonNoise,
    AugCoarseDropout,
    AugPepper,
    AugSalt,
    AugSaltAndPepper,
)
from deephealth.ecvl.augment.parser import AugmentationSyntaxError
from deephealth.ecvl.augment.rng import AugmentationParam

__all__ = [
    "Augmentation",
    "AugmentationParam",
    "AugmentationFactory",
    "AugmentationSyntaxError",
    "SequentialAugmentationContainer",
    "OneOfAugmentationContainer",
    "AugRotate",
    "AugResizeDim",
    "AugResizeScale",
    "AugFlip",
    "AugMirror",
    "AugTranspose",
    "AugGaussianBlur",
    "AugAdditiveLaplaceNoise",
    "AugAdditivePoissonNoise",
    "AugGammaContrast",
    "AugBrightness",
    "AugCoarseDropout",
    "AugGridDistortion",
    "AugElasticTransform",
    "AugOpticalDistortion",
    "AugSalt",
    "AugPepper",
    "AugSaltAndPepper",
    "AugNormalize",
    "AugCenterCrop",
    "AugRandomCrop",
    "AugToFloat32",
    "AugDivBy255",
    "AugScaleTo",
    "AugScaleFromTo",
]
