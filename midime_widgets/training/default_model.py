"""Build the embedded default model: train on the music21 corpus, evaluate, export into the package.

    python -m midime_widgets.training.default_model prepare   # corpus → runs/default/data
    python -m midime_widgets.training.default_model train --max-minutes 120   # resumable
    python -m midime_widgets.training.default_model export    # → midime_widgets/models/default/
    python -m midime_widgets.training.default_model compact   # what gets committed for resuming

Training checkpoints (with Adam state) live in `runs/default/train/` and resume across sessions;
`export` writes the weights only (float32, magenta's variable names) plus `config.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..models.configs import CONFIGS

RUN_DIR = Path("runs/default")
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "models" / "default"

# cat-mel_2bar_small's structure with a 256-unit encoder: the 2-core CPU budget (measured ~0.5-1
# s/step at batch 64 for the full 512-unit encoder vs about half that here) buys twice the steps.
# Free bits decide how much of a melody z may carry, and so how faithfully MidiMe's samples (decoded
# through this model) can follow a user's music: the sweep (MODEL_CARD.md) found reconstruction
# rising with free bits up to 256 (32 → 0.634, 64 → 0.644, 128 → 0.658, 256 → 0.659 onset F1 after
# 200 steps from the same checkpoint); beta still anneals to 0.2 so the prior stays usable.
DEFAULT_CONFIG = CONFIGS["cat-mel_2bar_small"].replace(
    name="midime-default-mel_2bar",
    enc_rnn_sizes=(256,),
    dec_rnn_sizes=(256, 256),
    free_bits=256,
    max_beta=0.2,
    beta_rate=0.9995,
    batch_size=64,
    description="midime-widgets default 2-bar melody model (music21 folk corpus)",
)
TRANSPOSE_SEMITONES = 5
# What the data files alone don't say about how the shipped weights came about (model card).
TRAINING_HISTORY = [
    "Steps 0-12,914 (an earlier release): 4/4 windows only (2/4 read as 4/4) from the Bach chorales "
    "and 24 of the 31 Essen files, with an early cut of Aird's Airs and Ryan's Mammoth for the first "
    "2,774 steps; free bits 32.",
    "Steps 12,914-16,360: free bits 256 (the sweep), windows of every metre cut as a user's songs "
    "are, from the part of the corpus parsed by then (the Essen collection as it was parsed, the "
    "Trecento pieces, three Beethoven quartet movements; about 61k windows).",
    "Steps 16,360-26,124: the same, on the corpus parsed by then (all of Essen, Aird's Airs, the "
    "fife and minstrelsy tunes, and the first chorales, masses, madrigals and quartets; about 114k "
    "windows).",
    "Steps 26,124-41,341: the whole corpus (152,797 training windows from 12,014 tunes), adding Ryan's "
    "Mammoth, the Nottingham reels (music21 bundles two) and the rest of the chorales, masses, "
    "madrigals and quartets. The validation split grew with it (7,666 windows), so validation "
    "figures from here on are not comparable with earlier ones.",
    "Steps 41,341-52,210: the same data. Until here the windows reached training through a "
    "50,000-window shuffle buffer over files that list them collection by collection, so batches "
    "drifted from one part of the corpus to another.",
    "Steps 52,210-103,560: windows re-cut as phrases (1, 2, 4 or 8 whole bars: 3/8 in 4-bar "
    "windows rather than 5), as a user's songs now are, 153,101 training windows; every run "
    "permutes the whole training set before its shuffle buffer. These windows were prepared "
    "before ornaments quicker than the 16th-note grid (grace notes) gave way to the notes they "
    "decorate; a user's songs and the held-out tunes are read that way now.",
    "Trained on a shared 2-core CPU (1.4-3.8 steps/s, as busy as the machine was) in runs of a few "
    "tens of minutes to two hours, each resumed from the magenta-layout checkpoint in "
    "runs/default/train/.",
]


def load_windows(data_dir: Path, split: str) -> np.ndarray:
    return np.load(data_dir / f"{split}.npz", allow_pickle=False)["windows"]


def load_metres(data_dir: Path, split: str) -> np.ndarray:
    """The metre of each window (`"6/8"` …), or all `"4/4"` for data cut before metres were kept."""
    data = np.load(data_dir / f"{split}.npz", allow_pickle=False)
    return data["metres"] if "metres" in data else np.full(len(data["windows"]), "4/4")


def reconstruct(core, windows: np.ndarray, batch: int = 256) -> np.ndarray:
    """Greedy reconstruction from mu, as class indices (the model card's metric)."""
    preds = []
    for start in range(0, len(windows), batch):
        rows = windows[start : start + batch]
        x = np.eye(90, dtype=np.float32)[rows]
        mu, _ = core.encode(x, np.full(len(rows), rows.shape[1], np.int32))
        preds.append(np.argmax(core.sample(mu, rows.shape[1], temperature=0.0).numpy(), axis=-1))
    return np.concatenate(preds)


def prior_samples(core, n: int = 64, temperature: float = 0.5, seed: int = 0) -> np.ndarray:
    """`n` samples from the prior N(0, I) at `temperature`, as class indices."""
    z = np.random.default_rng(seed).standard_normal((n, core.config.z_size)).astype(np.float32)
    return np.argmax(core.sample(z, core.config.max_seq_len, temperature=temperature, seed=seed).numpy(), axis=-1)


# Prior samples: the sanity checks (non-empty, distinct) read the first 64; the histogram
# distances read all 512, since 64 samples' histograms alone vary by ±0.02 TV from seed to seed.
PRIOR_SANITY_SAMPLES, PRIOR_HISTOGRAM_SAMPLES = 64, 512


def prior_quality(core, corpus: np.ndarray, transpose: int = TRANSPOSE_SEMITONES) -> dict:
    """Prior samples at T = 0.5: sanity (`prior`) and their pitch-class and interval histogram
    distances to `corpus` (pitch classes as training's transposition presents them)."""
    from . import metrics

    samples = prior_samples(core, n=PRIOR_HISTOGRAM_SAMPLES)
    return {
        "prior": metrics.sample_stats(samples[:PRIOR_SANITY_SAMPLES]),
        "prior_histogram_samples": PRIOR_HISTOGRAM_SAMPLES,
        "prior_pitch_class_tv": metrics.total_variation(
            metrics.pitch_class_histogram(samples), metrics.pitch_class_histogram(corpus, transpose=transpose)),
        "prior_interval_tv": metrics.total_variation(metrics.interval_histogram(samples),
                                                     metrics.interval_histogram(corpus)),
    }


def make_evaluator(val: np.ndarray, *, batch: int = 256):
    """Reconstruction step accuracy and onset F1 on fixed validation windows."""
    from .metrics import onset_f1, step_accuracy

    def evaluate(core) -> dict:
        pred = reconstruct(core, val, batch)
        return {"val_step_accuracy": step_accuracy(val, pred), "val_onset_f1": onset_f1(val, pred)}

    return evaluate


def train(run_dir: Path = RUN_DIR, *, steps: int = 20000, max_minutes: float | None = None,
          eval_windows: int = 512, seed: int = 0) -> dict:
    from .trainer import MusicVAETrainer, TrainConfig, melody_dataset

    data_dir = run_dir / "data"
    train_windows = load_windows(data_dir, "train")
    val_windows = load_windows(data_dir, "val")
    rng = np.random.default_rng(seed)
    val_subset = val_windows[rng.permutation(len(val_windows))[:eval_windows]]
    tc = TrainConfig(steps=steps, seed=seed, eval_every=500, checkpoint_every=200)
    trainer = MusicVAETrainer(DEFAULT_CONFIG, tc, run_dir / "train")
    if trainer.restored_from:
        print(f"resuming from {trainer.restored_from}", file=sys.stderr)
    start_step = int(trainer.global_step.numpy())
    dataset = melody_dataset(train_windows, batch_size=DEFAULT_CONFIG.batch_size, seed=seed + start_step,
                             transpose=TRANSPOSE_SEMITONES)
    result = trainer.fit(dataset, steps=steps, max_seconds=None if max_minutes is None else 60 * max_minutes,
                         evaluate=make_evaluator(val_subset))
    log = run_dir / "train" / "sessions.jsonl"
    with log.open("a") as f:
        f.write(json.dumps({"ended": time.strftime("%Y-%m-%dT%H:%M:%S"), "start_step": start_step,
                            "end_step": result["steps"], "seconds": round(result["seconds"], 1)}) + "\n")
    return result


def by_metre(target: np.ndarray, pred: np.ndarray, metres: np.ndarray) -> dict:
    """`{metre: {"windows": n, "onset_f1": f}}`, most windows first."""
    from . import metrics

    names, counts = np.unique(metres, return_counts=True)
    return {str(m): {"windows": int(n), "onset_f1": metrics.onset_f1(target[metres == m], pred[metres == m])}
            for m, n in sorted(zip(names, counts), key=lambda mn: -mn[1])}


def quality(core, val: np.ndarray, val_metres: np.ndarray, corpus: np.ndarray,
            transpose: int = TRANSPOSE_SEMITONES, pred: np.ndarray | None = None) -> dict:
    """What the targets are about: reconstruction onset F1 (overall and per metre), prior samples
    at T = 0.5 (sanity, distinct) and their histogram distances to the corpus as trained
    (transposed as in training). `pred`: the reconstructions of `val`, when already made."""
    from . import metrics

    pred = reconstruct(core, val) if pred is None else pred
    return {
        "val_onset_f1": metrics.onset_f1(val, pred),
        "val_step_accuracy": metrics.step_accuracy(val, pred),
        "val_by_metre": by_metre(val, pred, val_metres),
        **prior_quality(core, corpus, transpose),
    }


#: The sweep's candidates: how much information z may carry (free bits) and how hard the prior
#: pulls beyond it (beta). All start from the same checkpoint and train the same steps.
SWEEP = {
    "fb32-b0.2": {"free_bits": 32, "max_beta": 0.2},
    "fb64-b0.2": {"free_bits": 64, "max_beta": 0.2},
    "fb128-b0.2": {"free_bits": 128, "max_beta": 0.2},
    "fb256-b0.2": {"free_bits": 256, "max_beta": 0.2},
    "fb128-b0.5": {"free_bits": 128, "max_beta": 0.5},
}


def sweep(run_dir: Path = RUN_DIR, *, names=None, steps: int = 300, eval_windows: int = 1024,
          seed: int = 0) -> dict:
    """Train each `SWEEP` candidate `steps` steps from the latest checkpoint in `run_dir/train`
    and measure it (`quality`) on a fixed subset of the validation windows; results are added
    to `run_dir/sweep.json` as each candidate finishes, so an interrupted sweep keeps its rows."""
    import shutil

    from . import tf1_checkpoint
    from .trainer import MusicVAETrainer, TrainConfig, melody_dataset

    data_dir = run_dir / "data"
    train_windows = load_windows(data_dir, "train")
    val, val_metres = load_windows(data_dir, "val"), load_metres(data_dir, "val")
    pick = np.random.default_rng(seed).permutation(len(val))[:eval_windows]
    val, val_metres = val[pick], val_metres[pick]
    start_prefix = tf1_checkpoint.latest_checkpoint(run_dir / "train")
    out = run_dir / "sweep.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in names or SWEEP:
        work = run_dir / "sweep" / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for f in Path(start_prefix).parent.glob(Path(start_prefix).name + ".*"):
            shutil.copy(f, work / f.name)
        tf1_checkpoint.update_state_file(work, str(work / Path(start_prefix).name), keep=1)
        config = DEFAULT_CONFIG.replace(**SWEEP[name])
        trainer = MusicVAETrainer(config, TrainConfig(steps=steps, seed=seed, checkpoint_every=10**9), work)
        first = int(trainer.global_step.numpy())
        dataset = melody_dataset(train_windows, batch_size=config.batch_size, seed=seed + first,
                                 transpose=TRANSPOSE_SEMITONES)
        fit = trainer.fit(dataset, steps=first + steps, progress=False)
        tail = fit["history"][-4:]
        results[name] = {**SWEEP[name], "steps": steps, "from_step": first, "seconds": round(fit["seconds"], 1),
                         "train_kl": float(np.mean([r["kl"] for r in tail])),
                         "train_accuracy": float(np.mean([r["accuracy"] for r in tail])),
                         **quality(trainer.core, val, val_metres, train_windows)}
        out.write_text(json.dumps(results, indent=2))
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
        shutil.rmtree(work, ignore_errors=True)
    return results


def scale_batches(train_windows: np.ndarray, seed: int = 0):
    """The one-hot training windows the prior match measures the latent on: `SCALE_WINDOWS` of
    them, transposed as in training (the same every time for one seed)."""
    from .export import npz_batches

    return npz_batches(train_windows, seed=seed, transpose=TRANSPOSE_SEMITONES)


def export(run_dir: Path = RUN_DIR, out_dir: Path = PACKAGE_DIR) -> Path:
    """Copy the latest training checkpoint's weights (no optimizer state) into the package, the
    latent matched to the prior (`export.export_model`)."""
    from . import tf1_checkpoint
    from .export import export_model

    prefix = tf1_checkpoint.latest_checkpoint(run_dir / "train")
    if prefix is None:
        raise SystemExit(f"No checkpoint in {run_dir / 'train'}; train first.")
    sessions = []
    log = run_dir / "train" / "sessions.jsonl"
    if log.exists():
        sessions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    training = {"seconds": round(sum(s["seconds"] for s in sessions), 1),
                "transpose_semitones": TRANSPOSE_SEMITONES, "history": TRAINING_HISTORY}
    data_meta = run_dir / "data" / "meta.json"
    extra = {"data": json.loads(data_meta.read_text())} if data_meta.exists() else None
    export_model(prefix, DEFAULT_CONFIG, out_dir, scale_batches(load_windows(run_dir / "data", "train")),
                 training, extra)
    return out_dir


def compact(run_dir: Path = RUN_DIR) -> str:
    """Keep only the latest training checkpoint, its Adam moments stored as bfloat16.

    That is what gets committed so the next session resumes (bfloat16 keeps float32's range, so
    tiny second moments don't underflow the way float16 would); the weights stay float32.
    """
    import tensorflow as tf

    from . import tf1_checkpoint

    train_dir = run_dir / "train"
    prefix = tf1_checkpoint.latest_checkpoint(train_dir)
    if prefix is None:
        raise SystemExit(f"No checkpoint in {train_dir}.")
    tensors = tf1_checkpoint.read_checkpoint_tensors(prefix)
    for name, value in tensors.items():
        if name.endswith(("/Adam", "/Adam_1")):
            tensors[name] = tf.cast(np.asarray(value, np.float32), tf.bfloat16)
    tf1_checkpoint.write_checkpoint(prefix, tensors)
    tf1_checkpoint.update_state_file(train_dir, prefix, keep=1)
    return prefix


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the embedded default MusicVAE.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="corpus → windows in RUN_DIR/data (parsing cached outside git)")
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    p.add_argument("--workers", type=int, default=1, help="parsing processes")
    p.add_argument("--cached-only", action="store_true", help="use only the files parsed so far")
    p = sub.add_parser("train")
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--max-minutes", type=float, default=None)
    p = sub.add_parser("export")
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    p = sub.add_parser("sweep", help="measure free bits / beta candidates from the latest checkpoint")
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("names", nargs="*", help=f"candidates (default: all of {', '.join(SWEEP)})")
    p = sub.add_parser("compact", help="keep the latest checkpoint only, Adam state in bfloat16")
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    args = parser.parse_args(argv)
    if args.cmd == "prepare":
        from .corpus import prepare

        meta = prepare(args.run_dir / "data", DEFAULT_CONFIG, workers=args.workers, cached_only=args.cached_only)
        print(json.dumps(meta, indent=2))
    elif args.cmd == "train":
        print(json.dumps({k: v for k, v in train(args.run_dir, steps=args.steps, max_minutes=args.max_minutes).items() if k != "history"}))
    elif args.cmd == "sweep":
        sweep(args.run_dir, names=args.names or None, steps=args.steps)
    elif args.cmd == "compact":
        print(compact(args.run_dir))
    else:
        print(export(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
