"""Public names of the augmentation, dataset and loader parts of ECVL."""

__all__: list[str] = []
