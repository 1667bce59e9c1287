"""Time-to-model-in-production of two pipelines, from a DeepHealth dataset on disk to an ONNX model
that passed its onnxruntime check: the nuclei demo (real DSB2018 data, U-Net, patches) and a
Fashion-MNIST LeNet classification pipeline (non-medical). Writes bench/results/pipelines.md.

Usage: python bench/bench_pipelines.py [--fashion-limit N] [--fashion-epochs N] [--demo-epochs N]
(The brain demo row in the results was measured separately with `deephealth demo brain`.)
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

from deephealth.pipelines.demo import fashion_mnist_dataset, run_demo
from deephealth.pipelines.run import train

HERE = Path(__file__).resolve().parent


def _row(name: str, kpis: dict, extra: str) -> str:
    def f(key: str) -> str:
        v = kpis.get(key)
        return "n/a" if v is None else f"{v:.2f}" if key.endswith("_s") else f"{v:.4f}"

    share = kpis["time_to_train_models_s"] / kpis["time_to_model_in_production_s"]
    return (
        f"| {name} | {f('time_to_model_in_production_s')} | {f('time_of_pre_processing_images_s')} "
        f"| {f('time_to_train_models_s')} | {share:.2f} | {extra} |"
    )


def main() -> None:
    """Run both pipelines and write the results section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fashion-limit", type=int, default=None, help="images per IDX file")
    ap.add_argument("--fashion-epochs", type=int, default=2)
    ap.add_argument("--demo-epochs", type=int, default=10)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        demo = run_demo("nuclei", tmp_path / "demo", args.demo_epochs, on_event=lambda e: None)
        k = demo["kpis"]
        rows.append(_row("DSB2018 nuclei demo: U-Net, 64x64 patches, "
                         f"{args.demo_epochs} epochs", k, f"test Dice {k['dice']:.3f}"))  # fmt: skip
        t = time.perf_counter()
        ds = fashion_mnist_dataset(tmp_path / "fmnist", limit=args.fashion_limit)
        convert_s = time.perf_counter() - t
        cfg = {"task": "classification", "dataset": str(ds), "model": "lenet",
               "normalize": "divby255", "epochs": args.fashion_epochs, "batch_size": 100,
               "optimizer": {"lr": 0.001}}  # fmt: skip
        fm = train(cfg, tmp_path / "fm_run")
        k = fm["kpis"]
        n = fm["metrics"].get("per_class") and sum(
            int(v["support"]) for v in fm["metrics"]["per_class"].values()
        )
        rows.append(_row(f"Fashion-MNIST LeNet, {args.fashion_epochs} epochs", k,
                         f"test accuracy {k['accuracy']:.4f} on {n} images; IDX -> PNG + YAML "
                         f"conversion {convert_s:.1f} s (not counted)"))  # fmt: skip
    text = [
        "## Pipelines: time-to-model-in-production",
        "",
        f"{datetime.date.today().isoformat()}, 2-core x86_64 CPU, shared (load average {os.getloadavg()[0]:.1f} at the end), "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}. "
        "Time-to-model-in-production runs from the DeepHealth dataset on disk (raw images + YAML) "
        "to an ONNX model that passed its onnxruntime check: pre-processing + model build + "
        "training with per-epoch validation + export + check. 'train share' = "
        "time-to-train / time-to-model-in-production.",
        "",
        "| pipeline | time to model in production (s) | pre-processing (s) | training (s) "
        "| train share | quality |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    out = HERE / "results" / "pipelines.md"
    out.write_text("\n".join(text))
    print(out.read_text())


if __name__ == "__main__":
    main()
