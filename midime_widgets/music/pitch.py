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


# Krumhansl and Kessler's key profiles: how strongly each pitch class, from the tonic up, belongs
# to a major or a minor key (listeners' ratings; the usual key-finding weights).
_MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
#: Key names as musicians spell them, by tonic pitch class.
MAJOR_KEYS = ("C", "D♭", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
MINOR_KEYS = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "G♯", "A", "B♭", "B")
#: A key is named only when the notes fit it at least this well (correlation with its profile).
KEY_CLARITY = 0.6


def estimate_key(seq: Any) -> str | None:
    """The key `seq`'s pitched notes suggest ("G major", "F♯ minor"), weighting each pitch class
    by how long it sounds (Krumhansl-Schmuckler); None without pitched notes or when no key fits
    at least `KEY_CLARITY` (atonal or too few notes to tell)."""
    import numpy as np

    weights = np.zeros(12)
    for note in getattr(seq, "notes", ()):
        if not note.is_drum and note.velocity > 0:
            weights[note.pitch % 12] += max(note.end_time - note.start_time, 1e-3)
    if weights.std() == 0:  # no pitched notes, or all twelve alike: nothing points to a key
        return None
    best, name = -2.0, None
    for profile, names, mode in ((_MAJOR_PROFILE, MAJOR_KEYS, "major"), (_MINOR_PROFILE, MINOR_KEYS, "minor")):
        for tonic in range(12):
            fit = float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1])
            if fit > best:
                best, name = fit, f"{names[tonic]} {mode}"
    return name if best >= KEY_CLARITY else None
