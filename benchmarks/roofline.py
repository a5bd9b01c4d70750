"""A lower bound on MusicVAE encode / decode time on this machine (a roofline).

Any exact float32 implementation of a call must at least
- do the multiply-adds of every LSTM, projection and conditioning matmul (one-hot inputs are free:
  they are row gathers), at no more than the machine's best matmul rate, and
- read each step's weights once per sequential step (an LSTM step needs the previous step's
  output) at no more than the machine's best streaming rate, unless they fit in the L2 cache.

`floor = max(flops / peak_flops, streamed_bytes / bandwidth)`. Both rates are measured in the same
run as the benchmark (`measure_machine`), taking the best of several matmul shapes and of TF, XLA
and numpy, so the floor stays a true lower bound. A ratio goal (ours / magenta) below
`floor / magenta` is unreachable on this machine in float32, whatever the code.

The peak rate comes from large matmuls, but a recurrence multiplies only the batch's rows each
step. `row_floor` counts those per-step multiply-adds at the best rate this machine reaches for
a matmul of that many rows and that layer's shape (`row_gflops`: TF graph, XLA and numpy, one
chain or two side by side), the rest as `floor` does: the least time of code built on the
matmuls available here.

Used by `bench_musicvae.py`; the counting is plain arithmetic on a config (tested in
tests/test_roofline.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from midime_widgets.models.layout import CoreDecoder, Decoder, Encoder

F32 = 4  # bytes


@dataclass(frozen=True)
class Work:
    """What one call must do: multiply-add flops, and weight bytes it must stream."""

    flops: float
    streamed_bytes: float


@dataclass(frozen=True)
class Machine:
    """Best rates measured on this machine; `l2_bytes` is the L2 cache of all cores together."""

    gflops: float
    gbps_cache: float  # streaming weights that fit in L3
    gbps_dram: float  # streaming weights that do not
    l2_bytes: int
    l3_bytes: int

    def bandwidth(self, step_bytes: float) -> float:
        """Bytes/s for re-reading `step_bytes` of weights every step."""
        fits = step_bytes <= self.l3_bytes // 2
        return (self.gbps_cache if fits else self.gbps_dram) * 1e9


@dataclass(frozen=True)
class _Phase:
    """A run of sequential steps that re-read `step_bytes` of weights each step.

    `step_flops` of `flops` are multiplies of `rows` rows by a layer `units` wide, one step
    after another; the rest are big matmuls (hoisted projections, heads, conditioning)."""

    flops: float
    steps: int
    step_bytes: float
    once_bytes: float  # weights read once per call (hoisted projections, heads)
    step_flops: float = 0.0
    rows: int = 0
    units: int = 0


def _bilstm(rows: int, steps: int, depth: int, sizes, dense_input: bool) -> tuple[_Phase, int]:
    """A stacked bidirectional LSTM over `steps`; layer 0's input is one-hot unless `dense_input`."""
    flops = step_bytes = once = recurrent = 0.0
    for layer, n in enumerate(sizes):
        for _direction in range(2):
            recurrent += 2 * rows * steps * n * 4 * n  # h @ W_h, every step
            step_bytes += F32 * n * 4 * n
            if layer > 0 or dense_input:  # x @ W_x: one matmul over all steps (hoisted)
                flops += 2 * rows * steps * depth * 4 * n
                once += F32 * depth * 4 * n
        depth = 2 * n
    return _Phase(flops + recurrent, steps, step_bytes, once, recurrent, rows, max(sizes)), depth


def encode_work(config, batch: int) -> list[_Phase]:
    """Phases of `encode` for `batch` full-length rows."""
    sizes = tuple(config.enc_rnn_sizes)
    if config.encoder == Encoder.HIERARCHICAL:
        steps, segments = config.encoder_level_lengths
        low, depth = _bilstm(batch * segments, steps, config.input_depth, sizes, False)
        high, depth = _bilstm(batch, segments, depth, sizes, True)
        phases = [low, high]
    else:
        phase, depth = _bilstm(batch, config.max_seq_len, config.input_depth, sizes, False)
        phases = [phase]
    heads = 2 * 2 * batch * depth * config.z_size  # mu and sigma
    phases.append(_Phase(heads, 1, 0.0, 2 * F32 * depth * config.z_size))
    return phases


def _stack_step(sizes, out_depth: int) -> int:
    """Weights one decoder step multiplies (per row): recurrent rows of layer 0 (its previous
    output is a gather, its conditioning is per segment), upper layers, output projection."""
    count = sizes[0] * 4 * sizes[0]
    for below, n in zip(sizes, sizes[1:]):
        count += (below + n) * 4 * n
    return count + sizes[-1] * out_depth


def decode_work(config, batch: int) -> list[_Phase]:
    """Phases of `decode` of `batch` rows to the config's full length."""
    sizes = tuple(config.dec_rnn_sizes)
    depths = tuple(config.output_depths)
    steps = config.max_seq_len
    phases = []
    if config.decoder == Decoder.HIERARCHICAL:
        bars = config.level_lengths[0]
        conductor = _stack_step(sizes, 0)  # its input is a constant zero: only the bias remains
        init = config.z_size * 2 * sum(sizes)
        phases.append(_Phase(2 * batch * (bars * conductor + init), bars, F32 * conductor, F32 * init,
                             2 * batch * bars * conductor, batch, max(sizes)))
        cond, segments = sizes[-1], bars
        stacks = depths if config.core_decoder == CoreDecoder.SPLIT else (sum(depths),)
    else:
        cond, segments, stacks = config.z_size, 1, (sum(depths),)
    per_step = sum(_stack_step(sizes, out) for out in stacks)
    per_segment = len(stacks) * cond * (4 * sizes[0] + 2 * sum(sizes))
    phases.append(_Phase(2 * batch * (steps * per_step + segments * per_segment), steps,
                         F32 * per_step, F32 * per_segment, 2 * batch * steps * per_step, batch,
                         max(sizes)))
    return phases


def _stream_seconds(phases: list[_Phase], machine: Machine) -> tuple[float, float]:
    """`(bytes, seconds)` of weights streamed: per step, unless a step's weights stay in L2."""
    streamed = stream_s = 0.0
    for p in phases:
        resident = p.step_bytes <= machine.l2_bytes  # stays in cache: read once
        nbytes = p.once_bytes + (p.step_bytes if resident else p.steps * p.step_bytes)
        streamed += nbytes
        stream_s += nbytes / machine.bandwidth(p.step_bytes)
    return streamed, stream_s


def total(phases: list[_Phase], machine: Machine) -> tuple[Work, float]:
    """`(work, floor seconds)`: compute bound and streaming bound, whichever is larger."""
    flops = sum(p.flops for p in phases)
    streamed, stream_s = _stream_seconds(phases, machine)
    return Work(flops, streamed), max(flops / (machine.gflops * 1e9), stream_s)


def row_floor(phases: list[_Phase], machine: Machine, row_gflops) -> float:
    """Like `total`'s floor, but each phase's per-step flops at `row_gflops(rows, units)`, the
    best rate measured for a matmul of that many rows by a layer that wide."""
    compute_s = 0.0
    for p in phases:
        step_rate = row_gflops(p.rows, p.units) if p.step_flops else machine.gflops
        compute_s += p.step_flops / (step_rate * 1e9) + (p.flops - p.step_flops) / (machine.gflops * 1e9)
    return max(compute_s, _stream_seconds(phases, machine)[1])


FLOOR_FACTOR = 1.3  # ours may take this many times the floor
HALF_WHERE = 0.4  # where floor / magenta is at most this, ours must also take half magenta's time


def verdict(ours_s: float, magenta_s: float, floor_s: float) -> str:
    """The speed goal for one case: never slower than magenta, within `FLOOR_FACTOR` of the
    floor, and at most half magenta's time where the floor leaves room for it
    (floor / magenta ≤ `HALF_WHERE`). "met", or what is missed."""
    misses = []
    if ours_s > magenta_s:
        misses.append("slower than magenta")
    if ours_s > FLOOR_FACTOR * floor_s:
        misses.append(f"{ours_s / floor_s:.1f}x floor")
    if floor_s / magenta_s <= HALF_WHERE and ours_s > 0.5 * magenta_s:
        misses.append("> 0.5 of magenta")
    return "met" if not misses else "not met: " + ", ".join(misses)


# ---------------------------------------------------------------------------------------------
# measuring the machine
# ---------------------------------------------------------------------------------------------


def _cache_bytes(index: int, default: int) -> int:
    """Size of cache level `index` (sysfs `index2` = L2, `index3` = L3) summed over its instances."""
    sizes, seen = 0, set()
    for cpu in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*")):
        folder = cpu / "cache" / f"index{index}"
        try:
            shared = (folder / "shared_cpu_list").read_text().strip()
            text = (folder / "size").read_text().strip()
        except OSError:
            continue
        if shared in seen:
            continue
        seen.add(shared)
        unit = {"K": 1024, "M": 1024**2}.get(text[-1], 1)
        sizes += int(text.rstrip("KM")) * unit
    return sizes or default


def _best(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _peak_gflops() -> float:
    """Best float32 matmul rate over a few large shapes, TF graph and XLA."""
    import tensorflow as tf

    best = 0.0
    for m, k, n in ((1024, 4096, 4096), (512, 6144, 8192), (256, 2048, 8192)):
        a = tf.random.normal([m, k])
        b = tf.random.normal([k, n])
        for jit in (False, True):
            fn = tf.function(lambda a=a, b=b: tf.matmul(a, b), jit_compile=jit)
            best = max(best, 2 * m * k * n / _best(fn, 3) / 1e9)
    return best


def _stream_gbps(nbytes: int) -> float:
    """Best rate of repeated matrix-vector products over `nbytes` of weights (numpy, TF XLA,
    weights stored either way round)."""
    import numpy as np
    import tensorflow as tf

    k = 1024
    n = max(1024, nbytes // (F32 * k))
    rng = np.random.default_rng(0)
    w = rng.standard_normal((k, n), dtype=np.float32)
    h = rng.standard_normal((1, k), dtype=np.float32)
    wt = np.ascontiguousarray(w.T)
    reps = 16
    candidates = [lambda: [h @ w for _ in range(reps)], lambda: [wt @ h[0] for _ in range(reps)]]
    for weights, transpose in ((tf.constant(w), False), (tf.constant(wt), True)):
        x0 = tf.constant(h)

        def loop(weights=weights, transpose=transpose, x0=x0):
            def body(i, x):
                y = tf.matmul(x, weights, transpose_b=transpose)
                return i + 1, tf.tanh(y[:, :k])
            return tf.while_loop(lambda i, _: i < reps, body, (0, x0))[1]

        candidates.append(tf.function(loop, jit_compile=True))
    return max(reps * F32 * k * n / _best(fn, 3) / 1e9 for fn in candidates)


ROW_RATES: dict = {}  # (rows, units) -> GFLOP/s, measured by `row_gflops`


def row_gflops(rows: int, units: int, steps: int = 16) -> float:
    """Best rate (GFLOP/s) of `steps` dependent `[rows, units] @ [units, 4 units]` products (a
    recurrence's matmuls), one chain or two independent ones side by side, in TF's graph, XLA
    and numpy; measured once per shape per process."""
    key = (rows, units)
    if key in ROW_RATES:
        return ROW_RATES[key]
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w = [rng.standard_normal((units, 4 * units), dtype=np.float32) * 0.02 for _ in range(2)]
    h = rng.standard_normal((rows, units), dtype=np.float32)
    flops = 2 * rows * units * 4 * units * steps

    def numpy_chain():
        x = h
        for _ in range(steps):
            x = np.tanh((x @ w[0])[:, :units])

    candidates = [(numpy_chain, 1)]
    for chains in (1, 2):
        weights = [tf.constant(m) for m in w[:chains]]

        def loop(weights=weights):
            def body(i, xs):
                return i + 1, [tf.tanh(tf.matmul(x, m)[:, :units]) for x, m in zip(xs, weights)]
            return tf.while_loop(lambda i, _: i < steps, body, (0, [tf.constant(h)] * len(weights)))[1]

        for jit in (False, True):
            candidates.append((tf.function(loop, jit_compile=jit, autograph=False), chains))
    rate = max(chains * flops / _best(fn, 5) / 1e9 for fn, chains in candidates)
    ROW_RATES[key] = rate
    return rate


def measure_machine() -> Machine:
    """Measure the best matmul rate and streaming rates now (about 10 s)."""
    l2 = _cache_bytes(2, 1 << 20)
    l3 = _cache_bytes(3, 32 << 20)
    return Machine(
        gflops=_peak_gflops(),
        gbps_cache=_stream_gbps(min(l3 // 4, 8 << 20)),
        gbps_dram=_stream_gbps(max(4 * l3, 128 << 20)),
        l2_bytes=l2,
        l3_bytes=l3,
    )
