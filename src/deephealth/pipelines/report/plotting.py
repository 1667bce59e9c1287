"""Drawing helpers shared by the report's HTML sections: matplotlib figures as PNG data URIs,
number formatting, two-column tables and captioned figures."""

from __future__ import annotations

import base64
import html
import io
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _img(uri: str | None, alt: str) -> str:
    return (
        f'<figure><img src="{uri}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'
        if uri
        else ""
    )
