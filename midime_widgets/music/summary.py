"""What is in a MIDI file, as `midime-widgets inspect` prints it."""

from __future__ import annotations

import collections
import dataclasses
import os
import shlex
import warnings

from note_seq.protobuf import music_pb2

from ..errors import MidiError
from .converters import DrumsConverter, MelodyConverter, TrioConverter
from .melody import MelodyChoice, find_melody, prepare_melody, program_name, track_names
from .midi_io import load_midi
from .windows import cut_song

NoteSequence = music_pb2.NoteSequence


def window_converters() -> dict[str, object]:
    """The converters of the public MusicVAE models, by the label `inspect` shows."""
    return {
        "melody 2-bar": MelodyConverter(2, valid_programs=range(0, 32)),
        "melody 16-bar": MelodyConverter(16),
        "drums 2-bar": DrumsConverter(2),
        "trio 16-bar": TrioConverter(16, gap_bars=2),
    }


@dataclasses.dataclass(frozen=True)
class TrackInfo:
    instrument: int
    name: str
    program: int
    is_drum: bool
    note_count: int
    min_pitch: int
    max_pitch: int
    max_polyphony: int  # most notes sounding at once


@dataclasses.dataclass
class MidiSummary:
    """Tracks, tempi, meters, length, chosen melody and window counts of one song."""

    source: str
    duration: float
    tracks: list[TrackInfo]
    tempos: list[tuple[float, float]]  # (seconds, quarter notes per minute)
    time_signatures: list[tuple[float, str]]
    melody: MelodyChoice | None
    melody_note: str  # why there is no melody, or warnings from preparing it
    windows: dict[str, int]  # windows `personalize` reads with each kind of model (see inspect_midi)

    def format(self) -> str:
        tempos = [f"{qpm:g} qpm at {_clock(t)}" for t, qpm in self.tempos[:LISTED_CHANGES]]
        if len(self.tempos) > LISTED_CHANGES:
            qpms = [qpm for _, qpm in self.tempos]
            tempos.append(f"and {len(self.tempos) - LISTED_CHANGES:,} more changes "
                          f"(all between {min(qpms):g} and {max(qpms):g} qpm)")
        metres = [f"{ts} at {_clock(t)}" for t, ts in self.time_signatures[:LISTED_CHANGES]]
        if len(self.time_signatures) > LISTED_CHANGES:
            metres.append(f"and {len(self.time_signatures) - LISTED_CHANGES:,} more changes")
        lines = [f"File: {self.source}", f"Duration: {_clock(self.duration)}",
                 "Tempo: " + ", ".join(tempos), "Time signature: " + ", ".join(metres),
                 "", "Tracks:",
                 f"  {'#':>3}  {'name':<24} {'program':<30} {'notes':>5}  {'pitches':<9} "
                 f"{'most at once':>12}"]
        for tr in self.tracks:
            prog = "drums (channel 10)" if tr.is_drum else f"{tr.program} {program_name(tr.program)}"
            pitches = f"{tr.min_pitch}-{tr.max_pitch}"
            lines.append(f"  {tr.instrument:>3}  {tr.name[:24]:<24} {prog[:30]:<30} "
                         f"{tr.note_count:>5}  {pitches:<9} {tr.max_polyphony:>12}")
        lines.append("")
        if self.melody is not None:
            lines.append(f"Melody track: #{self.melody.instrument} {self.melody.reason}")
            lines.append(f"  (choose another with --track and its name or #, for example "
                         f"--track {shlex.quote(self._other_track())})")
        if self.melody_note:
            lines.append(f"  {self.melody_note}" if self.melody else f"Melody: {self.melody_note}")
        lines.append("")
        lines.append("Excerpts each kind of model learns from (phrases cut on the bar lines, one "
                     "starting on every bar; melody models read the melody track):")
        for label, count in self.windows.items():
            lines.append(f"  {label:<14} {count:>5}")
        return "\n".join(lines)

    def _other_track(self) -> str:
        """The runner-up melody candidate for the hint's example: its name, or its number when
        another track has the same name."""
        others = [c for c in self.melody.candidates if c.instrument != self.melody.instrument]
        other = others[0] if others else self.melody.candidates[0]
        same_name = [t for t in self.tracks if t.name.lower() == other.name.lower()]
        return other.name if len(same_name) == 1 else str(other.instrument)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"


def _max_polyphony(notes) -> int:
    events = sorted([(n.start_time, 1) for n in notes] + [(n.end_time, -1) for n in notes])
    current = best = 0
    for _, delta in events:  # ends sort before starts at the same time
        current += delta
        best = max(best, current)
    return best


def _tracks(seq: NoteSequence) -> list[TrackInfo]:
    names = track_names(seq)  # the names `resolve_track` accepts
    groups = collections.defaultdict(list)
    for n in seq.notes:
        if n.velocity > 0:
            groups[(n.instrument, n.is_drum)].append(n)
    tracks = []
    for (instrument, is_drum), notes in sorted(groups.items()):
        program = collections.Counter(n.program for n in notes).most_common(1)[0][0]
        pitches = [n.pitch for n in notes]
        tracks.append(TrackInfo(
            instrument=instrument,
            name=names[instrument],
            program=program, is_drum=is_drum, note_count=len(notes),
            min_pitch=min(pitches), max_pitch=max(pitches), max_polyphony=_max_polyphony(notes),
        ))
    return tracks


def _changes(events: list[tuple[float, object]]) -> list[tuple[float, object]]:
    """`(time, value)` events in file order → time order, only where the value changes (a file
    that restates its time signature at every section has one), the file's last of events at
    one moment holding, as a player reads it."""
    out: list[tuple[float, object]] = []
    for time, value in sorted(events, key=lambda event: event[0]):
        if out and out[-1][0] == time:
            out[-1] = (time, value)
            if len(out) > 1 and out[-2][1] == value:
                out.pop()
        elif not out or out[-1][1] != value:
            out.append((time, value))
    return out


#: Tempo and time-signature changes `MidiSummary.format` lists one by one; more are counted.
LISTED_CHANGES = 8


def inspect_midi(source) -> MidiSummary:
    """Summarise a song (path, bytes or NoteSequence) for people: see `MidiSummary.format`."""
    if isinstance(source, NoteSequence):
        seq, label = source, source.filename or "(NoteSequence)"
    else:
        seq = load_midi(source)
        label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "(bytes)"
    tempos = _changes([(t.time, t.qpm) for t in seq.tempos]) or [(0.0, 120.0)]
    sigs = _changes([(t.time, f"{t.numerator}/{t.denominator}") for t in seq.time_signatures])
    melody, note, melody_line = None, "", None
    try:
        melody = find_melody(seq)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = prepare_melody(seq, melody.instrument)
        note = " ".join(prepared.warnings)
        melody_line = prepared.sequence
    except MidiError as exc:
        note = str(exc)
    windows = {label_: _window_count(conv, seq, melody_line)
               for label_, conv in window_converters().items()}
    return MidiSummary(
        source=label, duration=seq.total_time, tracks=_tracks(seq), tempos=tempos,
        time_signatures=sigs or [(0.0, "4/4")], melody=melody, melody_note=note, windows=windows,
    )


def _window_count(converter, seq: NoteSequence, melody_line: NoteSequence | None) -> int:
    """How many windows `personalize` reads from `seq` with a model using `converter`: the same
    bar-line cut (`cut_song`), of the chosen melody line for melody models; 0 when none."""
    part = melody_line if converter.kind == "melody" else seq
    if part is None:
        return 0
    try:
        return len(cut_song(converter, part, grid_from=seq).windows)
    except MidiError:
        return 0
