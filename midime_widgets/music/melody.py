"""Melody extraction (magenta semantics) and choosing the melody of a multi-instrument song.

`extract_melodies` reproduces magenta's `melody_pipelines.extract_melodies` on top of note_seq's
`Melody.from_quantized_sequence`. `find_melody` / `prepare_melody` are ours: they pick the part a
musician would call the melody (the first violin of a quartet, the soprano of a chorale, the lead
of a band), explain the choice, and turn it into a monophonic in-range line. `resolve_track`
turns a track number or name, as `midime-widgets inspect` lists them, into a track number.
"""

from __future__ import annotations

import bisect
import collections
import copy
import dataclasses
import itertools
import warnings
from typing import NamedTuple

import note_seq
import numpy as np
from note_seq.protobuf import music_pb2

from ..errors import MidiError
from .midi_io import MidiWarning
from .pitch import pitch_name
from .quantize import DEFAULT_QPM, fit_length, next_search_start, steps_per_bar_of

NoteSequence = music_pb2.NoteSequence

#: Pitch range of the melody models (88 piano keys): MIDI 21 (A0) .. 108 (C8).
MIN_PITCH = 21
MAX_PITCH = 108


def extract_melodies(qseq: NoteSequence, **options) -> list[note_seq.Melody]:
    """Monophonic melodies of every instrument in a quantized sequence (magenta semantics).

    Options are those of `extract_melodies_by_instrument`; this drops the instrument numbers.
    """
    return [melody for _, melody in extract_melodies_by_instrument(qseq, **options)]


def extract_melodies_by_instrument(
    qseq: NoteSequence,
    *,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: int | None = None,
    max_steps_discard: int | None = None,
    gap_bars: float = 1.0,
    min_unique_pitches: int = 5,
    ignore_polyphonic_notes: bool = True,
    pad_end: bool = False,
    filter_drums: bool = True,
) -> list[tuple[int, note_seq.Melody]]:
    """Monophonic melodies of every instrument, each with the instrument number it came from.

    Each instrument is scanned from `search_start_step`; a melody ends after `gap_bars` bars of
    silence and the next one is searched from the following bar boundary. Melodies shorter than
    `min_bars`, with fewer than `min_unique_pitches` pitch classes, or (if set) longer than
    `max_steps_discard` are dropped; longer than `max_steps_truncate` are cut. When notes start
    together the highest one is kept (`ignore_polyphonic_notes`), otherwise the instrument is
    skipped.
    """
    steps_per_bar = steps_per_bar_of(qseq)
    melodies = []
    # magenta iterates a `set` of instrument numbers; for small ints that is ascending order.
    for instrument in sorted({n.instrument for n in qseq.notes}):
        start = search_start_step
        while True:
            melody = note_seq.Melody()
            try:
                melody.from_quantized_sequence(
                    qseq,
                    instrument=instrument,
                    search_start_step=start,
                    gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore_polyphonic_notes,
                    pad_end=pad_end,
                    filter_drums=filter_drums,
                )
            except note_seq.PolyphonicMelodyError:
                break  # this instrument is polyphonic and polyphony is not allowed
            start = next_search_start(melody.end_step, search_start_step, steps_per_bar)
            if not melody:
                break
            if not fit_length(melody, min_bars=min_bars, max_steps_discard=max_steps_discard,
                              max_steps_truncate=max_steps_truncate, pad_end=pad_end):
                continue
            if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
                continue
            melodies.append((instrument, melody))
    return melodies


# --------------------------------------------------------------------------------------------
# Choosing the melody of a multi-instrument song
# --------------------------------------------------------------------------------------------

#: Words in a track name that say the part carries the tune (a plural "s" may follow).
MELODY_NAME_HINTS = ("melody", "melodie", "melodia", "lead", "vocal", "voice", "voce", "vox",
                     "singer", "gesang", "solo", "tune", "theme", "soprano", "sopran", "canto",
                     "cantus", "superius", "discant", "discantus", "treble", "right hand", "rh")
#: Words that say the part accompanies (they win over melody words: "Backing Vocals").
ACCOMPANIMENT_NAME_HINTS = ("bass", "basso", "bassi", "bassline", "contrabass", "chord", "pad",
                            "comp", "accomp", "accompaniment", "rhythm", "backing", "harmony",
                            "bgv", "arp", "arpeggio", "drum", "perc", "percussion", "left hand",
                            "lh", "strings", "ensemble", "continuo")
#: Inner and lower parts of a choir or string group ("Alto", "Viola"), unless the name goes on
#: to name a solo instrument ("Alto Sax", "Tenor Trombone").
LOWER_PART_NAMES = ("alto", "tenor", "baritone", "viola", "cello", "violoncello", "violone",
                    "organo")
_SOLO_INSTRUMENT_WORDS = ("sax", "saxophone", "trombone", "recorder", "horn", "clarinet",
                          "flute", "guitar", "ukulele")
#: Ordinals in part names: the first violin or first soprano leads, the second accompanies.
_FIRST_WORDS = frozenset({"i", "1", "1st", "first", "primo", "prima", "one"})
_LATER_WORDS = frozenset({"ii", "iii", "iv", "2", "3", "4", "2nd", "3rd", "4th", "second",
                          "third", "secondo", "seconda", "terzo", "two"})
#: Words that name no instrument, so a number next to them is no ordinal ("Track 3").
_GENERIC_WORDS = frozenset({"track", "part", "channel", "staff", "instrument", "musicxml",
                            "untitled", "midi", "new", "instr"})


@dataclasses.dataclass(frozen=True)
class MelodyCandidate:
    """Statistics of one non-drum instrument and its melody score (higher = more melodic)."""

    instrument: int
    program: int
    name: str
    note_count: int
    distinct_pitches: int
    min_pitch: int
    max_pitch: int
    mean_pitch: float
    monophony: float  # share of notes that start alone and do not overlap the previous note
    score: float
    top_share: float = 0.0  # share of the song's attacks at which it strikes the highest note
    stepwise: float = 0.0  # share of moves between successive notes by a tone or a semitone
    activity: float = 0.0  # notes struck (onsets), relative to the busiest part
    figure: float = 0.0  # how much it repeats one short figure (arpeggio, ostinato), 0..1
    name_says: str = ""  # what the track name says about the part's role, in words

    def describe(self) -> str:
        return (f"{self.note_count} notes, {self.distinct_pitches} distinct pitches, "
                f"range {pitch_name(self.min_pitch)}-{pitch_name(self.max_pitch)}, "
                f"{self.monophony:.0%} single notes")

    def qualities(self) -> list[str]:
        """What makes this part sound like a melody, in a musician's words (strongest first)."""
        out = [self.name_says] if self.name_says.startswith("its name") else []
        if self.top_share >= 0.4:
            out.append(f"it has the highest note at {self.top_share:.0%} of the song's attacks")
        if self.monophony >= 0.8:
            out.append("it plays one note at a time" if self.monophony >= 0.999 else
                       f"it mostly plays one note at a time ({self.monophony:.0%} of its notes)")
        if self.stepwise >= 0.4:
            out.append(f"it moves by step ({self.stepwise:.0%} of its moves)")
        if self.activity >= 0.99:
            out.append("it is the busiest part")
        return out

    def drawbacks(self) -> list[str]:
        """What speaks against this part being the melody, in a musician's words."""
        out = [self.name_says] if self.name_says and not self.name_says.startswith("its name") else []
        if self.figure > 0:
            out.append("it repeats one short figure, like an arpeggio or ostinato")
        if self.monophony < 0.5:
            out.append("it mostly plays chords")
        return out


@dataclasses.dataclass(frozen=True)
class MelodyChoice:
    """Which instrument `find_melody` picked, why, and every candidate ranked best first."""

    instrument: int
    program: int
    name: str
    reason: str
    candidates: tuple[MelodyCandidate, ...]


class PreparedMelody(NamedTuple):
    """A monophonic, in-range, single-instrument melody ready for the melody models."""

    sequence: NoteSequence
    warnings: list[str]
    choice: MelodyChoice


def program_name(program: int) -> str:
    """General MIDI instrument name for a program number (0-127)."""
    import pretty_midi

    try:
        return pretty_midi.program_to_instrument_name(int(program))
    except ValueError:
        return f"program {program}"


def instrument_names(seq: NoteSequence) -> dict[int, str]:
    """Track names stored in the MIDI file, by instrument number.

    A name shared by parts that play different instruments (programs, or drums and not) is the
    one track name of a type-0 file, which keeps every part on one track: it names no part, so
    it is left out (the parts are then called by their instruments) and says nothing of roles.
    """
    stored = {info.instrument: info.name for info in seq.instrument_infos if info.name}
    sounds: dict[int, set] = collections.defaultdict(set)
    for n in seq.notes:
        sounds[n.instrument].add(("drums",) if n.is_drum else (n.program,))
    parts_by_name: dict[str, set] = collections.defaultdict(set)
    for instrument, name in stored.items():
        parts_by_name[name].add(instrument)
    for parts in parts_by_name.values():
        played = [frozenset(sounds.get(i, ())) for i in parts]
        if len(parts) > 1 and len(set(played)) > 1:
            for i in parts:
                del stored[i]
    return stored


def _monophony(notes) -> float:
    """Share of notes that neither start with another note nor overlap the previous one much."""
    notes = sorted(notes, key=lambda n: (n.start_time, -n.pitch))
    if len(notes) < 2:
        return 1.0
    alone = 0
    latest_end = -1.0
    prev_start = None
    for i, n in enumerate(notes):
        same_start = prev_start is not None and abs(n.start_time - prev_start) < 1e-3
        nxt = notes[i + 1] if i + 1 < len(notes) else None
        starts_with_next = nxt is not None and abs(nxt.start_time - n.start_time) < 1e-3
        # legato overlaps shorter than half the note are still a melody
        overlapped = latest_end - n.start_time > 0.5 * max(n.end_time - n.start_time, 1e-3)
        if not (same_start or starts_with_next or overlapped):
            alone += 1
        latest_end = max(latest_end, n.end_time)
        prev_start = n.start_time
    return alone / len(notes)


def _words(name: str) -> list[str]:
    return "".join(ch if ch.isalnum() else " " for ch in name.lower()).split()


def _has_hint(words: list[str], hints) -> bool:
    joined = f" {' '.join(words)} "
    for hint in hints:
        if " " in hint:
            if f" {hint} " in joined:
                return True
        elif any(w in (hint, hint + "s") for w in words):
            return True
    return False


def name_hint(name: str) -> tuple[float, str]:
    """Score bonus from a track name and what the name says about the part (empty if nothing).

    Melody words ("Melody", "Lead Vocal", "Soprano") +3; accompaniment words ("Bass", "Chords",
    "Backing Vocals") -2; inner and lower parts ("Viola", "Alto") -1.5; an ordinal next to an
    instrument moves the first part up and the others down by 1.5 ("Violin I", "Violin 2").
    """
    words = _words(name)
    if not words:
        return 0.0, ""
    bonus, says = 0.0, ""
    if _has_hint(words, ACCOMPANIMENT_NAME_HINTS):
        bonus, says = -2.0, "an accompaniment part by its name"
    elif _has_hint(words, MELODY_NAME_HINTS):
        bonus, says = 3.0, "its name marks it as the tune"
    elif _has_hint(words, LOWER_PART_NAMES) and not _has_hint(words, _SOLO_INSTRUMENT_WORDS):
        bonus, says = -1.5, "an inner or lower part by its name"
    if any(w not in _GENERIC_WORDS and not w.isdigit() for w in words):
        if _FIRST_WORDS.intersection(words):
            bonus += 1.5
            says = says or "its name marks it as the first part"
        elif _LATER_WORDS.intersection(words):
            bonus -= 1.5
            says = says or "a second or lower part by its name"
    return bonus, says


def _onsets(notes) -> list[tuple[float, int]]:
    """(time, highest pitch) of every distinct note start, in time order."""
    tops: dict[float, int] = {}
    for n in notes:
        t = round(n.start_time, 3)
        tops[t] = max(tops.get(t, 0), n.pitch)
    return sorted(tops.items())


def _stepwise(onsets) -> float:
    """Share of moves between successive notes by a semitone or a tone (conjunct motion)."""
    moves = [abs(b - a) for (_, a), (_, b) in itertools.pairwise(onsets)]
    return sum(1 for m in moves if 1 <= m <= 2) / len(moves) if moves else 0.0


#: How often a part's moves may repeat at a fixed distance before it counts as a figure: tunes in
#: the labelled set stay at or below 0.3, arpeggios, ostinati and strummed patterns go far above.
FIGURE_THRESHOLD = 0.3


def _figure(onsets) -> float:
    """How much a part repeats one short figure (0 = not at all, 1 = nothing else).

    The share of moves (intervals between successive notes) equal to the move 2, 3, 4, 6 or 8
    notes earlier, at the best of those distances, above `FIGURE_THRESHOLD` and rescaled to 0..1.
    Arpeggios, Alberti basses, ostinati and strumming repeat their moves; tunes rarely do.
    """
    moves = [b - a for (_, a), (_, b) in itertools.pairwise(onsets)]
    best = 0.0
    for lag in (2, 3, 4, 6, 8):
        pairs = list(zip(moves[lag:], moves))
        if pairs:
            best = max(best, sum(1 for x, y in pairs if x == y != 0) / len(pairs))
    return max(best - FIGURE_THRESHOLD, 0.0) / (1.0 - FIGURE_THRESHOLD)


def _top_shares(by_instrument: dict[int, list]) -> dict[int, float]:
    """For each part, the share of the song's attacks at which it strikes the highest new note.

    The ear follows the top of what is struck: at every moment notes start (within 20 ms), the
    part with the highest of those new notes carries the top line. A held note under which
    another part moves does not keep the top line, so a sustained pad or counter-melody above
    the tune gets little credit while the tune that moves under it gets much. Parts in unison
    share the credit.
    """
    struck: dict[int, dict[int, int]] = collections.defaultdict(dict)
    for inst, notes in by_instrument.items():
        for n in notes:
            slot = round(n.start_time * 50)  # 20 ms
            struck[slot][inst] = max(struck[slot].get(inst, 0), n.pitch)
    wins: collections.Counter = collections.Counter()
    for parts in struck.values():
        top = max(parts.values())
        for inst, pitch in parts.items():
            if pitch == top:
                wins[inst] += 1
    total = len(struck)
    return {i: wins[i] / total for i in by_instrument}


def _family_bonus(program: int) -> float:
    """Prior from the General MIDI family: solo/lead instruments up, bass/pads/ensembles down."""
    if 32 <= program <= 39:  # bass
        return -2.0
    if 80 <= program <= 87 or 64 <= program <= 79 or 56 <= program <= 63 or program in (40, 41,
                                                                                         52, 53,
                                                                                         54):
        return 0.5  # synth lead, reed, pipe, brass, violin/viola, voice
    if 88 <= program <= 103 or 48 <= program <= 51 or program in (42, 43, 44):
        return -0.5  # pads, effects, string ensembles, cello/contrabass
    if program >= 112:  # percussive / sound effects
        return -1.0
    return 0.0


#: Weights of the melody score. Each feature runs from 0 to 1; they were set by musical sense
#: and checked against a labelled set of quartets, chorales, songs and band files.
WEIGHTS = {
    "top_line": 2.0,  # strikes the highest new note, one note at a time (top share x monophony)
    "monophony": 1.0,  # plays one note at a time
    "stepwise": 2.0,  # moves by step, as tunes do (arpeggios, bass lines and chords leap)
    "activity": 0.5,  # notes struck, relative to the busiest part
    "height": 2.0,  # rank of its mean pitch among the parts (highest = 1)
    "variety": 1.0,  # distinct pitches, relative to the part with the most
    "figure": -4.0,  # repeats one short figure: an arpeggio or ostinato accompanies
}


def _score(features: dict[str, float], program: int, name_bonus: float) -> float:
    """The heuristic (documented in `find_melody`)."""
    return (sum(WEIGHTS[k] * features[k] for k in WEIGHTS) + _family_bonus(program)
            + name_bonus)


def melody_candidates(seq: NoteSequence) -> list[MelodyCandidate]:
    """Every non-drum instrument with notes, ranked by melody score (best first)."""
    names = instrument_names(seq)
    by_instrument = collections.defaultdict(list)
    for n in seq.notes:
        if not n.is_drum and n.velocity > 0:
            by_instrument[n.instrument].append(n)
    if not by_instrument:
        return []
    tops = _top_shares(by_instrument)
    onsets = {i: _onsets(notes) for i, notes in by_instrument.items()}
    busiest = max(len(o) for o in onsets.values())
    means = {i: float(np.mean([n.pitch for n in notes])) for i, notes in by_instrument.items()}
    ranks = {i: r for r, i in enumerate(sorted(means, key=means.get))}
    most_pitches = max(len({n.pitch for n in notes}) for notes in by_instrument.values())
    candidates = []
    for instrument, notes in by_instrument.items():
        pitches = [n.pitch for n in notes]
        program = collections.Counter(n.program for n in notes).most_common(1)[0][0]
        track_name = names.get(instrument, "")
        bonus, says = name_hint(track_name)
        mono = _monophony(notes)
        distinct = len(set(pitches))
        features = {
            "top_line": tops[instrument] * mono, "monophony": mono,
            "stepwise": _stepwise(onsets[instrument]),
            "activity": len(onsets[instrument]) / busiest,
            "height": ranks[instrument] / max(len(ranks) - 1, 1),
            "variety": distinct / most_pitches,
            "figure": _figure(onsets[instrument]),
        }
        candidates.append(MelodyCandidate(
            instrument=instrument, program=program, name=track_name or program_name(program),
            note_count=len(notes), distinct_pitches=distinct, min_pitch=min(pitches),
            max_pitch=max(pitches), mean_pitch=means[instrument], monophony=mono,
            score=round(_score(features, program, bonus), 4), top_share=tops[instrument],
            stepwise=features["stepwise"], activity=features["activity"],
            figure=features["figure"], name_says=says,
        ))
    candidates.sort(key=lambda c: (-c.score, -c.note_count, c.instrument))
    return candidates


def _no_melody_error(seq: NoteSequence) -> MidiError:
    if any(n.is_drum for n in seq.notes):
        return MidiError("This song contains only drums; a melody model needs a melodic "
                         "instrument (piano, guitar, voice, ...). Try a drum model instead.")
    return MidiError("This song has no notes to take a melody from.")


def find_melody(seq: NoteSequence) -> MelodyChoice:
    """Pick the part a musician would call the melody, and say why in a musician's words.

    Each non-drum part is scored on features from 0 to 1, weighted by `WEIGHTS`: its top line
    (the share of the song's attacks at which it strikes the highest new note, times its
    monophony), monophony, stepwise motion, activity, pitch rank among the parts, pitch
    variety, and - against it - how much it repeats one short figure (`_figure`); plus a General MIDI family prior (bass -2, pads and ensembles -0.5, solo
    instruments and voices +0.5) and what its track name says (`name_hint`: "Melody", "Lead
    Vocal", "Soprano" up; "Bass", "Backing Vocals", "Viola" down; "Violin I" above "Violin II").
    Raises MidiError for drums-only songs.
    """
    candidates = melody_candidates(seq)
    if not candidates:
        raise _no_melody_error(seq)
    best = candidates[0]
    reason = f"'{best.name}' (program {best.program}, {program_name(best.program)}) "
    if len(candidates) == 1:
        reason += f"is the only melodic instrument: {best.describe()}."
    else:
        runner = candidates[1]
        why = "; ".join(best.qualities()) or "it scores best on the whole"
        against = "; ".join(runner.drawbacks())
        reason += (f"looks most like a melody: {why} ({best.describe()}); next best is "
                   f"'{runner.name}' ({runner.describe()}{'; ' + against if against else ''}).")
    return MelodyChoice(best.instrument, best.program, best.name, reason, tuple(candidates))


# --------------------------------------------------------------------------------------------
# Naming a track: the numbers and names `midime-widgets inspect` lists
# --------------------------------------------------------------------------------------------

#: A track to take the melody from: its number as `inspect` lists it, or its name.
TrackSpec = int | str


def track_names(seq: NoteSequence) -> dict[int, str]:
    """Every track with notes, by number, with the name `inspect` lists and `--track` accepts.

    The track name stored in the file; without one, "Drums" for a drum track and the General
    MIDI instrument name otherwise.
    """
    stored = instrument_names(seq)
    programs: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    drums: dict[int, bool] = {}
    for n in seq.notes:
        if n.velocity > 0:
            programs[n.instrument][n.program] += 1
            drums[n.instrument] = drums.get(n.instrument, False) or n.is_drum
    return {i: stored.get(i) or ("Drums" if drums[i] else
                                 program_name(programs[i].most_common(1)[0][0]))
            for i in sorted(programs)}


def _track_list(names: dict[int, str]) -> str:
    return ", ".join(f"#{i} '{name}'" for i, name in names.items())


def resolve_track(seq: NoteSequence, track: TrackSpec) -> int:
    """The number of the track `track` names: a number, or a name as `inspect` lists it.

    Names match without regard to case; the start of a name is enough when only one track's
    name starts so ("viol" is ambiguous in a quartet, "violin i" is not). A text of digits
    ("2", "#2") is a number unless a track is called exactly that. Raises MidiError listing the
    tracks when nothing (or more than one) matches.
    """
    names = track_names(seq)
    if not names:
        raise MidiError("This song has no notes, so it has no track to choose.")
    if isinstance(track, (int, np.integer)) and not isinstance(track, bool):
        if int(track) in names:
            return int(track)
        raise MidiError(f"This song has no track number {track}; its tracks are: "
                        f"{_track_list(names)}.")
    if not isinstance(track, str):
        raise TypeError(f"A track is a number or a name, not {type(track).__name__}.")
    wanted = " ".join(track.lower().split())
    exact = [i for i, name in names.items() if " ".join(name.lower().split()) == wanted]
    if len(exact) == 1:
        return exact[0]
    if not exact and wanted.lstrip("#").isdigit():
        return resolve_track(seq, int(wanted.lstrip("#")))
    matches = exact or [i for i, name in names.items()
                        if wanted and " ".join(name.lower().split()).startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise MidiError(f"Several tracks are called '{track}': "
                        f"{_track_list({i: names[i] for i in matches})}; give the number.")
    raise MidiError(f"This song has no track called '{track}'; its tracks are: "
                    f"{_track_list(names)}.")


def _choose(seq: NoteSequence, track: TrackSpec | None) -> MelodyChoice:
    if track is None:
        return find_melody(seq)
    instrument = resolve_track(seq, track) if isinstance(track, str) else track
    candidates = melody_candidates(seq)
    for c in candidates:
        if c.instrument == instrument:
            return MelodyChoice(c.instrument, c.program, c.name,
                                f"'{c.name}' was chosen by you: {c.describe()}.",
                                tuple(candidates))
    if not candidates:
        raise _no_melody_error(seq)
    available = ", ".join(f"{c.instrument} ('{c.name}')" for c in candidates)
    names = track_names(seq)
    if instrument in names:
        raise MidiError(f"Track {instrument} ('{names[instrument]}') plays drums, not a melody; "
                        f"choose one of: {available}.")
    raise MidiError(f"There is no melodic instrument number {instrument} in this song; "
                    f"choose one of: {available}.")


def _fold_into_range(pitch: int, lo: int, hi: int) -> int:
    while pitch < lo:
        pitch += 12
    while pitch > hi:
        pitch -= 12
    return pitch


class _SixteenthAt:
    """Length of a 16th note (seconds) at a time, from the tempo in force then (the last tempo
    at or before it; 120 qpm before the first). Built once per song: a song may hold a hundred
    thousand tempo changes, and every note asks."""

    def __init__(self, seq: NoteSequence):
        tempos = sorted(seq.tempos, key=lambda t: t.time)
        self.times = [t.time for t in tempos]
        self.qpms = [t.qpm for t in tempos]

    def __call__(self, time: float) -> float:
        k = bisect.bisect_right(self.times, time + 1e-9)
        return 60.0 / ((self.qpms[k - 1] if k else DEFAULT_QPM) * 4)


_GRACE_SCAN = 64  # notes looked at after a short one (more within a 16th is no melody; bounds the work)


def _drop_grace_notes(seq: NoteSequence, notes) -> tuple[list, int]:
    """Leave out ornaments the 16th-note grid cannot hold: a note shorter than half a 16th with a
    note of at least a 16th starting with it or within a 16th after it (a grace note, or a
    quick run into a long note). Kept, the skyline would let it stand for the note it decorates.
    Returns (the other notes, how many were left out)."""
    notes = sorted(notes, key=lambda n: n.start_time)
    starts = [n.start_time for n in notes]
    sixteenth = _SixteenthAt(seq)
    kept = []
    for n in notes:
        step = sixteenth(n.start_time)
        if n.end_time - n.start_time < step / 2:
            i = bisect.bisect_left(starts, n.start_time - 1e-9)
            j = bisect.bisect_right(starts, n.start_time + step + 1e-9)
            if any(m.end_time - m.start_time >= step * (1 - 1e-6) for m in notes[i : min(j, i + _GRACE_SCAN)]):
                continue
        kept.append(n)
    return kept, len(notes) - len(kept)


def _skyline(seq: NoteSequence, notes) -> tuple[list, int]:
    """Keep the highest of notes starting together; cut notes where the next one starts.

    Returns (monophonic notes, how many notes were dropped or cut because of polyphony). Notes
    starting within half a 16th note of each other count as together, as quantization would
    merge them anyway.
    """
    notes = sorted(notes, key=lambda n: (n.start_time, -n.pitch))
    sixteenth = _SixteenthAt(seq)
    kept: list = []
    changed = 0
    for n in notes:
        if kept:
            prev = kept[-1]
            tolerance = sixteenth(n.start_time) / 2
            if n.start_time - prev.start_time < tolerance:
                if n.end_time > prev.end_time and n.pitch == prev.pitch:
                    prev.end_time = n.end_time
                changed += 1  # a lower note of a chord
                continue
            if prev.end_time > n.start_time:
                if prev.end_time - n.start_time > tolerance:
                    changed += 1  # a second voice still sounding, not just legato
                prev.end_time = n.start_time
        kept.append(n)
    return kept, changed


def prepare_melody(seq: NoteSequence, instrument: TrackSpec | None = None, *,
                   min_pitch: int = MIN_PITCH, max_pitch: int = MAX_PITCH) -> PreparedMelody:
    """A single monophonic melody line for the melody models, plus what was changed.

    Takes the track `instrument` names (a number or a name, see `resolve_track`; default:
    `find_melody`'s choice), keeps the highest note where notes overlap, folds pitches outside `min_pitch..max_pitch` by octaves into range, and moves the
    notes to instrument 0, program 0 (piano) so every melody model reads them. Each change is
    reported by `warnings.warn(..., MidiWarning)` and in the returned `warnings` list.
    """
    choice = _choose(seq, instrument)
    notes = [copy.deepcopy(n) for n in seq.notes
             if n.instrument == choice.instrument and not n.is_drum and n.velocity > 0]
    messages = []

    moved = 0
    for n in notes:
        folded = _fold_into_range(n.pitch, min_pitch, max_pitch)
        if folded != n.pitch:
            n.pitch = folded
            moved += 1
    if moved:
        messages.append(f"{moved} note(s) of '{choice.name}' were outside the model's range "
                        f"({pitch_name(min_pitch)}-{pitch_name(max_pitch)}) and were moved by "
                        "octaves into it.")

    notes, ornaments = _drop_grace_notes(seq, notes)
    if ornaments:
        messages.append(f"'{choice.name}' has {ornaments} ornament note(s) quicker than the "
                        "sixteenth-note grid the model reads (grace notes, quick runs); they are "
                        "left out and the notes they decorate kept.")
    notes, changed = _skyline(seq, notes)
    if changed:
        messages.append(f"'{choice.name}' plays several notes at once ({changed} note(s) "
                        "affected); only the highest note is kept, because the model plays one "
                        "note at a time.")

    out = copy.deepcopy(seq)
    del out.notes[:]
    for n in notes:
        n.instrument, n.program = 0, 0
    out.notes.extend(notes)
    del out.instrument_infos[:]
    info = out.instrument_infos.add()
    info.instrument, info.name = 0, choice.name
    out.total_time = max((n.end_time for n in notes), default=0.0)
    for message in messages:
        warnings.warn(message, MidiWarning, stacklevel=2)
    return PreparedMelody(out, messages, choice)
