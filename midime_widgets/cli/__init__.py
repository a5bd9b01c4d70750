"""The `midime-widgets` command line. Each subcommand lives in its own module with
`add_parser(subparsers)` registering it and setting `func` (returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

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


def hide_native_stderr() -> None:
    """Send C++-level writes to fd 2 (TensorFlow's start-up chatter: CUDA probing on CPU-only
    machines, oneDNN notes — printed before TF's own log settings apply) to /dev/null, while
    Python's `sys.stderr` (our messages, warnings, tracebacks) keeps the real stderr.

    MIDIME_WIDGETS_NATIVE_LOGS=1 keeps everything.
    """
    if os.environ.get("MIDIME_WIDGETS_NATIVE_LOGS") == "1":
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                               errors="backslashreplace")
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, captured): leave it
        pass


def console() -> int:
    """The installed `midime-widgets` command (and `python -m midime_widgets`)."""
    hide_native_stderr()
    return main()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
