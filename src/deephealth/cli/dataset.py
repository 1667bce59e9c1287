"""`deephealth dataset validate | describe | generate | split | ...`: DeepHealth dataset YAML files.

`validate` lists every problem ECVL's validator finds (exit 2 when there are errors);
`describe` prints the splits, classes, features and image size; `generate` writes a dataset YAML
from split/class folders (ECVL's generators) or synthetic phantoms; `split` re-splits a dataset by
fractions, keeping each patient in one split when the dataset has a patient feature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

BAD_INPUT = 2


def _validate(args: argparse.Namespace) -> int:
    import deephealth.ecvl as ecvl

    issues = ecvl.ValidateDataset(args.dataset, check_images=not args.no_images)
    for i in issues:
        print(f"{i.file}:{i.line}:{i.column}: {i.severity}: {i.message} [{i.code}]")
    errors = sum(i.severity == "error" for i in issues)
    print(f"{errors} error(s), {len(issues) - errors} warning(s)", file=sys.stderr)
    return BAD_INPUT if errors else 0


def _describe(args: argparse.Namespace) -> int:
    import deephealth.ecvl as ecvl
    from deephealth.ecvl.dataset.errors import SampleLoadError

    try:
        ds = ecvl.Dataset(args.dataset)
    except Exception as err:
        print(f"deephealth dataset describe: {err}", file=sys.stderr)
        return BAD_INPUT
    task = "classification" if ds.classes_ else "segmentation"
    print(f"name: {ds.name_}\ntask: {task}\nsamples: {len(ds.samples_)}")
    print(f"classes: {ds.classes_}\nfeatures: {ds.features_}")
    for s in ds.split_:
        counts = ""
        if ds.classes_:
            labels = [ds.samples_[i].label_[0] for i in s.samples_indices_ if ds.samples_[i].label_]
            per = np.bincount(labels, minlength=len(ds.classes_)) if labels else []
            counts = "  " + ", ".join(f"{c}={n}" for c, n in zip(ds.classes_, per))
        print(f"split {s.split_name_}: {len(s.samples_indices_)}{counts}")
    if ds.samples_:
        try:
            img = ds.samples_[0].LoadImage("none")
        except SampleLoadError as err:
            print(f"deephealth dataset describe: first image: {err}", file=sys.stderr)
            return BAD_INPUT
        print(f"first image: {img.channels} {list(img.data.shape)} {img.data.dtype}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if args.kind == "phantoms":
            from deephealth.pipelines.synthetic import generate_dataset

            shape = [int(v) for v in args.shape.split(",")]
            path = generate_dataset(out.parent if out.suffix else out, args.task,
                                    n_patients=args.patients, shape=shape, seed=args.seed)  # fmt: skip
        else:
            import deephealth.ecvl as ecvl

            if args.root is None:
                raise ValueError(f"'{args.kind}' needs --root, the folder of split/class folders")
            gen = (ecvl.GenerateClassificationDataset(args.root) if args.kind == "classification"
                   else ecvl.GenerateSegmentationDataset(args.root))  # fmt: skip
            path = out if out.suffix else out / "dataset.yml"
            path.parent.mkdir(parents=True, exist_ok=True)
            gen.GetDataset().Dump(str(path))
    except Exception as err:
        print(f"deephealth dataset generate: {err}", file=sys.stderr)
        return BAD_INPUT
    print(path)
    return 0


def resplit(doc: dict[str, Any], fractions: list[float], seed: int) -> dict[str, list[int]]:
    """New training/validation/test indices; samples of one patient stay together.

    Raises:
        ValueError: for fractions that are not three non-negative numbers summing to 1.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"--fractions must be three numbers summing to 1, got {fractions}")
    features = [f.lower() for f in doc.get("features") or []]
    groups: dict[Any, list[int]] = {}
    for i, entry in enumerate(doc.get("images") or []):
        values = entry.get("values") if isinstance(entry, dict) else None
        key: Any = i
        if isinstance(values, dict) and "patient" in {str(k).lower() for k in values}:
            key = next(v for k, v in values.items() if str(k).lower() == "patient")
        elif isinstance(values, list) and "patient" in features:
            key = values[features.index("patient")]
        groups.setdefault(key, []).append(i)
    keys = list(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    n_train = round(fractions[0] * len(keys))
    n_val = round(fractions[1] * len(keys))
    parts = (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])
    return {
        name: sorted(i for k in part for i in groups[keys[int(k)]])
        for name, part in zip(("training", "validation", "test"), parts)
    }


def _split(args: argparse.Namespace) -> int:
    try:
        from deephealth.ecvl.dataset import yaml_limits

        doc = yaml_limits.safe_load(yaml_limits.read_text(args.dataset))
        if not isinstance(doc, dict) or "images" not in doc:
            raise ValueError(f"{args.dataset} is not a DeepHealth dataset (no 'images')")
        fractions = [float(v) for v in args.fractions.split(",")]
        doc["split"] = resplit(doc, fractions, args.seed)
    except (OSError, ValueError, yaml.YAMLError) as err:
        print(f"deephealth dataset split: {err}", file=sys.stderr)
        return BAD_INPUT
    out = Path(args.out or args.dataset)
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    print(f"{out}: " + ", ".join(f"{k} {len(v)}" for k, v in doc["split"].items()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `dataset` command group."""
    p = subparsers.add_parser(
        "dataset", help="validate, describe, generate or split a DeepHealth dataset YAML",
        description="Work with DeepHealth dataset files (YAML).",
    )  # fmt: skip
    sub = p.add_subparsers(title="actions", metavar="ACTION", required=True)

    v = sub.add_parser("validate", help="list every problem of a dataset (exit 2 on errors)")
    v.add_argument("dataset", help="dataset YAML")
    v.add_argument("--no-images", action="store_true", help="do not decode the images")
    v.set_defaults(func=_validate)

    d = sub.add_parser("describe", help="splits, classes, features and image size")
    d.add_argument("dataset", help="dataset YAML")
    d.set_defaults(func=_describe)

    g = sub.add_parser(
        "generate", help="write a dataset YAML from folders, or synthetic phantoms",
        description="classification: ROOT/<split>/<class>/*; segmentation: ROOT/<split>/"
        "{images,ground_truth} as ECVL's generators; phantoms: synthetic lesion images with "
        "known lesions (not medical data).",
    )  # fmt: skip
    g.add_argument("kind", choices=["classification", "segmentation", "phantoms"])
    g.add_argument("--root", help="folder to scan (classification/segmentation)")
    g.add_argument("-o", "--out", required=True, help="output YAML file or folder")
    g.add_argument("--task", default="classification", choices=["classification", "segmentation"],
                   help="phantoms: task")  # fmt: skip
    g.add_argument("--patients", type=int, default=60, help="phantoms: number of patients")
    g.add_argument("--shape", default="64,64", help="phantoms: H,W or D,H,W")
    g.add_argument("--seed", type=int, default=0, help="phantoms: random seed")
    g.set_defaults(func=_generate)

    s = sub.add_parser("split", help="re-split into training/validation/test, by patient")
    s.add_argument("dataset", help="dataset YAML")
    s.add_argument("--fractions", default="0.7,0.15,0.15", help="training,validation,test")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.add_argument("-o", "--out", help="output YAML (default: overwrite the input)")
    s.set_defaults(func=_split)

    from deephealth.cli.dataset_boxes import register_actions

    register_actions(sub)
