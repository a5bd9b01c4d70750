"""Converters: shapes, round trips, windows of whole songs, caps and the spec factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from midime_widgets import MidiError
from midime_widgets.music import (
    ConverterTensors,
    DrumsConverter,
    MelodyConverter,
    TrioConverter,
    converter_from_spec,
    load_midi,
)

import note_seq

MIDI_DIR = Path(__file__).parent / "fixtures" / "midi"


@pytest.fixture(scope="module")
def trio_song():
    return load_midi(MIDI_DIR / "song_trio.mid")


def mel_a():
    return MelodyConverter(slice_bars=2, valid_programs=range(0, 32))


CONVERTERS = {
    "MelA": mel_a,
    "MelB": lambda: MelodyConverter(slice_bars=16),
    "Drum": lambda: DrumsConverter(slice_bars=2),
    "Trio": lambda: TrioConverter(slice_bars=16, gap_bars=2),
}


def melody_seq(pitches, qpm=120.0, step_len=4, instrument=0, program=0, start=0):
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    step = 60.0 / qpm / 4
    for i, p in enumerate(pitches):
        s = start + i * step_len
        seq.notes.add(pitch=p, velocity=90, start_time=s * step, end_time=(s + step_len) * step,
                      instrument=instrument, program=program)
    seq.total_time = max(n.end_time for n in seq.notes)
    return seq


# -- shapes and attributes ---------------------------------------------------------------------

@pytest.mark.parametrize("name, depths", [
    ("MelA", (90, 90, [90], 2, 32)), ("MelB", (90, 90, [90], 16, 256)),
    ("Drum", (10, 512, [512], 2, 32)), ("Trio", (692, 692, [90, 90, 512], 16, 256)),
])
def test_depths_and_lengths(name, depths):
    conv = CONVERTERS[name]()
    got = (conv.input_depth, conv.output_depth, conv.output_split_depths, conv.slice_bars,
           conv.max_steps)
    assert got == depths
    assert conv.steps_per_quarter == 4 and conv.name


# -- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CONVERTERS))
@pytest.mark.parametrize("stem", ["song_trio", "tempo_timesig_change", "poly_piano",
                                  "drums_only", "melody_with_rests"])
def test_round_trip_tensors_to_notes_to_tensors(name, stem):
    """from_tensors then to_tensors gives back exactly each extracted window."""
    conv = CONVERTERS[name]()
    tensors = conv.to_tensors(load_midi(MIDI_DIR / f"{stem}.mid"), max_tensors=None)
    for inputs, outputs in zip(tensors.inputs, tensors.outputs):
        (seq,) = conv.from_tensors([outputs])
        again = conv.to_tensors(seq, max_tensors=None)
        assert len(again.outputs) == 1, "a decoded window must encode to exactly one window"
        assert np.array_equal(again.outputs[0], outputs)
        assert np.array_equal(again.inputs[0], inputs)


def test_some_round_trips_are_non_trivial(trio_song):
    counts = {n: len(c().to_tensors(trio_song, max_tensors=None).outputs)
              for n, c in CONVERTERS.items()}
    assert counts == {"MelA": 25, "MelB": 13, "Drum": 6, "Trio": 10}


def test_melody_decoding_follows_magenta():
    conv = mel_a()
    labels = [2 + 60 - 21, 0, 0, 1, 2 + 64 - 21] + [0] * 27
    (seq,) = conv.from_tensors([np.eye(90, dtype=np.float32)[labels]])
    got = [(n.pitch, n.velocity, round(n.start_time, 4), round(n.end_time, 4)) for n in seq.notes]
    assert got == [(60, 80, 0.0, 0.375), (64, 80, 0.5, 4.0)]  # 120 qpm, last note held
    assert seq.tempos[0].qpm == 120


def test_from_tensors_accepts_logits_and_checks_shape():
    conv = mel_a()
    logits = np.random.default_rng(0).normal(size=(32, 90)).astype(np.float32)
    assert len(conv.from_tensors(logits)) == 1  # a single 2-D array is one sample
    with pytest.raises(ValueError, match=r"\[steps, 90\]"):
        conv.from_tensors([np.zeros((32, 91))])


def test_trio_decoding_places_parts():
    conv = TrioConverter()
    out = np.zeros((256, 692), np.float32)
    out[:, 0] = out[:, 90] = out[:, 180] = 1  # all "no event"
    out[0, 0], out[0, 2 + 72 - 21] = 0, 1  # melody C5
    out[0, 90], out[0, 90 + 2 + 36 - 21] = 0, 1  # bass C2
    out[0, 180], out[0, 180 + 1] = 0, 1  # kick
    (seq,) = conv.from_tensors([out])
    parts = sorted((n.instrument, n.program, n.pitch, n.is_drum) for n in seq.notes)
    assert parts == [(0, 0, 72, False), (1, 33, 36, False), (9, 0, 36, True)]


# -- to_tensors semantics ----------------------------------------------------------------------

def test_max_tensors_caps_and_dedupes():
    # the same 1-bar phrase 8 times: every 2-bar window is identical
    seq = melody_seq([60, 62, 64, 65] * 8)
    conv = mel_a()
    assert len(conv.to_tensors(seq, max_tensors=None).outputs) == 1
    assert len(conv.windows(seq)) == 7  # windows keep duplicates
    varied = melody_seq([60 + i for i in range(32)])
    assert len(conv.to_tensors(varied).outputs) == 5  # default cap, as magenta's infer mode
    assert len(conv.to_tensors(varied, max_tensors=None).outputs) == 7
    first = conv.to_tensors(varied, max_tensors=2).outputs
    windows = conv.windows(varied)
    assert [np.array_equal(a, w.outputs) for a, w in zip(first, windows)] == [True, True]
    with pytest.raises(ValueError):
        conv.to_tensors(varied, max_tensors=0)


def test_to_tensors_returns_converter_tensors_of_float32():
    t = mel_a().to_tensors(melody_seq([60 + i for i in range(8)]))
    assert isinstance(t, ConverterTensors)
    assert t.lengths == [32] and t.inputs[0].dtype == np.float32
    assert np.all(t.outputs[0].sum(axis=1) == 1)


def test_program_filter_of_mel_a():
    flute = melody_seq([60 + i for i in range(8)], program=73)
    assert mel_a().to_tensors(flute).outputs == []
    assert len(MelodyConverter(slice_bars=2).to_tensors(flute).outputs) == 1
    assert len(converter_from_spec({"type": "melody", "slice_bars": 2,
                                    "valid_programs": [40, 73, 81]}).to_tensors(flute).outputs) == 1


# -- windows -----------------------------------------------------------------------------------

def test_windows_cover_a_song_in_time_order(trio_song):
    conv = mel_a()
    windows = conv.windows(trio_song)
    starts = [w.start_time for w in windows]
    assert starts == sorted(starts)
    assert len(windows) == conv.count_windows(trio_song) == 36
    for w in windows:
        assert w.end_time - w.start_time == pytest.approx(4.0)  # 2 bars at 120 qpm
        assert w.length == 32 and w.inputs.shape == (32, 90)
        assert len(conv.to_tensors(w.sequence).outputs) == 1
        # the excerpt of the original song holds the window's notes
        excerpt = w.excerpt(trio_song)
        assert excerpt.total_time <= 4.0 + 1e-6
    assert {w.instruments for w in windows} == {(0,), (2,)}  # melody and electric piano


def test_windows_respect_tempo_changes():
    seq = load_midi(MIDI_DIR / "tempo_timesig_change.mid")
    windows = mel_a().windows(seq)
    # 4 bars at 120 qpm (2 s per bar), 2 bars at 100 qpm, 3 bars in 3/4 (skipped), 2 bars 4/4
    assert [w.segment for w in windows] == [0, 0, 0, 1, 3]
    assert [round(w.start_time, 3) for w in windows] == [0.0, 2.0, 4.0, 8.0, round(8.0 + 2 * 2.4 + 3 * 1.8, 3)]
    assert windows[3].end_time - windows[3].start_time == pytest.approx(2 * 2.4)


def test_trio_windows(trio_song):
    windows = TrioConverter().windows(trio_song)
    assert len(windows) == 10
    assert [w.start_step for w in windows] == sorted([16 * i for i in range(5)] * 2)
    assert {w.instruments for w in windows} == {(0, 1, 3), (2, 1, 3)}
    assert all(w.outputs.shape == (256, 692) for w in windows)


def test_too_short_song_is_a_clear_error():
    short = melody_seq([60, 62, 64, 65])  # one bar
    assert mel_a().to_tensors(short).outputs == []
    with pytest.raises(MidiError, match="2 full bars"):
        mel_a().windows(short)
    with pytest.raises(MidiError, match="16 full bars"):
        MelodyConverter(16).windows(melody_seq([60 + i % 7 for i in range(32)]))


def test_three_four_song_is_a_clear_error():
    seq = load_midi(MIDI_DIR / "six_eight.mid")
    with pytest.raises(MidiError, match="beats per bar"):
        mel_a().windows(seq)


def test_drums_only_for_melody_and_missing_trio_parts():
    drums = load_midi(MIDI_DIR / "drums_only.mid")
    with pytest.raises(MidiError, match="only drums"):
        mel_a().windows(drums)
    with pytest.raises(MidiError, match="a bass"):
        TrioConverter().windows(load_midi(MIDI_DIR / "mono_melody.mid"))


# -- spec factory ------------------------------------------------------------------------------

def test_converter_from_spec():
    mel = converter_from_spec({"type": "melody", "slice_bars": 2, "valid_programs": [0, 32]})
    assert isinstance(mel, MelodyConverter) and mel.valid_programs == range(0, 32)
    assert mel.max_steps == 32
    mel4 = converter_from_spec({"type": "melody", "slice_bars": 4})
    assert mel4.max_steps == 64 and mel4.valid_programs is None
    assert len(mel4.to_tensors(melody_seq([60 + i % 12 for i in range(20)])).outputs) == 2
    drums = converter_from_spec({"type": "drums", "slice_bars": 2})
    assert isinstance(drums, DrumsConverter) and drums.input_depth == 10
    trio = converter_from_spec({"type": "trio", "slice_bars": 16, "gap_bars": 2})
    assert isinstance(trio, TrioConverter) and trio.gap_bars == 2
    pair = converter_from_spec({"type": "melody", "valid_programs": {"programs": [5, 40]}})
    assert pair.valid_programs == frozenset({5, 40})
    for conv in (mel, mel4, drums, trio, pair):
        assert converter_from_spec(conv.spec).spec == conv.spec
    with pytest.raises(ValueError, match="start < stop"):
        converter_from_spec({"type": "melody", "valid_programs": [32, 0]})
    with pytest.raises(ValueError, match="Unknown converter type"):
        converter_from_spec({"type": "groove"})
    with pytest.raises(ValueError, match="Bad converter spec"):
        converter_from_spec({"type": "drums", "colour": "red"})
    with pytest.raises(ValueError):
        converter_from_spec({"slice_bars": 2})


def test_to_tensors_rejects_non_sequences():
    with pytest.raises(TypeError):
        mel_a().to_tensors(b"MThd")


def test_windows_go_past_magentas_100_bar_truncation():
    pitches = np.random.default_rng(1).integers(48, 84, 4 * 110).tolist()
    seq = melody_seq(pitches)  # 110 bars of quarter notes, no two windows alike
    conv = mel_a()
    assert len(conv.to_tensors(seq, max_tensors=None).outputs) == 99  # magenta: first 100 bars
    windows = conv.windows(seq)
    assert len(windows) == conv.count_windows(seq) == 109
    assert windows[-1].end_time == pytest.approx(110 * 2.0)
