"""Public names of the Image, I/O, processing and de-identification parts of ECVL."""

from deephealth.ecvl import features, imgproc, views
from deephealth.ecvl.anonymize import DeidReport, anonymize, anonymize_dataset
from deephealth.ecvl.errors import (
    EcvlError,
    ImageReadError,
    ImageWriteError,
    SeriesError,
    UnsupportedFormatError,
)
from deephealth.ecvl.features import *  # noqa: F403 - ECVL_EDDL, ECVL_WITH_DICOM, ...
from deephealth.ecvl.image import (
    ColorType,
    ConvertTo,
    CopyImage,
    DataType,
    DataTypeSignedSize,
    DataTypeSize,
    Device,
    DropColorChannel,
    Image,
    RearrangeChannels,
    ShallowCopyImage,
)
from deephealth.ecvl.imgproc import *  # noqa: F403 - the processing names, listed in imgproc.__all__
from deephealth.ecvl.io import (
    DicomRead,
    DicomWrite,
    ImRead,
    ImReadMode,
    ImReadMulti,
    ImWrite,
    NiftiRead,
    NiftiWrite,
)
from deephealth.ecvl.metadata import MetaData
from deephealth.ecvl.slide import OpenSlideGetLevels, OpenSlideImage, OpenSlideRead, SlideError
from deephealth.ecvl.views import *  # noqa: F403 - View_uint8, View_int16, ...

__all__: list[str] = [
    "ColorType",
    "ConvertTo",
    "CopyImage",
    "DataType",
    "DataTypeSignedSize",
    "DataTypeSize",
    "DeidReport",
    "Device",
    "DicomRead",
    "DicomWrite",
    "DropColorChannel",
    "EcvlError",
    "ImRead",
    "ImReadMode",
    "ImReadMulti",
    "ImWrite",
    "Image",
    "ImageReadError",
    "ImageWriteError",
    "NiftiRead",
    "NiftiWrite",
    "RearrangeChannels",
    "SeriesError",
    "ShallowCopyImage",
    "UnsupportedFormatError",
    "anonymize",
    "anonymize_dataset",
    *imgproc.__all__,
    "OpenSlideGetLevels",
    "OpenSlideImage",
    "OpenSlideRead",
    "SlideError",
    "MetaData",
    *features.__all__,
    *views.__all__,
]
