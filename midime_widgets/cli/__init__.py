"""The `midime-widgets` command line. Each subcommand lives in its own module with
`add_parser(subparsers)` registering it and setting `func` (returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import sys

from .._quiet import hide_native_stderr
from .._version import __version__

# Subcommand modules, in the order `--help` lists them.
SUBCOMMANDS = ["personalize", "inspect", "train-musicvae"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midime-widgets",
        description="Personalize MusicVAE with your own MIDI files (MidiMe).",
    )
    parser.add_argument("--version", action="version", version=f"midime-widgets {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f".{name.replace('-', '_')}", __name__).add_parser(sub)
    return parser


def console() -> int:
    """The installed `midime-widgets` command (and `python -m midime_widgets`)."""
    hide_native_stderr()
    return main()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
