"""The `midime-widgets` command line. Each subcommand lives in its own module with
`add_parser(subparsers)` registering it and setting `func` (returning an exit code)."""

from __future__ import annotations

import argparse
import gc
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


NOTEBOOK_HELPERS = "note_seq.notebook_utils"


def defer_note_seq_notebook_helpers() -> None:
    """`import note_seq` also imports its notebook helpers (bokeh plotting, IPython, pandas):
    over half of the second it takes, spent before a command can check its first file. The
    command line never uses them, so until something calls one, a stand-in takes their place;
    the first call (or any other attribute) loads the real module.
    """
    if "note_seq" in sys.modules or NOTEBOOK_HELPERS in sys.modules:
        return
    import types

    def real():
        import importlib.machinery
        import importlib.util

        import note_seq

        if not isinstance(sys.modules.get(NOTEBOOK_HELPERS), _Deferred):
            return sys.modules[NOTEBOOK_HELPERS]
        spec = importlib.machinery.PathFinder.find_spec(NOTEBOOK_HELPERS, note_seq.__path__)
        module = importlib.util.module_from_spec(spec)
        sys.modules[NOTEBOOK_HELPERS] = module
        spec.loader.exec_module(module)
        note_seq.notebook_utils = module
        for name in ("play_sequence", "plot_sequence"):
            setattr(note_seq, name, getattr(module, name))
        return module

    class _Deferred(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):  # the import system probing (__path__ …): not a use
                raise AttributeError(name)
            return getattr(real(), name)

    stand_in = _Deferred(NOTEBOOK_HELPERS)
    stand_in.play_sequence = lambda *a, **k: real().play_sequence(*a, **k)
    stand_in.plot_sequence = lambda *a, **k: real().plot_sequence(*a, **k)
    sys.modules[NOTEBOOK_HELPERS] = stand_in


def console() -> int:
    """The installed `midime-widgets` command (and `python -m midime_widgets`)."""
    hide_native_stderr()
    defer_note_seq_notebook_helpers()
    status = main()
    # The process ends with the command. Its objects (TensorFlow's hundreds of thousands
    # included) leave the collector's sight, so the interpreter's exit does not spend seconds
    # walking them for cycles the end of the process frees anyway.
    gc.freeze()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
