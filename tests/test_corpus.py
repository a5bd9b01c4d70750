"""Training data for the default model: corpus lines read as a user's MIDI reads, cut as a user's
song is cut, O'Neill's collection held out."""

from __future__ import annotations

import numpy as np
import pytest

music21 = pytest.importorskip("music21")

from midime_widgets.training import corpus, metrics  # noqa: E402
from midime_widgets.training.default_model import DEFAULT_CONFIG  # noqa: E402


def _jig_part(pickup: bool = True):
    """Two-and-a-bit bars of 6/8 with a one-eighth pickup, a chord and a chord symbol."""
    from music21 import chord, harmony, meter, note, stream

    part = stream.Part()
    first = stream.Measure(number=0)
    first.append(meter.TimeSignature("6/8"))
    if pickup:
        first.append(note.Note("D4", quarterLength=0.5))
        first.paddingLeft = 2.5
    part.append(first)
    for number in (1, 2, 3):
        bar = stream.Measure(number=number)
        bar.append(harmony.ChordSymbol("G"))
        bar.append(chord.Chord(["G3", "B4"], quarterLength=1.5))
        bar.append(note.Note("A4", quarterLength=0.5))
        bar.append(note.Note("B4", quarterLength=0.5))
        bar.append(note.Note("G4", quarterLength=0.5))
        part.append(bar)
    return part


def test_a_part_reads_as_its_midi_file_would():
    seq = corpus.part_to_sequence(_jig_part())
    assert [(ts.numerator, ts.denominator) for ts in seq.time_signatures] == [(6, 8)]
    # the pickup starts at time 0, as in a MIDI file; chords give their top note; no chord symbols
    assert seq.notes[0].start_time == 0.0 and seq.notes[0].pitch == 62
    assert seq.notes[1].pitch == 71  # B4, the top of the G3-B4 chord
    assert len(seq.notes) == 1 + 3 * 4


def test_lines_are_cut_as_a_users_song_is():
    from midime_widgets.music.windows import cut_song
    from midime_widgets.personalize import prepare_song

    seq = corpus.part_to_sequence(_jig_part())
    model = corpus._ModelShape(DEFAULT_CONFIG)
    rows, metres = corpus.line_windows(model, seq)
    song = prepare_song(model, seq, name="jig")
    expected = cut_song(model.converter, seq, max_steps=DEFAULT_CONFIG.max_seq_len)
    assert len(rows) == len(song.windows) == len(expected.windows) > 0
    assert set(metres) == {"6/8"}
    for row, window in zip(rows, expected.windows):
        np.testing.assert_array_equal(row, np.argmax(window.outputs, axis=-1))


def test_a_line_with_no_window_gives_none():
    from note_seq.protobuf.music_pb2 import NoteSequence

    seq = NoteSequence(ticks_per_quarter=220)
    seq.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=0.1)
    seq.total_time = 0.1
    rows, metres = corpus.line_windows(corpus._ModelShape(DEFAULT_CONFIG), seq)
    assert rows.shape[0] in (0, 1) and len(metres) == rows.shape[0]


def test_oneills_collection_is_never_read():
    assert corpus.HELD_OUT not in corpus.COLLECTIONS
    files = corpus.corpus_files()
    assert files, "music21's corpus is installed with the test extra"
    assert not [f for f in files if corpus.collection_of(f) == corpus.HELD_OUT]
    assert {corpus.collection_of(f) for f in files} >= {"essenFolksong", "ryansMammoth", "bach", "palestrina"}


def test_the_split_is_by_tune_and_drops_shared_windows():
    windows = np.array([[1] * 4, [2] * 4, [1] * 4, [3] * 4], np.uint8)
    tunes = ["a#0", "a#0", "b#0", "b#0"]
    val_tune = next(t for t in ("a#0", "b#0") if corpus.is_validation(t, 0, 0.5))
    train_idx, val_idx = corpus.split_and_dedupe(windows, tunes, seed=0, val_fraction=0.5)
    assert not {tunes[i] for i in train_idx} & {tunes[i] for i in val_idx}
    assert all(tunes[i] == val_tune for i in val_idx)
    train_rows = {windows[i].tobytes() for i in train_idx}
    assert not [i for i in val_idx if windows[i].tobytes() in train_rows]


def test_parse_cache_round_trips(tmp_path, monkeypatch):
    path = next(f for f in corpus.corpus_files() if f.name == "bwv1.6.mxl")
    calls = []
    original = music21.corpus.parse
    monkeypatch.setattr(music21.corpus, "parse", lambda *a, **k: calls.append(a) or original(*a, **k))
    first = corpus.parse_file(path, tmp_path)
    again = corpus.parse_file(path, tmp_path)
    assert len(calls) == 1 and first == again
    assert len(first) >= 4 and {tune for tune, _ in first} == {"bach/bwv1.6.mxl#0"}  # every voice, one tune


def test_transposed_pitch_class_histogram_spreads_a_single_key():
    c_only = np.array([[2 + 39, 0, 2 + 39, 0]])  # C4 twice
    plain = metrics.pitch_class_histogram(c_only)
    spread = metrics.pitch_class_histogram(c_only, transpose=5)
    assert plain[0] == 1.0
    assert spread.sum() == pytest.approx(1.0)
    assert spread.max() == pytest.approx(1 / 11) and np.count_nonzero(spread) == 11
