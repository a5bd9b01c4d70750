"""The personalization pipeline: MIDI → windows → MusicVAE `mu` → MidiMe → samples → MusicVAE.

    p = Personalizer(MusicVAE.default())
    p.add_midi("song.mid")            # melody chosen per model type; warnings kept on the song
    p.fit(epochs=100)                 # MidiMe on the windows' MusicVAE codes
    samples = p.sample(8, seed=0)     # NoteSequences (+ their MidiMe / MusicVAE codes)
    report = p.novelty(samples)       # copied vs varied windows, closeness to input vs prior

The novelty readout puts numbers on the paper's memorisation-vs-variety trade-off: how many sampled
windows copy an input window exactly, how similar each is to its nearest input window, and whether
the samples' pitch-class and rhythm statistics sit closer to the input than plain MusicVAE prior
samples do.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from note_seq.protobuf.music_pb2 import NoteSequence

from .errors import MidiError, TrainingError
from .models.midime import MidiMe, MidiMeConfig
from .music import load_midi, prepare_melody

STEPS_PER_BAR = 16
SECONDS_PER_STEP = 0.125  # every decoded / window sequence is at 120 qpm, 4 steps per quarter


@dataclasses.dataclass
class InputSong:
    """One user file as the model reads it."""

    name: str
    original: NoteSequence
    sequence: NoteSequence  # what is cut into windows (e.g. the chosen melody line)
    windows: list  # music.Window objects in time order
    warnings: list
    melody_choice: object | None = None  # music.MelodyChoice for melody models


@dataclasses.dataclass
class Sample:
    """One generated window: its MidiMe code, MusicVAE code, notes and one-hot tensor."""

    z_small: np.ndarray
    z: np.ndarray
    sequence: NoteSequence
    tensor: np.ndarray


@dataclasses.dataclass
class NoveltyReport:
    """Memorisation vs variety, in numbers (see module docstring)."""

    samples: int
    copied: int  # sampled windows identical to some input window
    nearest_similarity: list  # per sample: share of steps equal to the most similar input window
    pitch_class_distance: float  # samples vs input (total variation, 0 = same, 1 = disjoint)
    rhythm_distance: float
    prior_pitch_class_distance: float  # plain MusicVAE prior samples vs input
    prior_rhythm_distance: float

    @property
    def varied(self) -> int:
        return self.samples - self.copied

    def summary(self) -> str:
        closer = "closer to" if self.pitch_class_distance + self.rhythm_distance < (
            self.prior_pitch_class_distance + self.prior_rhythm_distance) else "no closer to"
        return (
            f"{self.copied} of {self.samples} samples copy an input window exactly, {self.varied} are new; "
            f"mean similarity to the nearest input window {np.mean(self.nearest_similarity):.0%}. "
            f"Pitch/rhythm distance to your music: {self.pitch_class_distance:.2f}/{self.rhythm_distance:.2f} "
            f"vs {self.prior_pitch_class_distance:.2f}/{self.prior_rhythm_distance:.2f} for MusicVAE's own samples "
            f"({closer} your music)."
        )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["varied"] = self.varied
        return d


class Personalizer:
    """Holds the inputs, their MusicVAE codes and the MidiMe trained on them."""

    def __init__(self, vae, *, latent_size: int = 4, beta: float = 1.0, midime_config: MidiMeConfig | None = None,
                 seed: int | None = 0):
        self.vae = vae
        self.songs: list[InputSong] = []
        self.seed = seed
        self.midime_config = midime_config or MidiMeConfig(
            input_size=vae.config.z_size, latent_size=latent_size, beta=beta, seed=seed)
        self.midime: MidiMe | None = None
        self.history = None
        self._codes = None

    # -- inputs -----------------------------------------------------------------------------
    def add_midi(self, source, *, name: str | None = None, instrument: int | None = None) -> InputSong:
        """Load one MIDI file (path or bytes), extract what the model reads, cut windows.

        Raises MidiError (nothing is added) when the file is unreadable or too short.
        """
        if name is None:
            name = os.path.basename(str(source)) if isinstance(source, (str, os.PathLike)) else f"upload {len(self.songs) + 1}"
        seq = source if isinstance(source, NoteSequence) else load_midi(source)
        song = self.prepare(seq, name=name, instrument=instrument)
        self.songs.append(song)
        self._codes = None
        return song

    def prepare(self, seq: NoteSequence, *, name: str, instrument: int | None = None) -> InputSong:
        kind = self.vae.kind
        warnings_, choice = [], None
        if kind == "melody":
            prepared = prepare_melody(seq, instrument)
            part, warnings_, choice = prepared.sequence, list(prepared.warnings), prepared.choice
        elif kind == "drums":
            if not any(n.is_drum for n in seq.notes):
                raise MidiError(f"'{name}' has no drum track, and this model ({self.vae.name}) plays drums only.")
            part = seq
        else:
            part = seq
        windows = self.vae.converter.windows(part)  # MidiError with the reason when too short
        return InputSong(name=name, original=seq, sequence=part, windows=windows, warnings=warnings_,
                         melody_choice=choice)

    def remove(self, index: int) -> None:
        del self.songs[index]
        self._codes = None

    @property
    def windows(self) -> list:
        return [w for song in self.songs for w in song.windows]

    # -- codes and training -------------------------------------------------------------------
    def codes(self) -> np.ndarray:
        """MusicVAE `mu` of every input window `[n, z_size]` (cached until inputs change)."""
        if self._codes is None:
            windows = self.windows
            if not windows:
                raise MidiError("Add at least one MIDI file first.")
            inputs = np.stack([w.inputs for w in windows])
            lengths = np.array([w.length for w in windows], np.int32)
            _, mu, _ = self.vae.encode_tensors(inputs, lengths)
            self._codes = np.asarray(mu, np.float32)
        return self._codes

    def new_midime(self) -> MidiMe:
        return MidiMe(self.midime_config, musicvae=self.musicvae_info())

    def musicvae_info(self) -> dict:
        return {"name": self.vae.name, "z_size": self.vae.config.z_size, "fingerprint": self.vae.fingerprint}

    def fit(self, epochs: int = 100, *, on_progress=None, batch_size=None, midime: MidiMe | None = None):
        """Train a fresh MidiMe (or `midime`) on the input codes; returns its history."""
        codes = self.codes()
        self.midime = midime or self.new_midime()
        self.history = self.midime.fit(codes, epochs=epochs, on_progress=on_progress, batch_size=batch_size)
        return self.history

    def stop(self) -> None:
        if self.midime is not None:
            self.midime.stop()

    def _require_midime(self) -> MidiMe:
        if self.midime is None or not self.midime.trained:
            raise TrainingError("Train MidiMe first (fit) — there is no personalized model yet.")
        return self.midime

    # -- generation -------------------------------------------------------------------------
    def sample(self, n: int = 8, *, temperature: float | None = 0.0, seed: int | None = None) -> list[Sample]:
        """`n` samples of the personalized space, decoded through MusicVAE.

        MidiMe's own randomness is in its latent draw; decoding is greedy by default, as in the
        MidiMe demo (`temperature` > 0 adds MusicVAE's sampling noise on top).
        """
        midime = self._require_midime()
        rng = np.random.default_rng(seed)
        z_small = rng.standard_normal((n, midime.config.latent_size)).astype(np.float32)
        return self.decode(z_small, temperature=temperature, seed=seed)

    def decode(self, z_small, *, temperature: float | None = 0.0, seed: int | None = None) -> list[Sample]:
        """MidiMe codes `[n, latent]` → MusicVAE codes → notes."""
        midime = self._require_midime()
        z_small = np.atleast_2d(np.asarray(z_small, np.float32))
        z = np.asarray(midime.decode(z_small), np.float32)
        tensors = self.vae.decode_to_tensors(z, temperature=temperature, seed=seed)
        seqs = self.vae.converter.from_tensors(list(tensors))
        return [Sample(z_small=a, z=b, sequence=s, tensor=t) for a, b, s, t in zip(z_small, z, seqs, tensors)]

    def input_positions(self) -> np.ndarray:
        """Where each input window sits in MidiMe's latent space (its `mu`), for the 2-D map."""
        _, mu, _ = self._require_midime().encode(self.codes())
        return np.asarray(mu)

    # -- novelty ----------------------------------------------------------------------------
    def novelty(self, samples: list[Sample], *, prior_samples: int = 32, temperature: float = 0.5,
                seed: int = 0) -> NoveltyReport:
        if not samples:
            raise ValueError("No samples to compare.")
        windows = self.windows
        input_classes = [_classes(w.outputs, self.vae.config.output_depths) for w in windows]
        sample_classes = [_classes(s.tensor, self.vae.config.output_depths) for s in samples]
        input_keys = {c.tobytes() for c in input_classes}
        copied = sum(c.tobytes() in input_keys for c in sample_classes)
        nearest = []
        for c in sample_classes:
            sims = [float(np.mean(c == ic)) for ic in input_classes if ic.shape == c.shape]
            nearest.append(max(sims) if sims else 0.0)
        input_seqs = [w.sequence for w in windows]
        prior = self.vae.sample(prior_samples, temperature=temperature, seed=seed)
        inp_pc, inp_rh = _pitch_class_hist(input_seqs), _rhythm_hist(input_seqs)
        smp = [s.sequence for s in samples]
        return NoveltyReport(
            samples=len(samples),
            copied=int(copied),
            nearest_similarity=nearest,
            pitch_class_distance=_tv(_pitch_class_hist(smp), inp_pc),
            rhythm_distance=_tv(_rhythm_hist(smp), inp_rh),
            prior_pitch_class_distance=_tv(_pitch_class_hist(prior), inp_pc),
            prior_rhythm_distance=_tv(_rhythm_hist(prior), inp_rh),
        )

    # -- persistence ----------------------------------------------------------------------------
    def save_midime(self, path) -> Path:
        self._require_midime().save(path)
        return Path(path)

    def load_midime(self, path) -> MidiMe:
        midime = MidiMe.load(path, musicvae_fingerprint=self.vae.fingerprint)
        self.midime = midime
        return midime


def _classes(tensor: np.ndarray, depths) -> np.ndarray:
    """Argmax class per step and output segment `[T, segments]`."""
    tensor = np.asarray(tensor)
    out, start = [], 0
    for d in depths:
        out.append(np.argmax(tensor[:, start : start + d], axis=-1))
        start += d
    return np.stack(out, axis=-1)


def _pitch_class_hist(seqs) -> np.ndarray:
    hist = np.zeros(12)
    for seq in seqs:
        for n in seq.notes:
            if not n.is_drum:
                hist[n.pitch % 12] += 1
    return hist / max(hist.sum(), 1.0)


def _rhythm_hist(seqs) -> np.ndarray:
    """Onsets by position in the bar (16 steps), drums included."""
    hist = np.zeros(STEPS_PER_BAR)
    for seq in seqs:
        for n in seq.notes:
            hist[int(round(n.start_time / SECONDS_PER_STEP)) % STEPS_PER_BAR] += 1
    return hist / max(hist.sum(), 1.0)


def _tv(a, b) -> float:
    return float(0.5 * np.abs(a - b).sum())
