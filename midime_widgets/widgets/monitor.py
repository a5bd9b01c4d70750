"""Live training progress: a thread-safe, throttled loss stream and the ``TrainingMonitor`` widget.

Training runs in a background thread; the kernel's main thread stays free for slider events. From
the trainer thread we only set traits and call ``send()`` (safe over IOPub; never print/display
there). Updates are throttled to at most ``1 / min_interval`` per second (5 Hz by default) so a fast
trainer cannot flood the websocket: loss points are batched into small float32 deltas sent as
custom messages; the summary ``training`` trait (epoch, progress, elapsed …) is set on each flush.

Wire format of a loss message: ``{"type": "loss", "reset": bool, "n": k}`` plus one buffer of
``k × 4`` little-endian float32 rows ``(epoch, total, reconstruction, kl)``.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any
from collections.abc import Callable, Mapping

import numpy as np
import traitlets

from ._base import MidimeWidget
from .device import describe_device

IDLE, RUNNING, DONE, STOPPED, ERROR = "idle", "running", "done", "stopped", "error"
COLUMNS = ("epoch", "total", "reconstruction", "kl")


def idle_status(device: str = "") -> dict[str, Any]:
    return {"state": IDLE, "epoch": 0, "total": 0, "elapsed": 0.0, "device": device,
            "message": "", "losses": None, "updates": 0}


class LossStream:
    """Collects per-epoch losses from any thread and forwards them to a widget, throttled.

    ``widget`` needs a ``training`` Dict trait and ``send``. ``update`` may be called from the
    trainer thread at any rate; ``finish`` flushes what is left (the final flush) and sets the end
    state. ``replay`` re-sends the whole history (for a view that renders late).
    """

    def __init__(self, widget: Any, *, min_interval: float = 0.2,
                 clock: Callable[[], float] = time.monotonic,
                 lock: threading.RLock | None = None) -> None:
        self.widget = widget
        self.min_interval = float(min_interval)
        self.clock = clock
        # Pass the widget's own lock when other threads also set its traits (see panel.py).
        self._lock = lock if lock is not None else threading.RLock()
        self._rows: list[tuple[float, float, float, float]] = []
        self._sent = 0
        self._last_flush = -math.inf
        self._started = clock()
        self._status = dict(widget.training) if getattr(widget, "training", None) else idle_status()
        self.flushes = 0

    # -- state ---------------------------------------------------------------------------------
    @property
    def history(self) -> dict[str, np.ndarray]:
        """Every loss point so far, as columns ``epoch, total, reconstruction, kl``."""
        with self._lock:
            arr = np.asarray(self._rows, dtype=np.float64).reshape(-1, 4)
        return {name: arr[:, i].copy() for i, name in enumerate(COLUMNS)}

    @property
    def state(self) -> str:
        return self._status["state"]

    # -- producer side -------------------------------------------------------------------------
    def start(self, total_epochs: int, *, device: str | None = None, message: str = "") -> None:
        """Begin a run: clears the history (in Python and in every view)."""
        with self._lock:
            self._rows.clear()
            self._sent = 0
            self._started = self.clock()
            self._last_flush = -math.inf
            self._status = {**idle_status(describe_device() if device is None else device),
                            "state": RUNNING, "total": int(total_epochs), "message": message}
            self._send_rows(reset=True, rows=[])
            self._push_status()

    def restart_clock(self, message: str | None = None) -> None:
        """Count elapsed time from now (call when the fit itself begins, after set-up)."""
        with self._lock:
            self._started = self.clock()
            if message is not None:
                self._status["message"] = message
            self._push_status()

    def update(self, epoch: int, total: int, losses: Mapping[str, float]) -> None:
        """Record one epoch (``epoch`` counts from 1, as MidiMe.fit reports it); thread-safe."""
        row = (float(epoch), float(losses.get("total", math.nan)),
               float(losses.get("reconstruction", math.nan)), float(losses.get("kl", math.nan)))
        with self._lock:
            self._rows.append(row)
            self._status["total"] = int(total)
            if self.clock() - self._last_flush >= self.min_interval:
                self._flush_locked()

    __call__ = update

    def flush(self) -> None:
        """Send whatever is pending now, regardless of the throttle."""
        with self._lock:
            self._flush_locked()

    def finish(self, state: str = DONE, message: str = "") -> None:
        """Final flush and end state (done / stopped / error)."""
        with self._lock:
            self._status["state"] = state
            self._status["message"] = message
            self._flush_locked(force_status=True)

    def replay(self) -> None:
        """Send the whole history as one reset message (a view rendered after training began)."""
        with self._lock:
            self._send_rows(reset=True, rows=self._rows)
            self._sent = len(self._rows)

    # -- internals -----------------------------------------------------------------------------
    def _flush_locked(self, force_status: bool = False) -> None:
        pending = self._rows[self._sent:]
        if not pending and not force_status:
            return
        if pending:
            self._send_rows(reset=False, rows=pending)
            self._sent = len(self._rows)
            last = pending[-1]
            self._status["epoch"] = int(last[0])
            self._status["losses"] = {"total": last[1], "reconstruction": last[2], "kl": last[3]}
        self._last_flush = self.clock()
        self.flushes += 1
        self._status["updates"] = self.flushes
        self._push_status()

    def _send_rows(self, *, reset: bool, rows: list[tuple[float, ...]]) -> None:
        data = np.asarray(rows, dtype="<f4").reshape(-1, 4)
        self.widget.send({"type": "loss", "reset": reset, "n": int(data.shape[0])},
                         buffers=[data.tobytes()])

    def _push_status(self) -> None:
        self._status["elapsed"] = round(self.clock() - self._started, 3)
        self.widget.training = _json_safe(dict(self._status))


def _json_safe(status: dict[str, Any]) -> dict[str, Any]:
    losses = status.get("losses")
    if losses:
        status["losses"] = {k: (v if math.isfinite(v) else None) for k, v in losses.items()}
    return status


class TrainingMonitor(MidimeWidget):
    """Live loss curves (total, reconstruction, KL) and a progress bar for any training loop.

    Use it as MidiMe's progress callback; it is thread-safe and throttled (≤ 5 updates a second)::

        monitor = TrainingMonitor()
        display(monitor)
        monitor.start(epochs)
        midime.fit(z, epochs, on_progress=monitor.update)   # or in a thread
        monitor.finish()
    """

    _view = traitlets.Unicode("training").tag(sync=True)
    training = traitlets.Dict(default_value=idle_status()).tag(sync=True)
    title = traitlets.Unicode("Training").tag(sync=True)

    def __init__(self, *, min_interval: float = 0.2, title: str = "Training", **kwargs: Any) -> None:
        super().__init__(title=title, **kwargs)
        self.stream = LossStream(self, min_interval=min_interval)
        self.on_msg(self._on_frontend_msg)

    def start(self, total_epochs: int, *, device: str | None = None) -> None:
        self.stream.start(total_epochs, device=device)

    def update(self, epoch: int, total: int, losses: Mapping[str, float]) -> None:
        """``on_progress(epoch, total, {"total", "reconstruction", "kl"})``; starts a run lazily."""
        if self.stream.state != RUNNING:
            self.stream.start(total)
        self.stream.update(epoch, total, losses)
        if epoch >= total:
            self.stream.finish(DONE)

    __call__ = update

    def finish(self, state: str = DONE, message: str = "") -> None:
        self.stream.finish(state, message)

    @property
    def history(self) -> dict[str, np.ndarray]:
        return self.stream.history

    def _on_frontend_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ready":
            self.stream.replay()
