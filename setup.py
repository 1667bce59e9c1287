"""The optional C extension; everything else about the package is in pyproject.toml.

`deephealth.eddl.tensor._fastcall` runs the common case of the new-tensor ops (`Tensor.add(A, B)`,
`t.sqrt()`, `Tensor.mult2D`, ...) without a Python frame (see its source). It is optional: without a
C compiler the install goes on and those ops run in Python, with the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "deephealth.eddl.tensor._fastcall",
            sources=["src/deephealth/eddl/tensor/_fastcall.c"],
            optional=True,
        )
    ]
)
