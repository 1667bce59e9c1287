"""Image-to-image regression (as UC3's synthesis of perfusion maps from reduced data), shown on
synthetic phantoms: learn to map an image to its smoothed version with a linear-output U-Net.

Run: python examples/image_regression.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np
import yaml
from scipy import ndimage

from deephealth.pipelines.data import write_array
from deephealth.pipelines.run import train
from deephealth.pipelines.synthetic import make_phantom

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/regression")
    (out / "x").mkdir(parents=True, exist_ok=True)
    (out / "y").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for i in range(60):
        img, _, _ = make_phantom((32, 32), ("nodule", "cyst")[i % 2], rng)
        write_array(out / "x" / f"{i}.png", (img * 255).astype(np.uint8))
        write_array(
            out / "y" / f"{i}.png", (ndimage.gaussian_filter(img, 1.5) * 255).astype(np.uint8)
        )
        images.append({"location": f"x/{i}.png", "label": f"y/{i}.png"})
    split = {
        "training": list(range(44)),
        "validation": list(range(44, 52)),
        "test": list(range(52, 60)),
    }
    (out / "dataset.yml").write_text(
        yaml.safe_dump({"name": "smooth", "images": images, "split": split})
    )
    config = {
        "task": "regression",
        "dataset": str(out / "dataset.yml"),
        "normalize": "divby255",
        "model_params": {"base_filters": 8, "depth": 2},
        "epochs": 40,
        "batch_size": 4,
    }
    result = train(config, out / "run")
    print(result["metrics"], "\nreport:", result["report_html"])
