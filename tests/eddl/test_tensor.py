"""Tests of the pyeddl-compatible Tensor: creation, numpy sharing, arithmetic, files, errors."""

import numpy as np
import pytest
import torch

from deephealth.eddl import DEV_CPU, DEV_GPU, Tensor
from deephealth.eddl.tensor import TensorError, read_bin


def test_shape_constructor_and_getshape():
    t = Tensor([2, 3])
    assert t.shape == [2, 3] and t.getShape() == [2, 3]
    assert t.ndim == 2 and t.size == 6
    assert np.array_equal(t.getdata(), np.zeros((2, 3), np.float32))


def test_fromarray_copies_and_casts_to_float32():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = Tensor.fromarray(a)
    a[0, 0] = 100
    assert t.getdata().dtype == np.float32
    assert t.getdata()[0, 0] == 0.0


def test_np_array_is_a_view_without_copy():
    t = Tensor.fromarray(np.ones((3, 4), np.float32))
    view = np.asarray(t)
    view[1, 2] = 7.0
    assert t.getdata()[1, 2] == 7.0
    assert np.shares_memory(np.array(t, copy=False), view)
    assert t.torch.data_ptr() == view.__array_interface__["data"][0]


def test_getdata_is_a_copy():
    t = Tensor.ones([2])
    d = t.getdata()
    d[0] = 5
    assert t.getdata()[0] == 1.0


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (Tensor.zeros([2, 2]), np.zeros((2, 2))),
        (Tensor.ones([3]), np.ones(3)),
        (Tensor.full([2], 3.5), np.full(2, 3.5)),
        (Tensor.arange(0, 5, 2), np.arange(0, 5, 2)),
        (Tensor.range(0, 4, 2), np.array([0, 2, 4])),
        (Tensor.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        (Tensor.logspace(0, 2, 3), np.logspace(0, 2, 3)),
        (Tensor.eye(3), np.eye(3)),
        (Tensor.eye(3, 1), np.eye(3, k=1)),
    ],
)
def test_factories(tensor, expected):
    np.testing.assert_allclose(tensor.getdata(), expected, rtol=1e-6)


def test_random_factories_follow_torch_seed():
    torch.manual_seed(3)
    a, b = Tensor.randu([1000]), Tensor.randn([1000])
    torch.manual_seed(3)
    assert np.array_equal(a.getdata(), Tensor.randu([1000]).getdata())
    assert 0 <= a.min() and a.max() < 1
    assert abs(b.mean()) < 0.15 and 0.85 < b.getdata().std() < 1.15


def test_onehot_values_and_errors():
    t = Tensor.onehot(Tensor.fromarray(np.array([2, 0, 1])), 3)
    assert np.array_equal(t.getdata(), np.eye(3)[[2, 0, 1]])
    with pytest.raises(TensorError, match=r"\[0, 3\)"):
        Tensor.onehot(np.array([0, 3]), 3)
    with pytest.raises(TensorError, match="integer labels"):
        Tensor.onehot(np.array([0.5]), 3)


def test_inplace_arithmetic_as_in_pyeddl_examples():
    t = Tensor.fromarray(np.array([0.0, 51.0, 255.0]))
    t.div_(255.0)
    np.testing.assert_allclose(t.getdata(), [0, 0.2, 1], rtol=1e-6)
    t.mult_(10)
    t.add_(1)
    t.sub_(Tensor.fromarray(np.array([1.0, 1.0, 1.0])))
    np.testing.assert_allclose(t.getdata(), [0, 2, 10], rtol=1e-6)
    t.normalize_(-1, 1)
    np.testing.assert_allclose(t.getdata(), [-1, -0.6, 1], rtol=1e-6)
    c = Tensor.full([2], 4.0)
    c.normalize_()
    assert np.array_equal(c.getdata(), [0, 0])


def test_operators_select_clone_copy_reshape():
    t = Tensor.fromarray(np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal((t * 2 + 1).getdata(), np.arange(12).reshape(3, 4) * 2 + 1)
    np.testing.assert_array_equal(t.select([":2", "1"]).getdata(), [[1], [5]])  # EDDL keeps dims
    np.testing.assert_array_equal(t.select(["1:", "::2"]).getdata(), [[4, 6], [8, 10]])
    with pytest.raises(TensorError, match="3 indices for a 2-D"):
        t.select(["0", "0", "0"])
    c = t.clone()
    c.fill_(0)
    assert t.sum() == 66
    dst = Tensor([12])
    Tensor.copy(t, dst)
    np.testing.assert_array_equal(dst.getdata(), np.arange(12))
    with pytest.raises(TensorError, match="differ in size"):
        Tensor.copy(t, Tensor([5]))
    t.reshape_([4, -1])
    assert t.shape == [4, 3]
    with pytest.raises(TensorError, match="cannot reshape"):
        t.reshape_([5, 5])


def test_devices_on_cpu_machine():
    t = Tensor([2], DEV_CPU)
    assert t.isCPU() and not t.isGPU()
    t.toCPU()
    if not torch.cuda.is_available():
        with pytest.raises(TensorError, match="no CUDA GPU"):
            t.toGPU()
        with pytest.raises(TensorError, match="no CUDA GPU"):
            Tensor([2], DEV_GPU)
    with pytest.raises(TensorError, match="unknown device"):
        Tensor([2], 7)
    with pytest.raises(TensorError, match="non-negative"):
        Tensor([-1, 2])


@pytest.mark.parametrize("suffix", ["npy", "bin", "csv", "tsv", "txt"])
def test_save_load_round_trip(tmp_path, suffix):
    data = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    path = tmp_path / f"t.{suffix}"
    Tensor.fromarray(data).save(str(path))
    back = Tensor.load(str(path)).getdata()
    assert back.shape == (4, 5)
    np.testing.assert_allclose(back, data, rtol=1e-6)


def test_bin_layout_is_eddl(tmp_path):
    path = tmp_path / "x.bin"
    Tensor.fromarray(np.array([[1, 2, 3], [4, 5, 6]])).save(path)
    raw = path.read_bytes()
    assert np.frombuffer(raw[:12], "<i4").tolist() == [2, 2, 3]
    assert np.frombuffer(raw[12:], "<f4").tolist() == [1, 2, 3, 4, 5, 6]


def test_bin_errors(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(np.array([2, 10, 10], "<i4").tobytes() + b"\0" * 8)
    with pytest.raises(TensorError, match=r"shape \[10, 10\] needs 400 data bytes, found 8"):
        read_bin(bad)
    bad.write_bytes(b"\1")
    with pytest.raises(TensorError, match="not an EDDL .bin"):
        Tensor.load(bad)
    bad.write_bytes(np.array([1, 1], "<i4").tobytes() + np.zeros(2, "<f4").tobytes())
    with pytest.raises(TensorError, match="unexpected bytes"):
        Tensor.load(bad)


def test_image_round_trip_is_chw_in_0_255(tmp_path):
    img = np.zeros((3, 8, 6), np.float32)
    img[0, 2, 3], img[2, 7, 5] = 255, 128
    Tensor.fromarray(img).save(tmp_path / "i.png")
    back = Tensor.load(tmp_path / "i.png")
    assert back.shape == [3, 8, 6]
    np.testing.assert_array_equal(back.getdata(), img)
    gray = Tensor.fromarray(np.full((5, 7), 9.0))
    gray.save(tmp_path / "g.png")
    assert Tensor.load(tmp_path / "g.png").shape == [1, 5, 7]
    with pytest.raises(TensorError, match="C in 1, 3, 4"):
        Tensor.fromarray(np.zeros((2, 4, 4))).save(tmp_path / "x.png")


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        Tensor.load(tmp_path / "missing.bin")
    (tmp_path / "x.abc").write_text("1")
    with pytest.raises(TensorError, match="unknown format 'abc'"):
        Tensor.load(tmp_path / "x.abc")
    with pytest.raises(TensorError, match="unknown format"):
        Tensor.ones([2]).save(tmp_path / "y.abc")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Tensor.ones([2]).save(tmp_path / "nodir" / "y.npy")
    with pytest.raises(TensorError, match="needs a 2-D tensor"):
        Tensor.ones([2, 2, 2]).save(tmp_path / "y.csv")
