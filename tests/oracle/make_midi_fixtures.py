"""Write the small input MIDI files in tests/fixtures/midi/ (deterministic, seeded).

Runs with the project's main interpreter (needs only note_seq / pretty_midi):

    python tests/oracle/make_midi_fixtures.py [OUT_DIR]

Each file exercises one behaviour of magenta's converters / extraction (see tests/oracle/README.md).
Notes are built on a 16th-note step grid and converted to seconds through a list of sections
(bars, qpm, time signature), so tempo and time-signature changes stay exact.
"""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import note_seq
from note_seq.protobuf import music_pb2

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "midi")

C_MAJOR = [0, 2, 4, 5, 7, 9, 11]


@dataclasses.dataclass(frozen=True)
class Section:
    """A run of bars sharing one tempo and time signature."""

    bars: int
    qpm: float = 120.0
    numerator: int = 4
    denominator: int = 4

    @property
    def steps_per_bar(self) -> int:
        return self.numerator * 16 // self.denominator

    @property
    def step_seconds(self) -> float:
        return 60.0 / self.qpm / 4.0


class Timeline:
    """Maps global 16th-note steps to seconds across sections; writes tempo/time-sig events."""

    def __init__(self, sections: list[Section]):
        self.sections = sections
        self.starts = []  # (first_step, first_time) per section
        step, time = 0, 0.0
        for s in sections:
            self.starts.append((step, time))
            step += s.bars * s.steps_per_bar
            time += s.bars * s.steps_per_bar * s.step_seconds
        self.total_steps = step
        self.total_time = time

    def bar_start_step(self, bar: int) -> int:
        """Global step at which (global) bar index `bar` begins."""
        for s, (first, _) in zip(self.sections, self.starts):
            if bar < s.bars:
                return first + bar * s.steps_per_bar
            bar -= s.bars
        return self.total_steps

    def time(self, step: int) -> float:
        for s, (first, t0) in reversed(list(zip(self.sections, self.starts))):
            if step >= first:
                return t0 + (step - first) * s.step_seconds
        raise ValueError(step)

    def new_sequence(self) -> music_pb2.NoteSequence:
        seq = music_pb2.NoteSequence()
        seq.ticks_per_quarter = note_seq.STANDARD_PPQ
        prev = None
        for s, (_, t0) in zip(self.sections, self.starts):
            if prev is None or s.qpm != prev.qpm:
                seq.tempos.add(time=t0, qpm=s.qpm)
            if prev is None or (s.numerator, s.denominator) != (prev.numerator, prev.denominator):
                seq.time_signatures.add(time=t0, numerator=s.numerator, denominator=s.denominator)
            prev = s
        return seq


def add_note(seq, tl: Timeline, start: int, end: int, pitch: int, velocity: int,
             *, instrument: int = 0, program: int = 0, is_drum: bool = False) -> None:
    seq.notes.add(pitch=int(pitch), velocity=int(velocity), start_time=tl.time(start),
                  end_time=tl.time(end), instrument=instrument, program=program, is_drum=is_drum)
    seq.total_time = max(seq.total_time, tl.time(end))


def scale_pitch(degree: int, root: int = 60) -> int:
    octave, idx = divmod(degree, len(C_MAJOR))
    return root + 12 * octave + C_MAJOR[idx]


def random_melody(rng, first_step: int, last_step: int, *, root=60, rest_prob=0.15,
                  durations=(1, 2, 2, 3, 4, 4, 6, 8)) -> list[tuple[int, int, int, int]]:
    """Monophonic random walk on C major: list of (start, end, pitch, velocity)."""
    notes, step, degree = [], first_step, 0
    while step < last_step:
        dur = int(min(rng.choice(durations), last_step - step))
        if rng.rand() < rest_prob:
            step += dur
            continue
        degree = int(np.clip(degree + rng.randint(-3, 4), -5, 10))
        notes.append((step, step + dur, scale_pitch(degree, root), int(rng.randint(60, 111))))
        step += dur
    return notes


def drum_pattern(rng, tl: Timeline, bars: range, *, extra_pitches=()) -> list[tuple[int, int]]:
    """(step, pitch) hits: kick/snare/hats per bar, crash on bar 0, a tom fill in the last bar."""
    hits = []
    for bar in bars:
        b0 = tl.bar_start_step(bar)
        spb = tl.bar_start_step(bar + 1) - b0
        for s in range(0, spb, 2):
            hits.append((b0 + s, 46 if s == spb - 2 else 42))
        for s in range(0, spb, 8):
            hits.append((b0 + s, 36))
        for s in range(4, spb, 8):
            hits.append((b0 + s, 38))
        if rng.rand() < 0.5:
            hits.append((b0 + spb - 3, 36))
        if bar == bars[0]:
            hits.append((b0, 49))
        if bar == bars[-1]:
            hits += [(b0 + spb - 4, 50), (b0 + spb - 3, 48), (b0 + spb - 2, 45), (b0 + spb - 1, 45)]
        for k, p in enumerate(extra_pitches):
            hits.append((b0 + (2 * k + 1) % spb, p))
    return hits


def add_drums(seq, tl, hits, rng, instrument=9):
    for step, pitch in hits:
        add_note(seq, tl, step, step + 1, pitch, rng.randint(50, 127),
                 instrument=instrument, program=0, is_drum=True)


# --------------------------------------------------------------------------- the fixtures

def mono_melody():
    rng = np.random.RandomState(1)
    tl = Timeline([Section(8)])
    seq = tl.new_sequence()
    for n in random_melody(rng, 0, tl.total_steps, rest_prob=0.1):
        add_note(seq, tl, *n)
    return seq


def poly_piano():
    rng = np.random.RandomState(2)
    tl = Timeline([Section(8)])
    seq = tl.new_sequence()
    chords = [[48, 52, 55], [53, 57, 60], [55, 59, 62], [48, 52, 55]]
    for bar in range(8):
        chord = chords[bar % 4]
        for half in range(2):
            s = bar * 16 + half * 8
            for p in chord:
                add_note(seq, tl, s, s + 8, p, rng.randint(50, 90))
    # A top line (overlapping the chords in time -> polyphony) with some notes ringing over others.
    for (s, e, p, v) in random_melody(rng, 0, tl.total_steps, root=72, rest_prob=0.05):
        add_note(seq, tl, s, e + (2 if rng.rand() < 0.3 else 0), p, v)
    return seq


def out_of_range():
    rng = np.random.RandomState(3)
    tl = Timeline([Section(4)])
    seq = tl.new_sequence()
    mel = random_melody(rng, 0, tl.total_steps, rest_prob=0.0, durations=(2, 4))
    odd_pitches = [15, 110, 18, 115, 20, 109]
    for k, (s, e, p, v) in enumerate(mel):
        if k % 3 == 1:
            p = odd_pitches[(k // 3) % len(odd_pitches)]
        add_note(seq, tl, s, e, p, v, instrument=0, program=0)
    for (s, e, p, v) in random_melody(rng, 0, tl.total_steps, root=67, rest_prob=0.2):
        add_note(seq, tl, s, e, p, v, instrument=1, program=40)
    for bar in range(4):
        for q in range(4):
            s = bar * 16 + q * 4
            add_note(seq, tl, s, s + 3, 36 + C_MAJOR[(bar + q) % 7], 90, instrument=2, program=33)
    return seq


def tempo_timesig_change():
    rng = np.random.RandomState(4)
    tl = Timeline([Section(4, 120), Section(2, 100), Section(3, 100, 3, 4), Section(2, 100)])
    seq = tl.new_sequence()
    for (s, e, p, v) in random_melody(rng, 0, tl.total_steps, rest_prob=0.05, durations=(2, 4)):
        add_note(seq, tl, s, e, p, v, instrument=0, program=0)
    add_drums(seq, tl, drum_pattern(rng, tl, range(11)), rng)
    return seq


def drums_only():
    rng = np.random.RandomState(5)
    tl = Timeline([Section(4)])
    seq = tl.new_sequence()
    # 35/40/44/43/52: in a reduced class but not its exemplar; 24/25/88: in no reduced class.
    hits = drum_pattern(rng, tl, range(4), extra_pitches=(35, 40, 44, 43, 52, 24, 25, 88))
    add_drums(seq, tl, hits, rng)
    return seq


def song_trio():
    rng = np.random.RandomState(6)
    bars = 20
    tl = Timeline([Section(bars)])
    seq = tl.new_sequence()
    # Melody: short rests only (< 1 bar) so the 16-bar melody windows survive gap splitting.
    for (s, e, p, v) in random_melody(rng, 0, tl.total_steps, root=72, rest_prob=0.1,
                                      durations=(1, 2, 2, 4, 4, 6)):
        add_note(seq, tl, s, e, p, v, instrument=0, program=0)
    roots = [36, 41, 43, 36, 45, 41, 43, 43]
    for bar in range(bars):
        root = roots[bar % len(roots)]
        for s in (0, 4, 6, 8, 12):
            p = root + (7 if s == 8 else 0) + (12 if s == 6 else 0)
            add_note(seq, tl, bar * 16 + s, bar * 16 + s + 2, p, rng.randint(70, 100),
                     instrument=1, program=33)
    add_drums(seq, tl, drum_pattern(rng, tl, range(bars)), rng)
    # Chord/pad track (electric piano, program 4): sustained triads, entering at bar 2.
    for bar in range(2, bars):
        root = roots[bar % len(roots)] + 24
        for p in (root, root + 4, root + 7):
            add_note(seq, tl, bar * 16, bar * 16 + 16, p, 60, instrument=3, program=4)
    return seq


def trio_gaps():
    rng = np.random.RandomState(9)
    bars = 20
    tl = Timeline([Section(bars)])
    seq = tl.new_sequence()
    # Melody enters at bar 1; bass (program 34) is silent in bars 6-7; drums are silent in
    # bars 9-11. TrioConverter(gap_bars=2) fills these coverage gaps, the 1-bar-gap extractors split.
    for (s, e, p, v) in random_melody(rng, 16, tl.total_steps, root=72, rest_prob=0.1,
                                      durations=(1, 2, 2, 4, 4, 6)):
        add_note(seq, tl, s, e, p, v, instrument=0, program=0)
    for bar in [b for b in range(bars) if b not in (6, 7)]:
        root = 36 + C_MAJOR[(bar * 3) % 7]
        for s in (0, 6, 8, 14):
            add_note(seq, tl, bar * 16 + s, bar * 16 + s + 2, root + (7 if s == 8 else 0),
                     rng.randint(70, 100), instrument=1, program=34)
    drum_bars = [b for b in range(bars) if b not in (9, 10, 11)]
    add_drums(seq, tl, drum_pattern(rng, tl, drum_bars), rng)
    return seq


def melody_with_rests():
    rng = np.random.RandomState(7)
    tl = Timeline([Section(14)])
    seq = tl.new_sequence()
    # (first bar, last bar) of each phrase; gaps: 1.5 bars, exactly 1 bar, 0.75 bar, 2.25 bars.
    phrases = [(0, 32), (56, 88), (104, 136), (148, 176), (212, 224)]
    for a, b in phrases:
        for n in random_melody(rng, a, b, rest_prob=0.0, durations=(2, 4)):
            add_note(seq, tl, *n)
    return seq


def six_eight():
    rng = np.random.RandomState(8)
    tl = Timeline([Section(4, 120, 6, 8)])
    seq = tl.new_sequence()
    for n in random_melody(rng, 0, tl.total_steps, rest_prob=0.05, durations=(2, 4, 6)):
        add_note(seq, tl, *n)
    return seq


FIXTURES = {
    "mono_melody": mono_melody,
    "poly_piano": poly_piano,
    "out_of_range": out_of_range,
    "tempo_timesig_change": tempo_timesig_change,
    "drums_only": drums_only,
    "song_trio": song_trio,
    "trio_gaps": trio_gaps,
    "melody_with_rests": melody_with_rests,
    "six_eight": six_eight,
}


def main(out_dir: str = DEFAULT_OUT) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name, build in FIXTURES.items():
        seq = build()
        path = os.path.join(out_dir, name + ".mid")
        note_seq.sequence_proto_to_midi_file(seq, path)
        print(f"{path}: {len(seq.notes)} notes, {seq.total_time:.2f} s, "
              f"{os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
