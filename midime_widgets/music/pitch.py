"""Pitch names as musicians spell them: B♭ rather than A♯, and the key signature's accidentals
when the music has one (F♯ in D major, G♭ in E♭ minor)."""

from __future__ import annotations

from typing import Any

SHARPS = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")
FLATS = ("C", "D♭", "D", "E♭", "E", "F", "G♭", "G", "A♭", "A", "B♭", "B")
#: Without a key signature: the spelling of each black key found most often in tonal music.
COMMON = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
#: Major keys (pitch class of the tonic) whose signatures hold flats: F, B♭, E♭, A♭, D♭, G♭.
_FLAT_MAJORS = frozenset({5, 10, 3, 8, 1, 6})
_MINOR = 1  # note_seq's KeySignature.mode for minor keys


def spelling(seq: Any) -> tuple[str, ...]:
    """The names to spell `seq`'s pitches with: from its first key signature (a minor key as
    its relative major), COMMON when it has none or is in C major / A minor."""
    keys = list(getattr(seq, "key_signatures", ()))
    if not keys:
        return COMMON
    first = min(keys, key=lambda k: k.time)
    major = (int(first.key) + (3 if first.mode == _MINOR else 0)) % 12
    if major == 0:
        return COMMON
    return FLATS if major in _FLAT_MAJORS else SHARPS


def pitch_name(pitch: int, names: tuple[str, ...] = COMMON) -> str:
    """MIDI pitch → name and octave (60 → "C4", 70 → "B♭4")."""
    pitch = int(pitch)
    return f"{names[pitch % 12]}{pitch // 12 - 1}"
