#!/usr/bin/env python
"""Benchmark: our MidiMe (Keras/TensorFlow, compiled loop) vs magenta.js's MidiMe (Node, tfjs CPU).

    python benchmarks/bench_midime.py                   # 20 and 100 epochs, 3 runs each
    python benchmarks/bench_midime.py --epochs 20 --runs 5
    python benchmarks/bench_midime.py --skip-js         # only ours
    python benchmarks/bench_midime.py --codes my_codes.npy   # real MusicVAE codes [n, 256]

Both sides train magenta.js's default MidiMe (256 → [1024, 256, 64] → 4 → [64, 256, 1024] → 256,
beta 1, Adam 1e-3, full batch: one step per epoch) on the same codes, read from one JSON file.
Every run is a fresh process:

* cold = process spawn → the first fit finished (interpreter start, imports, model build,
  compilation/tracing and training all included);
* warm = a second fit of the same length in the same process (magenta.js: a second ``train()``).

Ours also reports 100 epochs warm (3 fits in each run). Reported figures are medians over runs,
in wall-clock seconds and in CPU seconds (user+sys of the process, all threads, up to that
moment), since wall time on a shared machine depends on what else runs. magenta.js runs on the tfjs CPU backend (pure JS, one thread;
WebGL does not exist in Node and tfjs-node would download a native TensorFlow at install time),
so it runs ``--js-runs`` times for ≤ 20 epochs and once for longer settings unless told otherwise.
The Node side lives in ``benchmarks/midime_js`` (installed there with ``npm ci`` on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
JS_DIR = HERE / "midime_js"
JS_SCRIPT = JS_DIR / "bench_midime.js"
REPO = HERE.parent


# ------------------------------------------------------------------------------------------------
# The worker: one fresh Python process per run (started by the parent with --worker)
# ------------------------------------------------------------------------------------------------


def worker(codes_path: str, epochs: int, warm_repeats: int) -> None:
    """Train our MidiMe cold, then warm; print one ``RESULT {json}`` line."""
    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf

    from midime_widgets.models.midime import MidiMe, MidiMeConfig

    import_s = time.perf_counter() - t0
    data = json.loads(Path(codes_path).read_text())
    codes = np.asarray(data["data"], dtype=np.float32).reshape(data["shape"])

    t1 = time.perf_counter()
    model = MidiMe(MidiMeConfig(seed=0))
    build_s = time.perf_counter() - t1
    cold = model.fit(codes, epochs=epochs)
    trained_at = time.time()
    cold_cpu_s = time.process_time()  # CPU of this process (all threads) since it started
    warm = model.fit(codes, epochs=epochs)
    warm_cpu_s = time.process_time() - cold_cpu_s
    warm_100, warm_100_cpu = [], []
    for _ in range(warm_repeats):
        cpu_before = time.process_time()
        warm_100.append(model.fit(codes, epochs=100).seconds)
        warm_100_cpu.append(time.process_time() - cpu_before)
    result = {
        "trained_at_unix": trained_at,
        "import_s": import_s,
        "init_s": build_s,
        "cold_fit_s": cold.seconds,
        "warm_fit_s": warm.seconds,
        "warm_100_s": warm_100,
        "warm_100_cpu_s": warm_100_cpu,
        "cold_cpu_s": cold_cpu_s,
        "warm_cpu_s": warm_cpu_s,
        "cold_loss": [cold["total"][0], cold["total"][-1]],
        "warm_loss": [warm["total"][0], warm["total"][-1]],
        "device": model.device,
        "versions": {"tensorflow": tf.__version__, "python": platform.python_version()},
    }
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------
# The parent
# ------------------------------------------------------------------------------------------------


def make_codes(path: Path, source: str | None, n: int, width: int, seed: int) -> None:
    """Write the shared codes file: from ``source`` (.npy / .json) or synthetic.

    Synthetic codes mimic MusicVAE ``mu`` of one song's windows: a few shared directions plus
    per-window noise, roughly unit variance per dimension.
    """
    import numpy as np

    if source:
        codes = np.load(source) if source.endswith(".npy") else np.asarray(json.loads(Path(source).read_text())["data"])
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2:
            raise SystemExit(f"--codes must hold a [n, z] array, got shape {codes.shape}")
    else:
        rng = np.random.default_rng(seed)
        basis = rng.standard_normal((8, width)) / np.sqrt(8)
        codes = (rng.standard_normal((n, 8)) @ basis * 0.9 + 0.45 * rng.standard_normal((n, width))).astype(np.float32)
    path.write_text(json.dumps({"shape": list(codes.shape), "data": codes.ravel().tolist()}))


def run_child(cmd: list[str], cwd: Path, timeout: float) -> dict:
    """Run one benchmark process; returns its RESULT dict plus spawn-relative and CPU times."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.time()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"{' '.join(cmd[:3])} … failed (exit {proc.returncode}):\n" + "\n".join(tail))
    result = json.loads(lines[-1][len("RESULT "):])
    result["cold_s"] = result["trained_at_unix"] - spawned
    result["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def ensure_js_installed() -> str | None:
    """Install the Node side if needed; returns a reason string when it cannot run."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not found"
    if (JS_DIR / "node_modules" / "@magenta" / "music").is_dir():
        return None
    command = ["npm", "ci" if (JS_DIR / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
    print(f"installing magenta.js into {JS_DIR} ({' '.join(command)}) …", file=sys.stderr)
    proc = subprocess.run(command, cwd=JS_DIR, capture_output=True, text=True)
    if proc.returncode != 0:
        return "npm install failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_s(value) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def fmt_ratio(slow, fast) -> str:
    if slow is None or fast is None or fast <= 0:
        return "—"
    return f"{slow / fast:.0f}×" if slow / fast >= 10 else f"{slow / fast:.1f}×"


def summarise(results: list[dict], key: str):
    return median([r[key] for r in results]) if results else None


def print_table(rows, ours_100, ours_100_cpu, args, ours_meta, js_meta, js_note, start_load) -> None:
    print()
    print(f"MidiMe training, {args.n}×256 codes, magenta.js default model and config, full batch")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; ours: TensorFlow "
          f"{ours_meta.get('tensorflow', '?')} on {ours_meta.get('device', '?')}; magenta.js: "
          + (f"@magenta/music {js_meta['magenta_music']}, tfjs {js_meta['tfjs']} ({js_meta.get('backend', 'cpu')} "
             f"backend), Node {js_meta['node']}" if js_meta else f"not run ({js_note})"))
    print()
    for title, kind in (("wall-clock seconds (medians)", ""),
                        ("CPU seconds, user+sys of the process (medians; less sensitive to machine load)", "_cpu")):
        print(title)
        header = (f"{'epochs':>6} | {'ours cold':>10} | {'magenta.js cold':>15} | {'ratio':>6} | "
                  f"{'ours warm':>10} | {'magenta.js warm':>15} | {'ratio':>6} | runs (ours/js)")
        print(header)
        print("-" * len(header))
        for row in rows:
            oc, jc, ow, jw = (row[f"{side}_{phase}{kind}"] for side, phase in
                              (("ours", "cold"), ("js", "cold"), ("ours", "warm"), ("js", "warm")))
            print(f"{row['epochs']:>6} | {fmt_s(oc):>10} | {fmt_s(jc):>15} | {fmt_ratio(jc, oc):>6} | "
                  f"{fmt_s(ow):>10} | {fmt_s(jw):>15} | {fmt_ratio(jw, ow):>6} | "
                  f"{row['ours_runs']}/{row['js_runs']}")
        print()
    for row in rows:
        parts = [f"{row['epochs']} epochs — ours cold: import {fmt_s(row['ours_import'])}, build "
                 f"{fmt_s(row['ours_init'])}, first fit (trace + train) {fmt_s(row['ours_cold_fit'])}"]
        if row["js_runs"]:
            parts.append(f"magenta.js: import {fmt_s(row['js_import'])}, first train() "
                         f"{fmt_s(row['js_cold_fit'])}; {fmt_s(row['js_per_epoch'])}/epoch warm")
        parts.append(f"final loss ours {row['ours_loss']:.1f}" + (
            f", magenta.js {row['js_loss']:.1f}" if row["js_loss"] is not None else ""))
        print("  " + "\n    ".join(parts))
    if ours_100:
        spread = f"{min(ours_100):.3f}–{max(ours_100):.3f} s"
        verdict = "goal < 1 s met" if median(ours_100) < 1.0 else "goal < 1 s NOT met"
        print(f"\nours, 100 epochs warm: median {median(ours_100):.3f} s over {len(ours_100)} fits "
              f"({spread}) — {verdict}")
    if ours_100_cpu:
        print(f"ours, 100 epochs warm, CPU: median {median(ours_100_cpu):.3f} s "
              f"(wall ≈ CPU / {os.cpu_count()} on an idle machine)")
    print(f"load average at the start: {start_load}; at the end: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per setting for ours (default 3)")
    parser.add_argument("--js-runs", type=int, default=None,
                        help="magenta.js runs per setting (default: --runs for ≤ 20 epochs, else 1)")
    parser.add_argument("--skip-js", action="store_true", help="only time our MidiMe")
    parser.add_argument("--codes", help="use these codes (.npy or the JSON format) instead of synthetic ones")
    parser.add_argument("--n", type=int, default=64, help="number of synthetic codes (default 64)")
    parser.add_argument("--json", help="also write all raw results to this file")
    parser.add_argument("--worker", nargs=3, metavar=("CODES", "EPOCHS", "WARM_REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return 0

    js_note = "skipped (--skip-js)" if args.skip_js else ensure_js_installed()
    raw = {"ours": {}, "js": {}}
    rows, ours_100, ours_100_cpu, ours_meta, js_meta = [], [], [], {}, {}
    start_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench_midime_") as tmp:
        codes_path = Path(tmp) / "codes.json"
        make_codes(codes_path, args.codes, args.n, 256, seed=0)
        args.n = json.loads(codes_path.read_text())["shape"][0]
        for epochs in args.epochs:
            ours, js = [], []
            js_runs = 0 if js_note else (args.js_runs if args.js_runs is not None else (args.runs if epochs <= 20 else 1))
            # alternate the two sides so that a change in machine load hits both alike
            for i in range(max(args.runs, js_runs)):
                if i < args.runs:
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(codes_path), str(epochs), "3"]
                    ours.append(run_child(cmd, REPO, timeout=600))
                    print(f"ours  {epochs:>4} epochs run {i + 1}: cold {ours[-1]['cold_s']:.2f} s, "
                          f"warm {ours[-1]['warm_fit_s']:.3f} s", file=sys.stderr)
                if i < js_runs:
                    try:
                        js.append(run_child(["node", str(JS_SCRIPT), str(codes_path), str(epochs)], JS_DIR,
                                            timeout=3600))
                    except RuntimeError as err:
                        js_note = f"magenta.js failed: {err}"
                        print(js_note, file=sys.stderr)
                        js_runs = 0
                        continue
                    print(f"magenta.js {epochs:>4} epochs run {i + 1}: cold {js[-1]['cold_s']:.1f} s, "
                          f"warm {js[-1]['warm_fit_s']:.1f} s", file=sys.stderr)
            raw["ours"][epochs], raw["js"][epochs] = ours, js
            ours_100 += [s for r in ours for s in r["warm_100_s"]]
            ours_100_cpu += [s for r in ours for s in r["warm_100_cpu_s"]]
            ours_meta = {**ours[0]["versions"], "device": ours[0]["device"]}
            js_meta = {**js[0]["versions"], "backend": js[0]["backend"]} if js else js_meta
            rows.append({
                "epochs": epochs,
                "ours_runs": len(ours), "js_runs": len(js),
                "ours_cold": summarise(ours, "cold_s"), "js_cold": summarise(js, "cold_s"),
                "ours_warm": summarise(ours, "warm_fit_s"), "js_warm": summarise(js, "warm_fit_s"),
                "ours_import": summarise(ours, "import_s"), "ours_init": summarise(ours, "init_s"),
                "ours_cold_fit": summarise(ours, "cold_fit_s"), "js_import": summarise(js, "import_s"),
                "js_cold_fit": summarise(js, "cold_fit_s"),
                "ours_cold_cpu": summarise(ours, "cold_cpu_s"), "js_cold_cpu": summarise(js, "cold_cpu_s"),
                "ours_warm_cpu": summarise(ours, "warm_cpu_s"), "js_warm_cpu": summarise(js, "warm_cpu_s"),
                "js_per_epoch": summarise(js, "warm_fit_s") / epochs if js else None,
                "ours_loss": median([r["cold_loss"][1] for r in ours]),
                "js_loss": median([r["cold_loss"][1] for r in js]) if js else None,
            })
    print_table(rows, ours_100, ours_100_cpu, args, ours_meta, js_meta, js_note, start_load)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "raw": raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
