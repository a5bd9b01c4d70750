"""Melody extraction (magenta semantics) and melody finding / preparation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from midime_widgets import MidiError
from midime_widgets.music import (
    MelodyConverter,
    MidiWarning,
    find_melody,
    load_midi,
    prepare_melody,
    to_midi_bytes,
)
from midime_widgets.music.melody import extract_melodies, extract_melodies_by_instrument
from midime_widgets.music.quantize import quantize

import note_seq

NO_EVENT, NOTE_OFF = -2, -1


def make_seq(parts, qpm=120.0):
    """parts: list of dicts(instrument, program, notes=[(pitch, start_step, end_step)], ...).

    Steps are 16th notes at `qpm`.
    """
    seq = note_seq.NoteSequence(ticks_per_quarter=220)
    seq.tempos.add(qpm=qpm, time=0)
    seq.time_signatures.add(numerator=4, denominator=4, time=0)
    step = 60.0 / qpm / 4
    for part in parts:
        if part.get("name"):
            seq.instrument_infos.add(instrument=part["instrument"], name=part["name"])
        for pitch, start, end in part["notes"]:
            seq.notes.add(pitch=pitch, velocity=part.get("velocity", 90), start_time=start * step,
                          end_time=end * step, instrument=part["instrument"],
                          program=part.get("program", 0), is_drum=part.get("is_drum", False))
    seq.total_time = max((n.end_time for n in seq.notes), default=0.0)
    return seq


def quarter_notes(pitches, start=0, length=4):
    return [(p, start + i * length, start + (i + 1) * length) for i, p in enumerate(pitches)]


# -- extract_melodies (magenta semantics) ------------------------------------------------------

def test_melody_events_and_padding_to_bar():
    q = quantize(make_seq([{"instrument": 0, "notes": [(60, 0, 2), (62, 4, 8)]}]))
    (melody,) = extract_melodies(q, min_bars=1, min_unique_pitches=1, pad_end=True)
    assert list(melody)[:9] == [60, NO_EVENT, NOTE_OFF, NO_EVENT, 62, NO_EVENT, NO_EVENT,
                                NO_EVENT, NOTE_OFF]
    assert len(melody) == 16 and melody.start_step == 0  # padded to one full bar


def test_silence_of_a_bar_splits_melodies():
    notes = quarter_notes([60, 62, 64, 65]) + quarter_notes([67, 69], start=48)
    q = quantize(make_seq([{"instrument": 0, "notes": notes}]))
    melodies = extract_melodies(q, min_bars=1, min_unique_pitches=1, pad_end=True)
    assert [(m.start_step, m.end_step) for m in melodies] == [(0, 16), (48, 64)]


def test_min_bars_and_unique_pitches_filters():
    q = quantize(make_seq([{"instrument": 0, "notes": quarter_notes([60, 60, 60, 60])}]))
    assert extract_melodies(q, min_bars=2, min_unique_pitches=1, pad_end=True) == []
    assert extract_melodies(q, min_bars=1, min_unique_pitches=2, pad_end=True) == []
    assert len(extract_melodies(q, min_bars=1, min_unique_pitches=1, pad_end=True)) == 1


def test_chords_keep_highest_note_or_skip_track():
    chords = [(60, 0, 4), (64, 0, 4), (67, 0, 4), (59, 4, 8), (62, 4, 8)]
    q = quantize(make_seq([{"instrument": 0, "notes": chords}]))
    (melody,) = extract_melodies(q, min_bars=1, min_unique_pitches=1, pad_end=True)
    assert [e for e in melody if e >= 0] == [67, 62]
    assert extract_melodies(q, min_bars=1, min_unique_pitches=1,
                            ignore_polyphonic_notes=False) == []


def test_truncation_and_instruments():
    long_line = quarter_notes([60 + (i % 12) for i in range(40)])  # 10 bars
    q = quantize(make_seq([{"instrument": 3, "notes": long_line},
                           {"instrument": 9, "is_drum": True, "notes": [(36, 0, 1)]}]))
    found = extract_melodies_by_instrument(q, min_bars=1, min_unique_pitches=1,
                                           max_steps_truncate=40, pad_end=True)
    assert [(inst, len(m)) for inst, m in found] == [(3, 32)]  # 40 -> bar boundary 32; no drums


# -- find_melody -------------------------------------------------------------------------------

def band(name_melody=None, melody_program=73):
    """A 4-bar band: sustained chords, bass line, a lead melody and drums."""
    melody = quarter_notes([72, 74, 76, 79, 77, 76, 74, 72, 71, 72, 74, 76, 79, 81, 79, 77])
    chords = []
    for bar, root in enumerate([60, 57, 53, 55]):
        chords += [(root, bar * 16, bar * 16 + 16), (root + 4, bar * 16, bar * 16 + 16),
                   (root + 7, bar * 16, bar * 16 + 16)]
    bass = quarter_notes([36, 36, 43, 43, 33, 33, 40, 40, 41, 41, 36, 36, 43, 43, 38, 38])
    drums = [(36, s, s + 1) for s in range(0, 64, 8)] + [(42, s, s + 1) for s in range(0, 64, 2)]
    return make_seq([
        {"instrument": 0, "program": 48, "name": "Strings", "notes": chords},
        {"instrument": 1, "program": 33, "name": "Bass", "notes": bass},
        {"instrument": 2, "program": melody_program, "name": name_melody, "notes": melody},
        {"instrument": 3, "program": 0, "is_drum": True, "name": "Drums", "notes": drums},
    ])


def test_find_melody_picks_the_lead_in_a_real_multitrack_file():
    seq = load_midi(to_midi_bytes(band()))  # a real MIDI file with 4 tracks
    choice = find_melody(seq)
    lead = [c for c in choice.candidates if c.program == 73][0]
    assert choice.instrument == lead.instrument
    assert choice.program == 73
    assert "looks most like a melody" in choice.reason and "single notes" in choice.reason
    ranked = [c.program for c in choice.candidates]
    assert ranked[0] == 73 and 33 in ranked and 48 in ranked
    assert all(c.name != "Drums" for c in choice.candidates)  # drums never candidates
    scores = [c.score for c in choice.candidates]
    assert scores == sorted(scores, reverse=True)


def test_find_melody_prefers_the_piano_melody_over_piano_chords():
    seq = band(melody_program=0)
    for n in seq.notes:
        if n.instrument == 0:
            n.program = 0  # chords on piano too: only the musical features differ
    assert find_melody(seq).instrument == 2


def test_drums_only_is_a_clear_error():
    seq = make_seq([{"instrument": 9, "is_drum": True, "notes": [(36, 0, 1), (38, 4, 5)]}])
    with pytest.raises(MidiError, match="only drums"):
        find_melody(seq)
    with pytest.raises(MidiError, match="only drums"):
        prepare_melody(seq)


# -- prepare_melody ----------------------------------------------------------------------------

def test_prepare_uses_choice_and_allows_override():
    seq = band()
    prepared = prepare_melody(seq)
    assert prepared.choice.program == 73 and prepared.warnings == []
    assert [n.pitch for n in prepared.sequence.notes][:4] == [72, 74, 76, 79]
    assert {(n.instrument, n.program) for n in prepared.sequence.notes} == {(0, 0)}

    with pytest.warns(MidiWarning):  # the chords are polyphonic
        override = prepare_melody(seq, instrument=0)
    assert override.choice.instrument == 0 and "chosen by you" in override.choice.reason
    with pytest.raises(MidiError, match="choose one of"):
        prepare_melody(seq, instrument=3)  # the drums


def _is_monophonic(seq):
    notes = sorted(seq.notes, key=lambda n: n.start_time)
    return all(a.end_time <= b.start_time + 1e-9 for a, b in zip(notes, notes[1:]))


def test_polyphony_reduced_to_highest_note_with_warning():
    chords = []
    for bar, root in enumerate([60, 57, 53, 55]):
        for beat in range(4):
            s = bar * 16 + beat * 4
            chords += [(root, s, s + 4), (root + 4, s, s + 4), (root + 7 + beat, s, s + 4)]
    seq = make_seq([{"instrument": 0, "notes": chords}])
    with pytest.warns(MidiWarning, match="several notes at once"):
        prepared = prepare_melody(seq)
    assert len(prepared.warnings) == 1 and "highest note" in prepared.warnings[0]
    top = [root + 7 + beat for root in [60, 57, 53, 55] for beat in range(4)]
    assert [n.pitch for n in prepared.sequence.notes] == top
    assert _is_monophonic(prepared.sequence)


def test_overlapping_voices_are_cut_to_monophony():
    # A held low note under a moving upper line: a second voice, not legato.
    notes = [(48, 0, 32)] + quarter_notes([67, 69, 71, 72, 74, 76, 77, 79], start=2)
    with pytest.warns(MidiWarning):
        prepared = prepare_melody(make_seq([{"instrument": 0, "notes": notes}]))
    assert _is_monophonic(prepared.sequence)
    assert prepared.sequence.notes[0].pitch == 48
    assert prepared.sequence.notes[0].end_time == pytest.approx(prepared.sequence.notes[1].start_time)


def test_legato_overlap_is_not_reported():
    step = 0.125
    notes = [(60 + 2 * i, 4 * i, 4 * i + 4) for i in range(8)]
    seq = make_seq([{"instrument": 0, "notes": notes}])
    for n in seq.notes:
        n.end_time += 0.3 * step  # slight legato overlap
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepared = prepare_melody(seq)
    assert prepared.warnings == [] and _is_monophonic(prepared.sequence)


def test_out_of_range_pitches_are_moved_by_octaves_with_warning():
    pitches = [12, 15, 60, 62, 110, 127, 64, 20]
    seq = make_seq([{"instrument": 0, "notes": quarter_notes(pitches)}])
    with pytest.warns(MidiWarning, match="outside the model's range"):
        prepared = prepare_melody(seq)
    got = [n.pitch for n in prepared.sequence.notes]
    assert all(21 <= p <= 108 for p in got)
    assert [p % 12 for p in got] == [p % 12 for p in pitches]  # same notes, other octaves
    assert got == [24, 27, 60, 62, 98, 103, 64, 32]
    assert "5 note(s)" in prepared.warnings[0]


def test_prepared_fixture_melody_feeds_the_melody_converter():
    seq = load_midi(__import__("pathlib").Path(__file__).parent / "fixtures/midi/out_of_range.mid")
    with pytest.warns(MidiWarning):
        prepared = prepare_melody(seq, instrument=0)
    conv = MelodyConverter(2, valid_programs=range(0, 32))
    windows = conv.windows(prepared.sequence)
    # all 20 notes of the piano part survive (6 were out of range): 4 bars -> 3 windows
    assert len(prepared.sequence.notes) == 20 and len(windows) == 3
    assert all(np.all(w.outputs.sum(axis=1) == 1) for w in windows)


def test_grace_notes_give_way_to_the_notes_they_decorate():
    """A grace note written with its main note, and a quick run into a long note (as music21
    writes ornaments: notes far shorter than a 16th): the long notes are the melody."""
    step = 0.125  # a 16th at 120 qpm
    notes = [(71, 0.0, 0.25 * step), (69, 0.0, 4 * step)]  # grace note on the beat, then the main note
    run = [62, 64, 66, 67, 69, 71, 73, 74, 76]
    notes += [(p, (8 + 0.11 * i) * step, (8.25 + 0.11 * i) * step) for i, p in enumerate(run)]
    notes += [(78, 9 * step, 17 * step), (76, 17 * step, 18 * step)]
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=120)
    for pitch, start, end in notes:
        seq.notes.add(pitch=pitch, start_time=start, end_time=end, velocity=80)
    seq.total_time = 18 * step
    with pytest.warns(MidiWarning, match="ornament"):
        prepared = prepare_melody(seq)
    assert [n.pitch for n in prepared.sequence.notes] == [69, 78, 76]
    assert prepared.sequence.notes[1].end_time == pytest.approx(17 * step)
    assert not any("several notes at once" in w for w in prepared.warnings)
    # quick notes of their own (no long note after them) stay: a fast passage, not ornaments
    fast = note_seq.NoteSequence()
    fast.tempos.add(qpm=120)
    for i, pitch in enumerate([60, 62, 64, 65]):
        fast.notes.add(pitch=pitch, start_time=i * 0.4 * step, end_time=(i + 1) * 0.4 * step, velocity=80)
    with pytest.warns(MidiWarning, match="several notes at once"):  # the grid merges some
        assert len(prepare_melody(fast).sequence.notes) >= 2


def test_the_sixteenth_at_a_time_follows_the_tempo_then():
    from midime_widgets.music.melody import _SixteenthAt

    seq = note_seq.NoteSequence()
    seq.tempos.add(time=2.0, qpm=60.0)
    seq.tempos.add(time=1.0, qpm=90.0)
    seq.tempos.add(time=2.0, qpm=240.0)  # the later of two tempos at one time wins
    sixteenth = _SixteenthAt(seq)
    assert sixteenth(0.5) == pytest.approx(60 / (120 * 4))  # before any tempo: 120
    assert sixteenth(1.0) == pytest.approx(60 / (90 * 4))
    assert sixteenth(2.0) == pytest.approx(60 / (240 * 4))
    assert sixteenth(99.0) == pytest.approx(60 / (240 * 4))
