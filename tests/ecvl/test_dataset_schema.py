"""The feature schema in the dataset YAML: declarations, value checks with lines, patients."""

from __future__ import annotations

from pathlib import Path

import pytest

import deephealth.ecvl as ecvl
from deephealth.ecvl.dataset.dump import dataset_to_dict
from deephealth.ecvl.dataset.errors import DatasetFormatError

GOOD = """\
name: clinical
features:
  - {name: patient, type: id}
  - {name: age, type: numeric, unit: years, min: 0, max: 120}
  - {name: sex, type: categorical, values: [F, M]}
  - {name: scan_date, type: date}
  - {name: months, type: numeric, role: time}
  - {name: relapse, type: categorical, values: [0, 1], role: event}
  - site
patients:
  P1: {age: 71, sex: F}
  P2: {age: 64, sex: M, months: 3}
images:
  - {location: a.png, values: {patient: P1, scan_date: 2020-01-05, months: 12, relapse: 1}}
  - {location: b.png, values: {patient: P2, scan_date: 2020-02-01, relapse: 0, site: Turin}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ds.yml"
    path.write_text(text)
    return path


def test_schema_is_read_and_patient_values_merged(tmp_path: Path) -> None:
    ds = ecvl.Dataset(str(_write(tmp_path, GOOD)))
    specs = {s.name: s for s in ds.feature_specs_}
    assert specs["age"].type == "numeric" and specs["age"].unit == "years"
    assert specs["age"].max == 120 and specs["sex"].values == ["F", "M"]
    assert specs["months"].role == "time" and specs["relapse"].role == "event"
    assert specs["patient"].role == "none" and specs["site"].type == "text"
    names = ds.features_
    first = {names[k]: v for k, v in ds.samples_[0].values_.items()}
    second = {names[k]: v for k, v in ds.samples_[1].values_.items()}
    assert first["age"] == "71" and first["sex"] == "F" and first["months"] == "12"
    assert second["age"] == "64" and second["months"] == "3" and second["site"] == "Turin"


def test_every_schema_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    bad = GOOD.replace("min: 0, max: 120", "min: 0, max: 120, colour: red").replace(
        "values: {patient: P1, scan_date: 2020-01-05", "values: {patient: P1, scan_date: 05/01/20"
    )
    bad = bad.replace("P2: {age: 64", "P2: {age: 164").replace("sex: M, months", "sex: X, months")
    bad = bad.replace("type: date}", "type: datum}")
    with pytest.raises(DatasetFormatError) as info:
        ecvl.Dataset(str(_write(tmp_path, bad)))
    text = str(info.value)
    assert ":4:" in text and "unknown key 'colour'" in text
    assert ":6:" in text and "unknown type 'datum'" in text
    assert ":12:" in text and "above its maximum 120" in text
    assert "'X' is not one of its values (F, M)" in text
    # scan_date's type became text after the bad declaration, so the date is not checked;
    # with a valid declaration a bad date is an error on its line
    with pytest.raises(DatasetFormatError, match=r":14:.*not an ISO 8601 date"):
        ecvl.Dataset(str(_write(tmp_path, GOOD.replace("2020-01-05", "05/01/20"))))


def test_patients_need_an_id_feature_and_duplicates_are_refused(tmp_path: Path) -> None:
    no_id = GOOD.replace("{name: patient, type: id}", "{name: patient, type: text}")
    with pytest.raises(DatasetFormatError, match="needs a feature of type id"):
        ecvl.Dataset(str(_write(tmp_path, no_id)))
    dup = GOOD.replace("  - site\n", "  - age\n")
    with pytest.raises(DatasetFormatError, match=r":9:.*feature 'age' is listed twice"):
        ecvl.Dataset(str(_write(tmp_path, dup)))


def test_schema_survives_a_dump_and_reload(tmp_path: Path) -> None:
    import yaml

    ds = ecvl.Dataset(str(_write(tmp_path, GOOD)))
    again = tmp_path / "again.yml"
    again.write_text(yaml.safe_dump(dataset_to_dict(ds, str(tmp_path))))
    ds2 = ecvl.Dataset(str(again))
    assert [s.as_dict() for s in ds2.feature_specs_] == [s.as_dict() for s in ds.feature_specs_]
    assert [s.values_ for s in ds2.samples_] == [s.values_ for s in ds.samples_]
