#!/usr/bin/env python
"""Benchmark: the command line's main job, `midime-widgets personalize --example`, against
importing TensorFlow alone.

    python benchmarks/bench_cli.py                  # 5 runs of each, interleaved
    python benchmarks/bench_cli.py --runs 3 --profile          # + where the time goes
    python benchmarks/bench_cli.py --profile --cprofile 40     # + the 40 costliest functions

Every run is a fresh process: the reference ``python -c "import tensorflow"`` and the job
``python -m midime_widgets personalize --example --out NEW_FOLDER --seed 0 --quiet`` (the whole
workflow on the embedded model: read and check the example songs, load the model, encode, train
MidiMe until converged, sample, write MIDI, WAV, the trained MidiMe, report.html and
summary.json). The two alternate, so a busy moment of a shared machine hits both; the figures
are medians. Importing TensorFlow is most of the job's time and nothing this package can change,
so the first target is on the difference: the job's own work. Peak RSS is the largest resident
set of any job process (from the kernel's resource usage of the child). CPU seconds (user + sys,
all threads) are printed too: they depend less on what else runs than wall time does.

Targets: job − import ≤ 2.5 s (median wall time) and peak RSS ≤ 1 GB.

``--profile`` runs the job once more with ``MIDIME_WIDGETS_PROFILE=1`` and prints its stages
(start and length of each step, in the thread it ran in; see ``midime_widgets/cli/stages.py``),
plus the interpreter start and the exit around them. ``--cprofile N`` runs the job in-process
under cProfile and prints the N functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.5  # job − import tensorflow
TARGET_RSS_BYTES = 10**9  # 1 GB
REFERENCE = [sys.executable, "-c", "import tensorflow"]
PROFILE_ENV = "MIDIME_WIDGETS_PROFILE"  # midime_widgets.cli.stages.PROFILE_ENV (read without importing it)


def job_command(out: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "midime_widgets", "personalize", "--example", "--out", str(out),
            "--seed", str(seed), "--quiet"]


def child_env(**extra: str) -> dict:
    """This checkout's package first on the path, so the benchmark measures it."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class Run:
    """One finished child process: wall seconds, CPU seconds, peak RSS bytes, its output."""

    def __init__(self, command: list[str], env: dict):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=REPO)
            _, status, usage = os.wait4(proc.pid, 0)
            self.wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.started = started
            self.returncode = proc.returncode
            self.cpu = usage.ru_utime + usage.ru_stime
            self.peak_rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
            out.seek(0)
            err.seek(0)
            self.stdout = out.read().decode(errors="replace")
            self.stderr = err.read().decode(errors="replace")
        if self.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({self.returncode}):\n{self.stderr[-3000:]}")


def run_job(seed: int, **env: str) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as folder:
        run = Run(job_command(Path(folder) / "out", seed), child_env(**env))
        if not (Path(folder) / "out" / "summary.json").is_file():
            raise SystemExit(f"the job wrote no summary.json:\n{run.stderr[-3000:]}")
    return run


def load() -> str:
    if not hasattr(os, "getloadavg"):
        return "unknown"
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def measure(runs: int, seed: int) -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"load average at start: {load()}")
    refs, jobs = [], []
    for i in range(runs):
        refs.append(Run(REFERENCE, child_env()))
        jobs.append(run_job(seed))
        print(f"  run {i + 1}/{runs}: import tensorflow {refs[-1].wall:5.2f} s, "
              f"job {jobs[-1].wall:5.2f} s (difference {jobs[-1].wall - refs[-1].wall:5.2f} s), "
              f"job peak RSS {mb(jobs[-1].peak_rss)}", flush=True)
    print(f"load average at end:   {load()}")

    def row(name, items):
        walls = [r.wall for r in items]
        cpus = [r.cpu for r in items]
        return (f"{name:<24} {statistics.median(walls):6.2f} s  (min {min(walls):5.2f}, max "
                f"{max(walls):5.2f})   CPU {statistics.median(cpus):6.2f} s   peak RSS "
                f"{mb(max(r.peak_rss for r in items))}")

    print()
    print(f"medians of {runs} runs (wall time; CPU = user + sys of all threads)")
    print(row("import tensorflow", refs))
    print(row("personalize --example", jobs))
    difference = statistics.median(r.wall for r in jobs) - statistics.median(r.wall for r in refs)
    paired = statistics.median(j.wall - r.wall for j, r in zip(jobs, refs))
    cpu_difference = statistics.median(r.cpu for r in jobs) - statistics.median(r.cpu for r in refs)
    peak = max(r.peak_rss for r in jobs)
    print(f"{'difference':<24} {difference:6.2f} s  (median of the paired differences "
          f"{paired:.2f} s; CPU {cpu_difference:.2f} s)")
    print()
    print(f"target job − import ≤ {TARGET_SECONDS} s: {difference:.2f} s, "
          f"{verdict(difference <= TARGET_SECONDS)}")
    print(f"target peak RSS ≤ {mb(TARGET_RSS_BYTES)}: {mb(peak)}, {verdict(peak <= TARGET_RSS_BYTES)}")


def profile(seed: int) -> None:
    """One job with the command's stage timings, on one timeline with the process's start."""
    run = run_job(seed, **{PROFILE_ENV: "1"})
    lines = [line.split("profile:", 1)[1] for line in run.stderr.splitlines() if "profile:" in line]
    clock = next((float(line.split()[1]) for line in lines if line.split()[:1] == ["clock"]), None)
    print()
    print(f"stages of one job (MIDIME_WIDGETS_PROFILE=1; wall {run.wall:.2f} s, CPU {run.cpu:.2f} s, "
          f"peak RSS {mb(run.peak_rss)}; load average {load()})")
    if clock is not None:
        before = clock - run.started
        print(f"   {0.0:7.2f} {before:6.2f} {'':6}  {'':<10} interpreter start, imports, argument parsing")
    for line in lines:
        if line.split()[:1] != ["clock"]:
            print(f"  {line}")
    if clock is not None:
        end = next((float(line.split()[0]) for line in lines if line.split()[-1:] == ["end"]), None)
        if end is not None:
            exit_seconds = run.wall - (clock - run.started) - end
            print(f"   {'':7} {exit_seconds:6.2f} {'':6}  {'':<10} interpreter exit (after 'end')")
        print("  (start: seconds from the command's start; secs: the step's length; cpu: CPU seconds "
              "of all threads meanwhile, shared by steps that overlap)")


def cprofile(seed: int, top: int) -> None:
    code = (
        "import cProfile, pstats, sys\n"
        "from midime_widgets.cli import defer_note_seq_notebook_helpers, main\n"
        "defer_note_seq_notebook_helpers()\n"
        "profiler = cProfile.Profile()\n"
        "profiler.runcall(main, sys.argv[1:])\n"
        f"pstats.Stats(profiler, stream=sys.stdout).sort_stats('cumulative').print_stats({top})\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as folder:
        command = [sys.executable, "-c", code, *job_command(Path(folder) / "out", seed)[3:]]
        run = Run(command, child_env())
    print()
    print(f"cProfile of one job in-process (its overhead makes Python-heavy steps look slower; "
          f"wall {run.wall:.2f} s):")
    print(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="the job's --seed (default: 0)")
    parser.add_argument("--profile", action="store_true", help="also print one job's stages")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also print the N costliest functions of one in-process job")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    measure(args.runs, args.seed)
    if args.profile:
        profile(args.seed)
    if args.cprofile:
        cprofile(args.seed, args.cprofile)


if __name__ == "__main__":
    main()
