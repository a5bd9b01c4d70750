"""`midime-widgets train-musicvae`: train or fine-tune a MusicVAE on your own MIDI files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-musicvae",
        help="train or fine-tune a MusicVAE on MIDI files (resumable, magenta checkpoint layout)",
        description="Train a MusicVAE with magenta's objective. Checkpoints go to RUN_DIR in "
        "magenta's variable layout and training resumes from them when re-run.",
    )
    p.add_argument("data", nargs="+", help="MIDI files or folders, or one .npz of melody windows")
    p.add_argument("--config", default="cat-mel_2bar_small", help="config name (default: %(default)s)")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--steps", type=int, default=20000, help="total steps, resumed ones included")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and checkpoint) after this long")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--init-from", default=None, help="checkpoint to start from (fine-tuning)")
    p.add_argument("--transpose", type=int, default=0, help="melody only: random transposition ±N")
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"])
    p.add_argument("--logical-cpus", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", type=Path, default=None, metavar="DIR",
                   help="after training, write the model to DIR for `personalize --model DIR`: "
                   "weights only, the latent matched to the prior, with its config")
    p.add_argument("--overwrite", action="store_true",
                   help="let --export replace what an earlier export wrote in DIR (nothing else)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import CheckpointError, TrainingError
    from ..models.configs import CONFIGS
    from ..training.trainer import MusicVAETrainer, TrainConfig, make_strategy

    if args.config not in CONFIGS:
        print(f"error: unknown config {args.config!r}; known: {', '.join(sorted(CONFIGS))}", file=sys.stderr)
        return 2
    config = CONFIGS[args.config]
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    if args.learning_rate:
        config = config.replace(learning_rate=args.learning_rate)
    tc = TrainConfig(steps=args.steps, seed=args.seed)
    export = None
    if args.export is not None:
        from ..training.export import MODEL_FILES
        from .outdir import OutputError, OutputFolder

        export = OutputFolder(args.export, overwrite=args.overwrite)
        try:
            export.check(MODEL_FILES)  # before hours of training, not after
        except OutputError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    try:
        weights = None
        if args.init_from:
            from ..models.checkpoints import read_checkpoint, validate_weights

            weights, _ = read_checkpoint(args.init_from)
            validate_weights(weights, config)
        strategy = make_strategy(args.strategy, logical_cpus=args.logical_cpus)
        dataset, scale_data = _training_data(args, config)
        trainer = MusicVAETrainer(config, tc, args.run_dir, strategy=strategy, weights=weights)
        result = trainer.fit(dataset, steps=args.steps,
                             max_seconds=None if args.max_minutes is None else 60 * args.max_minutes)
        exporting = export is not None and trainer.worker.is_chief
        if exporting:
            _export(trainer, config, export, scale_data())
    except (TrainingError, CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"trained to step {result['steps']} in {result['seconds']:.0f} s; checkpoints in {args.run_dir}")
    if exporting:
        print(f"model written to {export.path}; use it with `midime-widgets personalize --model {export.path}`")
    return 0


def _training_data(args, config):
    """(the training dataset, a function giving the batches an export scales the latent with)
    from one .npz of melody windows or from MIDI files and folders."""
    import functools

    from ..music.converters import converter_from_spec
    from ..training.export import npz_batches, window_batches
    from ..training.trainer import melody_dataset, midi_training_tensors, tensor_dataset

    if len(args.data) == 1 and args.data[0].endswith(".npz"):
        import numpy as np

        windows = np.load(args.data[0], allow_pickle=False)["windows"]
        dataset = melody_dataset(windows, batch_size=config.batch_size, seed=args.seed, transpose=args.transpose)
        return dataset, functools.partial(npz_batches, windows, seed=args.seed, transpose=args.transpose)
    x, y, lengths = midi_training_tensors(args.data, converter_from_spec(config.converter),
                                          on_skip=_say_skipped)
    print(f"{len(lengths)} distinct windows", file=sys.stderr)
    dataset = tensor_dataset(x, y, lengths, batch_size=config.batch_size, seed=args.seed)
    return dataset, functools.partial(window_batches, x, lengths)


def _say_skipped(path, why) -> None:
    print(f"skipped {path}: {why}", file=sys.stderr)


def _export(trainer, config, export, batches) -> None:
    """The latest checkpoint as a model folder (`training.export`), written all at once into
    `--export` (a staging folder beside it, then moved in)."""
    import shutil

    from ..training import tf1_checkpoint
    from ..training.export import export_model

    staging = export.staging()
    try:
        export_model(tf1_checkpoint.latest_checkpoint(trainer.save_dir), config, staging, batches,
                     {"run_dir": str(trainer.run_dir)})
        export.commit(staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the commit renamed it
