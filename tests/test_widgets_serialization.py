"""Round trips of the binary wire formats shared with js/src (notes.js, util.js)."""

from __future__ import annotations

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from midime_widgets.widgets.serialization import (
    empty_wire,
    sequence_to_wire,
    track_role,
    wire_columns,
    wire_to_sequence,
)


def make_trio() -> music_pb2.NoteSequence:
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=96)
    seq.time_signatures.add(numerator=3, denominator=4)
    seq.instrument_infos.add(instrument=2, name="Lead vox")
    for i in range(6):
        seq.notes.add(pitch=60 + i, velocity=50 + i, start_time=i * 0.3, end_time=i * 0.3 + 0.25,
                      instrument=2, program=80)
    seq.notes.add(pitch=36, velocity=90, start_time=0.0, end_time=1.2, instrument=1, program=33)
    seq.notes.add(pitch=42, velocity=70, start_time=0.6, end_time=0.7, instrument=9, is_drum=True)
    seq.total_time = 1.8
    return seq


def test_sequence_round_trip_keeps_every_note_field():
    seq = make_trio()
    back = wire_to_sequence(sequence_to_wire(seq))
    key = lambda n: (n.instrument, n.start_time, n.pitch)  # noqa: E731
    original, restored = sorted(seq.notes, key=key), sorted(back.notes, key=key)
    assert len(restored) == len(original) == 8
    for a, b in zip(original, restored):
        assert (a.pitch, a.velocity, a.instrument, a.program, a.is_drum) == \
            (b.pitch, b.velocity, b.instrument, b.program, b.is_drum)
        assert b.start_time == pytest.approx(a.start_time, abs=1e-6)
        assert b.end_time == pytest.approx(a.end_time, abs=1e-6)
    assert back.tempos[0].qpm == 96
    assert (back.time_signatures[0].numerator, back.time_signatures[0].denominator) == (3, 4)
    assert back.total_time == pytest.approx(1.8)


def test_wire_is_compact_and_describes_tracks():
    wire = sequence_to_wire(make_trio(), highlight=[2])
    assert isinstance(wire["data"], bytes) and len(wire["data"]) == 12 * 8
    tracks = {t["instrument"]: t for t in wire["tracks"]}
    assert tracks[2]["name"] == "Lead vox" and tracks[2]["role"] == "melody"
    assert tracks[1]["role"] == "bass" and tracks[1]["name"] == "Bass"
    assert tracks[9]["role"] == "drums" and tracks[9]["is_drum"]
    assert [tracks[i]["dim"] for i in (2, 1, 9)] == [False, True, True]
    assert [tracks[i]["n_notes"] for i in (2, 1, 9)] == [6, 1, 1]
    assert wire["qpm"] == 96 and wire["time_signature"] == [3, 4]


def test_columns_layout_matches_the_js_decoder():
    """notes.js reads f32 start | f32 end | u8 pitch | u8 velocity | u8 track | u8 drum."""
    wire = sequence_to_wire(make_trio())
    raw = wire["data"]
    n = wire["n"]
    starts = np.frombuffer(raw[: 4 * n], "<f4")
    pitches = np.frombuffer(raw[8 * n : 9 * n], np.uint8)
    drums = np.frombuffer(raw[11 * n :], np.uint8)
    cols = wire_columns(wire)
    np.testing.assert_array_equal(starts, cols["start"])
    np.testing.assert_array_equal(pitches, cols["pitch"])
    assert sorted(drums.tolist()) == [0] * 7 + [1]
    assert set(pitches[drums == 1].tolist()) == {42}


def test_memoryview_data_from_the_comm_is_accepted():
    wire = sequence_to_wire(make_trio())
    wire = {**wire, "data": memoryview(wire["data"])}
    assert len(wire_to_sequence(wire).notes) == 8


def test_truncated_buffer_is_rejected():
    wire = sequence_to_wire(make_trio())
    with pytest.raises(ValueError, match="notes need"):
        wire_columns({**wire, "data": wire["data"][:-1]})


def test_empty_and_none():
    assert sequence_to_wire(None)["n"] == 0
    assert empty_wire("x")["label"] == "x"
    assert len(wire_to_sequence(empty_wire()).notes) == 0


def test_out_of_range_values_are_clamped_not_wrapped():
    seq = music_pb2.NoteSequence()
    seq.notes.add(pitch=60, velocity=0, start_time=0, end_time=0, program=0)  # zero length, vel 0
    cols = wire_columns(sequence_to_wire(seq))
    assert len(cols["pitch"]) == 0  # a zero-length pitched note draws nothing
    seq.notes.add(pitch=64, velocity=200, start_time=1, end_time=1.5)
    cols = wire_columns(sequence_to_wire(seq))
    assert cols["velocity"].tolist() == [127]


@pytest.mark.parametrize("program, drum, role", [(0, False, "melody"), (33, False, "bass"),
                                                  (39, False, "bass"), (40, False, "melody"),
                                                  (33, True, "drums")])
def test_track_roles(program, drum, role):
    assert track_role(program, drum) == role
