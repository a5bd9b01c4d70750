"""Reading and writing MIDI files safely.

`load_midi` is the single gate every user file passes through: it enforces a size limit before
reading, then scans the file's structure (tracks, events, delta times, running status, tempos)
without building any objects, so that limits on notes, events, length in time and in beats and
tick range are enforced before the parsers (mido, pretty_midi, note_seq) allocate anything.
Settings the parsers would fail on (a tempo of zero, an impossible time or key signature, a text
or system-exclusive message longer than mido reads) are blanked out of the bytes first and told.
It turns every parser failure (they raise a zoo of exception types) into a `MidiError` with a
sentence a musician understands, and rejects files without notes.

The scan also lets `load_midi` read files the parsers get wrong: SMPTE-timed files (time in
frames per second instead of beats), format 2 files (independent patterns played one after the
other) and files whose timing is so fine that pretty_midi's tick table would be huge (their
ticks are scaled to a coarser resolution, keeping the notes' times).

With these limits every file within the byte limit loads (or is refused) in seconds and well
under a gigabyte, so `load_midi` can safely run in a background thread; it is thread-safe.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import struct
import threading
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import note_seq
from note_seq.protobuf import music_pb2

from ..errors import MidiError

NoteSequence = music_pb2.NoteSequence

#: Default largest MIDI file `load_midi` accepts (bytes). Real songs are rarely above 1 MB.
MAX_MIDI_BYTES = 20 * 1024 * 1024
#: Longest music `load_midi` accepts (seconds). Longer "songs" are damaged files whose notes
#: would make quantized sequences absurdly long.
MAX_MIDI_SECONDS = 3 * 3600.0
#: Most notes (sounding note-ons) `load_midi` reads: a long, busy piano piece has a few tens of
#: thousands; a whole symphony about 50,000.
MAX_MIDI_NOTES = 100_000
#: Most MIDI events (notes on and off, pedal and controller moves, tempo and text events, plus
#: one per track) `load_midi` reads.
MAX_MIDI_EVENTS = 250_000
#: Most beats (quarter notes) from the start to the last note `load_midi` accepts: eight hours at
#: 200 beats a minute. Bars, excerpts and 16th-note steps are counted in beats, so a file whose
#: tempo is absurdly fast would otherwise pass the length check with millions of bars.
MAX_MIDI_BEATS = 100_000
#: Largest tick (time step) handed to the parsers. pretty_midi builds a table with one entry per
#: tick (about 24 bytes each while it is built); finer files are read at a coarser resolution.
MAX_MIDI_TICKS = 20_000_000
#: Environment variable that overrides `MAX_MIDI_BYTES` (a number of bytes).
MAX_BYTES_ENV = "MIDIME_MAX_MIDI_BYTES"

MidiSource = str | os.PathLike | bytes | bytearray | memoryview

#: SMPTE frame rates a file may declare, and the real rate each stands for (29 is 29.97 drop-frame).
_SMPTE_FPS = {24: 24.0, 25: 25.0, 29: 30000 / 1001, 30: 30.0}
_DEFAULT_TEMPO = 500_000  # microseconds per beat (120 bpm), as MIDI and pretty_midi assume
# Bytes after the status byte for channel messages (by high nibble) and system messages.
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0,
                      0xFE: 0}
# catch_warnings changes process-wide state: two loads at once must not interleave it.
_PARSE_LOCK = threading.Lock()


class MidiWarning(UserWarning):
    """Something in the music was changed to fit the model (e.g. chords reduced to one note)."""


def max_midi_bytes(max_bytes: int | None = None) -> int:
    """The size limit in force: the explicit argument, else $MIDIME_MAX_MIDI_BYTES, else 20 MB."""
    if max_bytes is not None:
        limit = max_bytes
    else:
        env = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not env:
            return MAX_MIDI_BYTES
        try:
            limit = int(float(env))
        except ValueError:
            raise ValueError(
                f"{MAX_BYTES_ENV}={env!r} is not a number of bytes (for example 20000000)."
            ) from None
    if limit <= 0:
        raise ValueError(f"The MIDI size limit must be a positive number of bytes, got {limit}.")
    return int(limit)


def _size_error(size: int, limit: int) -> MidiError:
    size_text, limit_text = f"{size / 1e6:.1f} MB", f"{limit / 1e6:.1f} MB"
    if size_text == limit_text:  # just over: the rounded sizes would read the same
        size_text, limit_text = f"{size:,} bytes", f"{limit:,}-byte"
    return MidiError(
        f"The MIDI file is {size_text}, larger than the {limit_text} limit. "
        f"Real songs are far smaller, so it is probably not a plain MIDI file; to allow it anyway "
        f"pass max_bytes=... or set {MAX_BYTES_ENV}."
    )


def _read_source(source: MidiSource, limit: int) -> tuple[bytes, str]:
    """Return (bytes, label for messages); checks the size before reading a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > limit:
            raise _size_error(len(data), limit)
        return data, "the MIDI data"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"load_midi expects a file path or the file's bytes, not {type(source).__name__}."
        )
    path = Path(source)
    try:
        if not path.exists():
            raise FileNotFoundError(f"No such MIDI file: {path}")
        if path.is_dir():
            raise MidiError(f"{path} is a folder, not a MIDI file.")
        if not path.is_file():  # a pipe or a device: reading it could wait forever
            raise MidiError(f"{path} is not a file but a {_special_kind(path)}, so it holds no "
                            "MIDI file to read.")
        size = path.stat().st_size
        if size > limit:
            raise _size_error(size, limit)
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a name too long, no permission, a device error
        raise MidiError(f"Could not read {_short(path.name)}: "
                        f"{(exc.strerror or str(exc)).lower()}.") from exc
    if len(data) > limit:  # the file grew between stat and read
        raise _size_error(len(data), limit)
    return data, path.name


def printable(text: str) -> str:
    """`text` without control and format characters (a track name holding escape sequences
    could clear a terminal, colour it or fake a message; a right-to-left override could reverse
    what follows), each run of them a space."""
    return " ".join("".join(ch if unicodedata.category(ch) not in ("Cc", "Cf") else " "
                            for ch in text).split())


def _short(name: str, most: int = 60) -> str:
    """`name` for a message: at most `most` characters (the middle left out)."""
    return name if len(name) <= most else f"{name[:most // 2]}…{name[-(most // 2):]}"


def _special_kind(path: Path) -> str:
    if path.is_fifo():
        return "pipe"
    if path.is_socket():
        return "socket"
    return "device" if path.is_char_device() or path.is_block_device() else "special file"


def _unwrap_rmid(data: bytes) -> bytes:
    """RIFF-RMID files (Windows) wrap a standard MIDI file in a 'data' chunk: unwrap it."""
    if not (data[:4] == b"RIFF" and data[8:12] == b"RMID"):
        return data
    pos = 12
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if tag == b"data":
            return data[pos + 8 : pos + 8 + length]
        pos += 8 + length + (length & 1)
    return data


def _looks_like_text(data: bytes) -> bool:
    sample = data[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def _check_header(data: bytes, label: str) -> None:
    if not data:
        raise MidiError(f"{_cap(label)} is empty (0 bytes): there is no music in it.")
    if data[:4] != b"MThd":
        if _looks_like_text(data):
            raise MidiError(
                f"{_cap(label)} looks like a text file, not a MIDI file. Export the song from "
                "your music software as a Standard MIDI File (.mid)."
            )
        raise MidiError(
            f"{_cap(label)} is not a MIDI file (it does not start with the MIDI header 'MThd'). "
            "Export the song from your music software as a Standard MIDI File (.mid)."
        )
    if len(data) < 14:
        raise MidiError(f"{_cap(label)} is cut off: it ends inside the MIDI header.")
    if data.find(b"MTrk", 8) < 0:
        raise MidiError(
            f"{_cap(label)} has a MIDI header but no tracks, so it holds no notes."
        )


def _cap(label: str) -> str:
    return label[:1].upper() + label[1:] if label.startswith("the ") else f"'{label}'"


# -- scanning the file's structure before parsing ----------------------------------------------


@dataclass
class MidiScan:
    """What a structural pass over a Standard MIDI File found (no objects built).

    `ticks_per_beat` is the header's resolution (None for SMPTE files, which give `smpte` =
    (frame rate, ticks per frame) instead). `end_tick` is the largest tick any event reaches,
    with format 2 patterns laid one after the other; `seconds` is the time of the last note
    event; `zero_length` counts notes that end at the tick they start.
    """

    format: int
    tracks: int
    ticks_per_beat: int | None
    smpte: tuple[float, int] | None
    events: int = 0
    notes: int = 0
    zero_length: int = 0
    end_tick: int = 0
    seconds: float = 0.0
    tempos: list = field(default_factory=list, repr=False)  # (tick, µs per beat), track 0 only
    last_note_tick: int = 0
    #: Damaged settings the parsers would fail on: (start, end, stand-in bytes) spans to blank
    #: out, and what each was in a musician's words: (one, several, this one's value or None).
    blanked: list = field(default_factory=list, repr=False)
    ignored: list = field(default_factory=list, repr=False)
    #: (position of each track's length field, position after the track)
    track_ends: list = field(default_factory=list, repr=False)
    empty_tracks: int = 0  # tracks without a single event (pretty_midi fails on them)


def _damaged(label: str, detail: str) -> MidiError:
    return MidiError(f"{_cap(label)} could not be read: it seems damaged or cut off ({detail}).")


def _read_vlq(data: bytes, pos: int, label: str) -> tuple[int, int]:
    """A variable-length quantity at `pos` → (value, next position); at most 4 bytes (SMF)."""
    value = 0
    for i in range(4):
        if pos + i >= len(data):
            raise _damaged(label, "the data ends too early")
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    raise _damaged(label, "a time or length field is longer than MIDI allows")


def scan_midi(data: bytes, label: str = "the MIDI data", *, max_notes: int | None = None,
              max_events: int | None = None) -> MidiScan:
    """Walk the chunks and events of a Standard MIDI File exactly as mido will, counting.

    Raises MidiError when the file is damaged in a way mido would also reject, or as soon as it
    holds more than `max_notes` notes or `max_events` events (default `MAX_MIDI_NOTES` and
    `MAX_MIDI_EVENTS`), so the scan itself is bounded.
    """
    max_notes = MAX_MIDI_NOTES if max_notes is None else max_notes
    max_events = MAX_MIDI_EVENTS if max_events is None else max_events
    if len(data) < 14:
        raise MidiError(f"{_cap(label)} is cut off: it ends inside the MIDI header.")
    (header_size,) = struct.unpack(">I", data[4:8])
    if header_size < 6 or 8 + header_size > len(data):
        raise _damaged(label, "the MIDI header is malformed")
    fmt, ntracks, division = struct.unpack(">hhh", data[8:14])
    scan = MidiScan(format=fmt, tracks=max(ntracks, 0), ticks_per_beat=None, smpte=None)
    if division < 0:
        scan.smpte = _smpte_rate(division, label)
    elif division == 0:
        raise MidiError(f"{_cap(label)} declares a timing resolution of 0 ticks per beat, so its "
                        "notes have no place in time; the file is damaged.")
    else:
        scan.ticks_per_beat = division
    pos = 8 + header_size
    offset = 0  # format 2: each pattern starts where the previous one ended
    for index in range(scan.tracks):
        if pos + 8 > len(data):
            raise MidiError(f"{_cap(label)} is cut off: it declares {ntracks} tracks but ends "
                            f"after {index}.")
        if data[pos:pos + 4] != b"MTrk":
            raise _damaged(label, f"track {index + 1} does not start with 'MTrk'")
        (size,) = struct.unpack(">I", data[pos + 4:pos + 8])
        length_at = pos + 4
        pos += 8
        scan.events += 1
        events_before = scan.events
        tick, pos, note_tick = _scan_track(data, pos, size, offset, index, scan, label,
                                           max_notes, max_events)
        scan.empty_tracks += scan.events == events_before
        scan.track_ends.append((length_at, pos))
        scan.last_note_tick = max(scan.last_note_tick, note_tick)
        scan.end_tick = max(scan.end_tick, tick)
        if fmt == 2:
            offset = tick
    scan.seconds = _ticks_to_seconds(scan.last_note_tick, scan)
    return scan


def _smpte_rate(division: int, label: str) -> tuple[float, int]:
    fps, ticks_per_frame = -(division >> 8), division & 0xFF
    if fps not in _SMPTE_FPS or ticks_per_frame == 0:
        raise MidiError(
            f"{_cap(label)} uses SMPTE (film/video) timing with {fps} frames per second and "
            f"{ticks_per_frame} ticks per frame; only 24, 25, 29.97 and 30 frames per second "
            "with at least one tick per frame exist, so the file is damaged.")
    return _SMPTE_FPS[fps], ticks_per_frame


def _scan_track(data: bytes, pos: int, size: int, tick: int, index: int, scan: MidiScan,
                label: str, max_notes: int, max_events: int) -> tuple[int, int, int]:
    """One track's events → (end tick, position after the track, tick of the last note event).

    Mirrors mido's reader byte for byte, so that the counts describe exactly what mido will
    build: it stops when exactly `size` bytes are consumed, meta events do not set running
    status, everything else (sysex and system messages included) does.
    """
    start, end_of_data = pos, len(data)
    status = None
    open_notes: dict[int, int] = {}
    note_tick = 0
    events, notes = scan.events, scan.notes
    keep_tempos = index == 0 or scan.format == 2
    while pos - start != size:
        if pos >= end_of_data:
            raise MidiError(f"{_cap(label)} is cut off: it ends in the middle of track "
                            f"{index + 1}.")
        delta, pos = _read_vlq(data, pos, label)
        tick += delta
        if pos >= end_of_data:
            raise MidiError(f"{_cap(label)} is cut off: it ends in the middle of track "
                            f"{index + 1}.")
        byte = data[pos]
        if byte < 0x80:
            if status is None:
                raise _damaged(label, f"track {index + 1} begins with an event of no kind")
            if status in (0xF0, 0xF7):
                pos += 1  # mido drops the byte it peeked at, then reads the length after it
            elif status >= 0xF0 and not _SYSTEM_DATA_BYTES.get(status):
                raise _damaged(label, f"track {index + 1} has an event of no kind")
        else:
            pos += 1
            if byte != 0xFF:
                status = byte
            else:
                if pos >= end_of_data:
                    raise MidiError(f"{_cap(label)} is cut off: it ends inside an event.")
                meta_type, event_start = data[pos], pos - 1
                length, pos = _read_vlq(data, pos + 1, label)
                problem = (_meta_problem(meta_type, data, pos, length)
                           if pos + length <= end_of_data else None)  # else: cut off (below)
                if problem:
                    scan.blanked.append((event_start, pos + length, _BLANK_META))
                    scan.ignored.append(problem)
                elif meta_type == 0x51 and keep_tempos and pos + 3 <= end_of_data:
                    scan.tempos.append((tick, int.from_bytes(data[pos:pos + 3], "big")))
                pos += length
                events += 1
                if events > max_events:
                    raise _too_many_events(label, max_events)
                continue
        if status in (0xF0, 0xF7):
            event_start = pos - 1  # its status byte, or the byte mido skips under running status
            length, pos = _read_vlq(data, pos, label)
            problem = (_sysex_problem(data, pos, length) if pos + length <= end_of_data
                       else None)  # else: cut off (above)
            if problem:
                # a one-byte message read the same way: running status stays as mido reads it
                scan.blanked.append((event_start, pos + length,
                                     bytes([data[event_start], 1, 0xF7])))
                scan.ignored.append(problem)
            pos += length
        else:
            kind = status >> 4
            count = _DATA_BYTES.get(kind) if kind != 0xF else _SYSTEM_DATA_BYTES.get(status)
            if count is None:
                raise _damaged(label, f"track {index + 1} has an event of an unknown kind (0x{status:02x})")
            if pos + count > end_of_data:
                raise MidiError(f"{_cap(label)} is cut off: it ends inside an event.")
            if count and max(data[pos:pos + count]) > 0x7F:
                raise _damaged(label, f"track {index + 1} holds a number too large for MIDI")
            if kind == 0x9 or kind == 0x8:
                key = ((status & 0x0F) << 7) | data[pos]
                if kind == 0x9 and data[pos + 1] > 0:
                    notes += 1
                    if notes > max_notes:
                        raise _too_many_notes(label, max_notes)
                    open_notes[key] = tick
                elif open_notes.pop(key, None) == tick:
                    scan.zero_length += 1
                note_tick = tick
            pos += count
        events += 1
        if events > max_events:
            raise _too_many_events(label, max_events)
    scan.events, scan.notes = events, notes
    return tick, pos, note_tick


#: Longest single event mido reads (its MAX_MESSAGE_LENGTH): longer texts and system-exclusive
#: messages are blanked out before parsing instead of failing the whole file.
_MAX_EVENT_BYTES = 1_000_000
#: Meta events whose data mido decodes (and may fail on), by name for messages.
_DECODED_META = {0x00: ("sequence number", "sequence numbers"),
                 0x20: ("channel setting", "channel settings"),
                 0x21: ("MIDI port setting", "MIDI port settings"),
                 0x51: ("tempo", "tempos"),
                 0x54: ("start time (SMPTE offset)", "start times (SMPTE offsets)"),
                 0x58: ("time signature", "time signatures"),
                 0x59: ("key signature", "key signatures")}
#: Largest numerator and denominator of a time signature we read (64/64); beyond them, or with
#: a numerator of 0, the time signature is a file's damage and is left out.
MAX_METRE_PART = 64
_BLANK_META = b"\xff\x7f\x00"  # an empty sequencer-specific meta event: every reader skips it


def _meta_problem(meta_type: int, data: bytes, pos: int, length: int) -> tuple | None:
    """What is wrong with the meta event whose data is `length` bytes at `pos`, when the parsers
    would fail on it (or take it for nonsense), in a musician's words; None when it is fine."""
    if length > _MAX_EVENT_BYTES:
        return ("a text", "texts", _megabytes(length))
    names = _DECODED_META.get(meta_type)
    if names is None:
        return None
    from mido.midifiles.meta import build_meta_message

    try:
        message = build_meta_message(meta_type, list(data[pos:pos + length]))
    except Exception:
        return f"a damaged {names[0]}", f"damaged {names[1]}", None
    if meta_type == 0x51 and message.tempo == 0:
        return "a tempo of zero", "tempos of zero", None
    if meta_type == 0x58 and not (1 <= message.numerator <= MAX_METRE_PART
                                  and message.denominator <= MAX_METRE_PART):
        denominator = message.denominator if message.denominator <= 1024 else "a huge number"
        return ("an impossible time signature", "impossible time signatures",
                f"{message.numerator}/{denominator}")
    return None


def _sysex_problem(data: bytes, pos: int, length: int) -> tuple | None:
    """What mido would fail on in the system-exclusive message whose data is `length` bytes at
    `pos` (too long, or a byte above 127 between its optional F0 start and F7 end), in a
    musician's words; None when it is fine."""
    several = "system-exclusive messages"
    if length > _MAX_EVENT_BYTES:
        return ("a system-exclusive message", several,
                f"{_megabytes(length)} of settings for one instrument")
    body = data[pos:pos + length]
    body = body[1:] if body[:1] == b"\xf0" else body
    body = body[:-1] if body[-1:] == b"\xf7" else body
    if body and max(body) > 0x7F:
        return "a damaged system-exclusive message", "damaged " + several, None
    return None


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _blanked(data: bytes, scan: MidiScan) -> bytes:
    """`data` with every event in `scan.blanked` replaced by its stand-in (an empty meta event,
    or a one-byte system-exclusive message), and the track lengths mended to match."""
    out, last = bytearray(), 0
    removed_by_track = [0] * len(scan.track_ends)
    track_stops = [stop for _, stop in scan.track_ends]  # ascending: tracks follow each other
    for start, end, stand_in in sorted(scan.blanked):
        out += data[last:start] + stand_in
        last = end
        removed_by_track[bisect.bisect_right(track_stops, start)] += (end - start) - len(stand_in)
    out += data[last:]
    shift = 0
    for (length_at, _), removed in zip(scan.track_ends, removed_by_track):
        at = length_at - shift
        (size,) = struct.unpack(">I", out[at:at + 4])
        out[at:at + 4] = struct.pack(">I", size - removed)
        shift += removed
    return bytes(out)


def _ignored_note(label: str, ignored: list[tuple]) -> str:
    """One sentence for every kind of setting `load_midi` left out, e.g. "… holds settings that
    we left out because they are damaged or oversized: 2 impossible time signatures (such as
    0/4) and a damaged key signature. Its notes are read as written." """
    kinds: dict = {}
    for one, several, value in ignored:
        kinds.setdefault((one, several), []).append(value)
    items = []
    for (one, several), values in kinds.items():
        example = next((v for v in values if v is not None), None)
        if len(values) == 1:
            items.append(one + (f" ({example})" if example else ""))
        else:
            items.append(f"{len(values):,} {several}" + (f" (such as {example})" if example else ""))
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    which = ("a setting that we left out because it is" if len(ignored) == 1
             else "settings that we left out because they are")
    return f"{_cap(label)} holds {which} damaged or oversized: {listed}. Its notes are read as written."


def _too_many_notes(label: str, limit: int) -> MidiError:
    return MidiError(
        f"{_cap(label)} holds more than {limit:,} notes; the most we read is {limit:,} (more than "
        "a whole symphony), so it is probably machine-generated or damaged.")


def _too_many_events(label: str, limit: int) -> MidiError:
    return MidiError(
        f"{_cap(label)} holds more than {limit:,} MIDI events (notes, pedal and controller "
        f"moves, tempo and text events); the most we read is {limit:,}, far more than any real "
        "piece needs, so it is probably machine-generated or damaged.")


def _ticks_to_seconds(ticks: int, scan: MidiScan) -> float:
    """Time of `ticks` under the file's tempo changes (or its SMPTE rate)."""
    if scan.smpte is not None:
        fps, per_frame = scan.smpte
        return ticks / (fps * per_frame)
    seconds, last_tick, tempo = 0.0, 0, _DEFAULT_TEMPO
    for at, new_tempo in sorted(scan.tempos):
        if at >= ticks:
            break
        seconds += (at - last_tick) * tempo / 1e6 / scan.ticks_per_beat
        last_tick, tempo = at, new_tempo
    return seconds + (ticks - last_tick) * tempo / 1e6 / scan.ticks_per_beat


def _check_limits(scan: MidiScan, label: str) -> None:
    if scan.notes == 0:
        raise _no_notes(label)
    if scan.seconds > MAX_MIDI_SECONDS:
        raise MidiError(
            f"{_cap(label)} is {_duration(scan.seconds)} long; the longest piece we read is "
            f"{MAX_MIDI_SECONDS / 3600:.0f} hours, so the file is probably damaged.")
    beats = scan.last_note_tick / scan.ticks_per_beat if scan.ticks_per_beat else 0
    if beats > MAX_MIDI_BEATS:
        raise MidiError(
            f"{_cap(label)} is {beats:,.0f} beats long (its tempo is so fast that they pass in "
            f"{_duration(scan.seconds, short=True)}); the longest piece we read is "
            f"{MAX_MIDI_BEATS:,} beats, eight hours at ♩ = 200, so the file is probably damaged.")


def _no_notes(label: str) -> MidiError:
    return MidiError(
        f"{_cap(label)} contains no notes (only settings such as tempo or instrument "
        "names), so there is nothing to play or learn from.")


def _duration(seconds: float, short: bool = False) -> str:
    if short and seconds < 3600:
        return f"{seconds:,.1f} seconds" if seconds < 60 else f"{seconds / 60:,.1f} minutes"
    hours = seconds / 3600
    if hours < 1000:
        return f"{hours:,.1f} hours"
    return f"{hours / 24 / 365:,.0f} years" if hours > 24 * 365 * 10 else f"{hours / 24:,.0f} days"


def _needs_rewrite(scan: MidiScan) -> bool:
    return (scan.smpte is not None or scan.format == 2 or scan.end_tick > MAX_MIDI_TICKS
            or scan.empty_tracks > 0)


def _normalised(data: bytes, scan: MidiScan, label: str):
    """A pretty_midi object for files pretty_midi misreads on its own.

    SMPTE time becomes beats of exactly one second (one frame's worth of ticks × frame rate per
    beat), format 2 patterns are joined one after the other into a single track, and ticks finer
    than `MAX_MIDI_TICKS` allows are scaled to a coarser resolution (after the events past the
    last note are dropped); a track without events gets its end-of-track event. Only called
    after the scan has bounded the file, so mido's objects stay small.
    """
    import mido
    import pretty_midi

    mid = mido.MidiFile(file=io.BytesIO(data))
    for track in mid.tracks:
        if not track:  # an empty track: give it its end, as every track has
            track.append(mido.MetaMessage("end_of_track", time=0))
    if scan.smpte is not None:
        _smpte_to_beats(mid, *scan.smpte)
    if scan.format == 2:
        _join_patterns(mid)
    if _end_tick(mid) > MAX_MIDI_TICKS:
        _drop_after(mid, scan.last_note_tick)
    if _end_tick(mid) > MAX_MIDI_TICKS:
        _coarsen(mid, _end_tick(mid), label)
    return pretty_midi.PrettyMIDI(mido_object=mid)


def _smpte_to_beats(mid, fps: float, ticks_per_frame: int) -> None:
    import mido

    nominal = round(fps)
    for track in mid.tracks:  # tempo changes mean nothing in SMPTE time
        carry = 0
        kept = []
        for msg in track:
            if msg.type == "set_tempo":
                carry += msg.time
                continue
            kept.append(msg.copy(time=msg.time + carry) if carry else msg)
            carry = 0
        track[:] = kept
    mid.ticks_per_beat = nominal * ticks_per_frame
    tempo = round(1e6 * nominal / fps)  # µs per beat of `nominal` frames
    mid.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=tempo, time=0))


def _join_patterns(mid) -> None:
    """Format 2 → format 0: each pattern starts where the previous one ended."""
    import mido

    offset = 0
    for track in mid.tracks:
        length = sum(msg.time for msg in track)
        if track:
            track[0] = track[0].copy(time=track[0].time + offset)
        offset += length
    mid.tracks = [mido.merge_tracks(mid.tracks)]
    mid.type = 0


def _end_tick(mid) -> int:
    """The tick the longest track of `mid` ends at."""
    return max((sum(msg.time for msg in track) for track in mid.tracks), default=0)


def _drop_after(mid, last_tick: int) -> None:
    """Drop the events after `last_tick` (the last note's): controller moves or texts far
    after the music would otherwise set the resolution it is read at, or refuse it."""
    for track in mid.tracks:
        tick, kept = 0, []
        for msg in track:
            tick += msg.time
            if tick <= last_tick:
                kept.append(msg)
            elif msg.type == "end_of_track":
                kept.append(msg.copy(time=max(0, last_tick - (tick - msg.time))))
        track[:] = kept


def _coarsen(mid, end: int, label: str) -> None:
    """Scale all ticks by new/old resolution so that the last tick fits MAX_MIDI_TICKS."""
    old = mid.ticks_per_beat
    new = old * MAX_MIDI_TICKS // end
    if new < 1:  # (the beat limit keeps notes within reach: kept as a last guard)
        raise MidiError(
            f"{_cap(label)} is {end // old:,} beats long, far more than any music; the file "
            "is probably damaged.")
    for track in mid.tracks:
        absolute = rounded = 0
        for i, msg in enumerate(track):
            absolute += msg.time
            scaled = (absolute * new + old // 2) // old
            track[i] = msg.copy(time=scaled - rounded)
            rounded = scaled
    mid.ticks_per_beat = new


def _parse(data: bytes, scan: MidiScan, label: str) -> NoteSequence:
    """Parse with note_seq / pretty_midi, converting *any* failure into a MidiError."""
    try:
        with _PARSE_LOCK, warnings.catch_warnings():
            # pretty_midi warns about harmless things (meta events on non-zero tracks); under
            # `-W error` those warnings would become exceptions and reject good files.
            warnings.simplefilter("ignore")
            if scan.blanked:
                data = _blanked(data, scan)
            source = _normalised(data, scan, label) if _needs_rewrite(scan) else data
            seq = note_seq.midi_to_note_sequence(source)
    except MidiError:
        raise
    except MemoryError:
        raise MidiError(f"{_cap(label)} is too large or damaged to read.") from None
    except Exception as exc:
        raise MidiError(
            f"{_cap(label)} could not be read: it seems damaged or cut off "
            f"({_describe(exc)})."
        ) from exc
    return seq


def _describe(exc: BaseException) -> str:
    """A short technical hint for the end of a friendly message."""
    cause = exc
    text = str(cause).strip()
    if isinstance(exc, EOFError) or "EOF" in text:
        return "the data ends too early"
    if isinstance(exc, note_seq.MIDIConversionError):
        text = text.replace("Midi decoding error", "").strip(" :")
        if "EOFError" in text:
            return "the data ends too early"
    text = text.replace("<class '", "").replace("'>", "")
    return (text[:160] or type(exc).__name__)


def _validate(seq: NoteSequence, label: str, scan: MidiScan | None = None) -> None:
    """Reject sequences that parse but hold nothing usable (or nonsense times)."""
    notes = [n for n in seq.notes if n.velocity > 0]
    if not notes and scan is not None and scan.notes > scan.zero_length:
        raise MidiError(
            f"{_cap(label)} starts {scan.notes:,} note(s) but never says when they end (it has "
            "no matching note-offs), so none can be placed in time. Export the file again from "
            "your music software.")
    if not notes and scan is not None and scan.zero_length:
        raise MidiError(
            f"{_cap(label)} has {scan.zero_length:,} note(s), but every one ends at the very "
            "moment it starts (zero length), so nothing would sound. Give the notes a length in "
            "your music software and export the file again.")
    if not notes:
        raise _no_notes(label)
    for n in seq.notes:
        if not (math.isfinite(n.start_time) and math.isfinite(n.end_time)) or n.start_time < 0:
            raise MidiError(f"{_cap(label)} has notes at impossible times; the file is damaged.")
    for t in seq.tempos:
        if not (math.isfinite(t.qpm) and t.qpm > 0):
            raise MidiError(f"{_cap(label)} has an impossible tempo ({t.qpm}); it is damaged.")
    if not math.isfinite(seq.total_time):
        raise MidiError(f"{_cap(label)} has an impossible length; the file is damaged.")
    if seq.total_time > MAX_MIDI_SECONDS:
        raise MidiError(
            f"{_cap(label)} lasts {seq.total_time / 3600:.1f} hours; songs longer than "
            f"{MAX_MIDI_SECONDS / 3600:.0f} hours are almost certainly damaged files."
        )


def load_midi(source: MidiSource, *, max_bytes: int | None = None) -> NoteSequence:
    """Read a MIDI file (path or bytes) into a NoteSequence.

    Raises `FileNotFoundError` for a missing path and `MidiError` for anything that is not a
    usable MIDI file: empty, too big, too many notes or events, too long (all checked before
    parsing), text, damaged, truncated, or without notes. Damaged settings the file can do
    without (a tempo of zero, an impossible time signature, an oversized text) are left out,
    told by a `MidiWarning`. Thread-safe; bounded in time and memory by the limits above.
    """
    seq, notes = read_midi(source, max_bytes=max_bytes)
    for note in notes:
        warnings.warn(note, MidiWarning, stacklevel=2)
    return seq


def read_midi(source: MidiSource, *, max_bytes: int | None = None) -> tuple[NoteSequence, list[str]]:
    """`load_midi`, with what it left out returned as sentences instead of warned (no
    process-wide warning state is touched, so threads can each keep their own)."""
    limit = max_midi_bytes(max_bytes)
    data, label = _read_source(source, limit)
    data = _unwrap_rmid(data)
    _check_header(data, label)
    scan = scan_midi(data, label)
    _check_limits(scan, label)
    seq = _parse(data, scan, label)
    _validate(seq, label, scan)
    for info in seq.instrument_infos:  # names are printed to terminals and pages
        info.name = printable(info.name)
    if isinstance(source, (str, os.PathLike)):
        seq.filename = os.fspath(source)
    return seq, [_ignored_note(label, scan.ignored)] if scan.ignored else []


def to_midi_bytes(seq: NoteSequence) -> bytes:
    """Write a NoteSequence as Standard MIDI File bytes (for download / export)."""
    if not isinstance(seq, NoteSequence):
        raise TypeError(f"to_midi_bytes expects a NoteSequence, not {type(seq).__name__}.")
    for n in seq.notes:
        if not 0 <= n.pitch <= 127 or not 0 <= n.velocity <= 127:
            raise MidiError(
                f"A note has pitch {n.pitch} / velocity {n.velocity}; MIDI allows only 0-127."
            )
        if not (math.isfinite(n.start_time) and math.isfinite(n.end_time)) or n.start_time < 0:
            raise MidiError("A note has an impossible time (negative or infinite).")
    seq = _tempos_in_midi_range(seq)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = note_seq.note_sequence_to_pretty_midi(seq)
            buf = io.BytesIO()
            pm.write(buf)
            data = _last_to(buf.getvalue(), pm.time_to_tick(seq.total_time))
    except Exception as exc:
        raise MidiError(f"Could not write this music as MIDI ({_describe(exc)}).") from exc
    return data


#: Tempos (quarter notes a minute) a MIDI file can hold: 1 to 16,777,215 µs per beat, with a
#: margin for rounding.
_MIDI_QPM = (60e6 / 0xFFFFFF * (1 + 1e-6), 60e6 * (1 - 1e-6))


def _tempos_in_midi_range(seq: NoteSequence) -> NoteSequence:
    """`seq`, or a copy whose tempos are moved into the range a MIDI file can hold (a damaged
    input's tempo, taken by its samples, may lie outside it). Notes keep their times."""
    low, high = _MIDI_QPM
    if all(low <= t.qpm <= high for t in seq.tempos):
        return seq
    out = NoteSequence()
    out.CopyFrom(seq)
    for t in out.tempos:
        t.qpm = min(max(t.qpm, low), high)
    return out


def _last_to(data: bytes, end_tick: int) -> bytes:
    """MIDI file bytes whose tracks all end at `end_tick` or later: pretty_midi ends each track
    one tick after its last event, which would cut a sample's closing rests and make it loop
    early in a sequencer."""
    import mido

    mid = mido.MidiFile(file=io.BytesIO(data))
    changed = False
    for track in mid.tracks:
        length = sum(message.time for message in track)
        if track and track[-1].type == "end_of_track" and length < end_tick:
            track[-1].time += end_tick - length
            changed = True
    if not changed:
        return data
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()
