"""Split a dataset's training samples into non-IID sites, for tests, benchmarks and drills.

`split_sites` gives site k a share `sizes[k]` of the training samples (size skew) and draws each
class's samples over the sites with Dirichlet(alpha) proportions (label skew: small alpha, each site
sees mostly a few classes). Every site gets its own dataset YAML, written next to the original (so
the image paths stay valid), listing only its own samples, split into training and validation; the
original's test split stays with the server as its held-out set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deephealth.ecvl.dataset import yaml_limits
from deephealth.pipelines.federated import FederatedError


def split_sites(dataset: str | Path, sizes: Sequence[float], alpha: float = 0.5,
                validation: float = 0.2, seed: int = 0, prefix: str = "site") -> list[Path]:  # fmt: skip
    """Write one dataset YAML per site (`<prefix>_<k>.yml` beside `dataset`).

    Args:
        dataset: A classification dataset YAML with a training split.
        sizes: Relative sizes of the sites (normalized).
        alpha: Dirichlet concentration of the label skew (inf: each class split by `sizes`).
        validation: Fraction of each site's samples in its validation split.
        seed: Random seed.

    Returns:
        The site YAML paths.

    Raises:
        FederatedError: no training split, or a site left with fewer than 2 samples.
    """
    path = Path(dataset)
    doc: dict[str, Any] = yaml_limits.safe_load(yaml_limits.read_text(path))
    train = list((doc.get("split") or {}).get("training") or [])
    if not train:
        raise FederatedError(f"split_sites: {path} has no training split")
    rng = np.random.default_rng(seed)
    share = np.asarray(sizes, dtype=float) / float(np.sum(sizes))
    labels = [doc["images"][i].get("label") for i in train]
    parts: list[list[int]] = [[] for _ in sizes]
    for cls in sorted({str(v) for v in labels}):
        members = [i for i, v in zip(train, labels) if str(v) == cls]
        rng.shuffle(members)
        p = share if not np.isfinite(alpha) else rng.dirichlet(alpha * len(sizes) * share)
        p = p * share / np.sum(p * share)  # keep the size skew on average
        cuts = (np.cumsum(p)[:-1] * len(members)).round().astype(int)
        for k, chunk in enumerate(np.split(np.asarray(members), cuts)):
            parts[k].extend(int(i) for i in chunk)
    out = []
    for k, part in enumerate(parts):
        if len(part) < 2:
            raise FederatedError(f"split_sites: site {k} got {len(part)} samples; raise its size")
        rng.shuffle(part)
        n_val = max(1, int(round(validation * len(part))))
        images = [doc["images"][i] for i in part]
        site = {
            **{k2: v for k2, v in doc.items() if k2 not in ("images", "split")},
            "name": f"{doc.get('name', path.stem)}-{prefix}{k}",
            "images": images,
            "split": {"training": list(range(n_val, len(part))), "validation": list(range(n_val))},
        }
        target = path.with_name(f"{prefix}_{k}.yml")
        target.write_text(yaml.safe_dump(site, sort_keys=False))
        out.append(target)
    return out


__all__ = ["split_sites"]
