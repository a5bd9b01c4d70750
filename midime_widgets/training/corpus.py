"""Offline training data for the default model: melodic lines from music21's bundled corpus.

Two stages, so the slow one runs once:

1. **parse** (slow, cached outside git): every file of the chosen collections is parsed by music21
   and each line becomes a NoteSequence, the way a MIDI file of it would read: the time signatures
   where they stand (any metre), chords → top note, ties merged, pickups as written. Folk
   collections give their tune (first part); part music (chorales, motets, madrigals, quartets)
   gives every voice as a line. One cache file per corpus file, so an interrupted run resumes.
2. **windows** (fast): each line is cut exactly as a user's song is (`personalize.prepare_song`,
   i.e. `music.cut_song`: bar-line windows in the song's own metre, padded with silence).
   Windows are deduplicated globally and split **by tune** (a stable hash of the tune's id and the
   seed), so no validation tune contributes a window to training; windows shared with a training
   tune are dropped from validation.

O'Neill's Music of Ireland (1850) is the project's held-out real-music test set and is never read
here.

    python -m midime_widgets.training.default_model prepare --workers 2
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

#: Held out: the real-music test set (benchmarks measure on it; training never reads it).
HELD_OUT = "oneills1850"

# Collections used and where they come from (the model card's data table).
COLLECTIONS = {
    "essenFolksong": "Essen Folksong Collection (Schaffrath, 1995), traditional songs; ABC encodings bundled with music21",
    "ryansMammoth": "Ryan's Mammoth Collection (1883), fiddle tunes, public domain; ABC in music21's corpus",
    "airdsAirs": "Aird's Selection of Airs (1782-1797), public domain; ABC in music21's corpus",
    "nottingham-dataset": "Nottingham Music Database, the two reels music21 bundles of it; ABC in music21's corpus",
    "miscFolk": "American fife tunes and Northumbrian minstrelsy, public domain; ABC in music21's corpus",
    "leadSheet": "Two public-domain songs (Foster, Berlin) as lead sheets; melody only",
    "bach": "J.S. Bach chorales (every voice as a line), public-domain music; encodings bundled with music21",
    "palestrina": "Palestrina masses (every voice), public-domain music; Humdrum encodings bundled with music21",
    "monteverdi": "Monteverdi madrigals (every voice), public-domain music; encodings bundled with music21",
    "josquin": "Josquin des Prez (every voice), public-domain music; encodings bundled with music21",
    "trecento": "Trecento pieces (every voice), public-domain music; encodings bundled with music21",
    "haydn": "Haydn string quartets (every part), public-domain music; encodings bundled with music21",
    "mozart": "Mozart string quartets and K.545 (every part), public-domain music; encodings bundled with music21",
    "beethoven": "Beethoven string quartets (every part), public-domain music; encodings bundled with music21",
}
assert HELD_OUT not in COLLECTIONS
# Collections whose every part is a melodic line (the others give their first part: the tune).
ALL_PARTS = {"bach", "palestrina", "monteverdi", "josquin", "trecento", "haydn", "mozart", "beethoven"}
QPM = 120.0
#: Windows kept per tune (a random choice, seeded): windows hop by one bar, so a quartet movement
#: or a mass gives hundreds and would otherwise outweigh the folk tunes that most users bring.
MAX_WINDOWS_PER_TUNE = 40
DATA_DESCRIPTION = (
    "music21's bundled corpus (offline) except O'Neill's Music of Ireland (1850), which is the "
    "held-out test set. Folk collections give each tune (its first part); part music (chorales, "
    "masses, madrigals, quartets) gives every voice as a line. Each line is read as its MIDI file "
    "would read (time signatures where they stand, pickups as written, chords to their top note) "
    "and cut exactly as a user's song is: 32-step windows holding a phrase (1, 2, 4 or 8 whole "
    "bars) from each bar line, in the line's own metre, hop one bar (`music.cut_song`). Windows are deduplicated, at most "
    f"{MAX_WINDOWS_PER_TUNE} kept "
    "per tune, and split by tune (5% of tunes held out for validation; windows that also occur in "
    "a training tune are removed from validation).")
CACHE_VERSION = "v3"
#: Where parsed lines are cached (outside git; `$MIDIME_CORPUS_CACHE` moves it).
DEFAULT_CACHE = Path(os.environ.get("MIDIME_CORPUS_CACHE",
                                    Path.home() / ".cache" / "midime-widgets" / f"corpus-{CACHE_VERSION}"))


def collection_of(path: Path) -> str:
    parts = Path(path).parts
    return parts[parts.index("corpus") + 1]


def corpus_files(collections=COLLECTIONS) -> list[Path]:
    """The corpus files of `collections`; one encoding per piece (.mxl preferred over .krn)."""
    from music21 import corpus

    files = sorted(Path(p) for p in corpus.getCorePaths() if collection_of(p) in collections)
    stems = {f.with_suffix("") for f in files if f.suffix == ".mxl"}
    files = [f for f in files if not (f.suffix == ".krn" and f.with_suffix("") in stems)]
    assert not any(collection_of(f) == HELD_OUT for f in files)
    return files


def _scores(parsed):
    return list(parsed.scores) if hasattr(parsed, "scores") else [parsed]


def score_lines(score, *, all_parts: bool) -> list:
    """NoteSequences of a music21 score: its first part, or every part."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    lines = []
    for part in parts if all_parts else parts[:1]:
        seq = part_to_sequence(part)
        if seq is not None:
            lines.append(seq)
    return lines


def part_to_sequence(part):
    """One part as a MIDI file of it would read: notes at their offsets (a pickup starts at 0),
    time signatures where they stand, chords → top note, ties merged, 120 qpm."""
    from music21 import harmony
    from note_seq.protobuf.music_pb2 import NoteSequence

    flat = part.stripTies().flatten()
    seq = NoteSequence(ticks_per_quarter=220)
    seq.tempos.add(time=0.0, qpm=QPM)
    sec = 60.0 / QPM
    for ts in flat.getElementsByClass("TimeSignature"):
        if ts.denominator & (ts.denominator - 1) == 0:  # MIDI stores powers of two only
            seq.time_signatures.add(time=float(ts.offset) * sec, numerator=ts.numerator,
                                    denominator=ts.denominator)
    end = 0.0
    for n in flat.notes:
        length = float(n.duration.quarterLength)
        if length <= 0 or isinstance(n, harmony.Harmony):  # grace notes, chord symbols
            continue
        pitches = [p.midi for p in n.pitches] if n.isChord else [n.pitch.midi]
        start = float(n.offset) * sec
        note = seq.notes.add(pitch=int(max(pitches)), velocity=80, start_time=start, end_time=start + length * sec)
        note.instrument, note.program = 0, 0
        end = max(end, note.end_time)
    if not seq.notes:
        return None
    seq.total_time = end
    return seq


# ---------------------------------------------------------------------------------------------
# Stage 1: parse (cached per corpus file)
# ---------------------------------------------------------------------------------------------


def _cache_name(path: Path) -> str:
    return hashlib.sha1(f"{CACHE_VERSION}:{Path(path).relative_to(_corpus_root(path))}".encode()).hexdigest()[:16] + ".npz"


def is_parsed(path: Path, cache_dir: Path = DEFAULT_CACHE) -> bool:
    """Whether `parse_file` already cached `path` (reading it again costs no parse)."""
    return (Path(cache_dir) / _cache_name(path)).exists()


def _corpus_root(path: Path) -> Path:
    parts = Path(path).parts
    return Path(*parts[: parts.index("corpus") + 1])


def parse_file(path: Path, cache_dir: Path = DEFAULT_CACHE) -> list[tuple[str, bytes]]:
    """(tune id, serialized NoteSequence) for every line of one corpus file, cached."""
    cached = Path(cache_dir) / _cache_name(path)
    if cached.exists():
        data = np.load(cached, allow_pickle=False)
        blob, offsets = data["blob"].tobytes(), data["offsets"]
        return [(str(t), blob[a:b]) for t, a, b in zip(data["tunes"], offsets[:-1], offsets[1:])]
    from music21 import corpus

    lines = []
    tune_prefix = Path(path).relative_to(_corpus_root(path)).as_posix()  # e.g. "bach/bwv1.6.mxl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = corpus.parse(str(path))
        except Exception:
            parsed = None
        all_parts = collection_of(path) in ALL_PARTS
        for i, score in enumerate(_scores(parsed) if parsed is not None else []):
            try:
                found = score_lines(score, all_parts=all_parts)
            except Exception:
                found = []
            # every voice of a piece belongs to the same tune (one side of the split)
            lines += [(f"{tune_prefix}#{i}", seq.SerializeToString()) for seq in found]
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(b) for _, b in lines]).astype(np.int64)
    tmp = cached.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, tunes=np.array([t for t, _ in lines], dtype=str),
                        blob=np.frombuffer(b"".join(b for _, b in lines), np.uint8), offsets=offsets)
    tmp.replace(cached)
    return lines


def _parse_one(args) -> tuple[str, int]:
    path, cache_dir = args
    return str(path), len(parse_file(Path(path), Path(cache_dir)))


def parse_all(files, cache_dir: Path = DEFAULT_CACHE, *, workers: int = 1, progress: bool = True) -> None:
    """Fill the parse cache for `files` (largest first, `workers` processes)."""
    todo = [f for f in files if not is_parsed(f, cache_dir)]
    todo.sort(key=lambda f: -f.stat().st_size)
    start = time.time()
    jobs = [(str(f), str(cache_dir)) for f in todo]
    if workers > 1 and len(jobs) > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            for k, (name, n) in enumerate(pool.imap_unordered(_parse_one, jobs)):
                if progress:
                    print(f"[{k + 1}/{len(jobs)}] {Path(name).name}: {n} lines, {time.time() - start:.0f} s",
                          file=sys.stderr, flush=True)
    else:
        for k, job in enumerate(jobs):
            name, n = _parse_one(job)
            if progress:
                print(f"[{k + 1}/{len(jobs)}] {Path(name).name}: {n} lines, {time.time() - start:.0f} s",
                      file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Stage 2: windows, cut as a user's song is
# ---------------------------------------------------------------------------------------------


class _ModelShape:
    """What `prepare_song` needs of a model: its name, kind, config and converter."""

    kind = "melody"

    def __init__(self, config):
        from ..music import converter_from_spec

        self.name, self.config = config.name, config
        self.converter = converter_from_spec(config.converter)


def line_windows(model, seq) -> tuple[np.ndarray, list[str]]:
    """A line's windows as class indices `[N, T]` (uint8) and the metre of each, cut as
    `Personalizer.add_midi` cuts a user's song."""
    from ..errors import MidiError
    from ..personalize import prepare_song

    try:
        song = prepare_song(model, seq, name="corpus")
    except MidiError:
        return np.zeros((0, model.config.max_seq_len), np.uint8), []
    rows = [np.argmax(w.outputs, axis=-1) for w in song.windows]
    return np.stack(rows).astype(np.uint8), [str(w.metre) for w in song.windows]


def is_validation(tune: str, seed: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{tune}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_and_dedupe(windows: np.ndarray, tunes: list, seed: int, val_fraction: float):
    """Global dedupe; split by tune; drop validation windows that also occur in training."""
    val_mask = np.array([is_validation(t, seed, val_fraction) for t in tunes], bool)
    train_keys, train_rows = set(), []
    for i in np.flatnonzero(~val_mask):
        key = windows[i].tobytes()
        if key not in train_keys:
            train_keys.add(key)
            train_rows.append(i)
    val_seen, val_rows = set(), []
    for i in np.flatnonzero(val_mask):
        key = windows[i].tobytes()
        if key not in train_keys and key not in val_seen:
            val_seen.add(key)
            val_rows.append(i)
    return np.array(train_rows, int), np.array(val_rows, int)


def cap_per_tune(tunes: list[str], cap: int, seed: int) -> np.ndarray:
    """Indices keeping at most `cap` windows of each tune (a seeded random choice), in order."""
    rng = np.random.default_rng(seed)
    by_tune: dict[str, list[int]] = {}
    for i, tune in enumerate(tunes):
        by_tune.setdefault(tune, []).append(i)
    keep = [i for rows in by_tune.values() for i in (rows if len(rows) <= cap else rng.choice(rows, cap, replace=False))]
    return np.sort(np.array(keep, int))


def prepare(out_dir, config, *, seed: int = 0, val_fraction: float = 0.05, collections=COLLECTIONS,
            cache_dir: Path = DEFAULT_CACHE, workers: int = 1, cached_only: bool = False,
            progress: bool = True) -> dict:
    """Build `train.npz` / `val.npz` (windows, tune ids, metres) and `meta.json` in `out_dir`
    for a model of `config`.

    `cached_only` assembles what earlier (possibly interrupted) parse runs cached, without parsing
    more; the by-tune split is a pure function of the tune id and seed, so it stays consistent.
    """
    from note_seq.protobuf.music_pb2 import NoteSequence

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = corpus_files(collections)
    if cached_only:
        files = [f for f in files if is_parsed(f, cache_dir)]
    else:
        parse_all(files, cache_dir, workers=workers, progress=progress)
    model = _ModelShape(config)
    start = time.time()
    all_windows, all_tunes, all_metres, per_collection = [], [], [], {}
    for path in files:
        coll = collection_of(path)
        stats = per_collection.setdefault(coll, {"files": 0, "tunes": set(), "lines": 0})
        stats["files"] += 1
        for tune, blob in parse_file(path, cache_dir):
            rows, metres = line_windows(model, NoteSequence.FromString(blob))
            stats["lines"] += 1
            if len(rows):
                all_windows.append(rows)
                all_tunes += [tune] * len(rows)
                all_metres += metres
                stats["tunes"].add(tune)
    windows = np.concatenate(all_windows)
    keep = cap_per_tune(all_tunes, MAX_WINDOWS_PER_TUNE, seed)
    windows, all_tunes, all_metres = windows[keep], [all_tunes[i] for i in keep], [all_metres[i] for i in keep]
    kept_per_collection = Counter(tune.split("/", 1)[0] for tune in all_tunes)
    train_idx, val_idx = split_and_dedupe(windows, all_tunes, seed, val_fraction)
    tunes, metres = np.array(all_tunes, dtype=str), np.array(all_metres, dtype=str)
    for name, idx in (("train", train_idx), ("val", val_idx)):
        np.savez_compressed(out_dir / f"{name}.npz", windows=windows[idx], tunes=tunes[idx], metres=metres[idx])
    meta = {
        "seed": seed,
        "val_fraction": val_fraction,
        "held_out": HELD_OUT,
        "windowing": "music.cut_song (bar-line windows in the song's metre, as personalize.prepare_song)",
        "max_windows_per_tune": MAX_WINDOWS_PER_TUNE,
        "description": DATA_DESCRIPTION,
        "converter": config.converter,
        "collections": {
            name: {"files": s["files"], "tunes": len(s["tunes"]), "lines": s["lines"],
                   "windows": kept_per_collection[name],
                   "source": collections[name]}
            for name, s in per_collection.items()
        },
        "windows_total": int(len(windows)),
        "train_windows": int(len(train_idx)),
        "val_windows": int(len(val_idx)),
        "train_tunes": int(len(set(tunes[train_idx]))),
        "val_tunes": int(len(set(tunes[val_idx]))),
        "train_metres": dict(Counter(metres[train_idx]).most_common()),
        "val_metres": dict(Counter(metres[val_idx]).most_common()),
        "seconds_windowing": round(time.time() - start, 1),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta
