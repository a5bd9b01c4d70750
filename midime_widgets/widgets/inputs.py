"""Turning uploaded MIDI into model input: parse, pick the melody track, cut windows.

Kept apart from the widget so it can be tested without a browser and reused by notebooks.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any

from ..errors import MidiError
from .device import model_kind


@dataclasses.dataclass
class InputFile:
    """One loaded song and what the model takes from it."""

    name: str
    sequence: Any                  # the whole song as loaded
    prepared: Any                  # what is cut into windows (the melody line for melody models)
    windows: list[Any]             # window NoteSequences, in time order
    instrument: int | None = None  # melody instrument (melody models only)
    reason: str = ""
    candidates: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """JSON dict for the panel's file list."""
        return {
            "name": self.name,
            "n_notes": len(self.sequence.notes),
            "duration": round(float(self.sequence.total_time), 2),
            "instrument": self.instrument,
            "reason": self.reason,
            "candidates": self.candidates,
            "warnings": self.warnings,
            "n_windows": len(self.windows),
        }


def _candidates(choice: Any) -> list[dict[str, Any]]:
    return [
        {"instrument": c.instrument, "name": c.name, "program": c.program,
         "n_notes": c.note_count, "description": c.describe()}
        for c in getattr(choice, "candidates", ())
    ]


def prepare_input(vae: Any, name: str, seq: Any, instrument: int | None = None) -> InputFile:
    """Cut ``seq`` into the windows ``vae`` reads; melody models first take one melody track.

    Raises MidiError (with the file name) when nothing usable is in the song.
    """
    from ..music import prepare_melody  # noqa: PLC0415 - keeps `widgets` import light

    kind = model_kind(vae)
    try:
        if kind == "melody":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                melody = prepare_melody(seq, instrument)
            prepared, choice = melody.sequence, melody.choice
            windows = list(vae.chunks(prepared))
            return InputFile(name, seq, prepared, windows, choice.instrument, choice.reason,
                             _candidates(choice), list(melody.warnings))
        windows = list(vae.chunks(seq))
        return InputFile(name, seq, seq, windows)
    except MidiError as exc:
        raise MidiError(f"{name}: {exc}") from None


def load_input(vae: Any, name: str, data: bytes) -> InputFile:
    """Parse MIDI bytes and prepare them (see :func:`prepare_input`)."""
    from ..music import load_midi  # noqa: PLC0415

    try:
        seq = load_midi(bytes(data))
    except MidiError as exc:
        raise MidiError(f"{name}: {exc}") from None
    return prepare_input(vae, name, seq)


def read_source(source: Any) -> tuple[str, bytes]:
    """(display name, bytes) of a path or of raw bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "uploaded.mid", bytes(source)
    path = os.fspath(source)
    with open(path, "rb") as fh:
        return os.path.basename(path), fh.read()
