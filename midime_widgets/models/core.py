"""MusicVAE's encoder and decoders in TF2, holding variables under magenta's own names.

`MusicVAECore` is the numeric heart shared by inference (`MusicVAE`) and training
(`midime_widgets.training`). Variables live in `core.weights`, a dict keyed by the exact variable
names of magenta's TF1 graph (named in `layout`), so released checkpoints load verbatim and
checkpoints we write load in magenta's `TrainedModel`.

Supported structures (every released melody / drums / trio config, and the magenta.js ones):
- encoder: stacked bidirectional LSTM (`BidirectionalLstmEncoder`), or a hierarchical one
  (`HierarchicalLstmEncoder`: a BiLSTM over each segment, then a BiLSTM over the segment codes);
- decoder "categorical" / "multiout": one flat LSTM decoder (`CategoricalLstmDecoder`,
  `MultiOutCategoricalLstmDecoder`, which samples each output segment independently);
- decoder "hierarchical": a conductor LSTM over bars feeding one core decoder ("categorical") or
  one per track ("split", `SplitMultiOutLstmDecoder`).

Decoding — flat or hierarchical — is one step loop in which a "segment" is the span decoded from
one conditioning vector: the whole sequence for flat decoders, one bar for hierarchical ones. At
each segment start the core state is re-initialised from that vector; the previous output always
carries over, as in magenta. Two loops share the per-step math (`_DecoderStep`):
- `decode_loop` (training and general use): the previous output is a dense `[B, O]` vector, so it
  can be a teacher-forced target or a sample (scheduled sampling), and gradients flow;
- `sample` / `sample_with_logits` (inference): the previous output is carried as class indices and
  its input projection is a row gather instead of a one-hot matmul (exactly equal), greedy and
  sampled decoding are separate compiled graphs, and a narrow decoder's loop is XLA-compiled
  when available (one fused kernel per step instead of dozens of small ops).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from .layout import (
    MU,
    SIGMA,
    DecoderStack,
    Encoder,
    HierarchicalDecoder,
    decoder_layout,
    encoder_layout,
    expected_variables,
)
from .lstm import FUSED_MAX_ROWS, bidirectional_layer, lstm_cell

XLA_ENV = "MIDIME_WIDGETS_XLA"  # "0" turns XLA compilation of the inference decoder off

def _initial_value(name: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """magenta's initialisers: glorot-uniform kernels, zero biases, N(0, 0.001) for the
    z→state and latent heads."""
    if name.endswith("/bias"):
        return np.zeros(shape, np.float32)
    if "initial_state" in name or name.startswith((MU + "/", SIGMA + "/")):
        return rng.normal(0.0, 0.001, shape).astype(np.float32)
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _xla_enabled() -> bool:
    return os.environ.get(XLA_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


# ---------------------------------------------------------------------------------------------
# Per-step decoder math, shared by the training loop and the inference loop
# ---------------------------------------------------------------------------------------------


class _DecoderStep:
    """One flat decoder stack's weights, prepared for a batch of conditioning vectors.

    `cond [S, B, d]` holds one conditioning vector per segment (S = 1 for flat decoders). The
    conditioning part of the first cell's input projection and the initial states are computed
    for all segments up front.

    `split_upper` multiplies an upper layer's input and its own previous output by their kernel
    rows apart (`x @ W_x + h @ W_h`) instead of as one `[x, h] @ W`: the same sum, but
    `h @ W_h` need not wait for the layer below, so a graph runs it alongside that layer's
    matmul (a 16-bar hierarchical decode of 1 row: 398 → 359 ms; a 2-bar one of 32 rows:
    22 → 17 ms on XLA). Inference only: training keeps magenta's one product.
    """

    def __init__(self, stack: DecoderStack, weights: dict, cond, *, split_upper: bool = False):
        w = weights
        self.stack = stack
        cell0 = w[f"{stack.cell(0)}/kernel"]
        out, d = stack.output_depth, stack.cond_depth
        self.w_prev = cell0[:out]
        self.w_h0 = cell0[out + d :]
        self.cond_gates = (
            tf.einsum("sbd,dg->sbg", cond, cell0[out : out + d])
            + w[f"{stack.cell(0)}/bias"]
        )
        self.initial = tf.tanh(
            tf.einsum("sbd,dk->sbk", cond, w[f"{stack.initial_state}/kernel"])
            + w[f"{stack.initial_state}/bias"]
        )
        self.upper = [
            (w[f"{stack.cell(layer)}/kernel"], w[f"{stack.cell(layer)}/bias"])
            for layer in range(1, len(stack.rnn_sizes))
        ]
        self.split_upper = split_upper
        if split_upper:  # input rows and recurrent rows apart, sliced once outside any loop
            self.upper = [(kernel[: stack.rnn_sizes[layer]], kernel[stack.rnn_sizes[layer] :], bias)
                          for layer, (kernel, bias) in enumerate(self.upper)]
        self.first_cond_gates = self.cond_gates[0]  # sliced once, outside any loop
        self.out_kernel = w[f"{stack.output_projection}/kernel"]
        self.out_bias = w[f"{stack.output_projection}/bias"]
        self.offsets = np.cumsum((0,) + tuple(stack.segments))[:-1].tolist()
        # w_prev plus one zero row (the first step's input); graphs that never gather prune it
        self.prev_table = tf.concat([self.w_prev, tf.zeros_like(self.w_prev[:1])], axis=0)

    def initial_state(self, segment):
        """`[(c, h)]` per layer for segment `segment` (magenta's order c0, h0, c1, h1, …)."""
        return _split_state(self.initial[segment], self.stack.rnn_sizes)

    def prev_gates_dense(self, prev):
        """Input projection of a dense previous output `[B, O]` (one-hot target or sample)."""
        return tf.matmul(prev, self.w_prev)

    def prev_gates_indices(self, indices):
        """Input projection of a one-hot previous output given as class indices, one `[B]` per
        output segment: a row gather per segment (exactly the one-hot matmul). Index
        `output_depth` (see `no_prev_indices`) selects an all-zero row: the first step's input."""
        gates = None
        for offset, index in zip(self.offsets, indices):
            rows = tf.gather(self.prev_table, index + offset)
            gates = rows if gates is None else gates + rows
        return gates

    def no_prev_indices(self, batch):
        """Per-segment indices that all land on the zero row of `prev_table` (first step)."""
        out = self.stack.output_depth
        return [tf.fill(tf.reshape(batch, [1]), tf.constant(out - offset, tf.int32)) for offset in self.offsets]

    def __call__(self, prev_gates, state, segment):
        """One step: `(new state, logits [B, O])`."""
        c, h = state[0]
        cond_gates = self.first_cond_gates if isinstance(segment, int) and segment == 0 else self.cond_gates[segment]
        c, h = lstm_cell(prev_gates + cond_gates + tf.matmul(h, self.w_h0), c)
        new_state = [(c, h)]
        x = h
        for weights, (c, h) in zip(self.upper, state[1:]):
            if self.split_upper:
                w_x, w_h, bias = weights
                gates = tf.matmul(h, w_h) + tf.matmul(x, w_x) + bias
            else:
                kernel, bias = weights
                gates = tf.matmul(tf.concat([x, h], axis=-1), kernel) + bias
            c, h = lstm_cell(gates, c)
            new_state.append((c, h))
            x = h
        return new_state, tf.matmul(x, self.out_kernel) + self.out_bias


def _choose(scores, greedy: bool, temperature, seed):
    """Class indices `[B]`: argmax, or a draw from softmax(scores / T) by the Gumbel-max trick
    (exact categorical sampling that compiles with XLA)."""
    if greedy:
        return tf.argmax(scores, axis=-1, output_type=tf.int32)
    tiny = np.finfo(np.float32).tiny
    u = tf.random.stateless_uniform(tf.shape(scores), seed, minval=tiny, maxval=1.0)
    gumbel = -tf.math.log(-tf.math.log(u))
    return tf.argmax(scores / temperature + gumbel, axis=-1, output_type=tf.int32)


# ---------------------------------------------------------------------------------------------
# The math of one architecture (weights passed in)
# ---------------------------------------------------------------------------------------------

# Config fields that shape the computation (the rest — names, converter, training hparams — don't).
_STRUCTURE_FIELDS = ("encoder", "decoder", "core_decoder", "enc_rnn_sizes", "dec_rnn_sizes",
                     "z_size", "max_seq_len", "level_lengths", "output_depths", "input_depth")
XLA_MAX_BATCH = 256  # decode batches up to this size run XLA-compiled, padded to a power of two
#: Decoders with a layer wider than this run as a plain graph, never XLA-compiled: their steps are
#: matmul-bound, and TF's own (oneDNN) matmuls beat XLA's dots there. 16-bar hierarchical decode
#: (1024 units), graph / XLA: 1 row 359 / 441 ms, 32 rows 1.31 / 2.09 s; a 3x2048-unit 16-bar
#: trio: 1 row 3.2 / 5.1 s. Narrow decoders are overhead-bound, where one fused program wins.
XLA_MAX_UNITS = 512
#: A decode runs on an already-compiled XLA program of up to this many times its own rows rather
#: than compiling one of its size (a compile costs seconds, the extra padded rows milliseconds).
XLA_REUSE_FACTOR = 4


def xla_rows(batch: int) -> int:
    """Rows an XLA decode of `batch` rows runs with: the next power of two, so that a process
    compiles at most log2(XLA_MAX_BATCH) + 1 programs per decoder and wastes < 2x on padding."""
    return 1 << max(0, int(batch) - 1).bit_length()


def reusable_rows(batch: int, compiled) -> int:
    """Rows to run a `batch`-row XLA decode with, given the row counts of the programs already
    compiled for that decoder: the smallest of them within `XLA_REUSE_FACTOR` of `xla_rows(batch)`,
    else `xla_rows(batch)` (a new program). Padding never changes the real rows' results: each
    row's math is independent, and the stateless random draws of the first rows do not depend
    on how many rows follow."""
    rows = xla_rows(batch)
    fits = [r for r in compiled if rows <= r <= rows * XLA_REUSE_FACTOR]
    return min(fits, default=rows)


# Compiled functions, shared by every core with the same structure: they take the weights as an
# argument (tf.Variables of the same shapes do not retrace), so a second MusicVAE of the same
# architecture reuses the traces and XLA programs of the first.
_FUNCTIONS: dict = {}


def structure_key(config) -> tuple:
    return tuple((name, getattr(config, name, None)) for name in _STRUCTURE_FIELDS)


class _Graph:
    """Encoder / decoder math for one architecture; every method takes the weights `w`
    (a dict keyed by magenta's variable names) so compiled functions can be shared."""

    def __init__(self, config):
        self.config = config
        self.encoder = encoder_layout(config)
        self.decoder = decoder_layout(config)
        self.stacks = self.decoder.stacks
        self.hierarchical = isinstance(self.decoder, HierarchicalDecoder)

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, w, inputs, lengths, rows=None, eager=False):
        """`(mu, sigma)`; `rows` (the batch size) and `eager` (run op by op) pick the LSTM
        implementation (see `lstm.use_block_lstm`)."""
        if self.encoder.kind == Encoder.HIERARCHICAL:
            encoding = self._encode_hierarchical(w, inputs, lengths, rows, eager)
        else:
            encoding = self._bidirectional_stack(w, self.encoder.stacks[0], inputs, lengths, rows, eager)
        mu = _dense(w, MU, encoding)
        sigma = tf.nn.softplus(_dense(w, SIGMA, encoding))
        return mu, sigma

    @staticmethod
    def _bidirectional_stack(w, stack, inputs, lengths, rows=None, eager=False):
        """magenta's BidirectionalLstmEncoder: `[h_fw_final, h_bw_final]` of the last layer."""
        x = inputs
        for layer, _ in enumerate(stack.rnn_sizes):
            fw = stack.cell(layer, "fw")
            bw = stack.cell(layer, "bw")
            x, h_fw, h_bw = bidirectional_layer(
                x, lengths, (w[fw + "/kernel"], w[fw + "/bias"]), (w[bw + "/kernel"], w[bw + "/bias"]),
                rows=rows, eager=eager,
            )
        return tf.concat([h_fw, h_bw], axis=-1)

    def _encode_hierarchical(self, w, inputs, lengths, rows=None, eager=False):
        """magenta's HierarchicalLstmEncoder with two levels: a BiLSTM over each segment of
        `steps` steps, then a BiLSTM over the segment encodings (all of them, full length).

        A row's length is spread over its segments in order (magenta accepts only full or zero
        lengths; for those this is the same)."""
        steps, segments = self.config.encoder_level_lengths
        batch = tf.shape(inputs)[0]
        pieces = tf.reshape(inputs, [batch * segments, steps, self.config.input_depth])
        starts = tf.range(segments, dtype=tf.int32) * steps
        piece_lengths = tf.reshape(tf.clip_by_value(lengths[:, None] - starts[None], 0, steps), [-1])
        low, high = self.encoder.stacks
        codes = self._bidirectional_stack(w, low, pieces, piece_lengths,
                                          None if rows is None else rows * segments, eager)
        codes = tf.reshape(codes, [batch, segments, codes.shape[-1]])
        return self._bidirectional_stack(w, high, codes, tf.fill([batch], segments), rows, eager)

    # -- decoder: shared -------------------------------------------------------------------
    def segment_length(self, length):
        if self.hierarchical:
            bars = self.config.level_lengths[0]
            return length // bars
        return length

    def conditioning(self, w, z):
        """Per-segment conditioning vectors `[S, B, d]`: z itself (flat) or the conductor's output."""
        if not self.hierarchical:
            return z[None]
        conductor = self.decoder.conductor
        sizes = conductor.rnn_sizes
        bars = self.config.level_lengths[0]
        states = _split_state(tf.tanh(_dense(w, conductor.initial_state, z)), sizes)
        # The conductor's input is a constant zero (no autoregression): its input projection is
        # just the bias for the first layer.
        first_bias = w[f"{conductor.cell(0)}/bias"]
        first_recurrent = w[f"{conductor.cell(0)}/kernel"][1:]
        upper = [(w[f"{conductor.cell(layer)}/kernel"], w[f"{conductor.cell(layer)}/bias"])
                 for layer in range(1, len(sizes))]
        outputs = []
        for _ in range(bars):
            c, h = states[0]
            c, h = lstm_cell(first_bias + tf.matmul(h, first_recurrent), c)
            new_states = [(c, h)]
            x = h
            for (kernel, bias), (c, h) in zip(upper, states[1:]):
                c, h = lstm_cell(tf.matmul(tf.concat([x, h], axis=-1), kernel) + bias, c)
                new_states.append((c, h))
                x = h
            states = new_states
            outputs.append(x)
        return tf.stack(outputs)

    # -- decoder: inference ----------------------------------------------------------------
    def decode_indices(self, w, z, length: int, temperature, seed, *, greedy: bool, with_logits: bool):
        """Inference loop: previous outputs carried as class indices (one `[B]` per segment).

        Returns `(one-hot samples [B, T, O], logits [B, T, O] or an empty tensor)`."""
        cond = self.conditioning(w, z)
        steps = [_DecoderStep(stack, w, cond, split_upper=True) for stack in self.stacks]
        seg_len = self.segment_length(length)
        batch = tf.shape(z)[0]
        depths = [d for step in steps for d in step.stack.segments]
        n_out = len(depths)

        def body(t, prev, states, idx_ta, logits_ta):
            segment = t // seg_len if self.hierarchical else 0
            new_prev, new_states, all_logits = [], [], []
            k = 0
            for step, state in zip(steps, states):
                if self.hierarchical:
                    reset = tf.equal(t % seg_len, 0)
                    init = step.initial_state(segment)
                    state = [(tf.where(reset, ic, c), tf.where(reset, ih, h)) for (ic, ih), (c, h) in zip(init, state)]
                n_seg = len(step.stack.segments)
                state, logits = step(step.prev_gates_indices(prev[k : k + n_seg]), state, segment)
                for offset, depth in zip(step.offsets, step.stack.segments):
                    step_seed = tf.stack([seed[0], seed[1] + t * n_out + k])
                    new_prev.append(_choose(logits[:, offset : offset + depth], greedy, temperature, step_seed))
                    k += 1
                new_states.append(state)
                all_logits.append(logits)
            idx_ta = idx_ta.write(t, tf.stack(new_prev, axis=-1))
            if with_logits:
                logits_ta = logits_ta.write(t, tf.concat(all_logits, axis=-1) if len(all_logits) > 1 else all_logits[0])
            return t + 1, new_prev, new_states, idx_ta, logits_ta

        prev0 = [index for step in steps for index in step.no_prev_indices(batch)]
        states0 = [step.initial_state(0) for step in steps]
        idx_ta = tf.TensorArray(tf.int32, size=length, element_shape=[None, n_out])
        logits_ta = tf.TensorArray(tf.float32, size=length if with_logits else 0)
        _, _, _, idx_ta, logits_ta = tf.while_loop(
            lambda t, *_: t < length, body, (tf.constant(0), prev0, states0, idx_ta, logits_ta)
        )
        indices = tf.transpose(idx_ta.stack(), [1, 0, 2])  # [B, T, n_out]
        one_hot = [tf.one_hot(indices[:, :, k], depth) for k, depth in enumerate(depths)]
        samples = tf.concat(one_hot, axis=-1) if n_out > 1 else one_hot[0]
        logits = tf.transpose(logits_ta.stack(), [1, 0, 2]) if with_logits else tf.zeros([0])
        return samples, logits

    # -- decoder: training / general ---------------------------------------------------------
    def decode_loop(self, w, z, length, *, temperature=0.0, seed=None, targets=None, sampling_probability=None):
        """See `MusicVAECore.decode_loop`."""
        cond = self.conditioning(w, z)  # [S, B, d]
        steps = [_DecoderStep(stack, w, cond) for stack in self.stacks]
        seg_len = self.segment_length(length)
        batch = tf.shape(z)[0]
        teacher = targets is not None
        if teacher:
            targets_tm = tf.transpose(targets, [1, 0, 2])
        if seed is None:
            seed = tf.constant([0, 0], tf.int32)
        total_depth = sum(s.output_depth for s in self.stacks)

        def body(t, prev, states, samples_ta, logits_ta):
            seg = t // seg_len
            reset = tf.equal(t % seg_len, 0)
            new_states, outs, logits_all = [], [], []
            offset = 0
            for step, state in zip(steps, states):
                init = step.initial_state(seg)
                state = [(tf.where(reset, ic, c), tf.where(reset, ih, h)) for (ic, ih), (c, h) in zip(init, state)]
                prev_k = prev[:, offset : offset + step.stack.output_depth]
                state, logits = step(step.prev_gates_dense(prev_k), state, seg)
                step_seed = tf.stack([seed[0], seed[1] + t * 8 + len(outs)])
                out_temperature = tf.constant(1.0) if teacher else temperature
                outs.append(_sample_segments(logits, step.stack.segments, out_temperature, step_seed))
                logits_all.append(logits)
                new_states.append(state)
                offset += step.stack.output_depth
            sample = tf.concat(outs, axis=-1) if len(outs) > 1 else outs[0]
            step_logits = tf.concat(logits_all, axis=-1) if len(logits_all) > 1 else logits_all[0]
            if teacher:
                next_prev = targets_tm[t]
                if sampling_probability is not None:
                    use_sample = tf.random.stateless_uniform(
                        tf.stack([batch, 1]), tf.stack([seed[0] + 1, seed[1] + t])
                    ) < sampling_probability
                    next_prev = tf.where(use_sample, sample, next_prev)
            else:
                next_prev = sample
            return t + 1, next_prev, new_states, samples_ta.write(t, sample), logits_ta.write(t, step_logits)

        prev0 = tf.zeros(tf.stack([batch, total_depth]))
        states0 = [[(tf.zeros(tf.stack([batch, n])), tf.zeros(tf.stack([batch, n]))) for n in step.stack.rnn_sizes] for step in steps]
        samples_ta = tf.TensorArray(tf.float32, size=length)
        logits_ta = tf.TensorArray(tf.float32, size=length)
        _, _, _, samples_ta, logits_ta = tf.while_loop(
            lambda t, *_: t < length,
            body,
            (tf.constant(0), prev0, states0, samples_ta, logits_ta),
        )
        samples = tf.transpose(samples_ta.stack(), [1, 0, 2])
        logits = tf.transpose(logits_ta.stack(), [1, 0, 2])
        return samples, logits


def _shared_function(config, kind: str, build, **options):
    """The tf.function for (architecture, kind, options), built once per process."""
    key = (structure_key(config), kind, tuple(sorted(options.items())))
    fn = _FUNCTIONS.get(key)
    if fn is None:
        fn = _FUNCTIONS[key] = build(_Graph(config), **options)
    return fn


# The functions below are traced with autograph off: their loops are explicit tf.while_loops and
# every Python `if`/`for` in them is over Python values, so autograph's source rewrite would only
# add seconds to each first trace.


def _build_encoder(graph, *, many_rows: bool):
    rows = FUSED_MAX_ROWS if many_rows else 1  # a representative batch size for the choice

    def encode(w, inputs, lengths):
        return graph.encode(w, inputs, lengths, rows)

    return tf.function(encode, reduce_retracing=True, autograph=False)


def _build_decoder(graph, *, length: int, greedy: bool, with_logits: bool, jit: bool):
    def decode(w, z, temperature, seed):
        return graph.decode_indices(w, z, length, temperature, seed, greedy=greedy, with_logits=with_logits)

    return tf.function(decode, jit_compile=jit, reduce_retracing=not jit, autograph=False)


class _Programs:
    """Which compiled programs of one core have run (are built) and which a thread is building.

    Lets a call that needs a program another thread is still tracing or compiling run the same
    math uncompiled instead of waiting seconds for it (see `MusicVAECore._compiled_or_stand_in`).
    While a `builder` thread is set, it alone builds: other threads run unbuilt programs
    uncompiled too.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._no_builder = threading.Condition(self._lock)
        self.ready: set = set()
        self.building: set = set()
        self.used: set = set()  # run uncompiled once (see `claim`)
        self.builder: int | None = None  # thread ident

    def claim(self, key, *, first_use_uncompiled: bool = False) -> str:
        """"ready", "busy" (built elsewhere: run uncompiled) or "build" (the caller builds it).

        With `first_use_uncompiled`, a program's first use outside a warm-up answers "busy"
        too, so it is built on its second use: for a program whose stand-in costs less than
        building it, a one-shot job (the command line encodes once) never pays the build."""
        me = threading.get_ident()
        with self._lock:
            if key in self.ready:
                return "ready"
            if key in self.building or self.builder not in (None, me):
                return "busy"
            if first_use_uncompiled and self.builder != me and key not in self.used:
                self.used.add(key)
                return "busy"
            self.building.add(key)
            return "build"

    def release(self, key, *, built: bool) -> None:
        with self._lock:
            self.building.discard(key)
            if built:
                self.ready.add(key)

    @contextlib.contextmanager
    def built_by_this_thread(self) -> Iterator[None]:
        """Make the calling thread the builder, after the previous builder (if any) is done."""
        me = threading.get_ident()
        with self._no_builder:
            nested = self.builder == me
            while self.builder not in (None, me):
                self._no_builder.wait()
            self.builder = me
        if nested:
            yield
            return
        try:
            yield
        finally:
            with self._no_builder:
                self.builder = None
                self._no_builder.notify_all()


# ---------------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------------


class MusicVAECore(tf.Module):
    """Encoder + decoder math for one config; variables keyed by magenta's names.

    `jit_compile` (default: on for decoders no wider than `XLA_MAX_UNITS`, unless
    `$MIDIME_WIDGETS_XLA=0`) XLA-compiles the inference decoder for batches of up to
    `XLA_MAX_BATCH` rows, padded to a power of two (one fused
    program per step beats dozens of small graph ops: 1.3-2x faster from batch 1 to 256 on a
    2-core CPU); bigger batches run as a plain graph. A smaller batch runs on a program already
    compiled for up to `XLA_REUSE_FACTOR` times its rows instead of compiling its own (same
    results). It falls back to the graph by itself if XLA cannot compile.

    A call never waits for another thread's compilation: while one thread traces or compiles a
    program (e.g. a widget's background warm-up, see `builds_programs`), a call from another
    thread that needs the same program runs a stand-in of the same math instead
    (`_compiled_or_stand_in`): the encoder op by op (small layers as one fused LSTM op each), an XLA
    decoder as a plain graph (traced once for every batch size, about 0.1 s). Greedy results are
    the same either way; sampled ones follow the same distribution but, like the graph path's,
    are not the XLA program's draws for that seed.
    """

    def __init__(self, config, *, seed: int | None = 0, weights: dict | None = None,
                 jit_compile: bool | None = None):
        super().__init__(name="musicvae_core")
        self.config = config
        self.shapes = expected_variables(config)
        if jit_compile is None:
            jit_compile = _xla_enabled() and max(config.dec_rnn_sizes) <= XLA_MAX_UNITS
        self.jit_compile = bool(jit_compile)
        self._graph = _Graph(config)
        self._concrete_fns: dict = {}
        self._programs = _Programs()
        rng = np.random.default_rng(seed)
        self.weights = {
            name: tf.Variable(
                weights[name] if weights is not None else _initial_value(name, shape, rng),
                name=name.replace("/", "__"),
                dtype=tf.float32,
                # Identical updates on every replica (gradients are all-reduced first), so any
                # tf.distribute strategy can train these variables without a merge_call.
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for name, shape in self.shapes.items()
        }

    # -- weights ---------------------------------------------------------------------------
    def assign(self, weights: dict) -> None:
        """Load `{name: array}` (already validated against this config's shapes)."""
        for name, var in self.weights.items():
            var.assign(np.asarray(weights[name], np.float32))

    def numpy_weights(self) -> dict:
        return {name: var.numpy() for name, var in self.weights.items()}

    # -- compiled entry points -------------------------------------------------------------
    def _concrete(self, kind: str, build, specs: tuple, **options):
        """The concrete function of the shared `kind` function for input `specs`, cached on this
        core: calling it skips tf.function's per-call signature matching (a few hundred µs on
        a small CPU, a tenth of a 2-bar decode)."""
        key = (kind, specs, tuple(sorted(options.items())))
        fn = self._concrete_fns.get(key)
        if fn is None:
            shared = _shared_function(self.config, kind, build, **options)
            fn = shared.get_concrete_function(dict(self.weights), *specs)  # plain dict: tf.Module wraps its own
            self._concrete_fns[key] = fn
        return fn

    def _compiled_or_stand_in(self, key, compiled: Callable, stand_in: Callable, *, first_use_uncompiled=False):
        """`compiled()` (which traces / compiles program `key` on its first run), unless another
        thread is building that program right now: then `stand_in()`, the same math
        that needs no compilation (about 0.1 s for a small batch) instead of a wait of seconds.
        `first_use_uncompiled`: see `_Programs.claim`."""
        claim = self._programs.claim(key, first_use_uncompiled=first_use_uncompiled)
        if claim == "busy":
            return stand_in()
        if claim == "ready":
            return compiled()
        built = False
        try:
            result = compiled()
            built = True
            return result
        finally:
            self._programs.release(key, built=built)

    def builds_programs(self):
        """Context manager: while it is open, the calling thread alone builds (traces and
        compiles) this core's programs; another thread's call that needs one not built yet runs
        uncompiled instead of building it itself. For a background warm-up that builds them all
        while the user already works. A second warm-up waits until the first one is done."""
        return self._programs.built_by_this_thread()

    def _compiled_rows(self, kind: str, options: dict) -> list[int]:
        """Batch sizes this core has fixed-shape functions of `kind` with `options` for."""
        wanted = tuple(sorted(options.items()))
        keys = list(self._concrete_fns)  # a copy: another thread may be adding one
        return [specs[0].shape[0] for k, specs, opts in keys
                if k == kind and opts == wanted and specs[0].shape[0] is not None]

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, inputs, lengths):
        """`inputs [B, T, I]`, `lengths [B]` → `(mu, sigma)` each `[B, z]` (tf tensors).

        One traced function serves every batch size and length (two in all: below and from
        `FUSED_MAX_ROWS` rows, which pick different LSTM kernels). It is traced on its second
        use (or by a warm-up): a first call runs op by op (small layers as one fused LSTM op
        each), which costs less than the trace, so a process that encodes once never traces."""
        specs = (tf.TensorSpec([None, None, self.config.input_depth], tf.float32),
                 tf.TensorSpec([None], tf.int32))
        rows = int(np.shape(inputs)[0])
        many_rows = rows >= FUSED_MAX_ROWS
        inputs, lengths = tf.convert_to_tensor(inputs, tf.float32), tf.convert_to_tensor(lengths, tf.int32)

        def compiled():
            fn = self._concrete("encode", _build_encoder, specs, many_rows=many_rows)
            return fn(dict(self.weights), inputs, lengths)

        def stand_in():  # op by op; small layers: one fused LSTM op per sequence, not a Python loop
            return self._graph.encode(dict(self.weights), inputs, lengths, rows, eager=True)

        return self._compiled_or_stand_in(("encode", specs, many_rows), compiled, stand_in,
                                          first_use_uncompiled=True)

    def _encode(self, inputs, lengths):
        """Graph-mode encoder (differentiable; the trainer calls it inside its own tf.function)."""
        return self._graph.encode(self.weights, inputs, lengths)

    # -- decoder: inference ----------------------------------------------------------------
    def sample(self, z, length: int, temperature: float | None = 0.5, seed: int | None = None):
        """Decode `z [B, z]` for `length` steps; returns one-hot samples `[B, length, O]`.

        `temperature` None or ≤ 0 means greedy (argmax).
        """
        samples, _ = self._run_decoder(z, length, temperature, seed, with_logits=False)
        return samples

    def sample_with_logits(self, z, length: int, temperature: float | None = 0.0, seed: int = 0):
        """Like `sample`, also returning the logits `[B, length, O]` the choices were made from."""
        return self._run_decoder(z, length, temperature, seed, with_logits=True)

    def build_stand_in(self, length: int, temperature: float | None) -> None:
        """Trace and run once the stand-in a decode at `temperature` uses while its XLA program
        is being compiled (see `_compiled_or_stand_in`), so that such a call finds it ready. A
        warm-up's first step: about 0.15 s, where the XLA program takes about 1 s."""
        z = np.zeros((1, self.config.z_size), np.float32)
        self._decoder_calls(z, length, temperature, 0, with_logits=False)[2]()

    def _decoder_calls(self, z, length, temperature, seed, *, with_logits):
        """`(program key, compiled, stand_in, batch)` for one decode: the compiled program
        (XLA for small batches, padded to a batch size already built when one fits) and its
        stand-in of the same math that needs no compilation (see `_compiled_or_stand_in`)."""
        temp = 0.0 if temperature is None else float(temperature)
        greedy = temp <= 0.0
        seed_t = np.array([int(seed) % (2**31 - 1), 0], np.int32)
        z = z.numpy() if isinstance(z, tf.Tensor) else np.asarray(z, np.float32)
        z = z.astype(np.float32, copy=False)
        batch = int(z.shape[0])
        jit = self.jit_compile and batch <= XLA_MAX_BATCH
        options = {"length": int(length), "greedy": greedy, "with_logits": with_logits, "jit": jit}
        rows = None
        if jit:
            rows = reusable_rows(batch, self._compiled_rows("decode", options))  # one program per shape
            if rows != batch:
                z = np.pad(z, [[0, rows - batch], [0, 0]])
        specs = (tf.TensorSpec([rows, self.config.z_size], tf.float32), tf.TensorSpec([], tf.float32),
                 tf.TensorSpec([2], tf.int32))
        temp_t = np.float32(max(temp, 1e-6))

        def compiled():
            fn = self._concrete("decode", _build_decoder, specs, **options)
            return fn(dict(self.weights), tf.constant(z), tf.constant(temp_t), tf.constant(seed_t))

        def stand_in():
            if jit:  # the same math as a plain graph, traced once for every batch size (~0.1 s)
                graph_specs = (tf.TensorSpec([None, self.config.z_size], tf.float32), *specs[1:])
                fn = self._concrete("decode", _build_decoder, graph_specs, **{**options, "jit": False})
                return fn(dict(self.weights), tf.constant(z[:batch]), tf.constant(temp_t), tf.constant(seed_t))
            return self._graph.decode_indices(dict(self.weights), tf.constant(z[:batch]), int(length),
                                              tf.constant(temp_t), tf.constant(seed_t), greedy=greedy,
                                              with_logits=with_logits)

        return ("decode", specs, tuple(sorted(options.items()))), compiled, stand_in, batch

    def _run_decoder(self, z, length, temperature, seed, *, with_logits):
        if seed is None:  # drawn here, so that a retry without XLA decodes with the same seed
            seed = int(np.random.randint(0, 2**31 - 1))
        key, compiled, stand_in, batch = self._decoder_calls(z, length, temperature, seed, with_logits=with_logits)
        try:
            samples, logits = self._compiled_or_stand_in(key, compiled, stand_in)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
            if not dict(key[2])["jit"] or ("XLA" not in str(exc) and "compil" not in str(exc).lower()):
                raise
            self.jit_compile = False  # XLA missing or unable: the same math as a plain graph
            return self._run_decoder(z, length, temperature, seed, with_logits=with_logits)
        if samples.shape[0] != batch:
            samples = samples[:batch]
            logits = logits[:batch] if with_logits else logits
        return samples, (logits if with_logits else None)

    # -- decoder: shared -------------------------------------------------------------------
    def segment_length(self, length):
        return self._graph.segment_length(length)

    def conditioning(self, z, length=None):
        """Per-segment conditioning vectors `[S, B, d]`: z itself (flat) or the conductor's output."""
        del length  # the conductor always runs its configured number of bars
        return self._graph.conditioning(self.weights, z)

    # -- decoder: training / general ---------------------------------------------------------
    def decode_loop(self, z, length, *, temperature=0.0, seed=None, targets=None, sampling_probability=None):
        """The general step loop (differentiable).

        Sampling: `targets` None; returns `(samples [B, T, O], logits [B, T, O])`.
        Training: `targets [B, T, O]` given; the previous step's input is the target (teacher
        forcing) or, with probability `sampling_probability` per row and step, the model's own
        sample at temperature 1 (magenta's scheduled sampling). Returns `(samples, logits)` too.
        """
        return self._graph.decode_loop(self.weights, z, length, temperature=temperature, seed=seed,
                                       targets=targets, sampling_probability=sampling_probability)


def _dense(w, prefix: str, x):
    """`x @ kernel + bias` of the dense layer `prefix`."""
    return tf.matmul(x, w[f"{prefix}/kernel"]) + w[f"{prefix}/bias"]


def _split_state(state, sizes):
    """Split `tanh(Dense(z))` into per-layer `(c, h)` in magenta's order c0, h0, c1, h1, …"""
    pieces = tf.split(state, [n for size in sizes for n in (size, size)], axis=-1)
    return [(pieces[2 * i], pieces[2 * i + 1]) for i in range(len(sizes))]


def _sample_segments(logits, segments, temperature, seed):
    """One-hot sample of each output segment independently (greedy when temperature ≤ 0)."""
    outs = []
    start = 0
    for k, depth in enumerate(segments):
        seg_logits = logits[:, start : start + depth]
        start += depth
        greedy = tf.argmax(seg_logits, axis=-1, output_type=tf.int32)
        safe_t = tf.maximum(temperature, 1e-6)
        drawn = tf.random.stateless_categorical(
            seg_logits / safe_t, 1, tf.stack([seed[0], seed[1] * 3 + k]), dtype=tf.int32
        )[:, 0]
        index = tf.where(temperature > 0.0, drawn, greedy)
        outs.append(tf.one_hot(index, depth))
    return tf.concat(outs, axis=-1) if len(outs) > 1 else outs[0]
