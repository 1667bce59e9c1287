"""The ECVL Image: construction, layout, numpy interop, copies, conversion and arithmetic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import ColorType, DataType, EcvlError, Image


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.imread(skimage_file("astronaut.png"))


def test_constructor_dims_and_pyecvl_fields():
    img = Image([5, 4, 3], DataType.uint16, "xyc", ColorType.RGB, [0.5, 0.25, 1.0])
    assert img.data.shape == (5, 4, 3) and img.data.dtype == np.uint16
    assert (img.Width(), img.Height(), img.Channels(), img.Depth()) == (5, 4, 3, 1)
    assert img.dims_ == [5, 4, 3] and img.elemtype_ is DataType.uint16 and img.elemsize_ == 2
    assert img.channels_ == "xyc" and img.colortype_ is ColorType.RGB
    assert img.spacings_ == [0.5, 0.25, 1.0] and not img.IsEmpty() and img.contiguous_
    assert not img.data.any()
    # OpenCV memory order: the (H, W, C) view is contiguous.
    assert img.to_cv().flags.c_contiguous and img.to_cv().shape == (4, 5, 3)
    assert Image().IsEmpty() and Image().elemtype_ is DataType.none


@pytest.mark.parametrize(
    "dims,channels,spacings",
    [
        ([2, 2], "xyc", None),
        ([2, 2, 1], "xxc", None),
        ([2, 2, 1], "xyq", None),
        ([2, 2], "xy", [1.0, 1.0, 1.0]),
    ],
)
def test_constructor_errors(dims, channels, spacings):
    with pytest.raises(EcvlError):
        Image(dims, DataType.uint8, channels, ColorType.GRAY, spacings)


def test_fromarray_and_numpy_without_copy(astronaut):
    img = Image.from_cv(astronaut)
    assert img.channels == "xyc" and img.colortype is ColorType.BGR and img.dims_ == [512, 512, 3]
    assert np.shares_memory(img.data, astronaut)
    assert img.to_cv() is not None and np.shares_memory(img.to_cv(), astronaut)
    np.testing.assert_array_equal(img.to_cv(), astronaut)
    arr = np.array(img)
    assert np.shares_memory(arr, astronaut) and arr.shape == (512, 512, 3)
    assert np.shares_memory(np.asarray(img), astronaut)
    assert np.array(img, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError):
        np.array(img, dtype=np.float32, copy=False)
    assert img.data[10, 20, 1] == astronaut[20, 10, 1]  # x = column, y = row
    wrapped = Image.fromarray(astronaut.transpose(1, 0, 2), "xyc", ColorType.BGR)
    assert np.shares_memory(wrapped.data, astronaut)
    with pytest.raises(EcvlError):
        Image.fromarray(astronaut, "xy")
    with pytest.raises(EcvlError):
        Image.fromarray(np.zeros((2, 2), np.complex64), "xy")


def test_to_cv_needs_2d():
    vol = Image([4, 4, 3, 1], DataType.uint8, "xyzc", ColorType.GRAY)
    with pytest.raises(EcvlError):
        vol.to_cv()
    gray = Image([6, 4, 1], DataType.uint8, "xyc", ColorType.GRAY)
    assert gray.to_cv().shape == (4, 6)
    planar = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(3, 4, 2), "cxy")
    np.testing.assert_array_equal(planar.to_cv(), planar.data.transpose(2, 1, 0))


def test_copy_is_independent(astronaut):
    img = Image.from_cv(astronaut)
    img.SetMeta("PatientID", "p1")
    img.meta["list"] = [1, 2]
    dup = img.copy()
    dup.data[0, 0, 0] = 255 - astronaut[0, 0, 0]
    dup.meta["list"].append(3)
    dup.spacings[0] = 9.0
    assert img.data[0, 0, 0] == astronaut[0, 0, 0] and img.meta["list"] == [1, 2]
    assert img.spacings[0] == 1.0 and dup.GetMeta("PatientID") == "p1"
    assert not np.shares_memory(dup.data, img.data)


def test_pickle_round_trip(astronaut):
    import pickle

    img = Image.from_cv(astronaut, spacings=[0.5, 0.5, 1.0])
    img.SetMeta("Modality", "OT")
    back = pickle.loads(pickle.dumps(img))  # what worker processes of a loader do
    np.testing.assert_array_equal(back.data, img.data)
    assert (back.channels, back.colortype, back.spacings, back.meta) == (
        img.channels,
        img.colortype,
        img.spacings,
        img.meta,
    )


def test_meta():
    img = Image([2, 2, 1], DataType.uint8, "xyc", ColorType.GRAY)
    assert img.SetMeta("a", 1) is True and img.SetMeta("a", 2) is False
    assert img.GetMeta("a") == 2
    with pytest.raises(EcvlError, match="no metadata 'b'"):
        img.GetMeta("b")


def test_convert_to_saturates_like_opencv():
    src = np.array([[-1.5, 0.5, 1.5, 254.5, 300.0, np.nan, -1e9]], dtype=np.float64)
    img = Image.fromarray(src, "yx")
    img.ConvertTo(DataType.uint8)
    # OpenCV's saturate_cast: round half to even, clip, NaN -> 0
    np.testing.assert_array_equal(img.data, [[0, 0, 2, 254, 255, 0, 0]])
    i16 = Image.fromarray(np.array([[-40000, 40000, 5]], dtype=np.int32), "yx")
    i16.ConvertTo(DataType.int16)
    np.testing.assert_array_equal(i16.data, [[-32768, 32767, 5]])
    wrap = Image.fromarray(np.array([[300]], dtype=np.int32), "yx")
    wrap.ConvertTo(DataType.uint8, saturate=False)
    assert wrap.data[0, 0] == 300 % 256
    out = Image()
    ecvl.ConvertTo(Image.fromarray(np.array([[1.25]], np.float32), "yx"), out, DataType.float64)
    assert out.data.dtype == np.float64 and out.data[0, 0] == 1.25


def test_rearrange_channels(astronaut):
    img = Image.from_cv(astronaut, spacings=[0.5, 0.7, 1.0])
    out = Image()
    ecvl.RearrangeChannels(img, out, "cyx")
    assert out.channels == "cyx" and out.dims_ == [3, 512, 512] and out.spacings == [1.0, 0.7, 0.5]
    assert out.data[2, 30, 40] == astronaut[30, 40, 2]
    assert not np.shares_memory(out.data, astronaut)
    img.RearrangeChannels("cxy")
    assert img.channels == "cxy" and img.data[1, 40, 30] == astronaut[30, 40, 1]
    with pytest.raises(EcvlError):
        ecvl.RearrangeChannels(img, out, "xyz")


@pytest.mark.parametrize(
    "name,cvfn",
    [("Add", cv2.add), ("Sub", cv2.subtract), ("Mul", cv2.multiply), ("Div", None)],
)
def test_arithmetic_matches_opencv(astronaut, name, cvfn):
    other = cv2.flip(astronaut, 1)
    out = Image()
    getattr(ecvl, name)(Image.from_cv(astronaut), Image.from_cv(other), out)
    if cvfn is None:  # ECVL's integer division truncates (cv2.divide rounds); x/0 gives 0
        want = np.where(other == 0, 0, astronaut // np.maximum(other, 1)).astype(np.uint8)
    else:
        want = cvfn(astronaut, other)
    np.testing.assert_array_equal(out.to_cv(), want)
    assert out.data.dtype == np.uint8


def test_arithmetic_scalars_promotion_and_operators(astronaut):
    a = Image.from_cv(astronaut)
    out = Image()
    ecvl.Add(a, 100, out)
    np.testing.assert_array_equal(out.to_cv(), cv2.add(astronaut, np.full_like(astronaut, 100)))
    ecvl.Sub(a, 300, out, DataType.int16)
    assert out.data.dtype == np.int16 and out.data.min() == int(astronaut.min()) - 300
    b = Image.fromarray(np.full((512, 512, 3), -5, np.int16), "xyc")
    ecvl.Add(a, b, out)
    assert out.data.dtype == np.int16  # uint8 + int16 -> int16
    np.testing.assert_array_equal(out.to_cv(), astronaut.astype(np.int16) - 5)
    ecvl.Neg(a, out)
    assert not out.data.any()  # unsigned negation saturates to 0
    ecvl.Neg(b, out)
    assert (out.data == 5).all()
    np.testing.assert_array_equal(
        (a * 2).to_cv(), cv2.multiply(astronaut, np.full_like(astronaut, 2))
    )
    np.testing.assert_array_equal((a / 0).data, 0)
    c = a.copy()
    c += 10
    c -= 20
    np.testing.assert_array_equal(
        c.to_cv(),
        cv2.subtract(cv2.add(astronaut, np.full_like(astronaut, 10)), np.full_like(astronaut, 20)),
    )
    f = Image.fromarray(np.array([[1.0, 2.0]], np.float32), "yx")
    np.testing.assert_allclose((1 / f).data, [[1.0, 0.5]])
    np.testing.assert_allclose((10 - f).data, [[9.0, 8.0]])
    with pytest.raises(EcvlError):
        ecvl.Add(a, Image([3, 3, 3], DataType.uint8, "xyc"), out)
    with pytest.raises(EcvlError):
        ecvl.Add(1, 2, out)


def test_pyecvl_compatibility_helpers(astronaut):
    assert Image.empty().IsEmpty()
    assert ecvl.DataTypeSize() == 8 and ecvl.DataTypeSize(DataType.float64) == 8
    assert ecvl.DataTypeSignedSize() == 6  # int8..int64, float32, float64
    src = Image.from_cv(astronaut)
    shallow = Image()
    ecvl.ShallowCopyImage(src, shallow)
    assert np.shares_memory(shallow.data, astronaut) and shallow.channels == "xyc"
    deep = Image()
    ecvl.CopyImage(src, deep, DataType.float32)
    assert deep.data.dtype == np.float32 and not np.shares_memory(deep.data, astronaut)
    out = Image()
    ecvl.RearrangeChannels(src, out, "cxy", DataType.int16)
    assert out.data.dtype == np.int16 and out.dims_ == [3, 512, 512]
    gray = Image.from_cv(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY), spacings=[0.5, 0.6, 1.0])
    ecvl.DropColorChannel(gray)
    assert gray.channels == "xy" and gray.dims_ == [512, 512] and gray.spacings == [0.5, 0.6]
    with pytest.raises(EcvlError):
        ecvl.DropColorChannel(src)
    src.To(ecvl.Device.CPU)
    vol = Image([8, 6, 4, 1], DataType.float32, "xyzc", ColorType.GRAY)
    ecvl.ResizeDim(vol, out, [4, 3, 2])  # pyecvl: a volume takes [x, y, z]
    assert out.dims_ == [4, 3, 2, 1]
    ecvl.ResizeScale(vol, out, [0.5, 0.5, 2.0])
    assert out.dims_ == [4, 3, 8, 1]
