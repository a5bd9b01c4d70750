"""magenta's MusicVAE variable layout: the name and shape of every variable, per structure.

This is the one place that knows how magenta's TF1 graph names its variables. The config table
(`configs.expected_variables`), the checkpoint checks (`checkpoints`) and the TensorFlow model
(`core`) all read names from here. No TensorFlow or numpy: importing it stays instant.

As in magenta's `music_vae`, each encoder and decoder structure is one class that owns its
variables (`variable_shapes()`) and names them (`cell(...)`, `initial_state`, ...):
- `BidirectionalEncoder`: a stacked bidirectional LSTM (`BidirectionalLstmEncoder`);
- `HierarchicalEncoder`: one bidirectional stack per level (`HierarchicalLstmEncoder`);
- `FlatDecoder`: one LSTM decoder (`CategoricalLstmDecoder`, `MultiOutCategoricalLstmDecoder`);
- `HierarchicalDecoder`: a conductor over bars feeding one core decoder, or one per track
  (`HierarchicalLstmDecoder` over a categorical or `SplitMultiOutLstmDecoder` core).
`encoder_layout(config)` / `decoder_layout(config)` pick the class a config describes.

Every LSTM is an `LSTMBlockCell`: `…/lstm_cell/kernel [in + n, 4n]` and `…/lstm_cell/bias [4n]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "BidirectionalEncoder",
    "BidirectionalStack",
    "Conductor",
    "CoreDecoder",
    "Decoder",
    "DecoderStack",
    "Encoder",
    "FlatDecoder",
    "HierarchicalDecoder",
    "HierarchicalEncoder",
    "SIGMA_VARIABLES",
    "decoder_layout",
    "encoder_layout",
    "expected_variables",
]


class _Kind(str, Enum):
    """A structure name that is also its plain string (configs and JSON hold the string)."""

    def __str__(self) -> str:
        return self.value


class Encoder(_Kind):
    """`MusicVAEConfig.encoder`."""

    BIDIRECTIONAL = "bidirectional"
    HIERARCHICAL = "hierarchical"


class Decoder(_Kind):
    """`MusicVAEConfig.decoder`."""

    CATEGORICAL = "categorical"
    MULTIOUT = "multiout"  # one decoder, each output segment sampled on its own (trios)
    HIERARCHICAL = "hierarchical"


class CoreDecoder(_Kind):
    """`MusicVAEConfig.core_decoder`: what a hierarchical decoder's conductor feeds."""

    CATEGORICAL = "categorical"
    SPLIT = "split"  # one core decoder per track


MU = "encoder/mu"
SIGMA = "encoder/sigma"
SIGMA_VARIABLES = (f"{SIGMA}/kernel", f"{SIGMA}/bias")  # magenta.js checkpoints may omit these


def _lstm_shapes(cell: str, input_depth: int, units: int) -> dict[str, tuple]:
    """An LSTMBlockCell `cell` (…/lstm_cell) reading `input_depth` values."""
    return {f"{cell}/kernel": (input_depth + units, 4 * units), f"{cell}/bias": (4 * units,)}


def _dense_shapes(prefix: str, input_depth: int, units: int) -> dict[str, tuple]:
    return {f"{prefix}/kernel": (input_depth, units), f"{prefix}/bias": (units,)}


def _stacked_lstm_shapes(stack, cond_depth: int, input_depth: int) -> dict[str, tuple]:
    """A unidirectional stack: `tanh(Dense(conditioning))` → the initial `(c, h)` of every layer
    (`stack.initial_state`), then cells `stack.cell(l)`, layer l reading layer l-1's output."""
    sizes = stack.rnn_sizes
    shapes = _dense_shapes(stack.initial_state, cond_depth, 2 * sum(sizes))
    for layer, units in enumerate(sizes):
        shapes.update(_lstm_shapes(stack.cell(layer), input_depth, units))
        input_depth = units
    return shapes


# ---------------------------------------------------------------------------------------------
# Encoders
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidirectionalStack:
    """Stacked bidirectional LSTM under `scope`; layer l reads [fw; bw] outputs of layer l-1."""

    scope: str
    input_depth: int
    rnn_sizes: tuple

    def cell(self, layer: int, direction: str) -> str:
        """The LSTM of `layer` in `direction` ("fw" or "bw")."""
        return (f"{self.scope}/cell_{layer}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0"
                "/lstm_cell")

    @property
    def output_depth(self) -> int:
        """Depth of the encoding: `[h_fw_final; h_bw_final]` of the last layer."""
        return 2 * self.rnn_sizes[-1]

    def variable_shapes(self) -> dict[str, tuple]:
        shapes: dict[str, tuple] = {}
        depth = self.input_depth
        for layer, units in enumerate(self.rnn_sizes):
            for direction in ("fw", "bw"):
                shapes.update(_lstm_shapes(self.cell(layer, direction), depth, units))
            depth = 2 * units
        return shapes


@dataclass(frozen=True)
class _EncoderBase:
    """Bidirectional stack(s), then the latent heads mu and sigma."""

    stacks: tuple  # of BidirectionalStack
    z_size: int

    def variable_shapes(self, *, include_sigma: bool = True) -> dict[str, tuple]:
        shapes: dict[str, tuple] = {}
        for stack in self.stacks:
            shapes.update(stack.variable_shapes())
        depth = self.stacks[-1].output_depth
        for head in (MU, SIGMA) if include_sigma else (MU,):
            shapes.update(_dense_shapes(head, depth, self.z_size))
        return shapes


class BidirectionalEncoder(_EncoderBase):
    """magenta's `BidirectionalLstmEncoder`: one stack under `encoder/`."""

    kind = Encoder.BIDIRECTIONAL


class HierarchicalEncoder(_EncoderBase):
    """magenta's `HierarchicalLstmEncoder`: level k encodes segments of level k-1's codes."""

    kind = Encoder.HIERARCHICAL


def encoder_layout(config) -> BidirectionalEncoder | HierarchicalEncoder:
    """The encoder `config` describes."""
    sizes = tuple(config.enc_rnn_sizes)
    if config.encoder == Encoder.HIERARCHICAL:
        stacks, depth = [], config.input_depth
        for level in range(len(config.level_lengths)):
            stacks.append(BidirectionalStack(f"encoder/hierarchical_level_{level}", depth, sizes))
            depth = stacks[-1].output_depth
        return HierarchicalEncoder(tuple(stacks), config.z_size)
    if config.encoder != Encoder.BIDIRECTIONAL:
        raise ValueError(f"Unknown encoder type {config.encoder!r}")
    return BidirectionalEncoder((BidirectionalStack("encoder", config.input_depth, sizes),),
                                config.z_size)


# ---------------------------------------------------------------------------------------------
# Decoders
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecoderStack:
    """One flat LSTM decoder: conditioning → initial state, cells reading [previous output;
    conditioning], output projection. `segments` splits the output for independent categorical
    sampling, e.g. (90, 90, 512) for a multi-out trio decoder."""

    prefix: str
    cond_depth: int  # depth of the conditioning vector (z, or the conductor's embedding)
    rnn_sizes: tuple
    output_depth: int
    segments: tuple

    @property
    def initial_state(self) -> str:
        return f"{self.prefix}/z_to_initial_state"

    def cell(self, layer: int) -> str:
        return f"{self.prefix}/multi_rnn_cell/cell_{layer}/lstm_cell"

    @property
    def output_projection(self) -> str:
        return f"{self.prefix}/output_projection"

    def variable_shapes(self) -> dict[str, tuple]:
        shapes = _stacked_lstm_shapes(self, self.cond_depth, self.output_depth + self.cond_depth)
        shapes.update(_dense_shapes(self.output_projection, self.rnn_sizes[-1], self.output_depth))
        return shapes


@dataclass(frozen=True)
class Conductor:
    """A hierarchical decoder's conductor: z → initial state, then cells over a constant zero
    input of width 1 (magenta's `disable_autoregression`); no `multi_rnn_cell` in the names."""

    z_size: int
    rnn_sizes: tuple
    scope: str = "decoder/hierarchical_level_0"

    @property
    def initial_state(self) -> str:
        return f"{self.scope}/initial_state"

    def cell(self, layer: int) -> str:
        return f"{self.scope}/cell_{layer}/lstm_cell"

    @property
    def output_depth(self) -> int:
        """Depth of the embedding each bar's core decoder is conditioned on (top layer's h)."""
        return self.rnn_sizes[-1]

    def variable_shapes(self) -> dict[str, tuple]:
        return _stacked_lstm_shapes(self, self.z_size, 1)


@dataclass(frozen=True)
class FlatDecoder:
    """magenta's `CategoricalLstmDecoder` / `MultiOutCategoricalLstmDecoder`: one stack
    conditioned on z for the whole sequence."""

    stacks: tuple  # of one DecoderStack
    conductor = None

    def variable_shapes(self) -> dict[str, tuple]:
        return self.stacks[0].variable_shapes()


@dataclass(frozen=True)
class HierarchicalDecoder:
    """magenta's `HierarchicalLstmDecoder` (two levels): the conductor's output for each bar
    conditions the core stack(s), one per track for a split core."""

    conductor: Conductor
    stacks: tuple  # of DecoderStack

    def variable_shapes(self) -> dict[str, tuple]:
        shapes = self.conductor.variable_shapes()
        for stack in self.stacks:
            shapes.update(stack.variable_shapes())
        return shapes


def decoder_layout(config) -> FlatDecoder | HierarchicalDecoder:
    """The decoder `config` describes."""
    depths = tuple(config.output_depths)
    sizes = tuple(config.dec_rnn_sizes)
    if config.decoder in (Decoder.CATEGORICAL, Decoder.MULTIOUT):
        return FlatDecoder((DecoderStack("decoder", config.z_size, sizes, sum(depths), depths),))
    if config.decoder != Decoder.HIERARCHICAL:
        raise ValueError(f"Unknown decoder type {config.decoder!r}")
    conductor = Conductor(config.z_size, sizes)
    cond = conductor.output_depth
    if config.core_decoder == CoreDecoder.SPLIT:
        stacks = tuple(DecoderStack(f"core_decoder/core_decoder_{track}/decoder", cond, sizes,
                                    depth, (depth,)) for track, depth in enumerate(depths))
    else:
        stacks = (DecoderStack("core_decoder/decoder", cond, sizes, sum(depths), depths),)
    return HierarchicalDecoder(conductor, stacks)


def expected_variables(config, *, include_sigma: bool = True) -> dict[str, tuple]:
    """Every variable (name → shape) of magenta's graph for `config`, global_step excluded.

    `include_sigma=False` leaves out `encoder/sigma/*`, which magenta.js never reads.
    """
    shapes = encoder_layout(config).variable_shapes(include_sigma=include_sigma)
    shapes.update(decoder_layout(config).variable_shapes())
    return shapes
