"""`midime-widgets inspect FILE.mid`: what is in a MIDI file and what the models can use."""

from __future__ import annotations

import argparse
import sys

from ..errors import MidiError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "inspect",
        help="show the tracks, tempo, metre and the excerpts the models can learn from in a MIDI file",
        description="Show a MIDI file's tracks (program, drums, notes, pitch range, most notes at once), "
        "tempo, time signature, length, the melody track midime-widgets would pick (and why), "
        "and how many melody / drum / trio excerpts the MusicVAE models can learn from in it.",
    )
    parser.add_argument("file", metavar="FILE.mid", help="a Standard MIDI File")
    parser.add_argument("--max-bytes", type=int, default=None,
                        help="largest file to accept (default 20 MB or $MIDIME_MAX_MIDI_BYTES)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..music.summary import inspect_midi
    from ..music.midi_io import read_midi

    try:
        seq, notes = read_midi(args.file, max_bytes=args.max_bytes)
        seq.filename = args.file
        summary = inspect_midi(seq)
    except FileNotFoundError:
        print(f"midime-widgets inspect: no such file: {args.file}", file=sys.stderr)
        return 2
    except (MidiError, ValueError) as exc:
        print(f"midime-widgets inspect: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    for note in notes:
        print(f"note: {note}")
    return 0
