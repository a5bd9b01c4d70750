"""`midime-widgets personalize`: the main job — MIDI in, personalized samples + report out.

Everything a user can get wrong is checked before TensorFlow and the model load (seconds, not
a minute): the arguments, `--out`, that every file is a readable MIDI file, and that it holds a
part the chosen model reads (with the same functions the pipeline uses, on the model's
converter, which is known from its config alone). A refused file is skipped with one line; the
run fails only when no file is left. The pipeline itself is `Personalizer`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

from ..models.midime import PERSONAL_DEFAULTS
from ..personalize import SAMPLE_TEMPERATURE
from .interrupt import InterruptGuard, progress_line_open
from .outdir import OutputError, OutputFolder
from .stages import Background, Stages

DEFAULT_SAMPLES = 8
DEFAULT_LATENT = PERSONAL_DEFAULTS["latent_size"]
DEFAULT_BETA = PERSONAL_DEFAULTS["beta"]
DEFAULT_TEMPERATURE = SAMPLE_TEMPERATURE
DEFAULT_MODEL = "default"
#: What each kind of MusicVAE reads, in a musician's words (`MusicVAE.kind` → words).
READS = {"melody": "melodies", "drums": "drum parts", "trio": "melody, bass and drums together"}
EXIT_USAGE = 2


class RefusedError(ValueError):
    """A check failed before any work; the message is the whole story (one line)."""


def add_parser(sub) -> None:
    from ..models.musicvae import default_config
    from ..music.windows import sample_lengths

    p = sub.add_parser(
        "personalize",
        help="train MidiMe on your MIDI files and write personalized samples + a report",
        description=_wrap(
            "Personalize MusicVAE with your own MIDI (MidiMe): cut the songs into the model's "
            "windows (2 bars for the default model), encode them, train a small VAE on their "
            "codes, and write samples (MIDI + WAV), the trained MidiMe, summary.json and an HTML "
            "report into --out. Works offline with the embedded default model."),
        epilog=_wrap("Checkpoint names for --model (downloaded once, then offline): "
                     f"{', '.join(checkpoint_names())}."),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps names unbroken
    )
    p.add_argument("midi", nargs="*", metavar="FILE.mid",
                   help="MIDI files (a melody, or multi-track songs: the melody track is chosen)")
    p.add_argument("--example", action="store_true", help="also use the bundled example songs")
    p.add_argument("--out", type=Path, required=True, metavar="FOLDER",
                   help="output folder: new or empty, or one an earlier run wrote (with --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a folder that already holds files, replacing only the files an "
                   "earlier run of this command wrote there (unchanged since); others are kept")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME|PATH",
                   help="MusicVAE to personalize: 'default' (the embedded 2-bar melody model), "
                   "a checkpoint name (listed below), or a checkpoint path (default: %(default)s)")
    p.add_argument("--track", type=track_arg, default=None, metavar="NAME|INDEX",
                   help="the track to read as the melody: its number or name as `midime-widgets "
                   "inspect` lists them (default: the most melodic track, chosen automatically)")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="MidiMe training epochs (default: until the loss stops improving)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                   help="how many samples to write; each is a phrase in your music's metre and "
                   "tempo, as long as the model's windows (for the default model "
                   f"{sample_lengths(default_config().max_seq_len)}) (default: %(default)s)")
    p.add_argument("--latent", type=int, default=DEFAULT_LATENT, metavar="N",
                   help="MidiMe latent size: smaller stays closer to your music (default: %(default)s)")
    p.add_argument("--beta", type=float, default=DEFAULT_BETA, metavar="B",
                   help="weight of MidiMe's KL term: higher gives smoother, more varied samples, "
                   "lower closer copies (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, metavar="T",
                   help="MusicVAE decoding temperature, 0 = greedy (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed: the same seed and inputs give the same files "
                   "(default: a different result each run)")
    p.add_argument("--no-wav", action="store_true", help="skip rendering WAV audio of the samples")
    p.add_argument("--quiet", action="store_true",
                   help="print only errors and the final line (no progress, no per-file notes)")
    p.set_defaults(func=run)


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=78, break_on_hyphens=False)


def checkpoint_names() -> list[str]:
    from ..models.configs import CHECKPOINTS

    return list(CHECKPOINTS)


def track_arg(text: str) -> int | str:
    """`--track`: digits are a track index, anything else a track name."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("give a track number or name")
    return int(text) if text.isdigit() else text


# ---------------------------------------------------------------------------------------------
# The model, known without TensorFlow
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    """What `--model` names, read from its config alone: enough to check songs before the
    weights load. `config` and `converter` are None for a checkpoint path (read only when it
    loads)."""

    spec: str
    name: str
    config: object | None
    converter: object | None

    @property
    def kind(self) -> str | None:
        from ..models.configs import model_kind

        return model_kind(self.config) if self.config is not None else None


def resolve_model(spec: str) -> ModelChoice:
    from ..models.configs import CHECKPOINTS, CONFIGS
    from ..models.musicvae import default_config
    from ..music import converter_from_spec

    if spec == DEFAULT_MODEL:
        config = default_config()
        return ModelChoice(spec, config.name, config, converter_from_spec(config.converter))
    if spec in CHECKPOINTS:
        config = CONFIGS[CHECKPOINTS[spec].config]
        return ModelChoice(spec, spec, config, converter_from_spec(config.converter))
    if os.path.exists(spec):
        return ModelChoice(spec, os.path.basename(os.path.normpath(spec)), None, None)
    raise RefusedError(f"Unknown model {spec!r}: use 'default', a checkpoint path, or one of "
                       f"{', '.join(CHECKPOINTS)}.")


def load_model(choice: ModelChoice):
    """The MusicVAE `choice` names (TensorFlow loads here)."""
    from ..models.musicvae import MusicVAE

    if choice.spec == DEFAULT_MODEL:
        return MusicVAE.default()
    if choice.converter is not None:
        return MusicVAE.pretrained(choice.spec)
    return MusicVAE.from_checkpoint(choice.spec, config=None)


def fitting_model(seq, current: ModelChoice, *, name: str, track) -> str | None:
    """The `--model` value of a model that reads `seq` when `current` does not: the default
    first, then downloaded checkpoints, then the rest of the table."""
    from ..errors import MidiError
    from ..models.configs import CHECKPOINTS
    from ..models.download import is_cached
    from ..personalize import prepare_song

    names = [DEFAULT_MODEL] + sorted(CHECKPOINTS, key=lambda n: not is_cached(n))
    tried = [current.converter.spec] if current.converter is not None else []
    for candidate in map(resolve_model, names):
        spec = candidate.converter.spec
        if spec in tried:
            continue
        tried.append(spec)
        try:
            prepare_song(candidate, seq, name=name, instrument=track)
        except (MidiError, ValueError):
            continue
        return candidate.spec
    return None


# ---------------------------------------------------------------------------------------------
# Checks before any work
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Input:
    path: Path
    label: str  # as the user knows it: the path given, or "example NAME"
    sequence: object  # NoteSequence
    example: str | None = None  # the bundled example's name
    song: object | None = None  # the InputSong the check cut (None until a checkpoint path loads)
    notes: list = dataclasses.field(default_factory=list)  # what loading the file left out


def input_paths(args) -> list[tuple[Path, str, str | None]]:
    """`(path, label, example name or None)` of every input, in order."""
    from .. import examples

    paths = [(Path(p), p, None) for p in args.midi]
    if args.example:
        paths += [(examples.path(n), f"example {n}", n) for n in examples.DEFAULT_EXAMPLES]
    if not paths:
        raise RefusedError("Give at least one MIDI file (or --example).")
    return paths


def check_numbers(args) -> None:
    if args.samples < 1:
        raise RefusedError("--samples must be at least 1.")
    if args.epochs is not None and args.epochs < 1:
        raise RefusedError("--epochs must be at least 1 (leave it out to train until the loss "
                           "stops improving).")
    if args.latent < 1:
        raise RefusedError("--latent must be at least 1.")
    if not args.beta >= 0:
        raise RefusedError("--beta must be 0 or more.")
    if not args.temperature >= 0:
        raise RefusedError("--temperature must be 0 (greedy) or more.")


def planned_names(args) -> list[str]:
    """Top-level names this run writes into --out (to refuse foreign files before any work)."""
    names = [f"sample_{i:02d}.mid" for i in range(1, args.samples + 1)]
    if not args.no_wav:
        names += [f"sample_{i:02d}.wav" for i in range(1, args.samples + 1)]
    return names + list(OUTPUT_NAMES)


OUTPUT_NAMES = ("midime", "report.html", "summary.json")


def check_inputs(paths, choice: ModelChoice, *, track, say) -> list[Input]:
    """Load every file and check the model can read it; a refused file is one line (skipped).
    Raises RefusedError when none is left."""
    from ..errors import MidiError
    from ..music import read_midi
    from ..music.windows import windows_left
    from ..personalize import prepare_song

    accepted, refusals, used = [], [], 0
    for path, label, example in paths:
        seq = song = None
        try:
            if not path.exists():
                raise MidiError("no such file.")
            if path.is_dir():
                raise MidiError("this is a folder; give MIDI files.")
            seq, notes = read_midi(path)
            if choice.converter is not None:
                budget = windows_left(choice.converter, choice.config.max_seq_len, used)
                song = prepare_song(choice, seq, name=path.name, instrument=track, notes=notes,
                                    window_budget=budget)
                used += len(song.windows)
        except (MidiError, ValueError, OSError) as err:
            reason = refusal(err, path, choice, track=track, seq=seq)
            refusals.append(f"{label}: {reason}")
            if len(paths) > 1:
                say(f"skipping {label}: {reason}", always=True)
            continue
        accepted.append(Input(path, label, seq, example, song, notes))
    if not accepted:
        if len(paths) == 1:
            raise RefusedError(refusals[0])
        raise RefusedError(f"none of the {len(paths)} files can be used (reasons above).")
    return accepted


def refusal(err, path: Path, choice: ModelChoice, *, track, seq) -> str:
    """The reason a file is refused, plus the `--model` that reads it when another one does."""
    from ..errors import WindowBudgetError

    reason = str(err).strip() or type(err).__name__
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
        reason = f"cannot read it ({err.strerror or err})."
    fine_file = isinstance(err, WindowBudgetError)  # another model would not help
    if seq is not None and choice.converter is not None and track is None and not fine_file:
        fits = fitting_model(seq, choice, name=path.name, track=track)
        if fits:
            from ..models.download import is_cached

            download = ("" if fits == DEFAULT_MODEL or is_cached(fits)
                        else " (the model is downloaded once, so this needs the internet)")
            reason = reason.rstrip() + f" Run with --model {fits} to use it{download}."
    return reason


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def _printer(quiet: bool):
    def say(message: str, *, always: bool = False) -> None:
        if always or not quiet:
            print(message, file=sys.stderr, flush=True)

    return say


#: Seconds between progress updates: a terminal's bar is redrawn in place, a log file (or any
#: stream that is not a terminal) gets whole lines, less often, so they do not pile up.
PROGRESS_EVERY = {"terminal": 0.1, "log": 2.0}


def _progress_printer():
    last = [-math.inf]
    terminal = sys.stderr.isatty()
    every = PROGRESS_EVERY["terminal" if terminal else "log"]

    def on_progress(epoch, total, losses):
        now = time.monotonic()
        final = bool(total) and epoch >= total
        if now - last[0] < every and not final:
            return
        last[0] = now
        if total:
            width = 30
            filled = int(width * min(epoch, total) / total)
            bar = f"[{'#' * filled}{'-' * (width - filled)}] {epoch}/{total}"
        else:
            bar = f"epoch {epoch}"
        error = f"error {losses['total']:.2f}"
        if not terminal:  # a log: plain lines, no bar that never fills when training converges
            limit = f" of at most {total:,}" if total else ""
            print(f"training MidiMe: step {epoch:,}{limit}, {error}", file=sys.stderr, flush=True)
            return
        print(f"\rtraining MidiMe {bar} {error}", end="\n" if final else "", file=sys.stderr, flush=True)
        progress_line_open(not final)

    return on_progress


def _end_progress_line(quiet: bool) -> None:
    from .interrupt import _mid_line

    if not quiet and _mid_line():
        print(file=sys.stderr, flush=True)
        progress_line_open(False)


def run(args) -> int:
    from ..errors import CheckpointError, MidiError, TrainingError

    guard = InterruptGuard()
    stage = Stages()
    with guard:
        try:
            return _run(args, guard, stage)
        except (RefusedError, OutputError, MidiError, CheckpointError, TrainingError) as err:
            _end_progress_line(getattr(args, "quiet", False))
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:  # where the watcher thread cannot run (see interrupt.py)
            return guard.cleanup()
        finally:
            stage.report()


def _run(args, guard: InterruptGuard, stage: Stages) -> int:
    say = _printer(args.quiet)
    with stage("check arguments, output folder and songs"):
        from ..music import MidiWarning

        check_numbers(args)
        out = OutputFolder(args.out, overwrite=args.overwrite)
        out.check(planned_names(args))
        choice = resolve_model(args.model)
        warnings.simplefilter("ignore", MidiWarning)  # reported below as "note:" lines instead
        inputs = check_inputs(input_paths(args), choice, track=args.track, say=say)

    # -- the work (TensorFlow loads here) -------------------------------------------------------
    from ..personalize import Personalizer

    with stage("import TensorFlow"):
        import tensorflow  # noqa: F401  (timed on its own: the rest of "load model" is ours)
    with stage("load model"):
        vae = load_model(choice)
        person = Personalizer(vae, latent_size=args.latent, beta=args.beta, seed=args.seed)
    say(f"model: {vae.name} (learns {READS.get(vae.kind, vae.kind)}), on {vae.device}")
    with stage("add songs"):
        used = add_inputs(person, inputs, track=args.track, say=say)

    # Beside encoding and training, which need the main thread: MusicVAE's own samples for the
    # novelty comparison (they depend only on the model and the songs' metre; their decoder
    # compile then serves the personalized samples too) and the report's plotting library.
    prior = Background("prior", lambda: _timed(stage, "MusicVAE prior samples",
                                               person.prior_samples, seed=args.seed or 0))
    report = Background("report", lambda: _timed(stage, "import report (bokeh)", _import_report))
    try:
        return _personalize(args, guard, stage, say, out, vae, person, used, prior)
    finally:  # a failed run ends only after them: TensorFlow must not be mid-call at exit
        prior.wait()
        report.wait()


def _personalize(args, guard, stage, say, out, vae, person, used, prior) -> int:
    """Encode, train, sample, compare and write: the main thread's part of the work."""
    with stage("encode windows"):
        person.codes()
    with stage("train MidiMe"):
        fit_kwargs = {} if args.epochs is None else {"epochs": args.epochs}
        history = person.fit(**fit_kwargs, on_progress=None if args.quiet else _progress_printer())
    _end_progress_line(args.quiet)
    say(f"MidiMe: {history.reason}")
    with stage("wait for prior samples"):
        prior_samples = prior.result()
    with stage("sample"):
        samples = person.sample(args.samples, temperature=args.temperature, seed=args.seed)
    with stage("novelty"):
        novelty = person.novelty(samples, seed=args.seed or 0, prior=prior_samples)
    say(novelty.summary())
    music_notes = [note for note in (person.metre_note(), person.key_note()) if note]
    for note in music_notes:
        say(note)

    staging = out.staging()
    guard.temporary.append(staging)
    try:
        write_results(staging, args, vae, person, used, history, samples, novelty, out.path,
                      music_notes=music_notes,
                      stage=stage)
        with guard.critical(), stage("publish"):
            out.commit(staging)
            guard.temporary.remove(staging)
    finally:
        if staging in guard.temporary:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            guard.temporary.remove(staging)
    if out.removed:
        say(f"removed {len(out.removed)} file(s) an earlier run wrote in {out.path} and this one "
            f"did not write again: {', '.join(out.removed[:6])}"
            f"{', …' if len(out.removed) > 6 else ''}")
    print(f"wrote {len(samples)} samples, each {person.output_description()}, the trained MidiMe "
          f"and report.html to {out.path}")
    return 0


def add_inputs(person, inputs: list[Input], *, track, say) -> list[Input]:
    """Add every checked input to the pipeline (the songs the check cut, or, for a checkpoint
    path, cut now that the model is known); returns those used. RefusedError when none is."""
    from ..errors import MidiError

    used = []
    for item in inputs:
        try:
            if item.song is not None:
                song = person.add_song(item.song)
            else:
                song = person.add_song(person.prepare(item.sequence, name=item.path.name,
                                                      instrument=track, notes=item.notes))
        except MidiError as err:
            say(f"skipping {item.label}: {err}", always=True)
            continue
        used.append(item)
        choice_note = f" — melody: {song.melody_choice.reason}" if song.melody_choice else ""
        say(f"{item.label}: {len(song.windows)} excerpts to learn from{choice_note}")
        for note in song.warnings:
            say(f"  note: {note}")
    if not used:
        raise RefusedError("none of the files holds anything this model can read.")
    return used


def _timed(stage: Stages, name: str, fn, *args, **kwargs):
    with stage(name):
        return fn(*args, **kwargs)


def _import_report() -> None:
    import importlib

    importlib.import_module("..report", __package__)


def write_results(folder: Path, args, vae, person, inputs, history, samples, novelty, out: Path,
                  *, stage: Stages | None = None, music_notes: list[str] = ()) -> None:
    """Every output file, into `folder` (the staging folder; `out` is where it will live);
    `music_notes` are the notes about the music as a whole the console printed (mixed metres or
    keys), which the report keeps."""
    from ..music import render_wav, to_midi_bytes

    stage = stage or Stages(enabled=False)
    sample_files = []
    with stage("write MIDI and WAV"):
        for i, sample in enumerate(samples, 1):
            stem = f"sample_{i:02d}"
            (folder / f"{stem}.mid").write_bytes(to_midi_bytes(sample.sequence))
            entry = {"midi": f"{stem}.mid"}
            if not args.no_wav:
                (folder / f"{stem}.wav").write_bytes(render_wav(sample.sequence))
                entry["wav"] = f"{stem}.wav"
            sample_files.append(entry)
    with stage("save MidiMe"):
        person.save_midime(folder / "midime")
    training = training_summary(history)
    with stage("write report"):
        from ..report import personalization_report

        personalization_report(
            folder / "report.html", title=f"Your personalized samples (MidiMe on the {vae.name} MusicVAE)",
            inputs=[(s.name, s.sequence) for s in person.songs],
            samples=[(f"sample {i}", s.sequence) for i, s in enumerate(samples, 1)],
            audio=None if args.no_wav else [folder / e["wav"] for e in sample_files],
            history=dict(history), novelty=novelty,
            notes=[f"{len(person.windows)} excerpts from {len(person.songs)} file(s); "
                   f"{training_sentence(training)}; MidiMe with {args.latent} style features "
                   f"(latent size), variety (beta) {args.beta}; randomness (decoding temperature) "
                   f"{args.temperature}. Each sample: "
                   f"{person.output_description()}.",
                   *music_notes,
                   *(f"{song.name}: {line}" for song in person.songs for line in song_notes(song))],
        )
    summary = {
        "model": vae.name,
        "inputs": [input_entry(i, out, song) for i, song in zip(inputs, person.songs)],
        "windows": len(person.windows),
        "training": training,
        "epochs": training["epochs"],
        "final_loss": history.last(),
        "samples": sample_files,
        "each_sample": person.output_shape(),
        "midime": "midime",
        "report": "report.html",
        "seed": args.seed,
        "novelty": novelty.to_dict(),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n",
                                         encoding="utf-8")


def input_entry(item: Input, out: Path, song=None) -> dict:
    """summary.json's record of one input: a bundled example by name, a file by its path
    relative to the output folder; with the `song` read from it, its excerpts, the track read
    as the melody and every note about how it was read."""
    entry = ({"name": item.path.name, "example": item.example} if item.example
             else {"name": item.path.name, "path": relative(item.path, out)})
    if song is not None:
        entry["excerpts"] = len(song.windows)
        choice = song.melody_choice
        if choice is not None:
            entry["melody_track"] = {"number": choice.instrument, "name": choice.name}
        entry["notes"] = list(song.warnings)
    return entry


def song_notes(song) -> list[str]:
    """How one song was read, in a musician's words: its excerpts, the melody track, the notes."""
    choice = song.melody_choice
    track = f"; the melody is track #{choice.instrument} '{choice.name}'" if choice is not None else ""
    return [f"{len(song.windows)} excerpts{track}.", *song.warnings]


def relative(path: Path, out: Path) -> str:
    """`path` as seen from the output folder (summary.json stays valid when both move)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve())).as_posix()


def training_summary(history) -> dict:
    """How long MidiMe trained and why it stopped, from its FitHistory."""
    reason = getattr(history, "stop_reason", None)
    if reason is None:
        reason = "stopped" if getattr(history, "stopped", False) else "epoch budget reached"
    return {"epochs": history.epochs_run, "steps": int(getattr(history, "steps", history.epochs_run)),
            "seconds": round(float(getattr(history, "seconds", 0.0)), 2), "stopped_because": str(reason)}


def training_sentence(training: dict) -> str:
    steps, passes = training["steps"], training["epochs"]
    return (f"MidiMe trained {steps:,} training step{'s' if steps != 1 else ''} "
            f"({passes:,} pass{'es' if passes != 1 else ''} over your excerpts) in "
            f"{training['seconds']:.1f} s ({training['stopped_because']})")
