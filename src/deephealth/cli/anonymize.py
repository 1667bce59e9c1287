"""`deephealth anonymize`: de-identify DICOM files with ECVL's `anonymize` (pseudonyms, new UIDs,
a JSON report of every change)."""

from __future__ import annotations

import argparse
import sys


def _anonymize(args: argparse.Namespace) -> int:
    from deephealth.ecvl.anonymize import anonymize
    from deephealth.ecvl.errors import EcvlError

    try:
        report = anonymize(
            args.sources, args.out, key=args.key, keep_private=args.keep_private,
            burned_in=args.burned_in,
        )  # fmt: skip
    except (EcvlError, OSError) as err:
        print(f"deephealth anonymize: {err}", file=sys.stderr)
        return 2
    print(f"{len(report.files)} file(s) written, {len(report.skipped)} skipped; "
          f"report: {report.report_path}")  # fmt: skip
    for s in report.skipped:
        print(f"skipped {s['source']}: {s['reason']}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `anonymize` command."""
    p = subparsers.add_parser(
        "anonymize", help="de-identify DICOM files (pseudonyms, new UIDs, JSON report)",
        description="Remove or replace identifying DICOM attributes (basic profile), write the "
        "files under OUT/<pseudonym>/<series>/ and a deid_report.json. The key (or "
        "$DEEPHEALTH_DEID_KEY) makes pseudonyms consistent across runs.",
    )  # fmt: skip
    p.add_argument("sources", nargs="+", help="DICOM files or folders")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--key", help="secret for pseudonyms (default: $DEEPHEALTH_DEID_KEY)")
    p.add_argument("--keep-private", action="store_true", help="keep private tags")
    p.add_argument("--burned-in", choices=["skip", "keep"], default="skip",
                   help="files with burned-in annotations: skip (default) or keep")  # fmt: skip
    p.set_defaults(func=_anonymize)
