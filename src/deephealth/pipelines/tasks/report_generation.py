"""The `report_generation` task: train, decode, score and export, streaming its own batches.

Config (a dict, or a YAML file with `task: report_generation`):

    task:   report_generation
    dataset: reports.yml          # optional: a DeepHealth dataset YAML with a text feature
    data:   {train: 1000, test: 150, side: 32, seed: 0, text: report}
    model:  {decoder: lstm, backbone: small, embedding: 32, units: 128, feature: 64}
            # decoder: transformer -> {d_model: 32, heads: 4, layers: 1, ff: 64} are used
    train:  {epochs: 12, batch_size: 16, lr: 0.004, decay_epoch: 9, decay: 0.25}
    decode: {beam: 3, max_len: 28, min_len: 1, length_penalty: 0.0}

Without `dataset`, the cases are synthetic phantoms (`report_generation.synthetic`): case `i` of
a split is generated from the seed `(seed, split, i)`, so batches are produced on the fly (a split
is never held in memory) and are the same on every pass. With `dataset`, the images of its
`training` and `test` splits are read per batch, fitted to `side` as the server fits an upload
(`deephealth.serving.reports.fit_image`), and each sample's report is its `data.text` feature
(per sample or per patient); a sample without one is an error naming the file and its line. The
true findings are those its report states (`findings.parse_findings`). The vocabulary is built on
the training reports only. The learning rate is multiplied by `decay` from epoch `decay_epoch`.

`run(out_dir)` writes `config.json`, `report.json` (metrics), `kpi.html` (images with true and
generated reports) and `serving/` (ONNX encoder + decoder step + vocabulary, and the same packed in
`report_generator.onnx`); `evaluate` and `predict_images` run a run folder's served model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import deephealth.eddl as eddl
from deephealth.pipelines.data import DataError
from deephealth.pipelines.report_generation import transformer
from deephealth.pipelines.report_generation.export import export_for_serving
from deephealth.pipelines.report_generation.findings import parse_findings, true_findings
from deephealth.pipelines.report_generation.kpi import evaluate_reports, write_kpi_html
from deephealth.pipelines.report_generation.model import beam_search, build_captioner, one_hot
from deephealth.pipelines.report_generation.synthetic import make_case
from deephealth.pipelines.report_generation.vocab import Vocabulary
from deephealth.serving.reports import ReportGenerator, fit_image

TASK = "report_generation"
SPLITS = {"train": 0, "test": 1}
YAML_SPLITS = {"train": "training", "test": "test"}
DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"train": 1000, "test": 150, "side": 32, "seed": 0, "text": "report"},
    "model": {
        "decoder": "lstm",  # or "transformer" (report_generation.transformer)
        "backbone": "small",
        "embedding": 32,
        "units": 128,
        "feature": 64,
        "d_model": 32,
        "heads": 4,
        "layers": 1,
        "ff": 64,
    },
    "train": {"epochs": 12, "batch_size": 16, "lr": 0.004, "decay_epoch": 9, "decay": 0.25},
    "decode": {"beam": 3, "max_len": 28, "min_len": 1, "length_penalty": 0.0},
}
TOP_KEYS = ("task", "name", "dataset")
Case = tuple[np.ndarray, str, set[str]]


def is_report_config(source: Any) -> bool:
    """Whether a config (dict or YAML file) is for the report-generation task."""
    try:
        data = source if isinstance(source, dict) else yaml.safe_load(Path(source).read_text())
    except (OSError, yaml.YAMLError, TypeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("task") == TASK


class _YamlCases:
    """The image-report samples of a DeepHealth dataset YAML's `training` and `test` splits."""

    def __init__(self, path: str | Path, text: str, side: int) -> None:
        from deephealth.ecvl.dataset.dataset import Dataset

        self.path, self.side = str(path), side
        self.ds = Dataset(self.path)  # structural problems: DatasetFormatError with their lines
        if text not in self.ds.features_:
            raise DataError(
                f"dataset {self.path}: no text feature {text!r} "
                f"(features: {', '.join(self.ds.features_) or 'none'})"
            )
        feature = self.ds.features_.index(text)
        self.index: dict[str, list[int]] = {}
        self.reports: dict[int, str] = {}
        for split, name in YAML_SPLITS.items():
            found = [s for s in self.ds.split_ if s.split_name_ == name]
            self.index[split] = list(found[0].samples_indices_) if found else []
            for i in self.index[split]:
                sample = self.ds.samples_[i]
                report = str((sample.values_ or {}).get(feature, "")).strip()
                if not report:
                    raise DataError(
                        f"{self.path}:{sample.line_}: sample {sample.location_[0]} has no "
                        f"{text!r} report text"
                    )
                self.reports[i] = report

    def size(self, split: str) -> int:
        return len(self.index[split])

    def case(self, split: str, i: int) -> Case:
        j = self.index[split][i]
        report = self.reports[j]
        hwc = _hwc(self.ds.samples_[j].LoadImage("GRAY"))
        return fit_image(hwc, (1, self.side, self.side)), report, parse_findings(report)


class ReportGenerationTask:
    """Report generation on synthetic phantoms or a dataset YAML (see the module doc)."""

    kind = TASK
    model_kind = "report"  # its image encoder + decoder is built here, not taken from the zoo

    def __init__(self, cfg: dict[str, Any]) -> None:
        unknown = sorted(set(cfg) - set(DEFAULTS) - set(TOP_KEYS))
        if unknown:
            raise ValueError(f"report_generation config: unknown section(s) {unknown}")
        self.cfg: dict[str, Any] = {k: {**v, **(cfg.get(k) or {})} for k, v in DEFAULTS.items()}
        self.cfg.update({k: cfg[k] for k in TOP_KEYS if k in cfg})
        self.cfg["task"] = TASK
        data = self.cfg["data"]
        self.side, self.seed = int(data["side"]), int(data["seed"])
        self.max_len = int(self.cfg["decode"]["max_len"])
        self.decoder = str(self.cfg["model"]["decoder"])
        if self.decoder not in ("lstm", "transformer"):
            raise ValueError(
                f"report_generation config: model.decoder must be 'lstm' or 'transformer', "
                f"got {self.decoder!r}"
            )
        self.source = (
            _YamlCases(self.cfg["dataset"], str(data["text"]), self.side)
            if self.cfg.get("dataset")
            else None
        )
        self.vocab = Vocabulary.build(self.report(("train", i)) for i in range(self.size("train")))

    @classmethod
    def from_config(cls, source: dict[str, Any] | str | Path) -> ReportGenerationTask:
        """The task of a config dict or YAML file (a relative `dataset` is next to the file)."""
        if isinstance(source, dict):
            return cls(source)
        path = Path(source)
        cfg = yaml.safe_load(path.read_text())
        if cfg.get("dataset") and not Path(cfg["dataset"]).is_absolute():
            cfg["dataset"] = str(path.parent / cfg["dataset"])
        return cls(cfg)

    def size(self, split: str) -> int:
        """Cases in `split` ("train" or "test")."""
        return self.source.size(split) if self.source else int(self.cfg["data"][split])

    def report(self, key: tuple[str, int]) -> str:
        """The report of case `i` of `split` (a dataset's without reading its image)."""
        if self.source is not None:
            return self.source.reports[self.source.index[key[0]][key[1]]]
        return self.case(key)[1]

    def case(self, key: tuple[str, int]) -> Case:
        """Case `i` of `split`: (image (1, side, side), report, true findings)."""
        split, i = key
        if self.source is not None:
            return self.source.case(split, i)
        rng = np.random.default_rng([self.seed, SPLITS[split], i])
        image, report, lesions = make_case(self.side, rng)
        return image, report, true_findings(lesions)

    def batches(self, split: str, shuffle: bool = False) -> _Batches:
        """A re-iterable of (images, one-hot reports) batches, generated on the fly."""
        return _Batches(self, split, shuffle)

    def run(self, out_dir: str | Path) -> dict[str, Any]:
        """Train, decode the test split, score, write the report files; returns the metrics."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(self.cfg, indent=1))
        t = self.cfg["train"]
        net = self.build_network()
        lr = float(t["lr"])
        eddl.build(net, eddl.adam(lr), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
        train = self.batches("train", shuffle=True)
        for epoch in range(int(t["epochs"])):
            if epoch == int(t["decay_epoch"]):
                eddl.setlr(net, [lr * float(t["decay"])])
            eddl.fit(net, train, epochs=1, verbose=0)
        scores = self.score(lambda x: self._torch_decode(net, x), out)
        export_for_serving(net, self.vocab, out / "serving", self.max_len)
        return scores

    def build_network(self) -> Any:
        """The configured encoder-decoder network (not built)."""
        m, shape = self.cfg["model"], (1, self.side, self.side)
        if self.decoder == "transformer":
            return transformer.build_transformer_captioner(
                len(self.vocab), shape, self.max_len, m["backbone"], int(m["d_model"]),
                int(m["heads"]), int(m["layers"]), int(m["ff"]),
            )  # fmt: skip
        return build_captioner(
            len(self.vocab), shape, m["backbone"], m["embedding"], m["units"], m["feature"]
        )

    def _torch_decode(self, net: Any, x: np.ndarray) -> np.ndarray:
        d = self.cfg["decode"]
        search = transformer.beam_search if self.decoder == "transformer" else beam_search
        return search(net, x, int(d["beam"]), self.max_len, int(d["min_len"]),
                           float(d["length_penalty"]))  # fmt: skip

    def score(self, decode: Any, out: Path, name: str = "report") -> dict[str, Any]:
        """Decode the test split with `decode(images) -> token ids`, score it, write
        `<name>.json` and `kpi.html`; returns the metrics."""
        images: list[np.ndarray] = []
        true: list[str] = []
        generated: list[str] = []
        findings: list[set[str]] = []
        n, bs = self.size("test"), int(self.cfg["train"]["batch_size"])
        for lo in range(0, n, bs):
            cases = [self.case(("test", i)) for i in range(lo, min(lo + bs, n))]
            x = np.stack([c[0] for c in cases])
            generated += [self.vocab.decode(r) for r in decode(x)]
            true += [c[1] for c in cases]
            findings += [c[2] for c in cases]
            if len(images) < 8:
                images += list(x[: 8 - len(images)])
        if not n:
            raise DataError(
                f"report_generation: the test split is empty ({self.cfg.get('dataset')})"
            )
        scores = evaluate_reports(generated, true, findings)
        (out / f"{name}.json").write_text(json.dumps(scores, indent=1, default=float))
        write_kpi_html(out / "kpi.html", scores, np.stack(images), true, generated)
        return scores


def evaluate(run_dir: str | Path, dataset: str | Path | None = None) -> dict[str, Any]:
    """Score a run's served model (onnxruntime) on the test split of its (or another) dataset;
    writes `evaluation_test.json`."""
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    if dataset is not None:
        cfg["dataset"] = str(dataset)
    task = ReportGenerationTask(cfg)
    gen = ReportGenerator(run_dir / "serving")
    d = cfg["decode"]
    task.vocab = Vocabulary(gen.words)
    return task.score(
        lambda x: gen.beam_search(x, int(d["beam"]), task.max_len, int(d["min_len"]),
                                  float(d["length_penalty"])),
        run_dir, "evaluation_test",
    )  # fmt: skip


def predict_images(model: str | Path, images: list[str | Path], beam: int = 3) -> list[dict]:
    """Reports for image files with a run folder's (or a served folder's / packed file's) model:
    one record per image with `input`, `report` and `findings`."""
    from deephealth.ecvl import ImRead

    model = Path(model)
    if (model / "serving").is_dir():
        model = model / "serving"
    gen = ReportGenerator(model)
    out = []
    for path in images:
        x = gen.fit_image(_hwc(ImRead(str(path))))[None]
        text = gen.generate(x, beam=beam)[0]
        out.append({"input": str(path), "report": text, "findings": sorted(parse_findings(text))})
    return out


def _hwc(img: Any) -> np.ndarray:
    """An ECVL Image as (H, W, C) (the middle slice of a volume)."""
    data, layout = np.asarray(img.data), img.channels
    if "z" in layout:
        data = np.take(data, data.shape[layout.index("z")] // 2, axis=layout.index("z"))
        layout = layout.replace("z", "")
    if "c" not in layout:
        data, layout = data[..., None], layout + "c"
    return np.transpose(data, [layout.index("y"), layout.index("x"), layout.index("c")])


class _Batches:
    def __init__(self, task: ReportGenerationTask, split: str, shuffle: bool) -> None:
        self.task, self.split, self.shuffle = task, split, shuffle
        self.n = task.size(split)
        self.batch = int(task.cfg["train"]["batch_size"])
        self.epoch = 0

    def __len__(self) -> int:
        return -(-self.n // self.batch)

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray]]:
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.task.seed, 99, self.epoch]).permutation(self.n)
        self.epoch += 1
        voc, length = self.task.vocab, self.task.max_len
        for lo in range(0, self.n, self.batch):
            cases = [self.task.case((self.split, int(i))) for i in order[lo : lo + self.batch]]
            x = np.stack([c[0] for c in cases])
            ids = np.stack([voc.encode(c[1], length) for c in cases])
            if self.task.decoder == "transformer":
                yield [x, transformer.teacher_prefix(ids)], one_hot(ids, len(voc))
            else:
                yield x, one_hot(ids, len(voc))
