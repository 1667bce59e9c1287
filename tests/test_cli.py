"""The `deephealth` command's pipeline, dataset and anonymize sub-commands, with their exit codes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deephealth.cli import main
from deephealth.pipelines.synthetic import generate_dataset


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("ph"), "classification", n_patients=30,
                            images_per_patient=2, shape=(32, 32))  # fmt: skip


@pytest.fixture(scope="module")
def cli_run(phantoms, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_run")
    cfg = root / "cfg.yml"
    cfg.write_text(f"task: classification\ndataset: {phantoms}\nmodel: lenet\nepochs: 2\n")
    code = main(["train", str(cfg), "--run-dir", str(root / "run"), "--quiet"])
    return code, root / "run"


def test_console_script_help():
    exe = Path(sys.executable).with_name("deephealth")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("train", "evaluate", "predict", "export", "report", "demo", "dataset", "anonymize"):
        assert f"    {cmd}" in out
    assert main([]) == 2


def test_train_report_evaluate_predict_export(cli_run, phantoms, tmp_path, capsys):
    code, run = cli_run
    assert code == 0 and (run / "model.onnx").is_file() and (run / "report.html").is_file()
    assert main(["report", str(run), "--json", "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    kpis = json.loads(out[: out.rindex("}") + 1])
    assert kpis["time_to_model_in_production_s"] > 0 and (tmp_path / "r.html").is_file()
    assert main(["evaluate", str(run)]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1
    img = phantoms.parent / "images" / "p000_0.png"
    assert main(["predict", str(run), str(img), "-o", str(tmp_path / "p"), "-q"]) == 0
    assert (tmp_path / "p" / "predictions.csv").is_file()
    assert main(["export", str(run), "-o", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx.preprocessing.json").is_file()
    assert main(["export", "--zoo", "lenet", "--input-shape", "1,28,28", "--classes", "10",
                 "-o", str(tmp_path / "lenet.onnx")]) == 0  # fmt: skip


def test_exit_codes_for_bad_input(cli_run, tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("task: classify\nepochs: zero\n")
    assert main(["train", str(bad), "--run-dir", str(tmp_path / "r"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "task: must be one of" in err and "dataset: is required" in err and "epochs:" in err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert main(["predict", str(cli_run[1]), str(tmp_path / "none.png"), "-o", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path)]) == 2
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", "--zoo", "alexnet", "-o", str(tmp_path / "x.onnx")]) == 1


def test_demo_without_data_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEEPHEALTH_DATA", str(tmp_path / "nowhere"))
    assert main(["demo", "--out", str(tmp_path / "d")]) == 2
    assert "make data" in capsys.readouterr().err
    monkeypatch.setenv("DEEPHEALTH_MRICRON", str(tmp_path / "nowhere"))
    assert main(["demo", "brain", "--out", str(tmp_path / "d")]) == 2
    assert "mricron-data" in capsys.readouterr().err


def test_dataset_commands(phantoms, tmp_path, capsys):
    assert main(["dataset", "validate", str(phantoms)]) == 0
    assert main(["dataset", "describe", str(phantoms)]) == 0
    out = capsys.readouterr().out
    assert "task: classification" in out and "split training:" in out and "nodule=" in out
    copy = tmp_path / "ds"
    shutil.copytree(phantoms.parent, copy)
    target = copy / "dataset.yml"
    assert (
        main(["dataset", "split", str(target), "--fractions", "0.5,0.25,0.25", "--seed", "3"]) == 0
    )
    doc = yaml.safe_load(target.read_text())
    patients = {
        k: {doc["images"][i]["values"]["patient"] for i in v} for k, v in doc["split"].items()
    }
    assert len(patients["training"]) == 15 and not patients["training"] & patients["test"]
    assert sorted(sum(doc["split"].values(), [])) == list(range(60))
    (copy / "images" / "p000_0.png").unlink()
    assert main(["dataset", "validate", str(target)]) == 2
    assert "p000_0.png" in capsys.readouterr().out
    (copy / "images" / "p000_0.png").write_bytes(b"not a png")
    doc["images"][0]["location"] = "images/p000_0.png"
    target.write_text(yaml.safe_dump(doc))
    # an unreadable first image: an error line, no traceback
    assert main(["dataset", "describe", str(target)]) == 2
    assert "first image:" in capsys.readouterr().err
    assert main(["dataset", "split", str(target), "--fractions", "0.5,0.5"]) == 2
    assert main(["dataset", "generate", "phantoms", "--task", "segmentation", "--patients", "4",
                 "--shape", "24,24", "-o", str(tmp_path / "gen")]) == 0  # fmt: skip
    assert yaml.safe_load((tmp_path / "gen" / "dataset.yml").read_text())["images"][0]["label"]
    assert main(["dataset", "generate", "classification", "-o", str(tmp_path / "x.yml")]) == 2


def test_anonymize(tmp_path, capsys):
    from pydicom.data import get_testdata_file

    src = get_testdata_file("CT_small.dcm")
    assert main(["anonymize", src, "-o", str(tmp_path / "out"), "--key", "secret"]) == 0
    assert "1 file(s) written" in capsys.readouterr().out
    written = [p for p in (tmp_path / "out").rglob("*.dcm")]
    assert len(written) == 1
    import pydicom

    assert pydicom.dcmread(written[0]).PatientName != pydicom.dcmread(src).PatientName
    assert main(["anonymize", src, "-o", str(tmp_path / "o2"), "--key", ""]) == 2
