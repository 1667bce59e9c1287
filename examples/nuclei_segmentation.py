"""Nuclei segmentation on the real DSB2018 image (make data): dataset -> U-Net -> ONNX + KPI report.

Run: python examples/nuclei_segmentation.py [OUT_DIR]
"""

import sys

from deephealth.pipelines.demo import run_demo, summary_lines

if __name__ == "__main__":
    result = run_demo("nuclei", sys.argv[1] if len(sys.argv) > 1 else "demo_output", epochs=10)
    print("\n".join(summary_lines(result)))
