"""Melody extraction (magenta semantics) and choosing the melody of a multi-instrument song.

`extract_melodies` reproduces magenta's `melody_pipelines.extract_melodies` on top of note_seq's
`Melody.from_quantized_sequence`. `find_melody` / `prepare_melody` are ours: they pick the most
melodic instrument of a song, explain the choice, and turn it into a monophonic in-range line.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import warnings
from typing import NamedTuple

import note_seq
import numpy as np
from note_seq.protobuf import music_pb2

from ..errors import MidiError
from .midi_io import MidiWarning
from .quantize import DEFAULT_QPM, fit_length, next_search_start, steps_per_bar_of

NoteSequence = music_pb2.NoteSequence

#: Pitch range of the melody models (88 piano keys): MIDI 21 (A0) .. 108 (C8).
MIN_PITCH = 21
MAX_PITCH = 108


def extract_melodies(qseq: NoteSequence, **options) -> list[note_seq.Melody]:
    """Monophonic melodies of every instrument in a quantized sequence (magenta semantics).

    Options are those of `extract_melodies_by_instrument`; this drops the instrument numbers.
    """
    return [melody for _, melody in extract_melodies_by_instrument(qseq, **options)]


def extract_melodies_by_instrument(
    qseq: NoteSequence,
    *,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: int | None = None,
    max_steps_discard: int | None = None,
    gap_bars: float = 1.0,
    min_unique_pitches: int = 5,
    ignore_polyphonic_notes: bool = True,
    pad_end: bool = False,
    filter_drums: bool = True,
) -> list[tuple[int, note_seq.Melody]]:
    """Monophonic melodies of every instrument, each with the instrument number it came from.

    Each instrument is scanned from `search_start_step`; a melody ends after `gap_bars` bars of
    silence and the next one is searched from the following bar boundary. Melodies shorter than
    `min_bars`, with fewer than `min_unique_pitches` pitch classes, or (if set) longer than
    `max_steps_discard` are dropped; longer than `max_steps_truncate` are cut. When notes start
    together the highest one is kept (`ignore_polyphonic_notes`), otherwise the instrument is
    skipped.
    """
    steps_per_bar = steps_per_bar_of(qseq)
    melodies = []
    # magenta iterates a `set` of instrument numbers; for small ints that is ascending order.
    for instrument in sorted({n.instrument for n in qseq.notes}):
        start = search_start_step
        while True:
            melody = note_seq.Melody()
            try:
                melody.from_quantized_sequence(
                    qseq,
                    instrument=instrument,
                    search_start_step=start,
                    gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore_polyphonic_notes,
                    pad_end=pad_end,
                    filter_drums=filter_drums,
                )
            except note_seq.PolyphonicMelodyError:
                break  # this instrument is polyphonic and polyphony is not allowed
            start = next_search_start(melody.end_step, search_start_step, steps_per_bar)
            if not melody:
                break
            if not fit_length(melody, min_bars=min_bars, max_steps_discard=max_steps_discard,
                              max_steps_truncate=max_steps_truncate, pad_end=pad_end):
                continue
            if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
                continue
            melodies.append((instrument, melody))
    return melodies


# --------------------------------------------------------------------------------------------
# Choosing the melody of a multi-instrument song
# --------------------------------------------------------------------------------------------

#: Words in a track name that suggest it carries the tune.
MELODY_NAME_HINTS = ("melody", "melodie", "lead", "vocal", "voice", "vox", "solo", "tune",
                     "theme", "sing", "right hand", "rh")
#: Words that suggest accompaniment.
ACCOMPANIMENT_NAME_HINTS = ("bass", "chord", "pad", "comp", "accomp", "rhythm", "strings",
                            "left hand", "lh", "arp", "drum", "perc")


@dataclasses.dataclass(frozen=True)
class MelodyCandidate:
    """Statistics of one non-drum instrument and its melody score (higher = more melodic)."""

    instrument: int
    program: int
    name: str
    note_count: int
    distinct_pitches: int
    min_pitch: int
    max_pitch: int
    mean_pitch: float
    monophony: float  # share of notes that start alone and do not overlap the previous note
    score: float

    def describe(self) -> str:
        return (f"{self.note_count} notes, {self.distinct_pitches} distinct pitches, "
                f"mean pitch {_pitch_name(round(self.mean_pitch))}, "
                f"{self.monophony:.0%} single notes")


@dataclasses.dataclass(frozen=True)
class MelodyChoice:
    """Which instrument `find_melody` picked, why, and every candidate ranked best first."""

    instrument: int
    program: int
    name: str
    reason: str
    candidates: tuple[MelodyCandidate, ...]


class PreparedMelody(NamedTuple):
    """A monophonic, in-range, single-instrument melody ready for the melody models."""

    sequence: NoteSequence
    warnings: list[str]
    choice: MelodyChoice


def _pitch_name(pitch: int) -> str:
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def program_name(program: int) -> str:
    """General MIDI instrument name for a program number (0-127)."""
    import pretty_midi

    try:
        return pretty_midi.program_to_instrument_name(int(program))
    except ValueError:
        return f"program {program}"


def instrument_names(seq: NoteSequence) -> dict[int, str]:
    """Track names stored in the MIDI file, by instrument number."""
    return {info.instrument: info.name for info in seq.instrument_infos if info.name}


def _monophony(notes) -> float:
    """Share of notes that neither start with another note nor overlap the previous one much."""
    notes = sorted(notes, key=lambda n: (n.start_time, -n.pitch))
    if len(notes) < 2:
        return 1.0
    alone = 0
    latest_end = -1.0
    prev_start = None
    for i, n in enumerate(notes):
        same_start = prev_start is not None and abs(n.start_time - prev_start) < 1e-3
        nxt = notes[i + 1] if i + 1 < len(notes) else None
        starts_with_next = nxt is not None and abs(nxt.start_time - n.start_time) < 1e-3
        # legato overlaps shorter than half the note are still a melody
        overlapped = latest_end - n.start_time > 0.5 * max(n.end_time - n.start_time, 1e-3)
        if not (same_start or starts_with_next or overlapped):
            alone += 1
        latest_end = max(latest_end, n.end_time)
        prev_start = n.start_time
    return alone / len(notes)


def _family_bonus(program: int) -> float:
    """Prior from the General MIDI family: solo/lead instruments up, bass/pads/ensembles down."""
    if 32 <= program <= 39:  # bass
        return -2.0
    if 80 <= program <= 87 or 64 <= program <= 79 or 56 <= program <= 63 or program in (40, 41,
                                                                                         52, 53,
                                                                                         54):
        return 0.5  # synth lead, reed, pipe, brass, violin/viola, voice
    if 88 <= program <= 103 or 48 <= program <= 51 or program in (42, 43, 44):
        return -0.5  # pads, effects, string ensembles, cello/contrabass
    if program >= 112:  # percussive / sound effects
        return -1.0
    return 0.0


def _name_bonus(name: str) -> float:
    lowered = name.lower()
    words = set(lowered.replace("-", " ").replace("_", " ").split())
    if any((h in words) if len(h) <= 3 else (h in lowered) for h in MELODY_NAME_HINTS):
        return 1.5
    if any((h in words) if len(h) <= 3 else (h in lowered) for h in ACCOMPANIMENT_NAME_HINTS):
        return -1.0
    return 0.0


def _score(mono: float, mean_pitch: float, distinct: int, count: int, program: int,
           name: str) -> float:
    """The heuristic (documented in `find_melody`)."""
    height = float(np.clip((mean_pitch - 48) / 24, 0.0, 1.0))  # C3 -> 0, C5 and up -> 1
    variety = min(distinct / 8, 1.0)
    amount = min(np.log1p(count) / np.log1p(64), 1.0)
    return 3.0 * mono + 2.0 * height + variety + amount + _family_bonus(program) + _name_bonus(name)


def melody_candidates(seq: NoteSequence) -> list[MelodyCandidate]:
    """Every non-drum instrument with notes, ranked by melody score (best first)."""
    names = instrument_names(seq)
    by_instrument = collections.defaultdict(list)
    for n in seq.notes:
        if not n.is_drum and n.velocity > 0:
            by_instrument[n.instrument].append(n)
    candidates = []
    for instrument, notes in by_instrument.items():
        pitches = [n.pitch for n in notes]
        program = collections.Counter(n.program for n in notes).most_common(1)[0][0]
        name = names.get(instrument) or program_name(program)
        mono = _monophony(notes)
        mean = float(np.mean(pitches))
        distinct = len(set(pitches))
        candidates.append(MelodyCandidate(
            instrument=instrument, program=program, name=name, note_count=len(notes),
            distinct_pitches=distinct, min_pitch=min(pitches), max_pitch=max(pitches),
            mean_pitch=mean, monophony=mono,
            score=round(_score(mono, mean, distinct, len(notes), program, name), 4),
        ))
    candidates.sort(key=lambda c: (-c.score, -c.note_count, c.instrument))
    return candidates


def _no_melody_error(seq: NoteSequence) -> MidiError:
    if any(n.is_drum for n in seq.notes):
        return MidiError("This song contains only drums; a melody model needs a melodic "
                         "instrument (piano, guitar, voice, ...). Try a drum model instead.")
    return MidiError("This song has no notes to take a melody from.")


def find_melody(seq: NoteSequence) -> MelodyChoice:
    """Pick the most melodic non-drum instrument and say why.

    Heuristic score per instrument: 3 x monophony (share of notes played alone) + 2 x pitch
    height (mean pitch from C3 = 0 to C5 = 1) + pitch variety (distinct pitches / 8, at most 1)
    + amount (log note count, full at 64 notes) + General MIDI family prior (bass -2, pads and
    ensembles -0.5, lead/solo instruments +0.5) + track-name hint ("melody", "lead", "vocal" ...
    +1.5; "bass", "chords", "pad" ... -1). Raises MidiError for drums-only songs.
    """
    candidates = melody_candidates(seq)
    if not candidates:
        raise _no_melody_error(seq)
    best = candidates[0]
    reason = f"'{best.name}' (program {best.program}, {program_name(best.program)}) "
    if len(candidates) == 1:
        reason += f"is the only melodic instrument: {best.describe()}."
    else:
        runner = candidates[1]
        reason += (f"looks most like a melody: {best.describe()}; next best is "
                   f"'{runner.name}' ({runner.describe()}).")
    return MelodyChoice(best.instrument, best.program, best.name, reason, tuple(candidates))


def _choose(seq: NoteSequence, instrument: int | None) -> MelodyChoice:
    if instrument is None:
        return find_melody(seq)
    candidates = melody_candidates(seq)
    for c in candidates:
        if c.instrument == instrument:
            return MelodyChoice(c.instrument, c.program, c.name,
                                f"'{c.name}' was chosen by you: {c.describe()}.",
                                tuple(candidates))
    if not candidates:
        raise _no_melody_error(seq)
    available = ", ".join(f"{c.instrument} ('{c.name}')" for c in candidates)
    raise MidiError(f"There is no melodic instrument number {instrument} in this song; "
                    f"choose one of: {available}.")


def _fold_into_range(pitch: int, lo: int, hi: int) -> int:
    while pitch < lo:
        pitch += 12
    while pitch > hi:
        pitch -= 12
    return pitch


def _step_at(seq: NoteSequence, time: float) -> float:
    """Length of a 16th note (seconds) at `time`, from the tempo in force then."""
    qpm = DEFAULT_QPM
    for t in sorted(seq.tempos, key=lambda t: t.time):
        if t.time <= time + 1e-9:
            qpm = t.qpm
    return 60.0 / (qpm * 4)


def _skyline(seq: NoteSequence, notes) -> tuple[list, int]:
    """Keep the highest of notes starting together; cut notes where the next one starts.

    Returns (monophonic notes, how many notes were dropped or cut because of polyphony). Notes
    starting within half a 16th note of each other count as together, as quantization would
    merge them anyway.
    """
    notes = sorted(notes, key=lambda n: (n.start_time, -n.pitch))
    kept: list = []
    changed = 0
    for n in notes:
        if kept:
            prev = kept[-1]
            tolerance = _step_at(seq, n.start_time) / 2
            if n.start_time - prev.start_time < tolerance:
                if n.end_time > prev.end_time and n.pitch == prev.pitch:
                    prev.end_time = n.end_time
                changed += 1  # a lower note of a chord
                continue
            if prev.end_time > n.start_time:
                if prev.end_time - n.start_time > tolerance:
                    changed += 1  # a second voice still sounding, not just legato
                prev.end_time = n.start_time
        kept.append(n)
    return kept, changed


def prepare_melody(seq: NoteSequence, instrument: int | None = None, *,
                   min_pitch: int = MIN_PITCH, max_pitch: int = MAX_PITCH) -> PreparedMelody:
    """A single monophonic melody line for the melody models, plus what was changed.

    Takes `instrument` (default: `find_melody`'s choice), keeps the highest note where notes
    overlap, folds pitches outside `min_pitch..max_pitch` by octaves into range, and moves the
    notes to instrument 0, program 0 (piano) so every melody model reads them. Each change is
    reported by `warnings.warn(..., MidiWarning)` and in the returned `warnings` list.
    """
    choice = _choose(seq, instrument)
    notes = [copy.deepcopy(n) for n in seq.notes
             if n.instrument == choice.instrument and not n.is_drum and n.velocity > 0]
    messages = []

    moved = 0
    for n in notes:
        folded = _fold_into_range(n.pitch, min_pitch, max_pitch)
        if folded != n.pitch:
            n.pitch = folded
            moved += 1
    if moved:
        messages.append(f"{moved} note(s) of '{choice.name}' were outside the model's range "
                        f"({_pitch_name(min_pitch)}-{_pitch_name(max_pitch)}) and were moved by "
                        "octaves into it.")

    notes, changed = _skyline(seq, notes)
    if changed:
        messages.append(f"'{choice.name}' plays several notes at once ({changed} note(s) "
                        "affected); only the highest note is kept, because the model plays one "
                        "note at a time.")

    out = copy.deepcopy(seq)
    del out.notes[:]
    for n in notes:
        n.instrument, n.program = 0, 0
    out.notes.extend(notes)
    del out.instrument_infos[:]
    info = out.instrument_infos.add()
    info.instrument, info.name = 0, choice.name
    out.total_time = max((n.end_time for n in notes), default=0.0)
    for message in messages:
        warnings.warn(message, MidiWarning, stacklevel=2)
    return PreparedMelody(out, messages, choice)
