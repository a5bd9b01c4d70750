#!/usr/bin/env python
"""Benchmark: personalization at the product's defaults on real music, O'Neill's Music of Ireland.

    python benchmarks/bench_real_music.py                  # 24 tunes, spread over the metres
    python benchmarks/bench_real_music.py --tunes 60 --metres 4/4,6/8
    python benchmarks/bench_real_music.py --json out.json  # the per-tune figures too

O'Neill's 1850 collection (bundled with music21) is the project's held-out real-music test: no
model in this project is trained on it. The first ``--pool`` tunes are written to MIDI once with
music21 by ``benchmarks/oneill.py`` (it writes a few scores music21 cannot from their notes) and cached in
``~/.cache/midime-widgets/oneill/`` (``--cache`` to move it). ``--tunes`` of them are chosen in
collection order, taking the metres in turn so that every metre present is covered.

Each tune goes through :class:`~midime_widgets.personalize.Personalizer` exactly as a user's file
would, with every default untouched: ``add_midi``, ``fit()``, ``sample()``. Per tune it measures

* windows: how many windows the song gives (a refused file is counted and listed, not fatal);
* reconstruction onset F1: the windows encoded to MusicVAE ``mu`` and decoded greedily, note
  onsets matched on (window, step, pitch) — what the MusicVAE itself can represent;
* closer than the prior: ``--samples`` personalized samples against as many MusicVAE prior
  samples, both decoded at ``SAMPLE_TEMPERATURE`` and shaped alike (``Personalizer.novelty``:
  same steps, the tune's metre and tempo). A tune counts as closer in pitch classes when
  the samples' pitch-class histogram is nearer the tune's (total variation) than the prior
  samples' is, and closer in density when the samples' notes per bar (note onsets per bar of the
  tune's metre) are nearer the tune's than the prior samples' are;
* the distance ratio: samples' pitch-class distance / prior samples' (below 1 = closer);
* copies: samples identical to an input window on the 16th grid (see ``NoveltyIndex``) that
  ``sample()`` hands back, the (nearly) silent samples and the repeats of an earlier sample
  it hands back, and how many draws it made again because they were such copies, silent or repeats
  (``Sample.redrawn``, see ``COPY_REDRAWS``);
* time: wall and CPU seconds of the default ``fit()``, and wall seconds for the whole tune.

Prints a markdown table per metre (and in all).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from oneill import DEFAULT_FOLDER, ensure_collection  # noqa: E402 - benchmarks/oneill.py, beside this script



# ------------------------------------------------------------------------------------------------
# The collection as MIDI files (written once, then read from the cache)
# ------------------------------------------------------------------------------------------------


def choose_tunes(index: list[dict], tunes: int, metres: list[str] | None) -> list[dict]:
    """``tunes`` entries in collection order, taking the metres in turn (so each is covered)."""
    by_metre: dict[str, list[dict]] = defaultdict(list)
    for entry in index:
        if metres is None or entry["metre"] in metres:
            by_metre[entry["metre"]].append(entry)
    chosen: list[dict] = []
    queues = [list(q) for q in by_metre.values()]
    while len(chosen) < tunes and any(queues):
        for queue in queues:
            if queue and len(chosen) < tunes:
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda e: e["file"])


# ------------------------------------------------------------------------------------------------
# Measuring one tune at the defaults
# ------------------------------------------------------------------------------------------------


def reconstruction_f1(vae, windows, codes) -> float:
    """Onset F1 of the windows decoded greedily from their ``mu`` (steps past a window's length
    do not count)."""
    import numpy as np

    from midime_widgets.training import metrics

    decoded = np.argmax(vae.decode_to_tensors(codes, temperature=0.0), axis=-1)
    target = np.zeros_like(decoded)
    for i, window in enumerate(windows):
        length = min(int(window.length), decoded.shape[1])
        target[i, :length] = np.argmax(window.outputs[:length], axis=-1)
        decoded[i, length:] = metrics.NO_EVENT
    return metrics.onset_f1(target, decoded)


def measure_tune(vae, path: Path, samples: int, seed: int, *, overrides: dict | None = None,
                 temperature: float | None = None) -> dict:
    """Everything the table needs for one tune, at the product's defaults (or with MidiMe
    `overrides` such as ``{"beta": 2.0}`` and a sample `temperature`, for a sweep)."""
    from midime_widgets.personalize import SAMPLE_TEMPERATURE, Personalizer

    temperature = SAMPLE_TEMPERATURE if temperature is None else temperature
    started = time.perf_counter()
    person = Personalizer(vae, **(overrides or {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. chords reduced to their top note
        person.add_midi(path)
    codes = person.codes()
    cpu = time.process_time()
    fit_started = time.perf_counter()
    first_epoch: list[float] = []

    def progress(epoch, total, logs):
        if not first_epoch:
            first_epoch.append(time.perf_counter() - fit_started)

    history = person.fit(on_progress=progress)
    fit_seconds = time.perf_counter() - fit_started
    fit_cpu = time.process_time() - cpu
    generated = person.sample(samples, seed=seed, temperature=temperature)
    report = person.novelty(generated, prior_samples=samples, seed=seed + 1, temperature=temperature)
    closer = report.closer()
    return {
        "windows": len(person.windows),
        "f1": reconstruction_f1(vae, person.windows, codes),
        "pitch_closer": closer["pitch classes"],
        "density_closer": closer["note density"],
        "ratio": report.pitch_class_distance / max(report.prior_pitch_class_distance, 1e-9),
        "pitch_distance": [report.pitch_class_distance, report.prior_pitch_class_distance],
        "copies": report.copied,
        "silent": report.silent + report.sparse,
        "repeats": report.repeats,
        "redrawn": sum(s.redrawn for s in generated),
        "samples": report.samples,
        "density": [report.input_note_density, report.note_density, report.prior_note_density],
        "fit_seconds": fit_seconds,
        "first_epoch_seconds": first_epoch[0] if first_epoch else None,
        "fit_cpu_seconds": fit_cpu,
        "steps": history.steps,
        "stop_reason": history.stop_reason,
        "seconds": time.perf_counter() - started,
    }


# ------------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------------


def _row(label: str, files: int, results: list[dict]) -> str:
    ok = len(results)
    if not ok:
        return f"| {label} | 0/{files} | – | – | – | – | – | – | – | – |"
    both = sum(r["pitch_closer"] and r["density_closer"] for r in results)

    def share(key: str) -> str:
        return f"{sum(r[key] for r in results) / ok:.0%}"

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    copies, total = sum(r["copies"] for r in results), sum(r["samples"] for r in results)
    redrawn = sum(r.get("redrawn", 0) for r in results)
    silent = sum(r.get("silent", 0) for r in results)
    repeats = sum(r.get("repeats", 0) for r in results)
    return (
        f"| {label} | {ok}/{files} | {sum(r['windows'] for r in results)} | "
        f"{statistics.mean(r['f1'] for r in results):.2f} | {share('pitch_closer')} | "
        f"{share('density_closer')} | {both / ok:.0%} | {med('ratio'):.2f} | "
        f"{copies}/{total} ({copies / max(total, 1):.1%}); {silent} / {repeats}; "
        f"{redrawn} drawn again | "
        f"{med('fit_seconds'):.2f} / {med('seconds'):.2f} |"
    )


def table(chosen: list[dict], results: dict[str, dict]) -> str:
    lines = [
        "| metre | files accepted | windows | recon. onset F1 (mu, greedy) | pitch classes closer "
        "than prior | note density closer | both closer | median distance ratio (samples/prior) | "
        "exact copies handed back; (nearly) silent / repeats handed back; draws made again | median s: fit / whole tune |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    metres = sorted({e["metre"] for e in chosen})
    for metre in metres:
        entries = [e for e in chosen if e["metre"] == metre]
        lines.append(_row(metre, len(entries), [results[e["file"]] for e in entries if e["file"] in results]))
    lines.append(_row("**all**", len(chosen), [results[e["file"]] for e in chosen if e["file"] in results]))
    return "\n".join(lines)


class RetracingCounter(logging.Handler):
    """Counts TensorFlow's "triggered tf.function retracing" warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += "retracing" in record.getMessage()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=24, help="how many tunes (default 24)")
    parser.add_argument("--metres", help="comma-separated metres to keep, e.g. 4/4,6/8 (default all)")
    parser.add_argument("--pool", type=int, default=400, help="tunes written to the cache (default 400)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_FOLDER, help=f"default {DEFAULT_FOLDER}")
    parser.add_argument("--samples", type=int, default=16, help="samples per tune, and prior samples (16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the per-tune figures here")
    args = parser.parse_args(argv)
    if args.tunes < 1 or args.samples < 1:
        parser.error("--tunes and --samples must be at least 1")

    from midime_widgets._quiet import hide_native_stderr

    hide_native_stderr()  # TensorFlow's C++ start-up lines; Python's stderr still prints
    index = ensure_collection(args.cache, args.pool, log=lambda line: print(line, file=sys.stderr))
    metres = [m.strip() for m in args.metres.split(",")] if args.metres else None
    chosen = choose_tunes(index, args.tunes, metres)
    if not chosen:
        parser.error(f"no tune in the first {args.pool} has metre {args.metres}")

    from midime_widgets.errors import MidiError
    from midime_widgets.models.midime import DEFAULT_MAX_STEPS, PLATEAU_STEPS, PLATEAU_TOLERANCE
    from midime_widgets.models.musicvae import MusicVAE
    from midime_widgets.personalize import SAMPLE_TEMPERATURE

    retracing = RetracingCounter()
    logging.getLogger("tensorflow").addHandler(retracing)
    vae = MusicVAE.default()
    results: dict[str, dict] = {}
    refused: list[str] = []
    for entry in chosen:
        try:
            results[entry["file"]] = measure_tune(vae, args.cache / entry["file"], args.samples, args.seed)
        except MidiError as err:
            refused.append(f"- {entry['file']} ({entry['metre']}): {err}")
        print(f"  {entry['file']}: " + (json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                                   for k, v in results[entry['file']].items()})
                                        if entry["file"] in results else "refused"), file=sys.stderr)

    print(f"\nO'Neill's Music of Ireland (1850), {len(chosen)} tunes (held out of all training); "
          f"defaults: fit until converged (loss change < {PLATEAU_TOLERANCE:.0%} over {PLATEAU_STEPS} steps, "
          f"at most {DEFAULT_MAX_STEPS} steps), {args.samples} samples and {args.samples} prior samples "
          f"at temperature {SAMPLE_TEMPERATURE}.\n")
    print(table(chosen, results))
    done = [results[e["file"]] for e in chosen if e["file"] in results]
    if done:
        samples_d, prior_d = (statistics.median(r["pitch_distance"][k] for r in done) for k in (0, 1))
        print(f"\nMedian pitch-class distance to the tune (total variation, 0 = same): personalized "
              f"samples {samples_d:.3f}, MusicVAE's prior samples {prior_d:.3f}.")
    later = [results[e["file"]]["first_epoch_seconds"] for e in chosen if e["file"] in results][1:]
    if later:
        print(f"\nFirst epoch after the first tune: median {statistics.median(later):.3f} s, "
              f"max {max(later):.3f} s; TensorFlow retracing warnings: {retracing.count}.")
    if refused:
        print(f"\nRefused files ({len(refused)}):")
        print("\n".join(refused))
    if args.json:
        args.json.write_text(json.dumps({"tunes": chosen, "results": results, "refused": refused}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
