"""Three "hospitals" train one lesion classifier with Flower; their images never leave them.

Synthetic lesion phantoms are split into three non-IID sites (sizes 50/30/20 %, label skew); the
server keeps the test split as its held-out set. The server and the three sites run as separate
processes over loopback gRPC (`deephealth federated simulate`), with TLS certificates generated as
in docs/federated.md.

Run: python examples/federated_three_hospitals.py [OUT_DIR]
"""

import sys
from pathlib import Path

import yaml

from deephealth.pipelines.federated.partition import split_sites
from deephealth.pipelines.federated.simulate import simulate
from deephealth.pipelines.federated.tls import make_certificates
from deephealth.pipelines.synthetic import generate_dataset

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/federated").resolve()
    dataset = generate_dataset(out / "data", "classification", n_patients=300, shape=(24, 24),
                               lesion_types=("normal", "nodule"))  # fmt: skip
    sites = split_sites(dataset, sizes=[0.5, 0.3, 0.2], alpha=1.0)
    config = {
        "task": "classification", "dataset": str(dataset), "model": "lenet", "batch_size": 16,
        "optimizer": {"lr": 0.002},
        "federated": {
            "rounds": 5, "local_epochs": 2, "strategy": "fedavg", "min_sites": 2,
            "run_dir": str(out / "federation"),
            "tls": make_certificates(out / "certs", ["127.0.0.1"]),
        },
    }  # fmt: skip
    path = out / "federation.yml"
    path.write_text(yaml.safe_dump(config))
    result = simulate(path, sites)
    print("held-out accuracy:", result["metrics"]["accuracy"], "best round:", result["best_round"])
    print("ONNX checked in onnxruntime:", result["onnx_check_passed"], "->", result["onnx"])
    print("report:", result["report_html"])
