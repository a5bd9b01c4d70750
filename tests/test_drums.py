"""Drum-track extraction and the drum converter's encodings."""

from __future__ import annotations

import numpy as np
import pytest

from midime_widgets import MidiError
from midime_widgets.music import DrumsConverter, load_midi
from midime_widgets.music.drums import (
    DRUM_EXEMPLAR_PITCHES,
    DRUM_PITCH_TO_CLASS,
    extract_drum_tracks,
    map_drums_to_classes,
)
from midime_widgets.music.quantize import quantize

import note_seq

KICK, SNARE, CLOSED_HH, OPEN_HH, CRASH = 36, 38, 42, 46, 49


def drum_seq(hits, qpm=120.0, instrument=9):
    """hits: list of (pitch, step) at 16th-note steps."""
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=qpm)
    step = 60.0 / qpm / 4
    for pitch, s in hits:
        seq.notes.add(pitch=pitch, velocity=100, start_time=s * step, end_time=(s + 1) * step,
                      is_drum=True, instrument=instrument)
    seq.total_time = max(n.end_time for n in seq.notes)
    return seq


def test_reduced_classes_are_the_nine_magenta_classes():
    assert 20 not in DRUM_PITCH_TO_CLASS and 90 not in DRUM_PITCH_TO_CLASS
    assert len(DRUM_EXEMPLAR_PITCHES) == 9
    assert DRUM_EXEMPLAR_PITCHES == [36, 38, 42, 46, 45, 48, 50, 49, 51]
    assert DRUM_PITCH_TO_CLASS[35] == 0 and DRUM_PITCH_TO_CLASS[40] == 1  # alt kick, e-snare


def test_map_drums_drops_unknown_and_non_drum_notes():
    q = quantize(drum_seq([(KICK, 0), (SNARE, 4), (90, 8)]))  # 90 is in no drum class
    q.notes.add(pitch=60, velocity=90, quantized_start_step=0, quantized_end_step=2)  # not drum
    map_drums_to_classes(q)
    assert sorted(n.pitch for n in q.notes) == [0, 1]


def test_extract_drum_tracks_splits_on_a_bar_of_silence():
    hits = [(KICK, s) for s in range(0, 32, 4)] + [(SNARE, s) for s in range(64, 80, 4)]
    q = quantize(drum_seq(hits))
    tracks = extract_drum_tracks(q, min_bars=1, pad_end=True)
    assert [(t.start_step, t.end_step) for t in tracks] == [(0, 32), (64, 80)]
    assert tracks[0][0] == frozenset([KICK]) and tracks[0][1] == frozenset()
    assert extract_drum_tracks(q, min_bars=2, pad_end=True)[0].end_step == 32


def test_roll_input_and_one_hot_output():
    hits = [(KICK, 0), (CLOSED_HH, 0), (SNARE, 4), (OPEN_HH, 8), (CRASH, 8), (KICK, 8)]
    conv = DrumsConverter(slice_bars=2)
    t = conv.to_tensors(drum_seq(hits + [(CLOSED_HH, s) for s in range(12, 32, 4)]))
    assert (conv.input_depth, conv.output_depth) == (10, 512)
    (inputs,), (outputs,) = t.inputs, t.outputs
    assert inputs.shape == (32, 10) and outputs.shape == (32, 512)
    assert inputs.dtype == np.float32 and outputs.dtype == np.float32
    # step 0: kick (class 0) + closed hat (class 2) -> bits 0 and 2 -> label 1 + 4 = 5
    assert np.flatnonzero(inputs[0]).tolist() == [0, 2] and outputs[0].argmax() == 5
    assert np.flatnonzero(inputs[4]).tolist() == [1] and outputs[4].argmax() == 2
    # step 8: kick + open hat (3) + crash (7) -> 1 + 8 + 128
    assert outputs[8].argmax() == 137
    # silent steps: only the NOR bit, label 0
    assert inputs[1].tolist() == [0] * 9 + [1] and outputs[1].argmax() == 0
    assert np.all(outputs.sum(axis=1) == 1)
    assert np.array_equal(inputs[:, 9], (inputs[:, :9].sum(axis=1) == 0).astype(np.float32))


def test_from_tensors_uses_exemplar_pitches_on_channel_10():
    conv = DrumsConverter(slice_bars=2)
    labels = np.zeros(32, int)
    labels[0] = 1 + 2  # kick + snare
    labels[2] = 2 ** 8  # ride
    (seq,) = conv.from_tensors([np.eye(512, dtype=np.float32)[labels]])
    got = sorted((round(n.start_time, 4), n.pitch) for n in seq.notes)
    assert got == [(0.0, 36), (0.0, 38), (0.25, 51)]
    assert all(n.is_drum and n.instrument == 9 and n.velocity == 80 for n in seq.notes)


def test_fixture_drums_windows_and_round_trip():
    seq = load_midi(__import__("pathlib").Path(__file__).parent / "fixtures/midi/drums_only.mid")
    conv = DrumsConverter(slice_bars=2)
    windows = conv.windows(seq)
    assert len(windows) == 3 and [w.start_time for w in windows] == [0.0, 2.0, 4.0]
    for w in windows:
        again = conv.to_tensors(w.sequence)
        assert len(again.outputs) == 1
        assert np.array_equal(again.outputs[0], w.outputs)
        assert np.array_equal(again.inputs[0], w.inputs)


def test_no_drums_is_a_clear_error_for_windows():
    seq = note_seq.NoteSequence()
    seq.notes.add(pitch=60, velocity=90, start_time=0, end_time=8)
    seq.total_time = 8
    conv = DrumsConverter(slice_bars=2)
    assert conv.to_tensors(seq).inputs == []
    with pytest.raises(MidiError, match="no drum part"):
        conv.windows(seq)
    with pytest.raises(MidiError, match="none of the 9 drums"):
        conv.windows(drum_seq([(90, s) for s in range(0, 64, 4)]))
