"""`midime-widgets personalize`: the main job — MIDI in, personalized samples + report out."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "personalize",
        help="train MidiMe on your MIDI files and write personalized samples + a report",
        description="Personalize MusicVAE with your own MIDI (MidiMe): encode the songs' windows, "
        "train a small VAE on their codes, and write samples (MIDI + WAV), the trained MidiMe, and "
        "an HTML report. Works offline with the embedded default model.",
    )
    p.add_argument("midi", nargs="*", help="MIDI files (melody, or multi-track songs)")
    p.add_argument("--example", action="store_true", help="use the bundled example song(s)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--model", default="default", help="default | a known checkpoint name | a path")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--latent", type=int, default=4, help="MidiMe latent size (default 4)")
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--temperature", type=float, default=0.5, help="MusicVAE decoding temperature (0 = greedy)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--no-wav", action="store_true", help="skip WAV rendering")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def load_model(spec: str):
    """`default`, a name from the checkpoint table, or a checkpoint path."""
    from ..models.configs import CHECKPOINTS
    from ..models.musicvae import MusicVAE

    if spec == "default":
        return MusicVAE.default()
    if spec in CHECKPOINTS:
        return MusicVAE.pretrained(spec)
    if os.path.exists(spec):
        return MusicVAE.from_checkpoint(spec, config=None)
    raise ValueError(f"Unknown model {spec!r}: use 'default', a path, or one of {', '.join(sorted(CHECKPOINTS))}.")


def _progress_printer(quiet: bool):
    last = [0.0]

    def on_progress(epoch, total, losses):
        now = time.monotonic()
        if quiet or (now - last[0] < 0.1 and epoch != total):
            return
        last[0] = now
        width = 30
        filled = int(width * epoch / max(total, 1))
        print(f"\rtraining MidiMe [{'#' * filled}{'-' * (width - filled)}] {epoch}/{total} "
              f"loss {losses['total']:.2f}", end="" if epoch != total else "\n", file=sys.stderr, flush=True)

    return on_progress


def run(args) -> int:
    from ..errors import CheckpointError, MidiError, TrainingError

    try:
        return _run(args)
    except (MidiError, CheckpointError, TrainingError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from .. import examples
    from ..music import MidiWarning, load_midi, render_wav, to_midi_bytes
    from ..personalize import Personalizer
    from ..report import personalization_report

    paths = [Path(p) for p in args.midi]
    if args.example:
        paths += [examples.path(name) for name in examples.DEFAULT_EXAMPLES]
    if not paths:
        raise ValueError("Give at least one MIDI file (or --example).")
    if args.samples < 1 or args.epochs < 1:
        raise ValueError("--samples and --epochs must be at least 1.")
    warnings.simplefilter("ignore", MidiWarning)  # reported below as "note:" lines instead
    say = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))

    sequences = []
    for path in paths:  # unreadable files fail here, before the model loads
        if not path.exists():
            raise FileNotFoundError(f"No such MIDI file: {path}")
        sequences.append(load_midi(path))
    vae = load_model(args.model)
    person = Personalizer(vae, latent_size=args.latent, beta=args.beta, seed=args.seed)
    messages = [f"model: {vae.name} ({vae.kind}, z={vae.config.z_size}) on {vae.device}"]
    for path, seq in zip(paths, sequences):  # checked before anything is written or printed
        song = person.add_midi(seq, name=path.name)
        choice = f" — melody: {song.melody_choice.reason}" if song.melody_choice else ""
        messages.append(f"{path.name}: {len(song.windows)} windows{choice}")
        messages += [f"  note: {w}" for w in song.warnings]
    for message in messages:
        say(message)

    history = person.fit(epochs=args.epochs, on_progress=_progress_printer(args.quiet))
    samples = person.sample(args.samples, temperature=args.temperature, seed=args.seed)
    novelty = person.novelty(samples, seed=args.seed or 0)
    say(novelty.summary())

    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".midime-", dir=args.out.parent))
    try:
        for i, sample in enumerate(samples, 1):
            (staging / f"sample_{i:02d}.mid").write_bytes(to_midi_bytes(sample.sequence))
            if not args.no_wav:
                (staging / f"sample_{i:02d}.wav").write_bytes(render_wav(sample.sequence))
        person.save_midime(staging / "midime")
        inputs = [(f"{s.name}", s.sequence) for s in person.songs]
        labelled = [(f"sample {i}", s.sequence) for i, s in enumerate(samples, 1)]
        personalization_report(
            staging / "report.html", title=f"MidiMe on {vae.name}", inputs=inputs, samples=labelled,
            history=dict(history), novelty=novelty,
            notes=[f"{len(person.windows)} input windows from {len(person.songs)} file(s); "
                   f"{history.epochs_run} epochs; latent size {args.latent}; temperature {args.temperature}."],
        )
        (staging / "summary.json").write_text(json.dumps({
            "model": vae.name, "inputs": [str(p) for p in paths], "windows": len(person.windows),
            "epochs": history.epochs_run, "final_loss": history.last(), "novelty": novelty.to_dict(),
        }, indent=2, default=float))
        args.out.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            target = args.out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {len(samples)} samples, the trained MidiMe and report.html to {args.out}")
    return 0
