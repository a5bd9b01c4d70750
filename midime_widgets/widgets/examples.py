"""Bundled example songs for the panel's "pick an example" menu.

Any ``*.mid`` in ``midime_widgets/examples/`` is listed, plus two songs built here from public-domain
tunes, so the menu is never empty: a multi-track arrangement (melody + bass + drums, which shows the
melody-track choice) and a plain melody.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

# "Ode to Joy" (Beethoven), quarter notes unless a duration (in quarters) is given.
_ODE = [(64, 1), (64, 1), (65, 1), (67, 1), (67, 1), (65, 1), (64, 1), (62, 1),
        (60, 1), (60, 1), (62, 1), (64, 1), (64, 1.5), (62, 0.5), (62, 2),
        (64, 1), (64, 1), (65, 1), (67, 1), (67, 1), (65, 1), (64, 1), (62, 1),
        (60, 1), (60, 1), (62, 1), (64, 1), (62, 1.5), (60, 0.5), (60, 2)]
_ODE_BASS = [48, 43, 48, 43, 48, 43, 43, 48]  # one root a bar

# "Frère Jacques", eighths as 0.5.
_JACQUES = [(60, 1), (62, 1), (64, 1), (60, 1)] * 2 + [(64, 1), (65, 1), (67, 2)] * 2 + \
    [(67, .5), (69, .5), (67, .5), (65, .5), (64, 1), (60, 1)] * 2 + [(60, 1), (55, 1), (60, 2)] * 2


def _sequence(qpm: float = 110.0):
    from note_seq.protobuf import music_pb2  # noqa: PLC0415

    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    seq.ticks_per_quarter = 220
    return seq


def _add_line(seq, notes, qpm, instrument, program, velocity=90, start=0.0):
    beat = 60.0 / qpm
    t = start
    for pitch, quarters in notes:
        seq.notes.add(pitch=pitch, velocity=velocity, start_time=t * beat,
                      end_time=(t + quarters * 0.95) * beat, instrument=instrument, program=program)
        t += quarters
    return t


def ode_to_joy_trio():
    """8 bars of 'Ode to Joy': melody (flute), bass, drums, and a second pass an octave up."""
    qpm = 110.0
    seq = _sequence(qpm)
    seq.instrument_infos.add(instrument=0, name="Melody")
    seq.instrument_infos.add(instrument=1, name="Bass")
    seq.instrument_infos.add(instrument=9, name="Drums")
    end = _add_line(seq, _ODE, qpm, 0, 73)
    end = _add_line(seq, [(p + 12, d) for p, d in _ODE], qpm, 0, 73, start=end)
    bars = int(end // 4)
    beat = 60.0 / qpm
    for bar in range(bars):
        root = _ODE_BASS[bar % len(_ODE_BASS)]
        for q, interval in ((0, 0), (2, 7)):
            t = (bar * 4 + q) * beat
            seq.notes.add(pitch=root - 12 + interval, velocity=85, start_time=t, end_time=t + 1.8 * beat,
                          instrument=1, program=33)
        for eighth in range(8):
            t = (bar * 4 + eighth / 2) * beat
            drums = [42] + ([36] if eighth in (0, 4) else []) + ([38] if eighth in (2, 6) else [])
            for pitch in drums:
                seq.notes.add(pitch=pitch, velocity=100 if pitch != 42 else 70, start_time=t,
                              end_time=t + 0.1, instrument=9, is_drum=True)
    seq.total_time = bars * 4 * beat
    return seq


def frere_jacques():
    """'Frère Jacques' as a single piano melody (8 bars)."""
    qpm = 120.0
    seq = _sequence(qpm)
    seq.instrument_infos.add(instrument=0, name="Piano")
    end = _add_line(seq, _JACQUES, qpm, 0, 0)
    seq.total_time = end * 60.0 / qpm
    return seq


BUILTIN: dict[str, Callable[[], object]] = {
    "Ode to Joy (melody, bass, drums)": ode_to_joy_trio,
    "Frère Jacques (piano melody)": frere_jacques,
}


def example_names() -> list[str]:
    """Every example the panel offers: files in the examples folder first, then the built-ins."""
    files = sorted(p.name for p in EXAMPLES_DIR.glob("*.mid")) if EXAMPLES_DIR.is_dir() else []
    return files + list(BUILTIN)


@functools.lru_cache(maxsize=None)
def example_bytes(name: str) -> bytes:
    """The example as MIDI file bytes (so it goes through the same loader as an upload)."""
    if name in BUILTIN:
        from ..music import to_midi_bytes  # noqa: PLC0415

        return to_midi_bytes(BUILTIN[name]())
    path = EXAMPLES_DIR / name
    if path.suffix != ".mid" or path.parent != EXAMPLES_DIR or not path.is_file():
        raise KeyError(f"no example called {name!r}; choose one of {example_names()}")
    return path.read_bytes()
