"""Ctrl-C for long commands: one line, exit status 130 within a second, nothing half-written.

Python runs a signal handler only between bytecodes of the main thread, which can sit in one
TensorFlow call for many seconds. So the handler does nothing itself; the signal also wakes a
watcher thread (through `signal.set_wakeup_fd`), and that thread removes the run's temporary
folders and ends the process. A publishing step in progress (`guard.critical()`) finishes first,
so the output folder holds either the old results or the new ones.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class InterruptGuard:
    """Context manager; `temporary` holds folders to remove when interrupted."""

    def __init__(self, message: str = "interrupted: nothing was written"):
        self.message = message
        self.temporary: list[Path] = []
        self._lock = threading.Lock()
        self._installed = False

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach only the main thread: nothing to guard here
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        try:
            self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        except (ValueError, OSError):  # no pipe wake-ups here (Windows): KeyboardInterrupt it is
            os.close(self._read)
            os.close(self._write)
            return self
        self._old_handler = signal.signal(signal.SIGINT, lambda signum, frame: None)
        threading.Thread(target=self._watch, name="midime-interrupt", daemon=True).start()
        self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if not self._installed:
            return
        signal.set_wakeup_fd(self._old_fd)
        signal.signal(signal.SIGINT, self._old_handler)
        os.close(self._write)  # the watcher reads end-of-file and returns
        self._installed = False

    @contextlib.contextmanager
    def critical(self):
        """A step that must not be cut in half (publishing the results)."""
        with self._lock:
            yield

    def _watch(self) -> None:
        try:
            while True:
                data = os.read(self._read, 64)
                if not data:
                    return
                if signal.SIGINT in data:
                    self._exit()
        finally:
            with contextlib.suppress(OSError):
                os.close(self._read)

    def cleanup(self) -> int:
        """Remove the temporary folders and say so; returns the exit status for Ctrl-C."""
        for folder in self.temporary:
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            print(f"\n{self.message}" if _mid_line() else self.message, file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED

    def _exit(self) -> None:
        with self._lock:  # waits for a publish in progress
            os._exit(self.cleanup())


_line_open = threading.Event()  # set while a progress bar line lacks its newline


def _mid_line() -> bool:
    return _line_open.is_set()


def progress_line_open(is_open: bool) -> None:
    """Progress bars say whether their line is unfinished, so the message starts on a new line."""
    (_line_open.set if is_open else _line_open.clear)()
