"""A plain-numpy MusicVAE, written from magenta's music_vae graph semantics only.

It reads a `{magenta variable name: array}` dict and a MusicVAEConfig, runs in float64, and shares no
code with midime_widgets.models.core / lstm, so tests can check the TF implementation against an
independent one. It follows magenta's TF1 semantics literally: `concat([x, h]) @ kernel + bias`,
gate order i, j, f, o, forget bias 1.0, and `dynamic_rnn(sequence_length=…)` masking (state frozen
and outputs zero past a row's length).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def lstm_block_cell(x, c, h, kernel, bias):
    """One LSTMBlockCell step (magenta's `contrib_rnn.LSTMBlockCell`)."""
    gates = np.concatenate([x, h], axis=-1) @ kernel + bias
    i, j, f, o = np.split(gates, 4, axis=-1)
    c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
    h = sigmoid(o) * np.tanh(c)
    return c, h


def dynamic_rnn(x, lengths, kernel, bias):
    """One layer over `x [B, T, in]` with per-row lengths: `(outputs [B, T, n], h_final [B, n])`."""
    batch, steps, _ = x.shape
    n = kernel.shape[1] // 4
    c = np.zeros((batch, n))
    h = np.zeros((batch, n))
    outputs = np.zeros((batch, steps, n))
    for t in range(steps):
        new_c, new_h = lstm_block_cell(x[:, t], c, h, kernel, bias)
        valid = (t < lengths)[:, None]
        c = np.where(valid, new_c, c)
        h = np.where(valid, new_h, h)
        outputs[:, t] = np.where(valid, new_h, 0.0)
    return outputs, h


def reverse_within_length(x, lengths):
    out = x.copy()
    for b, n in enumerate(lengths):
        out[b, :n] = x[b, :n][::-1]
    return out


def bidirectional_encoder(w, scope, x, lengths, layers):
    """`stack_bidirectional_dynamic_rnn` + `[h_fw, h_bw]` of the last layer (magenta's `BidirectionalLstmEncoder`)."""
    lengths = np.asarray(lengths)
    for layer in range(layers):
        cell = f"{scope}/cell_{layer}/bidirectional_rnn/%s/multi_rnn_cell/cell_0/lstm_cell"
        fw, h_fw = dynamic_rnn(x, lengths, w[cell % "fw" + "/kernel"], w[cell % "fw" + "/bias"])
        bw_rev, h_bw = dynamic_rnn(reverse_within_length(x, lengths), lengths,
                                   w[cell % "bw" + "/kernel"], w[cell % "bw" + "/bias"])
        x = np.concatenate([fw, reverse_within_length(bw_rev, lengths)], axis=-1)
    return np.concatenate([h_fw, h_bw], axis=-1)


def encode(w, config, inputs, lengths):
    """`(mu, sigma)` for `inputs [B, T, I]` (flat or two-level hierarchical encoder)."""
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    x = np.asarray(inputs, np.float64)
    lengths = np.asarray(lengths)
    layers = len(config.enc_rnn_sizes)
    if config.encoder == "hierarchical":
        # Level 0 encodes each `steps`-long segment (length spread over the segments in order),
        # level 1 the sequence of segment codes at full length (magenta's HierarchicalLstmEncoder).
        steps, segments = config.level_lengths[1], config.level_lengths[0]
        batch = x.shape[0]
        pieces = x.reshape(batch * segments, steps, x.shape[-1])
        starts = np.arange(segments) * steps
        piece_lengths = np.clip(lengths[:, None] - starts[None], 0, steps).reshape(-1)
        codes = bidirectional_encoder(w, "encoder/hierarchical_level_0", pieces, piece_lengths,
                                      layers).reshape(batch, segments, -1)
        encoding = bidirectional_encoder(w, "encoder/hierarchical_level_1", codes,
                                         np.full(batch, segments), layers)
    else:
        encoding = bidirectional_encoder(w, "encoder", x, lengths, layers)
    mu = encoding @ w["encoder/mu/kernel"] + w["encoder/mu/bias"]
    sigma = softplus(encoding @ w["encoder/sigma/kernel"] + w["encoder/sigma/bias"])
    return mu, sigma


def _initial_state(w, prefix, cond, sizes):
    state = np.tanh(cond @ w[f"{prefix}/kernel"] + w[f"{prefix}/bias"])
    pieces, start = [], 0
    for n in sizes:
        pieces.append((state[:, start : start + n], state[:, start + n : start + 2 * n]))
        start += 2 * n
    return pieces


def _flat_decoder(w, prefix, cond, sizes, depths, steps, start_input, teacher=None):
    """Greedy (or teacher-forced) flat decoder from `cond`; returns (one-hot outputs, logits)."""
    state = _initial_state(w, f"{prefix}/z_to_initial_state", cond, sizes)
    prev = start_input
    outputs, all_logits = [], []
    for t in range(steps):
        x = np.concatenate([prev, cond], axis=-1)
        new_state = []
        for layer, (c, h) in enumerate(state):
            cell = f"{prefix}/multi_rnn_cell/cell_{layer}/lstm_cell"
            c, h = lstm_block_cell(x, c, h, w[cell + "/kernel"], w[cell + "/bias"])
            new_state.append((c, h))
            x = h
        state = new_state
        logits = x @ w[f"{prefix}/output_projection/kernel"] + w[f"{prefix}/output_projection/bias"]
        out, start = [], 0
        for depth in depths:  # each output segment is a separate categorical
            part = logits[:, start : start + depth]
            out.append(np.eye(depth)[part.argmax(-1)])
            start += depth
        out = np.concatenate(out, axis=-1)
        outputs.append(out)
        all_logits.append(logits)
        prev = out if teacher is None else teacher[:, t]
    return np.stack(outputs, 1), np.stack(all_logits, 1)


def decode_greedy(w, config, z, steps=None, teacher=None):
    """Greedy decoding of `z [B, z]` (magenta's LSTM decoders): `(one-hot [B, T, O], logits [B, T, O])`.

    With `teacher [B, T, O]` the previous-output input is the teacher's (flat decoders only).
    """
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    z = np.asarray(z, np.float64)
    steps = steps or config.max_seq_len
    depths = tuple(config.output_depths)
    sizes = tuple(config.dec_rnn_sizes)
    batch = len(z)
    if config.decoder != "hierarchical":
        start = np.zeros((batch, sum(depths)))
        return _flat_decoder(w, "decoder", z, sizes, depths, steps, start, teacher)
    assert teacher is None
    conductor = "decoder/hierarchical_level_0"
    bars, bar_steps = config.level_lengths
    assert steps == bars * bar_steps
    state = _initial_state(w, f"{conductor}/initial_state", z, sizes)
    if config.core_decoder == "split":
        tracks = [(f"core_decoder/core_decoder_{k}/decoder", (d,)) for k, d in enumerate(depths)]
    else:
        tracks = [("core_decoder/decoder", depths)]
    last = [np.zeros((batch, sum(d))) for _, d in tracks]
    outputs, logits = [], []
    for _ in range(bars):
        x = np.zeros((batch, 1))  # no autoregression: the conductor reads a constant zero
        new_state = []
        for layer, (c, h) in enumerate(state):
            cell = f"{conductor}/cell_{layer}/lstm_cell"
            c, h = lstm_block_cell(x, c, h, w[cell + "/kernel"], w[cell + "/bias"])
            new_state.append((c, h))
            x = h
        state = new_state
        bar_out, bar_logits = [], []
        for k, (prefix, track_depths) in enumerate(tracks):
            out, lg = _flat_decoder(w, prefix, x, sizes, track_depths, bar_steps, last[k])
            last[k] = out[:, -1]
            bar_out.append(out)
            bar_logits.append(lg)
        outputs.append(np.concatenate(bar_out, axis=-1))
        logits.append(np.concatenate(bar_logits, axis=-1))
    return np.concatenate(outputs, axis=1), np.concatenate(logits, axis=1)


def random_weights(shapes: dict, seed: int, scale: float = 1.0) -> dict:
    """Random float32 weights for `{name: shape}`: uniform kernels, N(0, 0.5) biases (non-zero, so
    a wrong gate order or forget bias would show)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("/bias"):
            out[name] = rng.normal(0.0, 0.5, shape).astype(np.float32)
        else:
            limit = scale * np.sqrt(6.0 / (shape[0] + shape[-1]))
            out[name] = rng.uniform(-limit, limit, shape).astype(np.float32)
    return out
