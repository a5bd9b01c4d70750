"""Windows cut from real music: the song's own bar lines, in any metre and tempo.

The models read 16th-note steps (a 2-bar model: 32 steps, written as two 4/4 bars). Magenta's
converters (`converters.py`, kept exact for parity) read only 4/4 songs with one tempo and one
time signature. Real music has 6/8 jigs, 3/4 waltzes, pickups, tempo and metre changes, and files
with no time signature at all. This module cuts such songs for the user-facing path:

1. **The grid.** Note times become 16th-note steps through the song's tempo map (so a tempo
   change moves no note off the grid); a song without a tempo is at 120 qpm.
2. **The bars.** Bar lines come from the time signatures (4/4 where none is given); a bar of
   n/d lasts `n * 16 / d` steps (6/8 = 12, 3/4 = 12, 2/4 = 8, 9/8 = 18). A pickup (anacrusis) is
   found from where the notes of all parts fall: the first bar line is put where the longest
   notes start on it (see `song_grid`, `find_pickup`), and the pickup becomes a bar that begins
   with silence.
3. **The window rule** (`WINDOW_RULE`, chosen by measuring reconstruction on O'Neill's Music of
   Ireland with the default model, see docs/windows.md): each window starts on a bar line and
   holds a phrase: the largest group of 1, 2, 4, 8 … whole bars that fits in the model's steps
   (6/8 and 3/4: 2 bars = 24 steps, 2/4: 4 bars = 32, 3/8: 4 bars = 24, 9/8: 1 bar = 18; a
   16-bar model reads 16 bars of 3/4, not 21), padded with silence to the model's full length,
   which the model reads whole. Samples are decoded to the same bars (`output_steps`). Windows
   hop by one bar, as magenta's do.
4. **Skipped windows.** A window with no note the model can read (rests, drums the model does not
   know) is left out and counted; a song fails only when no window is left.

Every window's `sequence` is written in the song's metre and tempo (`in_metre`), and so are
samples decoded for the song, so a 6/8 tune's samples open in a notation program as 6/8.
"""

from __future__ import annotations

import bisect
import collections
import copy
import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from note_seq.protobuf import music_pb2

from ..errors import MidiError, WindowBudgetError
from .converters import BaseConverter, DrumsConverter, TrioConverter, Window
from .drums import DRUM_PITCH_TO_CLASS
from .quantize import DEFAULT_QPM, STEPS_PER_QUARTER

NoteSequence = music_pb2.NoteSequence

#: How windows are cut (see the module docstring); the others are kept for measuring.
#: "bars": whole bars on bar lines, the model reads only them (`length` = their steps);
#: "bars-padded": the same bars, padded with silence to the model's full length;
#: "phrases-padded": the largest power-of-two group of those bars (phrases come in 1, 2, 4, 8 …
#: bars: 5 bars of 3/8 would cut every 4-bar phrase), padded likewise;
#: "fill": the model's full length from each bar line, whatever the metre;
#: "grid": the song read as 4/4 from its first note, ignoring its metre.
WINDOW_RULES = ("bars", "bars-padded", "phrases-padded", "fill", "grid")
WINDOW_RULE = "phrases-padded"

NO_EVENT, NOTE_OFF = -2, -1  # note_seq's melody events
_TS_EPS = 1e-6


# ---------------------------------------------------------------------------------------------
# Time: tempo map, steps, metres
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Metre:
    """A time signature and its bar length in 16th-note steps."""

    numerator: int = 4
    denominator: int = 4

    @property
    def steps(self) -> int:
        """Bar length in 16th notes."""
        return self.bar_steps()

    def bar_steps(self, steps_per_quarter: int = STEPS_PER_QUARTER) -> int:
        """Bar length in steps of `steps_per_quarter` to the quarter note (at least one)."""
        return max(1, round(self.numerator * 4 * steps_per_quarter / self.denominator))

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


FOUR_FOUR = Metre(4, 4)


def tempo_mark(metre: Metre, qpm: float, up_to: float | None = None) -> str:
    """A metronome mark as a musician writes it: "♩ = 120" (or a range, "♩ = 60 to 120"); in
    compound time (6/8, 9/8, 12/8) the dotted beat, "♩. = 80", the beat a jig is counted in."""
    compound = metre.denominator == 8 and metre.numerator % 3 == 0 and metre.numerator > 3
    beat = 1.5 if compound else 1.0
    marks = [f"{q / beat:.{1 if q / beat < 10 else 0}f}" for q in (qpm, up_to) if q is not None]
    return f"{'♩.' if compound else '♩'} = {' to '.join(marks)}"


@dataclasses.dataclass(frozen=True)
class Bar:
    """One bar on the step grid: first step (negative for a pickup's silent start), steps, metre,
    and its number as a musician counts (a pickup is bar 0)."""

    start: int
    steps: int
    metre: Metre
    number: int


class TempoMap:
    """Seconds ↔ quarter notes ↔ steps through a song's tempo changes (120 qpm without any)."""

    def __init__(self, seq: NoteSequence, steps_per_quarter: int = STEPS_PER_QUARTER):
        self.steps_per_quarter = int(steps_per_quarter)
        tempos = sorted((t for t in seq.tempos if t.qpm > 0), key=lambda t: t.time)
        changes = [(0.0, tempos[0].qpm if tempos else DEFAULT_QPM)]
        for t in tempos:
            if t.time <= changes[-1][0] + _TS_EPS:
                changes[-1] = (changes[-1][0], t.qpm)
            elif t.qpm != changes[-1][1]:
                changes.append((float(t.time), float(t.qpm)))
        self.times = [c[0] for c in changes]
        self.qpms = [c[1] for c in changes]
        self.quarters = [0.0]
        for i in range(1, len(changes)):
            span = self.times[i] - self.times[i - 1]
            self.quarters.append(self.quarters[-1] + span * self.qpms[i - 1] / 60.0)

    def to_quarters(self, time: float) -> float:
        i = max(0, bisect.bisect_right(self.times, time) - 1)
        return self.quarters[i] + (time - self.times[i]) * self.qpms[i] / 60.0

    def to_seconds(self, quarters: float) -> float:
        i = max(0, bisect.bisect_right(self.quarters, quarters) - 1)
        return self.times[i] + (quarters - self.quarters[i]) * 60.0 / self.qpms[i]

    def step(self, time: float) -> int:
        return int(round(self.to_quarters(time) * self.steps_per_quarter))

    def seconds(self, step: float) -> float:
        return self.to_seconds(step / self.steps_per_quarter)

    def qpm_at(self, time: float) -> float:
        return self.qpms[max(0, bisect.bisect_right(self.times, time + _TS_EPS) - 1)]


def metre_changes(seq: NoteSequence, tempo: TempoMap) -> list[tuple[int, Metre]]:
    """(first step, metre) of each stretch of one time signature; 4/4 where the song has none.

    A time signature restated off the current bar grid starts a new stretch too: some files
    mark the bar line after a pickup that way. Time signatures with bars shorter than a quarter
    note (1/16, 1/8, 2/16, ...) are ignored: music has such bars almost never, while notation
    exports leave them behind (e.g. around grace notes), and taken literally they would cut a
    tune into one-step windows.
    """
    changes: list[tuple[int, Metre]] = [(0, FOUR_FOUR)]
    for ts in sorted(seq.time_signatures, key=lambda t: t.time):
        if ts.numerator < 1 or ts.denominator < 1:
            continue
        step, metre = max(0, tempo.step(ts.time)), Metre(int(ts.numerator), int(ts.denominator))
        if metre.bar_steps(tempo.steps_per_quarter) < tempo.steps_per_quarter:
            continue
        last_step, last = changes[-1]
        if step == last_step:
            changes[-1] = (step, metre)
        elif metre != last or (step - last_step) % last.bar_steps(tempo.steps_per_quarter):
            changes.append((step, metre))
    return changes


def find_pickup(onsets: Sequence[tuple[int, int]], bar_steps: int, until: int,
                eighth: int = STEPS_PER_QUARTER // 2) -> int:
    """Where the first bar line falls (0 = no pickup), from notes `(start step, steps)`.

    Musicians put long notes on the downbeat; so the bar line goes where the notes starting on
    it last longest in total (notes before `until`, the next metre change; 8th-note positions
    only). Pickups are short, so one longer than half a bar must weigh 10% more to win; ties
    keep no pickup, as in most MIDI files. On O'Neill's tunes this finds the score's own bar line
    for 72% of tunes (most misses are half a bar off), against 9% for "no pickup".
    """
    weight = np.zeros(bar_steps)
    for start, steps in onsets:
        if start < until:
            weight[start % bar_steps] += min(steps, bar_steps)
    score = {p: weight[p] * (1.0 if p <= bar_steps // 2 else 0.9)
             for p in range(0, bar_steps, max(1, eighth))}
    best = max(score, key=lambda p: (score[p], p == 0))
    return best if score[best] > score[0] else 0


def bar_lines(changes: list[tuple[int, Metre]], end: int, pickup: int = 0,
              steps_per_quarter: int = STEPS_PER_QUARTER) -> list[Bar]:
    """Every bar from the song's start (or its pickup) to step `end`."""
    bars: list[Bar] = []
    number = 0 if pickup else 1
    for k, (start, metre) in enumerate(changes):
        stop = changes[k + 1][0] if k + 1 < len(changes) else max(end, start + 1)
        step, bar = start, metre.bar_steps(steps_per_quarter)
        pickup %= bar
        if k == 0 and pickup:
            step = pickup - bar  # the pickup: a bar that begins before the song
        while step < stop:
            steps = min(bar, stop - step) if k + 1 < len(changes) else bar
            bars.append(Bar(step, steps, metre, number))
            number += 1
            step += steps
    return bars


def majority(values_by_weight: dict) -> object:
    """The key with the largest weight (the first such key on ties)."""
    return max(values_by_weight.items(), key=lambda kv: kv[1])[0]


def in_metre(seq: NoteSequence, metre: Metre, qpm: float, steps: int | None = None) -> NoteSequence:
    """`seq` (at its own single tempo) re-timed to `qpm`, with time signature `metre`. With
    `steps` (16ths), it lasts at least that long: a sample that ends in rests keeps its last
    bars, so it loops in time."""
    out = copy.deepcopy(seq)
    old = out.tempos[0].qpm if out.tempos and out.tempos[0].qpm > 0 else DEFAULT_QPM
    scale = old / qpm
    for n in out.notes:
        n.start_time *= scale
        n.end_time *= scale
    out.total_time *= scale
    if steps is not None:
        out.total_time = max(out.total_time, steps * 60.0 / (STEPS_PER_QUARTER * qpm))
    del out.tempos[:]
    out.tempos.add(time=0.0, qpm=float(qpm))
    del out.time_signatures[:]
    out.time_signatures.add(time=0.0, numerator=metre.numerator, denominator=metre.denominator)
    return out


# ---------------------------------------------------------------------------------------------
# The cut
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SongWindow(Window):
    """A `Window` cut on the song's bar lines (see the module docstring).

    `inputs` / `outputs` always have the model's full length (padded with silence); the model
    reads the first `length` steps. `bar` is the number of its first bar (a pickup is bar 0),
    `bars` how many bars it holds, `steps` its musical length in 16ths. `sequence` holds its notes
    in the song's metre and tempo.
    """

    bar: int = 1
    bars: int = 1
    steps: int = 0
    metre: Metre = FOUR_FOUR
    qpm: float = DEFAULT_QPM


@dataclasses.dataclass(frozen=True)
class SkippedWindow:
    """A window left out: its first bar and why."""

    bar: int
    reason: tuple  # (said of one window, said of several), e.g. SILENT


@dataclasses.dataclass
class SongCut:
    """Windows cut from one song, what was skipped, and the song's (majority) metre and tempo."""

    windows: list
    skipped: list
    metre: Metre
    qpm: float
    total: int  # windows tried, kept + skipped
    tempos: tuple = ()  # (slowest, fastest) qpm of the windows when the tempo changes, else ()
    clear_tempo: bool = True  # `qpm` is the tempo of more windows than any other (not a tie)
    bars_cut: tuple = ()  # (bars read, bars in the song) when a long song was read in part
    shared_budget: bool = False  # the bars read were fewer because other songs came first

    def notes(self) -> list[str]:
        """Everything a musician should know about this cut, one sentence group each: windows
        left out, a tempo that changes, a tempo no musician plays."""
        return [note for note in (self.warning(), self.tempo_change_note(), self.odd_tempo_note())
                if note]

    def odd_tempo_note(self) -> str | None:
        """When the song's tempo is one no musician plays (a file's mistake, or meant for a
        machine), that the samples take it too."""
        low, high = PLAUSIBLE_QPM
        if low <= self.qpm <= high:
            return None
        return (f"Its tempo is {tempo_mark(self.metre, self.qpm)}, far outside the {low} to {high} "
                f"beats a minute music is played at; the samples take it too, so check the file's "
                f"tempo if they sound {'endless' if self.qpm < low else 'like a blur'}.")

    def tempo_change_note(self) -> str | None:
        """When the song's tempo changes, what that means for the samples."""
        if not self.tempos:
            return None
        which = ("the tempo most of its excerpts have" if self.clear_tempo
                 else "the first of the tempos that most of its excerpts share")
        return (f"The tempo changes within this piece ({tempo_mark(self.metre, *self.tempos)}). Notes are "
                f"read in beats, so nothing is lost, but each sample plays at one tempo: here "
                f"{tempo_mark(self.metre, self.qpm)}, {which}.")

    def warning(self) -> str | None:
        """The skipped windows in a musician's words, or None when none was skipped, e.g.
        "2 of 307 excerpts were left out because they are silent (rests only): the excerpts
        starting at bars 161 and 262." (one sentence per reason), after the bars left out of a
        song too long to read whole."""
        by_reason = collections.defaultdict(list)
        for s in self.skipped:
            by_reason[s.reason].append(s.bar)
        sentences = [_skipped_sentence(reason, bars, self.total)
                     for reason, bars in by_reason.items()]
        if self.bars_cut:
            read, total = self.bars_cut
            beside = " beside your other music" if self.shared_budget else ""
            sentences.insert(0, f"This piece has {total:,} bars; excerpts are cut from its first "
                                f"{read:,} only (more would not fit in memory{beside}), far more "
                                "than MidiMe needs to learn its style.")
        return " ".join(sentences) or None


#: Memory the tensors of the windows of all the songs one model learns from together may take; a
#: longer song is read from its start up to the bars that fit (`max_windows`). Real songs need a
#: small fraction of it.
WINDOW_BYTES = 96 * 1024 * 1024


def max_windows(converter: BaseConverter, max_steps: int) -> int:
    """Most windows cut from one song, or from all the songs one model learns from together
    (see `cut_song`'s `window_budget`): as many as fit in
    `WINDOW_BYTES` (8,738 two-bar melody windows, over four hours of 4/4 at ♩ = 120;
    142 sixteen-bar trio windows, five minutes). A window's input tensor is its output tensor
    where their depths agree (melodies, trios)."""
    depth = converter.output_depth
    if converter.input_depth != depth:
        depth += converter.input_depth
    return max(1, WINDOW_BYTES // (max_steps * max(depth, 1) * 4))


def windows_left(converter: BaseConverter, max_steps: int, used: int) -> int:
    """The `window_budget` of a further song when the songs learnt from with it already hold
    `used` windows."""
    return max_windows(converter, max_steps) - used


#: Tempos (quarter notes a minute) musicians play at; outside them a song's note says so.
PLAUSIBLE_QPM = (20, 400)
#: Why a window is skipped, as (one window, several windows).
SILENT = ("it is silent (rests only)", "they are silent (rests only)")
HELD_ONLY = ("no note starts in it (it only holds a note from before)",
             "no note starts in them (they only hold a note from before)")
NO_KNOWN_DRUMS = ("it holds no drum the model knows", "they hold no drum the model knows")


def _skipped_sentence(reason: tuple, bars: list[int], total: int) -> str:
    one = len(bars) == 1
    return (f"{len(bars)} of {total} excerpts {'was' if one else 'were'} left out because "
            f"{reason[0] if one else reason[1]}: the {'excerpt' if one else 'excerpts'} starting "
            f"at {_bar_list(bars)}.")


def _bars_text(n: int) -> str:
    return f"{n} bar" + ("" if n == 1 else "s")


def _bar_list(bars: list[int], shown: int = 8) -> str:
    words = [str(b) for b in bars[:shown]]
    if len(bars) > shown:
        words.append(f"{len(bars) - shown} more")
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return ("bar " if len(bars) == 1 else "bars ") + text


def phrase_bars(fitting: int) -> int:
    """The bars of a phrase-window when `fitting` whole bars fit: the largest of 1, 2, 4, 8 …
    not above it (musical phrases come in such groups)."""
    return 1 << (max(1, fitting).bit_length() - 1)


def _window_bars(fitting: int, rule: str) -> int:
    return phrase_bars(fitting) if rule.startswith("phrases") else max(1, fitting)


def window_spans(bars: list[Bar], max_steps: int, rule: str = WINDOW_RULE):
    """`(first bar index, bars, steps)` of every window `rule` cuts from `bars` (which end with
    the song); none when the song is shorter than one window."""
    spans = []
    song_end = bars[-1].start + bars[-1].steps if bars else 0
    for i, bar in enumerate(bars):
        if rule == "fill":
            steps, j = max_steps, i
            while j < len(bars) and bars[j].start < bar.start + steps:
                j += 1
            complete = bar.start + steps <= song_end
        else:  # whole bars
            steps, j = 0, i
            while j < len(bars) and steps + bars[j].steps <= max_steps:
                steps += bars[j].steps
                j += 1
            if j == i:  # one bar longer than the window: its first steps
                steps, j = max_steps, i + 1
            following = bars[j].steps if j < len(bars) else bars[-1].steps
            ended = j == len(bars) and steps + following <= max_steps  # the song ran out first
            # bars that would fit were the song longer (the last bar's length repeated)
            fitting = (j - i) + ((max_steps - steps) // following if ended else 0)
            wanted = _window_bars(fitting, rule)
            complete = j - i >= wanted
            while j - i > wanted:
                j -= 1
                steps -= bars[j].steps
        if complete:
            spans.append((i, j - i, steps))
    return spans


class _Events:
    """The part the converter reads, as one event per step over the whole song."""

    def __init__(self, converter: BaseConverter, seq: NoteSequence, tempo: TempoMap):
        self.converter = converter
        self.drums = isinstance(converter, DrumsConverter)
        notes = []
        for n in seq.notes:
            if n.velocity <= 0:
                continue
            if self.drums:
                if n.is_drum and n.pitch in DRUM_PITCH_TO_CLASS:
                    notes.append(n)
            elif not n.is_drum and converter._is_valid(n):
                notes.append(n)
        self.spans = []
        for n in notes:
            start = tempo.step(n.start_time)
            self.spans.append((start, max(tempo.step(n.end_time), start + 1), n.pitch))
        self.end = max((e for _, e, _ in self.spans), default=0)
        self.instruments = tuple(sorted({n.instrument for n in notes}))
        self.any_notes = bool(self.spans)
        self._covered = None  # see _sounding
        self.events = self._drum_events() if self.drums else self._melody_events()

    def _melody_events(self) -> list:
        events = [NO_EVENT] * self.end
        spans = sorted(self.spans, key=lambda s: (s[0], -s[2]))
        starts = [s for s, _, _ in spans]
        for k, (start, end, pitch) in enumerate(spans):
            if k and starts[k - 1] == start:
                continue  # a lower note of a chord: the model plays one note at a time
            following = bisect.bisect_right(starts, start)  # the next note that starts later
            stop = end if following == len(starts) else min(end, starts[following])
            events[start] = pitch
            if stop < self.end and events[stop] == NO_EVENT:
                events[stop] = NOTE_OFF
        return events

    def _drum_events(self) -> list:
        hits = [set() for _ in range(self.end)]
        for start, _, pitch in self.spans:
            hits[start].add(DRUM_PITCH_TO_CLASS[pitch])
        return [frozenset(h) for h in hits]

    def window(self, start: int, steps: int, total: int) -> list:
        """Events of `steps` steps from `start` (silence outside the song), padded to `total`."""
        silent = frozenset() if self.drums else NO_EVENT
        out = [self.events[t] if 0 <= t < self.end else silent for t in range(start, start + steps)]
        if not self.drums and out and out[0] == NOTE_OFF:
            out[0] = NO_EVENT  # a note-off before any note means nothing (as in magenta)
        return out + [silent] * (total - steps)

    def empty_reason(self, events: list, start: int) -> tuple | None:
        """Why the window of `events` from step `start` holds nothing to learn, or None."""
        if self.drums:
            return None if any(events) else NO_KNOWN_DRUMS
        if any(e >= 0 for e in events):
            return None
        return HELD_ONLY if self._sounding(start, start + len(events)) else SILENT

    def _sounding(self, start: int, end: int) -> bool:
        """Whether a note sounds anywhere in steps [start, end) (prefix sums of the steps any
        note covers, built once: a long song has thousands of windows to ask about)."""
        if self._covered is None:
            depth = np.zeros(self.end + 1, dtype=np.int64)
            for a, b, _ in self.spans:
                depth[a] += 1
                depth[b] -= 1
            covered = np.cumsum(depth)[:-1] > 0
            self._covered = np.concatenate([[0], np.cumsum(covered)])
        start, end = max(start, 0), min(end, self.end)
        return end > start and self._covered[end] > self._covered[start]

    def encode(self, events: list) -> tuple[np.ndarray, np.ndarray]:
        if self.drums:
            out = self.converter.encode_outputs(events)
            return self.converter.encode_inputs(events, out), out
        tensor = self.converter.encode_events(events)
        return tensor, tensor


def song_grid(seq: NoteSequence, *, pickup: int | None = None,
              steps_per_quarter: int = STEPS_PER_QUARTER, end: int | None = None):
    """(tempo map, bars, end step) of `seq`, bars up to step `end` (default: its last note).

    `pickup` is the step of the first bar line (0: no pickup). None finds it: from a time
    signature restated within the first bar, else 0 when the music starts after a rest (the file
    then places its own bar lines, as sequencers write a pickup), else from the notes
    (`find_pickup`).
    """
    spq = int(steps_per_quarter)
    tempo = TempoMap(seq, spq)
    changes = metre_changes(seq, tempo)
    notes = [n for n in seq.notes if n.velocity > 0]
    spans = [(tempo.step(n.start_time), max(1, tempo.step(n.end_time) - tempo.step(n.start_time)))
             for n in notes]
    if end is None:
        end = max((s + d for s, d in spans), default=0)
    if pickup is None and len(changes) > 1 and changes[1][0] < changes[0][1].bar_steps(spq):
        pickup = changes[1][0]  # a stretch shorter than a bar before the first bar line
        changes = [(0, changes[1][1])] + changes[2:]
    until = changes[1][0] if len(changes) > 1 else end
    first = changes[0][1]
    if pickup is None and (not spans or min(s for s, _ in spans) > 0):
        pickup = 0
    if pickup is None:
        pickup = find_pickup(spans, first.bar_steps(spq), until, spq // 2)
    return tempo, bar_lines(changes, end, pickup, spq), end


def cut_song(converter: BaseConverter, seq: NoteSequence, *, max_steps: int | None = None,
             rule: str = WINDOW_RULE, pad_length: bool | None = None,
             pickup: int | None = None, grid_from: NoteSequence | None = None,
             window_budget: int | None = None) -> SongCut:
    """Cut `seq` into windows on its bar lines, in any metre (see the module docstring).

    `converter` gives the encoding (melody or drums; a trio is cut on a 4/4 grid of the
    re-timed song by its own converter). `max_steps` defaults to the converter's window length.
    `rule` is one of `WINDOW_RULES`; only "bars" lets the model read just the window's musical
    steps (`length`), unless `pad_length` (hierarchical encoders read their full length).
    `pickup`: see `song_grid`. `grid_from` is the whole song when `seq` is one part of it (the
    melody line): all its parts place the bar lines (accompaniment marks downbeats well).
    `window_budget`: the windows still free in `max_windows` when other songs are learnt from
    together with this one (None: this song alone). Raises MidiError with the reason when no
    window is left.
    """
    if rule not in WINDOW_RULES:
        raise ValueError(f"rule must be one of {WINDOW_RULES}, got {rule!r}.")
    if not isinstance(seq, NoteSequence):
        raise TypeError(f"Expected a NoteSequence, got {type(seq).__name__}.")
    max_steps = int(max_steps or converter.max_steps or 0)
    if max_steps < 1:
        raise ValueError("cut_song needs a converter with a window length (slice_bars).")
    if isinstance(converter, TrioConverter):
        return _cut_on_grid(converter, seq, window_budget)
    spq = converter.steps_per_quarter
    tempo = TempoMap(seq, spq)
    events = _Events(converter, seq, tempo)
    if not events.any_notes:
        raise MidiError(f"No {converter.describe()} can be cut from this song: "
                        + converter._no_windows_reason(seq))
    if rule == "grid":
        first = min(s for s, _, _ in events.spans)
        bar = converter.steps_per_bar
        first -= first % bar
        bars = [Bar(first + k * bar, bar, FOUR_FOUR, k + 1)
                for k in range(math.ceil((events.end - first) / bar))]
    else:
        part_end = max(tempo.step(n.end_time) for n in seq.notes if n.velocity > 0)
        _, bars, _ = song_grid(seq if grid_from is None else grid_from, pickup=pickup,
                               steps_per_quarter=spq, end=part_end)
    total = max_windows(converter, max_steps)
    most, shared = _window_limit(total, window_budget)
    bars_cut = ()
    if len(bars) > most:
        bars_cut = (most, len(bars))
        bars = bars[:most]
    budget_cut = shared and bool(bars_cut)  # fewer bars read because other songs came first
    spans = window_spans(bars, max_steps, rule.removesuffix("-padded"))
    if not spans and budget_cut:
        raise _no_room(total)
    if not spans:
        metre = bars[0].metre if bars else FOUR_FOUR
        need = _window_bars(max_steps // metre.bar_steps(spq), rule)
        raise MidiError(f"No {converter.describe()} can be cut from this song: it lasts "
                        f"{_bars_text(len(bars))} of {metre}, and the model reads "
                        f"{_bars_text(need)} of it at a time.")
    kept, skipped = [], []
    metre_weight: dict = collections.Counter()
    qpm_weight: dict = collections.Counter()
    for i, count, steps in spans:
        bar = bars[i]
        window_events = events.window(bar.start, steps, max_steps)
        reason = events.empty_reason(window_events[:steps], bar.start)
        if reason:
            skipped.append(SkippedWindow(bar.number, reason))
            continue
        inputs, outputs = events.encode(window_events)
        start_time = tempo.seconds(bar.start)  # before 0 for a pickup's silent start
        end_time = tempo.seconds(bar.start + steps)
        qpm = tempo.qpm_at(max(start_time, 0.0))
        length = max_steps if (pad_length or rule in ("bars-padded", "phrases-padded", "fill", "grid")) else steps
        decoded = converter._decode_one(outputs[:steps])
        kept.append(SongWindow(
            inputs=inputs, outputs=outputs, length=length, segment=0, start_step=bar.start,
            start_time=start_time, end_time=end_time,
            instruments=events.instruments, sequence=in_metre(decoded, bar.metre, qpm),
            bar=bar.number, bars=count, steps=steps, metre=bar.metre, qpm=qpm))
        metre_weight[bar.metre] += 1
        qpm_weight[round(qpm, 3)] += 1
    if not kept and budget_cut:  # the bars the other songs left free hold nothing
        raise _no_room(total)
    if not kept:
        reasons = sorted({s.reason[1] for s in skipped})
        raise MidiError(f"No {converter.describe()} can be cut from this song: all "
                        f"{len(skipped)} excerpts were left out because " + " or ".join(reasons)
                        + ".")
    metre = majority(metre_weight)
    slow, fast = min(qpm_weight), max(qpm_weight)
    tempos = (slow, fast) if fast > slow * 1.01 else ()  # not a rounding step between equal tempos
    top = sorted(qpm_weight.values(), reverse=True)
    return SongCut(kept, skipped, metre, float(majority(qpm_weight)), len(kept) + len(skipped),
                   tempos, len(top) < 2 or top[0] > top[1], bars_cut, budget_cut)


def _cut_on_grid(converter: TrioConverter, seq: NoteSequence,
                  window_budget: int | None = None) -> SongCut:
    """A trio's windows: the song re-timed to one tempo and read as 4/4, by its converter."""
    tempo = TempoMap(seq)
    flat = copy.deepcopy(seq)
    for n in flat.notes:
        n.start_time = tempo.to_quarters(n.start_time) * 60.0 / DEFAULT_QPM
        n.end_time = tempo.to_quarters(n.end_time) * 60.0 / DEFAULT_QPM
    total = max_windows(converter, converter.max_steps)
    most, shared = _window_limit(total, window_budget)
    bars_cut = _keep_first_bars(flat, most, converter.steps_per_bar)
    budget_cut = shared and bool(bars_cut)
    flat.total_time = max((n.end_time for n in flat.notes), default=0.0)
    del flat.tempos[:]
    flat.tempos.add(time=0.0, qpm=DEFAULT_QPM)
    del flat.time_signatures[:]
    flat.time_signatures.add(time=0.0, numerator=4, denominator=4)
    try:
        windows = converter.windows(flat, limit=most)  # MidiError with the reason when none
    except MidiError:
        if budget_cut:  # the other songs left too few bars for one window
            raise _no_room(total) from None
        raise
    qpm = tempo.qpms[0]
    changes = metre_changes(seq, tempo)
    for w in windows:
        w.start_time = tempo.to_seconds(w.start_time * DEFAULT_QPM / 60.0)
        w.end_time = tempo.to_seconds(w.end_time * DEFAULT_QPM / 60.0)
    return SongCut(windows, [], changes[0][1], qpm, len(windows), bars_cut=bars_cut,
                   shared_budget=budget_cut)


def _window_limit(most: int, budget: int | None) -> tuple:
    """(windows this song may give of the model's `most`, whether other songs' windows made
    them fewer); WindowBudgetError when they left none."""
    if budget is None or budget >= most:
        return most, False
    if budget <= 0:
        raise _no_room(most)
    return budget, True


def _no_room(most: int) -> WindowBudgetError:
    return WindowBudgetError(
        f"Your other files already give the most excerpts a model learns from at once "
        f"({most:,}), so this one would add none; personalize it on its own or with fewer files.")


def _keep_first_bars(flat: NoteSequence, bars: int, steps_per_bar: int) -> tuple:
    """Drop the notes of `flat` (4/4 at `DEFAULT_QPM`) after its first `bars` bars; returns
    (bars kept, bars in the song) when some were dropped, else ()."""
    bar_seconds = steps_per_bar * 60.0 / (DEFAULT_QPM * STEPS_PER_QUARTER)
    total = math.ceil(max((n.end_time for n in flat.notes), default=0.0) / bar_seconds)
    if total <= bars:
        return ()
    end = bars * bar_seconds
    kept = []
    for n in flat.notes:
        if n.start_time < end:
            kept.append(music_pb2.NoteSequence.Note())
            kept[-1].CopyFrom(n)
            kept[-1].end_time = min(n.end_time, end)
    del flat.notes[:]
    flat.notes.extend(kept)
    return bars, total


def song_windows(converter: BaseConverter, seq: NoteSequence, **options) -> list[SongWindow]:
    """Just the windows of `cut_song` (MidiError when none is left)."""
    return cut_song(converter, seq, **options).windows


def output_steps(metre: Metre, max_steps: int, steps_per_quarter: int = STEPS_PER_QUARTER,
                 rule: str = WINDOW_RULE) -> int:
    """Steps of the bars of `metre` a window holds under `rule` (at least one bar's worth, at
    most `max_steps`): the length samples are decoded to for a song in that metre."""
    bar = metre.bar_steps(steps_per_quarter)
    return min(max_steps, _window_bars(max_steps // bar, rule) * bar)


#: Metres a musician meets most, in the order `sample_lengths` names them.
COMMON_METRES = tuple(Metre(n, d) for n, d in ((4, 4), (3, 4), (6, 8), (2, 4), (3, 8), (2, 2),
                                                 (9, 8), (5, 4), (12, 8), (4, 2)))


def sample_lengths(max_steps: int, steps_per_quarter: int = STEPS_PER_QUARTER) -> str:
    """How many bars a sample of a `max_steps` model holds in the common metres, in words:
    "2 bars of 4/4, 3/4 or 6/8; 4 bars of 2/4 or 3/8; 1 bar of 5/4, 12/8 or 4/2"."""
    by_bars: dict[float, list[str]] = {}
    for metre in COMMON_METRES:
        bars = output_steps(metre, max_steps, steps_per_quarter) / metre.bar_steps(steps_per_quarter)
        by_bars.setdefault(bars, []).append(str(metre))
    parts = []
    for bars, metres in by_bars.items():
        names = metres[0] if len(metres) == 1 else ", ".join(metres[:-1]) + " or " + metres[-1]
        count = f"{bars:g} bar{'' if bars == 1 else 's'}"
        parts.append(f"{count} of {names}")
    return "; ".join(parts)
