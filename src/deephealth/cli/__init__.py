"""The `deephealth` command: a thin dispatcher over one module per command group.

Each module in `COMMAND_MODULES` exposes `register(subparsers)`, which adds its sub-command(s) with
`set_defaults(func=...)`; the function receives the parsed arguments and returns an exit code.
Exit codes: 0 success, 1 the job failed, 2 bad usage or invalid input (config, dataset, file).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Add a command group here: a module under deephealth.cli with a register(subparsers) function.
COMMAND_MODULES: list[str] = [
    "distributed",
    "serve",
    "batchjobs",
    "federated",
    "pipelines",
    "dataset",
    "anonymize",
    "slide",
    "signal",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="deephealth",
        description="DeepHealth toolkit: train, evaluate and deploy deep-learning models on "
        "medical images from a short YAML config, no code needed.",
        epilog="Run 'deephealth COMMAND --help' for the options of one command.",
    )
    from deephealth import __version__

    parser.add_argument("--version", action="version", version=f"deephealth {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"deephealth.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `deephealth` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
