"""MusicVAE: the user API (load a checkpoint, encode music to latent codes, decode codes to music).

    from midime_widgets import MusicVAE
    vae = MusicVAE.from_checkpoint("cat-mel_2bar_big/model.ckpt", config="cat-mel_2bar_big")
    vae = MusicVAE.pretrained("hierdec-trio_16bar")      # download + cache, then offline
    vae = MusicVAE.default()                             # the small model shipped in the package
    z, mu, sigma = vae.encode(note_sequences)            # numpy [n, z_size]
    seqs = vae.decode(z, temperature=0.5)                # list[NoteSequence]
    seqs = vae.interpolate(seq_a, seq_b, num_steps=5)

Names follow magenta's `TrainedModel` (encode / encode_tensors / decode / decode_to_tensors /
sample / interpolate) so its users feel at home; unlike it there is no fixed batch size, and
`temperature=0` (or None) means greedy decoding. The maths lives in `core.MusicVAECore`; data
conversion in `music.converters`. Every failure a user can cause raises `MidiError` (the music or
the tensors) or `CheckpointError` (the weights).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, MidiError
from .checkpoints import (
    MAX_CONFIG_JSON_BYTES,
    TFJS_CONFIG,
    TFJS_MANIFEST,
    config_from_tfjs,
    infer_config,
    read_checkpoint,
    suggest_configs,
    validate_weights,
)
from .configs import CONFIGS, MusicVAEConfig, get_checkpoint_info, get_config, model_kind
from .layout import SIGMA_VARIABLES, Decoder, Encoder, expected_variables

DEFAULT_DIR = Path(__file__).resolve().parent / "default"
DEFAULT_FILES = ("model.ckpt.index", "model.ckpt.data-00000-of-00001", "config.json")
CHUNK = 256  # rows per encoder / decoder call; bigger requests are split
_MAX_LENGTH = 4096  # steps; a flat decoder can run past max_seq_len, but not without bound


def default_config() -> MusicVAEConfig:
    """The embedded default model's config, read without loading TensorFlow or its weights."""
    try:
        spec = json.loads((DEFAULT_DIR / "config.json").read_text(encoding="utf-8"))
        return MusicVAEConfig.from_dict(spec["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"The embedded default model's config.json is unreadable "
                              f"({exc}); reinstall midime-widgets.") from None



class MusicVAE:
    """A MusicVAE model ready for inference: encoder, decoder and its data converter.

    Build one with `from_checkpoint`, `pretrained`, `default` or `from_config` (random weights).
    Attributes: `config` (MusicVAEConfig), `converter`, `name`, `kind` ("melody" | "drums" |
    "trio"), `device`, `fingerprint` (sha256 of the weights), `source` (where they came from).
    """

    def __init__(self, config: MusicVAEConfig, weights: dict | None = None, *, seed: int = 0,
                 name: str | None = None, source: str = ""):
        from ..music.converters import converter_from_spec  # deferred: note_seq is slow to import
        from .core import MusicVAECore  # deferred: imports TensorFlow

        self.config = get_config(config)
        self.converter = converter_from_spec(self.config.converter)
        self.name = name or self.config.name
        self.source = source or "random weights"
        self.has_sigma = True
        if weights is not None:
            weights = dict(weights)
            validate_weights(weights, self.config, allow_missing_sigma=True)
            if not all(k in weights for k in SIGMA_VARIABLES):
                # magenta.js checkpoints may drop the sigma head (magenta.js never reads it):
                # encode then returns sigma = 0 and z = mu.
                self.has_sigma = False
                shapes = expected_variables(self.config)
                for key in SIGMA_VARIABLES:
                    weights[key] = np.zeros(shapes[key], np.float32)
        self._core = MusicVAECore(self.config, seed=seed, weights=weights)
        self._fingerprint: str | None = None

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike,
                        config: str | MusicVAEConfig | None = None) -> MusicVAE:
        """Load a checkpoint: a TF prefix (`…/model.ckpt`), a folder holding one, a `.tar` of
        one, or a magenta.js folder (`weights_manifest.json` + shards + `config.json`).

        `config` is a name in `CONFIGS`, a `MusicVAEConfig`, or None to work it out from the
        checkpoint (a magenta.js folder's `config.json`, else the config the variables fit).
        A checkpoint that does not fit raises CheckpointError naming the missing, unexpected
        and mis-shaped variables and suggesting the config that fits.
        """
        weights, source = read_checkpoint(path)
        folder = _tfjs_folder(path)
        is_tfjs = folder is not None or source.startswith("magenta.js")
        if config is None and not is_tfjs:
            config = _described_config(path, weights)
        config = _config_for(weights, folder, is_tfjs) if config is None else get_config(config)
        validate_weights(weights, config, allow_missing_sigma=is_tfjs)
        return cls(config, weights, source=source)

    @classmethod
    def pretrained(cls, name: str, *, progress: bool = True, base_url: str | None = None,
                   cache: str | os.PathLike | None = None) -> MusicVAE:
        """A checkpoint from the `CHECKPOINTS` table, downloaded once (sha256-checked when known)
        into the cache (`$MIDIME_WIDGETS_CACHE`, default `~/.cache/midime-widgets`), then offline.

        `models.is_cached(name)` tells whether that needs the network; with
        `$MIDIME_WIDGETS_OFFLINE=1` an uncached checkpoint raises CheckpointError instead of
        downloading."""
        from .download import fetch_pretrained

        info = get_checkpoint_info(name)
        path = fetch_pretrained(info, base_url=base_url, cache=cache, progress=progress)
        # magenta.js folders describe themselves (config.json); their sizes are read from the
        # weights. TF checkpoints use the table's config.
        vae = cls.from_checkpoint(path, config=None if info.format == "tfjs" else info.config)
        vae.name = info.name
        return vae

    @classmethod
    def from_config(cls, config: str | MusicVAEConfig, seed: int = 0) -> MusicVAE:
        """A model with random (magenta-initialised) weights: for tests and teaching."""
        vae = cls(get_config(config), None, seed=seed)
        vae.source = f"random weights (seed {seed})"
        return vae

    @classmethod
    def default(cls) -> MusicVAE:
        """The small 2-bar melody model embedded in the package (`models/default/`)."""
        missing = [f for f in DEFAULT_FILES if not (DEFAULT_DIR / f).is_file()]
        if missing:
            raise CheckpointError(
                f"This installation of midime-widgets lacks the embedded default MusicVAE "
                f"({', '.join(missing)} not found in {DEFAULT_DIR}); reinstall it, or use "
                "MusicVAE.pretrained(name) or MusicVAE.from_checkpoint(path).")
        return cls.from_checkpoint(DEFAULT_DIR / "model.ckpt", default_config())

    # -- description -----------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """"melody", "drums" or "trio"."""
        return model_kind(self.config)

    @property
    def device(self) -> str:
        """Where the weights live: "CPU", or the GPU's name."""
        from .devices import device_name

        return device_name(next(iter(self._core.weights.values())).device)

    @property
    def fingerprint(self) -> str:
        """sha256 over the variable names, shapes and float32 values: identifies these weights
        (MidiMe files record it so they refuse to load onto another MusicVAE)."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for name, value in sorted(self._core.numpy_weights().items()):
                array = np.ascontiguousarray(value, dtype="<f4")
                digest.update(f"{name}:{list(array.shape)}\n".encode())
                digest.update(array.tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    @property
    def record(self) -> dict:
        """What a MidiMe trained on this model's codes records about it (`MidiMe.save`
        stores it; `MidiMe.load` checks the fingerprint): name, z_size, fingerprint."""
        return {"name": self.name, "z_size": self.config.z_size, "fingerprint": self.fingerprint}

    @property
    def core(self):
        """The underlying `MusicVAECore` (tf.Module; variables keyed by magenta's names)."""
        return self._core

    def __repr__(self) -> str:
        return (f"MusicVAE({self.name!r}: {self.kind}, {self.config.max_seq_len} steps, "
                f"z_size={self.config.z_size}, on {self.device})")

    # -- encoding --------------------------------------------------------------------------
    def chunks(self, seq) -> list:
        """Every window of a whole song (NoteSequences, in time order, hop one bar), ready for
        `encode`. Raises MidiError with the reason when the song has none."""
        return self.converter.chunks(seq)

    def encode(self, note_sequences, *, seed: int | None = None):
        """`(z, mu, sigma)`, numpy `[n, z_size]`, one row per sequence.

        Each sequence must give exactly one window (as in magenta's `TrainedModel.encode`):
        cut songs with `vae.chunks(song)` first. `converter.windows(...)` items are accepted
        too. `z = mu + sigma·ε` with ε drawn from `seed`.
        """
        items = _as_list(note_sequences)
        inputs, lengths = [], []
        for index, item in enumerate(items):
            x, length = self._one_window(item, index)
            inputs.append(x)
            lengths.append(length)
        return self.encode_tensors(inputs, lengths, seed=seed)

    def _one_window(self, item, index: int):
        """(inputs, length) of the single window a sequence (or Window) holds."""
        if _is_window(item):
            return np.asarray(item.inputs, np.float32), int(item.length)
        try:
            tensors = self.converter.to_tensors(item, max_tensors=None)
        except TypeError as exc:
            raise MidiError(f"Item {index} is not a NoteSequence: {exc}") from None
        count = len(tensors.inputs)
        if count == 1:
            return np.asarray(tensors.inputs[0], np.float32), int(tensors.lengths[0])
        what = self.converter.describe()
        if count == 0:
            try:
                self.converter.windows(item)
                reason = "it has no part the model can read."
            except MidiError as exc:
                reason = str(exc)
            raise MidiError(f"Sequence {index} gives no {what}: {reason}")
        raise MidiError(
            f"Sequence {index} holds {count} different {what}s, but encode() needs exactly one "
            "per sequence (like magenta's TrainedModel.encode). Cut a song into windows with "
            "vae.chunks(seq) and encode those.")

    def encode_tensors(self, inputs, lengths=None, *, seed: int | None = None):
        """`(z, mu, sigma)` for converter input tensors.

        `inputs` is `[n, T, input_depth]` or a list of `[T_i, input_depth]` arrays; `lengths`
        (default: each row's full length) gives the valid steps per row.
        """
        rows = _rows(inputs)
        depth, max_len = self.config.input_depth, self.config.max_seq_len
        if lengths is None:
            lengths = [len(r) for r in rows]
        lengths = np.asarray(lengths).reshape(-1)
        if len(lengths) != len(rows):
            raise MidiError(f"Got {len(rows)} input rows but {len(lengths)} lengths.")
        hierarchical = self.config.encoder == Encoder.HIERARCHICAL
        steps = max([max_len] + [len(r) for r in rows])
        for i, (row, length) in enumerate(zip(rows, lengths)):
            if row.ndim != 2 or row.shape[1] != depth:
                raise MidiError(f"Input row {i} has shape {row.shape}; this model reads "
                                f"[steps, {depth}] ({self.kind} tensors from its converter).")
            if not 0 <= int(length) <= len(row):
                raise MidiError(f"Length {int(length)} of row {i} is outside 0..{len(row)}.")
            if not np.all(np.isfinite(row)):
                raise MidiError(f"Input row {i} holds NaN or infinite values.")
        if hierarchical and steps > max_len:
            raise MidiError(f"This model encodes at most {max_len} steps per window; got "
                            f"{steps}. Cut the music with vae.chunks(seq).")
        z_size = self.config.z_size
        if not rows:
            empty = np.zeros((0, z_size), np.float32)
            return empty, empty.copy(), empty.copy()
        lengths = lengths.astype(np.int32)
        mus, sigmas = [], []
        for start in range(0, len(rows), CHUNK):  # one chunk's padded batch at a time
            chunk = rows[start : start + CHUNK]
            batch = np.zeros((len(chunk), steps, depth), np.float32)
            for i, row in enumerate(chunk):
                batch[i, : len(row)] = row
            mu, sigma = self._core.encode(batch, lengths[start : start + CHUNK])
            mus.append(mu.numpy())
            sigmas.append(sigma.numpy())
        mu = np.concatenate(mus).astype(np.float32)
        sigma = np.concatenate(sigmas).astype(np.float32)
        if not self.has_sigma:
            sigma = np.zeros_like(mu)
        eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
        return mu + sigma * eps, mu, sigma

    # -- decoding --------------------------------------------------------------------------
    def decode_to_tensors(self, z, length: int | None = None, temperature: float | None = 0.5,
                          seed: int | None = None) -> np.ndarray:
        """One-hot output tensors `[n, length, output_depth]` for latent codes `z [n, z_size]`.

        `temperature` 0 or None is greedy (argmax); `length` defaults to the config's
        `max_seq_len`. A hierarchical decoder decodes exactly that many steps (its bars) and a
        shorter `length` keeps the first ones.
        """
        z = self._check_z(z)
        length = self._check_length(length)
        temperature = _check_temperature(temperature)
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        steps = self.config.max_seq_len if self.config.decoder == Decoder.HIERARCHICAL else length
        out = np.zeros((len(z), length, self.config.output_depth), np.float32)
        for k, start in enumerate(range(0, len(z), CHUNK)):
            samples = self._core.sample(z[start : start + CHUNK], steps, temperature, seed=int(seed) + k)
            out[start : start + CHUNK] = samples.numpy()[:, :length]
        return out

    def decode(self, z, length: int | None = None, temperature: float | None = 0.5,
               seed: int | None = None) -> list:
        """NoteSequences for latent codes `z [n, z_size]` (see `decode_to_tensors`)."""
        tensors = self.decode_to_tensors(z, length=length, temperature=temperature, seed=seed)
        return self.converter.from_tensors(list(tensors))

    def decode_one(self, z, temperature: float | None = 0.0, seed: int | None = None):
        """One NoteSequence for one latent code `z [z_size]`: greedy when `temperature` is 0,
        else sampled (with `seed`, the same code always gives the same music)."""
        return self.decode(np.asarray(z, np.float32).reshape(1, -1), temperature=temperature,
                           seed=seed)[0]

    def sample(self, n: int, length: int | None = None, temperature: float | None = 0.5,
               seed: int | None = None) -> list:
        """`n` NoteSequences decoded from codes drawn from the prior N(0, I)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise MidiError(f"n must be a number of samples (an integer ≥ 0), got {n!r}.")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((int(n), self.config.z_size)).astype(np.float32)
        decode_seed = None if seed is None else int(rng.integers(0, 2**31 - 1))
        return self.decode(z, length=length, temperature=temperature, seed=decode_seed)

    def interpolate(self, seq_a, seq_b, num_steps: int = 5, length: int | None = None,
                    temperature: float | None = 0.5, seed: int | None = None) -> list:
        """`num_steps` NoteSequences from `seq_a` to `seq_b`: spherical interpolation between
        their `mu` codes (both ends included), decoded, as magenta's `TrainedModel.interpolate`."""
        if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
            raise MidiError(f"num_steps must be an integer ≥ 1, got {num_steps!r}.")
        _, mu, _ = self.encode([seq_a, seq_b])
        z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0.0, 1.0, int(num_steps))])
        return self.decode(z.astype(np.float32), length=length, temperature=temperature, seed=seed)

    # -- checks ----------------------------------------------------------------------------
    def _check_z(self, z) -> np.ndarray:
        try:
            z = np.asarray(z, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise MidiError(f"z must be an array of latent codes: {exc}") from None
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.config.z_size:
            raise MidiError(f"z has shape {z.shape}; this model's latent codes are "
                            f"[n, {self.config.z_size}].")
        if not np.all(np.isfinite(z)):
            raise MidiError("z holds NaN or infinite values.")
        return z

    def _check_length(self, length) -> int:
        max_len = self.config.max_seq_len
        if length is None:
            return max_len
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise MidiError(f"length must be a positive number of steps, got {length!r}.")
        if self.config.decoder == Decoder.HIERARCHICAL and int(length) > max_len:
            raise MidiError(f"This hierarchical model decodes at most {max_len} steps "
                            f"({self.config.level_lengths[0]} bars); got length={length}.")
        if length > _MAX_LENGTH:
            raise MidiError(f"length={length} is too long (at most {_MAX_LENGTH} steps).")
        return int(length)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def slerp(p0: np.ndarray, p1: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation (magenta's `_slerp`); linear when the codes are parallel."""
    p0 = np.asarray(p0, np.float64)
    p1 = np.asarray(p1, np.float64)
    n0, n1 = np.linalg.norm(p0), np.linalg.norm(p1)
    if n0 == 0 or n1 == 0:
        return (1.0 - t) * p0 + t * p1
    omega = np.arccos(np.clip(np.dot(p0 / n0, p1 / n1), -1.0, 1.0))
    so = np.sin(omega)
    if so < 1e-7:
        return (1.0 - t) * p0 + t * p1
    return np.sin((1.0 - t) * omega) / so * p0 + np.sin(t * omega) / so * p1


def _check_temperature(temperature) -> float:
    if temperature is None:
        return 0.0
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise MidiError(f"temperature must be a number ≥ 0 (0 or None: greedy), got "
                        f"{temperature!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise MidiError(f"temperature must be a finite number ≥ 0, got {temperature!r}.")
    return value


def _is_window(item) -> bool:
    """A `converter.windows(...)` item (it carries its tensors) rather than a NoteSequence."""
    return hasattr(item, "inputs") and hasattr(item, "length") and not hasattr(item, "notes")


def _as_list(items) -> list:
    """A single NoteSequence / Window becomes a one-item list."""
    if _is_window(items) or hasattr(items, "notes"):
        return [items]
    if isinstance(items, (str, bytes)):
        raise MidiError("encode() takes NoteSequences (see midime_widgets.load_midi), not a "
                        "file name or bytes.")
    try:
        return list(items)
    except TypeError:
        raise MidiError(f"encode() takes a list of NoteSequences, got "
                        f"{type(items).__name__}.") from None


def _rows(inputs) -> list:
    if isinstance(inputs, np.ndarray) and inputs.ndim == 3:
        return list(inputs.astype(np.float32, copy=False))
    try:
        return [np.asarray(r, np.float32) for r in inputs]
    except (TypeError, ValueError) as exc:
        raise MidiError(f"inputs must be [n, steps, depth] or a list of [steps, depth] arrays: "
                        f"{exc}") from None


def _tfjs_folder(path) -> Path | None:
    """The magenta.js folder `path` names (the folder or its manifest), else None."""
    path = Path(os.fspath(path)).expanduser()
    if path.is_dir() and (path / TFJS_MANIFEST).is_file():
        return path
    if path.is_file() and path.name == TFJS_MANIFEST:
        return path.parent
    return None


#: Files beside a checkpoint that describe its config as `{"config": {...}}`: an exported model's
#: `config.json`, a training run's `train_config.json`.
DESCRIBING_FILES = ("config.json", "train_config.json")


def _described_config(path, weights: dict) -> MusicVAEConfig | None:
    """The config written beside a TF checkpoint (`DESCRIBING_FILES`) when it fits the weights,
    so an exported or self-trained model loads with its own name, converter and windows rather
    than the table config of the same shape; None when there is none."""
    from ..music.converters import converter_from_spec  # deferred: note_seq is slow to import

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    for name in DESCRIBING_FILES:
        file = folder / name
        try:
            if not file.is_file() or file.stat().st_size > MAX_CONFIG_JSON_BYTES:
                continue
            config = MusicVAEConfig.from_dict(json.loads(file.read_text(encoding="utf-8"))["config"])
            converter_from_spec(config.converter)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, MidiError):
            continue
        if 0 < config.max_seq_len <= _MAX_LENGTH and _fits(weights, config, False):
            return config
    return None


def _config_for(weights: dict, tfjs_folder: Path | None, is_tfjs: bool) -> MusicVAEConfig:
    """The config a checkpoint was made for: config.json for magenta.js, else the table config
    the variables fit exactly, else the closest table config's layout with the checkpoint's
    layer sizes. Raises CheckpointError explaining the mismatch otherwise."""
    if tfjs_folder is not None and (tfjs_folder / TFJS_CONFIG).is_file():
        return config_from_tfjs(tfjs_folder, weights)
    suggestions = suggest_configs(weights)
    for name in suggestions:
        if _fits(weights, CONFIGS[name], is_tfjs):
            return CONFIGS[name]
    for name in suggestions:
        try:
            sized = infer_config(weights, CONFIGS[name])
        except (CheckpointError, ValueError):
            continue
        if _fits(weights, sized, is_tfjs):
            return sized
    if not suggestions:
        raise CheckpointError("This checkpoint matches no known MusicVAE config (is it a MusicVAE "
                              "checkpoint?); pass config=MusicVAEConfig(...) describing it.")
    try:
        validate_weights(weights, CONFIGS[suggestions[0]], allow_missing_sigma=is_tfjs)
    except CheckpointError as exc:
        raise CheckpointError(f"Could not tell which config this checkpoint is for; the closest "
                              f"known one does not fit.\n{exc}") from None
    return CONFIGS[suggestions[0]]  # pragma: no cover - _fits said no, validate said yes


def _fits(weights: dict, config: MusicVAEConfig, is_tfjs: bool) -> bool:
    try:
        validate_weights(weights, config, allow_missing_sigma=is_tfjs)
    except CheckpointError:
        return False
    return True


__all__ = ["MusicVAE", "slerp"]
