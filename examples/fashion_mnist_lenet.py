"""Fashion-MNIST (non-medical) as a DeepHealth dataset, classified by LeNet through the pipeline.

Run: python examples/fashion_mnist_lenet.py [OUT_DIR] [LIMIT]
"""

import sys
from pathlib import Path

from deephealth.pipelines.demo import fashion_mnist_dataset
from deephealth.pipelines.run import train

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/fashion")
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
    dataset = fashion_mnist_dataset(out / "data", limit=limit)
    config = {
        "task": "classification",
        "dataset": str(dataset),
        "model": "lenet",
        "normalize": "divby255",
        "epochs": 2,
        "batch_size": 100,
    }
    result = train(config, out / "run")
    print(result["kpis"], "\nreport:", result["report_html"])
