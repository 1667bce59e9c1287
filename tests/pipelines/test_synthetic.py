"""The phantom generator: known lesions, masks, dataset YAML and its split by patient."""

import numpy as np
import pytest
import yaml

import deephealth.ecvl as ecvl
from deephealth.pipelines.synthetic import SyntheticError, generate_dataset, make_phantom


def test_phantom_lesion_matches_its_record():
    rng = np.random.default_rng(0)
    img, mask, info = make_phantom((64, 64), "nodule", rng, radius=8, center=(30, 34))
    assert info == {"lesion_type": "nodule", "radius": 8.0, "center": [30.0, 34.0]}
    assert (
        mask[30, 34] == 1 and mask[30, 43] == 0 and mask.sum() == pytest.approx(np.pi * 64, rel=0.1)
    )
    inside, ring = img[mask == 1].mean(), img[(mask == 0) & (img > 0.25)].mean()
    assert inside > ring + 0.25  # nodules are bright
    img, mask, _ = make_phantom((64, 64), "cyst", rng, radius=8, center=(30, 34))
    assert img[mask == 1].mean() < 0.25  # cysts are dark
    img, mask, info = make_phantom((32, 32, 32), "normal", rng)
    assert img.shape == (32, 32, 32) and mask.sum() == 0 and info["center"] is None
    assert img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1


def test_phantoms_are_seeded():
    a = make_phantom((48, 48), "cyst", np.random.default_rng(5))
    b = make_phantom((48, 48), "cyst", np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[2] == b[2]


def test_classification_dataset(tmp_path):
    path = generate_dataset(tmp_path, "classification", n_patients=12, images_per_patient=2)
    doc = yaml.safe_load(path.read_text())
    assert doc["classes"] == ["normal", "nodule", "cyst"] and len(doc["images"]) == 24
    assert doc["features"] == ["patient", "lesion_type", "radius", "center"]
    for entry in doc["images"]:
        assert doc["classes"][entry["label"]] == entry["values"]["lesion_type"]
    patients = {
        k: {doc["images"][i]["values"]["patient"] for i in idx} for k, idx in doc["split"].items()
    }
    assert set(patients) == {"training", "validation", "test"}
    assert not (patients["training"] & patients["test"]) and patients["test"]
    assert sorted(sum(doc["split"].values(), [])) == list(range(24))
    img = ecvl.ImRead(str(tmp_path / doc["images"][0]["location"]))
    assert img.data.shape == (64, 64, 1)


def test_segmentation_dataset_masks_match(tmp_path):
    path = generate_dataset(tmp_path, "segmentation", n_patients=4, shape=(48, 48), seed=3)
    doc = yaml.safe_load(path.read_text())
    assert doc["classes"] == []
    for entry in doc["images"]:
        mask = np.asarray(ecvl.ImRead(str(tmp_path / entry["label"])).data)[..., 0].T
        cy, cx = (float(v) for v in entry["values"]["center"].split())
        r = entry["values"]["radius"]
        assert mask[round(cy), round(cx)] == 255
        assert (mask > 0).sum() == pytest.approx(np.pi * r * r, rel=0.15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "tracking"}, "unknown task"),
        ({"lesion_types": ["tumour"]}, "unknown lesion types"),
        ({"split": (0.5, 0.6, 0.1)}, "split"),
        ({"n_patients": 2}, "at least 3 patients"),
        ({"shape": (8, 8)}, "sides >= 16"),
    ],
)
def test_errors(tmp_path, kwargs, match):
    with pytest.raises(SyntheticError, match=match):
        generate_dataset(tmp_path, **kwargs)
