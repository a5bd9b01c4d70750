"""Hostile MIDI files and a watcher that reads them under time and memory limits: `read_midi`,
then, for a file that loads, cutting it into the default model's excerpts (`prepare_song`), as
the command line and the panel do before any model is loaded.

Each load runs in a long-lived child process; the watcher (this process) samples the child's
processor time and resident memory while it works, killing it when it has computed for more than
`TIME_LIMIT_S` or grown more than `MEMORY_LIMIT_BYTES` above what it used before the load.
Processor time (not wall time) is what the time limit counts, so a busy shared machine does not
turn a bounded load into a failure; a wall-clock guard `WALL_LIMIT_S` still catches hangs.
The peak is also read from the kernel's high-water mark (`VmHWM`, reset before every load through
`/proc/<pid>/clear_refs`), so a short spike between two samples still counts.

Used by tests/test_fuzz_limits.py (a small corpus, in CI) and scripts/fuzz_midi.py (≥ 10,000
inputs, by hand).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import re
import struct
import time
import traceback

TIME_LIMIT_S = 10.0
WALL_LIMIT_S = 60.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MEMORY_LIMIT_BYTES = 1 << 30
_POLL_S = 0.005
_START_TIMEOUT_S = 120.0


# -- building Standard MIDI Files byte by byte (fast enough for a million notes) ----------------

def vlq(value: int) -> bytes:
    """A MIDI variable-length quantity (7 bits a byte, high bit = more follow)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def track(body: bytes, end: bool = True) -> bytes:
    if end:
        body += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(*tracks: bytes, fmt: int = 1, division: int = 480) -> bytes:
    """A Standard MIDI File; `division` is ticks per beat, or the raw 16-bit SMPTE word."""
    header = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division & 0xFFFF)
    return header + b"".join(tracks)


TEMPO_120 = b"\x00\xff\x51\x03\x07\xa1\x20"


def melody_events(count: int, step: int = 240, length: int = 200, channel: int = 0) -> bytes:
    """`count` notes of `length` ticks, one every `step` ticks, with running status."""
    on = 0x90 | channel
    parts = [b"\x00", bytes([on])]
    for i in range(count):
        pitch = 60 + (i * 7) % 24
        if i:
            parts.append(vlq(step - length))
        parts.append(bytes([pitch, 90]))
        parts.append(vlq(length))
        parts.append(bytes([pitch, 0]))
    return b"".join(parts)


def huge_delta_file() -> bytes:
    """72-ish bytes: one note, then delta times of 2^28 - 1 ticks (the largest a VLQ allows)."""
    body = TEMPO_120 + b"\x00\x90\x3c\x50" + b"\xff\xff\xff\x7f\x80\x3c\x00" * 3
    return smf(track(body), fmt=0, division=96)


def million_notes_file(count: int = 1_000_000) -> bytes:
    """~6 MB: `count` notes a tick apart (delta 1 + note on; delta 0 + note off, running status)."""
    one = b"\x3c\x50\x00\x3c\x00\x01"
    body = TEMPO_120 + b"\x00\x90" + one * count
    return smf(track(body), fmt=0, division=96)


def controller_storm_file(size: int = 80_000) -> bytes:
    """~80 KB of controller changes at tick 0, around one note."""
    storm = b"\x00\xb0" + b"\x07\x40\x00" * (size // 3)
    body = TEMPO_120 + b"\x00\x90\x3c\x50" + storm[:-1] + b"\x83\x60\x80\x3c\x00"
    return smf(track(body), fmt=0)


def long_melody_file(hours: float = 2.0) -> bytes:
    """A melody of sixteenth notes at 120 bpm lasting `hours` (57,600 notes for 2 hours)."""
    count = int(hours * 3600 * 8)
    return smf(track(TEMPO_120), track(melody_events(count, step=120, length=100)))


def format2_file() -> bytes:
    """Format 2: three independent one-track patterns."""
    return smf(*(track(TEMPO_120 + melody_events(16, channel=i)) for i in range(3)), fmt=2)


def smpte_file(fps: int = 25, ticks_per_frame: int = 40) -> bytes:
    """SMPTE timing: the division word is -fps (high byte) and ticks per frame (low byte)."""
    division = ((256 - fps) << 8) | ticks_per_frame
    return smf(track(melody_events(16, step=500, length=400)), fmt=0, division=division)


def zero_length_file() -> bytes:
    """Notes whose note-off comes at the same tick as their note-on."""
    return smf(track(TEMPO_120 + melody_events(8, step=240, length=0)), fmt=0)


def fourteen_hours_file() -> bytes:
    """One note lasting 14 hours at 120 bpm and 96 ticks per beat (9,676,800 ticks)."""
    ticks = 14 * 3600 * 2 * 96
    body = TEMPO_120 + b"\x00\x90\x3c\x50" + vlq(ticks) + b"\x80\x3c\x00"
    return smf(track(body), fmt=0, division=96)


def truncated_file() -> bytes:
    data = long_melody_file(hours=0.01)
    return data[: len(data) * 2 // 3]


def tempo_event(us_per_beat: int) -> bytes:
    return b"\x00\xff\x51\x03" + us_per_beat.to_bytes(3, "big")


def time_signature_event(numerator: int, denominator_power: int) -> bytes:
    return b"\x00\xff\x58\x04" + bytes([numerator, denominator_power, 24, 8])


def absurd_tempo_file() -> bytes:
    """8 KB: the finest resolution, a tempo of 1 µs a beat and the longest deltas: 16 seconds
    of music that hold 16 million beats (the length check in seconds alone lets it through)."""
    note = vlq(0x0FFFFFFF) + b"\x90\x3c\x64" + vlq(0x0FFFFFFF) + b"\x80\x3c\x00"
    return smf(track(tempo_event(1) + note * 1000), fmt=0, division=0x7FFF)


def tiny_bars_file() -> bytes:
    """5,200 notes over 98,800 beats at 600 beats a minute in 1/64 time: 400,000 bars of one
    16th-note step each, far more than fit in memory as excerpts."""
    body = tempo_event(100_000) + time_signature_event(1, 6)
    return smf(track(body + melody_events(5200, step=480 * 19, length=400)), fmt=0)


def damaged_settings_file() -> bytes:
    """A tune with a tempo of zero, a tempo with no value, a 0/4 time signature, a key
    signature of 128 flats and a 1.5 MB system-exclusive message (more than mido reads)."""
    sysex = b"\x00\xf0" + vlq(1_500_001) + b"\x01" * 1_500_000 + b"\xf7"
    settings = (tempo_event(0) + b"\x00\xff\x51\x00" + time_signature_event(0, 2)
                + b"\x00\xff\x59\x02\x80\x00" + sysex)
    return smf(track(settings + melody_events(32)), fmt=0)


def tempo_storm_file() -> bytes:
    """100,000 tempo changes a tick apart, then 200 notes: every note used to look through every
    tempo to find its own (minutes of work)."""
    tempos = b"".join(b"\x01\xff\x51\x03" + (300_000 + i % 400_000).to_bytes(3, "big")
                      for i in range(100_000))
    return smf(track(tempos), track(TEMPO_120 + melody_events(200)))


def damaged_in_many_tracks_file() -> bytes:
    """9,000 tracks of 7 damaged tempos each after one tune: 63,000 settings to blank, each
    once looked up among all the tracks."""
    damaged = track(b"\x00\xff\x51\x00" * 7)
    return smf(track(TEMPO_120 + melody_events(16)), *([damaged] * 9000))


def empty_track_length_file() -> bytes:
    """A track whose length field says 0 though notes follow it: the readers see no notes."""
    body = TEMPO_120 + melody_events(16) + b"\x00\xff\x2f\x00"
    return smf(b"MTrk" + struct.pack(">I", 0) + body, fmt=0)


HOSTILE = {
    "huge_delta": huge_delta_file,
    "million_notes": million_notes_file,
    "controller_storm": controller_storm_file,
    "two_hour_melody": long_melody_file,
    "format_2": format2_file,
    "smpte": smpte_file,
    "zero_length_notes": zero_length_file,
    "fourteen_hours": fourteen_hours_file,
    "truncated": truncated_file,
    "absurd_tempo": absurd_tempo_file,
    "tiny_bars": tiny_bars_file,
    "damaged_settings": damaged_settings_file,
    "empty_track_length": empty_track_length_file,
    "tempo_storm": tempo_storm_file,
    "damaged_in_many_tracks": damaged_in_many_tracks_file,
}


# -- the watcher -----------------------------------------------------------------------------------

#: Text of a raw Python exception inside what a musician reads (the messages must not have any).
PYTHON_TEXT = re.compile(r"[A-Z]\w*(Error|Exception)\b|Traceback|NoneType|list index|"
                         r"empty sequence|object has no attribute|invalid literal|unpack")

@dataclasses.dataclass
class Outcome:
    """What one load did. `kind`: loaded, MidiError, exception, crash, over_time, over_memory."""

    kind: str
    seconds: float  # processor time the load used
    peak_bytes: int
    detail: str = ""
    wall_seconds: float = 0.0

    @property
    def within_limits(self) -> bool:
        return self.kind not in ("over_time", "over_memory")


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system time of process `pid` (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _worker(conn) -> None:  # runs in the child
    import warnings

    warnings.simplefilter("ignore")
    from midime_widgets.cli.personalize import DEFAULT_MODEL, resolve_model
    from midime_widgets.errors import MidiError
    from midime_widgets.music import read_midi
    from midime_widgets.personalize import prepare_song

    model = resolve_model(DEFAULT_MODEL)  # a description of the default model: no TensorFlow
    conn.send("ready")
    while True:
        data = conn.recv_bytes()
        try:
            seq, notes = read_midi(data)
            detail = f"{len(seq.notes)} notes, {seq.total_time:.1f} s"
            try:
                song = prepare_song(model, seq, name="hostile.mid", notes=notes)
                detail += f"; {len(song.windows)} excerpts; " + " ".join(song.warnings)
            except MidiError as exc:  # nothing the default model reads: said in a sentence
                detail += f"; no excerpts: {exc}; " + " ".join(notes)
        except MidiError as exc:
            memory = _memory_error_in_chain(exc)
            conn.send(("over_memory" if memory else "MidiError", str(exc)))
        except BaseException as exc:
            conn.send(("exception", "".join(traceback.format_exception(exc))[-2000:]))
        else:
            conn.send(("loaded", detail))


def _memory_error_in_chain(exc: BaseException) -> bool:
    """A MemoryError caught inside load_midi means the limits did not stop the allocation."""
    seen = exc
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Watcher:
    """Reads MIDI data in a child process (see the module docstring) under `time_limit` and
    `memory_limit`."""

    def __init__(self, time_limit: float = TIME_LIMIT_S, memory_limit: int = MEMORY_LIMIT_BYTES,
                 wall_limit: float = WALL_LIMIT_S):
        self.time_limit, self.memory_limit = time_limit, memory_limit
        self.wall_limit = wall_limit
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._conn = None

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker, args=(child,), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        try:
            ready = parent.poll(_START_TIMEOUT_S) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise RuntimeError("the load_midi worker did not start")

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.pid is not None:
                self._proc.kill()
                self._proc.join()
            self._proc = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self, data: bytes) -> Outcome:
        if self._proc is None or not self._proc.is_alive():
            self.close()
            self._start()
        pid = self._proc.pid
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current resident size
        baseline = _status_kb(pid, "VmRSS") * 1024
        cpu_start, start = _cpu_seconds(pid), time.perf_counter()
        self._conn.send_bytes(data)
        kind, cpu = None, 0.0
        while True:
            if self._conn.poll(_POLL_S):
                break
            try:
                rss = _status_kb(pid, "VmRSS") * 1024
                cpu = _cpu_seconds(pid) - cpu_start
            except (FileNotFoundError, ProcessLookupError):
                break
            wall = time.perf_counter() - start
            if rss - baseline > self.memory_limit:
                kind, detail = "over_memory", f"resident memory grew by {(rss - baseline) >> 20} MB"
                break
            if cpu > self.time_limit or wall > self.wall_limit:
                kind, detail = "over_time", f"no answer after {cpu:.1f} s ({wall:.1f} s wall)"
                break
            if not self._proc.is_alive():
                break
        wall = time.perf_counter() - start
        try:
            peak = _status_kb(pid, "VmHWM") * 1024 - baseline
            cpu = _cpu_seconds(pid) - cpu_start
        except (FileNotFoundError, ProcessLookupError):
            peak = 0
        if kind is None:
            try:
                kind, detail = self._conn.recv()
            except (EOFError, OSError):
                kind, detail = "crash", f"the worker died (exit code {self._proc.exitcode})"
        if kind in ("over_memory", "over_time", "crash"):
            self.close()
        elif cpu > self.time_limit:
            kind, detail = "over_time", f"answered after {cpu:.1f} s: {detail}"
        elif peak > self.memory_limit:
            kind, detail = "over_memory", f"peak {peak >> 20} MB above baseline: {detail}"
        return Outcome(kind, cpu, max(peak, 0), detail, wall)

