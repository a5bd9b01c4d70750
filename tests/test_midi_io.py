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
from midi_watch import vlq

import mido
import note_seq

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


def test_to_midi_bytes_keeps_closing_rests():
    """A 2-bar sample whose only note is in its first beat still lasts 2 bars as a file, so it
    loops in time in a sequencer."""
    seq = note_seq.NoteSequence(total_time=4.8)
    seq.tempos.add(qpm=100)
    seq.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=0.3)
    mid = mido.MidiFile(file=io.BytesIO(to_midi_bytes(seq)))
    assert mid.length == pytest.approx(4.8, abs=0.01)
    assert len({sum(m.time for m in track) for track in mid.tracks}) == 1  # every track
    # music longer than its total_time is left as it is
    seq.total_time = 0.1
    assert mido.MidiFile(file=io.BytesIO(to_midi_bytes(seq))).length == pytest.approx(0.3, abs=0.01)


def test_to_midi_bytes_rejects_impossible_notes():
    seq = note_seq.NoteSequence()
    seq.notes.add(pitch=130, velocity=80, start_time=0, end_time=1)
    with pytest.raises(MidiError, match="pitch 130"):
        to_midi_bytes(seq)
    with pytest.raises(TypeError):
        to_midi_bytes(b"not a sequence")


# -- limits and the structural scan ------------------------------------------------------------

def _notes_track(count: int, step: int = 480, length: int = 240) -> list:
    msgs = []
    for i in range(count):
        msgs.append(mido.Message("note_on", note=60 + i % 12, velocity=80, time=0 if i == 0
                                 else step - length))
        msgs.append(mido.Message("note_off", note=60 + i % 12, velocity=0, time=length))
    return msgs


def _must_not_parse(monkeypatch):
    def refuse(data):
        raise AssertionError("the parser ran on a file the scan should have refused")

    monkeypatch.setattr(midi_io.note_seq, "midi_to_note_sequence", refuse)


def test_scan_counts_what_mido_reads():
    data = _mido_bytes([mido.MetaMessage("set_tempo", tempo=400000, time=0)] + _notes_track(5),
                       _notes_track(3))
    scan = midi_io.scan_midi(data)
    assert (scan.format, scan.tracks, scan.ticks_per_beat) == (1, 2, 480)
    assert scan.notes == 8
    assert scan.events == (1 + 10 + 1) + (6 + 1) + 2  # tempo, notes, end of track; chunks
    assert scan.end_tick == 4 * 480 + 240
    assert scan.seconds == pytest.approx((4 * 480 + 240) / 480 * 0.4)


def test_too_many_notes_is_refused_before_parsing(monkeypatch):
    _must_not_parse(monkeypatch)
    data = _mido_bytes(_notes_track(50))
    with pytest.raises(MidiError, match="more than 40 notes"):
        midi_io.scan_midi(data, max_notes=40)
    monkeypatch.setattr(midi_io, "MAX_MIDI_NOTES", 40)
    with pytest.raises(MidiError, match="more than 40 notes; the most we read is 40"):
        load_midi(data)


def test_too_many_events_is_refused_before_parsing(monkeypatch):
    _must_not_parse(monkeypatch)
    storm = [mido.Message("control_change", control=7, value=i % 128, time=1) for i in range(500)]
    data = _mido_bytes(_notes_track(1) + storm)
    monkeypatch.setattr(midi_io, "MAX_MIDI_EVENTS", 300)
    with pytest.raises(MidiError, match="more than 300 MIDI events"):
        load_midi(data)


def test_too_long_is_refused_before_parsing_in_hours(monkeypatch):
    _must_not_parse(monkeypatch)
    ticks = 14 * 3600 * 2 * 480  # 14 hours at 120 bpm
    data = _mido_bytes([mido.Message("note_on", note=60, velocity=80, time=0),
                        mido.Message("note_off", note=60, velocity=0, time=ticks)])
    with pytest.raises(MidiError, match=r"is 14\.0 hours long; the longest piece we read is 3 "):
        load_midi(data)


def test_huge_delta_times_are_refused_without_allocating(monkeypatch):
    _must_not_parse(monkeypatch)
    body = (b"\x00\x90\x3c\x50" + b"\xff\xff\xff\x7f\x80\x3c\x00" * 3 + b"\x00\xff\x2f\x00")
    data = (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(body))
            + body)
    assert len(data) < 80
    with pytest.raises(MidiError, match="days long"):
        load_midi(data)


def test_over_long_variable_length_numbers_are_damaged(monkeypatch):
    _must_not_parse(monkeypatch)
    body = b"\x80" * 5000 + b"\x00\x90\x3c\x50"
    data = (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(body))
            + body)
    with pytest.raises(MidiError, match="longer than MIDI allows"):
        load_midi(data)


def test_fine_resolution_is_read_at_a_coarser_one(monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_MIDI_TICKS", 2000)
    data = _mido_bytes([mido.MetaMessage("set_tempo", tempo=500000, time=0)] + _notes_track(8),
                       ticks_per_beat=480)
    seq = load_midi(data)
    reference = load_midi(_mido_bytes([mido.MetaMessage("set_tempo", tempo=500000, time=0)]
                                      + _notes_track(8)), max_bytes=None)
    assert [n.pitch for n in seq.notes] == [n.pitch for n in reference.notes]
    for got, want in zip(seq.notes, reference.notes):
        assert got.start_time == pytest.approx(want.start_time, abs=0.01)
        assert got.end_time == pytest.approx(want.end_time, abs=0.01)


def _smpte_bytes(fps: int, ticks_per_frame: int, with_tempo: bool = False) -> bytes:
    msgs = [mido.MetaMessage("set_tempo", tempo=250000, time=0)] if with_tempo else []
    msgs += _notes_track(4, step=ticks_per_frame * fps // 2, length=ticks_per_frame)
    data = bytearray(_mido_bytes(msgs))
    data[12:14] = struct.pack(">H", ((256 - fps) << 8) | ticks_per_frame)
    return bytes(data)


@pytest.mark.parametrize("fps, real", [(24, 24.0), (25, 25.0), (29, 30000 / 1001), (30, 30.0)])
def test_smpte_timed_files_read_in_seconds(fps, real):
    seq = load_midi(_smpte_bytes(fps, 40, with_tempo=True))  # tempo events mean nothing here
    half_second_frames = fps * 40 // 2
    starts = [n.start_time for n in seq.notes]
    assert starts == pytest.approx([i * half_second_frames / (real * 40) for i in range(4)])
    assert seq.notes[0].end_time == pytest.approx(1 / real)


def test_impossible_smpte_rate_is_explained():
    data = bytearray(_smpte_bytes(25, 40))
    data[12] = 256 - 13
    with pytest.raises(MidiError, match="SMPTE .* 13 frames per second"):
        load_midi(bytes(data))


def test_zero_resolution_is_explained():
    data = bytearray(_simple_melody_bytes())
    data[12:14] = b"\x00\x00"
    with pytest.raises(MidiError, match="0 ticks per beat"):
        load_midi(bytes(data))


def test_format_2_patterns_play_one_after_another():
    pattern = [mido.MetaMessage("set_tempo", tempo=500000, time=0)] + _notes_track(4)
    one = load_midi(_mido_bytes(pattern))
    mid = mido.MidiFile(type=2, ticks_per_beat=480)
    for _ in range(3):
        mid.tracks.append(mido.MidiTrack(list(pattern)))
    buf = io.BytesIO()
    mid.save(file=buf)
    seq = load_midi(buf.getvalue())
    assert len(seq.notes) == 12
    length = one.notes[-1].end_time  # each pattern ends with its last note
    starts = sorted(n.start_time for n in seq.notes)
    assert starts[4] == pytest.approx(length) and starts[8] == pytest.approx(2 * length)


def test_zero_length_notes_are_named_not_called_missing():
    msgs = []
    for pitch in (60, 62, 64):
        msgs += [mido.Message("note_on", note=pitch, velocity=80, time=240),
                 mido.Message("note_off", note=pitch, velocity=0, time=0)]
    with pytest.raises(MidiError, match="3 note.*zero length") as info:
        load_midi(_mido_bytes(msgs))
    assert "no notes" not in str(info.value)


def test_cut_off_tracks_are_reported():
    data = _simple_melody_bytes()
    with pytest.raises(MidiError, match="cut off"):
        load_midi(data[:-5])
    more_tracks = bytearray(data)
    more_tracks[10:12] = struct.pack(">h", 3)
    with pytest.raises(MidiError, match="declares 3 tracks but ends after 1"):
        load_midi(bytes(more_tracks))


def test_loads_in_threads_agree_and_leave_warning_filters_alone():
    import threading

    before = list(warnings.filters)
    data = SONG.read_bytes()
    want = [n.pitch for n in load_midi(data).notes]
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append([n.pitch for n in load_midi(data).notes])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [want] * 12
    assert list(warnings.filters) == before


# -- damaged settings, special files, limits in beats ------------------------------------------

def _with_settings(raw_settings: bytes) -> bytes:
    """`_simple_melody_bytes` with raw meta / sysex events (each with its delta) before the notes."""
    data = _simple_melody_bytes()
    (size,) = struct.unpack(">I", data[18:22])
    return data[:18] + struct.pack(">I", size + len(raw_settings)) + raw_settings + data[22:]


@pytest.mark.parametrize("raw, said", [
    (b"\x00\xff\x51\x03\x00\x00\x00", "a tempo of zero"),
    (b"\x00\xff\x51\x00", "a damaged tempo"),
    (b"\x00\xff\x58\x04\x00\x02\x18\x08", "an impossible time signature (0/4)"),
    (b"\x00\xff\x58\x04\x04\xff\x18\x08", "an impossible time signature (4/a huge number)"),
    (b"\x00\xff\x58\x04\xff\x00\x18\x08", "an impossible time signature (255/1)"),
    (b"\x00\xff\x58\x00", "a damaged time signature"),
    (b"\x00\xff\x59\x02\x80\x05", "a damaged key signature"),
    (b"\x00\xff\x54\x05\xff\x00\x00\x00\x00", "a damaged start time (SMPTE offset)"),
    (b"\x00\xff\x54\x00" * 2, "2 damaged start times (SMPTE offsets)"),
    (b"\x00\xf0\x03\x01\x85\xf7", "a damaged system-exclusive message"),
    (b"\x00\xf0\x02\x01\xf7\x00\x00\x02\x90\xf7",  # the second by running status
     "a damaged system-exclusive message"),
], ids=["tempo-0", "tempo-empty", "metre-0", "metre-huge", "metre-255", "metre-empty",
        "key-128-flats", "smpte-offset", "smpte-offsets", "sysex-high-byte",
        "sysex-running-status-high-byte"])
def test_damaged_settings_are_left_out_and_told(raw, said):
    """Each of these failed the whole file (a Python error inside the message); now the notes
    load, the setting is left out, and a sentence says what it was. (A system-exclusive message
    written with running status has no status byte: mido skips its first byte, then reads the
    length and the data.)"""
    seq, notes = midi_io.read_midi(_with_settings(raw))
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65]
    assert len(notes) == 1 and said in notes[0] and "notes are read as written" in notes[0]
    assert all(t.qpm > 0 for t in seq.tempos)
    assert all(1 <= ts.numerator <= 64 and ts.denominator <= 64 for ts in seq.time_signatures)
    with pytest.warns(midi_io.MidiWarning, match="left out"):
        load_midi(_with_settings(raw))


def test_oversized_texts_and_system_exclusive_messages_are_left_out():
    """mido refuses any event over 1,000,000 bytes; such an event is blanked, the track length
    mended, and the rest of the file read (here a track name after them)."""
    big_text = b"\x00\xff\x01" + vlq(1_200_000) + b"a" * 1_200_000
    sysex = b"\x00\xf0" + vlq(1_000_001) + b"\x01" * 1_000_000 + b"\xf7"
    name = b"\x00\xff\x03\x04Tune"
    seq, notes = midi_io.read_midi(_with_settings(big_text + sysex + name))
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65]
    assert "a text (1.2 MB)" in notes[0]
    assert "a system-exclusive message (1.0 MB of settings for one instrument)" in notes[0]
    assert [i.name for i in seq.instrument_infos] == ["Tune"]


def test_a_file_of_good_settings_gets_no_note():
    seq, notes = midi_io.read_midi(SONG)
    assert notes == [] and len(seq.notes) > 0


def test_pipes_and_devices_are_refused_without_reading(tmp_path):
    """Opening a pipe to read it waits for a writer forever: it is refused by its kind."""
    import os

    fifo = tmp_path / "song.mid"
    os.mkfifo(fifo)
    with pytest.raises(MidiError, match="not a file but a pipe"):
        load_midi(fifo)
    with pytest.raises(MidiError, match="not a file but a device"):
        load_midi("/dev/zero")


def test_size_just_over_the_limit_reads_in_bytes():
    """Rounded to 0.1 MB, a file one byte over the limit would read "21.0 MB, larger than the
    21.0 MB limit"."""
    data = _simple_melody_bytes()
    with pytest.raises(MidiError, match=rf"is {len(data):,} bytes, larger than the "
                                        rf"{len(data) - 1:,}-byte limit"):
        load_midi(data, max_bytes=len(data) - 1)


def test_music_too_many_beats_long_is_refused_before_parsing(monkeypatch):
    """Seconds alone do not bound a file: a tempo of 1 µs a beat fits 16 million beats in 16 s,
    and bars, excerpts and steps are counted in beats."""
    def must_not_parse(data):
        raise AssertionError("parsed a file of millions of beats")

    monkeypatch.setattr(midi_io.note_seq, "midi_to_note_sequence", must_not_parse)
    note = vlq(0x0FFFFFFF) + b"\x90\x3c\x64" + vlq(0x0FFFFFFF) + b"\x80\x3c\x00"
    body = b"\x00\xff\x51\x03\x00\x00\x01" + note * 100 + b"\x00\xff\x2f\x00"
    data = (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 0x7FFF)
            + b"MTrk" + struct.pack(">I", len(body)) + body)
    with pytest.raises(MidiError, match=r"1,638,450 beats long \(its tempo is so fast that "
                                        r"they pass in 1\.6 seconds\)"):
        load_midi(data)


def test_notes_that_never_end_are_named():
    msgs = [mido.Message("note_on", note=60 + i, velocity=80, time=240) for i in range(5)]
    with pytest.raises(MidiError, match="starts 5 note.*never says when they end"):
        load_midi(_mido_bytes(msgs))


def test_tempos_a_midi_file_cannot_hold_are_written_at_the_nearest_it_can():
    """A damaged input's tempo (3.58 or 60,000,000 beats a minute), taken by its samples, used
    to fail only when the samples were written, after training."""
    for qpm, want in ((60e6 / 0xFFFFFF * 0.999, 60e6 / 0xFFFFFF), (1e9, 60e6)):
        beat = 60.0 / want  # the notes: two beats in a bar of four
        seq = note_seq.NoteSequence(total_time=4 * beat)
        seq.tempos.add(qpm=qpm)
        seq.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=2 * beat)
        again = load_midi(to_midi_bytes(seq))
        assert again.tempos[0].qpm == pytest.approx(want, rel=1e-3)
        assert seq.tempos[0].qpm == qpm  # the caller's sequence is not changed


def test_an_oversized_system_exclusive_message_keeps_the_running_status_it_sets():
    """Data bytes after a system-exclusive message reuse its status (running status), as mido
    reads it; its stand-in is a one-byte message of the same status, not a meta event (which
    would leave those bytes without a status and fail the file)."""
    sysex = b"\x00\xf0" + vlq(1_000_001) + b"\x01" * 1_000_000 + b"\xf7"
    # a second one-byte message with running status: mido skips the first data byte, then
    # reads the length (1) and the data (0xF7)
    running = b"\x00\x01\x01\xf7"
    seq, notes = midi_io.read_midi(_with_settings(sysex + running))
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65]
    assert "a system-exclusive message (1.0 MB" in notes[0]


def test_a_track_without_events_does_not_fail_the_file():
    """pretty_midi fails on a track with no event at all (not even its end): it gets one."""
    data = _simple_melody_bytes()
    empty = b"MTrk" + struct.pack(">I", 0)
    two = bytearray(data + empty)
    two[10:12] = struct.pack(">h", 2)
    seq, notes = midi_io.read_midi(bytes(two))
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65] and notes == []


def test_an_oversized_system_exclusive_message_under_running_status_is_left_out():
    first = b"\x00\xf0\x02\x01\xf7"
    running = b"\x00\x00" + vlq(1_100_000) + b"\x01" * 1_100_000  # no status byte
    seq, notes = midi_io.read_midi(_with_settings(first + running))
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65]
    assert "a system-exclusive message (1.1 MB of settings for one instrument)" in notes[0]


def test_events_far_after_the_last_note_do_not_decide_how_the_notes_are_read():
    """Controller moves 40 deltas of 2^28 ticks after the music (a damaged tail) used to refuse
    the whole file ("packs 22,369,625 beats"); the notes are read and nothing is lost."""
    far = b"\xff\xff\xff\x7f"  # the largest delta time
    data = _simple_melody_bytes()
    tail = b"\x00\xb0\x07\x40" + (far + b"\x07\x41") * 40
    body = data[22:-4] + tail + data[-4:]  # before the end-of-track event
    data = data[:18] + struct.pack(">I", len(body)) + body
    seq = load_midi(data)
    assert [n.pitch for n in seq.notes] == [60, 62, 64, 65]
    assert seq.total_time == pytest.approx(2.0)


def test_control_characters_in_track_names_are_not_passed_on():
    """Escape sequences in a track name could clear or colour the terminal that prints it."""
    name = mido.MetaMessage("track_name", name="\x1b[2J\x1b[31mFAKE\x9b\x07 tune\r\n", time=0)
    msgs = [name] + [mido.Message("note_on", note=60, velocity=80, time=0),
                     mido.Message("note_off", note=60, velocity=0, time=480)]
    seq = load_midi(_mido_bytes(msgs))
    assert [i.name for i in seq.instrument_infos] == ["[2J [31mFAKE tune"]
    assert midi_io.printable("a\tb\u200bc") == "a b c"
