"""Background warm-up: build the compiled programs a panel's controls use before they are used.

TensorFlow traces, and XLA compiles, each program on its first call: a second or more per
program on a small CPU. A panel's controls need a few of them (the encoder when music is added,
the decoder for every slider move, the MidiMe's training functions for Train), always in the same
shapes: the decoder runs one code at a time, and the encoder and the MidiMe take any batch size
without tracing again. So the panel runs each of them once, on dummy inputs, in a background
thread right after it is displayed, and the first real use finds it ready.

While the warm-up runs, it alone builds the MusicVAE's programs (``MusicVAECore.builds_programs``):
a control that needs one it has not built yet does not wait for or start a compilation, it runs
that call uncompiled (a few hundred ms instead of seconds). The MidiMe's compiled functions are
shared by every MidiMe of the same shape. The warm-up holds none of the panel's locks and sets no
traits, and it stops between steps when the panel closes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: One warm-up step: its name and the call that builds its program.
Step = tuple[str, Callable[[], Any]]


def warm_up_steps(vae: Any, midime_config: Any, temperature: float) -> list[Step]:
    """The warm-up of a panel over ``vae`` whose MidiMe has ``midime_config`` and whose decoder
    samples at ``temperature``; each step calls the real code path once on zeros.

    First the stand-in the decoder uses until its compiled program is built (a fraction of a
    second), since every control that shows music decodes, adding music first of all. Then the
    MidiMe's training, which has no uncompiled stand-in: Train's first epoch waits for it. Then the decoder, which every control that shows music needs, the encoder
    (adding music; it runs in the upload thread anyway), and the rarer programs. Until a
    MusicVAE program is built, the controls run an uncompiled stand-in of it (about 0.1 s per
    call; see ``MusicVAECore._compiled_or_stand_in``).
    """
    config = vae.config
    window = np.zeros((config.max_seq_len, config.input_depth), np.float32)
    code = np.zeros((1, config.z_size), np.float32)

    def encode(rows: int) -> Callable[[], Any]:
        return lambda: vae.encode_tensors(np.repeat(window[None], rows, 0), [len(window)] * rows)

    def decode(at: float) -> Callable[[], Any]:
        return lambda: vae.decode_to_tensors(code, temperature=at, seed=0)

    other = 0.0 if temperature else 0.5  # greedy and sampled decoding are separate programs
    core = getattr(vae, "core", None)
    stand_in = ([(f"decoder stand-in at temperature {temperature:g}",
                  lambda: core.build_stand_in(config.max_seq_len, temperature))]
                if hasattr(core, "build_stand_in") else [])
    return [
        *stand_in,
        ("MidiMe training", lambda: _train_throwaway_midime(midime_config)),
        (f"decoder at temperature {temperature:g}", decode(temperature)),
        ("encoder, a few windows", encode(1)),
        ("encoder, many windows", lambda: encode(_many_rows())()),
        (f"decoder at temperature {other:g}", decode(other)),
    ]


def builds_programs(vae: Any) -> AbstractContextManager:
    """The context in which a warm-up builds ``vae``'s programs (``MusicVAECore.builds_programs``);
    nothing for a model without them."""
    core = getattr(vae, "core", None)
    return core.builds_programs() if hasattr(core, "builds_programs") else contextlib.nullcontext()


def _many_rows() -> int:
    """A batch big enough for the encoder's many-rows program (see ``models.lstm``)."""
    from ..models.lstm import FUSED_MAX_ROWS

    return FUSED_MAX_ROWS


def _train_throwaway_midime(midime_config: Any) -> None:
    """One epoch of a MidiMe of this shape, then encode and decode: traces the functions that
    every MidiMe of the shape shares (``models.midime``), so Train's first epoch comes at once."""
    from ..models.midime import MidiMe

    midime = MidiMe(midime_config)
    codes = np.zeros((2, midime_config.input_size), np.float32)
    midime.fit(codes, epochs=1)
    _, mu, _ = midime.encode(codes)
    midime.decode(mu)


class WarmUp:
    """Runs ``steps`` in a daemon thread, inside ``context()`` (e.g. :func:`builds_programs`);
    :meth:`stop` ends it after the current step."""

    def __init__(self, steps: list[Step], *, context: Callable[[], AbstractContextManager] = contextlib.nullcontext,
                 name: str = "midime-warmup") -> None:
        self.steps = list(steps)
        self._context = context
        self.done: list[str] = []  # names of the steps that ran, in order
        self.seconds: dict[str, float] = {}  # how long each step took
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> WarmUp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up ends; True if it ended within ``timeout``."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        with self._context():  # e.g. waits for another panel's warm-up of the same model
            for name, step in self.steps:
                if self._stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    step()
                except Exception:  # a failed step only leaves its program to its first use
                    log.debug("warm-up step %r failed", name, exc_info=True)
                else:
                    self.done.append(name)
                self.seconds[name] = time.perf_counter() - started
