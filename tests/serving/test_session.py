"""InferenceSession: results equal onnxruntime's, single samples and batches, errors named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from deephealth.serving import InferenceSession, Preprocessing, ServingError, providers_for


def _ort(path: Path, **feeds: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_batch_equals_onnxruntime(classifier: Path) -> None:
    x = np.random.default_rng(1).standard_normal((7, 3, 4, 4)).astype(np.float32)
    out = InferenceSession(classifier, threads=1).run(x)
    np.testing.assert_array_equal(out, _ort(classifier, x=x)[0])
    assert out.shape == (7, 5)


def test_single_sample_drops_the_batch_axis(classifier: Path) -> None:
    x = np.random.default_rng(2).standard_normal((3, 4, 4)).astype(np.float32)
    sess = InferenceSession(classifier)
    out = sess.run(x)
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, _ort(classifier, x=x[None])[0][0])


def test_float64_and_list_inputs_are_cast(classifier: Path) -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4))
    out = InferenceSession(classifier).run(x)
    np.testing.assert_allclose(out, _ort(classifier, x=x.astype(np.float32))[0], rtol=1e-6)
    out_list = InferenceSession(classifier).run(x.astype(np.float32).tolist())
    np.testing.assert_allclose(out_list, out, rtol=1e-6)


def test_multi_input_multi_output(two_in_two_out: Path) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 2.0, np.float32)
    sess = InferenceSession(two_in_two_out)
    total, prod = sess.run(a, b)
    np.testing.assert_array_equal(total, a + b)
    np.testing.assert_array_equal(prod, a * b)
    named = sess.run_named(a[0], b[0])
    assert list(named) == ["sum", "prod"]
    np.testing.assert_array_equal(named["prod"], a[0] * b[0])
    assert sess.input_names == ["a", "b"] and sess.input_shapes == [(None, 3), (None, 3)]


def test_metadata_preprocessing_is_applied(save_classifier) -> None:
    prep = Preprocessing(layout="HWC", scale=1 / 255, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    path = save_classifier("meta.onnx", {"deephealth.preprocessing": prep.to_json()})
    img = np.random.default_rng(4).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    expected_in = (img.astype(np.float32) / 255 - np.float32([0.5, 0.4, 0.3])) / np.float32(
        [0.2, 0.25, 0.3]
    )
    expected = _ort(path, x=np.ascontiguousarray(expected_in.transpose(0, 3, 1, 2)))[0]
    sess = InferenceSession(path)
    assert sess.preprocessing == prep
    np.testing.assert_allclose(sess.run(img), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sess.run(img[1]), expected[1], rtol=1e-5, atol=1e-6)


def test_sidecar_wins_over_metadata_and_override_wins_over_both(save_classifier) -> None:
    from deephealth.serving import save_preprocessing

    path = save_classifier(
        "both.onnx", {"deephealth.preprocessing": Preprocessing(scale=2).to_json()}
    )
    side = Preprocessing(scale=3.0, class_names=list("abcde"))
    save_preprocessing(path, side)
    assert InferenceSession(path).preprocessing == side
    override = Preprocessing(scale=4.0)
    assert InferenceSession(path, preprocessing=override).preprocessing == override


def test_classify_uses_stored_class_names(save_classifier) -> None:
    names = ["n0", "n1", "n2", "n3", "n4"]
    prep = Preprocessing(class_names=names)
    path = save_classifier("named.onnx", {"deephealth.preprocessing": prep.to_json()})
    x = np.random.default_rng(5).standard_normal((4, 3, 4, 4)).astype(np.float32)
    sess = InferenceSession(path)
    expected = [names[k] for k in _ort(path, x=x)[0].argmax(1)]
    assert sess.classify(x) == expected
    assert sess.classify(x[0]) == expected[:1]
    assert sess.class_names == tuple(names)


def test_classify_errors(classifier: Path, save_classifier) -> None:
    x = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(ServingError, match="no class names"):
        InferenceSession(classifier).classify(x)
    path = save_classifier("few.onnx", {"deephealth.preprocessing": '{"class_names": ["a"]}'})
    with pytest.raises(ServingError, match="5 scores but stores 1 class names"):
        InferenceSession(path).classify(x)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        InferenceSession(tmp_path / "nope.onnx")


@pytest.mark.parametrize("content", [b"not an onnx model at all", b""])
def test_non_onnx_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ServingError, match="bad.onnx"):
        InferenceSession(path)


def test_truncated_file(classifier: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.onnx"
    path.write_bytes(classifier.read_bytes()[:150])
    with pytest.raises(ServingError, match="cannot load .*cut.onnx"):
        InferenceSession(path)


def test_wrong_rank_and_wrong_input_count(classifier: Path) -> None:
    sess = InferenceSession(classifier)
    with pytest.raises(
        ServingError, match=r"takes 3-D samples or 4-D batches .* got shape \(4, 4\)"
    ):
        sess.run(np.zeros((4, 4), np.float32))
    with pytest.raises(ServingError, match=r"takes 1 input\(s\) \['x'\], got 2"):
        sess.run(np.zeros((3, 4, 4)), np.zeros((3, 4, 4)))


def test_wrong_sample_shape_names_the_model(classifier: Path) -> None:
    with pytest.raises(ServingError, match=r"classifier.onnx failed on inputs .*\(1, 3, 5, 4\)"):
        InferenceSession(classifier).run(np.zeros((3, 5, 4), np.float32))
    with pytest.raises(ServingError, match=r"classifier.onnx failed on inputs .*\(2, 3, 5, 4\)"):
        InferenceSession(classifier).run(np.zeros((2, 3, 5, 4), np.float32))


def test_devices(classifier: Path) -> None:
    assert providers_for("cpu") == ["CPUExecutionProvider"]
    assert InferenceSession(classifier, device="CPU").providers == ["CPUExecutionProvider"]
    with pytest.raises(ServingError, match="unknown device 'tpu'"):
        InferenceSession(classifier, device="tpu")
    with pytest.raises(ServingError, match="unknown device 'cuda:x'"):
        providers_for("cuda:x")
    with pytest.raises(ServingError, match="threads must be at least 1"):
        InferenceSession(classifier, threads=0)


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available here"
)
def test_cuda_unavailable_is_a_clear_error(classifier: Path) -> None:
    with pytest.raises(ServingError, match="no CUDA provider .* use device='cpu'"):
        InferenceSession(classifier, device="cuda")


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(), reason="needs CUDA onnxruntime"
)
def test_cuda_matches_cpu(classifier: Path) -> None:
    x = np.random.default_rng(6).standard_normal((8, 3, 4, 4)).astype(np.float32)
    sess = InferenceSession(classifier, device="cuda")
    assert sess.providers[0] == "CUDAExecutionProvider"
    np.testing.assert_allclose(
        sess.run(x), InferenceSession(classifier).run(x), rtol=1e-4, atol=1e-6
    )
