"""pyeddl's `setlogfile`: write one text line per training epoch of `net` to a file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from deephealth.eddl.training.callbacks import TextLogger
from deephealth.eddl.training.state import get_state

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


def setlogfile(net: Model, fname: str | os.PathLike) -> None:
    """Log every later `fit` epoch of `net` to `fname` (replacing an earlier log file setting)."""
    st = get_state(net)
    st.log_callbacks = [c for c in st.log_callbacks if not isinstance(c, TextLogger)]
    st.log_callbacks.append(TextLogger(fname))
