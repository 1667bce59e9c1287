"""2D classification of synthetic phantoms (normal / nodule / cyst; not medical images), with
per-patient metrics: generate the dataset, train LeNet from a five-line config, print the KPIs.

Run: python examples/lesion_classification.py [OUT_DIR]
"""

import sys
from pathlib import Path

from deephealth.pipelines.run import train
from deephealth.pipelines.synthetic import generate_dataset

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lesions")
    dataset = generate_dataset(out / "data", "classification", n_patients=300, shape=(32, 32))
    config = f"""
version: 1
task: classification
dataset: {dataset}
model: lenet
epochs: 15
batch_size: 16
optimizer: {{lr: 0.002}}
"""
    result = train(config, out / "run")
    print(result["kpis"], "\nreport:", result["report_html"])
