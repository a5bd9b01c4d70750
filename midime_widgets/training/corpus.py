"""Offline training data for the default model: melodies from music21's bundled corpus.

Every tune becomes a NoteSequence (first part, ties merged, chords → top note, pickup bars padded so
bar lines fall where the converter expects them, 120 qpm), then 2-bar windows via our own
`MelodyConverter` (magenta's cat-mel_2bar semantics). Windows are deduplicated globally and the
train / validation split is made **by tune** (a stable hash of the tune's id and the seed), so no
validation tune contributes a window to training; windows shared with a training tune are dropped
from validation. Results are cached per corpus file, so an interrupted run resumes.

    python -m midime_widgets.training.corpus --out runs/default/data
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from note_seq.protobuf.music_pb2 import NoteSequence

# Collections that are melodies (folk tunes, one part) or have a melodic top voice; licence notes
# go to MODEL_CARD.md.
COLLECTIONS = {
    "essenFolksong": "Essen Folksong Collection (Schaffrath), traditional songs; ABC encodings bundled with music21",
    "ryansMammoth": "Ryan's Mammoth Collection (1883), public domain; ABC from music21's corpus",
    "oneills1850": "O'Neill's Music of Ireland (1850), public domain; ABC from music21's corpus",
    "airdsAirs": "Aird's Airs (18th c.), public domain; ABC from music21's corpus",
    "miscFolk": "Miscellaneous folk tunes bundled with music21",
    "bach": "J.S. Bach chorales (every voice as a line), public-domain music; encodings bundled with music21",
}
QPM = 120.0


def corpus_files(collections=COLLECTIONS) -> list[Path]:
    from music21 import corpus

    files = []
    for path in corpus.getCorePaths():
        parts = Path(path).parts
        if "corpus" in parts:
            top = parts[parts.index("corpus") + 1]
            if top in collections:
                files.append(Path(path))
    return sorted(files)


def _scores(parsed):
    return list(parsed.scores) if hasattr(parsed, "scores") else [parsed]


# Parts used per collection: folk tunes have one; for chorales every voice is a melodic line.
ALL_PARTS = {"bach"}
# The converter needs 16 steps per bar. A 2/4 (or 2/2-as-4/8) tune is relabelled 4/4 so that two of
# its bars form one 4/4 bar; 3/4, 6/8 … tunes stay as they are (and yield no windows, as in magenta).
RELABEL_AS_4_4 = {(2, 4)}
CACHE_VERSION = "v2"


def score_to_sequences(score, *, all_parts: bool = False) -> list:
    """Monophonic NoteSequences from a music21 score: its first part, or every part."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    sequences = []
    for part in parts if all_parts else parts[:1]:
        seq = part_to_sequence(part)
        if seq is not None:
            sequences.append(seq)
    return sequences


def part_to_sequence(part) -> NoteSequence | None:
    """One part as a NoteSequence: ties merged, chords → top note, pickup padded, 120 qpm."""
    part = part.stripTies()
    measures = list(part.getElementsByClass("Measure"))
    pad = float(measures[0].paddingLeft) if measures else 0.0
    flat = part.flatten()
    seq = NoteSequence()
    seq.ticks_per_quarter = 220
    seq.tempos.add(time=0.0, qpm=QPM)
    sec = 60.0 / QPM
    signatures = list(flat.getElementsByClass("TimeSignature"))
    relabel = bool(signatures) and all((ts.numerator, ts.denominator) in RELABEL_AS_4_4 for ts in signatures)
    if relabel and pad:
        pad += 2.0  # a 2/4 pickup must end on a 4/4 downbeat
    for ts in signatures[:1] if relabel else signatures:
        num, den = (4, 4) if relabel else (ts.numerator, ts.denominator)
        seq.time_signatures.add(time=0.0 if relabel else (float(ts.offset) + pad) * sec, numerator=num, denominator=den)
    if not seq.time_signatures:
        seq.time_signatures.add(time=0.0, numerator=4, denominator=4)
    end = 0.0
    for n in flat.notes:
        length = float(n.duration.quarterLength)
        if length <= 0:  # grace notes
            continue
        pitches = [p.midi for p in n.pitches] if n.isChord else [n.pitch.midi]
        start = (float(n.offset) + pad) * sec
        note = seq.notes.add(pitch=int(max(pitches)), velocity=80, start_time=start, end_time=start + length * sec)
        note.instrument, note.program = 0, 0
        end = max(end, note.end_time)
    if not seq.notes:
        return None
    seq.total_time = end
    return seq


def tune_windows(seq: NoteSequence, converter) -> np.ndarray:
    """All distinct 2-bar windows of a tune as class indices `[N, 32]` (uint8)."""
    tensors = converter.to_tensors(seq, max_tensors=None)
    if not tensors.outputs:
        return np.zeros((0, converter.max_steps), np.uint8)
    return np.stack([np.argmax(o, axis=-1) for o in tensors.outputs]).astype(np.uint8)


def _cache_name(path: Path) -> str:
    return hashlib.sha1(f"{CACHE_VERSION}:{path}".encode()).hexdigest()[:16] + ".npz"


def process_file(path: Path, converter, cache_dir: Path) -> dict:
    """Windows of every tune in one corpus file, cached as npz (windows + tune ids)."""
    cached = cache_dir / _cache_name(path)
    if cached.exists():
        data = np.load(cached, allow_pickle=False)
        return {"windows": data["windows"], "tunes": list(data["tunes"])}
    from music21 import corpus

    windows, tunes = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = corpus.parse(str(path))
        except Exception:
            parsed = None
        all_parts = any(c in path.parts for c in ALL_PARTS)
        for i, score in enumerate(_scores(parsed) if parsed is not None else []):
            try:
                found = [tune_windows(seq, converter) for seq in score_to_sequences(score, all_parts=all_parts)]
            except Exception:
                found = []
            for w in found:
                if len(w):
                    windows.append(w)
                    # every voice of a chorale belongs to the same tune (one side of the split)
                    tunes += [f"{path.parent.name}/{path.name}#{i}"] * len(w)
    arr = np.concatenate(windows) if windows else np.zeros((0, converter.max_steps), np.uint8)
    tmp = cached.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, windows=arr, tunes=np.array(tunes, dtype=str))
    tmp.replace(cached)
    return {"windows": arr, "tunes": tunes}


def is_validation(tune: str, seed: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{tune}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_and_dedupe(windows: np.ndarray, tunes: list, seed: int, val_fraction: float):
    """Global dedupe; split by tune; drop validation windows that also occur in training."""
    val_mask = np.array([is_validation(t, seed, val_fraction) for t in tunes], bool)
    seen, train_rows, train_keys = set(), [], set()
    for i in np.flatnonzero(~val_mask):
        key = windows[i].tobytes()
        if key not in seen:
            seen.add(key)
            train_rows.append(i)
    train_keys = seen
    val_seen, val_rows = set(), []
    for i in np.flatnonzero(val_mask):
        key = windows[i].tobytes()
        if key not in train_keys and key not in val_seen:
            val_seen.add(key)
            val_rows.append(i)
    return np.array(train_rows, int), np.array(val_rows, int)


def prepare(out_dir, *, seed: int = 0, val_fraction: float = 0.05, collections=COLLECTIONS, progress=True,
            cached_only: bool = False) -> dict:
    """Build `train.npz` / `val.npz` (windows + tune ids) and `meta.json` in `out_dir`.

    `cached_only` assembles what earlier (possibly interrupted) runs cached, without parsing more;
    the by-tune split is a pure function of the tune id and seed, so it stays consistent.
    """
    from ..music.converters import MelodyConverter

    out_dir = Path(out_dir)
    cache = out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    converter = MelodyConverter(slice_bars=2, valid_programs=range(0, 32))
    files = corpus_files(collections)
    if cached_only:
        files = [f for f in files if (cache / _cache_name(f)).exists()]
    all_windows, all_tunes, per_collection = [], [], {}
    start = time.time()
    for k, path in enumerate(files):
        result = process_file(path, converter, cache)
        all_windows.append(result["windows"])
        all_tunes += result["tunes"]
        coll = path.parts[path.parts.index("corpus") + 1]
        stats = per_collection.setdefault(coll, {"files": 0, "tunes": set(), "windows": 0})
        stats["files"] += 1
        stats["tunes"].update(result["tunes"])
        stats["windows"] += len(result["windows"])
        if progress:
            print(f"\r[{k + 1}/{len(files)}] {path.name:30s} {len(all_tunes)} windows "
                  f"{time.time() - start:.0f}s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    windows = np.concatenate(all_windows)
    train_idx, val_idx = split_and_dedupe(windows, all_tunes, seed, val_fraction)
    tunes = np.array(all_tunes, dtype=str)
    np.savez_compressed(out_dir / "train.npz", windows=windows[train_idx], tunes=tunes[train_idx])
    np.savez_compressed(out_dir / "val.npz", windows=windows[val_idx], tunes=tunes[val_idx])
    meta = {
        "seed": seed,
        "val_fraction": val_fraction,
        "converter": converter.spec,
        "collections": {
            name: {"files": s["files"], "tunes": len(s["tunes"]), "windows": s["windows"], "source": collections[name]}
            for name, s in per_collection.items()
        },
        "windows_total": int(len(windows)),
        "train_windows": int(len(train_idx)),
        "val_windows": int(len(val_idx)),
        "train_tunes": int(len(set(tunes[train_idx]))),
        "val_tunes": int(len(set(tunes[val_idx]))),
        "seconds": round(time.time() - start, 1),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--cached-only", action="store_true", help="use only files parsed by earlier runs")
    args = parser.parse_args(argv)
    meta = prepare(args.out, seed=args.seed, val_fraction=args.val_fraction, cached_only=args.cached_only)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
