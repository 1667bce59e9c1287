"""pyeddl names that are thin forms of what exists elsewhere: optimizer classes, normalization
layers built from reductions, `getInput`, `get_topk_predictions`, unsupported services.

Each module here maps a pyeddl name onto the real implementation; nothing is computed twice.
"""
