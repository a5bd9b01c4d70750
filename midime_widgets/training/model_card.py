"""Measure the default model on its validation tunes and write MODEL_CARD.md.

    python -m midime_widgets.training.model_card [--run-dir runs/default] [--out MODEL_CARD.md]

Metrics: greedy reconstruction from mu (step accuracy, note-onset F1) on the validation windows;
prior samples at temperature 0.5 (share non-empty / monophonic / in range, distinct out of 64);
pitch-class and interval histograms of the samples against the training corpus (total variation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import metrics
from .default_model import PACKAGE_DIR, RUN_DIR, load_windows, prior_samples, reconstruct


def load_core(model_dir: Path = PACKAGE_DIR):
    from ..models.configs import MusicVAEConfig
    from ..models.core import MusicVAECore
    from .tf1_checkpoint import read_checkpoint_tensors

    meta = json.loads((model_dir / "config.json").read_text())
    config = MusicVAEConfig.from_dict(meta["config"])
    weights = read_checkpoint_tensors(model_dir / "model.ckpt")
    return MusicVAECore(config, weights=weights), meta


def evaluate(model_dir: Path = PACKAGE_DIR, run_dir: Path = RUN_DIR) -> dict:
    core, meta = load_core(model_dir)
    val = load_windows(run_dir / "data", "val")
    train = load_windows(run_dir / "data", "train")
    start = time.time()
    pred = reconstruct(core, val)
    samples = prior_samples(core)
    corpus_pc = metrics.pitch_class_histogram(train)
    corpus_iv = metrics.interval_histogram(train)
    return {
        "validation_windows": int(len(val)),
        "val_step_accuracy": metrics.step_accuracy(val, pred),
        "val_onset_f1": metrics.onset_f1(val, pred),
        "val_exact_windows": float(np.mean(np.all(val == pred, axis=1))),
        "prior": metrics.sample_stats(samples),
        "prior_pitch_class_tv": metrics.total_variation(metrics.pitch_class_histogram(samples), corpus_pc),
        "prior_interval_tv": metrics.total_variation(metrics.interval_histogram(samples), corpus_iv),
        "val_pitch_class_tv": metrics.total_variation(metrics.pitch_class_histogram(val), corpus_pc),
        "val_interval_tv": metrics.total_variation(metrics.interval_histogram(val), corpus_iv),
        "eval_seconds": round(time.time() - start, 1),
        "meta": meta,
    }


def render(result: dict) -> str:
    meta = result["meta"]
    cfg, training, data = meta["config"], meta.get("training", {}), meta.get("data", {})
    prior = result["prior"]
    goal = "meets" if result["val_step_accuracy"] >= 0.90 else "does not yet meet"
    history = "\n".join(f"- {line}" for line in training.get("history", []))
    rows = "\n".join(
        f"| {name} | {c['files']} | {c['tunes']} | {c['windows']} | {c['source']} |"
        for name, c in data.get("collections", {}).items()
    )
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
| sequence | {cfg['max_seq_len']} steps (2 bars of 4/4, 16th notes), 90 classes (pitches 21–108) |
| objective | reconstruction + beta·max(KL − free bits, 0); free bits {cfg['free_bits']}, beta → {cfg['max_beta']} (rate {cfg['beta_rate']}) |
| decoder training | teacher forcing with scheduled sampling ({cfg['sampling_schedule']}, rate {cfg['sampling_rate']}) |
| optimiser | Adam, lr {cfg['learning_rate']} decaying ×{cfg['decay_rate']}/step to {cfg['min_learning_rate']}, global-norm clip {cfg['grad_clip']}, batch {cfg['batch_size']} |

## Data
music21's bundled corpus (offline), first part of each tune (every voice for Bach chorales),
2-bar windows with hop 1 bar cut by our melody converter (magenta's cat-mel_2bar semantics: 4/4
only; 2/4 tunes are read as 4/4), deduplicated, split by tune (seed {data.get('seed', 0)},
{data.get('val_fraction', 0.05):.0%} of tunes held out; windows that also occur in a training tune
are removed from validation). Training windows are transposed by a random ±{training.get('transpose_semitones', 0)} semitones.

| collection | files | tunes | windows | source and licence |
|---|---|---|---|---|
{rows}

Train: {data.get('train_windows', '?')} windows from {data.get('train_tunes', '?')} tunes; validation:
{data.get('val_windows', '?')} windows from {data.get('val_tunes', '?')} tunes.

Licence notes: the music itself is traditional folk song (Essen) or centuries old (Bach), i.e. in
the public domain. The machine-readable encodings are the ones shipped in music21's corpus
(music21 is BSD-3-Clause licensed); check music21's corpus notes for each collection's terms before
redistributing the *data*. This package ships only the trained weights, never the corpus, and the
data-prep script rebuilds the windows from a local music21 install.

## Training
{training.get('steps', '?')} steps, {training.get('seconds', 0) / 3600:.1f} h of wall-clock time on the project's 2-core machine
(checkpointed and resumed).

{history}

## Quality (validation tunes never seen in training)
| metric | value |
|---|---|
| greedy reconstruction step accuracy (from mu) | **{result['val_step_accuracy']:.3f}** (goal ≥ 0.90: {goal}) |
| note-onset F1 (from mu) | {result['val_onset_f1']:.3f} |
| windows reconstructed exactly | {result['val_exact_windows']:.1%} |
| prior samples (T = 0.5): non-empty | {prior['non_empty']:.0%} |
| prior samples: monophonic / in range | {prior['monophonic']:.0%} / {prior['in_range']:.0%} |
| prior samples: distinct out of {prior['count']} | {prior['distinct']} |
| prior samples: notes per sample | {prior['notes_per_sample']:.1f} |
| pitch-class histogram distance, samples vs corpus (TV) | {result['prior_pitch_class_tv']:.3f} (validation vs corpus: {result['val_pitch_class_tv']:.3f}) |
| interval histogram distance, samples vs corpus (TV) | {result['prior_interval_tv']:.3f} (validation vs corpus: {result['val_interval_tv']:.3f}) |

Measured on {result['validation_windows']} validation windows by
`python -m midime_widgets.training.model_card`. Tests (`tests/test_default_model.py`) assert floors on
a small held-out set so a broken model cannot ship.

## Reproduce or continue training
The corpus windows (`runs/default/data/`) and the latest training checkpoint with its Adam state
(`runs/default/train/`, Adam moments stored as bfloat16 to stay small) are committed, so a later
session resumes where this one stopped:

```bash
python -m midime_widgets.training.default_model prepare      # only to rebuild the data from music21
python -m midime_widgets.training.default_model train --max-minutes 150   # resumes from runs/default/train
python -m midime_widgets.training.default_model export       # weights → midime_widgets/models/default/
python -m midime_widgets.training.default_model compact      # latest checkpoint only, Adam state as bfloat16 (to commit)
python -m midime_widgets.training.model_card                 # re-measure, rewrite this file
TF_USE_LEGACY_KERAS=1 /root/magenta-oracle/bin/python tests/oracle/gen_default_model_fixture.py
```

## Intended use and limits
Personalization with MidiMe, teaching latent spaces, offline demos. Trained on folk tunes and
chorale lines in 4/4: it reconstructs and samples such melodies best; other styles work but sound
more "folk". 2 bars only; for longer or multi-instrument music use an official checkpoint
(`MusicVAE.pretrained(...)`).
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write MODEL_CARD.md for the default model.")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--model-dir", type=Path, default=PACKAGE_DIR)
    parser.add_argument("--out", type=Path, default=Path("MODEL_CARD.md"))
    args = parser.parse_args(argv)
    result = evaluate(args.model_dir, args.run_dir)
    args.out.write_text(render(result))
    (args.model_dir / "metrics.json").write_text(
        json.dumps({k: v for k, v in result.items() if k != "meta"}, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "meta"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
