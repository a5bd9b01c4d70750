"""load_midi / to_midi_bytes: good files load, every kind of bad input is a MidiError."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

import midime_widgets
from midime_widgets import MidiError
from midime_widgets.music import MAX_MIDI_BYTES, load_midi, max_midi_bytes, to_midi_bytes
from midime_widgets.music import midi_io

import mido  # noqa: E402  (after midime_widgets, which silences note_seq's import warnings)
import note_seq  # noqa: E402

MIDI_DIR = Path(__file__).parent / "fixtures" / "midi"
SONG = MIDI_DIR / "song_trio.mid"


def _mido_bytes(*tracks: list, ticks_per_beat: int = 480) -> bytes:
    """A Standard MIDI File built with mido from lists of messages (one list per track)."""
    mid = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        track = mido.MidiTrack()
        track.extend(messages)
        mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _simple_melody_bytes() -> bytes:
    msgs = [mido.MetaMessage("set_tempo", tempo=500000, time=0)]
    for pitch in (60, 62, 64, 65):
        msgs.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        msgs.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    return _mido_bytes(msgs)


# -- good input --------------------------------------------------------------------------------

def test_loads_real_file_from_path_and_bytes():
    from_path = load_midi(SONG)
    from_bytes = load_midi(SONG.read_bytes())
    reference = note_seq.midi_file_to_note_sequence(str(SONG))
    assert len(from_path.notes) == len(reference.notes) > 100
    assert [n.pitch for n in from_bytes.notes] == [n.pitch for n in reference.notes]
    assert from_path.filename.endswith("song_trio.mid")
    assert load_midi(str(SONG)).notes == from_path.notes  # str path too


def test_midi_error_is_a_value_error_and_exported():
    assert issubclass(MidiError, ValueError)
    assert midime_widgets.load_midi is load_midi
    assert midime_widgets.to_midi_bytes is to_midi_bytes


def test_small_built_file_has_expected_notes():
    seq = load_midi(_simple_melody_bytes())
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65]
    assert seq.notes[1].start_time == pytest.approx(0.5)
    assert seq.total_time == pytest.approx(2.0)


def test_rmid_wrapped_file_is_unwrapped():
    smf = _simple_melody_bytes()
    data_chunk = b"data" + struct.pack("<I", len(smf)) + smf + (b"\0" if len(smf) % 2 else b"")
    rmid = b"RIFF" + struct.pack("<I", 4 + len(data_chunk)) + b"RMID" + data_chunk
    assert [n.pitch for n in load_midi(rmid).notes] == [60, 62, 64, 65]


def test_loads_under_warnings_as_errors():
    """pretty_midi warns about tempo events outside track 0; with -W error that must not fail."""
    conductor = [mido.MetaMessage("track_name", name="conductor", time=0)]
    notes = [mido.MetaMessage("set_tempo", tempo=400000, time=0),
             mido.Message("note_on", note=60, velocity=80, time=0),
             mido.Message("note_off", note=60, velocity=0, time=480)]
    data = _mido_bytes(conductor, notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seq = load_midi(data)
    assert [n.pitch for n in seq.notes] == [60]


# -- bad input ---------------------------------------------------------------------------------

def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such MIDI file"):
        load_midi(tmp_path / "nope.mid")


def test_directory_is_a_midi_error(tmp_path):
    with pytest.raises(MidiError, match="folder"):
        load_midi(tmp_path)


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError):
        load_midi(12345)


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "empty"),
        (b"hello, this is my song\nC D E F G\n", "text file"),
        (bytes(range(256)) * 4, "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01", "cut off"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0", "no tracks"),
    ],
    ids=["empty", "text", "binary", "short-header", "header-only"],
)
def test_malformed_bytes(data, match):
    with pytest.raises(MidiError, match=match):
        load_midi(data)


def test_random_bytes_after_header_is_midi_error():
    rng = np.random.default_rng(0)
    for _ in range(20):
        body = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
        data = b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk" + body
        with pytest.raises(MidiError):
            load_midi(data)


def test_truncated_files_are_midi_errors():
    data = SONG.read_bytes()
    for cut in (20, 40, len(data) // 3, len(data) // 2, len(data) - 3):
        with pytest.raises(MidiError, match="damaged or cut off|cut off|no tracks"):
            load_midi(data[:cut])


def test_empty_file_on_disk(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    with pytest.raises(MidiError, match="'empty.mid' is empty"):
        load_midi(path)


def test_zero_notes_is_midi_error():
    data = _mido_bytes([mido.MetaMessage("set_tempo", tempo=500000, time=0),
                        mido.Message("program_change", program=5, time=0),
                        mido.MetaMessage("end_of_track", time=100)])
    with pytest.raises(MidiError, match="no notes"):
        load_midi(data)


def test_only_zero_velocity_notes_is_midi_error():
    # note_on with velocity 0 is a note-off: the file has no sounding note.
    data = _mido_bytes([mido.Message("note_on", note=60, velocity=0, time=0),
                        mido.Message("note_on", note=60, velocity=0, time=100)])
    with pytest.raises(MidiError, match="no notes"):
        load_midi(data)


def test_absurdly_long_file_is_midi_error():
    # one note ending after 4 hours (ticks_per_beat 1, slowest tempo: ~16.8 s per beat)
    msgs = [mido.MetaMessage("set_tempo", tempo=0xFFFFFF, time=0),
            mido.Message("note_on", note=60, velocity=80, time=0),
            mido.Message("note_off", note=60, velocity=0, time=900)]
    with pytest.raises(MidiError, match="hours"):
        load_midi(_mido_bytes(msgs, ticks_per_beat=1))


@pytest.mark.parametrize("exc", [IndexError("x"), KeyError("x"), EOFError(), OSError("x"),
                                 ValueError("x"), ZeroDivisionError(), RuntimeWarning("x"),
                                 note_seq.MIDIConversionError("x")])
def test_any_parser_exception_becomes_midi_error(monkeypatch, exc):
    def broken(data):
        raise exc

    monkeypatch.setattr(midi_io.note_seq, "midi_to_note_sequence", broken)
    with pytest.raises(MidiError, match="could not be read") as info:
        load_midi(_simple_melody_bytes())
    assert info.value.__cause__ is exc


# -- size limit --------------------------------------------------------------------------------

def test_default_limit_is_20_mb(monkeypatch):
    monkeypatch.delenv("MIDIME_MAX_MIDI_BYTES", raising=False)
    assert MAX_MIDI_BYTES == 20 * 1024 * 1024
    assert max_midi_bytes() == MAX_MIDI_BYTES


def test_size_limit_is_checked_before_parsing(monkeypatch, tmp_path):
    def must_not_parse(data):
        raise AssertionError("parsed a file over the size limit")

    monkeypatch.setattr(midi_io.note_seq, "midi_to_note_sequence", must_not_parse)
    data = _simple_melody_bytes()
    with pytest.raises(MidiError, match="larger than"):
        load_midi(data, max_bytes=len(data) - 1)
    path = tmp_path / "big.mid"
    path.write_bytes(data)
    with pytest.raises(MidiError, match="larger than"):
        load_midi(path, max_bytes=10)


def test_size_limit_from_environment(monkeypatch):
    data = _simple_melody_bytes()
    monkeypatch.setenv("MIDIME_MAX_MIDI_BYTES", str(len(data) - 1))
    with pytest.raises(MidiError, match="MIDIME_MAX_MIDI_BYTES"):
        load_midi(data)
    assert len(load_midi(data, max_bytes=len(data)).notes) == 4  # explicit argument wins
    monkeypatch.setenv("MIDIME_MAX_MIDI_BYTES", str(len(data)))
    assert len(load_midi(data).notes) == 4


def test_bad_limits_are_rejected(monkeypatch):
    monkeypatch.setenv("MIDIME_MAX_MIDI_BYTES", "lots")
    with pytest.raises(ValueError, match="not a number"):
        load_midi(_simple_melody_bytes())
    with pytest.raises(ValueError, match="positive"):
        load_midi(_simple_melody_bytes(), max_bytes=0)


# -- writing -----------------------------------------------------------------------------------

def test_to_midi_bytes_round_trip():
    seq = load_midi(SONG)
    again = load_midi(to_midi_bytes(seq))
    key = lambda n: (round(n.start_time, 3), n.pitch, n.is_drum)  # noqa: E731
    got = sorted((key(n), n.velocity, round(n.end_time, 3)) for n in again.notes)
    want = sorted((key(n), n.velocity, round(n.end_time, 3)) for n in seq.notes)
    assert got == want
    assert {n.program for n in again.notes if not n.is_drum} == {0, 4, 33}


def test_to_midi_bytes_rejects_impossible_notes():
    seq = note_seq.NoteSequence()
    seq.notes.add(pitch=130, velocity=80, start_time=0, end_time=1)
    with pytest.raises(MidiError, match="pitch 130"):
        to_midi_bytes(seq)
    with pytest.raises(TypeError):
        to_midi_bytes(b"not a sequence")
