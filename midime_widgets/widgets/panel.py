"""``MidiMePanel``: the whole MidiMe workflow in one widget, as a view over one ``Personalizer``.

Sections, in the order a user meets them (``js/src/panel.js`` draws them):

1. **Your music** — add MIDI files (picker, drag & drop, examples) and remove them one by one;
   which track was taken as the melody and why (changeable); piano roll and play.
2. **What the MusicVAE hears** — the input's windows as codes; the most informative features as a
   chart and sliders that re-decode live; random music from the MusicVAE at a temperature.
3. **Train MidiMe** — trains in a background thread until ``Personalizer.fit`` stops (or Stop);
   streams the loss, throttled; says when the MidiMe no longer matches the music and offers to
   retrain.
4. **Your personalized space** — one slider per MidiMe feature, new samples in a gallery with the
   novelty readout, a 2-D map where a click loads a point.
5. **Keep it** — downloads, and the trained MidiMe saved or loaded under the kernel's folder.

Every pipeline step (inputs, codes, training, stop, samples, novelty, save/load) is a call on
``panel.pipeline``, the same ``Personalizer`` the CLI and the notebooks use; the panel holds only
what it shows (the gallery, the current points). A failed action changes nothing.

Threading: uploads and training run in background threads; from there the panel only sets traits
or sends messages, under ``self._sync_lock`` (ipywidgets' ``hold_sync`` is not thread-safe). One
lock, ``self._pipeline_lock``, serialises changes to the pipeline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import tempfile
import threading
import traceback
import warnings
import weakref
import zipfile
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import traitlets

from ..errors import CheckpointError, MidiError, TrainingError
from ..music.midi_io import MidiWarning
from ..personalize import SAMPLE_TEMPERATURE, Personalizer, summarize
from ._base import MidimeWidget
from .device import model_info
from .examples import example_bytes, example_label, example_menu
from .inputs import check_size, describe_song, read_source
from .latent import Projection2D, rank_dims
from .model import MusicModel, require_model
from .monitor import DONE, ERROR, STOPPED, LossStream, idle_status
from .serialization import empty_wire, sequence_to_wire
from .warmup import WarmUp, builds_programs, warm_up_steps

log = logging.getLogger(__name__)

USER_ERRORS = (MidiError, CheckpointError, TrainingError)
MAX_GALLERY = 24
#: The decoding temperature of every sample the panel makes: the pipeline's own default.
DEFAULT_TEMPERATURE = SAMPLE_TEMPERATURE

#: Live panels of this kernel: a new panel stops the training of the older ones.
_LIVE: weakref.WeakSet[MidiMePanel] = weakref.WeakSet()


@dataclasses.dataclass
class GalleryItem:
    """One sample in the gallery: the pipeline's Sample, its decoding seed and novelty readout."""

    id: int
    sample: Any  # personalize.Sample
    seed: int
    novelty: dict[str, Any]

    @property
    def label(self) -> str:
        return f"Sample {self.id}"

    @property
    def sequence(self) -> Any:
        return self.sample.sequence

    @property
    def z_small(self) -> np.ndarray:
        return self.sample.z_small


def _floats(values: Iterable[float], digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


class MidiMePanel(MidimeWidget):
    """Personalize a MusicVAE with your own MIDI (MidiMe), end to end, in one widget.

    ``vae``: a ``MusicVAE`` (default: ``MusicVAE.default()``, the embedded model), or a
    ``Personalizer`` to show (its songs and MidiMe included).
    ``n_vae_sliders``: how many MusicVAE features get a slider (the most informative ones).
    ``initial_samples``: samples put in the gallery when training ends.
    ``midime_options``: extra ``MidiMeConfig`` fields (e.g. smaller layers for quick tests).
    ``seed``: makes the panel's samples repeatable.
    ``warm_up``: build the compiled programs the controls use (encoder, decoder, MidiMe training)
    in a background thread right away, so that no control waits for a compilation.
    ``train_in_thread``: train in a background thread (default everywhere but Colab, whose front
    end does not show updates sent from other threads).
    """

    _view = traitlets.Unicode("panel").tag(sync=True)

    model_info = traitlets.Dict().tag(sync=True)
    # 1. your music
    examples = traitlets.List(traitlets.Dict()).tag(sync=True)
    files = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected_file = traitlets.Int(0).tag(sync=True)
    input_roll = traitlets.Dict(default_value=empty_wire()).tag(sync=True)
    n_windows = traitlets.Int(0).tag(sync=True)
    max_upload_bytes = traitlets.Int(0).tag(sync=True)
    loading = traitlets.Unicode("").tag(sync=True)  # "" or what is being loaded
    error = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    # 2. what the MusicVAE hears
    vae_dims = traitlets.List(traitlets.Int()).tag(sync=True)
    vae_values = traitlets.List(traitlets.Float()).tag(sync=True)
    vae_stats = traitlets.Dict().tag(sync=True)
    vae_roll = traitlets.Dict(default_value=empty_wire()).tag(sync=True)
    vae_label = traitlets.Unicode("").tag(sync=True)
    vae_window = traitlets.Int(-1).tag(sync=True)
    temperature = traitlets.Float(DEFAULT_TEMPERATURE).tag(sync=True)
    # 3. training
    latent_size = traitlets.Int(4).tag(sync=True)
    beta = traitlets.Float(1.0).tag(sync=True)
    training = traitlets.Dict(default_value=idle_status()).tag(sync=True)
    # 4. personalized space
    has_midime = traitlets.Bool(False).tag(sync=True)
    midime_current = traitlets.Bool(False).tag(sync=True)  # trained on the music listed now
    midime_values = traitlets.List(traitlets.Float()).tag(sync=True)
    midime_roll = traitlets.Dict(default_value=empty_wire()).tag(sync=True)
    midime_label = traitlets.Unicode("").tag(sync=True)
    gallery = traitlets.List(traitlets.Dict()).tag(sync=True)
    current_sample = traitlets.Int(-1).tag(sync=True)
    latent_map = traitlets.Dict().tag(sync=True)
    novelty_summary = traitlets.Dict().tag(sync=True)
    # 5. keep it
    save_path = traitlets.Unicode("my_midime").tag(sync=True)

    def __init__(self, vae: Any = None, *, n_vae_sliders: int = 16, initial_samples: int = 4,
                 midime_options: dict[str, Any] | None = None, seed: int | None = None,
                 min_interval: float = 0.2, warm_up: bool = True,
                 train_in_thread: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = _pipeline(vae, midime_options, seed)
        self._vae: MusicModel = self.pipeline.vae
        self._z_size = int(self._vae.config.z_size)
        self.n_vae_sliders = min(int(n_vae_sliders), self._z_size)
        self.initial_samples = int(initial_samples)
        self.train_in_thread = (not _in_colab()) if train_in_thread is None else bool(train_in_thread)
        self._rng = np.random.default_rng(seed)
        self._sync_lock = threading.RLock()
        self._pipeline_lock = threading.RLock()
        self._decode_lock = threading.RLock()
        self._quiet = 0  # >0 while we set slider traits ourselves (no re-decode)
        self._rev = 0  # bumped into every decoded roll so each decode redraws
        self._input_mu = np.zeros((0, self._z_size), np.float32)
        self._input_small = np.zeros((0, 0), np.float32)
        self._vae_z = np.zeros(self._z_size, np.float32)
        self._vae_seed = 0
        self._projection: Projection2D | None = None
        self._gallery: list[GalleryItem] = []
        self._next_sample_id = 1
        self._current_vae_seq: Any = None
        self._current_midime_seq: Any = None
        self._current_small: np.ndarray | None = None
        self._point_seed = 0
        self._train_thread: threading.Thread | None = None
        self._load_thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._warm: WarmUp | None = None
        self.stream = LossStream(self, min_interval=min_interval, lock=self._sync_lock)
        with self.hold_sync():
            self.model_info = model_info(self._vae)
            self.examples = example_menu()
            self.training = idle_status(self.model_info["device"])
            self.latent_size = self.pipeline.midime_config.latent_size
            self.beta = self.pipeline.midime_config.beta
            self.max_upload_bytes = _upload_limit()
        self._handlers: dict[str, Callable[[dict, list], Any]] = {
            "ready": lambda c, b: self.stream.replay(),
            "upload": self._msg_upload,
            "example": lambda c, b: self._load_in_background([_example(str(c["name"]))]),
            "remove_file": lambda c, b: self.remove(int(c["file"])),
            "choose_melody": lambda c, b: self.choose_melody(int(c["file"]), int(c["instrument"])),
            "select_file": lambda c, b: self._select_file(int(c["file"])),
            "vae_sample": lambda c, b: self.sample_prior(),
            "vae_window": lambda c, b: self.show_input_window(int(c["index"])),
            "train": lambda c, b: self.train(),
            "stop": lambda c, b: self.stop_training(),
            "midime_sample": lambda c, b: self.new_sample(),
            "pick": lambda c, b: self._msg_pick(c),
            "select_sample": lambda c, b: self.load_sample(int(c["id"])),
            "download": self._msg_download,
            "save_model": lambda c, b: self.save_midime(str(c.get("path") or self.save_path)),
            "load_model": lambda c, b: self.load_midime(str(c.get("path") or self.save_path)),
            "clear_error": lambda c, b: self._set(error=""),
        }
        self.on_msg(self._on_frontend_msg)
        for other in list(_LIVE):
            other.stop_training("Stopped: a newer panel was created in this notebook.")
        _LIVE.add(self)
        if warm_up:  # first, so that showing a Personalizer's songs below waits for no compilation
            self._warm_up()
        if self.pipeline.songs:
            self._after_input_change(selected=0)
        if self.pipeline.midime is not None and self.pipeline.midime.trained:
            self._install_midime()

    # ------------------------------------------------------------------------------------------
    # Public Python API
    # ------------------------------------------------------------------------------------------
    @property
    def vae(self) -> MusicModel:
        """The MusicVAE this panel works with."""
        return self._vae

    @property
    def midime(self) -> Any:
        """The trained (or loaded) MidiMe, or None."""
        midime = self.pipeline.midime
        return midime if midime is not None and midime.trained else None

    @property
    def samples(self) -> list[Any]:
        """The gallery's samples as NoteSequences, oldest first."""
        return [item.sequence for item in self._gallery]

    @property
    def sample_records(self) -> list[GalleryItem]:
        """The gallery with codes, seeds and novelty readouts."""
        return list(self._gallery)

    @property
    def input_windows(self) -> list[Any]:
        """Every input window (``music.Window``) the MusicVAE encoded."""
        return self.pipeline.windows

    @property
    def input_codes(self) -> np.ndarray:
        """MusicVAE ``mu`` of every input window, ``[n, z_size]``."""
        return self._input_mu.copy()

    @property
    def training_history(self) -> dict[str, np.ndarray]:
        """Loss columns (epoch, total, reconstruction, kl) of the last training run."""
        return self.stream.history

    @property
    def fit_history(self) -> Any:
        """``Personalizer.fit``'s history of the last run (None before any)."""
        return self.pipeline.history

    @property
    def is_training(self) -> bool:
        return self._train_thread is not None and self._train_thread.is_alive()

    def load(self, *sources: Any) -> None:
        """Add MIDI files (paths or bytes) to the music. Each bad file is named in ``error`` and
        changes nothing; raises MidiError when none could be added."""
        self._load_files([read_source(s) for s in sources], raise_all_bad=True)

    def load_bytes(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Add ``[(name, bytes), …]`` to the music (see :meth:`load`)."""
        self._load_files(list(files), raise_all_bad=True)

    def load_example(self, name: str) -> None:
        """Add a bundled example (a name from :attr:`examples`, e.g. ``"folk_band"``)."""
        self._load_files([_example(name)], raise_all_bad=True)

    def remove(self, index: int) -> None:
        """Take song ``index`` (0-based, as listed) out of the music."""
        with self._changing_inputs():
            self.pipeline.remove(index)
            self._after_input_change(selected=min(self.selected_file, max(0, len(self.pipeline.songs) - 1)))

    def clear(self) -> None:
        """Remove every song."""
        with self._changing_inputs():
            while self.pipeline.songs:
                self.pipeline.remove(len(self.pipeline.songs) - 1)
            self._after_input_change(selected=0)

    def choose_melody(self, file_index: int, instrument: int) -> None:
        """Take ``instrument`` as the melody of song ``file_index`` (melody models)."""
        with self._changing_inputs(), warnings.catch_warnings():
            warnings.simplefilter("ignore", MidiWarning)
            self.pipeline.choose_instrument(file_index, instrument)
            self._after_input_change(selected=file_index)

    def sample_prior(self, temperature: float | None = None, seed: int | None = None) -> Any:
        """Decode a random MusicVAE code (the model's own music, no MidiMe) at ``temperature``.

        The decoding seed is kept, so moving the sliders afterwards changes only the code.
        """
        if temperature is not None:
            self.temperature = float(temperature)
        rng = self._rng if seed is None else np.random.default_rng(seed)
        z = rng.standard_normal(self._z_size).astype(np.float32)
        self._vae_seed = int(rng.integers(0, 2**31 - 1))
        seq = self._decode(z, self._vae_seed)
        self._show_vae_point(z, seq, f"random music from the MusicVAE (temperature {self.temperature:g})", -1)
        return seq

    def show_input_window(self, index: int) -> Any:
        """Show input window ``index`` as the MusicVAE plays it back (decoded from its ``mu``)."""
        if not len(self._input_mu):
            raise MidiError("Load a MIDI file first.")
        index = int(np.clip(index, 0, len(self._input_mu) - 1))
        z = self._input_mu[index]
        self._vae_seed = 0
        seq = self._decode(z, self._vae_seed)
        self._show_vae_point(z, seq, f"excerpt {index + 1} of {len(self._input_mu)} of your music, "
                                    "as the MusicVAE plays it back", index)
        return seq

    def train(self, epochs: int | None = None, latent_size: int | None = None,
              beta: float | None = None, *, wait: bool = False) -> None:
        """Train a new MidiMe on the music's codes (``Personalizer.fit``) in a background thread.

        ``epochs=None`` uses ``fit``'s own default. Progress streams to the panel;
        :meth:`stop_training` ends it early (the weights so far are kept); ``wait=True`` blocks
        until it ends.
        """
        if self.is_training:
            raise TrainingError("MidiMe is already training: press Stop or wait for it to finish.")
        with self._changing_inputs():
            if not self.pipeline.songs:
                raise TrainingError("Add some music first: MidiMe learns from its excerpts.")
            size = self.latent_size if latent_size is None else latent_size
            strength = self.beta if beta is None else beta
            if isinstance(size, bool) or int(size) != size or not 1 <= int(size) <= 64:
                raise TrainingError("The number of style features (latent size) must be a whole number from 1 to 64.")
            if not float(strength) >= 0:
                raise TrainingError("The variety setting (beta) must be 0 or more.")
            if epochs is not None and (int(epochs) != epochs or epochs < 1):
                raise TrainingError("The number of epochs must be a whole number of at least 1.")
            self.pipeline.midime_config = dataclasses.replace(
                self.pipeline.midime_config, latent_size=int(size), beta=float(strength))
            self.pipeline.codes()
            self._set(latent_size=int(size), beta=float(strength), error="", status="")
            self._stop_requested.clear()
            self.stream.start(0 if epochs is None else int(epochs),
                              device=self.model_info.get("device", ""), message="Building the model…")
            fit_args = {} if epochs is None else {"epochs": int(epochs)}
            if not self.train_in_thread:
                self._train_worker(fit_args)
                return
            thread = threading.Thread(target=self._train_worker, args=(fit_args,), name="midime-train",
                                      daemon=True)
            self._train_thread = thread
            thread.start()
        if wait:
            self.wait_training()

    def stop_training(self, message: str | None = None) -> None:
        """Ask the running training to stop after its current step (the weights are kept)."""
        if message is not None:
            self._stop_message = message
        self._stop_requested.set()
        self.pipeline.stop()

    def wait_training(self, timeout: float | None = None) -> bool:
        """Block until training ends; True if it ended within ``timeout``."""
        return _joined(self._train_thread, timeout)

    def wait_loading(self, timeout: float | None = None) -> bool:
        """Block until a background upload ends; True if it ended within ``timeout``."""
        return _joined(self._load_thread, timeout)

    def wait_warm_up(self, timeout: float | None = None) -> bool:
        """Block until the background warm-up ends; True if it ended within ``timeout``."""
        return self._warm is None or self._warm.wait(timeout)

    def new_sample(self, seed: int | None = None) -> Any:
        """Sample the personalized space (``Personalizer.sample``) and put it in the gallery."""
        self._require_midime()
        seed = int(self._rng.integers(0, 2**31 - 1)) if seed is None else int(seed)
        item = self._make_sample(seed)
        with self._sync_lock, self.hold_sync():
            self._gallery.append(item)
            del self._gallery[:-MAX_GALLERY]
            self._push_gallery()
            self._show_midime_point(item.z_small, item.seed, item.sequence, item.label, item.id)
        return item.sequence

    def load_sample(self, sample_id: int) -> Any:
        """Put gallery sample ``sample_id`` on the MidiMe sliders."""
        item = self._find_sample(sample_id)
        with self._sync_lock, self.hold_sync():
            self._show_midime_point(item.z_small, item.seed, item.sequence, item.label, item.id)
        return item.sequence

    def set_midime_point(self, z_small: Sequence[float], label: str = "") -> Any:
        """Decode the personalized-space point ``z_small`` and show it."""
        self._require_midime()
        z_small = np.asarray(z_small, np.float32).reshape(-1)
        seq = self._decode_small(z_small, self._point_seed)
        with self._sync_lock, self.hold_sync():
            self._show_midime_point(z_small, self._point_seed, seq, label or "your point", -1)
        return seq

    def save_midime(self, path: str | Path | None = None) -> Path:
        """Save the trained MidiMe in a folder under the kernel's working folder."""
        self._require_midime()
        target = _safe_path(path or self.save_path)
        self.pipeline.save_midime(target)
        self._set(status=f"Saved the trained MidiMe in the folder {_shown(target)}.", error="")
        return target

    def load_midime(self, path: str | Path) -> Any:
        """Load a saved MidiMe (trained on this MusicVAE) from under the kernel's working folder."""
        if self.is_training:
            raise TrainingError("MidiMe is training: press Stop before loading a saved one.")
        target = _safe_path(path)
        if not target.exists():
            raise CheckpointError(f"There is no saved MidiMe at {_shown(target)}.")
        with self._changing_inputs():
            model = self.pipeline.load_midime(target)
        self._install_midime()
        self._set(status=f"Loaded the MidiMe saved in {_shown(target)}.", error="")
        return model

    def close(self) -> None:
        """Stop training and close every view of this panel."""
        if "_stop_requested" in self.__dict__:  # not when __init__ failed half-way
            self.stop_training("Stopped: the panel was closed.")
            if self._warm is not None:
                self._warm.stop()
        _LIVE.discard(self)
        super().close()

    def export_zip(self) -> bytes:
        """Every gallery sample as MIDI and WAV in one zip (plus the novelty readout)."""
        if not self._gallery:
            raise MidiError("There are no samples yet: train MidiMe, then press “New sample”.")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for item in self._gallery:
                zf.writestr(f"midime_sample_{item.id}.mid", _encode(item.sequence, "mid")[0])
                zf.writestr(f"midime_sample_{item.id}.wav", _encode(item.sequence, "wav")[0])
            zf.writestr("novelty.json", json.dumps(
                {"summary": summarize([i.novelty for i in self._gallery]),
                 "samples": {i.label: i.novelty for i in self._gallery}}, indent=2))
        return buf.getvalue()

    def export_model_zip(self) -> bytes:
        """The trained MidiMe's saved folder as a zip (for the browser download)."""
        self._require_midime()
        with tempfile.TemporaryDirectory() as tmp:
            saved = self.pipeline.save_midime(Path(tmp) / "midime")
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(Path(saved).rglob("*")):
                    if f.is_file():
                        zf.write(f, f"midime/{f.relative_to(saved)}")
        return buf.getvalue()

    # ------------------------------------------------------------------------------------------
    # Front-end messages and trait observers
    # ------------------------------------------------------------------------------------------
    def _on_frontend_msg(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        if not isinstance(content, dict):
            return
        handler = self._handlers.get(str(content.get("type")))
        if handler is None:
            log.warning("midime-widgets: unknown message %r", content.get("type"))
            return
        self._guard(handler, content, list(buffers or []))

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an action; errors become the panel's error sentence, and a success clears it."""
        try:
            result = fn(*args)
        except USER_ERRORS as exc:
            self._set(error=str(exc))
        except (KeyError, ValueError, TypeError, IndexError):
            log.info("midime-widgets panel: malformed message", exc_info=True)
            self._set(error="The panel sent a request it could not read; please try again.")
        except Exception:
            log.error("midime-widgets panel: %s", traceback.format_exc())
            self._set(error="Something went wrong inside the panel; the details are in the kernel's log.")
        else:
            kind = args[0].get("type") if args else None
            if kind not in (None, "ready", "clear_error", "upload", "example"):
                # A later success clears old news; Save and Load leave their own line.
                self._set(error="", **({} if kind in ("save_model", "load_model") else {"status": ""}))
            return result
        return None

    def _msg_upload(self, content: dict, buffers: list) -> None:
        names = list(content.get("names") or [])
        if len(names) != len(buffers):
            raise MidiError("The upload arrived incomplete; please try again.")
        self._load_in_background([(str(n), bytes(b)) for n, b in zip(names, buffers)])

    def _msg_pick(self, content: dict) -> None:
        kind = content.get("kind")
        self._require_midime()
        if kind == "input":
            i = int(content["index"])
            if not 0 <= i < len(self._input_small):
                raise MidiError(f"There is no excerpt {i + 1} of your music on the map.")
            self.set_midime_point(self._input_small[i], f"excerpt {i + 1} of your music")
        elif kind == "sample":
            self.load_sample(int(content["index"]))
        elif kind == "xy" and self._projection is not None:
            xy = np.array([float(content["x"]), float(content["y"])])
            self.set_midime_point(self._projection.inverse(xy), "a point on the map")

    def _msg_download(self, content: dict, buffers: list) -> None:
        what, fmt = content.get("what"), content.get("format", "mid")
        if what == "all":
            self._send_download(self.export_zip(), "midime_samples.zip", "application/zip")
            return
        if what == "model":
            self._send_download(self.export_model_zip(), "midime_model.zip", "application/zip")
            return
        if what == "sample":
            item = self._find_sample(int(content["id"]))
            seq, stem = item.sequence, f"midime_sample_{item.id}"
        elif what == "midime":
            seq, stem = self._current_midime_seq, "midime_current"
        elif what == "vae":
            seq, stem = self._current_vae_seq, "musicvae_current"
        else:
            raise MidiError("The panel asked for a download it does not know.")
        if seq is None:
            raise MidiError("There is nothing to download yet.")
        data, mime, ext = _encode(seq, fmt)
        self._send_download(data, f"{stem}.{ext}", mime)

    def _send_download(self, data: bytes, filename: str, mime: str) -> None:
        with self._sync_lock:
            self.send({"type": "download", "filename": filename, "mime": mime}, buffers=[data])

    @traitlets.observe("vae_values")
    def _on_vae_values(self, change: Any) -> None:
        if self._quiet or len(change["new"]) != len(self.vae_dims):
            return

        def decode() -> None:
            z = self._vae_z.copy()
            z[self.vae_dims] = change["new"]
            seq = self._decode(z, self._vae_seed)
            self._vae_z = z
            self._current_vae_seq = seq
            with self._sync_lock, self.hold_sync():
                self.vae_roll = self._wire(seq, "your point")
                self.vae_label = f"your point (temperature {self.temperature:g})"
                self.vae_window = -1
                self.vae_stats = {**self.vae_stats, "values": _floats(change["new"])}

        self._guard(decode)

    @traitlets.observe("midime_values")
    def _on_midime_values(self, change: Any) -> None:
        if self._quiet or self.midime is None or self.is_training:
            return
        values = np.asarray(change["new"], np.float32)
        if values.shape != (self.midime.config.latent_size,):
            return

        def decode() -> None:
            seq = self._decode_small(values, self._point_seed)
            with self._sync_lock, self.hold_sync():
                self._current_midime_seq = seq
                self._current_small = values
                self.midime_roll = self._wire(seq, "your point")
                self.midime_label = "your point"
                self.current_sample = -1
                self._push_map()

        self._guard(decode)

    # ------------------------------------------------------------------------------------------
    # Internals: the music
    # ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing_inputs(self) -> Iterator[None]:
        """The pipeline lock, refused (with a sentence) while training or loading."""
        if self.is_training:
            raise TrainingError("MidiMe is training on this music: press Stop or wait before changing it.")
        if not self._pipeline_lock.acquire(blocking=False):
            raise MidiError("Music is still loading; try again in a moment.")
        try:
            yield
        finally:
            self._pipeline_lock.release()

    def _load_in_background(self, files: list[tuple[str, bytes]]) -> None:
        """Browser uploads: parse and encode in a thread, so the kernel stays free."""
        if self._load_thread is not None and self._load_thread.is_alive():
            raise MidiError("Music is still loading; try again when it is done.")
        if self.is_training:
            raise TrainingError("MidiMe is training on this music: press Stop or wait before adding more.")
        names = ", ".join(name for name, _ in files)
        self._set(loading=f"Loading {names}…")

        def run() -> None:
            try:
                self._load_files(files, raise_all_bad=False)
            except Exception:
                log.error("midime-widgets upload: %s", traceback.format_exc())
                self._set(error="Something went wrong while loading; the details are in the kernel's log.")
            finally:
                self._set(loading="")

        self._load_thread = threading.Thread(target=run, name="midime-load", daemon=True)
        self._load_thread.start()

    def _load_files(self, files: list[tuple[str, bytes]], *, raise_all_bad: bool) -> None:
        """Add each file to the pipeline; a bad one is named and changes nothing."""
        problems, added = [], 0
        with self._changing_inputs(), warnings.catch_warnings():
            warnings.simplefilter("ignore", MidiWarning)  # each song lists its own warnings
            for name, data in files:
                problem = check_size(name, len(data))
                if problem is None:
                    try:
                        self.pipeline.add_midi(bytes(data), name=name)
                        added += 1
                        continue
                    except MidiError as exc:
                        problem = _named(name, str(exc))
                problems.append(problem)
            message = " ".join(problems)
            if added:  # shown while the lock is held, so no other change slips in between
                self._after_input_change(selected=len(self.pipeline.songs) - 1, error=message)
                return
        self._set(error=message or "No MIDI file was given.")
        if raise_all_bad:
            raise MidiError(message or "No MIDI file was given.")

    def _after_input_change(self, selected: int, error: str = "") -> None:
        """Show the pipeline's songs and codes (a change of the music clears the gallery's map)."""
        songs = self.pipeline.songs
        mu = self.pipeline.codes() if songs else np.zeros((0, self._z_size), np.float32)
        self._input_mu = np.asarray(mu, np.float32)
        stats: dict[str, Any] = {}
        dims: list[int] = []
        if len(self._input_mu):
            order, how = rank_dims(self._input_mu, None, self.n_vae_sliders)
            dims = [int(d) for d in order]
            stats = {"mean": _floats(self._input_mu[:, dims].mean(axis=0)),
                     "std": _floats(self._input_mu[:, dims].std(axis=0)), "ranking": how}
        notes = [str(w) for s in songs for w in s.warnings]
        with self._sync_lock, self.hold_sync():
            self.files = [describe_song(s) for s in songs]
            self.n_windows = len(self._input_mu)
            self._quiet += 1
            try:
                self.vae_dims = dims
                self.vae_stats = stats
            finally:
                self._quiet -= 1
            self._select_file(selected)
            if len(self._input_mu):
                self.show_input_window(0)
            self.error = error
            self.status = (f"{len(self._input_mu)} excerpts (windows) from {len(songs)} song"
                           f"{'s' if len(songs) != 1 else ''}." + (f" {' '.join(notes)}" if notes else ""))
            self._refresh_midime_state()

    def _select_file(self, index: int) -> None:
        songs = self.pipeline.songs
        with self._sync_lock, self.hold_sync():
            if not songs:
                self.selected_file = 0
                self.input_roll = empty_wire()
                return
            index = int(np.clip(index, 0, len(songs) - 1))
            song = songs[index]
            choice = song.melody_choice
            highlight = [choice.instrument] if choice is not None else None
            self.selected_file = index
            self.input_roll = sequence_to_wire(song.original, highlight=highlight, label=song.name)

    def _refresh_midime_state(self) -> None:
        """has_midime / midime_current and the map's input points, from the pipeline."""
        current = self.pipeline.midime_matches_inputs and self.midime is not None
        self._input_small = (np.asarray(self.pipeline.input_positions(), np.float32)
                             if current and len(self._input_mu) else np.zeros((0, 0), np.float32))
        with self._sync_lock, self.hold_sync():
            self.has_midime = self.midime is not None
            self.midime_current = current
            self._push_map()

    # ------------------------------------------------------------------------------------------
    # Internals: decoding
    # ------------------------------------------------------------------------------------------
    def _wire(self, seq: Any, label: str) -> dict[str, Any]:
        """A roll for the browser; ``rev`` makes every decode a change (so it always redraws)."""
        self._rev += 1
        return {**sequence_to_wire(seq, label=label), "rev": self._rev}

    def _set(self, **traits: Any) -> None:
        with self._sync_lock, self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)

    def _decode(self, z: np.ndarray, seed: int) -> Any:
        """One MusicVAE code → notes, at the panel's temperature with ``seed``."""
        with self._decode_lock:
            batch = np.asarray(z, np.float32).reshape(1, -1)
            return self._vae.decode(batch, temperature=self.temperature, seed=int(seed))[0]

    def _decode_small(self, z_small: np.ndarray, seed: int) -> Any:
        with self._decode_lock:
            return self.pipeline.decode(np.asarray(z_small, np.float32).reshape(1, -1),
                                        temperature=self.temperature, seed=int(seed))[0].sequence

    def _warm_up(self) -> None:
        """Build the programs the controls use in a background thread (``widgets/warmup.py``);
        it takes none of the panel's locks, so no control waits behind it."""
        steps = warm_up_steps(self._vae, self.pipeline.midime_config, self.temperature)
        self._warm = WarmUp(steps, context=lambda: builds_programs(self._vae)).start()

    def _show_vae_point(self, z: np.ndarray, seq: Any, label: str, window: int) -> None:
        self._vae_z = np.asarray(z, np.float32).copy()
        self._current_vae_seq = seq
        dims = self.vae_dims or list(range(self.n_vae_sliders))
        values = _floats(self._vae_z[dims])
        with self._sync_lock, self.hold_sync():
            self._quiet += 1
            try:
                if not self.vae_dims:
                    self.vae_dims = [int(d) for d in dims]
                self.vae_values = values
            finally:
                self._quiet -= 1
            self.vae_stats = {**self.vae_stats, "values": values}
            self.vae_roll = self._wire(seq, label)
            self.vae_label = label
            self.vae_window = window

    # ------------------------------------------------------------------------------------------
    # Internals: training and the personalized space
    # ------------------------------------------------------------------------------------------
    _stop_message: str | None = None

    def _train_worker(self, fit_args: dict[str, Any]) -> None:
        """Runs in the trainer thread: fit through the pipeline, then show the result."""
        before = self.pipeline.midime, self.pipeline.history, self.pipeline._trained_version
        self._stop_message = None
        try:
            self.stream.restart_clock(f"Learning from {len(self._input_mu)} excerpts of your music…")

            def progress(epoch: int, total: Any, losses: dict) -> None:
                self.stream.update(epoch, int(total or 0), losses)
                if self._stop_requested.is_set():  # Stop pressed before fit could see it
                    self.pipeline.stop()

            if self._stop_requested.is_set():
                raise _StoppedEarly
            history = self.pipeline.fit(on_progress=progress, **fit_args)
            if not self.pipeline.midime.trained:
                raise _StoppedEarly
            self._install_midime()
            self.stream.finish(STOPPED if history.stopped else DONE, _training_summary(history, self._stop_message))
            self._set(error="")  # e.g. "already training" from a press while it ran
        except _StoppedEarly:
            self.pipeline.midime, self.pipeline.history, self.pipeline._trained_version = before
            self.stream.finish(STOPPED, self._stop_message or "Stopped before the first epoch; nothing changed.")
        except Exception as exc:
            if not isinstance(exc, USER_ERRORS):
                log.error("midime-widgets training: %s", traceback.format_exc())
                self.pipeline.midime, self.pipeline.history, self.pipeline._trained_version = before
            message = str(exc) if isinstance(exc, USER_ERRORS) else "Training failed inside TensorFlow; the details are in the kernel's log."
            self.stream.finish(ERROR, message)
            self._set(error=f"Training failed: {message}" if isinstance(exc, USER_ERRORS) else message)
            self._refresh_midime_state()

    def _install_midime(self) -> None:
        """Show the pipeline's MidiMe: sliders at the origin, first samples, the map."""
        midime = self.midime
        latent = int(midime.config.latent_size)
        self._point_seed = int(self._rng.integers(0, 2**31 - 1))
        self._projection = None
        self._refresh_midime_state()
        points = self._input_small if len(self._input_small) else np.zeros((1, latent))
        self._projection = Projection2D.fit(points)
        origin = np.zeros(latent, np.float32)
        seq = self._decode_small(origin, self._point_seed)
        items = [self._make_sample(int(self._rng.integers(0, 2**31 - 1))) for _ in range(self.initial_samples)]
        with self._sync_lock, self.hold_sync():
            self._gallery = items
            self._push_gallery()
            self._show_midime_point(origin, self._point_seed, seq, "the centre of your space", -1)

    def _make_sample(self, seed: int) -> GalleryItem:
        with self._decode_lock:
            sample = self.pipeline.sample(1, temperature=self.temperature, seed=seed)[0]
        novelty = self.pipeline.novelty_index().readout(sample.sequence) if self.pipeline.songs else {}
        item = GalleryItem(self._next_sample_id, sample, seed, novelty)
        self._next_sample_id += 1
        return item

    def _show_midime_point(self, z_small: np.ndarray, seed: int, seq: Any, label: str, sample_id: int) -> None:
        """Set sliders, roll and map for a point (caller holds the sync lock and hold_sync)."""
        self._current_small = np.asarray(z_small, np.float32)
        self._point_seed = int(seed)
        self._current_midime_seq = seq
        self._quiet += 1
        try:
            self.midime_values = _floats(z_small)
        finally:
            self._quiet -= 1
        self.midime_roll = self._wire(seq, label)
        self.midime_label = label
        self.current_sample = sample_id
        self._push_map()

    def _push_gallery(self) -> None:
        self.gallery = [
            {"id": i.id, "label": i.label, "roll": sequence_to_wire(i.sequence, label=i.label), "novelty": i.novelty}
            for i in self._gallery
        ]
        self.novelty_summary = summarize([i.novelty for i in self._gallery])

    def _push_map(self) -> None:
        proj = self._projection
        if proj is None or self.midime is None:
            self.latent_map = {}
            return
        inputs = proj.transform(self._input_small) if len(self._input_small) else []
        samples = proj.transform(np.stack([i.z_small for i in self._gallery])) if self._gallery else []
        current = proj.transform(self._current_small)[0] if self._current_small is not None else None
        self.latent_map = {
            "axes": list(proj.labels),
            "inputs": [_floats(p, 3) for p in inputs],
            "samples": [[*_floats(p, 3), i.id] for p, i in zip(samples, self._gallery, strict=True)],
            "current": _floats(current, 3) if current is not None else None,
            "current_sample": self.current_sample,
        }

    def _find_sample(self, sample_id: int) -> GalleryItem:
        for item in self._gallery:
            if item.id == sample_id:
                return item
        raise MidiError(f"There is no sample {sample_id} in the gallery.")

    def _require_midime(self) -> None:
        if self.is_training:
            raise TrainingError("MidiMe is training: wait for it to finish or press Stop.")
        if self.midime is None:
            raise TrainingError("Train MidiMe first (or load a saved one).")


class _StoppedEarly(Exception):
    """Stop came before the first epoch: the previous MidiMe stays."""


def _pipeline(vae: Any, midime_options: dict[str, Any] | None, seed: int | None) -> Personalizer:
    """The Personalizer the panel shows: the given one, or a new one over ``vae``."""
    if isinstance(vae, Personalizer):
        return vae
    if vae is None:
        from ..models.musicvae import MusicVAE

        vae = MusicVAE.default()
    require_model(vae)
    from ..models.midime import MidiMeConfig

    options = {"seed": seed, **(midime_options or {})}
    config = MidiMeConfig.personal(int(vae.config.z_size), **options)
    return Personalizer(vae, midime_config=config, seed=seed)


def _joined(thread: threading.Thread | None, timeout: float | None) -> bool:
    """Wait for `thread` (if any); True when it is no longer running."""
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _training_summary(history: Any, stop_message: str | None) -> str:
    """One sentence about a finished run, from ``FitHistory`` (epochs, seconds, why it stopped)."""
    if history.stopped and stop_message:
        return stop_message + "; the weights so far are kept."
    return history.reason


def _example(name: str) -> tuple[str, bytes]:
    try:
        return example_label(name), example_bytes(name)
    except (KeyError, FileNotFoundError, ValueError):
        raise MidiError(f"There is no example called {name!r}.") from None


def _named(name: str, message: str) -> str:
    return message if message.startswith(name) else f"{name}: {message}"


def _upload_limit() -> int:
    from ..music import max_midi_bytes

    return max_midi_bytes()


def _safe_path(path: str | os.PathLike) -> Path:
    """``path`` resolved under the kernel's working folder; a sentence for anything outside it."""
    text = str(path).strip()
    if not text:
        raise CheckpointError("Type a folder name to save the MidiMe in, e.g. my_midime.")
    root = Path.cwd().resolve()
    candidate = Path(text).expanduser()
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if target != root and root not in target.parents:
        raise CheckpointError(f"Use a folder inside the notebook's folder ({root}), such as "
                              f"my_midime; {text} is outside it.")
    if target == root:
        raise CheckpointError("Name a folder for the MidiMe, e.g. my_midime; the notebook's own "
                              "folder cannot be used.")
    return target


def _shown(path: Path) -> str:
    """``path`` relative to the working folder, as the user typed it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _in_colab() -> bool:
    import sys

    return "google.colab" in sys.modules


def _encode(seq: Any, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, mime type, extension) of a sequence as MIDI or WAV."""
    from ..music import render_wav, to_midi_bytes

    if fmt == "wav":
        return render_wav(seq), "audio/wav", "wav"
    if fmt in ("mid", "midi"):
        return to_midi_bytes(seq), "audio/midi", "mid"
    raise MidiError(f"The panel cannot make a {fmt!r} file; use MIDI or WAV.")
