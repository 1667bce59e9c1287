"""The `report_generation` task: train, decode, score and export, streaming its own batches.

Config (a dict, e.g. from the pipeline YAML):

    data:   {train: 1000, test: 150, side: 32, seed: 0}       # synthetic image-report pairs
    model:  {backbone: small, embedding: 32, units: 128, feature: 64}
    train:  {epochs: 16, batch_size: 32, lr: 0.005}
    decode: {beam: 3, max_len: 28, min_len: 1, length_penalty: 0.0}

Case `i` of a split is generated from the seed `(seed, split, i)`, so batches are produced on the
fly (a split is never held in memory) and are the same on every pass. The vocabulary is built on
the training reports only. `run(out_dir)` writes `report.json` (metrics), `kpi.html` (images with
true and generated reports) and `serving/` (ONNX encoder + decoder step + vocabulary).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import deephealth.eddl as eddl
from deephealth.pipelines.report_generation.export import export_for_serving
from deephealth.pipelines.report_generation.findings import true_findings
from deephealth.pipelines.report_generation.kpi import evaluate_reports, write_kpi_html
from deephealth.pipelines.report_generation.model import beam_search, build_captioner, one_hot
from deephealth.pipelines.report_generation.synthetic import make_case
from deephealth.pipelines.report_generation.vocab import Vocabulary

SPLITS = {"train": 0, "test": 1}
DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"train": 1000, "test": 150, "side": 32, "seed": 0},
    "model": {"backbone": "small", "embedding": 32, "units": 128, "feature": 64},
    "train": {"epochs": 16, "batch_size": 32, "lr": 0.005},
    "decode": {"beam": 3, "max_len": 28, "min_len": 1, "length_penalty": 0.0},
}


class ReportGenerationTask:
    """Report generation on synthetic phantoms (see the module doc)."""

    kind = "report_generation"

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = {k: {**v, **(cfg.get(k) or {})} for k, v in DEFAULTS.items()}
        unknown = sorted(set(cfg) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"report_generation config: unknown section(s) {unknown}")
        data = self.cfg["data"]
        self.side, self.seed = int(data["side"]), int(data["seed"])
        self.max_len = int(self.cfg["decode"]["max_len"])
        self.vocab = Vocabulary.build(self.case(("train", i))[1] for i in range(data["train"]))

    def case(self, key: tuple[str, int]) -> tuple[np.ndarray, str, list[dict]]:
        """Case `i` of `split` (image, report, lesions), a function of the seed only."""
        split, i = key
        rng = np.random.default_rng([self.seed, SPLITS[split], i])
        return make_case(self.side, rng)

    def batches(self, split: str, shuffle: bool = False) -> _Batches:
        """A re-iterable of (images, one-hot reports) batches, generated on the fly."""
        return _Batches(self, split, shuffle)

    def run(self, out_dir: str | Path) -> dict[str, Any]:
        """Train, decode the test split, score, write the report files; returns the metrics."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        m, t, d = self.cfg["model"], self.cfg["train"], self.cfg["decode"]
        net = build_captioner(
            len(self.vocab), (1, self.side, self.side), m["backbone"], m["embedding"], m["units"],
            m["feature"],
        )  # fmt: skip
        eddl.build(
            net, eddl.adam(float(t["lr"])), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU()
        )
        eddl.fit(net, self.batches("train", shuffle=True), epochs=int(t["epochs"]), verbose=0)
        images, true, generated, findings = [], [], [], []
        for lo in range(0, self.cfg["data"]["test"], int(t["batch_size"])):
            hi = min(lo + int(t["batch_size"]), self.cfg["data"]["test"])
            cases = [self.case(("test", i)) for i in range(lo, hi)]
            x = np.stack([c[0] for c in cases])
            ids = beam_search(net, x, int(d["beam"]), self.max_len, int(d["min_len"]),
                              float(d["length_penalty"]))  # fmt: skip
            generated += [self.vocab.decode(r) for r in ids]
            true += [c[1] for c in cases]
            findings += [true_findings(c[2]) for c in cases]
            if len(images) < 8:
                images += list(x[: 8 - len(images)])
        scores = evaluate_reports(generated, true, findings)
        (out / "report.json").write_text(json.dumps(scores, indent=1, default=float))
        write_kpi_html(out / "kpi.html", scores, np.stack(images), true, generated)
        export_for_serving(net, self.vocab, out / "serving", self.max_len)
        return scores


class _Batches:
    def __init__(self, task: ReportGenerationTask, split: str, shuffle: bool) -> None:
        self.task, self.split, self.shuffle = task, split, shuffle
        self.n = int(task.cfg["data"][split])
        self.batch = int(task.cfg["train"]["batch_size"])
        self.epoch = 0

    def __len__(self) -> int:
        return -(-self.n // self.batch)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.task.seed, 99, self.epoch]).permutation(self.n)
        self.epoch += 1
        voc, length = self.task.vocab, self.task.max_len
        for lo in range(0, self.n, self.batch):
            cases = [self.task.case((self.split, int(i))) for i in order[lo : lo + self.batch]]
            x = np.stack([c[0] for c in cases])
            y = one_hot(np.stack([voc.encode(c[1], length) for c in cases]), len(voc))
            yield x, y
