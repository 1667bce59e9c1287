"""Image processing with pyecvl names, built on OpenCV, scikit-image and SciPy.

One module per theme: ``arithmetic``, ``geometry`` (2D), ``volume`` (3D), ``color``,
``intensity``, ``threshold``, ``filters``, ``noise``, ``analysis``, ``combine``, ``distortion``,
``draw``. Functions follow pyecvl's ``Function(src, dst, ...)`` convention: the result replaces the
content of ``dst`` (which may be ``src``); measurements return values.
"""

from deephealth.ecvl.imgproc._common import BorderType, InterpolationType
from deephealth.ecvl.imgproc.analysis import (
    CentralMoments,
    ConnectedComponentsLabeling,
    FindContours,
    GetMaxN,
    MeanStdDev,
    Moments,
)
from deephealth.ecvl.imgproc.arithmetic import Add, Div, Mul, Neg, Sub
from deephealth.ecvl.imgproc.color import (
    CLAHE,
    ChangeColorSpace,
    GammaContrast,
    HistogramEqualization,
)
from deephealth.ecvl.imgproc.combine import HConcat, Stack, VConcat
from deephealth.ecvl.imgproc.distortion import ElasticTransform, GridDistortion, OpticalDistortion
from deephealth.ecvl.imgproc.draw import DrawEllipse
from deephealth.ecvl.imgproc.filters import (
    AverageBlur,
    Filter2D,
    GaussianBlur,
    GaussianBlur2,
    Inpaint,
    InpaintType,
    IntegralImage,
    MedianBlur,
    Morphology,
    MorphType,
    NonMaximaSuppression,
    SeparableFilter2D,
)
from deephealth.ecvl.imgproc.geometry import (
    CenterCrop,
    Flip2D,
    Mirror2D,
    Pad,
    RandomCrop,
    ResizeDim,
    ResizeScale,
    Rotate2D,
    RotateFullImage2D,
    Transpose,
)
from deephealth.ecvl.imgproc.intensity import (
    CT_WINDOWS,
    CTWindow,
    Normalize,
    PercentileClip,
    ScaleFromTo,
    ScaleTo,
    ZScoreNormalize,
)
from deephealth.ecvl.imgproc.noise import (
    AdditiveGaussianNoise,
    AdditiveLaplaceNoise,
    AdditivePoissonNoise,
    CoarseDropout,
    Pepper,
    Salt,
    SaltAndPepper,
)
from deephealth.ecvl.imgproc.threshold import (
    MultiThreshold,
    OtsuMultiThreshold,
    OtsuThreshold,
    Threshold,
    ThresholdingType,
)
from deephealth.ecvl.imgproc.volume import (
    CenterCrop3D,
    Flip3D,
    Pad3D,
    ResampleSpacing,
    ResizeDim3D,
    SliceTimingCorrection,
)

__all__ = [
    "CT_WINDOWS", "CLAHE", "CTWindow", "Add", "AdditiveGaussianNoise", "AdditiveLaplaceNoise",
    "AdditivePoissonNoise", "AverageBlur", "BorderType", "CenterCrop", "CenterCrop3D",
    "CentralMoments", "ChangeColorSpace", "CoarseDropout", "ConnectedComponentsLabeling", "Div",
    "DrawEllipse", "ElasticTransform", "Filter2D", "FindContours", "Flip2D", "Flip3D",
    "GammaContrast", "GaussianBlur", "GaussianBlur2", "GetMaxN", "GridDistortion", "HConcat",
    "HistogramEqualization", "Inpaint", "InpaintType", "IntegralImage", "InterpolationType",
    "MeanStdDev", "MedianBlur", "Mirror2D", "Moments", "MorphType", "Morphology", "Mul",
    "MultiThreshold", "Neg", "NonMaximaSuppression", "Normalize", "OpticalDistortion",
    "OtsuMultiThreshold", "OtsuThreshold", "Pad", "Pad3D", "PercentileClip", "Pepper",
    "ResampleSpacing", "ResizeDim", "ResizeDim3D", "ResizeScale", "Rotate2D",
    "RotateFullImage2D", "Salt", "SaltAndPepper", "ScaleFromTo", "ScaleTo", "SeparableFilter2D",
    "Stack", "Sub", "Threshold", "ThresholdingType", "Transpose", "VConcat", "ZScoreNormalize",
    "RandomCrop", "SliceTimingCorrection",
]  # fmt: skip
