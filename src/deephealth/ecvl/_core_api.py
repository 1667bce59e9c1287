"""Public names of the Image, I/O, processing and de-identification parts of ECVL."""

from deephealth.ecvl.errors import (
    EcvlError,
    ImageReadError,
    ImageWriteError,
    SeriesError,
    UnsupportedFormatError,
)
from deephealth.ecvl.image import (
    ColorType,
    ConvertTo,
    CopyImage,
    DataType,
    Device,
    Image,
    RearrangeChannels,
)
from deephealth.ecvl.imgproc.arithmetic import Add, Div, Mul, Neg, Sub
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

__all__: list[str] = [
    "Add",
    "ColorType",
    "ConvertTo",
    "CopyImage",
    "DataType",
    "Device",
    "DicomRead",
    "DicomWrite",
    "Div",
    "EcvlError",
    "ImRead",
    "ImReadMode",
    "ImReadMulti",
    "ImWrite",
    "Image",
    "ImageReadError",
    "ImageWriteError",
    "Mul",
    "Neg",
    "NiftiRead",
    "NiftiWrite",
    "RearrangeChannels",
    "SeriesError",
    "Sub",
    "UnsupportedFormatError",
]
