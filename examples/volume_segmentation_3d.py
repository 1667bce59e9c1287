"""3D segmentation by patches with sliding-window inference, on synthetic phantom volumes (spheres
of known size and position; not medical images).

Run: python examples/volume_segmentation_3d.py [OUT_DIR]
"""

import sys
from pathlib import Path

from deephealth.pipelines.run import train
from deephealth.pipelines.synthetic import generate_dataset

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/volumes")
    dataset = generate_dataset(out / "data", "segmentation", n_patients=20, shape=(32, 32, 32))
    config = {
        "task": "segmentation",
        "dataset": str(dataset),
        "model": "unet3d",
        "model_params": {"base_filters": 8, "depth": 2},
        "patch": {"size": [16, 16, 16], "per_image": 8, "overlap": 0.5, "blend": "gaussian"},
        "epochs": 10,
        "batch_size": 4,
        "optimizer": {"lr": 0.01},
    }
    result = train(config, out / "run")
    print(result["kpis"], "\nreport:", result["report_html"])
