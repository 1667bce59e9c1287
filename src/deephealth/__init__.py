"""deephealth: the DeepHealth toolkit (EDDL, ECVL, pipelines, front-end) on PyTorch."""

__version__ = "0.1.0"
