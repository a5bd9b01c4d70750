"""Fuzz `read_midi` and the cut into excerpts with many inputs under the time and memory limits,
and print the counts.

Inputs: random bytes (bare and behind a MIDI header), byte-level mutations (flip, set, insert,
delete, truncate) and MIDI-aware mutations (huge delta times, other formats / track counts /
resolutions incl. SMPTE, broken chunk lengths, duplicated or spliced tracks, event storms, damaged
or oversized settings) of real
files: the repository's MIDI fixtures and examples, MIDI written by music21 from its corpus, the
hostile files of tests/midi_watch.py, and any `--seeds` folder.

Each input is loaded in a watched child process (tests/midi_watch.py): more than 10 s of processor
time or 1 GB above the child's memory before the load counts as "over the limits", and a message
holding a raw Python error's text (`midi_watch.PYTHON_TEXT`) as "python_text". The script exits 1
unless crashes, other exceptions, inputs over the limits and Python texts are all 0.

    python scripts/fuzz_midi.py --count 10000 --workers 2 [--seeds DIR] [--save-failures DIR]
"""

from __future__ import annotations

import argparse
import queue
import random
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import midi_watch  # noqa: E402  (tests/midi_watch.py)

FAILURES = ("crash", "exception", "over_time", "over_memory", "python_text")


def music21_seeds(limit: int = 6) -> list[bytes]:
    """A few corpus pieces written to MIDI by music21 (none when music21 is missing)."""
    try:
        import music21
    except ImportError:
        return []
    out = []
    names = ("bach/bwv66.6", "bach/bwv7.7", "schoenberg/opus19/movement2",
             "joplin/maple_leaf_rag", "beethoven/opus18no1/movement1", "essenFolksong/teste")
    for name in names[:limit]:
        try:
            score = music21.corpus.parse(name)
            if hasattr(score, "scores"):
                score = score.scores[0]
            path = score.write("midi")
            out.append(Path(path).read_bytes())
        except Exception as exc:
            print(f"(music21 seed {name} skipped: {exc})", file=sys.stderr)
    return out


def load_seeds(extra: list[Path]) -> list[bytes]:
    files = sorted((ROOT / "tests" / "fixtures" / "midi").glob("*.mid"))
    files += sorted((ROOT / "midime_widgets" / "examples").glob("*.mid"))
    for folder in extra:
        files += sorted(folder.glob("*.mid"))[:200]
    seeds = [p.read_bytes() for p in files]
    seeds += music21_seeds()
    big = ("million_notes", "two_hour_melody")  # slow to mutate; the CI test covers them
    seeds += [make() for name, make in midi_watch.HOSTILE.items() if name not in big]
    return seeds


# -- mutations -----------------------------------------------------------------------------------

def byte_mutation(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.choice(("flip", "set", "insert", "delete", "truncate"))
        pos = rng.randrange(max(len(data), 1))
        if op == "flip" and data:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == "set" and data:
            data[pos] = rng.choice((0x00, 0x7F, 0x80, 0xFF, 0x90, 0xF0, 0xF7, 0xB0, 0xE0))
        elif op == "insert":
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == "delete" and data:
            del data[pos:pos + rng.randint(1, 16)]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


def _track_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each MTrk chunk found by walking chunk lengths (best effort)."""
    spans, pos = [], 14
    while pos + 8 <= len(data) and len(spans) < 64:
        size = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        spans.append((pos, min(pos + 8 + size, len(data))))
        pos += 8 + size
    return spans


def midi_mutation(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    if len(data) < 14 or data[:4] != b"MThd":
        return byte_mutation(rng, data)
    data = bytearray(data)
    spans = _track_spans(bytes(data))
    op = rng.choice(("delta", "header", "division", "chunk_len", "dup_track", "splice", "storm",
                     "vlq_run", "notes", "running_sysex", "settings"))
    if op == "delta" and spans:
        start, end = rng.choice(spans)
        pos = rng.randrange(start + 8, max(end, start + 9))
        data[pos:pos] = rng.choice((b"\xff\xff\xff\x7f", b"\x8f\xff\xff\x7f", b"\x81\x80\x80\x00",
                                    midi_watch.vlq(rng.randrange(1 << 28))))
    elif op == "header":
        data[8:10] = struct.pack(">h", rng.choice((0, 1, 2, 3, -1, 0x7FFF)))
        if rng.random() < 0.5:
            data[10:12] = struct.pack(">h", rng.choice((0, 1, 2, 200, 0x7FFF, -3)))
    elif op == "division":
        fps = rng.choice((24, 25, 29, 30, 0, 1, 127))
        word = rng.choice((((256 - fps) << 8) | rng.randrange(256), 0, 1, 0x7FFF, 15360))
        data[12:14] = struct.pack(">H", word & 0xFFFF)
    elif op == "chunk_len" and spans:
        start, _ = rng.choice(spans)
        data[start + 4:start + 8] = struct.pack(">I", rng.choice((0, 1, 0xFFFFFFFF,
                                                                  rng.randrange(1 << 20))))
    elif op == "dup_track" and spans:
        start, end = rng.choice(spans)
        copies = rng.choice((2, 10, 300))
        data += bytes(data[start:end]) * copies
        count = struct.unpack(">h", bytes(data[10:12]))[0]
        data[10:12] = struct.pack(">h", max(-32768, min(32767, count + copies)))
    elif op == "splice":
        other = rng.choice(seeds)
        other_spans = _track_spans(other)
        if other_spans:
            start, end = rng.choice(other_spans)
            data += other[start:end]
            count = struct.unpack(">h", bytes(data[10:12]))[0]
            data[10:12] = struct.pack(">h", min(32767, count + 1))
    elif op == "storm":
        body = rng.choice((b"\x00\xb0\x07\x40", b"\x01\xe0\x00\x40", b"\x00\x90\x3c\x40",
                           b"\x00\xc0\x05", b"\x00\xff\x51\x03\x00\x00\x01"))
        storm = body * rng.choice((100, 5000, 60000))
        data += midi_watch.track(storm)
        count = struct.unpack(">h", bytes(data[10:12]))[0]
        data[10:12] = struct.pack(">h", min(32767, count + 1))
    elif op == "vlq_run" and spans:
        start, end = rng.choice(spans)
        pos = rng.randrange(start + 8, max(end, start + 9))
        data[pos:pos] = b"\x80" * rng.choice((5, 100, 10000))
    elif op == "running_sysex" and spans:
        # a sysex, then data bytes that reuse its status (running status), then notes
        start, end = rng.choice(spans)
        pos = rng.randrange(start + 8, max(end, start + 9))
        data[pos:pos] = (b"\x00\xf0\x02\x01\xf7" + bytes([0, rng.randrange(128)])
                         + midi_watch.vlq(rng.randrange(1 << 28)) + b"\x01\xf7\x00\x90\x3c\x40")
    elif op == "settings" and spans:
        # damaged or oversized settings inside a track (its length mended): what load_midi blanks
        start, end = rng.choice(spans)
        pos = rng.randrange(start + 8, max(end, start + 9))
        event = _damaged_setting(rng)
        data[pos:pos] = event
        size = struct.unpack(">I", bytes(data[start + 4:start + 8]))[0]
        data[start + 4:start + 8] = struct.pack(">I", min(size + len(event), 0xFFFFFFFF))
    elif op == "notes":
        count = rng.choice((1000, 30000, 120000))
        body = b"\x00\x90" + b"\x3c\x50\x00\x3c\x00\x01" * count
        data += midi_watch.track(body)
        n = struct.unpack(">h", bytes(data[10:12]))[0]
        data[10:12] = struct.pack(">h", min(32767, n + 1))
    return bytes(data)


def _damaged_setting(rng: random.Random) -> bytes:
    """One event with its delta: a meta event mido decodes, with random data of a random length,
    or a text / system-exclusive message longer than mido reads."""
    kind = rng.choice((0x00, 0x20, 0x21, 0x51, 0x54, 0x58, 0x59, "text", "sysex"))
    if kind in ("text", "sysex"):
        size = rng.choice((1_000_001, 1_500_000))
        head = b"\x00\xff\x01" if kind == "text" else b"\x00\xf0"
        return head + midi_watch.vlq(size) + b"\x01" * size
    length = rng.choice((0, 1, 2, 3, 4, 5, 7))
    return b"\x00\xff" + bytes([kind]) + midi_watch.vlq(length) + rng.randbytes(length)


def make_input(rng: random.Random, seeds: list[bytes]) -> tuple[str, bytes]:
    roll = rng.random()
    if roll < 0.1:
        return "random", rng.randbytes(rng.randint(0, 2048))
    if roll < 0.2:
        header = b"MThd\x00\x00\x00\x06" + struct.pack(">hhh", rng.randrange(3), rng.randint(1, 4),
                                                        rng.choice((96, 480, -6360)))
        return "header_random", header + b"MTrk" + rng.randbytes(rng.randint(0, 1024))
    seed = rng.choice(seeds)
    if roll < 0.55:
        return "byte_mutation", byte_mutation(rng, seed)
    mutated = midi_mutation(rng, seed, seeds)
    if rng.random() < 0.3:
        mutated = midi_mutation(rng, mutated, seeds)
    return "midi_mutation", mutated


# -- running -------------------------------------------------------------------------------------

def run(count: int, workers: int, seed: int, extra_seeds: list[Path], save: Path | None) -> Counter:
    seeds = load_seeds(extra_seeds)
    rng = random.Random(seed)
    inputs: queue.Queue = queue.Queue(maxsize=64)
    counts: Counter = Counter()
    lock = threading.Lock()
    worst = {"seconds": 0.0, "peak": 0}
    examples: list[str] = []
    done = [0]
    started = time.perf_counter()

    def work():
        with midi_watch.Watcher() as watcher:
            while True:
                item = inputs.get()
                if item is None:
                    return
                index, kind, data = item
                outcome = watcher.run(data)
                if outcome.kind in ("MidiError", "loaded") and midi_watch.PYTHON_TEXT.search(
                        outcome.detail):
                    outcome.kind = "python_text"  # a musician would read a Python error
                with lock:
                    counts[outcome.kind] += 1
                    counts[f"{kind}:{outcome.kind}"] += 1
                    worst["seconds"] = max(worst["seconds"], outcome.seconds)
                    worst["peak"] = max(worst["peak"], outcome.peak_bytes)
                    done[0] += 1
                    if outcome.kind in FAILURES:
                        examples.append(f"#{index} {kind} {outcome.kind}: {outcome.detail[:300]}")
                        if save is not None:
                            save.mkdir(parents=True, exist_ok=True)
                            (save / f"{index:05d}_{outcome.kind}.mid").write_bytes(data)
                    if done[0] % 500 == 0:
                        rate = done[0] / (time.perf_counter() - started)
                        print(f"  {done[0]:,} inputs ({rate:.0f}/s) {dict(_main_counts(counts))}",
                              flush=True)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for index in range(count):
        kind, data = make_input(rng, seeds)
        inputs.put((index, kind, data))
    for _ in threads:
        inputs.put(None)
    for t in threads:
        t.join()
    counts["_max_cpu_ms"] = int(worst["seconds"] * 1000)
    counts["_max_peak_mb"] = worst["peak"] >> 20
    for line in examples[:20]:
        print(line)
    return counts


def _main_counts(counts: Counter) -> list[tuple[str, int]]:
    return [(k, v) for k, v in sorted(counts.items()) if ":" not in k and not k.startswith("_")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=Path, action="append", default=[],
                        help="extra folder of .mid files to mutate")
    parser.add_argument("--save-failures", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = run(args.count, args.workers, args.seed, args.seeds, args.save_failures)
    total = sum(v for k, v in _main_counts(counts))
    over = counts["over_time"] + counts["over_memory"]
    print(f"\ninputs: {total:,} in {time.perf_counter() - started:.0f} s")
    print(f"crashes: {counts['crash']}")
    print(f"exceptions other than MidiError: {counts['exception']}")
    print(f"inputs over the limits (10 s processor time / 1 GB): {over}")
    print(f"messages with raw Python error text: {counts['python_text']}")
    print(f"results: loaded {counts['loaded']:,}, MidiError {counts['MidiError']:,}")
    print(f"largest processor time: {counts['_max_cpu_ms'] / 1000:.2f} s; largest memory peak "
          f"above baseline: {counts['_max_peak_mb']} MB")
    by_kind = sorted((k, v) for k, v in counts.items() if ":" in k)
    print("by input kind: " + ", ".join(f"{k}={v}" for k, v in by_kind))
    return 0 if counts["crash"] == counts["exception"] == over == counts["python_text"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
