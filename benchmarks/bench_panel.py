"""How responsive is the Jupyter panel? One in-process run, no browser.

Drives ``MidiMePanel``'s Python side exactly as the front end does (``js/src/panel.js``): custom
messages (``{"type": "example", ...}``, ``"vae_window"``, ``"train"`` …) go through the widget's
message handler, slider moves are trait changes from the browser (``set_state``), and what the
panel sends back is timestamped at the widget's ``_send``. The MusicVAE is the default one,
loaded before the clock starts (a warm kernel with the model in memory); nothing else is warmed.

Figures, each printed beside its target:

* **display → interactive**: from ``MidiMePanel(vae)`` until the constructor, the display
  (``_repr_mimebundle_``) and the front end's first message (``ready``) have all returned on
  the main thread, and no lock a control's handler takes is held by the panel's background work
  at that moment (checked by acquiring each one without waiting). From then on the kernel is free
  and every control's handler can run; what the background warm-up still does shows up in the
  action latencies below, which start right away.
* **Train → first epoch on the chart**: from the ``train`` message until the first loss row
  reaches the front end (the ``loss`` message with ``n > 0``).
* **each action, first and second use**, right after the panel is interactive, in the order a
  user meets them, and once more after the background warm-up has ended (**warm**, the
  reference measured in this run, so the figures stay meaningful on a loaded machine). An
  action's latency runs from the message (or slider change) until its result is sent: for a
  load, until the upload thread has finished. Target: no stall for compilation, i.e. no first
  use more than 0.3 s above the warm one. Beside it: which programs were compiled on the
  action's own path (traced or XLA-compiled by the thread serving it, or waited for), from the
  MusicVAE's and the MidiMe's compile bookkeeping, which does not depend on the machine's load,
  and how many calls ran uncompiled because the warm-up was still building their program.

    python benchmarks/bench_panel.py            # prints a table; exit status 0 either way
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

INTERACTIVE_TARGET = 1.0  # s, display → interactive
FIRST_EPOCH_TARGET = 1.0  # s, Train → first epoch on the chart
STALL_TARGET = 0.3  # s, an action's first use beyond its warm use


class Recorder:
    """Timestamps everything the panel sends to the front end (state updates and messages)."""

    def __init__(self, panel):
        self.events: list[tuple[float, dict]] = []
        self._lock = threading.Lock()
        panel._send = self._send

    def _send(self, msg, buffers=None):
        with self._lock:
            self.events.append((time.perf_counter(), msg))

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def first(self, since: int, predicate) -> float | None:
        with self._lock:
            for stamp, msg in self.events[since:]:
                if predicate(msg):
                    return stamp
        return None

    def wait(self, since: int, predicate, timeout: float = 120.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            stamp = self.first(since, predicate)
            if stamp is not None:
                return stamp
            time.sleep(0.002)
        raise TimeoutError("the panel never sent what was waited for")


def updates(*names):
    """A state update from Python that carries every trait in ``names``."""
    def predicate(msg):
        return msg.get("method") == "update" and all(n in msg.get("state", {}) for n in names)
    return predicate


def first_loss(msg) -> bool:
    content = msg.get("content") or {}
    return msg.get("method") == "custom" and content.get("type") == "loss" and content.get("n", 0) > 0


class CompileWatch:
    """Counts, per thread, the programs built outside the warm-up thread (a compilation on some
    action's path) and the calls that ran uncompiled meanwhile."""

    def __init__(self, vae):
        from midime_widgets.models import midime

        self.built: list[tuple[float, str]] = []
        self.uncompiled: list[tuple[float, str]] = []
        programs = getattr(vae.core, "_programs", None)
        self.available = programs is not None  # a version without the bookkeeping: no counts
        if not self.available:
            return
        claim = programs.claim

        def watched_claim(key, **options):
            result = claim(key, **options)
            self._note(result == "build", result == "busy", f"MusicVAE {key[0]}")
            return result

        programs.claim = watched_claim
        shared_call = midime._SharedFunctions.call
        watch = self

        def watched_call(functions, name, *args):
            watch._note(name not in functions._traced, False, f"MidiMe {name}")
            return shared_call(functions, name, *args)

        midime._SharedFunctions.call = watched_call

    def _note(self, built: bool, uncompiled: bool, what: str) -> None:
        if threading.current_thread().name == "midime-warmup":
            return
        if built:
            self.built.append((time.perf_counter(), what))
        if uncompiled:
            self.uncompiled.append((time.perf_counter(), what))

    def between(self, start: float, end: float) -> tuple[list[str], int]:
        built = [w for t, w in self.built if start <= t <= end]
        return built, sum(1 for t, _ in self.uncompiled if start <= t <= end)


def message(panel, content):
    panel._handle_custom_msg(content, [])


def locks_free(panel) -> bool:
    """No lock a control's handler takes is held by another thread right now."""
    free = True
    for lock in (panel._pipeline_lock, panel._decode_lock, panel._sync_lock):
        if lock.acquire(blocking=False):
            lock.release()
        else:
            free = False
    return free


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def main() -> int:
    load = os.getloadavg()
    import numpy as np  # noqa: F401  (the warm kernel's imports)

    from midime_widgets import MusicVAE
    from midime_widgets.widgets import MidiMePanel

    started = time.perf_counter()
    vae = MusicVAE.default()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min); "
          f"{os.cpu_count()} CPUs; default MusicVAE loaded in {time.perf_counter() - started:.2f} s")

    watch = CompileWatch(vae)

    # -- display → interactive --------------------------------------------------------------
    t0 = time.perf_counter()
    panel = MidiMePanel(vae, seed=0)
    rec = Recorder(panel)
    panel._repr_mimebundle_()
    message(panel, {"type": "ready"})
    t_interactive = time.perf_counter() - t0
    free = locks_free(panel)

    # -- actions right after interactive --------------------------------------------------------
    actions: list[dict] = []

    def timed(fn, done) -> tuple[float, list[str], int]:
        mark = rec.mark()
        t = time.perf_counter()
        fn()
        end = rec.wait(mark, done)
        return (end - t, *watch.between(t, end))

    def act(name, first, again, done, before_again=lambda: None):
        """First use, then at once a second use (``before_again`` sets it up, untimed)."""
        took, built, uncompiled = timed(first, done)
        before_again()
        second = timed(again, done)[0]
        actions.append({"name": name, "first": took, "second": second, "built": built,
                        "uncompiled": uncompiled, "again": (again, done, before_again)})

    def load(name):
        def run():
            message(panel, {"type": "example", "name": name})
            panel.wait_loading(120)
        return run

    def remove_first_song():
        message(panel, {"type": "remove_file", "file": 0})

    # The second load adds the same song again after removing it: the same shapes.
    act("load an example", load("folk_reel"), load("folk_reel"), updates("files", "vae_roll"),
        before_again=remove_first_song)
    act("next window (▶)", lambda: message(panel, {"type": "vae_window", "index": panel.vae_window + 1}),
        lambda: message(panel, {"type": "vae_window", "index": max(0, panel.vae_window - 1)}),
        updates("vae_roll"))
    act("MusicVAE slider", lambda: panel.set_state({"vae_values": [v + 0.5 for v in panel.vae_values]}),
        lambda: panel.set_state({"vae_values": [v - 0.5 for v in panel.vae_values]}), updates("vae_roll"))
    act("random music", lambda: message(panel, {"type": "vae_sample"}),
        lambda: message(panel, {"type": "vae_sample"}), updates("vae_roll"))

    # -- Train → first epoch -------------------------------------------------------------------
    def train_once() -> tuple[float, list[str]]:
        mark = rec.mark()
        t = time.perf_counter()
        message(panel, {"type": "train"})
        first = rec.wait(mark, first_loss)
        panel.wait_training(300)
        return first - t, watch.between(t, first)[0]

    t_epoch, train_built = train_once()
    t_epoch_second, _ = train_once()

    latent = panel.midime.config.latent_size
    act("MidiMe slider", lambda: panel.set_state({"midime_values": [0.5] * latent}),
        lambda: panel.set_state({"midime_values": [-0.5] * latent}), updates("midime_roll"))
    act("new sample", lambda: message(panel, {"type": "midime_sample"}),
        lambda: message(panel, {"type": "midime_sample"}), updates("gallery", "midime_roll"))
    act("click on the map", lambda: message(panel, {"type": "pick", "kind": "xy", "x": 0.3, "y": -0.2}),
        lambda: message(panel, {"type": "pick", "kind": "xy", "x": -0.3, "y": 0.2}), updates("midime_roll"))

    # -- the warm reference: every action again once the warm-up has ended -------------------------
    started_wait = time.perf_counter()
    warm_up_ended = panel.wait_warm_up(600) if hasattr(panel, "wait_warm_up") else True
    warm_up_wait = time.perf_counter() - started_wait
    t_epoch_warm, _ = train_once()
    for action in actions:
        again, done, before_again = action["again"]
        before_again()
        action["warm"] = timed(again, done)[0]
    warm = getattr(panel, "_warm", None)
    panel.close()

    def paths(built: list[str]) -> str:
        return (", ".join(built) or "none") if watch.available else "n/a"

    print()
    print(f"{'figure':<34}{'measured':>9}  {'target':<21}{'2nd use':>8}  {'warm':>7}  "
          f"{'compiled on its path':<21}result")
    print(f"{'display → interactive':<34}{t_interactive:>7.3f} s  {'≤ 1 s':<21}{'':>8}  {'':>7}  "
          f"{'':<21}{verdict(t_interactive, INTERACTIVE_TARGET) if free else 'NOT met (a lock was held)'}")
    print(f"{'Train → first epoch on the chart':<34}{t_epoch:>7.3f} s  {'≤ 1 s':<21}"
          f"{t_epoch_second:>6.3f} s  {t_epoch_warm:>5.3f} s  {paths(train_built):<21}"
          f"{verdict(t_epoch, FIRST_EPOCH_TARGET)}")
    for action in actions:
        result = verdict(action["first"] - action["warm"], STALL_TARGET)
        if action["uncompiled"]:
            n = action["uncompiled"]
            result += f" ({n} call{'s' if n > 1 else ''} ran uncompiled)"
        print(f"{action['name'] + ' (first use)':<34}{action['first']:>7.3f} s  "
              f"{f'≤ warm + {STALL_TARGET:g} s':<21}{action['second']:>6.3f} s  {action['warm']:>5.3f} s  "
              f"{paths(action['built']):<21}{result}")
    if any(a["uncompiled"] and not a["built"] and a["first"] - a["warm"] > STALL_TARGET for a in actions):
        print("\nA first use that compiled nothing on its path but ran uncompiled is as slow as the op-by-op "
              "run is on this machine now (about 0.1 s of CPU per MusicVAE call, stretched by the load "
              "and by the warm-up compiling beside it), not a wait for a compilation.")
    if warm is not None:
        print(f"\nwarm-up: {'ended' if warm_up_ended else 'still running'} "
              f"{warm_up_wait:.1f} s after the last action; built "
              + ", ".join(f"{name} ({warm.seconds[name]:.1f} s)" for name in warm.done))
    if not watch.available:
        print("\n(this version keeps no compile bookkeeping: 'compiled on its path' is not measured)")
    load_end = os.getloadavg()
    print(f"\nload average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
