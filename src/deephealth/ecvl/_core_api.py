"""Public names of the Image, I/O, processing and de-identification parts of ECVL."""

__all__: list[str] = []
