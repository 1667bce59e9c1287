"""Preprocessing: JSON round trip, layout/scale/normalization arithmetic, validation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deephealth.serving import (
    Preprocessing,
    PreprocessingError,
    load_preprocessing,
    save_preprocessing,
    sidecar_path,
)


def test_json_round_trip() -> None:
    prep = Preprocessing("hwc", 1 / 255, [0.1, 0.2, 0.3], [1, 2, 3], ["cat", "dog"])
    assert prep.layout == "HWC"
    again = Preprocessing.from_json(prep.to_json())
    assert again == prep
    assert again.class_names == ("cat", "dog")


def test_identity() -> None:
    assert Preprocessing().is_identity
    assert Preprocessing(layout="CHW").is_identity
    assert not Preprocessing(layout="HWC").is_identity
    assert not Preprocessing(mean=[0.5]).is_identity
    x = np.arange(6, dtype=np.int32).reshape(1, 2, 3)
    out = Preprocessing().apply(x, batched=False)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, x)


def test_channels_last_volume_and_single_mean() -> None:
    x = np.random.default_rng(0).random((2, 3, 4, 5, 2)).astype(np.float32)  # N D H W C
    prep = Preprocessing(layout="DHWC", scale=2.0, mean=[1.0], std=[0.5, 0.25])
    out = prep.apply(x, batched=True)
    expected = (x.transpose(0, 4, 1, 2, 3) * 2 - 1) / np.float32([0.5, 0.25]).reshape(2, 1, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.shape == (2, 2, 3, 4, 5)


def test_apply_errors() -> None:
    with pytest.raises(PreprocessingError, match=r"shape \(4, 4\) does not match layout 'HWC'"):
        Preprocessing(layout="HWC").apply(np.zeros((4, 4)), batched=False)
    with pytest.raises(PreprocessingError, match="mean has 2 values but the input has 3 channels"):
        Preprocessing(mean=[1, 2]).apply(np.zeros((3, 4, 4)), batched=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "HWH"}, "name each axis once"),
        ({"layout": "HW"}, "include the channel axis"),
        ({"std": [1.0, 0.0]}, "std must not contain zeros"),
    ],
)
def test_invalid_fields(kwargs: dict, message: str) -> None:
    with pytest.raises(PreprocessingError, match=message):
        Preprocessing(**kwargs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"layout": "CHW", "size": 3}', r"unknown field\(s\) \['size'\]"),
        ('{"scale": "big"}', "could not convert"),
    ],
)
def test_invalid_json(text: str, message: str) -> None:
    with pytest.raises(PreprocessingError, match=f"model.json: .*{message}"):
        Preprocessing.from_json(text, "model.json")


def test_sidecar_files(tmp_path: Path) -> None:
    model = tmp_path / "net.onnx"
    assert sidecar_path(model) == tmp_path / "net.onnx.preprocessing.json"
    assert load_preprocessing(model) == Preprocessing()
    meta = {"deephealth.preprocessing": Preprocessing(scale=5).to_json()}
    assert load_preprocessing(model, meta).scale == 5
    save_preprocessing(model, Preprocessing(layout="HWC"))
    assert load_preprocessing(model, meta).layout == "HWC"
    sidecar_path(model).write_text("{oops")
    with pytest.raises(PreprocessingError, match="net.onnx.preprocessing.json: not valid JSON"):
        load_preprocessing(model)
