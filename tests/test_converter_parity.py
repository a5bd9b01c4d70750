"""Parity of our converters and extraction with the real magenta code.

The fixtures in tests/fixtures/oracle/ were produced by magenta 2.1.4 itself
(tests/oracle/gen_converter_fixtures.py; formats in tests/oracle/README.md). They are committed,
so a missing fixture directory is a failure, not a skip.
"""

from __future__ import annotations

import collections
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from midime_widgets.music import (
    DrumsConverter,
    MelodyConverter,
    TrioConverter,
    load_midi,
)
from midime_widgets.music.drums import extract_drum_tracks, map_drums_to_classes
from midime_widgets.music.melody import extract_melodies_by_instrument
from midime_widgets.music.quantize import split_on_time_changes

import note_seq

pytestmark = pytest.mark.oracle

FIXTURES = Path(__file__).parent / "fixtures"
MIDI_DIR = FIXTURES / "midi"
CONVERTER_DIR = FIXTURES / "oracle" / "converters"
EXTRACTION_DIR = FIXTURES / "oracle" / "extraction"

# The magenta settings of each fixture family (tests/fixtures/oracle/manifest.json, spec §5).
CONVERTERS = {
    "MelA": lambda: MelodyConverter(slice_bars=2, valid_programs=range(0, 32), max_bars=100),
    "MelB": lambda: MelodyConverter(slice_bars=16, max_bars=100),
    "Drum": lambda: DrumsConverter(slice_bars=2, max_bars=100, roll_input=True),
    "Trio": lambda: TrioConverter(slice_bars=16, gap_bars=2),
}
MELODY_ARGS = dict(min_bars=1, gap_bars=1.0, max_steps_truncate=1600, min_unique_pitches=1,
                   ignore_polyphonic_notes=True, pad_end=True, filter_drums=True)
DRUM_ARGS = dict(min_bars=1, gap_bars=1.0, max_steps_truncate=1600, pad_end=True)

CONVERTER_FILES = sorted(CONVERTER_DIR.glob("*.npz"))
EXTRACTION_FILES = sorted(EXTRACTION_DIR.glob("*.json"))


def test_oracle_fixtures_are_present():
    assert CONVERTER_FILES, f"no magenta converter fixtures in {CONVERTER_DIR}"
    assert EXTRACTION_FILES, f"no magenta extraction fixtures in {EXTRACTION_DIR}"
    families = {p.name.split("__")[0] for p in CONVERTER_FILES}
    assert families == set(CONVERTERS), families


def _rows(inputs, outputs, lengths):
    """The windows as a sorted multiset of (length, inputs bytes, outputs bytes)."""
    return sorted(
        (int(n), np.asarray(i[:n], np.float32).tobytes(), np.asarray(o[:n], np.float32).tobytes())
        for i, o, n in zip(inputs, outputs, lengths)
    )


def _fixture_ids(paths):
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", CONVERTER_FILES, ids=_fixture_ids(CONVERTER_FILES))
def test_to_tensors_matches_magenta(path):
    conv_name, stem = path.stem.split("__")
    conv = CONVERTERS[conv_name]()
    oracle = np.load(path)
    ours = conv.to_tensors(load_midi(MIDI_DIR / f"{stem}.mid"), max_tensors=None)

    assert conv.input_depth == oracle["inputs"].shape[-1]
    assert conv.output_depth == oracle["outputs"].shape[-1]
    assert len(ours.inputs) == len(oracle["lengths"])
    # magenta dedupes through a set, so compare the windows as a multiset.
    assert _rows(ours.inputs, ours.outputs, ours.lengths) == _rows(
        oracle["inputs"], oracle["outputs"], oracle["lengths"]
    )


@pytest.mark.parametrize("path", CONVERTER_FILES, ids=_fixture_ids(CONVERTER_FILES))
def test_from_tensors_matches_magenta(path):
    conv = CONVERTERS[path.stem.split("__")[0]]()
    oracle = np.load(path)
    lengths = oracle["lengths"]
    decoded = conv.from_tensors([oracle["outputs"][i, :n] for i, n in enumerate(lengths)])
    assert len(decoded) == len(lengths)

    expected = collections.defaultdict(list)
    for row, program, instrument in zip(
        oracle["decoded_notes"], oracle["decoded_programs"], oracle["decoded_instruments"]
    ):
        w, pitch, velocity, start, end, is_drum = row
        expected[int(w)].append(
            (int(pitch), int(velocity), round(start, 6), round(end, 6), bool(is_drum),
             int(program), int(instrument))
        )
    for w, seq in enumerate(decoded):
        got = [(n.pitch, n.velocity, round(n.start_time, 6), round(n.end_time, 6), n.is_drum,
                n.program, n.instrument) for n in seq.notes]
        assert sorted(got) == sorted(expected[w]), f"window {w}"
        assert seq.total_time == pytest.approx(oracle["decoded_total_time"][w], abs=1e-9)


def _quantized_splits(seq):
    for segment in split_on_time_changes(seq):
        try:
            q = note_seq.quantize_note_sequence(segment.sequence, 4)
        except (note_seq.BadTimeSignatureError, note_seq.NonIntegerStepsPerBarError,
                note_seq.NegativeTimeError):
            continue
        yield segment, q


def _mela_filtered(split_seq):
    s = copy.deepcopy(split_seq)
    keep = [n for n in s.notes if n.program in range(0, 32) and 21 <= n.pitch <= 108]
    del s.notes[:]
    s.notes.extend(keep)
    return note_seq.quantize_note_sequence(s, 4)


def _our_extraction(seq):
    records = []
    for segment, q in _quantized_splits(seq):
        k = segment.index
        for kind, qq in (("melody", q), ("melody_mela", _mela_filtered(segment.sequence))):
            for inst, m in extract_melodies_by_instrument(qq, **MELODY_ARGS):
                records.append((kind, k, m.start_step, m.end_step, inst, tuple(m)))
        reduced = copy.deepcopy(q)
        map_drums_to_classes(reduced)
        for kind, qq in (("drums", q), ("drums_reduced", reduced)):
            for t in extract_drum_tracks(qq, **DRUM_ARGS):
                events = tuple(tuple(sorted(e)) for e in t)
                records.append((kind, k, t.start_step, t.end_step, None, events))
    return sorted(records, key=repr)


def _oracle_extraction(path):
    records = []
    for r in json.loads(path.read_text()):
        events = r["events"]
        if r["kind"].startswith("drums"):
            events = tuple(tuple(e) for e in events)
        else:
            events = tuple(events)
        records.append((r["kind"], r["split_index"], r["start_step"], r["end_step"],
                        r["instrument"], events))
    return sorted(records, key=repr)


@pytest.mark.parametrize("path", EXTRACTION_FILES, ids=_fixture_ids(EXTRACTION_FILES))
def test_extraction_matches_magenta(path):
    seq = load_midi(MIDI_DIR / f"{path.stem}.mid")
    assert _our_extraction(seq) == _oracle_extraction(path)
