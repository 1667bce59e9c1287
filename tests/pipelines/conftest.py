"""Shared fixtures: small real and synthetic datasets, built once per test session."""

import pytest

from deephealth.pipelines.demo import nuclei_dataset
from deephealth.pipelines.synthetic import generate_dataset


@pytest.fixture(scope="session")
def lesion_set(tmp_path_factory):
    """Synthetic 2D lesion classification set: 300 patients, 32x32, classes normal/nodule/cyst."""
    out = tmp_path_factory.mktemp("lesions")
    return generate_dataset(out, "classification", n_patients=300, shape=(32, 32), seed=0)


@pytest.fixture(scope="session")
def nuclei_tiles(tmp_path_factory):
    """The real DSB2018 nuclei image cut into 64x64 tiles (requires `make data`)."""
    return nuclei_dataset(tmp_path_factory.mktemp("nuclei"), tile=64)
