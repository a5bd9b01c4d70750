"""MusicVAE model configs and the table of known checkpoints, kept as data.

`CONFIGS` mirrors magenta's `music_vae/configs.py` (architecture + training hparams) for every
config with a released checkpoint, plus the magenta.js checkpoints the MidiMe demo used.
`CHECKPOINTS` is the one table of downloadable checkpoints. `expected_variables(config)` (from
`layout`, the one home of magenta's variable names) lists every variable (name → shape) magenta's
graph has for a config, so a checkpoint can be checked before use.

Conventions:
- `level_lengths` is the *decoder's* hierarchy: `(conductor steps, core steps per conductor step)`,
  e.g. `(16, 16)` for 16 bars of 16 steps. A hierarchical encoder uses the reverse
  (`encoder_level_lengths`), as magenta's `HierarchicalLstmEncoder([16, 16])` /
  magenta.js `HierarchicalEncoder([numSegments, 1])` do.
- `converter` is a spec for `midime_widgets.music.converters.converter_from_spec`;
  `"valid_programs": [0, 32]` is the half-open program range `range(0, 32)` (magenta's
  MEL_PROGRAMS).
- The conductor of a hierarchical decoder has the same layer sizes as the core decoder
  (`dec_rnn_sizes`), as in magenta (both use `hparams.dec_rnn_size`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from collections.abc import Mapping

from ..errors import CheckpointError
from .layout import CoreDecoder, Decoder, Encoder, expected_variables

__all__ = ["CHECKPOINTS", "CONFIGS", "MODEL_KINDS", "CheckpointInfo", "MusicVAEConfig",
           "count_parameters", "expected_variables", "get_checkpoint_info", "get_config",
           "model_kind"]

_TUPLE_FIELDS = ("enc_rnn_sizes", "dec_rnn_sizes", "level_lengths", "output_depths")
_KIND_FIELDS = ("encoder", "decoder", "core_decoder")


def _values(kinds) -> tuple:
    return tuple(kind.value for kind in kinds)


@dataclass(frozen=True, eq=True)
class MusicVAEConfig:
    """Architecture, data converter and training hparams of one MusicVAE model.

    Field names follow magenta's HParams where one exists (`enc_rnn_size` → `enc_rnn_sizes`).
    Instances are immutable; use `replace(**changes)` for variants (e.g. smaller layers in tests).
    """

    name: str
    encoder: str = Encoder.BIDIRECTIONAL.value
    decoder: str = Decoder.CATEGORICAL.value
    core_decoder: str | None = None  # only for decoder="hierarchical"
    enc_rnn_sizes: tuple = (512,)
    dec_rnn_sizes: tuple = (256, 256)
    z_size: int = 256
    max_seq_len: int = 32
    level_lengths: tuple | None = None
    output_depths: tuple = (90,)
    input_depth: int = 90
    converter: dict = field(default_factory=lambda: {"type": "melody", "slice_bars": 2})
    # training hparams (magenta defaults unless the config overrides them)
    free_bits: float = 0.0
    max_beta: float = 1.0
    beta_rate: float = 0.0
    sampling_schedule: str = "constant"
    sampling_rate: float = 0.0
    learning_rate: float = 0.001
    decay_rate: float = 0.9999
    min_learning_rate: float = 0.00001
    batch_size: int = 512
    grad_clip: float = 1.0
    clip_mode: str = "global_norm"
    grad_norm_clip_to_zero: float = 10000.0
    dropout_keep_prob: float = 1.0
    description: str = ""

    def __post_init__(self):
        # Normalise sequences to tuples, structure kinds to plain strings, and copy the converter
        # spec so the config can't be changed through a dict the caller still holds.
        for name in _KIND_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, str(value))
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(int(v) for v in value))
        object.__setattr__(self, "converter", copy.deepcopy(dict(self.converter)))
        self._check()

    def _check(self) -> None:
        """Reject structurally impossible configs early, with the field at fault named."""
        problems = []
        for name, kinds in (("encoder", Encoder), ("decoder", Decoder)):
            if getattr(self, name) not in set(kinds):
                problems.append(f"{name} must be one of {_values(kinds)}, "
                                f"got {getattr(self, name)!r}")
        hierarchical = (self.decoder == Decoder.HIERARCHICAL
                        or self.encoder == Encoder.HIERARCHICAL)
        if self.decoder == Decoder.HIERARCHICAL and self.core_decoder not in set(CoreDecoder):
            problems.append(f"a hierarchical decoder needs core_decoder in "
                            f"{_values(CoreDecoder)}, got {self.core_decoder!r}")
        if self.decoder != Decoder.HIERARCHICAL and self.core_decoder is not None:
            problems.append("core_decoder is only used with decoder='hierarchical'")
        if not self.enc_rnn_sizes or not self.dec_rnn_sizes or not self.output_depths:
            problems.append("enc_rnn_sizes, dec_rnn_sizes and output_depths must not be empty")
        if hierarchical:
            if not self.level_lengths or len(self.level_lengths) != 2:
                problems.append("hierarchical models need level_lengths=(conductor steps, "
                                f"core steps), got {self.level_lengths!r}")
            elif self.level_lengths[0] * self.level_lengths[1] != self.max_seq_len:
                problems.append(f"level_lengths {self.level_lengths} must multiply to "
                                f"max_seq_len={self.max_seq_len}")
        if self.decoder == Decoder.CATEGORICAL and len(self.output_depths) != 1:
            problems.append("a categorical decoder has a single output depth; use 'multiout'")
        if "type" not in self.converter:
            problems.append("converter spec needs a 'type'")
        if problems:
            raise ValueError(f"Invalid MusicVAE config {self.name!r}: " + "; ".join(problems))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    # -- derived values --------------------------------------------------------------------------
    @property
    def output_depth(self) -> int:
        """Total output depth (sum of the split depths, e.g. 692 for trios)."""
        return sum(self.output_depths)

    @property
    def encoder_level_lengths(self) -> tuple | None:
        """(steps per segment, segments) for a hierarchical encoder; None for a flat one."""
        if self.encoder != Encoder.HIERARCHICAL:
            return None
        return tuple(reversed(self.level_lengths))

    # -- copying / serialisation -----------------------------------------------------------------
    def replace(self, **changes) -> MusicVAEConfig:
        """A copy with some fields changed (validated like a new config)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"MusicVAEConfig has no field(s) {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """A JSON-safe dict (tuples become lists) that `from_dict` turns back into this config."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> MusicVAEConfig:
        """Build a config from `to_dict()` output (e.g. read back from JSON); unknown keys fail."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"Unknown MusicVAE config field(s): {sorted(unknown)}")
        return cls(**dict(data))


# ---------------------------------------------------------------------------------------------
# Converter specs (magenta configs.py / data.py)
# ---------------------------------------------------------------------------------------------

MEL_A = {"type": "melody", "slice_bars": 2, "valid_programs": [0, 32]}  # OneHotMelodyConverter
MEL_B = {"type": "melody", "slice_bars": 16}
DRUMS_2BAR = {"type": "drums", "slice_bars": 2}  # DrumsConverter(roll_input=True)
TRIO_16BAR = {"type": "trio", "slice_bars": 16, "gap_bars": 2}

MELODY_DEPTH = 90  # MelodyOneHotEncoding(21, 109): no-event, note-off, 88 pitches
DRUM_ROLL_DEPTH = 10  # 9 drum classes + "no hit" bit
DRUM_ONE_HOT_DEPTH = 512  # 2**9
TRIO_DEPTHS = (MELODY_DEPTH, MELODY_DEPTH, DRUM_ONE_HOT_DEPTH)


def _config(name: str, **fields) -> MusicVAEConfig:
    return MusicVAEConfig(name=name, **fields)


_INV_SIGMOID = {"sampling_schedule": "inverse_sigmoid", "sampling_rate": 1000.0}

_CONFIG_LIST = [
    # ---- magenta music_vae/configs.py ----
    _config("cat-mel_2bar_small", enc_rnn_sizes=(512,), dec_rnn_sizes=(256, 256), z_size=256,
            max_seq_len=32, output_depths=(MELODY_DEPTH,), input_depth=MELODY_DEPTH,
            converter=MEL_A, free_bits=0, max_beta=0.2, beta_rate=0.99999, **_INV_SIGMOID,
            description="2-bar melodies, small (BiLSTM 512 / LSTM 2x256, z=256)"),
    _config("cat-mel_2bar_big", enc_rnn_sizes=(2048,), dec_rnn_sizes=(2048, 2048, 2048),
            z_size=512, max_seq_len=32, output_depths=(MELODY_DEPTH,), input_depth=MELODY_DEPTH,
            converter=MEL_A, free_bits=0, max_beta=0.5, beta_rate=0.99999, **_INV_SIGMOID,
            description="2-bar melodies, big (BiLSTM 2048 / LSTM 3x2048, z=512)"),
    _config("cat-drums_2bar_small", enc_rnn_sizes=(512,), dec_rnn_sizes=(256, 256), z_size=256,
            max_seq_len=32, output_depths=(DRUM_ONE_HOT_DEPTH,), input_depth=DRUM_ROLL_DEPTH,
            converter=DRUMS_2BAR, free_bits=48, max_beta=0.2, **_INV_SIGMOID,
            description="2-bar drums, 9 classes, small"),
    _config("cat-drums_2bar_big", enc_rnn_sizes=(2048,), dec_rnn_sizes=(2048, 2048, 2048),
            z_size=512, max_seq_len=32, output_depths=(DRUM_ONE_HOT_DEPTH,),
            input_depth=DRUM_ROLL_DEPTH, converter=DRUMS_2BAR, free_bits=48, max_beta=0.2,
            **_INV_SIGMOID, description="2-bar drums, 9 classes, big"),
    _config("flat-mel_16bar", enc_rnn_sizes=(2048, 2048), dec_rnn_sizes=(2048, 2048, 2048),
            z_size=512, max_seq_len=256, output_depths=(MELODY_DEPTH,), input_depth=MELODY_DEPTH,
            converter=MEL_B, free_bits=256, max_beta=0.2,
            description="16-bar melodies, flat decoder"),
    _config("hierdec-mel_16bar", decoder=Decoder.HIERARCHICAL, core_decoder=CoreDecoder.CATEGORICAL,
            enc_rnn_sizes=(2048, 2048), dec_rnn_sizes=(1024, 1024), z_size=512, max_seq_len=256,
            level_lengths=(16, 16), output_depths=(MELODY_DEPTH,), input_depth=MELODY_DEPTH,
            converter=MEL_B, free_bits=256, max_beta=0.2,
            description="16-bar melodies, hierarchical decoder (16-bar conductor)"),
    _config("flat-trio_16bar", decoder=Decoder.MULTIOUT, enc_rnn_sizes=(2048, 2048),
            dec_rnn_sizes=(2048, 2048, 2048), z_size=512, max_seq_len=256,
            output_depths=TRIO_DEPTHS, input_depth=sum(TRIO_DEPTHS), converter=TRIO_16BAR,
            batch_size=256, description="16-bar trios (melody, bass, drums), flat decoder"),
    _config("hierdec-trio_16bar", decoder=Decoder.HIERARCHICAL, core_decoder=CoreDecoder.SPLIT,
            enc_rnn_sizes=(2048, 2048), dec_rnn_sizes=(1024, 1024), z_size=512, max_seq_len=256,
            level_lengths=(16, 16), output_depths=TRIO_DEPTHS, input_depth=sum(TRIO_DEPTHS),
            converter=TRIO_16BAR, free_bits=256, max_beta=0.2, batch_size=256,
            description="16-bar trios (melody, bass, drums), hierarchical decoder"),
    # ---- magenta.js checkpoints (music/checkpoints/checkpoints.json) ----
    # Architectures inferred from published sizes (size_mb) and magenta.js model.ts: a flat
    # magenta.js encoder has exactly one BiLSTM layer; `numSegments` in config.json makes BOTH
    # the encoder and the decoder hierarchical. Training hparams are unknown for these; those given
    # copy the closest Python config. Loading a magenta.js folder infers the real sizes from the
    # weights (checkpoints.config_from_tfjs), so these entries only describe what to expect.
    # CERTAIN: 4,423,770 floats x 4 B = 17.70 MB = the published 17.7 MB (sigma included).
    _config("mel_2bar_small", enc_rnn_sizes=(512,), dec_rnn_sizes=(256, 256), z_size=256,
            max_seq_len=32, output_depths=(MELODY_DEPTH,), input_depth=MELODY_DEPTH,
            converter=MEL_A, free_bits=0, max_beta=0.2, beta_rate=0.99999, **_INV_SIGMOID,
            description="magenta.js 2-bar melody model (same network as cat-mel_2bar_small)"),
    # UNCERTAIN sizes: 26.5 MB at 2 B/weight = 13.27 M values = 3 x 4,423,770, i.e. the
    # mel_2bar_small network with its two Adam slot copies left in (the converter drops them only
    # when asked). No plain network size gives 26.5 MB. max_seq_len=64 follows the name "4bar".
    _config("mel_4bar_small_q2", enc_rnn_sizes=(512,), dec_rnn_sizes=(256, 256), z_size=256,
            max_seq_len=64, output_depths=(MELODY_DEPTH,), input_depth=MELODY_DEPTH,
            converter={"type": "melody", "slice_bars": 4}, free_bits=0, max_beta=0.2,
            description="magenta.js 4-bar melody model, 2-byte quantized (sizes inferred)"),
    # UNCERTAIN sizes: chosen so 23.54 MB at 2 B/weight matches the published 23.5 MB with the same
    # "small" family as trio_4bar (enc 512, dec/conductor 2x256, z 256); other size combinations
    # also fit. The "16-step conductor" is from the description.
    _config("mel_16bar_small_q2", encoder=Encoder.HIERARCHICAL, decoder=Decoder.HIERARCHICAL,
            core_decoder=CoreDecoder.CATEGORICAL, enc_rnn_sizes=(512,), dec_rnn_sizes=(256, 256),
            z_size=256, max_seq_len=256, level_lengths=(16, 16), output_depths=(MELODY_DEPTH,),
            input_depth=MELODY_DEPTH, converter=MEL_B, free_bits=256, max_beta=0.2,
            description="magenta.js 16-bar melody model, hierarchical, 2-byte quantized"),
    # Sizes from a third-party port (2-layer conductor, three 2-layer core decoders, z=256) and
    # 17.64 M values x 1 B = the published 17.6 MB; enc 512 is inferred from that total.
    # "4-step conductor" is from the description; gap_bars=2 copies the Python trio converter
    # (magenta.js has no gap handling: it converts whatever trio it is given).
    _config("trio_4bar", encoder=Encoder.HIERARCHICAL, decoder=Decoder.HIERARCHICAL,
            core_decoder=CoreDecoder.SPLIT, enc_rnn_sizes=(512,), dec_rnn_sizes=(256, 256),
            z_size=256, max_seq_len=64,
            level_lengths=(4, 16), output_depths=TRIO_DEPTHS, input_depth=sum(TRIO_DEPTHS),
            converter={"type": "trio", "slice_bars": 4, "gap_bars": 2}, free_bits=256,
            max_beta=0.2, batch_size=256,
            description="magenta.js 4-bar trio model (MidiMe demo), hierarchical, "
                        "1-byte quantized"),
]

CONFIGS: dict[str, MusicVAEConfig] = {c.name: c for c in _CONFIG_LIST}


# ---------------------------------------------------------------------------------------------
# Checkpoint table
# ---------------------------------------------------------------------------------------------

OFFICIAL_TAR_BASE = "https://storage.googleapis.com/magentadata/models/music_vae/checkpoints/"
COLAB2_BASE = ("https://storage.googleapis.com/download.magenta.tensorflow.org/models/music_vae/"
               "colab2/checkpoints/")
TFJS_BASE = "https://storage.googleapis.com/magentadata/js/checkpoints/music_vae/"


@dataclass(frozen=True)
class CheckpointInfo:
    """One downloadable checkpoint.

    `format` "tf": `urls` are tarball mirrors tried in order, unless `files` is set, in which case
    `urls[0]` is a checkpoint prefix URL and `files` the suffixes to fetch (".index", ...).
    `format` "tfjs": `urls[0]` is the magenta.js folder URL; its `weights_manifest.json` lists the
    shards to fetch. `sha256` is the tarball's digest (None where unknown: it is then not
    checked); `size` its size in bytes (None where unknown); `size_mb` the published size.
    """

    name: str
    config: str
    format: str
    urls: tuple
    description: str
    sha256: str | None = None
    size: int | None = None
    size_mb: float | None = None
    files: tuple | None = None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["urls"] = list(self.urls)
        out["files"] = list(self.files) if self.files is not None else None
        return out


def _tar(name: str, config: str, description: str) -> CheckpointInfo:
    return CheckpointInfo(name, config, "tf", (f"{OFFICIAL_TAR_BASE}{name}.tar",), description)


def _colab2(name: str, stem: str, config: str, description: str) -> CheckpointInfo:
    # Only source found for the flat-* checkpoints (the MusicVAE colab); the shard count of
    # the .data file is a guess (one shard, as TF writes for a single-device save).
    return CheckpointInfo(name, config, "tf", (f"{COLAB2_BASE}{stem}.ckpt",), description,
                          files=(".index", ".data-00000-of-00001"))


def _tfjs(name: str, config: str, size_mb: float, description: str, folder: str | None = None,
          ) -> CheckpointInfo:
    return CheckpointInfo(name, config, "tfjs", (f"{TFJS_BASE}{folder or name}",), description,
                          size_mb=size_mb)


_CHECKPOINT_LIST = [
    # Official TF checkpoints (magenta/models/music_vae/README.md table).
    _tar("cat-mel_2bar_big", "cat-mel_2bar_big", "2-bar melodies"),
    _tar("hierdec-mel_16bar", "hierdec-mel_16bar", "16-bar melodies"),
    _tar("hierdec-trio_16bar", "hierdec-trio_16bar", "16-bar trios (drums, melody, and bass)"),
    _tar("cat-drums_2bar_small.lokl", "cat-drums_2bar_small",
         "2-bar drums w/ 9 classes trained for more realistic sampling (low KL)"),
    _tar("cat-drums_2bar_small.hikl", "cat-drums_2bar_small",
         "2-bar drums w/ 9 classes trained for better reconstruction and interpolation (high KL)"),
    # Loose TF checkpoint files used by the MusicVAE colab (unverified; see _colab2).
    _colab2("flat-mel_16bar", "mel_16bar_flat", "flat-mel_16bar",
            "16-bar melodies, flat decoder (colab checkpoint, unverified URL)"),
    _colab2("flat-trio_16bar", "trio_16bar_flat", "flat-trio_16bar",
            "16-bar trios, flat decoder (colab checkpoint, unverified URL)"),
    # magenta.js checkpoints (music/checkpoints/checkpoints.json). No official TF checkpoint exists
    # for cat-mel_2bar_small; mel_2bar_small is its magenta.js release.
    _tfjs("mel_2bar_small", "mel_2bar_small", 17.7,
          "2-bar, 90-class melody model (magenta.js; same network as cat-mel_2bar_small)"),
    _tfjs("mel_4bar_small_q2", "mel_4bar_small_q2", 26.5,
          "4-bar, 90-class melody model, 2-byte quantized (magenta.js)"),
    _tfjs("mel_16bar_small_q2", "mel_16bar_small_q2", 23.5,
          "16-bar melody model with a 16-step conductor, 2-byte quantized (magenta.js)"),
    _tfjs("trio_4bar", "trio_4bar", 17.6,
          "4-bar trio model with a 4-step conductor, low KL, 1-byte quantized (magenta.js; "
          "checkpoints.json id trio_4bar_lokl_small_q1)"),
    # 18.55 MB = the cat-drums_2bar_small network in float32: same architecture.
    _tfjs("drums_2bar_lokl_small", "cat-drums_2bar_small", 18.5,
          "2-bar, 9-class drum model, low KL (magenta.js)"),
    _tfjs("drums_2bar_hikl_small", "cat-drums_2bar_small", 18.5,
          "2-bar, 9-class drum model, high KL (magenta.js)"),
]

CHECKPOINTS: dict[str, CheckpointInfo] = {c.name: c for c in _CHECKPOINT_LIST}


def count_parameters(config: MusicVAEConfig, *, include_sigma: bool = True) -> int:
    """Number of floats in a checkpoint for `config` (handy to compare with published sizes)."""
    total = 0
    for shape in expected_variables(config, include_sigma=include_sigma).values():
        n = 1
        for dim in shape:
            n *= dim
        total += n
    return total


MODEL_KINDS = ("melody", "drums", "trio")
_KIND_OF_CONVERTER = {"melody": "melody", "mel": "melody", "drum": "drums", "drums": "drums",
                      "trio": "trio"}


def model_kind(config: MusicVAEConfig) -> str:
    """What a model reads and writes, one of MODEL_KINDS: "melody", "drums" or "trio"."""
    kind = str(config.converter["type"]).lower()
    return _KIND_OF_CONVERTER.get(kind, kind)


def get_config(name_or_config: str | MusicVAEConfig) -> MusicVAEConfig:
    """Look a config up by name (a MusicVAEConfig passes through); unknown names list the known."""
    if isinstance(name_or_config, MusicVAEConfig):
        return name_or_config
    try:
        return CONFIGS[name_or_config]
    except (KeyError, TypeError):
        raise CheckpointError(f"Unknown MusicVAE config {name_or_config!r}; known configs: "
                       f"{', '.join(sorted(CONFIGS))}") from None


def get_checkpoint_info(name: str) -> CheckpointInfo:
    """Look a checkpoint up in CHECKPOINTS; unknown names list the known ones."""
    try:
        return CHECKPOINTS[name]
    except (KeyError, TypeError):
        raise CheckpointError(f"Unknown pretrained checkpoint {name!r}; known checkpoints: "
                       f"{', '.join(sorted(CHECKPOINTS))}") from None
