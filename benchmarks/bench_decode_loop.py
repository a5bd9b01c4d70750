"""How close can any Python-driven decoder come to the row floor? A lower-overhead reference.

`bench_musicvae.py` compares our decoder with magenta's and with two floors (roofline.py). The
row floor counts only each step's matmuls, at the best rate measured for that many rows. This
script times, in one run on the same machine, for a flat-decoder config (default
cat-mel_2bar_small) at batch 1 and 32:

- `matmuls only`: each step's matrix products alone (the layers' recurrent and input rows, the
  output projection), called from NumPy/BLAS in a Python loop; nothing else;
- `numpy loop`: a complete sampling decoder in NumPy with the least work per step (conditioning
  and one-hot inputs folded into precomputed rows, LSTM gates, temperature sampling);
- `ours`: `MusicVAE.decode_to_tensors(z, temperature=0.5)` (XLA loop);
- `row floor`: roofline.py's figure for the call.

The NumPy loop has random weights of the config's sizes and is a timing reference only (it is
not part of the package). When even it stays well above the row floor, a goal of "within 1.3x
the row floor" needs a fused compiled kernel, not a better Python or XLA program.

    python benchmarks/bench_decode_loop.py [--config cat-mel_2bar_small] [--reps 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import midime_widgets  # noqa: F401  (before TensorFlow loads: keeps its start-up lines quiet)
import roofline

F32 = np.float32


def _timed(fn, reps: int) -> float:
    """Median seconds of `fn()` after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class NumpyDecoder:
    """A flat LSTM-stack sampling decoder with the least work per step: the conditioning's and
    the one-hot input's share of the first layer's gates are precomputed rows, and each upper
    layer is one product of [output below, own output] (the fewest BLAS calls)."""

    def __init__(self, sizes, z_size: int, depth: int, rng: np.random.Generator):
        self.sizes, self.depth = list(sizes), depth
        scale = 0.05
        # layer 0 multiplies its own output; layer k > 0 reads [output of k - 1, own output]
        self.kernels = [rng.standard_normal(((sizes[k - 1] if k else 0) + n, 4 * n)).astype(F32)
                        * scale for k, n in enumerate(sizes)]
        self.input_rows = rng.standard_normal((depth + 1, 4 * sizes[0])).astype(F32) * scale
        self.z_rows = rng.standard_normal((z_size, 4 * sizes[0])).astype(F32) * scale
        self.output = rng.standard_normal((sizes[-1], depth)).astype(F32) * scale

    @staticmethod
    def _rows(batch: int, n: int) -> np.ndarray:
        """State of `batch` rows; one row as a vector (BLAS's matrix-vector product, faster
        than a one-row matrix product)."""
        return np.zeros((n,) if batch == 1 else (batch, n), F32)

    def matmuls_only(self, z: np.ndarray, steps: int) -> None:
        batch = len(z)
        hs = [self._rows(batch, n) for n in self.sizes]
        for _ in range(steps):
            for k in range(len(self.sizes)):
                self._read(hs, k) @ self.kernels[k]
            hs[-1] @ self.output

    @staticmethod
    def _read(hs: list, k: int) -> np.ndarray:
        return hs[k] if k == 0 else np.concatenate([hs[k - 1], hs[k]], axis=-1)

    def decode(self, z: np.ndarray, steps: int, temperature: float, rng) -> np.ndarray:
        batch = len(z)
        conditioned = z @ self.z_rows
        hs = [self._rows(batch, n) for n in self.sizes]
        cs = [self._rows(batch, n) for n in self.sizes]
        previous = np.full(batch, self.depth)  # the "no previous output" row
        out = np.zeros((batch, steps), np.int64)
        noise = rng.gumbel(size=(steps, batch, self.depth)).astype(F32)
        if batch == 1:
            conditioned, previous, noise = conditioned[0], int(previous[0]), noise[:, 0]
        for t in range(steps):
            for k, n in enumerate(self.sizes):
                gates = self._read(hs, k) @ self.kernels[k]
                if k == 0:
                    gates += conditioned + self.input_rows[previous]
                i, j, f, o = (gates[..., m * n:(m + 1) * n] for m in range(4))
                cs[k] = cs[k] * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
                hs[k] = np.tanh(cs[k]) * _sigmoid(o)
            logits = hs[-1] @ self.output
            previous = np.argmax(logits / temperature + noise[t], axis=-1)
            out[:, t] = previous
        return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="cat-mel_2bar_small")
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args(argv)

    from midime_widgets.models.configs import CONFIGS
    from midime_widgets.models.layout import Decoder
    from midime_widgets.models.musicvae import MusicVAE

    config = CONFIGS[args.config]
    if config.decoder == Decoder.HIERARCHICAL.value:
        parser.error("this reference covers flat decoders only")
    rng = np.random.default_rng(0)
    steps, depth = config.max_seq_len, sum(config.output_depths)
    reference = NumpyDecoder(config.dec_rnn_sizes, config.z_size, depth, rng)
    vae = MusicVAE.from_config(config)
    machine = roofline.measure_machine()
    print(f"{args.config}: decoder {list(config.dec_rnn_sizes)}, {steps} steps, medians of "
          f"{args.reps} calls, one run")
    header = ("batch", "matmuls only", "numpy loop", "ours", "row floor",
              "numpy loop / row floor", "ours / row floor")
    print(" | ".join(f"{h:>12}" for h in header))
    for batch in (1, 32):
        z = rng.standard_normal((batch, config.z_size)).astype(F32)
        only = _timed(lambda z=z: reference.matmuls_only(z, steps), args.reps)
        loop = _timed(lambda z=z: reference.decode(z, steps, 0.5, rng), args.reps)
        ours = _timed(lambda z=z: vae.decode_to_tensors(z, temperature=0.5, seed=0), args.reps)
        floor = roofline.row_floor(roofline.decode_work(config, batch), machine,
                                   roofline.row_gflops)
        cells = (str(batch), *(f"{s * 1e3:.2f} ms" for s in (only, loop, ours, floor)),
                 f"{loop / floor:.2f}", f"{ours / floor:.2f}")
        print(" | ".join(f"{c:>12}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
