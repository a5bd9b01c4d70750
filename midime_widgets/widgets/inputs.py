"""How the panel lists the songs of a ``Personalizer`` and reads the files a user hands it."""

from __future__ import annotations

import os
from typing import Any

from ..music import max_midi_bytes

MIB = 1024 * 1024


def describe_song(song: Any) -> dict[str, Any]:
    """JSON dict of one ``personalize.InputSong`` for the panel's file list."""
    choice = song.melody_choice
    return {
        "name": song.name,
        "n_notes": len(song.original.notes),
        "duration": round(float(song.original.total_time), 2),
        "instrument": choice.instrument if choice is not None else None,
        "reason": choice.reason if choice is not None else "",
        "candidates": [{"instrument": c.instrument, "name": c.name, "n_notes": c.note_count}
                       for c in (choice.candidates if choice is not None else ())],
        "warnings": [str(w) for w in song.warnings],
        "n_windows": len(song.windows),
    }


def size_text(n_bytes: int) -> str:
    """A file size as the panel writes it (MB meaning MiB, like the limit)."""
    return f"{n_bytes / MIB:.1f} MB"


def upload_limit_text() -> str:
    """The upload limit as the panel writes it, e.g. "20 MB"."""
    return f"{max_midi_bytes() / MIB:g} MB"


def check_size(name: str, n_bytes: int) -> str | None:
    """A sentence when a file is over the MIDI size limit, else None."""
    if n_bytes <= max_midi_bytes():
        return None
    return (f"{name} is {size_text(n_bytes)}, larger than the {upload_limit_text()} limit for a "
            "MIDI file, so it was not loaded.")


def read_source(source: Any) -> tuple[str, bytes]:
    """(display name, bytes) of a path or of raw bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "uploaded.mid", bytes(source)
    path = os.fspath(source)
    with open(path, "rb") as fh:
        return os.path.basename(path), fh.read()
