"""The pipeline config schema: defaults, file loading and error listing."""

import pytest

from deephealth.pipelines.config import (
    SCHEMA_VERSION,
    ConfigError,
    describe_schema,
    load_config,
    validate_config,
)

FIVE_LINES = """\
version: 1
task: segmentation
dataset: data/nuclei.yml
model: unet
epochs: 3
"""


def test_five_line_config_gets_every_default(tmp_path):
    path = tmp_path / "cfg.yml"
    path.write_text(FIVE_LINES)
    cfg = load_config(path)
    assert cfg["dataset"] == str(tmp_path / "data" / "nuclei.yml")
    assert cfg["epochs"] == 3 and cfg["batch_size"] == 8 and cfg["seed"] == 0
    assert cfg["optimizer"] == {"name": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0}
    assert cfg["computing_service"]["type"] == "cpu"
    assert cfg["metrics"] == ["dice", "iou"] and cfg["monitor"] == "dice"
    assert cfg["export"] == {"tolerance": 1e-4}
    assert cfg["version"] == SCHEMA_VERSION


def test_dict_and_yaml_text_and_shorthands():
    cfg = load_config({"task": "classification", "dataset": "/d.yml", "optimizer": "sgd"})
    assert cfg["optimizer"]["name"] == "sgd" and cfg["monitor"] == "accuracy"
    cfg = load_config("task: regression\ndataset: /d.yml\ncomputing_service: gpu\n")
    assert cfg["computing_service"]["type"] == "gpu" and "psnr" in cfg["metrics"]


def test_every_problem_is_listed_with_its_key():
    bad = {
        "version": 7,
        "task": "detect",
        "epochs": 0,
        "optimizer": {"name": "adam", "lr": "fast", "betas": 1},
        "input_size": [64],
        "bach_size": 4,
        "patch": {"overlap": 1.5},
    }
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    keys = [k for k, _ in err.value.problems]
    assert keys == [
        "bach_size",
        "version",
        "task",
        "dataset",
        "input_size",
        "optimizer.betas",
        "optimizer.lr",
        "epochs",
        "patch.overlap",
    ]
    msg = str(err.value)
    assert "did you mean 'batch_size'" in msg and "optimizer.lr: must be a number > 0" in msg
    assert "9 problem(s)" in msg


@pytest.mark.parametrize(
    "extra, key",
    [
        ({"metrics": ["dice", "accuracy"]}, "metrics[1]"),
        ({"monitor": "accuracy"}, "monitor"),
        ({"patch": {"size": [32, 32, 32]}, "input_size": [64, 64]}, "patch.size"),
        ({"augmentations": {"training": 3}}, "augmentations"),
        ({"computing_service": {"type": "tpu"}}, "computing_service.type"),
        ({"model": ""}, "model"),
    ],
)
def test_cross_field_errors(extra, key):
    with pytest.raises(ConfigError) as err:
        validate_config({"task": "segmentation", "dataset": "d.yml", **extra})
    assert [k for k, _ in err.value.problems] == [key]


def test_patch_only_for_segmentation():
    with pytest.raises(ConfigError, match="patch training is for segmentation"):
        validate_config({"task": "classification", "dataset": "d", "patch": {"size": [8, 8]}})


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yml")
    (tmp_path / "bad.yml").write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yml")
    (tmp_path / "list.yml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(str(tmp_path / "list.yml"))


def test_describe_schema_lists_nested_keys():
    text = describe_schema()
    assert "task:" in text and "(required)" in text and "    lr: Learning rate." in text
