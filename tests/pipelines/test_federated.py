"""Federated training on Flower: a server and three site processes over loopback gRPC.

The data are the synthetic lesion phantoms split into three non-IID sites (Dirichlet label skew
and 50/30/20 size skew, `federated.partition.split_sites`); the server holds the test split.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

# `make install` installs Flower and Opacus: a missing one (or one of their dependencies) is a
# failure here, not a skip
import flwr  # noqa: F401
import numpy as np
import opacus  # noqa: F401
import pytest
import torch
import yaml

import deephealth.eddl as eddl
from deephealth.pipelines.config import ConfigError
from deephealth.pipelines.federated import FederatedError
from deephealth.pipelines.federated.config import load_federation
from deephealth.pipelines.federated.exchange import (
    ProximalTerm,
    check_outbound,
    exchanged_keys,
    get_arrays,
    set_arrays,
    shapes,
)
from deephealth.pipelines.federated.partition import split_sites
from deephealth.pipelines.federated.server import epsilon_spent
from deephealth.pipelines.federated.simulate import simulate
from deephealth.pipelines.run import train
from deephealth.pipelines.synthetic import generate_dataset

PIPELINE = {
    "task": "classification", "model": "lenet", "batch_size": 16, "optimizer": {"lr": 0.002},
    "loader": {"workers": 1}, "seed": 0,
}  # fmt: skip
SIZES = (0.5, 0.3, 0.2)


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    """(pooled dataset YAML, three non-IID site YAMLs)."""
    out = tmp_path_factory.mktemp("fed_phantoms")
    ds = generate_dataset(out, "classification", n_patients=300, shape=(24, 24), seed=0,
                          lesion_types=("normal", "nodule"))  # fmt: skip
    return ds, split_sites(ds, SIZES, alpha=1.0, seed=0)


def _config(path: Path, dataset: Path, **fed) -> Path:
    cfg = {
        **PIPELINE,
        "dataset": str(dataset),
        "federated": {"run_dir": str(path.parent / "fed"), **fed},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _tiny_bn_net():
    inp = eddl.Input([1, 6, 6])
    x = eddl.ReLu(eddl.BatchNormalization(eddl.Conv(inp, 2, [3, 3])))
    net = eddl.Model([inp], [eddl.Softmax(eddl.Dense(eddl.Flatten(x), 2))])
    eddl.build(net, eddl.sgd(0.1), ["soft_cross_entropy"], ["accuracy"], eddl.CS_CPU(1))
    return net


# -------------------------------------------------------------------------------------- units
def test_split_sites_is_non_iid_and_keeps_test_at_the_server(phantoms):
    ds, sites = phantoms
    pooled = yaml.safe_load(ds.read_text())
    seen, shares = set(), []
    for site in sites:
        doc = yaml.safe_load(site.read_text())
        assert set(doc["split"]) == {"training", "validation"}  # no test split at a site
        locs = {img["location"] for img in doc["images"]}
        assert not locs & seen  # disjoint sites
        seen |= locs
        labels = [img["label"] for img in doc["images"]]
        shares.append(np.bincount(labels, minlength=2) / len(labels))
    test = {pooled["images"][i]["location"] for i in pooled["split"]["test"]}
    assert not seen & test
    sizes = [len(yaml.safe_load(s.read_text())["images"]) for s in sites]
    assert max(sizes) >= 2.5 * min(sizes)  # size skew
    assert max(abs(a[0] - b[0]) for a in shares for b in shares) > 0.3  # label skew


def test_config_lists_every_problem(tmp_path, phantoms):
    bad = {**PIPELINE, "dataset": str(phantoms[0]),
           "federated": {"strategy": "fedmagic", "rounds": 0, "colour": 1, "tls": {"certificate": "x"}}}  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load_federation(bad)
    keys = {k for k, _ in err.value.problems}
    assert keys == {"federated.strategy", "federated.rounds", "federated.colour", "federated.tls"}
    cfg, fed = load_federation(_config(tmp_path / "f.yml", phantoms[0]), dataset=phantoms[1][0])
    assert cfg["dataset"] == str(phantoms[1][0]) and fed["strategy"] == "fedavg"
    assert Path(fed["run_dir"]).is_absolute()
    # a site's config names only the CA certificate; the server's key is not needed there
    site = {**PIPELINE, "dataset": str(phantoms[0]), "federated": {"tls": {"ca": "certs/ca.crt"}}}
    _, fed = load_federation(site)
    assert fed["tls"] == {"ca": str(Path.cwd() / "certs/ca.crt")}


def test_fedbn_keeps_batchnorm_local_and_the_outbound_gate():
    net = _tiny_bn_net()
    every = exchanged_keys(net, "average")
    fedbn = exchanged_keys(net, "fedbn")
    bn = [k for k in every if k not in fedbn]
    assert any(k.endswith("running_mean") for k in bn) and any(k.endswith("weight") for k in bn)
    assert not any("num_batches_tracked" in k for k in every)  # integer counters never travel
    # set_arrays under FedBN leaves the local BatchNorm statistics alone
    before = {k: v.clone() for k, v in net.graph.state_dict().items()}
    arrays = [a + 1 for a in get_arrays(net, fedbn)]
    set_arrays(net, fedbn, arrays)
    after = net.graph.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in bn)
    assert all(torch.equal(after[k], before[k] + 1) for k in fedbn)
    expected = shapes(arrays)
    check_outbound(arrays, 10, {"loss": 0.5, "site": "a"}, expected)
    with pytest.raises(FederatedError, match="not the model's parameters"):
        check_outbound([np.zeros((4, 1, 6, 6), np.float32)], 10, {}, expected)  # a batch of images
    with pytest.raises(FederatedError, match="not a scalar"):
        check_outbound(arrays, 10, {"labels": [0, 1, 1]}, expected)  # per-sample values
    with pytest.raises(FederatedError, match="dtype"):
        check_outbound([a.astype(np.float64) for a in arrays], 10, {}, expected)


def test_fedprox_hook_adds_the_proximal_gradient():
    net = _tiny_bn_net()
    keys = exchanged_keys(net)
    params = dict(net.graph.named_parameters())
    prox = ProximalTerm(net, keys, mu=0.5)
    w = params[keys[0]]
    with torch.no_grad():
        w.add_(2.0)  # moved away from the global weights by 2
    (w.sum() * 0.0).backward()
    assert torch.allclose(w.grad, torch.full_like(w, 0.5 * 2.0))  # d/dw (mu/2)||w - w0||^2
    prox.remove()
    w.grad = None
    (w.sum() * 0.0).backward()
    assert torch.count_nonzero(w.grad) == 0


def test_epsilon_grows_with_rounds_and_shrinks_with_noise():
    e1, e3 = epsilon_spent(1.0, 1, 1e-5), epsilon_spent(1.0, 3, 1e-5)
    assert 0 < e1 < e3 < math.inf
    assert epsilon_spent(2.0, 3, 1e-5) < e3
    assert epsilon_spent(0.0, 3, 1e-5) == math.inf


# ------------------------------------------------------------------ federation over loopback
@pytest.fixture(scope="module")
def federation(phantoms, tmp_path_factory):
    """FedAvg, 5 rounds of 2 local epochs, three site processes: (result, config path)."""
    ds, sites = phantoms
    cfg = _config(tmp_path_factory.mktemp("fedavg") / "fed.yml", ds, rounds=5, local_epochs=2)
    return simulate(cfg, sites, timeout_s=600), cfg


@pytest.mark.slow
def test_federated_model_is_within_3_points_of_pooled_training(federation, phantoms, tmp_path):
    result, _ = federation
    ds, _ = phantoms
    pooled = train({**PIPELINE, "dataset": str(ds), "epochs": 10}, tmp_path / "pooled")
    assert pooled["metrics"]["split"] == result["metrics"]["split"] == "test"
    fed_acc, pooled_acc = result["metrics"]["accuracy"], pooled["metrics"]["accuracy"]
    assert fed_acc >= pooled_acc - 0.03, (fed_acc, pooled_acc)
    assert result["site_exit_codes"] == [0, 0, 0]
    rounds = result["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3, 4, 5]
    assert all(r["sites_done"] == 3 and r["sites_failed"] == 0 for r in rounds)
    # the sample counts the server weighted by are the sites' training splits
    sizes = sorted(len(yaml.safe_load(s.read_text())["split"]["training"]) for s in phantoms[1])
    assert sorted(rounds[0]["sites"].values()) == sizes


@pytest.mark.slow
def test_only_parameters_and_scalars_leave_a_site(federation):
    result, cfg = federation
    run_dir = Path(result["run_dir"])
    model = [list(s) for s in _model_shapes(cfg)]
    messages = [json.loads(line) for line in (run_dir / "messages.jsonl").read_text().splitlines()]
    assert len(messages) == 3 * 5 * 2  # every fit and evaluate reply of every site and round
    for m in messages:
        assert m["shapes"] == (model if m["kind"] == "fit" else []), m
        assert m["dtypes"] in (["float32"], [])
        assert isinstance(m["num_examples"], int)
        assert set(m["metrics"].values()) <= {"float", "int", "str"}, m["metrics"]
    # bytes per round: the global model down to and an update up from each site, nothing more
    nbytes = sum(int(np.prod(s)) * 4 for s in model)
    for r in result["rounds"]:
        assert nbytes * 3 <= r["bytes_received"] < nbytes * 3 * 1.01
        assert r["bytes_sent"] == r["bytes_received"]


def _model_shapes(cfg: Path) -> list[tuple[int, ...]]:
    from deephealth.pipelines.federated.server import ServerModel

    pipeline, fed = load_federation(cfg)
    model = ServerModel(pipeline, fed)
    return shapes(model.arrays())


@pytest.mark.slow
def test_global_model_runs_in_onnxruntime_and_the_report_has_rounds(federation, phantoms):
    from PIL import Image

    from deephealth.pipelines.data import normalize
    from deephealth.serving import InferenceSession

    result, _ = federation
    assert result["onnx_check_passed"]
    session = InferenceSession(result["onnx"])
    assert session.class_names == ("normal", "nodule")
    ds = yaml.safe_load(phantoms[0].read_text())
    test = [ds["images"][i] for i in ds["split"]["test"]]
    x = np.stack([
        normalize(np.asarray(Image.open(phantoms[0].parent / e["location"]), np.float32)[..., None],
                  "minmax").transpose(2, 0, 1)
        for e in test
    ])  # fmt: skip
    pred = np.asarray(session.run(x)).argmax(axis=1)
    accuracy = float(np.mean(pred == np.array([e["label"] for e in test])))
    assert accuracy == pytest.approx(result["metrics"]["accuracy"])
    html = Path(result["report_html"]).read_text()
    assert "Federation rounds" in html and "Sites per round" in html and "KPI report" in html
    report = json.loads((Path(result["run_dir"]) / "report.json").read_text())
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3, 4, 5]
    assert report["kpis"]["accuracy"] == result["metrics"]["accuracy"]


@pytest.mark.slow
def test_tls_killed_site_dp_epsilon_and_server_resume(phantoms, tmp_path, capsys):
    """Over TLS (certificates from `deephealth federated certs`), DP-FedAvg with min 2 sites; site 2
    is SIGKILLed in round 2, the round completes with the other two; then the server restarts from
    its saved global model and runs round 3."""
    from deephealth.cli import main

    ds, sites = phantoms
    assert main(["federated", "certs", str(tmp_path / "certs"), "--host", "127.0.0.1"]) == 0
    tls = json.loads(capsys.readouterr().out)
    assert tls.pop("sites") == {}  # no --site: no site certificates
    assert (tmp_path / "certs" / "server.key").stat().st_mode & 0o077 == 0
    dp = {"noise_multiplier": 0.3, "clipping_norm": 0.5, "delta": 1e-5}
    fed = {"local_epochs": 1, "min_sites": 2, "dp": dp, "tls": tls}
    cfg = _config(tmp_path / "fed.yml", ds, rounds=2, **fed)
    first = simulate(cfg, sites, crash={2: 2}, timeout_s=600)
    assert first["site_exit_codes"][:2] == [0, 0] and first["site_exit_codes"][2] != 0
    r1, r2 = first["rounds"]
    assert (r1["sites_done"], r1["sites_failed"]) == (3, 0)
    assert (r2["sites_done"], r2["sites_failed"]) == (2, 1)
    assert 0 < r1["epsilon"] < r2["epsilon"] == first["epsilon"] < math.inf
    assert first["epsilon"] == pytest.approx(epsilon_spent(0.3, 2, 1e-5))
    # restart with one more round: round numbering, record and weights continue from the save
    cfg = _config(tmp_path / "fed.yml", ds, rounds=3, **fed)
    second = simulate(cfg, sites[:2], resume=True, timeout_s=600)
    assert [r["round"] for r in second["rounds"]] == [1, 2, 3]
    assert second["rounds"][:2] == first["rounds"]
    assert second["rounds"][2]["sites_done"] == 2
    assert second["epsilon"] == pytest.approx(epsilon_spent(0.3, 3, 1e-5))
    # the restarted server started from the saved global model of round 2, not a fresh one
    start = second["sessions"][-1]
    assert start["after_round"] == 2
    assert start["initial"] == first["rounds"][-1]["server_test"]
    log = (Path(second["run_dir"]) / "logs" / "server.log").read_text()
    assert "[ROUND 1]" in log and "[ROUND 2]" not in log  # only the missing round ran
    assert "SSL is enabled" in log


def test_cli_help_names_the_commands(capsys):
    from deephealth.cli import main

    with pytest.raises(SystemExit) as done:
        main(["federated", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("server", "client", "simulate", "certs"))
    assert main(["federated"]) == 2


def _fit_res(arrays, n):
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters

    return None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), n, {"loss": 1.0})


def test_strategies_weight_by_samples_and_step_on_the_server():
    from flwr.common import parameters_to_ndarrays
    from flwr.server import strategy as st

    from deephealth.pipelines.federated.config import FIELDS
    from deephealth.pipelines.federated.server import make_strategy

    fed = {k: v[0] for k, v in FIELDS.items()}
    init = [np.zeros((2, 2), np.float32)]
    results = [
        _fit_res([np.full((2, 2), 1.0, np.float32)], 30),
        _fit_res([np.full((2, 2), 4.0, np.float32)], 10),
    ]
    avg = make_strategy(fed, init)
    assert type(avg) is st.FedAvg
    params, _ = avg.aggregate_fit(1, results, [])
    assert np.allclose(parameters_to_ndarrays(params)[0], (30 * 1 + 10 * 4) / 40)  # weighted mean
    prox = make_strategy({**fed, "strategy": "fedprox", "proximal_mu": 0.1}, init)
    assert isinstance(prox, st.FedProx) and prox.proximal_mu == 0.1
    adam = make_strategy({**fed, "strategy": "fedadam", "server_learning_rate": 0.05}, init)
    params, _ = adam.aggregate_fit(1, results, [])
    # first server Adam step from 0 towards the weighted mean 1.75 (Flower's bias-corrected eta:
    # eta * sqrt(1 - b2^(t+1)) / (1 - b1^(t+1)), here t = 1); m / sqrt(v) = 1 for one step
    eta = 0.05 * np.sqrt(1 - 0.99**2) / (1 - 0.9**2)
    assert np.allclose(parameters_to_ndarrays(params)[0], eta, rtol=1e-5)
    dp = make_strategy(
        {**fed, "dp": {"noise_multiplier": 1.0, "clipping_norm": 2.0, "delta": 1e-5}}, init
    )
    assert isinstance(dp, st.DifferentialPrivacyClientSideFixedClipping) and dp.clipping_norm == 2.0


def test_the_global_model_goes_down_as_float32_whatever_the_strategy(tmp_path):
    """FedAdam's server step computes in float64; the recorder sends the sites float32 (half the
    bytes, the dtype the sites' outbound gate checks)."""
    from flwr.common import parameters_to_ndarrays

    from deephealth.pipelines.federated.config import FIELDS
    from deephealth.pipelines.federated.server import Recorder, make_strategy

    fed = {**{k: v[0] for k, v in FIELDS.items()}, "strategy": "fedadam"}
    init = [np.zeros((2, 2), np.float32)]
    results = [_fit_res([np.full((2, 2), 1.0, np.float32)], 30)]
    raw, _ = make_strategy(fed, init).aggregate_fit(1, results, [])
    assert parameters_to_ndarrays(raw)[0].dtype == np.float64
    recorder = Recorder(make_strategy(fed, init), None, tmp_path, {"round": 0})
    params, _ = recorder.aggregate_fit(1, results, [])
    out = parameters_to_ndarrays(params)[0]
    assert out.dtype == np.float32
    assert np.allclose(out, parameters_to_ndarrays(raw)[0], rtol=1e-6)
