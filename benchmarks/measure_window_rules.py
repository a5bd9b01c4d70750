"""Measure the candidate window rules on O'Neill's Music of Ireland (held out, never trained on).

For each rule (`music.windows.WINDOW_RULES`) and pickup handling, per metre: windows cut and
greedy reconstruction onset F1 from `mu` with the embedded default model. Onset F1 is the F1 of
(onset step, pitch) pairs between each input window's musical steps and the greedy decode of its
`mu` over the same steps. Also: how often `find_pickup` finds the score's own first bar line.

    python benchmarks/measure_window_rules.py [--per-metre 8] [--folder DIR]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import oneill



def onsets(tensor: np.ndarray, steps: int) -> set:
    """(step, class) of every note onset (melody classes ≥ 2) in the first `steps` steps."""
    labels = np.argmax(tensor[:steps], axis=-1)
    return {(t, int(c)) for t, c in enumerate(labels) if c >= 2}


def f1(truth: set, guess: set) -> float:
    if not truth and not guess:
        return 1.0
    hits = len(truth & guess)
    return 2 * hits / (len(truth) + len(guess)) if hits else 0.0


def true_pickup(entry: dict) -> int:
    """The score's first bar line in 16th steps (0 without a pickup)."""
    bar, first = entry.get("bar_quarters"), entry.get("first_bar_quarters")
    if not bar or first is None or first >= bar:
        return 0
    return int(round(first * 4))


def pick(index: list[dict], per_metre: int) -> list[dict]:
    chosen, seen = [], collections.Counter()
    for entry in index:
        if entry["writer"] == "music21" and len(entry["metres"]) == 1 and seen[entry["metre"]] < per_metre:
            chosen.append(entry)
            seen[entry["metre"]] += 1
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-metre", type=int, default=8)
    parser.add_argument("--folder", default=str(oneill.DEFAULT_FOLDER))
    parser.add_argument("--count", type=int, default=oneill.DEFAULT_COUNT)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from midime_widgets._quiet import hide_native_stderr

    hide_native_stderr()  # TensorFlow's C++ start-up lines
    from midime_widgets import MusicVAE
    from midime_widgets.music import load_midi, prepare_melody
    from midime_widgets.music.windows import cut_song, song_grid

    vae = MusicVAE.default()
    conv = vae.converter
    entries = pick(oneill.ensure_collection(args.folder, args.count), args.per_metre)
    variants = [("bars", "found"), ("bars", "none"), ("bars", "score"), ("bars-padded", "found"),
                ("phrases-padded", "found"), ("fill", "found"), ("fill", "none"), ("grid", "none")]
    scores = collections.defaultdict(list)
    windows = collections.Counter()
    pickup_hits = collections.Counter()
    tunes = collections.Counter()
    for entry in entries:
        metre = entry["metre"]
        part = prepare_melody(load_midi(entry["file"])).sequence
        truth_pickup = true_pickup(entry)
        _, bars, _ = song_grid(part)
        found = bars[0].start + bars[0].steps if bars[0].number == 0 else 0
        tunes[metre] += 1
        pickup_hits[metre] += found == truth_pickup
        for rule, pickup in variants:
            given = {"found": None, "none": 0, "score": truth_pickup}[pickup]
            cut = cut_song(conv, part, rule=rule, pickup=given)
            ws = cut.windows
            _, mu, _ = vae.encode_tensors([w.inputs for w in ws], [w.length for w in ws])
            length = max(w.length for w in ws)
            decoded = vae.decode_to_tensors(mu, length=length, temperature=0.0)
            for w, out in zip(ws, decoded):
                scores[(rule, pickup, metre)].append(f1(onsets(w.outputs, w.steps), onsets(out, w.steps)))
            windows[(rule, pickup, metre)] += len(ws)
    metres = sorted(tunes, key=lambda m: (-tunes[m], m))
    print(f"{'rule':12} {'pickup':6} " + " ".join(f"{m:>10}" for m in metres) + f" {'all':>8}")
    for rule, pickup in variants:
        row = []
        every = []
        for m in metres:
            vals = scores[(rule, pickup, m)]
            every += vals
            row.append(f"{np.mean(vals):.3f}/{windows[(rule, pickup, m)]:<4}" if vals else "-")
        print(f"{rule:12} {pickup:6} " + " ".join(f"{r:>10}" for r in row) + f" {np.mean(every):8.3f}")
    print("tunes:", dict(tunes))
    print("pickup found = score's:", {m: f"{pickup_hits[m]}/{tunes[m]}" for m in metres})
    return 0


if __name__ == "__main__":
    sys.exit(main())
