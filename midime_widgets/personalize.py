"""The personalization pipeline: MIDI → windows → MusicVAE `mu` → MidiMe → samples → MusicVAE.

    p = Personalizer(MusicVAE.default())
    p.add_midi("song.mid")            # melody chosen per model type; warnings kept on the song
    p.fit()                           # MidiMe on the windows' MusicVAE codes, until converged
    p.fit(epochs=50, resume=True)     # … and 50 more epochs on the same MidiMe
    samples = p.sample(8, seed=0)     # NoteSequences (+ their MidiMe / MusicVAE codes)
    report = p.novelty(samples)       # copied vs varied windows, closeness to input vs prior

The novelty readout puts numbers on the paper's memorisation-vs-variety trade-off: how many sampled
windows copy an input window exactly, how similar each is to its nearest input window, and whether
the samples' pitch-class and rhythm statistics sit closer to the input than plain MusicVAE prior
samples do. It is one mechanism, :class:`NoveltyIndex`, used both here and by the panel's gallery.

**The copy test.** Every window is put on the 16th-note grid, counted from the window's start:
per step, which notes start there and which are still sounding (by instrument, pitch and drum
flag). A sample copies input window k when its grid equals window k's at every step. Input
windows (`Window.sequence`, `vae.chunks`) and samples (`vae.decode`) are both the model's
one-hot steps decoded at 120 qpm, so their notes lie exactly on the grid and nothing is lost
by rounding. We compare notes rather than per-step output classes because the panel holds only
NoteSequences, and because two class sequences can spell the same notes: a "note off" while
nothing sounds is a no-op (the melody converter even rewrites leading note-offs of the input
windows to "no event"), so a sample that only differs that way sounds identical and is counted
as the copy it is. A shifted copy (same notes, moved by some steps) is *not* exact; its nearest
similarity shows how close it is.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Sequence

import numpy as np

from .errors import MidiError, TrainingError

# note_seq and the MidiMe model are imported inside the functions that need them, so the widgets
# can import the novelty index below without loading them.
if TYPE_CHECKING:
    from note_seq.protobuf.music_pb2 import NoteSequence

    from .models.midime import FitHistory, MidiMe, MidiMeConfig

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16  # a 4/4 bar (music.quantize holds the same; importing it here would load note_seq)
DEFAULT_QPM = 120.0  # every decoded / window sequence is at 120 qpm

#: MusicVAE decoding temperature of personalized samples (and of the prior samples they are
#: compared with), used by `Personalizer.sample`, the CLI and the panel. Chosen by measurement on
#: held-out real tunes with benchmarks/bench_real_music.py.
SAMPLE_TEMPERATURE = 0.5
#: How many plain MusicVAE samples `Personalizer.novelty` compares the personalized ones with.
PRIOR_SAMPLES = 32
#: `Personalizer.sample` draws again, up to this many times, a sample that repeats one of the
#: input windows note for note (MidiMe's space sits on the user's windows, and a MusicVAE that
#: reconstructs them faithfully decodes points near one of them back into that very window), a
#: silent or nearly silent one, or one with the same notes as an earlier sample of the same call.
COPY_REDRAWS = 4
#: A sample is nearly silent (and drawn again) with fewer notes than this share of what the
#: input's typical window plays over as many steps (one held note where the music moves in 8ths).
SPARSE_SHARE = 0.25
#: The novelty verdict calls samples "about as close" as MusicVAE's own when their distance to
#: the input is within this share of the prior samples' (0.28 against 0.30 is no real difference).
ABOUT_AS_CLOSE = 0.1
COMPARISON_WORDS = {"closer": "closer to your music", "about": "about as close",
                    "no": "not closer to your music"}


@dataclasses.dataclass
class InputSong:
    """One user file as the model reads it."""

    name: str
    original: NoteSequence
    sequence: NoteSequence  # what is cut into windows (e.g. the chosen melody line)
    windows: list  # music.windows.SongWindow objects in time order
    warnings: list
    melody_choice: object | None = None  # music.MelodyChoice for melody models
    metre: Any = None  # music.windows.Metre: the song's (majority) time signature
    qpm: float = DEFAULT_QPM  # the song's (majority) tempo
    skipped: list = dataclasses.field(default_factory=list)  # music.windows.SkippedWindow


@dataclasses.dataclass
class Sample:
    """One generated window: its MidiMe code, MusicVAE code, notes and one-hot tensor."""

    z_small: np.ndarray
    z: np.ndarray
    sequence: NoteSequence
    tensor: np.ndarray
    redrawn: int = 0  # earlier draws in its place: copies, silent or repeats (see COPY_REDRAWS)


# ---------------------------------------------------------------------------------------------
# Novelty: one index over the input windows, used by Personalizer.novelty() and the panel
# ---------------------------------------------------------------------------------------------

SILENT_STEP: tuple = ((), ())  # (notes starting here, notes still sounding) of an empty step


def _notes(item: Any) -> Any:
    """The NoteSequence of a NoteSequence, a music.Window or a Sample."""
    return getattr(item, "sequence", item)


def step_seconds(seq: Any) -> float:
    """Length of one 16th-note step of `seq` (its first tempo; 120 qpm when it has none)."""
    qpm = seq.tempos[0].qpm if len(seq.tempos) and seq.tempos[0].qpm > 0 else DEFAULT_QPM
    return 60.0 / qpm / STEPS_PER_QUARTER


def grid_notes(seq: Any) -> list[tuple[int, int, tuple]]:
    """`(start_step, end_step, (instrument, pitch, is_drum))` of every note, on the 16th grid.

    Steps count from time 0 (a window's start); every note lasts at least one step.
    """
    step = step_seconds(seq)
    out = []
    for n in seq.notes:
        start = int(round(n.start_time / step))
        end = max(int(round(n.end_time / step)), start + 1)
        out.append((start, end, (int(n.instrument), int(n.pitch), bool(n.is_drum))))
    return out


def step_grid(seq: Any) -> list[tuple]:
    """Per 16th step from the window start: `(notes starting, notes still sounding)`.

    Each part is a sorted tuple of `(instrument, pitch, is_drum)`; an empty step is
    `SILENT_STEP`. Two windows with equal grids hold the same notes (see the module docstring).
    """
    notes = grid_notes(seq)
    length = max((end for _, end, _ in notes), default=0)
    onsets: list[list] = [[] for _ in range(length)]
    held: list[list] = [[] for _ in range(length)]
    for start, end, key in notes:
        onsets[start].append(key)
        for t in range(start + 1, end):
            held[t].append(key)
    return [(tuple(sorted(o)), tuple(sorted(h))) for o, h in zip(onsets, held)]


def window_fingerprint(seq: Any) -> tuple:
    """The copy key: the step grid with trailing silence dropped (equal keys = exact copy)."""
    return _copy_key(step_grid(_notes(seq)))


def _copy_key(grid: list[tuple]) -> tuple:
    end = len(grid)
    while end and grid[end - 1] == SILENT_STEP:
        end -= 1
    return tuple(grid[:end])


def pitch_class_histogram(seqs: Iterable[Any]) -> np.ndarray:
    """Share of each of the 12 pitch classes over all pitched notes, weighted by duration in
    steps (what you hear: a held tonic counts more than a passing note). Zeros when none."""
    hist = np.zeros(12)
    for seq in seqs:
        for start, end, (_, pitch, is_drum) in grid_notes(_notes(seq)):
            if not is_drum:
                hist[pitch % 12] += end - start
    total = hist.sum()
    return hist / total if total > 0 else hist


#: Positions a rhythm histogram holds: the 16th steps of the longest bar it folds (16/4).
RHYTHM_POSITIONS = 64


def bar_steps(seq: Any) -> int:
    """16th steps in one bar of `seq`, from its first time signature (16, a 4/4 bar, without)."""
    if len(seq.time_signatures):
        sig = seq.time_signatures[0]
        steps = sig.numerator * STEPS_PER_QUARTER * 4 / max(sig.denominator, 1)
        if steps == int(steps) and 0 < steps <= RHYTHM_POSITIONS:
            return int(steps)
    return STEPS_PER_BAR


def rhythm_histogram(seqs: Iterable[Any]) -> np.ndarray:
    """Share of note onsets at each 16th step of a bar, in each sequence's own metre (a 6/8
    window folds on 12 steps), drums included. Zeros when none."""
    hist = np.zeros(RHYTHM_POSITIONS)
    for item in seqs:
        seq = _notes(item)
        bar = bar_steps(seq)
        for start, _, _ in grid_notes(seq):
            hist[start % bar] += 1
    total = hist.sum()
    return hist / total if total > 0 else hist


def note_density(items: Iterable[Any], steps: int = 2 * STEPS_PER_BAR) -> float:
    """Notes per bar: note onsets per bar of each item's own metre (a bar of 3/8 is 6 sixteenth
    steps, of 4/4 16), over whole windows.

    A song's window counts the bars it holds (its ``steps``, silent padding left out); a decoded
    sample the steps it was decoded to (its ``tensor``); another window its ``length``; anything
    else `steps`. 0 when there are no windows.
    """
    notes = bars = 0.0
    for item in items:
        seq = _notes(item)
        notes += len(seq.notes)
        bars += _item_steps(item, steps) / bar_steps(seq)
    return notes / bars if bars else 0.0


def _item_steps(item: Any, default: int) -> int:
    """The 16th steps `item` spans (see `note_density`)."""
    if int(getattr(item, "steps", 0) or 0):
        return int(item.steps)
    tensor = getattr(item, "tensor", None)
    if tensor is not None and np.ndim(tensor) == 2:
        return int(np.shape(tensor)[0])
    return int(getattr(item, "length", 0) or 0) or default


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance: 0 = same use, 1 = nothing in common.

    A histogram with no notes is 1 away from one with notes, and 0 from another empty one
    (e.g. the pitch classes of two drum parts).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    empty_a, empty_b = a.sum() == 0, b.sum() == 0
    if empty_a or empty_b:
        return 0.0 if empty_a and empty_b else 1.0
    return float(0.5 * np.abs(a - b).sum())


@dataclasses.dataclass(frozen=True)
class SampleNovelty:
    """How one sample relates to the input windows (see :meth:`NoveltyIndex.score`)."""

    copied: bool  # identical to an input window on the 16th grid
    copied_window: int | None  # index of the first identical input window (0-based)
    nearest_window: int | None  # index of the most similar input window
    nearest_similarity: float  # share of steps equal to that window (1.0 = copy)
    pitch_class_distance: float  # this sample vs all input windows (0 = same, 1 = disjoint)
    verdict: str  # "copy of excerpt k" (input window k, 1-based) / "new" / "silent"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready readout (the panel's gallery sends this to the browser)."""
        return {
            "copied": self.copied,
            "copied_window": self.copied_window,
            "nearest_window": self.nearest_window,
            "nearest_similarity": round(self.nearest_similarity, 3),
            "pitch_class_distance": round(self.pitch_class_distance, 3),
            "verdict": self.verdict,
        }


class NoveltyIndex:
    """The input windows, prepared once so that scoring one sample is cheap.

    `input_windows` are NoteSequences, `music.Window`s or anything with a `.sequence`. Holds
    each window's copy key, its step grid as integer codes (for the nearest-window similarity,
    one vectorised comparison per sample), and the inputs' pitch-class and rhythm histograms.
    `steps` is the window length in 16ths (the model's `max_seq_len`), so that similarities are
    shares of the whole window even when its last steps are silent; `Window.length` gives it too.
    """

    def __init__(self, input_windows: Sequence[Any], *, steps: int | None = None):
        lengths = [int(getattr(w, "length", 0) or 0) for w in input_windows]
        seqs = [_notes(w) for w in input_windows]
        grids = [step_grid(seq) for seq in seqs]
        self.n_inputs = len(seqs)
        self._copies: dict[tuple, int] = {}  # copy key → first input window with it
        for i, grid in enumerate(grids):
            self._copies.setdefault(_copy_key(grid), i)
        self._codes: dict[tuple, int] = {SILENT_STEP: 0}  # step state → integer code
        coded = [[self._codes.setdefault(state, len(self._codes)) for state in g] for g in grids]
        width = max([int(steps or 0), *lengths, *(len(c) for c in coded)])
        self._grid = np.zeros((len(coded), width), np.int32)  # padded with silence (0)
        for i, c in enumerate(coded):
            self._grid[i, : len(c)] = c
        self.window_steps = width  # the length a window without its own length counts as
        per_step = [len(seq.notes) / max(1, _item_steps(w, width)) for w, seq in zip(input_windows, seqs)]
        self.sparse_per_step = SPARSE_SHARE * float(np.median(per_step)) if per_step else 0.0
        self.histogram = pitch_class_histogram(seqs)
        self.rhythm = rhythm_histogram(seqs)
        self.density = note_density(input_windows, width)

    def similarities(self, sample: Any) -> np.ndarray:
        """Per input window: the share of 16th steps where `sample` has the same notes."""
        return self._similarities(step_grid(_notes(sample)))

    def _similarities(self, grid: list[tuple]) -> np.ndarray:
        codes = np.array([self._codes.get(state, -1) for state in grid], np.int32)  # -1: unseen
        width = max(self._grid.shape[1], len(codes))
        if width == 0:  # silent sample, silent inputs
            return np.ones(self.n_inputs)
        inputs = np.pad(self._grid, ((0, 0), (0, width - self._grid.shape[1])))
        codes = np.pad(codes, (0, width - len(codes)))
        return (inputs == codes).mean(axis=1)

    def score(self, sample: Any) -> SampleNovelty:
        """Is `sample` a copy of an input window, which is nearest, how far its pitch classes are."""
        seq = _notes(sample)
        grid = step_grid(seq)
        silent = len(seq.notes) == 0
        match = None if silent else self._copies.get(_copy_key(grid))
        sims = self._similarities(grid)
        nearest = int(np.argmax(sims)) if len(sims) else None
        if match is not None:
            verdict = f"copy of excerpt {match + 1}"
        else:
            verdict = "silent" if silent else "new"
        return SampleNovelty(
            copied=match is not None,
            copied_window=match,
            nearest_window=nearest,
            nearest_similarity=float(sims[nearest]) if nearest is not None else 0.0,
            pitch_class_distance=histogram_distance(pitch_class_histogram([seq]), self.histogram),
            verdict=verdict,
        )

    def is_copy(self, sample: Any) -> bool:
        """True when `sample` has exactly the notes of an input window (silence copies nothing)."""
        seq = _notes(sample)
        return len(seq.notes) > 0 and _copy_key(step_grid(seq)) in self._copies

    def is_sparse(self, sample: Any) -> bool:
        """Nearly silent: fewer notes than `SPARSE_SHARE` of what the typical input window plays
        over as many steps (or none at all)."""
        notes = len(_notes(sample).notes)
        return notes == 0 or notes < self.sparse_per_step * _item_steps(sample, self.window_steps)

    def flaws(self, samples: Sequence[Any]) -> list[str | None]:
        """Per sample (in order), why to draw it again: "copy" (of an input window), "sparse"
        (silent or nearly), "repeat" (the same notes as an earlier sample that is kept), or None."""
        kept: set[tuple] = set()
        flaws: list[str | None] = []
        for sample in samples:
            key = _copy_key(step_grid(_notes(sample)))
            flaw = ("copy" if key in self._copies else "sparse" if self.is_sparse(sample)
                    else "repeat" if key in kept else None)
            if flaw is None:
                kept.add(key)
            flaws.append(flaw)
        return flaws

    def needs_redraw(self, samples: Sequence[Any]) -> list[int]:
        """Which of `samples` to draw again (see `flaws`)."""
        return [i for i, flaw in enumerate(self.flaws(samples)) if flaw]

    def readout(self, sample: Any) -> dict[str, Any]:
        """:meth:`score` as a JSON-ready dict (`copied`, `copied_window`, `verdict` …)."""
        return self.score(sample).to_dict()


def novelty_readout(sample: Any, input_windows: Sequence[Any]) -> dict[str, Any]:
    """One sample's readout against `input_windows` (build a `NoveltyIndex` to score many)."""
    return NoveltyIndex(input_windows).readout(sample)


def summarize(readouts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals over a gallery of readouts: how many copy an input window, how many are new (neither
    a copy nor silent), the mean similarity to each sample's nearest input window (the per-sample
    figure) and mean pitch-class distance."""
    copied = sum(1 for r in readouts if r.get("copied"))
    silent = sum(1 for r in readouts if r.get("verdict") == "silent")

    def mean(key: str) -> float | None:
        values = [r[key] for r in readouts if r.get(key) is not None]
        return round(float(np.mean(values)), 3) if values else None

    return {
        "samples": len(readouts),
        "copied": copied,
        "varied": len(readouts) - copied - silent,
        "silent": silent,
        "mean_nearest_similarity": mean("nearest_similarity"),
        "mean_pitch_class_distance": mean("pitch_class_distance"),
    }


@dataclasses.dataclass
class NoveltyReport:
    """Memorisation vs variety, in numbers (see module docstring).

    Distances are total variation (0 = same, 1 = disjoint); note densities are notes per bar
    (see :func:`note_density`), of the samples, the input and the prior samples. Each figure is
    judged on its own: the samples are "closer" on it when they sit nearer the input than the
    prior samples do.
    """

    samples: int
    copied: int  # sampled windows identical to some input window
    nearest_similarity: list  # per sample: share of steps equal to the most similar input window
    pitch_class_distance: float  # samples vs input
    rhythm_distance: float
    prior_pitch_class_distance: float  # plain MusicVAE prior samples vs input
    prior_rhythm_distance: float
    note_density: float = 0.0  # samples' notes per bar
    input_note_density: float = 0.0
    prior_note_density: float = 0.0
    readouts: list = dataclasses.field(default_factory=list)  # per sample: SampleNovelty.to_dict()
    redrawn: int = 0  # draws `Personalizer.sample` made again: copies, silent or repeats
    silent: int = 0  # samples without a note
    sparse: int = 0  # nearly silent samples (see `NoveltyIndex.is_sparse`), silent ones apart
    repeats: int = 0  # samples with the same notes as an earlier one (no copy, not sparse)

    @property
    def varied(self) -> int:
        """Samples that are new: not a copy, not (nearly) silent, not a repeat of an earlier one."""
        return self.samples - self.copied - self.silent - self.sparse - self.repeats

    @property
    def density_distance(self) -> float:
        """How far the samples' notes per bar are from the input's."""
        return abs(self.note_density - self.input_note_density)

    @property
    def prior_density_distance(self) -> float:
        return abs(self.prior_note_density - self.input_note_density)

    def closer(self) -> dict[str, bool]:
        """Per figure: are the samples strictly closer to the input than the prior samples?"""
        return {
            "pitch classes": self.pitch_class_distance < self.prior_pitch_class_distance,
            "rhythm": self.rhythm_distance < self.prior_rhythm_distance,
            "note density": self.density_distance < self.prior_density_distance,
        }

    def distances(self) -> dict[str, tuple[float, float]]:
        """Per figure: (the samples' distance to the input, the prior samples')."""
        return {
            "pitch classes": (self.pitch_class_distance, self.prior_pitch_class_distance),
            "rhythm": (self.rhythm_distance, self.prior_rhythm_distance),
            "note density": (self.density_distance, self.prior_density_distance),
        }

    def _kinds(self) -> dict[str, str]:
        """Per figure: "closer", "about" (within `ABOUT_AS_CLOSE` of the prior samples'
        distance, either way) or "no"."""
        closer, kinds = self.closer(), {}
        for name, (ours, prior) in self.distances().items():
            near = abs(prior - ours) <= ABOUT_AS_CLOSE * max(prior, 1e-9)
            kinds[name] = "about" if near else "closer" if closer[name] else "no"
        return kinds

    def comparisons(self) -> dict[str, str]:
        """Per figure, in words: "closer to your music", "about as close" or "not closer to your
        music" (the report's table says the same as the verdict)."""
        return {name: COMPARISON_WORDS[kind] for name, kind in self._kinds().items()}

    def verdict(self) -> str:
        """Which figures are closer to the input than MusicVAE's own samples, which only about as
        close, and which are not."""
        groups: dict[str, list[str]] = {"closer": [], "about": [], "no": []}
        for name, kind in self._kinds().items():
            groups[kind].append(name)
        parts = []
        if groups["closer"]:
            parts.append(f"closer to your music than MusicVAE's own samples in {_join(groups['closer'])}")
        if groups["about"]:
            parts.append(f"{'only ' if parts else ''}about as close as MusicVAE's own samples in "
                         f"{_join(groups['about'])}")
        if groups["no"]:
            lead = "but not in" if parts else "no closer to your music than MusicVAE's own samples in"
            parts.append(f"{lead} {_join(groups['no'])}")
        return ", ".join(parts)

    def summary(self) -> str:
        again = ""
        if self.redrawn:
            plural = self.redrawn != 1
            again = (f" ({self.redrawn} draw{'s' if plural else ''} "
                     f"{'were' if plural else 'was'} made again because "
                     f"{'they' if plural else 'it'} copied an excerpt, "
                     f"{'were' if plural else 'was'} (nearly) silent or repeated another sample)")
        others = [f"{n} {what}" for n, what in ((self.silent, "silent"), (self.sparse, "nearly silent"),
                                                 (self.repeats, "a repeat of another sample")) if n]
        return (
            f"{self.copied} of {self.samples} samples copy an excerpt of your music note for note, "
            f"{self.varied} {'is' if self.varied == 1 else 'are'} new"
            f"{''.join(', ' + o for o in others)}{again}; on average a sample plays what its most "
            f"similar excerpt plays on {np.mean(self.nearest_similarity):.0%} of its 16th-note steps. "
            f"Distance to your music, these samples vs MusicVAE's own: pitch classes "
            f"{self.pitch_class_distance:.2f} vs {self.prior_pitch_class_distance:.2f}, rhythm "
            f"{self.rhythm_distance:.2f} vs {self.prior_rhythm_distance:.2f}; notes per bar "
            f"{self.note_density:.1f} vs {self.prior_note_density:.1f} (yours: {self.input_note_density:.1f}). "
            f"The samples are {self.verdict()}."
        )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["varied"] = self.varied
        d["closer"] = self.closer()
        return d


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def novelty_report(index: NoveltyIndex, samples: Sequence[Any], prior: Sequence[Any]) -> NoveltyReport:
    """Score `samples` with `index` and compare their statistics with `prior` samples'."""
    if not samples:
        raise ValueError("No samples to compare.")
    scores = [index.score(s) for s in samples]
    seqs = [_notes(s) for s in samples]
    flaws = index.flaws(samples)  # what is left of them after `Personalizer.sample`'s redraws
    return NoveltyReport(
        samples=len(scores),
        copied=sum(s.copied for s in scores),
        nearest_similarity=[s.nearest_similarity for s in scores],
        pitch_class_distance=histogram_distance(pitch_class_histogram(seqs), index.histogram),
        rhythm_distance=histogram_distance(rhythm_histogram(seqs), index.rhythm),
        prior_pitch_class_distance=histogram_distance(pitch_class_histogram(prior), index.histogram),
        prior_rhythm_distance=histogram_distance(rhythm_histogram(prior), index.rhythm),
        note_density=note_density(samples, index.window_steps),
        input_note_density=index.density,
        # prior samples are decoded to the samples' length (plain NoteSequences don't carry it)
        prior_note_density=note_density(prior, _item_steps(samples[0], index.window_steps)),
        readouts=[s.to_dict() for s in scores],
        redrawn=sum(int(getattr(s, "redrawn", 0)) for s in samples),
        silent=sum(s.verdict == "silent" for s in scores),
        sparse=flaws.count("sparse") - sum(s.verdict == "silent" for s in scores),
        repeats=flaws.count("repeat"),
    )


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------


def prepare_song(vae, seq: NoteSequence, *, name: str, instrument: int | str | None = None,
                 notes: list | tuple = (), window_budget: int | None = None) -> InputSong:
    """`seq` as `vae` reads it: its part (the melody line, or the drums) cut into windows on its
    bar lines, in any metre (`music.cut_song`; see docs/windows.md).

    Windows the model cannot read are skipped and told in the song's `warnings`, after `notes`
    (what loading the file left out, from `read_midi`). `window_budget`: the windows the songs
    learnt from together with this one leave free (see `music.windows.max_windows`). Raises
    MidiError (one sentence, to be prefixed by the file name) when no window is left. The
    windows carry their tensors: `vae.encode(song.windows)` reads them without re-cutting.

    `vae` needs only `name`, `kind`, `config` and `converter`: a MusicVAE, or a description of
    one, so that a song can be checked before TensorFlow and the weights load (the CLI does).
    """
    from .music import prepare_melody
    from .music.windows import cut_song

    notes, choice = list(notes), None
    if vae.kind == "melody":
        prepared = prepare_melody(seq, instrument)
        part, choice = prepared.sequence, prepared.choice
        notes += prepared.warnings
    elif vae.kind == "drums" and not any(n.is_drum for n in seq.notes):
        raise MidiError(f"This song has no drum track, and this model ({vae.name}) plays drums only.")
    else:
        part = seq
    cut = cut_song(vae.converter, part, max_steps=vae.config.max_seq_len,
                   pad_length=vae.config.encoder == "hierarchical", grid_from=seq,
                   window_budget=window_budget)
    notes += cut.notes()
    return InputSong(name=name, original=seq, sequence=part, windows=cut.windows, warnings=notes,
                     melody_choice=choice, metre=cut.metre, qpm=cut.qpm, skipped=cut.skipped)


class Personalizer:
    """Holds the inputs, their MusicVAE codes and the MidiMe trained on them."""

    def __init__(self, vae, *, latent_size: int | None = None, beta: float | None = None,
                 midime_config: MidiMeConfig | None = None, seed: int | None = 0):
        """`latent_size` and `beta` override the product's MidiMe (`MidiMeConfig.personal`);
        `midime_config` replaces it entirely."""
        from .models.midime import MidiMeConfig

        self.vae = vae
        self.songs: list[InputSong] = []
        self.seed = seed
        overrides = {k: v for k, v in (("latent_size", latent_size), ("beta", beta)) if v is not None}
        self.midime_config = midime_config or MidiMeConfig.personal(vae.config.z_size, seed=seed, **overrides)
        self.midime: MidiMe | None = None
        self.history = None
        self._codes = None
        self._novelty_index: NoveltyIndex | None = None

    # -- inputs -----------------------------------------------------------------------------
    def add_midi(self, source, *, name: str | None = None, instrument: int | str | None = None) -> InputSong:
        """Load one MIDI file (path, bytes or NoteSequence), extract what the model reads, cut
        windows on its bar lines (any metre, see `music.windows`).

        `instrument` picks the melody track (melody models): its number or its name as
        `midime-widgets inspect` lists them (see `resolve_track`); default: the chooser's pick.
        Windows the model cannot read are skipped and told in `song.warnings`. Raises MidiError
        (one sentence, to be prefixed by the file name; nothing is added) when the file is
        unreadable or no window at all is left.
        """
        from note_seq.protobuf.music_pb2 import NoteSequence

        from .music import read_midi

        if name is None:
            name = os.path.basename(str(source)) if isinstance(source, (str, os.PathLike)) else f"upload {len(self.songs) + 1}"
        seq, notes = (source, []) if isinstance(source, NoteSequence) else read_midi(source)
        return self.add_song(self.prepare(seq, name=name, instrument=instrument, notes=notes))

    def add_song(self, song: InputSong) -> InputSong:
        """Add a song already cut by `prepare` / `prepare_song` for this model's converter."""
        self.songs.append(song)
        self._inputs_changed()
        return song

    def prepare(self, seq: NoteSequence, *, name: str, instrument: int | str | None = None,
                notes: list | tuple = (), replacing: int | None = None) -> InputSong:
        """The song as this model reads it (see `prepare_song`), within the windows the songs
        already added (but song `replacing`) leave free; nothing is added."""
        return prepare_song(self.vae, seq, name=name, instrument=instrument, notes=notes,
                            window_budget=self.window_budget(replacing))

    def window_budget(self, replacing: int | None = None) -> int:
        """Windows a further song (or a new reading of song `replacing`) may still give: all the
        songs together hold at most `music.windows.max_windows`, so memory stays bounded however
        many files come."""
        from .music.windows import windows_left

        used = sum(len(song.windows) for k, song in enumerate(self.songs) if k != replacing)
        return windows_left(self.vae.converter, self.vae.config.max_seq_len, used)

    def remove(self, index: int) -> InputSong:
        """Take song `index` out of the inputs (MidiError with a sentence when there is none)."""
        song = self.songs.pop(self._song_index(index))
        self._inputs_changed()
        return song

    def _inputs_changed(self) -> None:
        self._codes = None
        self._novelty_index = None
        self.inputs_version += 1

    # -- per-song edits and "is the MidiMe trained on these inputs?" (used by the panel) --------
    inputs_version = 0  # bumped on every change of the inputs
    _trained_version: int | None = None  # inputs_version the current MidiMe was trained on

    def _song_index(self, index: int) -> int:
        """`index` checked against the songs (a sentence, not an IndexError, when it is out of range)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.songs):
            count = len(self.songs)
            have = {0: "no song is loaded", 1: "one song is loaded (number 0)"}.get(
                count, f"{count} songs are loaded (numbers 0 to {count - 1})")
            raise MidiError(f"There is no song number {index}: {have}.")
        return int(index)

    def choose_instrument(self, index: int, instrument: int | None) -> InputSong:
        """Re-read song `index` with `instrument` as its melody (melody models); nothing changes
        when that instrument gives no windows (MidiError)."""
        index = self._song_index(index)
        old = self.songs[index]
        song = self.prepare(old.original, name=old.name, instrument=instrument, replacing=index)
        self.songs[index] = song
        self._inputs_changed()
        return song

    @property
    def midime_matches_inputs(self) -> bool:
        """True when the MidiMe was trained (or loaded) for exactly the current inputs."""
        return self.midime is not None and self._trained_version == self.inputs_version

    @property
    def windows(self) -> list:
        return [w for song in self.songs for w in song.windows]

    def output_metre(self) -> tuple:
        """(Metre, qpm) samples are written in: those of most input windows (4/4, 120 qpm
        without inputs)."""
        from .music.windows import FOUR_FOUR, majority

        metres: dict = {}
        tempos: dict = {}
        for song in self.songs:
            metre = song.metre or FOUR_FOUR
            metres[metre] = metres.get(metre, 0) + len(song.windows)
            tempos[song.qpm] = tempos.get(song.qpm, 0) + len(song.windows)
        if not metres:
            return FOUR_FOUR, DEFAULT_QPM
        return majority(metres), float(majority(tempos))

    def output_program(self) -> int | None:
        """The General MIDI program melody samples are written with: that of the melody track
        most input windows come from (None for drum and trio models, which keep their own)."""
        programs: dict = {}
        for song in self.songs:
            if song.melody_choice is not None:
                program = int(song.melody_choice.program)
                programs[program] = programs.get(program, 0) + len(song.windows)
        if self.vae.kind != "melody" or not programs:
            return None
        from .music.windows import majority

        return int(majority(programs))

    def output_steps(self) -> int:
        """Steps of each sample: the bars of `output_metre` a window holds (a phrase of 1, 2, 4 …
        whole bars: a 6/8 song's samples are two 6/8 bars, 24 steps; a 3/8 song's, four bars,
        24 steps; a 16-bar model's samples of a 3/4 song, 16 bars). A trio is read on a 4/4 grid
        whatever the metre, so its samples are the model's full length."""
        from .music.converters import TrioConverter
        from .music.windows import output_steps

        max_len = self.vae.config.max_seq_len
        if isinstance(self.vae.converter, TrioConverter):
            return max_len
        return output_steps(self.output_metre()[0], max_len, self.vae.converter.steps_per_quarter)

    def output_shape(self) -> dict:
        """What each sample is, as data: `{"bars", "metre", "qpm", "steps"}`."""
        metre, qpm = self.output_metre()
        steps = self.output_steps()
        bars = steps / metre.bar_steps(self.vae.converter.steps_per_quarter)
        return {"bars": int(bars) if bars == int(bars) else round(bars, 2), "metre": str(metre),
                "qpm": round(qpm, 2), "steps": steps}

    def output_description(self) -> str:
        """What each sample is, in a musician's words: "4 bars of 3/8 at ♩ = 120"."""
        shape = self.output_shape()
        bars = shape["bars"]
        return f"{bars} bar{'' if bars == 1 else 's'} of {shape['metre']} at {self._tempo_mark()}"

    def metre_note(self) -> str:
        """When the inputs are in several metres, which one the samples take; else ""."""
        metres = sorted({str(song.metre) for song in self.songs if song.metre is not None})
        if len(metres) < 2:
            return ""
        shape = self.output_shape()
        return (f"Your music is in {', '.join(metres[:-1])} and {metres[-1]}; the samples take the "
                f"metre and tempo most of its excerpts have: {shape['metre']} at "
                f"{self._tempo_mark()}. To keep each metre's feel, personalize the files of "
                f"each metre apart.")

    def key_note(self) -> str:
        """When the input songs are in different keys, that the samples mix them; else ""."""
        from .music.pitch import estimate_key

        keys = {}
        for song in self.songs:
            key = estimate_key(song.sequence)
            if key is not None:
                keys.setdefault(key, []).append(song.name)
        if len(keys) < 2:
            return ""
        names = [f"{key} ({', '.join(songs)})" for key, songs in keys.items()]
        return (f"Your files are in different keys: {_join(names)}. MidiMe learns them together, "
                f"so the samples mix their notes; to keep one key, transpose the files to it first.")

    def _tempo_mark(self) -> str:
        from .music.windows import tempo_mark

        return tempo_mark(*self.output_metre())

    # -- codes and training -------------------------------------------------------------------
    def codes(self) -> np.ndarray:
        """MusicVAE `mu` of every input window `[n, z_size]` (cached until inputs change)."""
        if self._codes is None:
            windows = self.windows
            if not windows:
                raise MidiError("Add at least one MIDI file first.")
            inputs = np.stack([w.inputs for w in windows])
            lengths = np.array([w.length for w in windows], np.int32)
            _, mu, _ = self.vae.encode_tensors(inputs, lengths)
            self._codes = np.asarray(mu, np.float32)
        return self._codes

    def new_midime(self) -> MidiMe:
        from .models.midime import MidiMe

        return MidiMe(self.midime_config, musicvae=self.musicvae_info())

    def musicvae_info(self) -> dict:
        return {"name": self.vae.name, "z_size": self.vae.config.z_size, "fingerprint": self.vae.fingerprint}

    def fit(self, epochs: int | None = None, *, on_progress=None, batch_size=None,
            midime: MidiMe | None = None, resume: bool = False,
            max_steps: int | None = None) -> FitHistory:
        """Train MidiMe on the input codes; returns this run's history.

        By default (`epochs=None`, i.e. `models.midime.UNTIL_CONVERGED`) it trains until the loss
        stops falling or `max_steps` (default `models.midime.DEFAULT_MAX_STEPS`) steps have run;
        a number trains exactly that many epochs. `history.reason` says why it stopped.

        By default every call trains a fresh MidiMe (or the given `midime`). With `resume=True`
        the MidiMe trained before (by `fit` or `load_midime`) keeps its weights and trains for
        `epochs` more on the current inputs, e.g. after a stopped run, when the loss is still
        falling, or to adapt a saved MidiMe to new songs (Adam restarts each call, as in
        magenta.js; `midime.epochs_trained` counts all runs). When nothing has been trained yet,
        `resume=True` starts fresh, so a notebook cell can always pass it.
        """
        if resume and midime is not None:
            raise TrainingError("Pass either midime= (train that model) or resume=True (keep "
                                "training the current one), not both.")
        codes = self.codes()
        if resume and self.midime is not None and self.midime.trained:
            model = self.midime
        else:
            model = midime or self.new_midime()
        self.midime = model
        from .models.midime import DEFAULT_MAX_STEPS

        self._trained_version = self.inputs_version
        self.history = model.fit(codes, epochs=epochs, on_progress=on_progress, batch_size=batch_size,
                                 max_steps=DEFAULT_MAX_STEPS if max_steps is None else max_steps)
        return self.history

    def stop(self) -> None:
        if self.midime is not None:
            self.midime.stop()

    def _require_midime(self) -> MidiMe:
        if self.midime is None or not self.midime.trained:
            raise TrainingError("Train MidiMe first (fit) — there is no personalized model yet.")
        return self.midime

    # -- generation -------------------------------------------------------------------------
    def sample(self, n: int = 8, *, temperature: float | None = SAMPLE_TEMPERATURE,
               seed: int | None = None, allow_copies: bool = False) -> list[Sample]:
        """`n` samples of the personalized space, decoded through MusicVAE.

        MidiMe's own randomness is in its latent draw; MusicVAE decodes it at `temperature`
        (:data:`SAMPLE_TEMPERATURE` by default; 0 or None is greedy, as in the MidiMe demo).
        A sample that repeats an input window note for note, a silent or nearly silent one
        (:data:`SPARSE_SHARE`), and one with the same notes as an earlier sample are drawn again, up to :data:`COPY_REDRAWS` times
        (`Sample.redrawn` counts them; one still like that after that is kept, and the novelty
        readout says so). `allow_copies=True` returns the first draws, as
        does a pipeline without input music (a loaded MidiMe has nothing to copy).
        """
        midime = self._require_midime()
        rng = np.random.default_rng(seed)

        def draw(rows: int, round_: int) -> list[Sample]:
            z_small = rng.standard_normal((rows, midime.config.latent_size)).astype(np.float32)
            return self.decode(z_small, temperature=temperature,
                               seed=None if seed is None else seed + round_)

        samples = draw(n, 0)
        if allow_copies or not self.windows:  # e.g. a loaded MidiMe, sampled before any music
            return samples
        index = self.novelty_index()
        for round_ in range(1, COPY_REDRAWS + 1):
            redraw = index.needs_redraw(samples)
            if not redraw:
                break
            fresh = draw(n, round_)  # all n rows: the decoder's compiled shape, not a new one
            for i, new in zip(redraw, fresh):
                samples[i] = dataclasses.replace(new, redrawn=samples[i].redrawn + 1)
        return samples

    def decode(self, z_small, *, temperature: float | None = 0.0, seed: int | None = None) -> list[Sample]:
        """MidiMe codes `[n, latent]` → MusicVAE codes → notes, in the inputs' metre and tempo
        (`output_metre`, `output_steps`)."""
        from .music.windows import in_metre

        midime = self._require_midime()
        z_small = np.atleast_2d(np.asarray(z_small, np.float32))
        z = np.asarray(midime.decode(z_small), np.float32)
        tensors = self.vae.decode_to_tensors(z, temperature=temperature, seed=seed)
        tensors = tensors[:, : self.output_steps()]
        metre, qpm = self.output_metre()
        steps = tensors.shape[1]
        seqs = [in_metre(s, metre, qpm, steps) for s in self.vae.converter.from_tensors(list(tensors))]
        program = self.output_program()
        if program is not None:  # a melody sample plays on the instrument the melody was read from
            for seq in seqs:
                for note in seq.notes:
                    note.program = program
        return [Sample(z_small=a, z=b, sequence=s, tensor=t) for a, b, s, t in zip(z_small, z, seqs, tensors)]

    def input_positions(self) -> np.ndarray:
        """Where each input window sits in MidiMe's latent space (its `mu`), for the 2-D map."""
        _, mu, _ = self._require_midime().encode(self.codes())
        return np.asarray(mu)

    # -- novelty ----------------------------------------------------------------------------
    def novelty_index(self) -> NoveltyIndex:
        """The :class:`NoveltyIndex` of the current input windows (cached until inputs change)."""
        if self._novelty_index is None:
            windows = self.windows
            if not windows:
                raise MidiError("Add at least one MIDI file first.")
            self._novelty_index = NoveltyIndex(windows)
        return self._novelty_index

    def novelty(self, samples: list[Sample], *, prior_samples: int = PRIOR_SAMPLES,
                temperature: float | None = SAMPLE_TEMPERATURE, seed: int = 0,
                prior: list | None = None) -> NoveltyReport:
        """Copies, nearest-window similarity, histogram distances and note density of `samples`
        (Samples or NoteSequences), next to `prior_samples` plain MusicVAE samples shaped like
        them (same temperature, same number of steps, same metre and tempo), so the comparison
        is fair. `prior` passes those samples in when `prior_samples()` already drew them."""
        if not samples:
            raise ValueError("No samples to compare.")
        index = self.novelty_index()
        if prior is None:
            prior = self.prior_samples(prior_samples, temperature=temperature, seed=seed)
        return novelty_report(index, samples, prior)

    def prior_samples(self, n: int = PRIOR_SAMPLES, *, temperature: float | None = SAMPLE_TEMPERATURE,
                      seed: int = 0) -> list:
        """`n` plain MusicVAE samples (NoteSequences) shaped like this pipeline's samples (steps,
        metre, tempo): what `novelty` compares them with. They depend only on the model and the
        inputs' metre, so they can be drawn (e.g. in a background thread) while MidiMe trains."""
        from .music.windows import in_metre

        metre, qpm = self.output_metre()
        steps = self.output_steps()
        return [in_metre(s, metre, qpm, steps) for s in self.vae.sample(
            n, length=steps, temperature=temperature, seed=seed)]

    # -- persistence ----------------------------------------------------------------------------
    def save_midime(self, path) -> Path:
        self._require_midime().save(path)
        return Path(path)

    def load_midime(self, path) -> MidiMe:
        from .models.midime import MidiMe

        midime = MidiMe.load(path, musicvae_fingerprint=self.vae.fingerprint)
        self.midime = midime
        self._trained_version = self.inputs_version  # the user chose it for these inputs
        return midime
