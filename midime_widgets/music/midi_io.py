"""Reading and writing MIDI files safely.

`load_midi` is the single gate every user file passes through: it enforces a size limit before
parsing, turns every parser failure (pretty_midi / mido raise a zoo of exception types) into a
`MidiError` with a sentence a musician understands, and rejects files without notes.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
from pathlib import Path
from typing import Union

import note_seq
from note_seq.protobuf import music_pb2

from ..errors import MidiError

NoteSequence = music_pb2.NoteSequence

#: Default largest MIDI file `load_midi` accepts (bytes). Real songs are rarely above 1 MB.
MAX_MIDI_BYTES = 20 * 1024 * 1024
#: Longest music `load_midi` accepts (seconds). Longer "songs" are damaged files whose notes
#: would make quantized sequences absurdly long.
MAX_MIDI_SECONDS = 3 * 3600.0
#: Environment variable that overrides `MAX_MIDI_BYTES` (a number of bytes).
MAX_BYTES_ENV = "MIDIME_MAX_MIDI_BYTES"

MidiSource = Union[str, os.PathLike, bytes, bytearray, memoryview]


class MidiWarning(UserWarning):
    """Something in the music was changed to fit the model (e.g. chords reduced to one note)."""


def max_midi_bytes(max_bytes: int | None = None) -> int:
    """The size limit in force: the explicit argument, else $MIDIME_MAX_MIDI_BYTES, else 20 MB."""
    if max_bytes is not None:
        limit = max_bytes
    else:
        env = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not env:
            return MAX_MIDI_BYTES
        try:
            limit = int(float(env))
        except ValueError:
            raise ValueError(
                f"{MAX_BYTES_ENV}={env!r} is not a number of bytes (for example 20000000)."
            ) from None
    if limit <= 0:
        raise ValueError(f"The MIDI size limit must be a positive number of bytes, got {limit}.")
    return int(limit)


def _size_error(size: int, limit: int) -> MidiError:
    return MidiError(
        f"The MIDI file is {size / 1e6:.1f} MB, larger than the {limit / 1e6:.1f} MB limit. "
        f"Real songs are far smaller, so it is probably not a plain MIDI file; to allow it anyway "
        f"pass max_bytes=... or set {MAX_BYTES_ENV}."
    )


def _read_source(source: MidiSource, limit: int) -> tuple[bytes, str]:
    """Return (bytes, label for messages); checks the size before reading a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > limit:
            raise _size_error(len(data), limit)
        return data, "the MIDI data"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"load_midi expects a file path or the file's bytes, not {type(source).__name__}."
        )
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"No such MIDI file: {path}")
    if path.is_dir():
        raise MidiError(f"{path} is a folder, not a MIDI file.")
    size = path.stat().st_size
    if size > limit:
        raise _size_error(size, limit)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise MidiError(f"Could not read {path.name}: {exc.strerror or exc}.") from exc
    if len(data) > limit:  # the file grew between stat and read
        raise _size_error(len(data), limit)
    return data, path.name


def _unwrap_rmid(data: bytes) -> bytes:
    """RIFF-RMID files (Windows) wrap a standard MIDI file in a 'data' chunk: unwrap it."""
    if not (data[:4] == b"RIFF" and data[8:12] == b"RMID"):
        return data
    pos = 12
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if tag == b"data":
            return data[pos + 8 : pos + 8 + length]
        pos += 8 + length + (length & 1)
    return data


def _looks_like_text(data: bytes) -> bool:
    sample = data[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def _check_header(data: bytes, label: str) -> None:
    if not data:
        raise MidiError(f"{_cap(label)} is empty (0 bytes): there is no music in it.")
    if data[:4] != b"MThd":
        if _looks_like_text(data):
            raise MidiError(
                f"{_cap(label)} looks like a text file, not a MIDI file. Export the song from "
                "your music software as a Standard MIDI File (.mid)."
            )
        raise MidiError(
            f"{_cap(label)} is not a MIDI file (it does not start with the MIDI header 'MThd'). "
            "Export the song from your music software as a Standard MIDI File (.mid)."
        )
    if len(data) < 14:
        raise MidiError(f"{_cap(label)} is cut off: it ends inside the MIDI header.")
    if data.find(b"MTrk", 8) < 0:
        raise MidiError(
            f"{_cap(label)} has a MIDI header but no tracks, so it holds no notes."
        )


def _cap(label: str) -> str:
    return label[:1].upper() + label[1:] if label.startswith("the ") else f"'{label}'"


def _parse(data: bytes, label: str) -> NoteSequence:
    """Parse with note_seq / pretty_midi, converting *any* failure into a MidiError."""
    try:
        with warnings.catch_warnings():
            # pretty_midi warns about harmless things (meta events on non-zero tracks); under
            # `-W error` those warnings would become exceptions and reject good files.
            warnings.simplefilter("ignore")
            seq = note_seq.midi_to_note_sequence(data)
    except MemoryError:
        raise MidiError(f"{_cap(label)} is too large or damaged to read.") from None
    except Exception as exc:  # noqa: BLE001 - the parsers raise many unrelated types
        raise MidiError(
            f"{_cap(label)} could not be read: it seems damaged or cut off "
            f"({_describe(exc)})."
        ) from exc
    return seq


def _describe(exc: BaseException) -> str:
    """A short technical hint for the end of a friendly message."""
    cause = exc
    text = str(cause).strip()
    if isinstance(exc, EOFError) or "EOF" in text:
        return "the data ends too early"
    if isinstance(exc, note_seq.MIDIConversionError):
        text = text.replace("Midi decoding error", "").strip(" :")
        if "EOFError" in text:
            return "the data ends too early"
    text = text.replace("<class '", "").replace("'>", "")
    return (text[:160] or type(exc).__name__)


def _validate(seq: NoteSequence, label: str) -> None:
    """Reject sequences that parse but hold nothing usable (or nonsense times)."""
    notes = [n for n in seq.notes if n.velocity > 0]
    if not notes:
        raise MidiError(
            f"{_cap(label)} contains no notes (only settings such as tempo or instrument "
            "names), so there is nothing to play or learn from."
        )
    for n in seq.notes:
        if not (math.isfinite(n.start_time) and math.isfinite(n.end_time)) or n.start_time < 0:
            raise MidiError(f"{_cap(label)} has notes at impossible times; the file is damaged.")
    for t in seq.tempos:
        if not (math.isfinite(t.qpm) and t.qpm > 0):
            raise MidiError(f"{_cap(label)} has an impossible tempo ({t.qpm}); it is damaged.")
    if not math.isfinite(seq.total_time):
        raise MidiError(f"{_cap(label)} has an impossible length; the file is damaged.")
    if seq.total_time > MAX_MIDI_SECONDS:
        raise MidiError(
            f"{_cap(label)} lasts {seq.total_time / 3600:.1f} hours; songs longer than "
            f"{MAX_MIDI_SECONDS / 3600:.0f} hours are almost certainly damaged files."
        )


def load_midi(source: MidiSource, *, max_bytes: int | None = None) -> NoteSequence:
    """Read a MIDI file (path or bytes) into a NoteSequence.

    Raises `FileNotFoundError` for a missing path and `MidiError` for anything that is not a
    usable MIDI file: empty, too big (checked before parsing), text, damaged, truncated, or
    without notes.
    """
    limit = max_midi_bytes(max_bytes)
    data, label = _read_source(source, limit)
    data = _unwrap_rmid(data)
    _check_header(data, label)
    seq = _parse(data, label)
    _validate(seq, label)
    if isinstance(source, (str, os.PathLike)):
        seq.filename = os.fspath(source)
    return seq


def to_midi_bytes(seq: NoteSequence) -> bytes:
    """Write a NoteSequence as Standard MIDI File bytes (for download / export)."""
    if not isinstance(seq, NoteSequence):
        raise TypeError(f"to_midi_bytes expects a NoteSequence, not {type(seq).__name__}.")
    for n in seq.notes:
        if not 0 <= n.pitch <= 127 or not 0 <= n.velocity <= 127:
            raise MidiError(
                f"A note has pitch {n.pitch} / velocity {n.velocity}; MIDI allows only 0-127."
            )
        if not (math.isfinite(n.start_time) and math.isfinite(n.end_time)) or n.start_time < 0:
            raise MidiError("A note has an impossible time (negative or infinite).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = note_seq.note_sequence_to_pretty_midi(seq)
            buf = io.BytesIO()
            pm.write(buf)
    except Exception as exc:  # noqa: BLE001
        raise MidiError(f"Could not write this music as MIDI ({_describe(exc)}).") from exc
    return buf.getvalue()
