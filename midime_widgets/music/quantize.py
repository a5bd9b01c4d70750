"""Quantization and windowing with the semantics of magenta's MusicVAE converters.

Magenta (models/music_vae/data.py) first splits a song wherever the tempo or time signature
changes, quantizes each piece at 4 steps per quarter note, drops pieces whose bar is not 16 steps
(i.e. not 4/4-like), and slides windows of `slice_bars` bars over each extracted track with a hop
of one bar. The helpers here reproduce those steps on top of note_seq.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar
from collections.abc import Sequence

import note_seq
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

NoteSequence = music_pb2.NoteSequence

STEPS_PER_QUARTER = 4
QUARTERS_PER_BAR = 4
STEPS_PER_BAR = STEPS_PER_QUARTER * QUARTERS_PER_BAR
DEFAULT_QPM = note_seq.DEFAULT_QUARTERS_PER_MINUTE

# Errors magenta treats as "this piece yields nothing". Magenta catches only the first three; the
# Multiple* errors cannot occur after splitting on time changes for well-formed input, and we
# prefer "no windows" to a crash if they ever do.
_QUANTIZE_ERRORS = (
    note_seq.BadTimeSignatureError,
    note_seq.NonIntegerStepsPerBarError,
    note_seq.NegativeTimeError,
    sequences_lib.MultipleTimeSignatureError,
    sequences_lib.MultipleTempoError,
)

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Segment:
    """One piece of a song with a single tempo and time signature.

    `sequence` starts at time 0; `offset` is where it starts in the original song (seconds).
    """

    index: int
    sequence: NoteSequence
    offset: float

    @property
    def qpm(self) -> float:
        return first_qpm(self.sequence)


def first_qpm(seq: NoteSequence) -> float:
    """The tempo at time 0 (magenta reads `tempos[0].qpm`; 120 when the file has none)."""
    return seq.tempos[0].qpm if seq.tempos else DEFAULT_QPM


def split_on_time_changes(seq: NoteSequence, split: bool = True) -> list[Segment]:
    """Split like `sequences_lib.split_note_sequence_on_time_changes` (magenta's presplit)."""
    if not split:
        return [Segment(0, seq, 0.0)]
    pieces = sequences_lib.split_note_sequence_on_time_changes(seq)
    return [
        Segment(i, piece, piece.subsequence_info.start_time_offset)
        for i, piece in enumerate(pieces)
    ]


def quantize(
    seq: NoteSequence,
    steps_per_quarter: int = STEPS_PER_QUARTER,
    steps_per_bar: int | None = STEPS_PER_BAR,
) -> NoteSequence | None:
    """Quantize a single-tempo piece; None where magenta's converters would skip it.

    That is: bad/odd time signatures, negative times, and (when `steps_per_bar` is given) a bar
    length other than `steps_per_bar` steps, e.g. 3/4 pieces for the 16-step models.
    """
    try:
        qseq = note_seq.quantize_note_sequence(seq, steps_per_quarter)
        if steps_per_bar is not None and (
            note_seq.steps_per_bar_in_quantized_sequence(qseq) != steps_per_bar
        ):
            return None
    except _QUANTIZE_ERRORS:
        return None
    return qseq


def steps_per_bar_of(qseq: NoteSequence) -> int:
    return int(sequences_lib.steps_per_bar_in_quantized_sequence(qseq))


def next_search_start(end_step: int, search_start_step: int, steps_per_bar: int) -> int:
    """The first bar boundary at or after `end_step`; magenta measures bars from the original
    search start, not from zero."""
    return end_step + (search_start_step - end_step) % steps_per_bar


def fit_length(events, *, min_bars: int, max_steps_discard: int | None,
               max_steps_truncate: int | None, pad_end: bool) -> bool:
    """magenta's length rules for an extracted Melody / DrumTrack: False when it is shorter than
    `min_bars` or longer than `max_steps_discard`; otherwise True, after truncating it in place
    to `max_steps_truncate` (to a bar boundary when `pad_end`)."""
    if len(events) < events.steps_per_bar * min_bars:
        return False
    if max_steps_discard is not None and len(events) > max_steps_discard:
        return False
    if max_steps_truncate is not None and len(events) > max_steps_truncate:
        length = max_steps_truncate
        if pad_end:
            length -= max_steps_truncate % events.steps_per_bar
        events.set_length(length)
    return True


def window_ends(length: int, slice_steps: int, hop_steps: int) -> range:
    """End indices of the windows magenta slices from an event list of `length` steps.

    magenta: `for i in range(slice_steps, len(l) + 1, steps_per_bar): l[i - slice_steps:i]`.
    """
    return range(slice_steps, length + 1, hop_steps)


def slice_windows(events: Sequence[T], slice_steps: int, hop_steps: int) -> list[tuple[int, tuple]]:
    """Every (start index, window) of `slice_steps` events, hopping `hop_steps`.

    `events` may be a note_seq Melody / DrumTrack: slicing then goes through its constructor,
    exactly as in magenta (which matters for Melody, see converters.MelodyConverter).
    """
    return [
        (end - slice_steps, tuple(events[end - slice_steps : end]))
        for end in window_ends(len(events), slice_steps, hop_steps)
    ]


def step_seconds(qpm: float, steps_per_quarter: int = STEPS_PER_QUARTER) -> float:
    """Length of one quantization step in seconds at tempo `qpm`."""
    return 60.0 / (qpm * steps_per_quarter)


def dedupe_first(items: Sequence[T], key=lambda x: x) -> list[T]:
    """Drop later duplicates, keeping order (magenta dedupes through a `set`, order arbitrary)."""
    seen = set()
    out = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out
