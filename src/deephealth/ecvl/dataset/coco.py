"""Boxes between the DeepHealth dataset YAML and COCO JSON, and from instance masks.

`dataset_to_coco` writes the 2D boxes of a dataset as a COCO detection file (categories = the
dataset's classes, ids from 1; `bbox` = [x, y, width, height]; `iscrowd` 0; the split of each
image in `images[].split` when the dataset has splits). `coco_to_dataset` reads one back into a
dataset document (classes ordered by category id; images located under `image_root`).
`boxes_from_masks` gives every sample whose ground truth is an instance label map (0 =
background, one value per object) the boxes of its objects. COCO has no 3D boxes: 3D datasets stay
in the YAML format.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.ecvl.dataset.dump import _rel, dataset_to_dict
from deephealth.ecvl.dataset.errors import DatasetError


def _image_size(path: str) -> tuple[int, int]:
    """(width, height) of a 2D image file, from its header where possible."""
    try:
        from PIL import Image as PILImage

        with PILImage.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except Exception:
        from deephealth.ecvl.io import ImRead

        img = ImRead(path)
        dims = dict(zip(img.channels, img.data.shape))
        return int(dims.get("x", 0)), int(dims.get("y", 0))


def dataset_to_coco(ds: Any) -> dict[str, Any]:
    """A COCO detection document of the dataset's boxes (see the module docstring).

    Raises:
        DatasetError: for 3D boxes (COCO is 2D only).
    """
    root = os.path.dirname(os.path.abspath(ds.filename_)) if ds.filename_ else os.getcwd()
    split_of = {i: s.split_name_ for s in ds.split_ for i in s.samples_indices_}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, s in enumerate(ds.samples_):
        if not s.location_:
            continue
        width, height = _image_size(s.location_[0])
        entry = {"id": i + 1, "file_name": _rel(s.location_[0], root), "width": width,
                 "height": height}  # fmt: skip
        if i in split_of:
            entry["split"] = split_of[i]
        images.append(entry)
        for coords, label in s.boxes_ or []:
            if len(coords) != 4:
                raise DatasetError(f"image {i} ({s.location_[0]}): COCO has no 3D boxes")
            x0, y0, x1, y1 = coords
            annotations.append({
                "id": len(annotations) + 1, "image_id": i + 1, "category_id": label + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
            })  # fmt: skip
    categories = [{"id": k + 1, "name": c} for k, c in enumerate(ds.classes_)]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_to_dataset(coco: dict[str, Any], image_root: str | os.PathLike, name: str = "") -> dict:
    """A DeepHealth dataset document from a COCO detection document.

    Args:
        coco: The COCO JSON, parsed.
        image_root: Folder of the COCO `file_name`s (locations are written relative to it).
        name: Dataset name.

    Raises:
        DatasetError: naming the annotation or image that does not fit.
    """
    try:
        cats = sorted(coco["categories"], key=lambda c: c["id"])
        images = coco["images"]
        anns = coco.get("annotations", [])
    except (KeyError, TypeError) as err:
        raise DatasetError(f"not a COCO detection document: missing {err}") from None
    classes = [str(c["name"]) for c in cats]
    cat_index = {c["id"]: k for k, c in enumerate(cats)}
    by_image: dict[Any, list[Any]] = {img["id"]: [] for img in images}
    for a in anns:
        if a.get("image_id") not in by_image:
            raise DatasetError(f"annotation {a.get('id')}: unknown image_id {a.get('image_id')}")
        if a.get("category_id") not in cat_index:
            raise DatasetError(
                f"annotation {a.get('id')}: unknown category_id {a.get('category_id')}"
            )
        x, y, w, h = (float(v) for v in a["bbox"])
        if w <= 0 or h <= 0:
            raise DatasetError(f"annotation {a.get('id')}: bbox {a['bbox']} has no area")
        by_image[a["image_id"]].append([x, y, x + w, y + h, classes[cat_index[a["category_id"]]]])
    root = Path(image_root)
    out_images: list[dict[str, Any]] = []
    split: dict[str, list[int]] = {}
    for k, img in enumerate(images):
        out_images.append({"location": str(root / img["file_name"]), "boxes": by_image[img["id"]]})
        if "split" in img:
            split.setdefault(str(img["split"]), []).append(k)
    doc: dict[str, Any] = {"name": name, "classes": classes, "images": out_images}
    if split:
        doc["split"] = split
    return doc


def boxes_from_masks(ds: Any, class_name: str = "object") -> dict[str, Any]:
    """The dataset document with each sample's boxes computed from its instance label map.

    Every box gets the class `class_name` (added to the classes when missing).

    Raises:
        DatasetError: naming a sample without a ground-truth image.
    """
    from deephealth.ecvl.augment.boxes import boxes_from_labels
    from deephealth.ecvl.dataset.reader import read_sample_array

    if class_name not in ds.classes_:
        ds.classes_.append(class_name)
    label = ds.classes_.index(class_name)
    for i, s in enumerate(ds.samples_):
        if s.label_path_ is None:
            raise DatasetError(f"image {i} ({', '.join(s.location_)}): no instance mask (label)")
        arr = read_sample_array(s, "none", is_gt=True)
        lab = np.asarray(arr)[..., 0] if arr.shape[-1] == 1 else np.asarray(arr).max(axis=-1)
        boxes, _ = boxes_from_labels(lab)
        s.boxes_ = [([float(v) for v in b], label) for b in boxes]
    root = os.path.dirname(os.path.abspath(ds.filename_)) if ds.filename_ else os.getcwd()
    return dataset_to_dict(ds, root)
