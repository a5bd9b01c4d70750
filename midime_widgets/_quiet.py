"""Quiet by default: TensorFlow's log lines never reach a notebook or the terminal.

TensorFlow prints C++ log lines to the process's stderr: some before its own log settings apply
(oneDNN notes, "Could not find cuda drivers"), the rest (CUDA probing errors on CPU-only machines)
at the level ``TF_CPP_MIN_LOG_LEVEL`` allows. A notebook shows every one of them in red above the
output. :func:`configure` (run when ``midime_widgets`` is imported) raises the level to errors-off
and silences stderr at the C level for the moment ``tensorflow`` is first imported, whichever
module imports it; :func:`hide_native_stderr` does the same for the whole life of a CLI process.

``MIDIME_WIDGETS_DEBUG=1``, or a ``TF_CPP_MIN_LOG_LEVEL`` the user set before importing us, keeps
every line.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator

DEBUG_ENV = "MIDIME_WIDGETS_DEBUG"
LEGACY_DEBUG_ENV = "MIDIME_WIDGETS_NATIVE_LOGS"  # the CLI's earlier name for the same switch
TF_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
# Marks the level as ours, so that a child process (the CLI run from a notebook or a test) does
# not mistake it for the user's choice.
OURS_ENV = "MIDIME_WIDGETS_QUIET_TF_LEVEL"
QUIET_LEVEL = "3"


def wants_logs() -> bool:
    """True when the user asked for TensorFlow's log lines."""
    user_level = TF_LEVEL_ENV in os.environ and os.environ.get(OURS_ENV) != os.environ[TF_LEVEL_ENV]
    return os.environ.get(DEBUG_ENV) == "1" or os.environ.get(LEGACY_DEBUG_ENV) == "1" or user_level


def configure() -> None:
    """Silence TensorFlow's logs from its first import on (unless :func:`wants_logs`)."""
    if wants_logs():
        return
    os.environ[TF_LEVEL_ENV] = os.environ[OURS_ENV] = QUIET_LEVEL
    if "tensorflow" in sys.modules:
        quiet_python_loggers()
    elif not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send C-level writes to fd 2 to /dev/null for the duration (Python's own writes go
    through ``sys.stderr`` objects, which a notebook does not route through fd 2)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_python_loggers() -> None:
    """TensorFlow's and absl's Python loggers: errors only."""
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl = sys.modules.get("absl.logging")
    if absl is not None:
        absl.set_verbosity(absl.ERROR)


def hide_native_stderr() -> None:
    """For a CLI process: C-level writes to fd 2 go to /dev/null for good, while Python's
    ``sys.stderr`` (our messages, warnings, tracebacks) keeps the real stderr."""
    if wants_logs():
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                               errors="backslashreplace")
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, captured): leave it
        pass


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, wrapping its loader so the import runs with stderr silenced."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = self._loader  # later reloads use TensorFlow's own loader
        with native_stderr_silenced():
            self._loader.exec_module(module)
        quiet_python_loggers()
