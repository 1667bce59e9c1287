"""`deephealth dataset boxes-from-masks | to-coco | from-coco`: boxes in DeepHealth datasets.

`boxes-from-masks` adds to every sample the boxes of the objects of its instance mask (its label
image: 0 = background, one value per object); `to-coco` writes a dataset's 2D boxes as COCO JSON;
`from-coco` writes a dataset YAML from a COCO detection file. Bad input: exit 2 with one line
naming the file and the cause.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from deephealth.ecvl.errors import EcvlError

BAD_INPUT = 2


def _fail(action: str, err: Exception) -> int:
    print(f"deephealth dataset {action}: {err}", file=sys.stderr)
    return BAD_INPUT


def _boxes_from_masks(args: argparse.Namespace) -> int:
    from deephealth.ecvl.dataset import Dataset
    from deephealth.ecvl.dataset.coco import boxes_from_masks

    try:
        doc = boxes_from_masks(Dataset(args.dataset), args.class_name)
    except (OSError, ValueError, EcvlError) as err:
        return _fail("boxes-from-masks", err)
    out = Path(args.out)
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    n = sum(len(item.get("boxes", [])) for item in doc["images"])
    print(f"{out}: {n} boxes in {len(doc['images'])} images")
    return 0


def _to_coco(args: argparse.Namespace) -> int:
    from deephealth.ecvl.dataset import Dataset
    from deephealth.ecvl.dataset.coco import dataset_to_coco

    try:
        coco = dataset_to_coco(Dataset(args.dataset))
    except (OSError, ValueError, EcvlError) as err:
        return _fail("to-coco", err)
    Path(args.out).write_text(json.dumps(coco, indent=1))
    print(f"{args.out}: {len(coco['images'])} images, {len(coco['annotations'])} boxes")
    return 0


def _from_coco(args: argparse.Namespace) -> int:
    from deephealth.ecvl.dataset.coco import coco_to_dataset

    try:
        with open(args.coco, encoding="utf-8") as f:
            coco = json.load(f)
        doc = coco_to_dataset(coco, args.images or Path(args.coco).parent, args.name)
    except (OSError, ValueError, EcvlError) as err:
        return _fail("from-coco", err)
    Path(args.out).write_text(yaml.safe_dump(doc, sort_keys=False))
    print(f"{args.out}: {len(doc['images'])} images, {len(doc['classes'])} classes")
    return 0


def register_actions(sub: argparse._SubParsersAction) -> None:
    """Add the box actions to the `dataset` command group."""
    b = sub.add_parser("boxes-from-masks", help="add the boxes of each sample's instance mask")
    b.add_argument("dataset", help="dataset YAML whose labels are instance masks")
    b.add_argument("-o", "--out", required=True, help="output dataset YAML")
    b.add_argument("--class-name", default="object", help="class of the boxes (default object)")
    b.set_defaults(func=_boxes_from_masks)
    t = sub.add_parser("to-coco", help="write the dataset's 2D boxes as COCO JSON")
    t.add_argument("dataset", help="dataset YAML")
    t.add_argument("-o", "--out", required=True, help="output COCO JSON")
    t.set_defaults(func=_to_coco)
    f = sub.add_parser("from-coco", help="write a dataset YAML from a COCO detection file")
    f.add_argument("coco", help="COCO JSON")
    f.add_argument("--images", help="folder of the images (default: the JSON's folder)")
    f.add_argument("--name", default="", help="dataset name")
    f.add_argument("-o", "--out", required=True, help="output dataset YAML")
    f.set_defaults(func=_from_coco)
