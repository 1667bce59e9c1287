"""Type stub of the C extension `_fastcall.c` (see its source for what it does)."""

from collections.abc import Callable
from typing import Any

class FastOp:
    """`fn` on the torch data of `arity` exact `cls` instances, as a new `cls`; else `fallback`."""

    __wrapped__: Callable[..., Any]
    fn: Callable[..., Any]
    arity: int

    def __init__(
        self, fn: Callable[..., Any], fallback: Callable[..., Any], cls: type, arity: int
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, obj: object, cls: type | None = None) -> Any: ...
