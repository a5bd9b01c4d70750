"""Where a command's time goes, and work that runs beside it.

`Stages` times the named steps of a run. With ``MIDIME_WIDGETS_PROFILE=1`` the command prints
one line per step to stderr when it ends (``profile:`` lines: start and length in seconds from
the command's start, the process's CPU seconds meanwhile, the thread, the step), so a slow step
shows at once; benchmarks/bench_cli.py reads them. CPU seconds count every thread (TensorFlow's
own included), so they depend less on what else runs than wall time does, but steps that run
side by side share theirs. Otherwise timing costs nothing and prints nothing.

`Background` runs one step in a daemon thread while the main thread goes on (TensorFlow
releases the interpreter lock while its kernels and compilers run, so a compile overlaps with
training), and hands back its result, or its exception, when joined. Being a daemon, it never
holds up the exit of a run that failed or was interrupted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

PROFILE_ENV = "MIDIME_WIDGETS_PROFILE"
PREFIX = "profile:"


class Stages:
    """Wall-clock times of a run's steps, from any thread: ``with stages("train MidiMe"): ...``."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = os.environ.get(PROFILE_ENV) == "1" if enabled is None else enabled
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        self.rows: list[tuple[float, float, float, str, str]] = []  # start, secs, CPU, thread, step
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            if self.enabled:
                row = (start - self.started, time.perf_counter() - start, time.process_time() - cpu,
                       threading.current_thread().name, name)
                with self._lock:
                    self.rows.append(row)

    def report(self, file=None) -> None:
        """The ``profile:`` lines (when enabled), in order of start; the clock line gives the
        command's start on the system's monotonic clock, for a parent process's timeline."""
        if not self.enabled:
            return
        file = file or sys.stderr
        print(f"{PREFIX} clock {self.started:.6f}", file=file)
        print(f"{PREFIX} {'start':>7} {'secs':>6} {'cpu':>6}  {'thread':<10} step", file=file)
        for start, seconds, cpu, thread, name in sorted(self.rows):
            print(f"{PREFIX} {start:7.2f} {seconds:6.2f} {cpu:6.2f}  {thread:<10} {name}", file=file)
        print(f"{PREFIX} {time.perf_counter() - self.started:7.2f} {'':6} "
              f"{time.process_time() - self.cpu_started:6.2f}  {'':<10} end", file=file, flush=True)


class Background:
    """`fn()` in a daemon thread named `name`; `result()` waits for it and returns its value
    (or raises its exception)."""

    def __init__(self, name: str, fn: Callable[[], Any]):
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the thread that asks for the result
            self._error = exc

    def wait(self) -> None:
        """Wait for it to end, whatever the outcome."""
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
