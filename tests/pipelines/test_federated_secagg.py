"""Secure aggregation (Flower's SecAgg+) on Flower's deployment engine, over loopback.

One real federation: a `flower-superlink` and three `flower-supernode` processes on 127.0.0.1, the
federation's ServerApp with `SecAggPlusWorkflow` and the sites' ClientApp with `secaggplus_mod`,
training LeNet on three non-IID phantom sites. Flower starts a ClientApp process for every message
(four SecAgg+ stages and one evaluation per site and round): one round took 258 to 537 s on the
shared 2-core machine, and the node-authentication check (a SuperLink and two SuperNodes, no training)
118 s, so both are opt-in (`DEEPHEALTH_FEDERATED_DEPLOYMENT=1`). The config, the process commands
and the message check's positive control run always.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import flwr  # the federated extra is installed by `make install`
import numpy as np
import pytest
import yaml

import deephealth.eddl as eddl
from deephealth.pipelines.config import ConfigError
from deephealth.pipelines.federated import FederatedError
from deephealth.pipelines.federated.config import deployment_engine, load_federation
from deephealth.pipelines.federated.deployment import (
    flower_env,
    register_nodes,
    require_deployment_flwr,
    superlink_command,
    supernode_command,
    wait_port,
    write_connection,
)
from deephealth.pipelines.federated.flowerapp import INSPECT_ENV, inspect_records
from deephealth.pipelines.federated.partition import split_sites
from deephealth.pipelines.federated.server import ServerModel
from deephealth.pipelines.federated.simulate import free_port, simulate
from deephealth.pipelines.federated.tls import make_certificates, make_node_keys
from deephealth.pipelines.synthetic import generate_dataset

RUN_ENV = "DEEPHEALTH_FEDERATED_DEPLOYMENT"
PIPELINE = {
    "task": "classification", "model": "lenet", "batch_size": 16, "optimizer": {"lr": 0.002},
    "loader": {"workers": 1}, "seed": 0,
}  # fmt: skip


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("secagg_phantoms")
    ds = generate_dataset(out, "classification", n_patients=300, shape=(24, 24), seed=0,
                          lesion_types=("normal", "nodule"))  # fmt: skip
    return ds, split_sites(ds, (0.5, 0.3, 0.2), alpha=1.0, seed=0)


def _config(path: Path, dataset: Path, **fed) -> Path:
    cfg = {**PIPELINE, "dataset": str(dataset),
           "federated": {"run_dir": str(path.parent / "fed"), **fed}}  # fmt: skip
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_secure_aggregation_config(tmp_path, phantoms):
    ds, sites = phantoms
    _, fed = load_federation(_config(tmp_path / "a.yml", ds, secure_aggregation="secagg+"))
    assert fed["secure_aggregation"] == {
        "num_shares": 3, "reconstruction_threshold": 2, "clipping_range": 8.0,
        "quantization_range": 4194304, "max_weight": 1000.0,
    }  # fmt: skip
    bad = {"num_shares": 0, "modulus": 3}
    with pytest.raises(ConfigError) as err:
        load_federation(_config(tmp_path / "b.yml", ds, secure_aggregation=bad))
    keys = {k for k, _ in err.value.problems}
    assert keys == {
        "federated.secure_aggregation.num_shares",
        "federated.secure_aggregation.modulus",
    }
    # mTLS site certificates are checked by the gRPC server, which SecAgg+ does not run on
    with pytest.raises(ConfigError, match="authenticate_sites"):
        load_federation(_config(tmp_path / "c.yml", ds, secure_aggregation="secagg+",
                                tls={"ca": "ca.crt"}, authenticate_sites=True))  # fmt: skip
    # the processes: a SuperLink at federated.address, a SuperNode with the site as node config
    cfg = _config(tmp_path / "d.yml", ds, secure_aggregation="secagg+")
    _, fed = load_federation(cfg)
    link = superlink_command(fed, "127.0.0.1:9092")
    assert link[1:5] == ["--host", "127.0.0.1", "--port", "9092"] and "--insecure" in link
    node = supernode_command(cfg, sites[0], "a", "127.0.0.1:9092", 9500)
    assert f'dataset="{sites[0].resolve()}"' in node[node.index("--node-config") + 1]


def test_deployment_engine_names_the_flower_it_needs(monkeypatch):
    require_deployment_flwr()  # the installed Flower (1.42) has the deployment API
    monkeypatch.setattr(flwr, "__version__", "1.25.0")
    with pytest.raises(FederatedError, match=r"Flower >= 1.42 \(installed: 1.25.0\)"):
        require_deployment_flwr()


def test_inspection_finds_a_plaintext_update():
    """The positive control of the message check: an unmasked fit reply shows the site's arrays."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
    from flwr.compat.common.recorddict_compat import fitres_to_recorddict

    update = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
    res = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(update), 10, {"loss": 0.5})
    _, arrays, kinds = inspect_records(fitres_to_recorddict(res, keep_input=True))
    assert any(np.array_equal(a, update[0]) for a in arrays)
    assert any(k.endswith("loss") for k in kinds)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get(RUN_ENV) != "1",
    reason=f"{RUN_ENV}=1 runs it: one SecAgg+ round on Flower's deployment engine took 258-537 s "
    "on the shared 2-core machine (a ClientApp process per message)",
)
def test_secagg_plus_federation_over_loopback(tmp_path, phantoms, monkeypatch):
    ds, sites = phantoms
    audit = tmp_path / "audit"
    audit.mkdir()
    monkeypatch.setenv(INSPECT_ENV, str(audit))
    cfg = _config(tmp_path / "fed.yml", ds, rounds=1, local_epochs=4, min_sites=3,
                  round_timeout_s=300, secure_aggregation={"num_shares": 3,
                                                           "reconstruction_threshold": 2})  # fmt: skip
    result = simulate(cfg, sites, timeout_s=900)
    # the model learned: above the class prior of the held-out test split
    test = yaml.safe_load(Path(ds).read_text())
    labels = [test["images"][i]["label"] for i in test["split"]["test"]]
    prior = max(np.bincount(labels)) / len(labels)
    assert result["onnx_check_passed"]
    assert result["metrics"]["accuracy"] > prior + 0.1
    run_dir = Path(result["run_dir"])
    state = json.loads((run_dir / "federation.json").read_text())
    assert state["plan"]["secure_aggregation"] and state["rounds"][0]["sites_done"] == 3

    # every site's plaintext update (kept by the site) never reached the server
    updates = {p.stem: np.load(p) for p in audit.glob("site*-round1.npz")}
    assert len(updates) == 3
    received = [a for p in sorted(audit.glob("received-*.npz")) for a in np.load(p).values()]
    assert received  # the masked vectors, decoded from the SecAgg+ replies
    for upd in updates.values():
        for key in upd.files:
            if key == "num_examples":
                continue
            same_shape = [a for a in received if a.shape == upd[key].shape]
            assert same_shape  # the masked vector of this layer arrived...
            for a in same_shape:  # ...as integers mod 2^32, never the update's values
                assert a.dtype.kind in "iu"
                assert not np.allclose(a.astype(np.float64), upd[key], atol=1e-3)
    log = [json.loads(x) for x in (run_dir / "messages.jsonl").read_text().splitlines()]
    replies = [e for e in log if e["kind"] == "reply" and e["type"] == "train"]
    assert replies and not any("array" in str(v) for e in replies for v in e["records"].values())
    fits = [e for e in log if e["kind"] == "fit"]
    assert len(fits) == 3 and all(e["secure_aggregation"] and not e["shapes"] for e in fits)

    # the unmasked sum equals the plain sample-weighted FedAvg of the updates (quantization error)
    weights = {k: float(u["num_examples"]) for k, u in updates.items()}
    keys = [k for k in next(iter(updates.values())).files if k != "num_examples"]
    fedavg = [sum(weights[s] * updates[s][k] for s in updates) / sum(weights.values())
              for k in keys]  # fmt: skip
    cfg_d, fed = load_federation(cfg)
    model = ServerModel(cfg_d, fed)
    eddl.load(model.net, str(run_dir / "global.pt"), "pt")
    aggregate = model.arrays()
    # each site quantizes n/max_weight * w with step 2 * clipping_range / quantization_range; the
    # sum is divided by sum(n)/max_weight (a measured run: 16.6 steps off, this bound: 35.7)
    step = 2 * 8.0 / 4194304
    bound = 2 * len(sites) * step * 1000.0 / sum(weights.values())
    for got, want in zip(aggregate, fedavg, strict=True):
        assert np.max(np.abs(got - want)) < bound


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get(RUN_ENV) != "1",
    reason=f"{RUN_ENV}=1 runs it: 118 s on the shared 2-core machine (Flower process starts)",
)
def test_node_authentication_refuses_an_unknown_key(tmp_path, phantoms):
    """Flower's node authentication: a SuperNode whose public key is not registered is refused."""
    ds, sites = phantoms
    certs = tmp_path / "certs"
    tls = make_certificates(certs, ["127.0.0.1"], [])
    keys = make_node_keys(certs, ["hospital-a", "intruder"])
    tls.pop("sites")
    cfg = _config(tmp_path / "fed.yml", ds, tls=tls, node_auth=[keys["hospital-a"]["public"]])
    _, fed = load_federation(cfg)
    assert deployment_engine(fed)
    address = f"127.0.0.1:{free_port()}"
    env = flower_env(tmp_path / "flwr-home")
    logs = {n: tmp_path / f"{n}.log" for n in ("superlink", "hospital-a", "intruder")}
    procs = []
    try:
        with logs["superlink"].open("wb") as out:
            procs.append(subprocess.Popen(superlink_command(fed, address), stdout=out,
                                          stderr=subprocess.STDOUT, env=env))  # fmt: skip
        assert "--enable-supernode-auth" in procs[0].args
        wait_port(address, 180, procs[0])
        write_connection(env, fed, address)
        assert register_nodes(fed, env) == ["hospital-a"]
        for i, name in enumerate(("hospital-a", "intruder")):
            cmd = supernode_command(cfg, sites[i], name, address, free_port(), keys[name]["key"])
            with logs[name].open("wb") as out:
                procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                              env=flower_env(tmp_path / name)))  # fmt: skip
        intruder = procs[2]
        intruder.wait(timeout=240)  # refused: the SuperNode gives up
        assert intruder.returncode != 0
        assert "Failed to activate SuperNode" in logs["intruder"].read_text()
        deadline = time.monotonic() + 120
        while "SuperNode ID" not in logs["hospital-a"].read_text():
            assert time.monotonic() < deadline and procs[1].poll() is None
            time.sleep(0.5)
        link = logs["superlink"].read_text()
        assert "No SuperNode found with the given public key" in link
        assert link.count("Activated node_id") == 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
