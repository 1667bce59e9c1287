"""`summary(net)` (a table of layers, output shapes and parameter counts) and `plot(net, file)`.

`plot` writes the graph in Graphviz DOT and renders it with the `dot` program when it is on the
PATH (any format `dot` knows, chosen by the file's suffix: pdf, png, svg, ...). Without Graphviz,
or for a `.dot`/`.gv` file name, it writes the DOT text itself (next to the requested file, with
suffix `.dot`) and warns; the DOT text renders anywhere Graphviz runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


def summary_text(net: Model) -> str:
    """The summary table as text."""
    rows = [("Layer", "Type", "Input from", "Output shape", "Params")]
    total = trainable = 0
    for layer in net.layers:
        n = layer.num_parameters()
        total += n
        trainable += n if layer.trainable else 0
        parents = ", ".join(p.name for p in layer.parents) or "-"
        rows.append((layer.name, layer.kind, parents, str(list(layer.output_shape)), f"{n:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = "-" * (sum(widths) + 2 * 4)
    out = [f"Model: {net.name}", line]
    for i, row in enumerate(rows):
        cells = [c.ljust(w) if j < 4 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells))
        if i == 0:
            out.append(line)
    out += [
        line,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    return "\n".join(out)


def summary(net: Model) -> str:
    """Print (and return) a table of the layers with output shapes and parameter counts."""
    text = summary_text(net)
    print(text)
    return text


def dot_source(net: Model, rankdir: str = "LR") -> str:
    """The network as a Graphviz DOT graph."""
    ids = {id(layer): f"n{i}" for i, layer in enumerate(net.layers)}
    lines = [f'digraph "{net.name}" {{', f"  rankdir={rankdir};", "  node [shape=record];"]
    for layer in net.layers:
        label = f"{layer.name}|{layer.kind}|{list(layer.output_shape)}".replace('"', "'")
        lines.append(f'  {ids[id(layer)]} [label="{{{label}}}"];')
    for layer in net.layers:
        for parent in layer.parents:
            if id(parent) in ids:
                lines.append(f"  {ids[id(parent)]} -> {ids[id(layer)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot(net: Model, fname: str | os.PathLike, string: str = "LR") -> Path:
    """Draw the network to `fname` with Graphviz; without it, write DOT text (see module doc).

    Args:
        net: The model.
        fname: Output file; its suffix picks the format (pdf, png, svg, dot, ...).
        string: Graph direction, "LR" (left to right) or "TB" (top to bottom).

    Returns:
        The path actually written.
    """
    if string not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"plot: direction must be LR, TB, RL or BT, got {string!r}")
    path = Path(fname)
    if not path.parent.exists():
        raise FileNotFoundError(f"plot: folder {str(path.parent)!r} does not exist")
    source = dot_source(net, string)
    fmt = path.suffix.lstrip(".").lower() or "pdf"
    if fmt in ("dot", "gv"):
        path.write_text(source)
        return path
    dot = shutil.which("dot")
    if dot is not None:
        proc = subprocess.run(
            [dot, f"-T{fmt}", "-o", str(path)], input=source, text=True, capture_output=True
        )
        if proc.returncode == 0:
            return path
        reason = f"Graphviz failed: {proc.stderr.strip()}"
    else:
        reason = "Graphviz 'dot' is not installed"
    fallback = path.with_suffix(".dot")
    fallback.write_text(source)
    warnings.warn(f"plot: {reason}; wrote the DOT source to {fallback}", RuntimeWarning, 2)
    return fallback
