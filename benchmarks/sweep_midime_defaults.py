#!/usr/bin/env python
"""Choose the product's MidiMe defaults by measurement, on tunes no model here was trained on.

    python benchmarks/sweep_midime_defaults.py                 # 32 tunes, the default grid
    python benchmarks/sweep_midime_defaults.py --tunes 48 --grid "T=0.5,beta=1;T=0.8,beta=4"

The tunes are the **validation** tunes of the default model's corpus split (folk collections:
a whole tune each, in every metre present), written to MIDI from the corpus parse cache that
``python -m midime_widgets.training.default_model prepare`` fills. Neither the default MusicVAE nor
any default was fitted on them, and O'Neill's 1850 collection stays untouched for
``bench_real_music.py`` to report on.

For every grid point (MusicVAE sample temperature ``T``, MidiMe ``beta``, ``latent`` size) each
tune is personalized as a user's file would be (``add_midi``, ``fit()`` until converged,
``sample()``, ``novelty()``), and the sweep prints, per point: the share of tunes whose samples
are closer than MusicVAE's prior (pitch classes, notes per bar, both), the median pitch-class
distance ratio (samples / prior), exact copies of an input window handed back, the draws
``sample()`` made again because they were such copies (per sample asked for), and median fit
seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench_real_music import choose_tunes, measure_tune  # noqa: E402 - beside this script

DEFAULT_FOLDER = Path.home() / ".cache" / "midime-widgets" / "val-tunes"
FOLK = ("essenFolksong", "ryansMammoth", "airdsAirs", "miscFolk")
#: Metres with fewer validation tunes than this are left out (4/1, 1/16 and the like are rare in
#: what users bring, and their few long notes make any sample a near copy).
MIN_TUNES_PER_METRE = 25
DEFAULT_GRID = "T=0.5,beta=1;T=0.7,beta=1;T=1.0,beta=1;T=0.5,beta=4;T=0.7,beta=4;T=0.5,beta=16;T=0.7,beta=16"


def parse_grid(text: str) -> list[dict]:
    """``"T=0.5,beta=1;T=0.7"`` → ``[{"T": 0.5, "beta": 1.0}, {"T": 0.7}]``."""
    points = []
    for chunk in filter(None, (c.strip() for c in text.split(";"))):
        point = {}
        for item in chunk.split(","):
            key, value = (s.strip() for s in item.split("="))
            point[key] = int(value) if key == "latent" else float(value)
        points.append(point)
    return points


def validation_tunes(folder: Path, count: int, seed: int = 0, fraction: float = 0.05) -> list[dict]:
    """Write up to `count` validation tunes (metres taken in turn) to MIDI; their index."""
    import note_seq
    from note_seq.protobuf.music_pb2 import NoteSequence

    from midime_widgets.training import corpus

    by_metre: dict[str, list[dict]] = defaultdict(list)
    for path in corpus.corpus_files({name: "" for name in FOLK}):
        if not corpus.is_parsed(path):
            continue
        for tune, blob in corpus.parse_file(path):
            if not corpus.is_validation(tune, seed, fraction):
                continue
            seq = NoteSequence.FromString(blob)
            if len(seq.notes) < 16 or not seq.time_signatures:
                continue
            ts = seq.time_signatures[0]
            by_metre[f"{ts.numerator}/{ts.denominator}"].append({"tune": tune, "seq": seq})
    entries = [{"tune": e["tune"], "file": e["tune"], "metre": metre, "seq": e["seq"]}
               for metre, found in by_metre.items() if len(found) >= MIN_TUNES_PER_METRE for e in found]
    chosen = choose_tunes(entries, count, None)
    folder.mkdir(parents=True, exist_ok=True)
    for i, entry in enumerate(chosen):
        name = f"{i:03d}_{entry['metre'].replace('/', '-')}.mid"
        note_seq.sequence_proto_to_midi_file(entry.pop("seq"), str(folder / name))
        entry["file"] = name
    return chosen


def measure(vae, path: Path, point: dict, samples: int, seed: int) -> dict:
    """``bench_real_music.measure_tune`` at one grid point."""
    overrides = {k: v for k, v in (("beta", point.get("beta")), ("latent_size", point.get("latent")))
                 if v is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return measure_tune(vae, path, samples, seed, overrides=overrides, temperature=point.get("T"))


def summary(point: dict, results: list[dict]) -> str:
    n = len(results)
    both = sum(r["pitch_closer"] and r["density_closer"] for r in results)
    copies, total = sum(r["copies"] for r in results), sum(r["samples"] for r in results)
    label = ", ".join(f"{k}={v}" for k, v in point.items())
    return (f"| {label} | {sum(r['pitch_closer'] for r in results) / n:.0%} | "
            f"{sum(r['density_closer'] for r in results) / n:.0%} | {both / n:.0%} | "
            f"{statistics.median(r['ratio'] for r in results):.2f} | "
            f"{copies}/{total} ({copies / max(total, 1):.1%}) | "
            f"{sum(r['redrawn'] for r in results) / max(total, 1):.1%} | "
            f"{statistics.median(r['fit_seconds'] for r in results):.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=32)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", default=DEFAULT_GRID, help=f"default {DEFAULT_GRID!r}")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from midime_widgets._quiet import hide_native_stderr

    hide_native_stderr()
    chosen = validation_tunes(args.folder, args.tunes, args.seed)
    if not chosen:
        parser.error("no validation tunes parsed: run `default_model prepare` first")
    from midime_widgets.errors import MidiError
    from midime_widgets.models.musicvae import MusicVAE

    vae = MusicVAE.default()
    points = parse_grid(args.grid)
    rows, per_point = [], {}
    for point in points:
        results = []
        for entry in chosen:
            try:
                results.append(measure(vae, args.folder / entry["file"], point, args.samples, args.seed))
            except MidiError:
                continue
        rows.append(summary(point, results))
        per_point[json.dumps(point)] = results
        print(rows[-1], file=sys.stderr, flush=True)
    metres = sorted({e["metre"] for e in chosen})
    print(f"\n{len(chosen)} validation tunes of the default model's corpus ({', '.join(metres)}), "
          f"{args.samples} samples and as many prior samples per tune.\n")
    print("| point | pitch classes closer | note density closer | both closer | median ratio | "
          "exact copies handed back | draws made again (copies, silent, repeats) | median fit s |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps({"tunes": chosen, "results": per_point}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
