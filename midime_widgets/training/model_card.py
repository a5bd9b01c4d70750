"""Measure the default model on its validation tunes and write MODEL_CARD.md.

    python -m midime_widgets.training.model_card [--run-dir runs/default] [--out MODEL_CARD.md]

Metrics: greedy reconstruction from mu (step accuracy, note-onset F1) on the validation windows;
prior samples at temperature 0.5 (share non-empty / monophonic / in range, distinct out of 64);
pitch-class and interval histograms of 512 samples against the training corpus (total variation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import metrics

from .default_model import PACKAGE_DIR, RUN_DIR, by_metre, load_metres, load_windows, quality, reconstruct

# The targets the card reports against.
ONSET_F1_OVERALL, ONSET_F1_PER_METRE, HISTOGRAM_TV = 0.90, 0.85, 0.15


def load_core(model_dir: Path = PACKAGE_DIR):
    from ..models.configs import MusicVAEConfig
    from ..models.core import MusicVAECore
    from .tf1_checkpoint import read_checkpoint_tensors

    meta = json.loads((model_dir / "config.json").read_text())
    config = MusicVAEConfig.from_dict(meta["config"])
    weights = read_checkpoint_tensors(model_dir / "model.ckpt")
    return MusicVAECore(config, weights=weights), meta


def held_out_windows(folder: Path, config, limit: int = 400):
    """Windows, their metres and their files' names from the first `limit` MIDI files in
    `folder`, cut as a user's songs are (the held-out real music: O'Neill's collection, see
    benchmarks/oneill.py)."""
    import warnings

    from ..errors import MidiError
    from ..music.midi_io import load_midi
    from .corpus import _ModelShape, line_windows

    model = _ModelShape(config)
    rows, metres, names = [], [], []
    for path in sorted(Path(folder).glob("*.mid"))[:limit]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                windows, window_metres = line_windows(model, load_midi(str(path)))
        except MidiError:
            continue
        rows.append(windows)
        metres += window_metres
        names += [path.name] * len(windows)
    return np.concatenate(rows), np.array(metres, dtype=str), np.array(names, dtype=str)


def tunes_below(target: np.ndarray, pred: np.ndarray, metres: np.ndarray, names: np.ndarray,
                table: dict) -> dict:
    """For each metre that misses its target: `{metre: {tune: {"windows", "onset_f1"}}}`, worst
    tune first (which tunes a per-metre figure comes from)."""
    out = {}
    for metre, row in table.items():
        if _verdict(row, "metre").startswith("below"):
            here = metres == metre
            tunes = {str(n): {"windows": int(np.sum(names[here] == n)),
                              "onset_f1": metrics.onset_f1(target[here][names[here] == n],
                                                           pred[here][names[here] == n])}
                     for n in np.unique(names[here])}
            out[metre] = dict(sorted(tunes.items(), key=lambda item: item[1]["onset_f1"]))
    return out


def evaluate(model_dir: Path = PACKAGE_DIR, run_dir: Path = RUN_DIR, held_out: Path | None = None) -> dict:
    core, meta = load_core(model_dir)
    val, val_metres = load_windows(run_dir / "data", "val"), load_metres(run_dir / "data", "val")
    train = load_windows(run_dir / "data", "train")
    start = time.time()
    pred = reconstruct(core, val)
    corpus_iv = metrics.interval_histogram(train)
    result = {
        "validation_windows": int(len(val)),
        **quality(core, val, val_metres, train, meta.get("training", {}).get("transpose_semitones", 0), pred),
        "val_exact_windows": float(np.mean(np.all(val == pred, axis=1))),
        # the validation tunes as written against the corpus as written (both untransposed)
        "val_pitch_class_tv": metrics.total_variation(metrics.pitch_class_histogram(val),
                                                      metrics.pitch_class_histogram(train)),
        "val_interval_tv": metrics.total_variation(metrics.interval_histogram(val), corpus_iv),
    }
    if held_out is not None and Path(held_out).is_dir():
        rows, metres, names = held_out_windows(held_out, core.config)
        held_pred = reconstruct(core, rows)
        table = by_metre(rows, held_pred, metres)
        result["held_out"] = {"files": int(len(np.unique(names))), "windows": int(len(rows)),
                              "onset_f1": metrics.onset_f1(rows, held_pred), "by_metre": table,
                              "tunes_below": tunes_below(rows, held_pred, metres, names, table)}
    result["eval_seconds"] = round(time.time() - start, 1)
    result["meta"] = meta
    return result


def _metre_rows(table: dict) -> str:
    return "\n".join(f"| {m} | {r['windows']} | {r['onset_f1']:.3f} | {_verdict(r, 'metre')} |" for m, r in table.items())


def _verdict(row: dict, scope: str) -> str:
    """Against the targets: onset F1 ≥ 0.90 overall, ≥ 0.85 in a metre with 20+ windows."""
    if scope == "metre" and row["windows"] < 20:
        return "(under 20 windows)"
    goal = ONSET_F1_OVERALL if scope == "overall" else ONSET_F1_PER_METRE
    return f"meets ≥ {goal}" if row["onset_f1"] >= goal else f"below {goal}"


def _tunes_below_text(below: dict) -> str:
    """Where a metre below its target gets its windows from, tune by tune."""
    parts = []
    for metre, tunes in below.items():
        listed = "; ".join(f"{name} {t['windows']} window{'' if t['windows'] == 1 else 's'}, "
                           f"{t['onset_f1']:.3f}" for name, t in tunes.items())
        parts.append(f"\n\n{metre} below its target comes from {len(tunes)} tunes (worst first): {listed}.")
    return "".join(parts)


def _sweep_rows(sweep: dict) -> str:
    return "\n".join(
        f"| {name} | {r['free_bits']} | {r['max_beta']} | {r['steps']} | {r['train_kl']:.1f} | "
        f"{r['val_onset_f1']:.3f} | {r['prior_pitch_class_tv']:.3f} | {r['prior_interval_tv']:.3f} |"
        for name, r in sorted(sweep.items(), key=lambda item: (item[1]["free_bits"], item[1]["max_beta"])))


def render(result: dict, sweep: dict | None = None) -> str:
    meta = result["meta"]
    cfg, training, data = meta["config"], meta.get("training", {}), meta.get("data", {})
    prior = result["prior"]
    history = "\n".join(f"- {line}" for line in training.get("history", []))
    rows = "\n".join(
        f"| {name} | {c['files']} | {c['tunes']} | {c['windows']} | {c['source']} |"
        for name, c in data.get("collections", {}).items()
    )
    held = result.get("held_out")
    held_text = "Not measured in this run (pass `--held-out FOLDER`, written by `benchmarks/oneill.py`)."
    if held:
        held_text = (f"{held['files']} tunes, {held['windows']} windows, cut as a user's songs are. "
                     f"Onset F1 overall **{held['onset_f1']:.3f}** ({_verdict(held, 'overall')}).\n\n"
                     "| metre | windows | onset F1 | target |\n|---|---|---|---|\n" + _metre_rows(held["by_metre"])
                     + _tunes_below_text(held.get("tunes_below", {})))
    sweep_text = "No sweep recorded."
    if sweep:
        sweep_text = ("Each candidate trained the same number of steps from the same checkpoint on the same "
                      "data, measured on the same validation windows (`default_model sweep`; prior "
                      "distances of the training checkpoints, before the export matches the prior):\n\n"
                      "| candidate | free bits | beta | steps | KL (nats) | val onset F1 | prior pitch-class TV | "
                      "prior interval TV |\n|---|---|---|---|---|---|---|---|\n" + _sweep_rows(sweep))
    scale = training.get("latent_scale")
    scale_text = "The latent was not rescaled (an export before prior matching)."
    if scale:
        scale_text = (
            "Free bits above the KL the model settles at leave nothing tying the spread of the codes "
            "of real tunes to the prior N(0, I): they filled about 0.8² of its variance, so prior "
            "samples landed where no tune lies and repeated notes far more often than the corpus. "
            "The export re-expresses the weights in coordinates z / s, with s² = E[mu² + sigma²] per "
            f"dimension over {scale['windows']} training windows (median s {scale['median']}, range "
            f"{scale['min']}–{scale['max']}): the KL-optimal scale. The mu head divides by s and the "
            "decoder's z inputs multiply by s, so reconstructions from mu are unchanged up to float "
            "rounding (the greedy decodes of the validation windows agree step for step); the sigma "
            "head's bias shifts so each dimension's mean sigma scales by 1/s too.")
    ok = lambda value, goal: "meets" if value <= goal else "above"  # noqa: E731
    return f"""# Model card: `{cfg['name']}` (the embedded default MusicVAE)

A 2-bar melody MusicVAE trained by this project so that midime-widgets works offline on a fresh
machine. It has magenta's `cat-mel_2bar_small` structure with a smaller encoder and ships inside the
package as a magenta-layout TF checkpoint (`midime_widgets/models/default/`, float32), so it loads
in our loader and in magenta's own `TrainedModel`.

## Architecture
| field | value |
|---|---|
| encoder | bidirectional LSTM {list(cfg['enc_rnn_sizes'])} |
| decoder | categorical LSTM {list(cfg['dec_rnn_sizes'])} |
| z size | {cfg['z_size']} |
| sequence | {cfg['max_seq_len']} steps of a 16th note, 90 classes (pitches 21–108) |
| objective | reconstruction + beta·max(KL − free bits, 0); free bits {cfg['free_bits']}, beta → {cfg['max_beta']} (rate {cfg['beta_rate']}) |
| decoder training | teacher forcing with scheduled sampling ({cfg['sampling_schedule']}, rate {cfg['sampling_rate']}) |
| optimiser | Adam, lr {cfg['learning_rate']} decaying ×{cfg['decay_rate']}/step to {cfg['min_learning_rate']}, global-norm clip {cfg['grad_clip']}, batch {cfg['batch_size']} |

## Data
{data.get('description', '')}

| collection | files | tunes | windows | source and licence |
|---|---|---|---|---|
{rows}

Train: {data.get('train_windows', '?')} windows from {data.get('train_tunes', '?')} tunes; validation:
{data.get('val_windows', '?')} windows from {data.get('val_tunes', '?')} tunes.

Licence notes: the music itself is traditional or centuries old, i.e. in the public domain. The
machine-readable encodings are the ones shipped in music21's corpus (music21 is BSD-3-Clause
licensed); check music21's corpus notes for each collection's terms before redistributing the
*data*. This package ships only the trained weights, never the corpus, and the data-prep command
rebuilds the windows from a local music21 install.

## Choosing free bits and beta
{sweep_text}

## Training
{training.get('steps', '?')} steps, {training.get('seconds', 0) / 3600:.1f} h of wall-clock time on the project's 2-core machine
(checkpointed and resumed).

{history}

### Matching the prior
{scale_text}

## Quality on held-out real music: O'Neill's Music of Ireland (1850)
Never trained on. Greedy reconstruction from mu, note onsets matched on (window, step, pitch).

{held_text}

## Quality on the validation tunes (never seen in training)
| metric | value |
|---|---|
| note-onset F1 (from mu) | **{result['val_onset_f1']:.3f}** |
| greedy reconstruction step accuracy (from mu) | {result['val_step_accuracy']:.3f} |
| windows reconstructed exactly | {result['val_exact_windows']:.1%} |
| prior samples (T = 0.5): non-empty | {prior['non_empty']:.0%} |
| prior samples: monophonic / in range | {prior['monophonic']:.0%} / {prior['in_range']:.0%} |
| prior samples: distinct out of {prior['count']} | {prior['distinct']} |
| prior samples: notes per sample | {prior['notes_per_sample']:.1f} |
| pitch-class histogram distance, {result['prior_histogram_samples']} samples vs corpus as trained (TV) | {result['prior_pitch_class_tv']:.3f} ({ok(result['prior_pitch_class_tv'], HISTOGRAM_TV)} ≤ {HISTOGRAM_TV}; validation vs corpus: {result['val_pitch_class_tv']:.3f}) |
| interval histogram distance, {result['prior_histogram_samples']} samples vs corpus (TV) | {result['prior_interval_tv']:.3f} ({ok(result['prior_interval_tv'], HISTOGRAM_TV)} ≤ {HISTOGRAM_TV}; validation vs corpus: {result['val_interval_tv']:.3f}) |

"Corpus as trained": training transposes each window by a random ±{training.get('transpose_semitones', 0)} semitones, so the
pitch classes the model learns are the corpus's averaged over those shifts.

| metre (validation) | windows | onset F1 | target |
|---|---|---|---|
{_metre_rows(result['val_by_metre'])}

Measured on {result['validation_windows']} validation windows by
`python -m midime_widgets.training.model_card`. Tests (`tests/test_default_model.py`) assert floors on
a small held-out set so a broken model cannot ship.

## Reproduce or continue training
The corpus windows (`runs/default/data/`) and the latest training checkpoint with its Adam state
(`runs/default/train/`, Adam moments stored as bfloat16 to stay small) are committed, so a later
session resumes where this one stopped:

```bash
python -m midime_widgets.training.default_model prepare --workers 2   # rebuild the data from music21 (parse cached outside git)
python -m midime_widgets.training.default_model sweep        # free bits / beta candidates, from the latest checkpoint
python -m midime_widgets.training.default_model train --max-minutes 150   # resumes from runs/default/train
python -m midime_widgets.training.default_model export       # weights → midime_widgets/models/default/
python -m midime_widgets.training.default_model compact      # latest checkpoint only, Adam state as bfloat16 (to commit)
python benchmarks/oneill.py ~/.cache/midime-widgets/oneill   # the held-out tunes as MIDI
python -m midime_widgets.training.model_card --held-out ~/.cache/midime-widgets/oneill   # re-measure, rewrite this file
TF_USE_LEGACY_KERAS=1 .oracle-venv/bin/python tests/oracle/gen_default_model_fixture.py
```

## Intended use and limits
Personalization with MidiMe, teaching latent spaces, offline demos. Trained on folk tunes and
part-music lines in every metre: it reconstructs and samples such melodies best; other styles work
but sound more "folk". 2 bars of 4/4 (or a phrase of 1, 2 or 4 whole bars of another metre that fits in 32 steps);
for longer or multi-instrument music use an official checkpoint (`MusicVAE.pretrained(...)`).
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write MODEL_CARD.md for the default model.")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--model-dir", type=Path, default=PACKAGE_DIR)
    parser.add_argument("--out", type=Path, default=Path("MODEL_CARD.md"))
    parser.add_argument("--held-out", type=Path, default=None,
                        help="folder of held-out MIDI files (O'Neill's tunes, benchmarks/oneill.py)")
    args = parser.parse_args(argv)
    result = evaluate(args.model_dir, args.run_dir, args.held_out)
    sweep_file = args.run_dir / "sweep.json"
    sweep = json.loads(sweep_file.read_text()) if sweep_file.exists() else None
    args.out.write_text(render(result, sweep))
    (args.model_dir / "metrics.json").write_text(
        json.dumps({k: v for k, v in result.items() if k != "meta"}, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "meta"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
