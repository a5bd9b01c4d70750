"""MIDI <-> NoteSequence <-> tensors. No TensorFlow here (importing this package stays light)."""

import warnings as _warnings

with _warnings.catch_warnings():
    # note_seq imports pydub, which warns at import time when ffmpeg is missing; we never use it.
    _warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
    _warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import note_seq as _note_seq  # noqa: F401

from .midi_io import (MAX_MIDI_BYTES, MidiWarning, load_midi, max_midi_bytes, read_midi,
                      to_midi_bytes)
from .converters import (
    BaseConverter,
    ConverterTensors,
    DrumsConverter,
    MelodyConverter,
    TrioConverter,
    Window,
    converter_from_spec,
)
from .melody import (
    MelodyCandidate,
    MelodyChoice,
    PreparedMelody,
    find_melody,
    prepare_melody,
    resolve_track,
    track_names,
)
from .windows import Metre, SongCut, SongWindow, cut_song, in_metre, song_windows
from .audio import render_wav
from .summary import MidiSummary, inspect_midi

__all__ = [
    "MAX_MIDI_BYTES",
    "BaseConverter",
    "ConverterTensors",
    "DrumsConverter",
    "MelodyConverter",
    "MidiWarning",
    "read_midi",
    "TrioConverter",
    "Window",
    "MelodyCandidate",
    "MelodyChoice",
    "Metre",
    "SongCut",
    "SongWindow",
    "cut_song",
    "in_metre",
    "song_windows",
    "MidiSummary",
    "PreparedMelody",
    "converter_from_spec",
    "find_melody",
    "inspect_midi",
    "prepare_melody",
    "render_wav",
    "resolve_track",
    "track_names",
    "load_midi",
    "max_midi_bytes",
    "to_midi_bytes",
]
