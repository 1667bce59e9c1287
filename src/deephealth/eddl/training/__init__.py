"""The training wing of EDDL: build, losses, metrics, optimizers, fit/evaluate/predict, callbacks.

The public pyeddl names are gathered in `deephealth.eddl._train_api`; the modules here are small
and each does one thing (see their docstrings).
"""
