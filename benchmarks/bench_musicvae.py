"""Time MusicVAE encode / decode (ours) against magenta's own TrainedModel on the same checkpoint.

    python benchmarks/bench_musicvae.py                       # both sizes, batch 1 and 32
    python benchmarks/bench_musicvae.py --configs cat-mel_2bar_small --reps 50
    python benchmarks/bench_musicvae.py --no-magenta          # ours only
    python benchmarks/bench_musicvae.py --isolated            # each side's calls back to back

For each config a full-size checkpoint with random weights is written once (cached under
`$MIDIME_WIDGETS_CACHE/bench/`). Ours: `MusicVAE.from_checkpoint(...).encode_tensors` and
`.decode_to_tensors(temperature=0.5)`. Magenta: `TrainedModel(config, batch_size=b, ckpt)` with
`encode_tensors` / `decode_to_tensors` run in the oracle venv (`--oracle-python`, default
.oracle-venv/bin/python; see tests/oracle/README.md) in a subprocess of this script that
runs in lockstep with ours (one call of ours, one of magenta's, and so on), so both see the same
machine load even when it changes; each side then starts every call after an idle gap (the other
side's call), as a notebook user does. `--isolated` times each side's calls back to back instead
(warm threads and caches). The first call (graph build / trace / XLA compile) is reported
separately and excluded from the medians.

The `floor` column (roofline.py, skipped with `--no-roofline`) is the least time any exact float32
code needs for that call on this machine: its multiply-adds at the best matmul rate measured in
this run, or its weight bytes streamed once per step at the best measured streaming rate,
whichever is larger. `floor / magenta` above 0.5 means "half of magenta's time" is out of reach
there, whatever the code. `row floor` counts each step's multiply-adds at the best rate measured
for a matmul of the batch's rows instead of the large-matmul peak (see roofline.py). `target`
says, against each floor, whether the speed goal holds: never slower than magenta, within 1.3x
the floor, and half magenta's time where the floor is at most 0.4 of magenta's.

This file is also the magenta worker (`--magenta-worker JSON`), which imports nothing from
midime_widgets: it runs under the oracle venv's TF1-compat magenta.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_CONFIGS = ("cat-mel_2bar_small", "hierdec-mel_16bar")
#: The oracle venv tests/oracle/setup_oracle_venv.sh builds ($MAGENTA_ORACLE_VENV moves it).
DEFAULT_ORACLE = str(Path(os.environ.get("MAGENTA_ORACLE_VENV", Path(__file__).resolve().parents[1] / ".oracle-venv")) / "bin" / "python")
WEIGHT_SEED = 1234


def _reps_for(config: str, op: str, batch: int, reps: int) -> int:
    """Fewer repetitions for the slow 16-bar cases (a hierdec encode at b=32 takes many seconds)."""
    if "16bar" in config:
        return max(2, min(reps, 5 if batch == 1 else 3))
    return reps


def _inputs(depth: int, steps: int, batch: int, seed: int):
    """Random one-hot full-length encoder inputs and standard-normal latents (numpy)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = np.eye(depth, dtype=np.float32)[rng.integers(0, depth, (batch, steps))]
    lengths = np.full(batch, steps, np.int32)
    return inputs, lengths, rng


# ---------------------------------------------------------------------------------------------
# magenta worker (runs in the oracle venv)
# ---------------------------------------------------------------------------------------------


def magenta_worker(spec: dict) -> None:
    """Serve timed calls of magenta's TrainedModel, in lockstep with the parent.

    Protocol on stdin/stdout, one JSON object per line: after building one TrainedModel per batch
    size and making each first call it prints {"first": {"encode/1": s, ...}}; then for each
    line "encode 1" / "decode 32" it runs that call once and prints {"s": wall seconds};
    "quit" ends it. Everything else magenta or TF prints goes to stderr.
    """
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)
    from magenta.models.music_vae import TrainedModel, configs

    config = configs.CONFIG_MAP[spec["config"]]
    steps = config.hparams.max_seq_len
    depth = config.data_converter.input_depth
    calls, first = {}, {}
    for batch in spec["batches"]:
        model = TrainedModel(config, batch_size=batch, checkpoint_dir_or_path=spec["checkpoint"])
        inputs, lengths, rng = _inputs(depth, steps, batch, seed=batch)
        z = rng.standard_normal((batch, config.hparams.z_size)).astype(np.float32)
        calls[f"encode/{batch}"] = (
            lambda m=model, x=inputs, n=lengths: m.encode_tensors(list(x), list(n)))
        calls[f"decode/{batch}"] = (
            lambda m=model, z=z: m.decode_to_tensors(z, length=steps, temperature=0.5))
    calls = {k: fn for k, fn in calls.items() if k.split("/")[0] in spec["ops"]}
    for key, fn in calls.items():
        start = time.perf_counter()
        fn()
        first[key] = time.perf_counter() - start
    protocol.write(json.dumps({"first": first}) + "\n")
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        key = f"{command[0]}/{command[1]}"
        start = time.perf_counter()
        calls[key]()
        protocol.write(json.dumps({"s": time.perf_counter() - start}) + "\n")


class MagentaWorker:
    """The parent's handle on a lockstep magenta worker subprocess."""

    def __init__(self, python: str, config: str, checkpoint: str, batches, ops):
        spec = {"config": config, "checkpoint": checkpoint, "batches": list(batches),
                "ops": list(ops)}
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
                   CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", ""))
        self.proc = subprocess.Popen(
            [python, __file__, "--magenta-worker", json.dumps(spec)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.first = self._reply()["first"]

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the magenta worker died (run it by hand to see why: "
                               "--magenta-worker '{...}')")
        return json.loads(line)

    def call(self, op: str, batch: int) -> float:
        self.proc.stdin.write(f"{op} {batch}\n")
        self.proc.stdin.flush()
        return self._reply()["s"]

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------------------------------------
# ours
# ---------------------------------------------------------------------------------------------


def bench_checkpoint(config_name: str, cache: Path) -> str:
    """Write (once) a full-size checkpoint with random weights for `config_name`; its prefix."""
    import numpy as np

    from midime_widgets.models.configs import CONFIGS, expected_variables
    from midime_widgets.training import tf1_checkpoint

    folder = cache / f"{config_name}-seed{WEIGHT_SEED}"
    prefix = folder / "model.ckpt"
    if Path(str(prefix) + ".index").is_file():
        return str(prefix)
    rng = np.random.default_rng(WEIGHT_SEED)
    tensors = {"global_step": np.int64(0)}
    for name, shape in expected_variables(CONFIGS[config_name]).items():
        if name.endswith("/bias"):
            tensors[name] = rng.normal(0.0, 0.1, shape).astype(np.float32)
        else:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            tensors[name] = rng.uniform(-limit, limit, shape).astype(np.float32)
    tf1_checkpoint.write_checkpoint(prefix, tensors)
    return str(prefix)


def _stats(first: float, times: list) -> dict:
    return {"first_s": first, "median_s": statistics.median(times), "min_s": min(times),
            "reps": len(times)}


def bench_config(config_name: str, checkpoint: str, batches, ops, reps: int,
                 worker: MagentaWorker | None, isolated: bool = False) -> tuple[dict, dict | None, str]:
    """Time ours and (when `worker` is given) magenta alternately, call by call, so both see
    the same machine load; with `isolated`, all of ours back to back, then all of magenta's
    (no idle gap between one side's calls: warm threads and caches). Returns (ours, magenta or
    None, our device)."""
    import numpy as np

    from midime_widgets.models.musicvae import MusicVAE

    vae = MusicVAE.from_checkpoint(checkpoint, config=config_name)
    steps, depth = vae.config.max_seq_len, vae.config.input_depth
    ours, theirs = {}, ({} if worker else None)
    for batch in batches:
        inputs, lengths, rng = _inputs(depth, steps, batch, seed=batch)
        z = rng.standard_normal((batch, vae.config.z_size)).astype(np.float32)
        calls = {
            "encode": lambda inputs=inputs, lengths=lengths: vae.encode_tensors(inputs, lengths),
            "decode": lambda z=z: vae.decode_to_tensors(z, temperature=0.5, seed=0),
        }
        for op in ops:
            fn = calls[op]
            key = f"{op}/{batch}"
            start = time.perf_counter()
            fn()
            first = time.perf_counter() - start
            mine, other = [], []
            count = _reps_for(config_name, op, batch, reps)
            for _ in range(count):
                start = time.perf_counter()
                fn()
                mine.append(time.perf_counter() - start)
                if worker and not isolated:
                    other.append(worker.call(op, batch))
            if worker and isolated:
                other = [worker.call(op, batch) for _ in range(count)]
            ours[key] = _stats(first, mine)
            if worker:
                theirs[key] = _stats(worker.first[key], other)
    return ours, theirs, vae.device


def _row_rates() -> str:
    import roofline

    return ", ".join(f"{rows} x {units}: {rate:.0f} GFLOP/s"
                     for (rows, units), rate in sorted(roofline.ROW_RATES.items()))


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_table(rows) -> None:
    import roofline

    header = ("config", "op", "batch", "ours median", "ours min", "ours 1st call",
              "magenta median", "magenta min", "ratio (median)", "ratio (min)", "floor",
              "floor / magenta", "target", "row floor", "row floor / magenta", "target (row floor)")
    lines = [header]
    for config, op, batch, ours, theirs, floor, floor_rows in rows:
        ratio_med = ratio_min = "-"
        per_floor = {floor: ("-", "-"), floor_rows: ("-", "-")}
        if theirs:
            ratio_med = f"{ours['median_s'] / theirs['median_s']:.2f}"
            ratio_min = f"{ours['min_s'] / theirs['min_s']:.2f}"
            for f in (floor, floor_rows):
                if f is not None:
                    per_floor[f] = (f"{f / theirs['median_s']:.2f}",
                                    roofline.verdict(ours["median_s"], theirs["median_s"], f))
        lines.append((config, op, str(batch), _fmt(ours["median_s"]), _fmt(ours["min_s"]),
                      _fmt(ours["first_s"]), _fmt(theirs and theirs["median_s"]),
                      _fmt(theirs and theirs["min_s"]), ratio_med, ratio_min, _fmt(floor),
                      *per_floor[floor], _fmt(floor_rows), *per_floor[floor_rows]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for k, line in enumerate(lines):
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths)))
        if k == 0:
            print("-+-".join("-" * w for w in widths))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--ops", default="encode,decode")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--oracle-python", default=DEFAULT_ORACLE)
    parser.add_argument("--no-magenta", action="store_true")
    parser.add_argument("--isolated", action="store_true",
                        help="time each side's calls back to back instead of alternating")
    parser.add_argument("--no-roofline", action="store_true",
                        help="skip measuring this machine's peak rates (about 10 s)")
    parser.add_argument("--magenta-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.magenta_worker:
        magenta_worker(json.loads(args.magenta_worker))
        return

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import roofline
    from midime_widgets.models.configs import CONFIGS
    from midime_widgets.models.download import cache_dir

    batches = [int(b) for b in args.batches.split(",")]
    ops = [op for op in ("encode", "decode") if op in args.ops.split(",")]
    cache = cache_dir() / "bench"
    use_magenta = not args.no_magenta and Path(args.oracle_python).exists()
    if not args.no_magenta and not use_magenta:
        print(f"(no oracle venv at {args.oracle_python}: timing ours only)")
    rows, device = [], None
    for config in args.configs.split(","):
        checkpoint = bench_checkpoint(config, cache)
        worker = None
        if use_magenta:
            try:
                worker = MagentaWorker(args.oracle_python, config, checkpoint, batches, ops)
            except RuntimeError as exc:
                print(f"{config}: {exc}; timing ours only", file=sys.stderr)
        try:
            ours, theirs, device = bench_config(config, checkpoint, batches, ops, args.reps,
                                                worker, args.isolated)
        finally:
            if worker:
                worker.close()
        for batch in batches:
            for op in ops:
                key = f"{op}/{batch}"
                rows.append([config, op, batch, ours[key], theirs and theirs.get(key), None, None])
    machine = None
    if not args.no_roofline:
        machine = roofline.measure_machine()
        for row in rows:
            work = (roofline.encode_work if row[1] == "encode" else roofline.decode_work)
            phases = work(CONFIGS[row[0]], row[2])
            row[5] = roofline.total(phases, machine)[1]
            row[6] = roofline.row_floor(phases, machine, roofline.row_gflops)
    timing = "each side back to back" if args.isolated else "calls alternating ours / magenta"
    print(f"\nours on {device}; magenta TrainedModel on CPU (TF1 graph); wall-clock per call, "
          f"{timing}, first call excluded; ratio = ours / magenta\n")
    print_table(rows)
    if machine:
        print(f"\nfloor: the least time any exact float32 code needs on this machine (roofline.py): "
              f"flops / {machine.gflops:.0f} GFLOP/s, weight bytes streamed per step / "
              f"{machine.gbps_cache:.0f} GB/s (fits L3) or {machine.gbps_dram:.0f} GB/s (does not), "
              f"all measured in this run. floor / magenta > 0.5 means the goal is out of reach "
              f"there, whatever the code.\n"
              f"row floor: the same, with each step's multiply-adds at the best rate measured for a "
              f"matmul of the batch's rows by that layer ({_row_rates()}).\n"
              f"target: never slower than magenta, <= {roofline.FLOOR_FACTOR}x the floor, and "
              f"<= 0.5 of magenta where floor / magenta <= {roofline.HALF_WHERE}.")


if __name__ == "__main__":
    main()
