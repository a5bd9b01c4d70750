"""MusicVAE's encoder and decoders in TF2, holding variables under magenta's own names.

`MusicVAECore` is the numeric heart shared by inference (`MusicVAE`) and training
(`midime_widgets.training`). Variables live in `core.weights`, a dict keyed by the exact variable
names of magenta's TF1 graph (see `../shared/reference/musicvae-spec.md` §2), so released checkpoints
load verbatim and checkpoints we write load in magenta's `TrainedModel`.

Supported structures (every released melody / drums / trio config):
- encoder: stacked bidirectional LSTM (`BidirectionalLstmEncoder`);
- decoder "categorical" / "multiout": one flat LSTM decoder (`CategoricalLstmDecoder`,
  `MultiOutCategoricalLstmDecoder`, which samples each output segment independently);
- decoder "hierarchical": a conductor LSTM over bars feeding one core decoder ("categorical") or
  one per track ("split", `SplitMultiOutLstmDecoder`).

All decoding — flat, hierarchical, teacher forced or sampled — runs through one step loop in which a
"segment" is the span decoded from one conditioning vector: the whole sequence for flat decoders, one
bar for hierarchical ones. At each segment start the core state is re-initialised from that vector;
the previous output always carries over, as in magenta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .lstm import lstm_step, run_layer

# ---------------------------------------------------------------------------------------------
# Variable layout
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecoderStack:
    """One flat LSTM decoder: its variable prefix, sizes, and how its output is sampled."""

    prefix: str
    cond_depth: int  # depth of the conditioning vector (z, or the conductor's embedding)
    rnn_sizes: tuple
    output_depth: int
    segments: tuple  # output split for independent categorical sampling, e.g. (90, 90, 512)

    def variable_shapes(self) -> dict:
        shapes = {
            f"{self.prefix}/z_to_initial_state/kernel": (self.cond_depth, 2 * sum(self.rnn_sizes)),
            f"{self.prefix}/z_to_initial_state/bias": (2 * sum(self.rnn_sizes),),
        }
        in_depth = self.output_depth + self.cond_depth
        for layer, n in enumerate(self.rnn_sizes):
            cell = f"{self.prefix}/multi_rnn_cell/cell_{layer}/lstm_cell"
            shapes[f"{cell}/kernel"] = (in_depth + n, 4 * n)
            shapes[f"{cell}/bias"] = (4 * n,)
            in_depth = n
        shapes[f"{self.prefix}/output_projection/kernel"] = (self.rnn_sizes[-1], self.output_depth)
        shapes[f"{self.prefix}/output_projection/bias"] = (self.output_depth,)
        return shapes


CONDUCTOR = "decoder/hierarchical_level_0"


def _cfg(config, name, default=None):
    value = getattr(config, name, default)
    return default if value is None else value


def decoder_stacks(config) -> list[DecoderStack]:
    """The flat decoder(s) a config has (one, or one per track for split hierarchical decoders)."""
    depths = tuple(config.output_depths)
    dec = tuple(config.dec_rnn_sizes)
    if config.decoder in ("categorical", "multiout"):
        return [DecoderStack("decoder", config.z_size, dec, sum(depths), depths)]
    if config.decoder != "hierarchical":
        raise ValueError(f"Unknown decoder type {config.decoder!r}")
    cond = dec[-1]
    if _cfg(config, "core_decoder", "categorical") == "split":
        return [
            DecoderStack(f"core_decoder/core_decoder_{k}/decoder", cond, dec, d, (d,))
            for k, d in enumerate(depths)
        ]
    return [DecoderStack("core_decoder/decoder", cond, dec, sum(depths), depths)]


def variable_shapes(config) -> dict:
    """Every variable of the magenta graph for `config` (name → shape), global_step excluded."""
    shapes = {}
    in_depth = config.input_depth
    for layer, n in enumerate(config.enc_rnn_sizes):
        for direction in ("fw", "bw"):
            cell = f"encoder/cell_{layer}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0/lstm_cell"
            shapes[f"{cell}/kernel"] = (in_depth + n, 4 * n)
            shapes[f"{cell}/bias"] = (4 * n,)
        in_depth = 2 * n
    for head in ("mu", "sigma"):
        shapes[f"encoder/{head}/kernel"] = (in_depth, config.z_size)
        shapes[f"encoder/{head}/bias"] = (config.z_size,)
    if config.decoder == "hierarchical":
        dec = tuple(config.dec_rnn_sizes)
        shapes[f"{CONDUCTOR}/initial_state/kernel"] = (config.z_size, 2 * sum(dec))
        shapes[f"{CONDUCTOR}/initial_state/bias"] = (2 * sum(dec),)
        in_depth = 1
        for layer, n in enumerate(dec):
            shapes[f"{CONDUCTOR}/cell_{layer}/lstm_cell/kernel"] = (in_depth + n, 4 * n)
            shapes[f"{CONDUCTOR}/cell_{layer}/lstm_cell/bias"] = (4 * n,)
            in_depth = n
    for stack in decoder_stacks(config):
        shapes.update(stack.variable_shapes())
    return shapes


def _initial_value(name: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """magenta's initialisers: glorot-uniform kernels, zero biases, N(0, 0.001) for the
    z→state and latent heads."""
    if name.endswith("/bias"):
        return np.zeros(shape, np.float32)
    if "z_to_initial_state" in name or "initial_state" in name or name.startswith("encoder/mu") or name.startswith("encoder/sigma"):
        return rng.normal(0.0, 0.001, shape).astype(np.float32)
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------------


class MusicVAECore(tf.Module):
    """Encoder + decoder math for one config; variables keyed by magenta's names."""

    def __init__(self, config, *, seed: int | None = 0, weights: dict | None = None):
        super().__init__(name="musicvae_core")
        self.config = config
        self.shapes = variable_shapes(config)
        self.stacks = decoder_stacks(config)
        self.hierarchical = config.decoder == "hierarchical"
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
        self._encode_fn = tf.function(
            self._encode,
            input_signature=[
                tf.TensorSpec([None, None, config.input_depth], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ],
            reduce_retracing=True,
        )
        self._sample_fn = tf.function(
            self._sample,
            input_signature=[
                tf.TensorSpec([None, config.z_size], tf.float32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([2], tf.int32),
            ],
            reduce_retracing=True,
        )

    # -- weights ---------------------------------------------------------------------------
    def assign(self, weights: dict) -> None:
        """Load `{name: array}` (already validated against this config's shapes)."""
        for name, var in self.weights.items():
            var.assign(np.asarray(weights[name], np.float32))

    def numpy_weights(self) -> dict:
        return {name: var.numpy() for name, var in self.weights.items()}

    @property
    def trainable(self) -> list:
        return [self.weights[name] for name in sorted(self.weights)]

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, inputs, lengths):
        """`inputs [B, T, I]`, `lengths [B]` → `(mu, sigma)` each `[B, z]`."""
        return self._encode_fn(tf.convert_to_tensor(inputs, tf.float32), tf.convert_to_tensor(lengths, tf.int32))

    def _encode(self, inputs, lengths):
        w = self.weights
        x = inputs
        for layer, _ in enumerate(self.config.enc_rnn_sizes):
            cell = f"encoder/cell_{layer}/bidirectional_rnn/{{}}/multi_rnn_cell/cell_0/lstm_cell"
            fw_out, (_, fw_h) = run_layer(x, lengths, w[cell.format("fw") + "/kernel"], w[cell.format("fw") + "/bias"])
            bw_out, (_, bw_h) = run_layer(
                x, lengths, w[cell.format("bw") + "/kernel"], w[cell.format("bw") + "/bias"], reverse=True
            )
            x = tf.concat([fw_out, bw_out], axis=-1)
        encoding = tf.concat([fw_h, bw_h], axis=-1)
        mu = tf.matmul(encoding, w["encoder/mu/kernel"]) + w["encoder/mu/bias"]
        sigma = tf.nn.softplus(tf.matmul(encoding, w["encoder/sigma/kernel"]) + w["encoder/sigma/bias"])
        return mu, sigma

    # -- decoder ---------------------------------------------------------------------------
    def sample(self, z, length: int, temperature: float | None = 0.5, seed: int | None = None):
        """Decode `z [B, z]` for `length` steps; returns one-hot samples `[B, length, O]`.

        `temperature` None or ≤ 0 means greedy (argmax).
        """
        temp = 0.0 if temperature is None else float(temperature)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        seed_t = tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)
        samples, _ = self._sample_fn(tf.convert_to_tensor(z, tf.float32), tf.constant(int(length)), tf.constant(temp, tf.float32), seed_t)
        return samples

    def sample_with_logits(self, z, length: int, temperature: float | None = 0.0, seed: int = 0):
        temp = 0.0 if temperature is None else float(temperature)
        return self._sample_fn(
            tf.convert_to_tensor(z, tf.float32), tf.constant(int(length)), tf.constant(temp, tf.float32), tf.constant([seed, 0], tf.int32)
        )

    def _sample(self, z, length, temperature, seed):
        return self.decode_loop(z, length, temperature=temperature, seed=seed)

    def segment_length(self, length):
        if self.hierarchical:
            bars = self.config.level_lengths[0]
            return length // bars
        return length

    def conditioning(self, z, length):
        """Per-segment conditioning vectors `[S, B, d]`: z itself (flat) or the conductor's output."""
        if not self.hierarchical:
            return z[None]
        w = self.weights
        sizes = tuple(self.config.dec_rnn_sizes)
        bars = self.config.level_lengths[0]
        state = tf.tanh(tf.matmul(z, w[f"{CONDUCTOR}/initial_state/kernel"]) + w[f"{CONDUCTOR}/initial_state/bias"])
        states = _split_state(state, sizes)
        outputs = []
        for _ in range(bars):
            x = None  # the conductor's input is a constant zero (no autoregression)
            new_states = []
            for layer, (c, h) in enumerate(states):
                kernel = w[f"{CONDUCTOR}/cell_{layer}/lstm_cell/kernel"]
                bias = w[f"{CONDUCTOR}/cell_{layer}/lstm_cell/bias"]
                in_depth = kernel.shape[0] - sizes[layer]
                gates_x = bias if x is None else tf.matmul(x, kernel[:in_depth]) + bias
                c, h = lstm_step(gates_x, (c, h), kernel[in_depth:])
                new_states.append((c, h))
                x = h
            states = new_states
            outputs.append(x)
        return tf.stack(outputs)

    def decode_loop(self, z, length, *, temperature=0.0, seed=None, targets=None, sampling_probability=None):
        """The shared step loop.

        Sampling: `targets` None; returns `(samples [B, T, O], logits [B, T, O])`.
        Training: `targets [B, T, O]` given; the previous step's input is the target (teacher
        forcing) or, with probability `sampling_probability` per row and step, the model's own
        sample at temperature 1 (magenta's scheduled sampling). Returns `(samples, logits)` too.
        """
        w = self.weights
        cond = self.conditioning(z, length)  # [S, B, d]
        seg_len = self.segment_length(length)
        batch = tf.shape(z)[0]
        teacher = targets is not None
        if teacher:
            targets_tm = tf.transpose(targets, [1, 0, 2])
        if seed is None:
            seed = tf.constant([0, 0], tf.int32)

        # Per stack: hoisted conditioning projection and initial states for every segment.
        plans = []
        for stack in self.stacks:
            cell0 = w[f"{stack.prefix}/multi_rnn_cell/cell_0/lstm_cell/kernel"]
            n0 = stack.rnn_sizes[0]
            w_prev = cell0[: stack.output_depth]
            w_cond = cell0[stack.output_depth : stack.output_depth + stack.cond_depth]
            w_h0 = cell0[stack.output_depth + stack.cond_depth :]
            cond_proj = tf.einsum("sbd,dg->sbg", cond, w_cond) + w[f"{stack.prefix}/multi_rnn_cell/cell_0/lstm_cell/bias"]
            init = tf.tanh(
                tf.einsum("sbd,dk->sbk", cond, w[f"{stack.prefix}/z_to_initial_state/kernel"])
                + w[f"{stack.prefix}/z_to_initial_state/bias"]
            )
            plans.append((stack, w_prev, w_h0, cond_proj, init, n0))

        out_depths = [s.output_depth for s in self.stacks]
        total_depth = sum(out_depths)

        def initial_states():
            flat = []
            for stack, *_rest in plans:
                for n in stack.rnn_sizes:
                    flat += [tf.zeros(tf.stack([batch, n])), tf.zeros(tf.stack([batch, n]))]
            return flat

        def body(t, prev, states, samples_ta, logits_ta):
            seg = t // seg_len
            reset = tf.equal(t % seg_len, 0)
            new_states, outs, logits_all = [], [], []
            pos = 0
            offset = 0
            for stack, w_prev, w_h0, cond_proj, init, n0 in plans:
                layers = len(stack.rnn_sizes)
                st = states[pos : pos + 2 * layers]
                init_s = _split_state(init[seg], stack.rnn_sizes)
                st_pairs = []
                for layer in range(layers):
                    c = tf.where(reset, init_s[layer][0], st[2 * layer])
                    h = tf.where(reset, init_s[layer][1], st[2 * layer + 1])
                    st_pairs.append((c, h))
                prev_k = prev[:, offset : offset + stack.output_depth]
                gates_x = tf.matmul(prev_k, w_prev) + cond_proj[seg]
                c, h = lstm_step(gates_x, st_pairs[0], w_h0)
                new_pairs = [(c, h)]
                x = h
                for layer in range(1, layers):
                    kernel = w[f"{stack.prefix}/multi_rnn_cell/cell_{layer}/lstm_cell/kernel"]
                    bias = w[f"{stack.prefix}/multi_rnn_cell/cell_{layer}/lstm_cell/bias"]
                    in_depth = stack.rnn_sizes[layer - 1]
                    c, h = lstm_step(tf.matmul(x, kernel[:in_depth]) + bias, st_pairs[layer], kernel[in_depth:])
                    new_pairs.append((c, h))
                    x = h
                logits = tf.matmul(x, w[f"{stack.prefix}/output_projection/kernel"]) + w[f"{stack.prefix}/output_projection/bias"]
                step_seed = tf.stack([seed[0], seed[1] + t * 8 + len(outs)])
                if teacher:
                    out = _sample_segments(logits, stack.segments, tf.constant(1.0), step_seed)
                else:
                    out = _sample_segments(logits, stack.segments, temperature, step_seed)
                outs.append(out)
                logits_all.append(logits)
                for c, h in new_pairs:
                    new_states += [c, h]
                pos += 2 * layers
                offset += stack.output_depth
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
        samples_ta = tf.TensorArray(tf.float32, size=length)
        logits_ta = tf.TensorArray(tf.float32, size=length)
        _, _, _, samples_ta, logits_ta = tf.while_loop(
            lambda t, *_: t < length,
            body,
            (tf.constant(0), prev0, initial_states(), samples_ta, logits_ta),
        )
        samples = tf.transpose(samples_ta.stack(), [1, 0, 2])
        logits = tf.transpose(logits_ta.stack(), [1, 0, 2])
        return samples, logits


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
