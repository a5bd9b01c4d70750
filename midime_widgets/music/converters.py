"""NoteSequence <-> tensor converters for MusicVAE (melody, drums, trio).

Behaviour follows magenta's `models/music_vae/data.py` in infer mode (OneHotMelodyConverter,
DrumsConverter(roll_input=True), TrioConverter), re-implemented on note_seq so that neither
magenta nor TensorFlow is needed here. Where magenta has a quirk we keep it (commented "quirk").

Two ways to cut a song:
- `to_tensors(seq, max_tensors=5)`: magenta's semantics (split on tempo/time-signature changes,
  quantize, extract, slide windows, dedupe, keep the first `max_tensors`; None keeps all).
  magenta dedupes through a Python `set`, so its order is arbitrary; ours is first-seen order.
- `windows(seq)`: every window of the whole song in time order, no dedupe and no cap, each with
  its place in the song and the decoded NoteSequence chunk (for personalizing from a song).
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import itertools
import math
from typing import Any, NamedTuple
from collections.abc import Iterable, Sequence

import note_seq
import numpy as np
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from ..errors import MidiError
from .drums import (
    DRUM_EXEMPLAR_PITCHES,
    DRUM_PITCH_TO_CLASS,
    REDUCED_DRUM_PITCH_CLASSES,
    extract_drum_tracks,
    map_drums_to_classes,
)
from .melody import MAX_PITCH, MIN_PITCH, extract_melodies_by_instrument
from .quantize import (
    QUARTERS_PER_BAR,
    STEPS_PER_QUARTER,
    Segment,
    dedupe_first,
    first_qpm,
    quantize,
    slice_windows,
    split_on_time_changes,
    step_seconds,
)

NoteSequence = music_pb2.NoteSequence

OUTPUT_VELOCITY = 80  # magenta's velocity for decoded notes
OUTPUT_QPM = note_seq.DEFAULT_QUARTERS_PER_MINUTE  # decoded sequences are at 120 qpm
MEL_PROGRAMS = range(0, 32)  # piano, chromatic percussion, organ, guitar
BASS_PROGRAMS = range(32, 40)
ELECTRIC_BASS_PROGRAM = 33
MAX_INSTRUMENT_NUMBER = 127


class ConverterTensors(NamedTuple):
    """Encoder inputs, decoder outputs and lengths: lists of float32 `[T, depth]` arrays."""

    inputs: list
    outputs: list
    lengths: list


@dataclasses.dataclass
class Window:
    """One window of a song, as the model sees it.

    `start_time` / `end_time` are seconds in the original song; `sequence` is the window decoded
    back to notes (120 qpm, velocity 80), so `to_tensors(window.sequence)` gives this window again.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    length: int
    segment: int
    start_step: int
    start_time: float
    end_time: float
    instruments: tuple
    sequence: NoteSequence

    def excerpt(self, song: NoteSequence) -> NoteSequence:
        """The original notes of `song` in this window's time span (times start at 0)."""
        return sequences_lib.extract_subsequence(song, self.start_time, self.end_time)


@dataclasses.dataclass
class _Raw:
    """A window before it is wrapped: dedupe key, tensors, position in its segment."""

    key: Any
    inputs: np.ndarray
    outputs: np.ndarray
    start_step: int
    instruments: tuple


def _onehot(indices: Sequence[int], depth: int) -> np.ndarray:
    out = np.zeros((len(indices), depth), np.float32)
    out[np.arange(len(indices)), np.asarray(indices, dtype=np.int64)] = 1.0
    return out


def _as_programs(programs) -> range | frozenset | None:
    """Normalise `valid_programs` (General MIDI program numbers a melody may come from).

    Accepts None (all), a `range`, a JSON-friendly `[start, stop]` pair meaning the half-open
    range (so `[0, 32]` is MelA's programs 0-31), `{"programs": [...]}` for an explicit list of
    any length, or any other collection of 3 or more program numbers.
    """
    if programs is None or isinstance(programs, range):
        return programs
    if isinstance(programs, dict):
        if set(programs) != {"programs"}:
            raise ValueError(f"valid_programs dict must be {{'programs': [...]}}, got {programs}")
        return frozenset(int(p) for p in programs["programs"])
    programs = [int(p) for p in programs]
    if len(programs) == 2:
        if programs[0] >= programs[1]:
            raise ValueError(f"valid_programs [start, stop] needs start < stop, got {programs}")
        return range(programs[0], programs[1])
    return frozenset(programs)


def _programs_spec(programs):
    """The inverse of `_as_programs`, JSON-friendly."""
    if isinstance(programs, range):
        return [programs.start, programs.stop]
    listed = sorted(programs)
    return listed if len(listed) > 2 else {"programs": listed}


class BaseConverter:
    """What every converter shares: bars, steps, splitting, windows and the two public cuts."""

    name: str = "base"
    dedupe = True  # magenta's melody/drum converters dedupe windows; the trio converter does not
    presplit_on_time_changes = True

    def __init__(self, slice_bars: int | None, steps_per_quarter: int = STEPS_PER_QUARTER,
                 quarters_per_bar: int = QUARTERS_PER_BAR, name: str | None = None):
        if slice_bars is not None and int(slice_bars) < 1:
            raise ValueError(f"slice_bars must be a positive number of bars, got {slice_bars}.")
        self.slice_bars = None if slice_bars is None else int(slice_bars)
        self.steps_per_quarter = int(steps_per_quarter)
        self.quarters_per_bar = int(quarters_per_bar)
        self.steps_per_bar = self.steps_per_quarter * self.quarters_per_bar
        if name:
            self.name = name

    # -- shape -------------------------------------------------------------------------------
    @property
    def max_steps(self) -> int | None:
        """Steps per window (`slice_bars` * 16), None for unsliced converters."""
        return None if self.slice_bars is None else self.slice_bars * self.steps_per_bar

    @property
    def slice_steps(self) -> int | None:
        return self.max_steps

    def _truncate_steps(self, whole: bool) -> int | None:
        """magenta's max_steps_truncate (max_bars bars), or None for whole-song windows."""
        max_bars = getattr(self, "max_bars", None)
        return None if whole or not max_bars else self.steps_per_bar * max_bars

    output_split_depths: list[int] = []
    input_depth: int = 0
    output_depth: int = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec})"

    # -- to implement ------------------------------------------------------------------------
    def _segment_windows(self, segment: Segment, whole: bool = False,
                         limit: int | None = None) -> list[_Raw]:
        """Windows of one piece in magenta's order; `whole` lifts the max_bars truncation.
        `limit`: a converter that can make many windows per bar may stop after that many."""
        raise NotImplementedError

    def _decode_one(self, output: np.ndarray) -> NoteSequence:
        raise NotImplementedError

    def _no_windows_reason(self, seq: NoteSequence) -> str:
        return "it has no part the model can read."

    @property
    def spec(self) -> dict:
        raise NotImplementedError

    # -- shared machinery --------------------------------------------------------------------
    def _segments(self, seq: NoteSequence) -> list[Segment]:
        if not isinstance(seq, NoteSequence):
            raise TypeError(f"Expected a NoteSequence, got {type(seq).__name__}.")
        return split_on_time_changes(seq, self.presplit_on_time_changes)

    def to_tensors(self, seq: NoteSequence, *, max_tensors: int | None = 5) -> ConverterTensors:
        """magenta's infer-mode conversion: dedupe per segment, keep the first `max_tensors`.

        Returns empty lists when nothing can be extracted (like magenta); `windows` explains why.
        """
        if max_tensors is not None and max_tensors < 1:
            raise ValueError("max_tensors must be a positive number or None (keep all).")
        kept: list[_Raw] = []
        for segment in self._segments(seq):
            raws = self._segment_windows(segment)
            if self.dedupe:
                raws = dedupe_first(raws, key=lambda r: r.key)
            kept.extend(raws[:max_tensors] if max_tensors else raws)
        if max_tensors:
            kept = kept[:max_tensors]
        return ConverterTensors(
            inputs=[r.inputs for r in kept],
            outputs=[r.outputs for r in kept],
            lengths=[len(r.inputs) for r in kept],
        )

    def windows(self, seq: NoteSequence, *, limit: int | None = None) -> list[Window]:
        """Every window of the song in time order (hop one bar), no dedupe; at most `limit`
        (the first made: a memory bound, see `music.windows.max_windows`).

        Unlike `to_tensors` (magenta cuts each extracted melody / drum track after `max_bars`
        = 100 bars), long songs are windowed to the end. Raises MidiError with the reason when
        the song has no full window.
        """
        found = []
        for segment in self._segments(seq):
            secs = step_seconds(first_qpm(segment.sequence), self.steps_per_quarter)
            left = None if limit is None else limit - len(found)
            if left is not None and left <= 0:
                break
            for raw in self._segment_windows(segment, whole=True, limit=left)[:left]:
                start = segment.offset + raw.start_step * secs
                found.append(
                    Window(
                        inputs=raw.inputs,
                        outputs=raw.outputs,
                        length=len(raw.inputs),
                        segment=segment.index,
                        start_step=raw.start_step,
                        start_time=start,
                        end_time=start + len(raw.inputs) * secs,
                        instruments=raw.instruments,
                        sequence=self._decode_one(raw.outputs),
                    )
                )
        if not found:
            raise MidiError(f"No {self.describe()} can be cut from this song: "
                            + self._no_windows_reason(seq))
        found.sort(key=lambda w: (w.start_time, w.instruments))
        return found

    def chunks(self, seq: NoteSequence) -> list[NoteSequence]:
        """The NoteSequence of every window (see `windows`)."""
        return [w.sequence for w in self.windows(seq)]

    def count_windows(self, seq: NoteSequence) -> int:
        """How many windows `windows(seq)` would give (0 instead of an error)."""
        return sum(len(self._segment_windows(s, whole=True)) for s in self._segments(seq))

    def describe(self) -> str:
        bars = f"{self.slice_bars}-bar " if self.slice_bars else ""
        return f"{bars}{self.kind} window"

    kind = "music"

    def from_tensors(self, outputs: Iterable[np.ndarray]) -> list[NoteSequence]:
        """Decode `[T, output_depth]` arrays (one-hot or logits; argmax per step) to notes."""
        if isinstance(outputs, np.ndarray) and outputs.ndim == 2:
            outputs = [outputs]
        result = []
        for i, out in enumerate(outputs):
            out = np.asarray(out)
            if out.ndim != 2 or out.shape[-1] != self.output_depth:
                raise ValueError(
                    f"Output {i} has shape {out.shape}; {self.name} expects [steps, "
                    f"{self.output_depth}]."
                )
            result.append(self._decode_one(out))
        return result


def _pad_to_total_time(events, total_steps: int) -> None:
    """magenta's pad_to_total_time: pad on the left to step 0, then to the sequence length."""
    events.set_length(len(events) + events.start_step, from_left=True)
    events.set_length(total_steps)


class MelodyConverter(BaseConverter):
    """One-hot monophonic melody: 90 classes (0 = no event, 1 = note off, 2+k = pitch 21+k).

    `MelodyConverter(slice_bars=2, valid_programs=range(0, 32))` is magenta's MelA (2-bar models),
    `MelodyConverter(slice_bars=16)` is MelB (16-bar models).
    """

    kind = "melody"

    def __init__(self, slice_bars: int | None = 2, *, valid_programs=None,
                 min_pitch: int = MIN_PITCH, max_pitch: int = MAX_PITCH,
                 skip_polyphony: bool = False, max_bars: int | None = 100,
                 gap_bars: float | None = 1.0, pad_to_total_time: bool = False,
                 presplit_on_time_changes: bool = True,
                 steps_per_quarter: int = STEPS_PER_QUARTER,
                 quarters_per_bar: int = QUARTERS_PER_BAR, name: str | None = None):
        super().__init__(slice_bars, steps_per_quarter, quarters_per_bar, name)
        self.valid_programs = _as_programs(valid_programs)
        self.min_pitch, self.max_pitch = int(min_pitch), int(max_pitch)
        self.skip_polyphony = skip_polyphony
        self.max_bars = max_bars
        self.gap_bars = gap_bars
        self.pad_to_total_time = pad_to_total_time
        self.presplit_on_time_changes = presplit_on_time_changes
        self.encoding = note_seq.MelodyOneHotEncoding(self.min_pitch, self.max_pitch + 1)
        self.input_depth = self.output_depth = self.encoding.num_classes
        self.output_split_depths = [self.output_depth]
        if not name:
            self.name = f"mel_{slice_bars}bar" if slice_bars else "melody"

    @property
    def spec(self) -> dict:
        spec: dict[str, Any] = {"type": "melody", "slice_bars": self.slice_bars}
        if self.valid_programs is not None:
            spec["valid_programs"] = _programs_spec(self.valid_programs)
        return spec

    def _is_valid(self, note) -> bool:
        if self.valid_programs is not None and note.program not in self.valid_programs:
            return False
        return self.min_pitch <= note.pitch <= self.max_pitch

    def melodies(self, seq: NoteSequence, whole: bool = False) -> tuple[NoteSequence | None, list]:
        """Quantize one piece and extract its (instrument, Melody) pairs, magenta-style.

        `whole=True` skips the truncation to `max_bars`.
        """
        filtered = copy.deepcopy(seq)
        kept = [n for n in filtered.notes if self._is_valid(n)]
        del filtered.notes[:]
        filtered.notes.extend(kept)
        qseq = quantize(filtered, self.steps_per_quarter, self.steps_per_bar)
        if qseq is None:
            return None, []
        found = extract_melodies_by_instrument(
            qseq,
            min_bars=1,
            gap_bars=self.gap_bars or math.inf,
            max_steps_truncate=self._truncate_steps(whole),
            min_unique_pitches=1,
            ignore_polyphonic_notes=not self.skip_polyphony,
            pad_end=True,
        )
        if self.pad_to_total_time:
            for _, melody in found:
                _pad_to_total_time(melody, qseq.total_quantized_steps)
        return qseq, found

    def encode_events(self, events: Sequence[int]) -> np.ndarray:
        return _onehot([self.encoding.encode_event(e) for e in events], self.output_depth)

    def _segment_windows(self, segment: Segment, whole: bool = False,
                         limit: int | None = None) -> list[_Raw]:
        _, found = self.melodies(segment.sequence, whole)
        raws = []
        for instrument, melody in found:
            base = 0 if self.pad_to_total_time else melody.start_step
            if self.slice_steps:
                # quirk kept: magenta slices the Melody object itself, and building a Melody
                # turns NOTE_OFFs before its first note into NO_EVENTs, so a window that starts
                # with a note-off starts with "no event" instead.
                pieces = slice_windows(melody, self.slice_steps, self.steps_per_bar)
            else:
                pieces = [(0, tuple(melody))]
            for start, window in pieces:
                tensor = self.encode_events(window)
                raws.append(_Raw(window, tensor, tensor, base + start, (instrument,)))
        return raws

    def _decode_one(self, output: np.ndarray) -> NoteSequence:
        melody = note_seq.Melody(steps_per_bar=self.steps_per_bar,
                                 steps_per_quarter=self.steps_per_quarter)
        for label in np.argmax(output, axis=-1):
            melody.append(self.encoding.decode_event(int(label)))
        return melody.to_sequence(velocity=OUTPUT_VELOCITY, qpm=OUTPUT_QPM)

    def _no_windows_reason(self, seq: NoteSequence) -> str:
        usable = [n for n in seq.notes if self._is_valid(n) and not n.is_drum and n.velocity]
        if not usable:
            if seq.notes and all(n.is_drum for n in seq.notes):
                return "it contains only drums; a melody model needs a melodic instrument."
            if self.valid_programs is not None:
                return ("none of its notes are played by an instrument this model reads "
                        f"({_programs_text(self.valid_programs)}) within MIDI pitches "
                        f"{self.min_pitch}-{self.max_pitch}.")
            return f"it has no melody notes within MIDI pitches {self.min_pitch}-{self.max_pitch}."
        return _too_short_reason(self, seq)


def _programs_text(programs) -> str:
    if isinstance(programs, range):
        return f"General MIDI programs {programs.start}-{programs.stop - 1}"
    return "General MIDI programs " + ", ".join(str(p) for p in sorted(programs))


def _too_short_reason(conv: BaseConverter, seq: NoteSequence) -> str:
    segments = split_on_time_changes(seq, conv.presplit_on_time_changes)
    four_four = [s for s in segments
                 if quantize(s.sequence, conv.steps_per_quarter, conv.steps_per_bar) is not None]
    if not four_four:
        return (f"the model reads only music with {conv.steps_per_bar // conv.steps_per_quarter} "
                "beats per bar (such as 4/4), and this song has none.")
    return (f"the model needs {conv.slice_bars} full bars in a row (in 4/4, without a silence of "
            f"a bar or more in the {conv.kind} part), and this song is too short or too sparse.")


class DrumsConverter(BaseConverter):
    """Drums: 512-way one-hot output (one bit per drum class) and, with `roll_input`, a 10-d
    input (9 drum-class hits + one bit set on silent steps), as magenta's 2-bar drum models."""

    kind = "drum"

    def __init__(self, slice_bars: int | None = 2, *, roll_input: bool = True,
                 max_bars: int | None = 100, gap_bars: float | None = 1.0,
                 pad_to_total_time: bool = False, presplit_on_time_changes: bool = True,
                 steps_per_quarter: int = STEPS_PER_QUARTER,
                 quarters_per_bar: int = QUARTERS_PER_BAR, name: str | None = None):
        super().__init__(slice_bars, steps_per_quarter, quarters_per_bar, name)
        self.roll_input = roll_input
        self.max_bars = max_bars
        self.gap_bars = gap_bars
        self.pad_to_total_time = pad_to_total_time
        self.presplit_on_time_changes = presplit_on_time_changes
        self.pitch_classes = REDUCED_DRUM_PITCH_CLASSES
        self.num_classes = len(self.pitch_classes)
        # Pitches are mapped to class indices first, so each class is "pitch" i.
        self.encoding = note_seq.MultiDrumOneHotEncoding(
            drum_type_pitches=[(i,) for i in range(self.num_classes)])
        self.output_depth = self.encoding.num_classes  # 2**9 = 512
        self.input_depth = self.num_classes + 1 if roll_input else self.output_depth
        self.output_split_depths = [self.output_depth]
        if not name:
            self.name = f"drums_{slice_bars}bar" if slice_bars else "drums"

    @property
    def spec(self) -> dict:
        return {"type": "drums", "slice_bars": self.slice_bars, "roll_input": self.roll_input}

    def drum_tracks(self, seq: NoteSequence, whole: bool = False) -> tuple[NoteSequence | None, list]:
        """Quantize one piece and extract its drum tracks (pitches as class indices)."""
        qseq = quantize(seq, self.steps_per_quarter, self.steps_per_bar)
        if qseq is None:
            return None, []
        map_drums_to_classes(qseq)
        tracks = extract_drum_tracks(
            qseq,
            min_bars=1,
            gap_bars=self.gap_bars or math.inf,
            max_steps_truncate=self._truncate_steps(whole),
            pad_end=True,
        )
        if self.pad_to_total_time:
            for track in tracks:
                _pad_to_total_time(track, qseq.total_quantized_steps)
        return qseq, tracks

    def encode_outputs(self, events: Sequence[frozenset]) -> np.ndarray:
        return _onehot([self.encoding.encode_event(e) for e in events], self.output_depth)

    def encode_inputs(self, events: Sequence[frozenset], outputs: np.ndarray) -> np.ndarray:
        if not self.roll_input:
            return outputs
        roll = np.zeros((len(events), self.num_classes + 1), np.float32)
        for i, event in enumerate(events):
            for c in event:
                roll[i, c] = 1.0
        roll[:, -1] = ~roll[:, :-1].any(axis=1)  # the NOR bit: 1 on steps without hits
        return roll

    def _segment_windows(self, segment: Segment, whole: bool = False,
                         limit: int | None = None) -> list[_Raw]:
        _, tracks = self.drum_tracks(segment.sequence, whole)
        instruments = tuple(sorted({n.instrument for n in segment.sequence.notes if n.is_drum}))
        raws = []
        for track in tracks:
            base = 0 if self.pad_to_total_time else track.start_step
            if self.slice_steps:
                pieces = slice_windows(track, self.slice_steps, self.steps_per_bar)
            else:
                pieces = [(0, tuple(track))]
            for start, window in pieces:
                out = self.encode_outputs(window)
                raws.append(_Raw(window, self.encode_inputs(window, out), out, base + start,
                                 instruments))
        return raws

    def _decode_one(self, output: np.ndarray) -> NoteSequence:
        events = [
            frozenset(DRUM_EXEMPLAR_PITCHES[c] for c in self.encoding.decode_event(int(label)))
            for label in np.argmax(output, axis=-1)
        ]
        track = note_seq.DrumTrack(events=events, steps_per_bar=self.steps_per_bar,
                                   steps_per_quarter=self.steps_per_quarter)
        return track.to_sequence(velocity=OUTPUT_VELOCITY)

    def _no_windows_reason(self, seq: NoteSequence) -> str:
        drums = [n for n in seq.notes if n.is_drum and n.velocity]
        if not drums:
            return "it has no drum part (drums are on MIDI channel 10)."
        if not any(n.pitch in DRUM_PITCH_TO_CLASS for n in drums):
            return ("its drum notes are none of the 9 drums the model knows (kick, snare, "
                    "hi-hats, toms, crash, ride).")
        return _too_short_reason(self, seq)


class TrioConverter(BaseConverter):
    """Melody | bass | drums, concatenated as 90 | 90 | 512 = 692 one-hot per step.

    Instruments are typed by program (0-31 melody, 32-39 bass) or the drum flag; every
    (melody, bass, drums) combination gives all 16-bar windows (hop one bar) where all three
    play, allowing gaps of up to `gap_bars` bars.
    """

    kind = "trio"
    dedupe = False  # quirk kept: magenta's TrioConverter does not dedupe its windows

    class InstrumentType:
        UNK, MEL, BASS, DRUMS, INVALID = 0, 1, 2, 3, 4

    def __init__(self, slice_bars: int = 16, *, gap_bars: int = 2, max_bars: int = 1024,
                 steps_per_quarter: int = STEPS_PER_QUARTER,
                 quarters_per_bar: int = QUARTERS_PER_BAR, name: str | None = None):
        super().__init__(slice_bars, steps_per_quarter, quarters_per_bar, name)
        self.gap_bars = int(gap_bars)
        self.max_bars = int(max_bars)
        self.melody_converter = MelodyConverter(
            None, gap_bars=None, max_bars=None, pad_to_total_time=True,
            presplit_on_time_changes=False, steps_per_quarter=steps_per_quarter,
            quarters_per_bar=quarters_per_bar)
        self.drums_converter = DrumsConverter(
            None, roll_input=False, gap_bars=None, max_bars=None, pad_to_total_time=True,
            presplit_on_time_changes=False, steps_per_quarter=steps_per_quarter,
            quarters_per_bar=quarters_per_bar)
        self.output_split_depths = [self.melody_converter.output_depth,
                                    self.melody_converter.output_depth,
                                    self.drums_converter.output_depth]
        self.input_depth = self.output_depth = sum(self.output_split_depths)
        self._program_map = {p: self.InstrumentType.MEL for p in MEL_PROGRAMS}
        self._program_map.update({p: self.InstrumentType.BASS for p in BASS_PROGRAMS})
        if not name:
            self.name = f"trio_{slice_bars}bar"

    @property
    def spec(self) -> dict:
        return {"type": "trio", "slice_bars": self.slice_bars, "gap_bars": self.gap_bars}

    def instrument_types(self, qseq: NoteSequence, total_bars: int):
        """Type of each instrument number and the bars each one covers (magenta's rules)."""
        types = np.zeros(MAX_INSTRUMENT_NUMBER + 1, np.uint8)
        coverage = np.zeros((total_bars, MAX_INSTRUMENT_NUMBER + 1), bool)
        for note in qseq.notes:
            i = note.instrument
            if i > MAX_INSTRUMENT_NUMBER:
                continue
            inferred = (self.InstrumentType.DRUMS if note.is_drum
                        else self._program_map.get(note.program, self.InstrumentType.INVALID))
            if not types[i]:
                types[i] = inferred
            elif types[i] != inferred:
                types[i] = self.InstrumentType.INVALID
            start_bar = note.quantized_start_step // self.steps_per_bar
            end_bar = int(np.ceil(note.quantized_end_step / self.steps_per_bar))
            if start_bar >= total_bars:
                continue
            coverage[start_bar:min(end_bar, total_bars), i] = True
        by_type = collections.defaultdict(list)
        for i, t in enumerate(types):
            if t not in (self.InstrumentType.UNK, self.InstrumentType.INVALID):
                by_type[int(t)].append(i)
        return by_type, coverage

    def _encode_instrument(self, seq: NoteSequence, instrument: int, converter) -> np.ndarray | None:
        """The whole-piece tensor of one instrument (padded to the piece length), or None."""
        only = copy.deepcopy(seq)
        notes = [n for n in only.notes if n.instrument == instrument]
        del only.notes[:]
        only.notes.extend(notes)
        raws = converter._segment_windows(Segment(0, only, 0.0))
        return raws[0].outputs if raws else None

    def _segment_windows(self, segment: Segment, whole: bool = False,
                         limit: int | None = None) -> list[_Raw]:
        # The trio's max_bars (1024) only guards memory; it applies to `windows` too.
        seq = segment.sequence
        qseq = quantize(seq, self.steps_per_quarter, self.steps_per_bar)
        if qseq is None:
            return []
        total_bars = min(int(np.ceil(qseq.total_quantized_steps / self.steps_per_bar)),
                         self.max_bars)
        by_type, coverage = self.instrument_types(qseq, total_bars)
        if len(by_type) < 3:
            return []
        T = self.InstrumentType
        # Every instrument is padded to the same whole number of bars through total_time.
        seq = copy.deepcopy(seq)
        seq.total_time = (total_bars * self.steps_per_bar * 60 / first_qpm(seq)
                          / self.steps_per_quarter)
        encoded = {}
        for i in by_type[T.MEL] + by_type[T.BASS]:
            encoded[i] = self._encode_instrument(seq, i, self.melody_converter)
        for i in by_type[T.DRUMS]:
            encoded[i] = self._encode_instrument(seq, i, self.drums_converter)
        for i, tensor in list(encoded.items()):
            if tensor is None:
                coverage[:, i] = False
                del encoded[i]
        # Fill coverage gaps of up to gap_bars bars.
        g = self.gap_bars
        original = coverage.copy()
        for j in range(total_bars):
            coverage[j] = np.any(original[max(0, j - g):min(total_bars, j + g) + 1], axis=0)
        raws = []
        for group in itertools.product(by_type[T.MEL], by_type[T.BASS], by_type[T.DRUMS]):
            group_cov = np.all(coverage[:, group], axis=1)
            # quirk kept: near both ends magenta counts a bar as covered when *any* instrument
            # of the group plays in *any* of the first (last) gap_bars bars.
            group_cov[:g] = np.any(coverage[:g, group])
            group_cov[-g:] = np.any(coverage[-g:, group])
            if not all(i in encoded for i in group):
                continue
            for j in range(total_bars - self.slice_bars + 1):
                if limit is not None and len(raws) >= limit:
                    return raws
                if np.all(group_cov[j:j + self.slice_bars]):
                    lo, hi = j * self.steps_per_bar, (j + self.slice_bars) * self.steps_per_bar
                    tensor = np.concatenate([encoded[i][lo:hi] for i in group], axis=-1)
                    raws.append(_Raw(None, tensor, tensor, lo, tuple(group)))
        return raws

    def _decode_one(self, output: np.ndarray) -> NoteSequence:
        mel_d, bass_d, _ = self.output_split_depths
        mel = self.melody_converter._decode_one(output[:, :mel_d])
        bass = self.melody_converter._decode_one(output[:, mel_d:mel_d + bass_d])
        drums = self.drums_converter._decode_one(output[:, mel_d + bass_d:])
        for n in bass.notes:
            n.instrument = 1
            n.program = ELECTRIC_BASS_PROGRAM
        for n in drums.notes:
            n.instrument = 9
        mel.notes.extend(bass.notes)
        mel.notes.extend(drums.notes)
        mel.total_time = max(mel.total_time, bass.total_time, drums.total_time)
        return mel

    def _no_windows_reason(self, seq: NoteSequence) -> str:
        has_mel = any(not n.is_drum and n.program in MEL_PROGRAMS for n in seq.notes)
        has_bass = any(not n.is_drum and n.program in BASS_PROGRAMS for n in seq.notes)
        has_drums = any(n.is_drum for n in seq.notes)
        missing = [name for name, ok in (("a melody instrument (programs 0-31)", has_mel),
                                         ("a bass (programs 32-39)", has_bass),
                                         ("drums", has_drums)) if not ok]
        if missing:
            return "a trio needs " + " and ".join(missing) + ", and this song lacks it."
        return _too_short_reason(self, seq)


_CONVERTER_TYPES = {
    "melody": MelodyConverter,
    "mel": MelodyConverter,
    "drums": DrumsConverter,
    "drum": DrumsConverter,
    "trio": TrioConverter,
}


def converter_from_spec(spec: dict) -> BaseConverter:
    """Build a converter from a config-table entry.

    Examples: {"type": "melody", "slice_bars": 2, "valid_programs": [0, 32]} (MelA; a 2-item
    list is a half-open range, see `_as_programs`), {"type": "melody", "slice_bars": 16} (MelB),
    {"type": "drums", "slice_bars": 2}, {"type": "trio", "slice_bars": 16, "gap_bars": 2}.
    Any other key is passed to the converter's constructor.
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"A converter spec is a dict with a 'type' key, got {spec!r}.")
    kwargs = dict(spec)
    kind = str(kwargs.pop("type")).lower()
    if kind not in _CONVERTER_TYPES:
        raise ValueError(f"Unknown converter type {kind!r}; expected one of "
                         f"{sorted(set(_CONVERTER_TYPES))}.")
    cls = _CONVERTER_TYPES[kind]
    slice_bars = kwargs.pop("slice_bars", 16 if cls is TrioConverter else 2)
    try:
        return cls(slice_bars, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Bad converter spec {spec!r}: {exc}") from None
