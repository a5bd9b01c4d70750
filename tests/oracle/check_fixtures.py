"""Sanity-check the generated oracle fixtures (main interpreter, no magenta needed).

    python tests/oracle/check_fixtures.py

Loads every fixture, checks keys/shapes/dtypes against tests/oracle/README.md, reads each checkpoint
with plain TF, and recomputes mu/sigma and the greedy decode of every config (flat and
hierarchical) with a tiny numpy LSTMBlockCell: an independent check that the
recorded inputs/lengths/z really produced the recorded outputs.
"""
from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.normpath(os.path.join(HERE, os.pardir, "fixtures", "oracle"))
DEPTHS = {"MelA": (90, 90, 32), "MelB": (90, 90, 256), "Drum": (10, 512, 32), "Trio": (692, 692, 256)}


def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def check_converters():
    for path in sorted(glob.glob(os.path.join(ORACLE, "converters", "*.npz"))):
        conv = os.path.basename(path).split("__")[0]
        I, O, T = DEPTHS[conv]
        d = np.load(path)
        N = d["lengths"].shape[0]
        assert d["inputs"].shape == (N, T, I) and d["inputs"].dtype == np.float32, path
        assert d["outputs"].shape == (N, T, O) and d["outputs"].dtype == np.float32, path
        assert d["lengths"].dtype == np.int32 and np.all(d["lengths"] <= T), path
        for i in range(N):
            n = d["lengths"][i]
            assert np.all(d["outputs"][i, :n].sum(-1) >= 1) and not d["outputs"][i, n:].any(), path
        M = d["decoded_notes"].shape[0]
        assert d["decoded_notes"].shape == (M, 6) and d["decoded_notes"].dtype == np.float64
        assert d["decoded_programs"].shape == (M,) and d["decoded_instruments"].shape == (M,)
        assert d["decoded_total_time"].shape == (N,)
        if M:
            assert set(np.unique(d["decoded_notes"][:, 0])) <= set(range(N))
        keys = [tuple(d["outputs"][i, :d["lengths"][i]].argmax(-1)) for i in range(N)]
        dup = N - len(set(keys))
        print(f"{os.path.basename(path)}: N={N} M={M}" + (f" ({dup} duplicate rows)" if dup else ""))
    for path in sorted(glob.glob(os.path.join(ORACLE, "extraction", "*.json"))):
        for r in _read_json(path):
            assert len(r["events"]) == r["end_step"] - r["start_step"]
            assert r["kind"] in ("melody", "melody_mela", "drums", "drums_reduced")


def lstm_block(x, h, c, kernel, bias):
    """magenta LSTMBlockCell, forget_bias 1.0."""
    i, j, f, o = np.split(np.concatenate([x, h], -1) @ kernel + bias, 4, axis=-1)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    c = sig(f + 1.0) * c + sig(i) * np.tanh(j)
    return sig(o) * np.tanh(c), c


def run_lstm(x, length, kernel, bias, reverse=False):
    n = bias.shape[0] // 4
    h = np.zeros(n)
    c = np.zeros(n)
    out = np.zeros((x.shape[0], n))
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        h, c = lstm_block(x[t], h, c, kernel, bias)
        out[t] = h
    return out, h


def encode(w, x, length, n_layers):
    inp = x.astype(np.float64)
    for l in range(n_layers):
        p = f"encoder/cell_{l}/bidirectional_rnn/%s/multi_rnn_cell/cell_0/lstm_cell/"
        fw, hf = run_lstm(inp, length, w[p % "fw" + "kernel"], w[p % "fw" + "bias"])
        bw, hb = run_lstm(inp, length, w[p % "bw" + "kernel"], w[p % "bw" + "bias"], reverse=True)
        inp = np.concatenate([fw, bw], -1)
    enc = np.concatenate([hf, hb])
    mu = enc @ w["encoder/mu/kernel"] + w["encoder/mu/bias"]
    sigma = np.logaddexp(0, enc @ w["encoder/sigma/kernel"] + w["encoder/sigma/bias"])
    return mu, sigma


def initial_state(w, scope, z, cell_keys):
    """tanh(Dense(z)) split as [c0, h0, c1, h1, ...]."""
    init = np.tanh(z @ w[scope + "/kernel"] + w[scope + "/bias"])
    state, k = [], 0
    for key in cell_keys:
        n = w[key + "/bias"].shape[0] // 4
        state.append([init[k:k + n], init[k + n:k + 2 * n]])  # (c, h)
        k += 2 * n
    return state


def step_stack(w, x, state, cell_keys):
    for l, key in enumerate(cell_keys):
        h, c = lstm_block(x, state[l][1], state[l][0], w[key + "/kernel"], w[key + "/bias"])
        state[l] = [c, h]
        x = h
    return x


def greedy_flat(w, z, T, O, n_layers, depths, prefix="decoder", prev=None):
    cells = [f"{prefix}/multi_rnn_cell/cell_{l}/lstm_cell" for l in range(n_layers)]
    state = initial_state(w, f"{prefix}/z_to_initial_state", z, cells)
    prev = np.zeros(O) if prev is None else prev
    out = np.zeros((T, O), np.float32)
    for t in range(T):
        x = step_stack(w, np.concatenate([prev, z]), state, cells)
        logits = x @ w[f"{prefix}/output_projection/kernel"] + w[f"{prefix}/output_projection/bias"]
        prev = np.zeros(O)
        start = 0
        for d in depths:
            prev[start + np.argmax(logits[start:start + d])] = 1.0
            start += d
        out[t] = prev
    return out


def greedy_hier(w, z, n_layers, split_depths, bars=16, steps=16):
    """Conductor (no autoregression) + one flat core decoder per track."""
    cells = [f"decoder/hierarchical_level_0/cell_{l}/lstm_cell" for l in range(n_layers)]
    state = initial_state(w, "decoder/hierarchical_level_0/initial_state", z, cells)
    tracks = len(split_depths)
    prefixes = (["core_decoder/decoder"] if tracks == 1 else
                [f"core_decoder/core_decoder_{k}/decoder" for k in range(tracks)])
    last = [None] * tracks
    out = []
    for _ in range(bars):
        emb = step_stack(w, np.zeros(1), state, cells)
        parts = []
        for k in range(tracks):
            bar = greedy_flat(w, emb, steps, split_depths[k], n_layers, [split_depths[k]],
                              prefixes[k], last[k])
            last[k] = bar[-1].astype(np.float64)
            parts.append(bar)
        out.append(np.concatenate(parts, -1))
    return np.concatenate(out, 0)


def check_checkpoints():
    import tensorflow as tf  # plain TF2; no magenta

    for cdir in sorted(glob.glob(os.path.join(ORACLE, "checkpoints", "*"))):
        h = _read_json(os.path.join(cdir, "hparams.json"))
        reader = tf.train.load_checkpoint(os.path.join(cdir, "model.ckpt"))
        shapes = reader.get_variable_to_shape_map()
        assert sorted([k, list(v)] for k, v in shapes.items()) == h["variables"], cdir
        assert len(shapes) == h["n_variables"]
        w = {k: reader.get_tensor(k).astype(np.float64) for k in shapes}
        assert all(np.any(w[k] != 0) for k in w if k.endswith("bias")), "zero bias"
        io = np.load(os.path.join(cdir, "io.npz"))
        T, I, O, Z = h["max_seq_len"], h["input_depth"], h["output_depth"], h["z_size"]
        assert io["inputs"].shape == (3, T, I) and io["greedy"].shape == (3, T, O)
        assert io["mu"].shape == io["sigma"].shape == io["z"].shape == (3, Z)
        assert io["lengths"].min() < T and io["logit_gap"].shape == (3, T)
        assert np.all(io["greedy"].sum(-1) == len(h["output_split_depths"] or [O]))
        msg = f"{h['config']}: ok shapes"
        n_enc = len(h["enc_rnn_size"])
        err = 0.0
        for b in range(3):
            mu, sigma = encode(w, io["inputs"][b], int(io["lengths"][b]), n_enc)
            err = max(err, np.abs(mu - io["mu"][b]).max(), np.abs(sigma - io["sigma"][b]).max())
        msg += f", numpy mu/sigma max err {err:.1e}"
        assert err < 1e-4, msg
        if h["level_lengths"] is None:
            depths = h["output_split_depths"] or [O]
            same = [np.array_equal(greedy_flat(w, io["z"][b].astype(np.float64), T, O,
                                               len(h["dec_rnn_size"]), depths), io["greedy"][b])
                    for b in range(3)]
        else:
            depths = h["output_split_depths"] or [O]
            same = [np.array_equal(greedy_hier(w, io["z"][b].astype(np.float64),
                                               len(h["dec_rnn_size"]), depths), io["greedy"][b])
                    for b in range(3)]
        msg += f", numpy greedy equal {same}"
        assert all(same), msg
        print(msg)


if __name__ == "__main__":
    check_converters()
    if "--no-tf" not in sys.argv:
        check_checkpoints()
