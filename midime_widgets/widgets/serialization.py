"""Binary wire formats shared by the Python widgets and the JS views in ``js/src``.

**Note buffers** (:func:`sequence_to_wire` / :func:`wire_to_sequence`): a NoteSequence packed into
one little-endian byte string of column arrays, plus a small JSON header describing the tracks.
12 bytes a note instead of a protobuf or a JSON list, and the JS side reads it with typed-array
views and no parsing (see ``js/src/notes.js``).

Byte layout of ``data`` for ``n`` notes (all columns contiguous, floats first so they stay aligned)::

    float32 start[n] | float32 end[n] | uint8 pitch[n] | uint8 velocity[n] | uint8 track[n] | uint8 drum[n]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping

import numpy as np

WIRE_VERSION = 1
DEFAULT_QPM = 120.0
BASS_PROGRAMS = range(32, 40)

# Roles pick the synth voice in the browser (player.js) and the colour family (piano_roll.js).
ROLE_MELODY, ROLE_BASS, ROLE_DRUMS = "melody", "bass", "drums"

_GM_FAMILIES = (
    "Piano", "Chromatic percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
    "Reed", "Pipe", "Synth lead", "Synth pad", "Synth effects", "Ethnic", "Percussive", "Sound effects",
)


def program_family(program: int) -> str:
    """General MIDI family name of a program number (0-127), e.g. 33 -> 'Bass'."""
    return _GM_FAMILIES[max(0, min(127, int(program))) // 8]


def track_role(program: int, is_drum: bool) -> str:
    """Which voice plays a track: drums, bass (GM programs 32-39) or melody (everything else)."""
    if is_drum:
        return ROLE_DRUMS
    return ROLE_BASS if int(program) in BASS_PROGRAMS else ROLE_MELODY


@dataclass(frozen=True)
class TrackKey:
    """Notes belong to the same track when instrument, program and drum flag all agree."""

    instrument: int
    program: int
    is_drum: bool


def _track_keys(notes: Iterable[Any]) -> list[TrackKey]:
    keys = {TrackKey(int(n.instrument), int(n.program), bool(n.is_drum)) for n in notes}
    return sorted(keys, key=lambda k: (k.is_drum, k.instrument, k.program))


def _qpm(seq: Any) -> float:
    tempos = list(getattr(seq, "tempos", []))
    qpm = float(tempos[0].qpm) if tempos else 0.0
    return qpm if qpm > 0 else DEFAULT_QPM


def _time_signature(seq: Any) -> tuple[int, int]:
    sigs = list(getattr(seq, "time_signatures", []))
    if sigs and sigs[0].numerator > 0 and sigs[0].denominator > 0:
        return int(sigs[0].numerator), int(sigs[0].denominator)
    return 4, 4


def _instrument_names(seq: Any) -> dict[int, str]:
    return {int(i.instrument): i.name for i in getattr(seq, "instrument_infos", []) if i.name}


def sequence_to_wire(
    seq: Any | None,
    *,
    highlight: Iterable[int] | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Pack a NoteSequence for a piano-roll/player trait.

    ``highlight`` lists instrument numbers to emphasise; other tracks are drawn dimmed (used to show
    which track of a multi-track file was taken as the melody). ``None`` means nothing is dimmed.
    Returns a JSON-able dict whose ``data`` entry is a ``bytes`` buffer (sent as a binary frame).
    """
    if seq is None:
        return empty_wire(label)
    notes = [n for n in seq.notes if n.end_time > n.start_time or n.is_drum]
    keys = _track_keys(notes)
    index = {k: i for i, k in enumerate(keys)}
    names = _instrument_names(seq)
    keep = None if highlight is None else {int(i) for i in highlight}

    n = len(notes)
    start = np.fromiter((x.start_time for x in notes), dtype="<f4", count=n)
    end = np.fromiter((max(x.end_time, x.start_time + 0.05) for x in notes), dtype="<f4", count=n)
    pitch = np.fromiter((min(127, max(0, x.pitch)) for x in notes), dtype=np.uint8, count=n)
    velocity = np.fromiter((min(127, max(1, x.velocity or 80)) for x in notes), dtype=np.uint8, count=n)
    track = np.fromiter(
        (index[TrackKey(int(x.instrument), int(x.program), bool(x.is_drum))] for x in notes),
        dtype=np.uint8,
        count=n,
    )
    drum = np.fromiter((1 if x.is_drum else 0 for x in notes), dtype=np.uint8, count=n)

    counts = np.bincount(track, minlength=len(keys)) if n else np.zeros(len(keys), int)
    tracks = [
        {
            "id": i,
            "instrument": k.instrument,
            "program": k.program,
            "is_drum": k.is_drum,
            "role": track_role(k.program, k.is_drum),
            "name": names.get(k.instrument) or ("Drums" if k.is_drum else program_family(k.program)),
            "n_notes": int(counts[i]),
            "dim": keep is not None and k.instrument not in keep,
        }
        for i, k in enumerate(keys)
    ]
    total = float(max(getattr(seq, "total_time", 0.0) or 0.0, float(end.max()) if n else 0.0))
    numerator, denominator = _time_signature(seq)
    return {
        "version": WIRE_VERSION,
        "n": n,
        "duration": total,
        "qpm": _qpm(seq),
        "time_signature": [numerator, denominator],
        "tracks": tracks,
        "label": label,
        "data": start.tobytes() + end.tobytes() + pitch.tobytes() + velocity.tobytes()
        + track.tobytes() + drum.tobytes(),
    }


def empty_wire(label: str = "") -> dict[str, Any]:
    """The wire value of 'no sequence' (views show an empty-state message)."""
    return {
        "version": WIRE_VERSION,
        "n": 0,
        "duration": 0.0,
        "qpm": DEFAULT_QPM,
        "time_signature": [4, 4],
        "tracks": [],
        "label": label,
        "data": b"",
    }


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, memoryview):
        return data.tobytes()
    return bytes(data)


def wire_columns(wire: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Unpack ``data`` into its six column arrays (views over one copy of the bytes)."""
    n = int(wire["n"])
    raw = _as_bytes(wire["data"])
    expected = 12 * n
    if len(raw) != expected:
        raise ValueError(f"note buffer holds {len(raw)} bytes; {n} notes need {expected}")
    buf = np.frombuffer(raw, dtype=np.uint8)
    floats = buf[: 8 * n].view("<f4")
    return {
        "start": floats[:n],
        "end": floats[n:],
        "pitch": buf[8 * n : 9 * n],
        "velocity": buf[9 * n : 10 * n],
        "track": buf[10 * n : 11 * n],
        "drum": buf[11 * n : 12 * n],
    }


def wire_to_sequence(wire: Mapping[str, Any]) -> Any:
    """Rebuild a NoteSequence from a note buffer (times are float32, so ~1e-7 relative error)."""
    from note_seq.protobuf import music_pb2

    cols = wire_columns(wire)
    tracks = list(wire.get("tracks", []))
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=float(wire.get("qpm", DEFAULT_QPM)))
    num, den = wire.get("time_signature", [4, 4])
    seq.time_signatures.add(numerator=int(num), denominator=int(den))
    seq.ticks_per_quarter = 220
    for t in tracks:
        if t.get("name"):
            seq.instrument_infos.add(instrument=int(t["instrument"]), name=str(t["name"]))
    for i in range(int(wire["n"])):
        t = tracks[int(cols["track"][i])]
        seq.notes.add(
            pitch=int(cols["pitch"][i]),
            velocity=int(cols["velocity"][i]),
            start_time=float(cols["start"][i]),
            end_time=float(cols["end"][i]),
            instrument=int(t["instrument"]),
            program=int(t["program"]),
            is_drum=bool(cols["drum"][i]),
        )
    seq.total_time = float(wire.get("duration", 0.0))
    return seq
