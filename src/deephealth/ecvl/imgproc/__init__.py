"""Image processing with pyecvl names, built on OpenCV, scikit-image and SciPy (one module per theme)."""
