"""Distributed training: launcher detection, data-parallel equivalence, restarts, Slurm scripts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deephealth.distenv import DistEnv, detect, first_host
from deephealth.eddl.distributed.launcher import launch
from deephealth.eddl.distributed.process_group import threads_per_process
from deephealth.eddl.distributed.slurm import SlurmError, SlurmJob, sbatch_script, submit
from deephealth.eddl.distributed.strategy import DataParallel

SCRIPT = Path(__file__).parent / "dist_scripts" / "train_fit.py"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, DistEnv()),
        (
            {
                "RANK": "1",
                "WORLD_SIZE": "2",
                "LOCAL_RANK": "1",
                "LOCAL_WORLD_SIZE": "2",
                "MASTER_ADDR": "10.0.0.1",
                "MASTER_PORT": "1234",
                "TORCHELASTIC_RUN_ID": "x",
            },
            DistEnv(1, 2, 1, "10.0.0.1", 1234, "torchrun", 2),
        ),
        (
            {
                "SLURM_PROCID": "3",
                "SLURM_NTASKS": "4",
                "SLURM_LOCALID": "1",
                "SLURM_NTASKS_PER_NODE": "2",
                "SLURM_JOB_NODELIST": "gpu[07-08]",
            },
            DistEnv(3, 4, 1, "gpu07", 29500, "slurm", 2),
        ),
        (
            {
                "OMPI_COMM_WORLD_RANK": "2",
                "OMPI_COMM_WORLD_SIZE": "3",
                "OMPI_COMM_WORLD_LOCAL_RANK": "0",
                "OMPI_COMM_WORLD_LOCAL_SIZE": "1",
            },
            DistEnv(2, 3, 0, "127.0.0.1", 29500, "openmpi", 1),
        ),
        (
            {"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2"},
            DistEnv(1, 2, 1, "127.0.0.1", 29500, "mpich", 2),
        ),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, DistEnv()),
    ],
    ids=["single", "torchrun", "slurm", "openmpi", "mpich", "slurm-one-task"],
)
def test_detect_launcher(env, expected):
    assert detect(env) == expected


def test_detect_rejects_garbage():
    with pytest.raises(ValueError, match="RANK='one'"):
        detect({"RANK": "one", "WORLD_SIZE": "2"})


def test_first_host_of_nodelists():
    assert first_host("node12") == "node12"
    assert first_host("gpu[01-04,07],cpu1") == "gpu01"
    assert first_host("a[5,9]") == "a5"


def test_threads_are_shared_between_local_processes():
    assert threads_per_process(DistEnv(local_world_size=2), cores=8) == 4
    assert threads_per_process(DistEnv(local_world_size=4), cores=2) == 1


def test_single_process_strategy_is_identity():
    strategy = DataParallel()
    assert strategy.world_size == 1 and strategy.is_main
    shares = strategy.batch_indices(torch.arange(5), 2, drop_last=False)
    assert [s.tolist() for s in shares] == [[0, 1], [2, 3], [4]]
    assert strategy.broadcast_seed(11) == 11 and strategy.broadcast_stop(True)
    with pytest.raises(ValueError, match="unknown data-parallel mode"):
        DataParallel(mode="allreduce")
    with pytest.raises(ValueError, match="lsb"):
        DataParallel(mode="weights", lsb=0)
    with pytest.raises(ValueError, match="unknown gradient compression"):
        DataParallel(compression="int8")


class _Rank(DataParallel):
    """A DataParallel that believes it is `rank` of `world` (to test the batch split alone)."""

    def __init__(self, rank: int, world: int, **kw):
        super().__init__(**kw)
        self._r, self._w = rank, world

    rank = property(lambda self: self._r)
    world_size = property(lambda self: self._w)


def test_each_global_batch_is_split_once_across_ranks():
    order = torch.randperm(23, generator=torch.Generator().manual_seed(0))
    per_rank = [_Rank(r, 3).batch_indices(order, 8, drop_last=False) for r in range(3)]
    assert len({len(shares) for shares in per_rank}) == 1  # same number of steps on every rank
    for b in range(3):
        merged = torch.cat([per_rank[r][b] for r in range(3)])
        assert merged.tolist() == order[8 * b : 8 * b + 8].tolist()
    dropped = [_Rank(r, 3).batch_indices(order, 8, drop_last=True) for r in range(3)]
    assert all(len(shares) == 2 for shares in dropped)
    tiny = [
        _Rank(r, 4, sync_batchnorm=True).batch_indices(torch.arange(9), 4, False) for r in range(4)
    ]
    assert all(len(shares) == 2 for shares in tiny)  # a last batch of 1 < 4 ranks is dropped


def _torchrun(nproc: int, *args: str, env: dict | None = None) -> None:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        str(SCRIPT),
        *args,
    ]
    run_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    done = subprocess.run(cmd, env=run_env, timeout=240, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def _single(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    subprocess.run([sys.executable, str(SCRIPT), *args], check=True, env=env, timeout=240)


def _close(a: Path, b: Path, tol: float = 1e-5) -> None:
    wa, wb = torch.load(a), torch.load(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.allclose(wa[key].float(), wb[key].float(), atol=tol, rtol=0), key


@pytest.mark.slow
@pytest.mark.parametrize("sync_bn", ["0", "1"], ids=["plain", "sync-batchnorm"])
def test_two_processes_match_one_process(tmp_path, sync_bn):
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    _single(str(one), "gradients", sync_bn)
    _torchrun(2, str(two), "gradients", sync_bn)
    _close(one, two)


@pytest.mark.slow
def test_bf16_gradient_compression_stays_close_to_one_process(tmp_path):
    one, packed = tmp_path / "one.pt", tmp_path / "bf16.pt"
    _single(str(one), "gradients", "0")
    _torchrun(2, str(packed), "gradients+bf16", "0")
    _close(one, packed, tol=2e-2)  # bf16 keeps 8 bits of mantissa
    wa, wb = torch.load(one), torch.load(packed)
    assert any(not torch.allclose(wa[k], wb[k], atol=1e-6, rtol=0) for k in wa)  # it was rounded


@pytest.mark.slow
def test_weight_averaging_mode_trains_and_ranks_agree(tmp_path):
    out = tmp_path / "w.pt"
    _torchrun(2, str(out), "weights", "0")
    weights = torch.load(out)
    assert all(torch.isfinite(t).all() for t in weights.values())


@pytest.mark.slow
def test_killed_rank_is_named_and_the_restart_finishes_the_run(tmp_path):
    reference = tmp_path / "ref.pt"
    _single(str(reference), "gradients", "0")
    out = tmp_path / "out.pt"
    report = launch(
        [str(SCRIPT), str(out), "gradients", "0", "1", "3"],
        nproc=2,
        run_dir=tmp_path / "run",
        max_restarts=1,
        timeout_s=200,
        threads=1,
    )
    assert report.ok, report.summary()
    assert len(report.attempts) == 2
    first = report.attempts[0]
    assert first.exit_code != 0
    assert first.failures[0].rank == 1
    assert "killed" in first.failures[0].cause
    assert first.seconds < 60
    assert (tmp_path / "run" / "launch_report.json").exists()
    _close(reference, out)


def test_sbatch_script_content():
    job = SlurmJob(
        config="cfg/brain.yml",
        nodes=4,
        gpus_per_node=2,
        cpus_per_task=16,
        partition="gpu",
        run_dir="runs/brain",
    )
    text = sbatch_script(job)
    assert text.startswith("#!/bin/bash\n")
    for line in [
        "#SBATCH --nodes=4",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --requeue",
        "#SBATCH --partition=gpu",
        "#SBATCH --cpus-per-task=16",
        "export OMP_NUM_THREADS=8",
        "--nproc-per-node=2",
        "--rdzv-backend=c10d",
        "-m deephealth.cli train cfg/brain.yml",
        "--run-dir runs/brain --resume",
    ]:
        assert line in text, line
    with pytest.raises(ValueError, match="--nodes"):
        sbatch_script(SlurmJob(config="c.yml", nodes=0))


def test_submit_without_slurm_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmError, match="'sbatch' was not found on PATH"):
        submit(tmp_path / "job.sbatch")
