"""Sites of a federation: authentication by certificate and a crashed site that rejoins.

Real processes over loopback TLS: a server that requires site certificates of its CA and an
allow-list, three sites with certificates from `deephealth federated certs --site`, and two
intruders (a certificate of another CA; one of the right CA that is not on the list).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from deephealth.pipelines.config import ConfigError
from deephealth.pipelines.federated.config import load_federation
from deephealth.pipelines.federated.partition import split_sites
from deephealth.pipelines.federated.simulate import free_port, simulate
from deephealth.pipelines.federated.tls import make_certificates
from deephealth.pipelines.synthetic import generate_dataset

PIPELINE = {
    "task": "classification", "model": "lenet", "batch_size": 16, "optimizer": {"lr": 0.002},
    "loader": {"workers": 1}, "seed": 0,
}  # fmt: skip


def _client(config: Path, dataset: Path, name: str, address: str, tls: dict[str, str],
            log: Path) -> subprocess.Popen[bytes]:  # fmt: skip
    cmd = [sys.executable, "-m", "deephealth.cli", "federated", "client", str(config),
           "--dataset", str(dataset), "--name", name, "--address", address,
           "--certificate", tls["certificate"], "--key", tls["key"]]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def test_site_authentication_needs_tls():
    with pytest.raises(ConfigError) as err:
        load_federation({**PIPELINE, "dataset": "x.yml", "federated": {"authenticate_sites": True}})
    assert [k for k, _ in err.value.problems] == ["federated.authenticate_sites"]


@pytest.mark.slow
def test_unknown_sites_are_refused_and_a_crashed_site_rejoins(tmp_path):
    """Site 2 is SIGKILLed in round 2 and restarted: it trains again in round 3. The intruders never
    take part in a round."""
    ds = generate_dataset(tmp_path / "data", "classification", n_patients=120, shape=(24, 24),
                          seed=0, lesion_types=("normal", "nodule"))  # fmt: skip
    sites = split_sites(ds, (0.4, 0.3, 0.3), alpha=1.0, seed=0)
    names = [f"site{i}-{s.stem}" for i, s in enumerate(sites)]
    certs = make_certificates(tmp_path / "certs", ["127.0.0.1"], [*names, "stranger"])
    other = make_certificates(tmp_path / "other-ca", ["127.0.0.1"], ["forger"])
    tls = {k: certs[k] for k in ("ca", "certificate", "key")}
    cfg = tmp_path / "fed.yml"
    fed = {"run_dir": str(tmp_path / "fed"), "rounds": 3, "min_sites": 2, "tls": tls,
           "allowed_sites": names, "rejoin_wait_s": 120, "round_timeout_s": 120}  # fmt: skip
    cfg.write_text(yaml.safe_dump({**PIPELINE, "dataset": str(ds), "federated": fed}))
    address = f"127.0.0.1:{free_port()}"
    (tmp_path / "intruders").mkdir()
    intruders: list[subprocess.Popen[bytes]] = []
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(
            simulate, cfg, sites, crash={2: 2}, restart_crashed=True, timeout_s=300,
            address=address,
            identities=[(certs["sites"][n]["certificate"], certs["sites"][n]["key"]) for n in names],
        )  # fmt: skip
        try:
            # the intruders start once the server is up (a site retries a refused connection for
            # max(30 s, round_timeout_s / 10) only): they then knock while the sites train
            deadline = time.monotonic() + 120
            while not (tmp_path / "fed" / "federation.json").is_file() and not run.done():
                assert time.monotonic() < deadline, "the federation's server did not start"
                time.sleep(0.2)
            intruders = [
                _client(cfg, sites[0], name, address, {**tls, **cert},
                        tmp_path / "intruders" / f"{name}.log")
                for name, cert in (("forger", other["sites"]["forger"]),
                                   ("stranger", certs["sites"]["stranger"]))
            ]  # fmt: skip
            result = run.result()
        finally:
            for p in intruders:
                if p.poll() is None:
                    p.kill()
                p.wait()
    assert result["site_restarts"] == [2]
    assert result["site_exit_codes"] == [0, 0, 0]  # the restarted site finished normally
    r1, r2, r3 = result["rounds"]
    assert sorted(r1["sites"]) == names and r1["sites_failed"] == 0
    assert sorted(r2["sites"]) == names[:2] and r2["sites_failed"] == 1  # killed mid-round
    assert sorted(r3["sites"]) == names and r3["sites_failed"] == 0  # rejoined
    assert r3["site_fit"][names[2]]["loss"] > 0
    run_dir = Path(result["run_dir"])
    logged = {json.loads(line)["site"] for line in (run_dir / "messages.jsonl").open()}
    assert logged == set(names)  # the intruders never sent or received a round
    state = json.loads((run_dir / "federation.json").read_text())
    assert state["status"] == "completed" and state["plan"]["authenticate_sites"] is True
    server_log = (run_dir / "logs" / "server.log").read_text()
    assert "site certificates required" in server_log
    stranger = (tmp_path / "intruders" / "stranger.log").read_text()
    assert "not in allowed_sites" in stranger  # refused by name: PERMISSION_DENIED
