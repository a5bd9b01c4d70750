"""O'Neill's Music of Ireland (1850), from music21's bundled corpus, as MIDI files.

The collection is the project's held-out real-music set: never train on it, measure on it. This
module writes its first tunes to MIDI (metre in the file name) with an `index.json` describing
each one, so benchmarks and checks can run on a clean machine:

    python benchmarks/oneill.py OUT_DIR --count 400

music21's MIDI writer trips on a few scores; those are written from their notes, tempo and time
signatures instead (`writer: "notes"` in the index).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

CORPUS_FOLDER = "oneills1850"
DEFAULT_COUNT = 400
#: Where the benchmarks keep the written collection (outside git; `$MIDIME_ONEILL_DIR` moves it).
DEFAULT_FOLDER = Path(os.environ.get("MIDIME_ONEILL_DIR",
                                     Path.home() / ".cache" / "midime-widgets" / "oneill"))
INDEX = "index.json"


def corpus_paths() -> list[str]:
    """The collection's abc files, in order."""
    from music21 import corpus

    return sorted(str(p) for p in corpus.getPaths() if CORPUS_FOLDER in str(p))


def iter_scores(count: int):
    """The first `count` tunes as music21 scores, in collection order."""
    from music21 import corpus

    seen = 0
    for path in corpus_paths():
        opus = corpus.parse(path)
        for score in (list(opus.scores) if hasattr(opus, "scores") else [opus]):
            if seen >= count:
                return
            yield score
            seen += 1


def describe(score) -> dict:
    """Metre (first time signature, "none" without), title, number, and bar lengths in quarters."""
    signatures = score.recurse().getElementsByClass("TimeSignature")
    first = signatures[0] if signatures else None
    measures = score.recurse().getElementsByClass("Measure")
    md = score.metadata
    return {
        "metre": first.ratioString if first else "none",
        "metres": sorted({ts.ratioString for ts in signatures}),
        "title": (md.title if md else "") or "",
        "number": str(md.number) if md and md.number else "",
        "bar_quarters": float(first.barDuration.quarterLength) if first else None,
        "first_bar_quarters": float(measures[0].duration.quarterLength) if measures else None,
    }


def write_notes(score, path: Path, qpm: float = 120.0) -> None:
    """Fallback writer: every note, the first tempo and the time signatures, via note_seq."""
    import note_seq
    from note_seq.protobuf import music_pb2

    flat = score.flatten()
    marks = flat.getElementsByClass("MetronomeMark")
    if marks and marks[0].number:
        qpm = float(marks[0].getQuarterBPM() or qpm)
    sec = 60.0 / qpm
    seq = music_pb2.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    seq.tempos.add(time=0.0, qpm=qpm)
    for ts in flat.getElementsByClass("TimeSignature"):
        if ts.denominator & (ts.denominator - 1) == 0:  # MIDI stores powers of two only
            seq.time_signatures.add(time=float(ts.offset) * sec, numerator=ts.numerator,
                                    denominator=ts.denominator)
    for n in flat.notes:
        start = float(n.offset) * sec
        end = start + max(float(n.quarterLength), 0.0625) * sec
        for p in getattr(n, "pitches", [getattr(n, "pitch", None)]):
            if p is not None:
                seq.notes.add(pitch=int(p.midi), start_time=start, end_time=end, velocity=90)
    seq.total_time = max((n.end_time for n in seq.notes), default=0.0)
    note_seq.sequence_proto_to_midi_file(seq, str(path))


def write_collection(out_dir, count: int = DEFAULT_COUNT, *, log=print) -> list[dict]:
    """Write the first `count` tunes to `out_dir` (NNN_<metre>.mid) plus index.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for i, score in enumerate(iter_scores(count)):
        info = describe(score)
        path = out / f"{i:03d}_{info['metre'].replace('/', '-')}.mid"
        info.update(file=str(path), writer="music21")
        try:
            score.write("midi", fp=str(path))
        except Exception:
            info["writer"] = "notes"
            write_notes(score, path)
        index.append(info)
        if log and (i + 1) % 50 == 0:
            log(f"{i + 1} tunes written")
    (out / INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
    return index


def load_index(folder, count: int = DEFAULT_COUNT) -> list[dict] | None:
    """The index of a folder written by `write_collection`, when it holds `count` tunes or more."""
    path = Path(folder) / INDEX
    if not path.is_file():
        return None
    index = json.loads(path.read_text(encoding="utf-8"))
    if len(index) < count or not all(Path(e["file"]).is_file() for e in index[:count]):
        return None
    return index[:count]


def ensure_collection(folder, count: int = DEFAULT_COUNT, *, log=print) -> list[dict]:
    """The index of `folder`, writing the collection there first when it is missing."""
    return load_index(folder, count) or write_collection(folder, count, log=log)[:count]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    args = parser.parse_args(argv)
    index = write_collection(args.out_dir, args.count)
    from collections import Counter

    print(dict(Counter(e["metre"] for e in index)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
