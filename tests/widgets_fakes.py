"""A tiny stand-in for MusicVAE used by the widget tests (and the browser tests' notebooks).

It implements ``midime_widgets.widgets.model.MusicModel`` (what the widgets and ``Personalizer``
need from a MusicVAE) with the real melody converter, and a fixed random linear map instead of
LSTMs, so that encode/decode are instant, deterministic and depend on their input.
"""

from __future__ import annotations

import threading

import numpy as np

from midime_widgets.models.configs import get_config
from midime_widgets.music import converter_from_spec


class FakeMusicVAE:
    """Linear 'MusicVAE' over the real 2-bar melody converter (z_size 32 by default)."""

    def __init__(self, z_size: int = 32, seed: int = 0, *, fail_decode: bool = False,
                 decode_delay: float = 0.0):
        self.config = get_config("cat-mel_2bar_small").replace(z_size=z_size)
        self.name = f"fake-{self.config.name}"
        self.kind = "melody"
        self.device = "CPU"
        self.converter = converter_from_spec(self.config.converter)
        rng = np.random.default_rng(seed)
        steps, depth = self.config.max_seq_len, self.converter.output_depth
        self._shape = (steps, depth)
        self._in_depth = self.converter.input_depth
        self._enc = rng.standard_normal((steps * self._in_depth, z_size)).astype(np.float32) / np.sqrt(steps)
        self._dec = (rng.standard_normal((z_size, steps * depth)) * 1.6 / np.sqrt(z_size)).astype(np.float32)
        # Make "hold" and "no event" likelier, so decoded melodies look like melodies.
        self._bias = np.zeros((steps, depth), np.float32)
        self._bias[:, 0] = 3.2
        self._bias[:, 1] = 0.5
        self._bias[::4, 2 + 39:2 + 56] += 3.5 + rng.uniform(0, 0.5, (steps // 4, 17))  # onsets
        self._bias[::4, 0] = 0.0
        self.fingerprint = f"fake-{z_size}-{seed}"
        self.fail_decode = fail_decode
        self.decode_delay = decode_delay
        self.decode_calls = 0
        self._lock = threading.Lock()

    def chunks(self, seq):
        return self.converter.chunks(seq)

    def encode_tensors(self, inputs, lengths=None, *, seed=None):
        steps = self._shape[0]
        x = np.zeros((len(inputs), steps * self._in_depth), np.float32)
        for i, row in enumerate(inputs):
            row = np.asarray(row, np.float32)[:steps]
            x[i, : row.size] = row.reshape(-1)
        mu = np.tanh(x @ self._enc).astype(np.float32)
        sigma = np.tile(np.linspace(0.05, 1.0, self.config.z_size, dtype=np.float32), (len(x), 1))
        return mu.copy(), mu, sigma

    def decode_to_tensors(self, z, length=None, temperature=0.5, seed=None):
        import time

        with self._lock:
            self.decode_calls += 1
        if self.decode_delay:
            time.sleep(self.decode_delay)
        if self.fail_decode:
            raise RuntimeError("decoder exploded")
        z = np.asarray(z, np.float32).reshape(-1, self.config.z_size)
        logits = (z @ self._dec).reshape(-1, *self._shape) + self._bias
        if temperature:
            g = np.random.default_rng(seed).gumbel(size=logits.shape)
            logits = logits / float(temperature) + g
        return np.eye(self._shape[1], dtype=np.float32)[logits.argmax(-1)]

    def decode(self, z, length=None, temperature=0.5, seed=None):
        return self.converter.from_tensors(list(self.decode_to_tensors(z, length, temperature, seed)))

    def sample(self, n=1, length=None, temperature=0.5, seed=None):
        z = np.random.default_rng(seed).standard_normal((n, self.config.z_size)).astype(np.float32)
        return self.decode(z, temperature=temperature, seed=seed)


# ---- capturing what a widget sends to the browser -------------------------------------------


def record(widget):
    """Capture everything the widget sends to the front end as (msg, buffers) pairs."""
    sent = []
    widget._send = lambda msg, buffers=None: sent.append((msg, list(buffers or [])))
    return sent


def state_updates(sent):
    """State pushed by Python (not the protocol's echo of a browser change)."""
    return [m["state"] for m, _ in sent if m.get("method") == "update"]


def customs(sent):
    """Custom messages: (content, buffers)."""
    return [(m["content"], b) for m, b in sent if m.get("method") == "custom"]
