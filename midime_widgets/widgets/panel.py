"""``MidiMePanel``: the whole MidiMe workflow in one widget.

Sections, in the order a user meets them (see ``js/src/panel.js`` for the view):

1. **Model** — name, kind (melody / trio / drums), device.
2. **Input** — upload MIDI (file picker or drag & drop) or pick an example; which track was taken
   as the melody and why (changeable); piano roll + play; clear errors for bad files.
3. **MusicVAE latent** — the input's windows encoded; the most informative dims (ranked by the
   encoder's sigma) as a chart and sliders that re-decode live; prior samples with a temperature.
4. **Train MidiMe** — epochs / latent size / beta; trains in a background thread (the kernel's main
   thread stays free), streams loss + progress (throttled), Stop works mid-training.
5. **Personalized space** — one slider per MidiMe dim (decodes live), new samples into a gallery
   (piano roll, play, novelty readout), a 2-D map of input windows / samples / current point where
   a click loads the point.
6. **Export** — any sample or all of them as MIDI / WAV, the trained MidiMe saved or loaded.

Everything is also reachable from Python: ``panel.vae``, ``panel.midime``, ``panel.samples``,
``panel.load(...)``, ``panel.train(...)``, ``panel.new_sample()``, ``panel.save_midime(path)`` …

Threading: only :meth:`_train_worker` runs off the main thread. It builds and fits the MidiMe, and
from there only sets traits / sends messages, always under ``self._sync_lock`` (ipywidgets'
``hold_sync`` bookkeeping is not thread-safe). Front-end events are handled on the main thread.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import traitlets

from ..errors import CheckpointError, MidiError, TrainingError
from ..personalize import NoveltyIndex, summarize  # the one novelty readout
from ._base import MidimeWidget
from .device import describe_device, model_info, musicvae_record
from .examples import example_bytes, example_label, example_menu
from .inputs import InputFile, load_input, prepare_input, read_source
from .latent import Projection2D, rank_dims
from .monitor import DONE, ERROR, STOPPED, LossStream, idle_status
from .serialization import empty_wire, sequence_to_wire

log = logging.getLogger(__name__)

USER_ERRORS = (MidiError, CheckpointError, TrainingError, ValueError, FileNotFoundError, KeyError)
MAX_GALLERY = 24
DEFAULT_UPLOAD_LIMIT = 20 * 1024 * 1024


@dataclass
class Sample:
    """One generated sample: its MidiMe code, MusicVAE code, notes and novelty readout."""

    id: int
    z_small: np.ndarray
    z: np.ndarray
    sequence: Any
    novelty: dict[str, Any]

    @property
    def label(self) -> str:
        return f"Sample {self.id}"


def _floats(values: Iterable[float], digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


class MidiMePanel(MidimeWidget):
    """Personalize a MusicVAE with your own MIDI (MidiMe), end to end, in one widget.

    ``vae``: any ``MusicVAE`` (default: ``MusicVAE.default()``, the embedded model).
    ``n_vae_sliders``: how many MusicVAE dims get a slider (the most informative ones).
    ``initial_samples``: samples put in the gallery when training ends.
    ``midime_options``: extra ``MidiMeConfig`` fields (e.g. smaller layers for quick tests).
    ``seed``: makes prior samples and MidiMe samples repeatable.
    ``warm_up``: compile the decoder in a background thread right away.
    ``train_in_thread``: train in a background thread (default everywhere but Colab, whose front
    end does not show updates sent from other threads; there training runs in the kernel's main
    thread, so its progress streams but Stop waits for the end).
    """

    _view = traitlets.Unicode("panel").tag(sync=True)

    # 1. model
    model_info = traitlets.Dict().tag(sync=True)
    # 2. input
    examples = traitlets.List(traitlets.Dict()).tag(sync=True)
    files = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected_file = traitlets.Int(0).tag(sync=True)
    input_roll = traitlets.Dict(default_value=empty_wire()).tag(sync=True)
    n_windows = traitlets.Int(0).tag(sync=True)
    max_upload_bytes = traitlets.Int(DEFAULT_UPLOAD_LIMIT).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    # 3. MusicVAE latent
    vae_dims = traitlets.List(traitlets.Int()).tag(sync=True)
    vae_values = traitlets.List(traitlets.Float()).tag(sync=True)
    vae_stats = traitlets.Dict().tag(sync=True)
    vae_roll = traitlets.Dict(default_value=empty_wire()).tag(sync=True)
    vae_label = traitlets.Unicode("").tag(sync=True)
    vae_window = traitlets.Int(-1).tag(sync=True)
    temperature = traitlets.Float(0.5).tag(sync=True)
    # 4. training
    epochs = traitlets.Int(100).tag(sync=True)
    latent_size = traitlets.Int(4).tag(sync=True)
    beta = traitlets.Float(1.0).tag(sync=True)
    training = traitlets.Dict(default_value=idle_status()).tag(sync=True)
    # 5. personalized space
    has_midime = traitlets.Bool(False).tag(sync=True)
    midime_values = traitlets.List(traitlets.Float()).tag(sync=True)
    midime_roll = traitlets.Dict(default_value=empty_wire()).tag(sync=True)
    midime_label = traitlets.Unicode("").tag(sync=True)
    gallery = traitlets.List(traitlets.Dict()).tag(sync=True)
    current_sample = traitlets.Int(-1).tag(sync=True)
    latent_map = traitlets.Dict().tag(sync=True)
    novelty_summary = traitlets.Dict().tag(sync=True)
    # 6. export
    save_path = traitlets.Unicode("my_midime").tag(sync=True)

    def __init__(self, vae: Any = None, *, n_vae_sliders: int = 16, initial_samples: int = 4,
                 midime_options: dict[str, Any] | None = None, seed: int | None = None,
                 min_interval: float = 0.2, warm_up: bool = True,
                 train_in_thread: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if vae is None:
            from ..models.musicvae import MusicVAE  # noqa: PLC0415 - TensorFlow loads here

            vae = MusicVAE.default()
        self._vae = vae
        self._z_size = int(vae.config.z_size)
        self.n_vae_sliders = min(int(n_vae_sliders), self._z_size)
        self.initial_samples = int(initial_samples)
        self.train_in_thread = (not _in_colab()) if train_in_thread is None else bool(train_in_thread)
        self.midime_options = dict(midime_options or {})
        self._rng = np.random.default_rng(seed)
        self._sync_lock = threading.RLock()
        self._decode_lock = threading.RLock()
        self._quiet = 0  # >0 while we set slider traits ourselves (no re-decode)
        self._rev = 0  # bumped into every decoded roll so each decode redraws (latency probes)
        self._inputs: list[InputFile] = []
        self._windows: list[Any] = []
        self._input_mu = np.zeros((0, self._z_size), np.float32)
        self._input_sigma: np.ndarray | None = None
        self._vae_z = np.zeros(self._z_size, np.float32)
        self._vae_decoding: tuple[float, int] = (0.0, 0)  # (temperature, seed) of the VAE view
        self._midime: Any = None
        self._midime_input_small: np.ndarray | None = None
        self._projection: Projection2D | None = None
        self._novelty: NoveltyIndex | None = None
        self._samples: list[Sample] = []
        self._next_sample_id = 1
        self._train_thread: threading.Thread | None = None
        self._training_model: Any = None
        self._stop_requested = threading.Event()
        self.fit_history: Any = None  # MidiMe.fit's FitHistory of the last run
        self.stream = LossStream(self, min_interval=min_interval, lock=self._sync_lock)
        with self.hold_sync():
            self.model_info = model_info(vae)
            self.examples = example_menu()
            self.training = idle_status(self.model_info["device"])
        self.on_msg(self._on_frontend_msg)
        if warm_up:
            self._warm_up()
        self._handlers: dict[str, Callable[[dict, list], Any]] = {
            "ready": lambda c, b: self.stream.replay(),
            "upload": self._msg_upload,
            "example": lambda c, b: self.load_example(str(c["name"])),
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

    # ------------------------------------------------------------------------------------------
    # Public Python API
    # ------------------------------------------------------------------------------------------
    @property
    def vae(self) -> Any:
        """The MusicVAE this panel works with."""
        return self._vae

    @property
    def midime(self) -> Any:
        """The trained (or loaded) MidiMe, or None."""
        return self._midime

    @property
    def samples(self) -> list[Any]:
        """The gallery's samples as NoteSequences, oldest first."""
        return [s.sequence for s in self._samples]

    @property
    def sample_records(self) -> list[Sample]:
        """The gallery with codes and novelty readouts."""
        return list(self._samples)

    @property
    def input_windows(self) -> list[Any]:
        """Every input window (NoteSequence) the MusicVAE encoded."""
        return list(self._windows)

    @property
    def input_codes(self) -> np.ndarray:
        """MusicVAE ``mu`` of every input window, ``[n, z_size]``."""
        return self._input_mu.copy()

    @property
    def training_history(self) -> dict[str, np.ndarray]:
        """Loss columns (epoch, total, reconstruction, kl) of the last training run."""
        return self.stream.history

    @property
    def is_training(self) -> bool:
        return self._train_thread is not None and self._train_thread.is_alive()

    def load(self, *sources: Any) -> None:
        """Use MIDI files (paths or bytes) as the input, replacing the current input."""
        files = [read_source(s) for s in sources]
        self.load_bytes(files)

    def load_bytes(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Use ``[(name, bytes), …]`` as the input. Bad files are reported in ``error``; the good
        ones are still used. Raises MidiError only when no file could be used."""
        loaded, problems = [], []
        for name, data in files:
            if len(data) > self.max_upload_bytes:
                problems.append(f"{name}: the file is {len(data) / 1e6:.1f} MB; the limit is "
                                f"{self.max_upload_bytes / 1e6:.0f} MB.")
                continue
            try:
                loaded.append(load_input(self._vae, name, data))
            except MidiError as exc:
                problems.append(str(exc))
        message = "\n".join(problems)
        if not loaded:
            self._set(error=message or "No MIDI file was given.")
            raise MidiError(message or "No MIDI file was given.")
        self._inputs = loaded
        self._after_input_change(selected=0, error=message)

    def load_example(self, name: str) -> None:
        """Use a bundled example (a name from :attr:`examples`, e.g. ``"folk_band"``) as the input."""
        self.load_bytes([(example_label(name), example_bytes(name))])

    def choose_melody(self, file_index: int, instrument: int) -> None:
        """Take ``instrument`` as the melody of input file ``file_index`` (melody models)."""
        old = self._inputs[file_index]
        self._inputs[file_index] = prepare_input(self._vae, old.name, old.sequence, instrument)
        self._after_input_change(selected=file_index)

    def sample_prior(self, temperature: float | None = None, seed: int | None = None) -> Any:
        """Decode a random MusicVAE code (standard normal prior) at ``temperature``.

        The decoding seed is kept, so moving the sliders afterwards re-decodes the edited code
        with the same temperature and seed (only the code changes, not the dice).
        """
        temperature = self.temperature if temperature is None else float(temperature)
        rng = self._rng if seed is None else np.random.default_rng(seed)
        z = rng.standard_normal(self._z_size).astype(np.float32)
        self._vae_decoding = (temperature, int(rng.integers(0, 2**31 - 1)))
        seq = self._decode(z, *self._vae_decoding)
        self._show_vae_point(z, seq, f"prior sample (temperature {temperature:g})", window=-1)
        return seq

    def show_input_window(self, index: int) -> Any:
        """Show input window ``index`` as the MusicVAE reconstructs it (its ``mu``)."""
        if not len(self._input_mu):
            raise MidiError("Load a MIDI file first.")
        index = int(np.clip(index, 0, len(self._input_mu) - 1))
        z = self._input_mu[index]
        self._vae_decoding = (0.0, 0)
        seq = self._decode(z, 0.0)
        self._show_vae_point(z, seq, f"input window {index + 1} of {len(self._input_mu)}, "
                                    "as the MusicVAE reconstructs it", window=index)
        return seq

    def train(self, epochs: int | None = None, latent_size: int | None = None,
              beta: float | None = None, *, wait: bool = False) -> None:
        """Train a new MidiMe on the input codes in a background thread.

        Progress streams to the panel; :meth:`stop_training` ends it early (weights kept).
        ``wait=True`` blocks until it ends (in Colab, where updates from threads do not show,
        progress still arrives because the panel is updated on every flush).
        """
        if self.is_training:
            raise TrainingError("MidiMe is already training; press Stop or wait for it to finish.")
        if len(self._input_mu) == 0:
            raise TrainingError("Load some MIDI first: MidiMe learns from the input's windows.")
        with self._sync_lock, self.hold_sync():
            if epochs is not None:
                self.epochs = int(epochs)
            if latent_size is not None:
                self.latent_size = int(latent_size)
            if beta is not None:
                self.beta = float(beta)
        if self.epochs < 1 or self.latent_size < 1 or self.beta < 0:
            raise TrainingError("Epochs and latent size must be at least 1 and beta at least 0.")
        codes = self._input_mu.copy()
        self._stop_requested.clear()
        self._set(error="")
        self.stream.start(self.epochs, device=self.model_info.get("device", describe_device()),
                          message="Building the model…")
        args = (codes, self.epochs, self.latent_size, self.beta)
        if not self.train_in_thread:
            self._train_worker(*args)
            return
        thread = threading.Thread(target=self._train_worker, args=args, name="midime-train", daemon=True)
        self._train_thread = thread
        thread.start()
        if wait:
            self.wait_training()

    def stop_training(self) -> None:
        """Ask the running training to stop after its current step (weights are kept)."""
        self._stop_requested.set()
        model = self._training_model
        if model is not None:
            model.stop()

    def wait_training(self, timeout: float | None = None) -> bool:
        """Block until training ends; True if it ended within ``timeout``."""
        thread = self._train_thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def new_sample(self, seed: int | None = None) -> Any:
        """Sample the personalized space: a random MidiMe code → MusicVAE code → notes."""
        self._require_midime()
        rng = self._rng if seed is None else np.random.default_rng(seed)
        z_small = rng.standard_normal(self._midime.config.latent_size).astype(np.float32)
        sample = self._make_sample(z_small)
        with self._sync_lock, self.hold_sync():
            self._samples.append(sample)
            del self._samples[:-MAX_GALLERY]
            self._push_gallery()
            self._show_midime_point(z_small, sample.sequence, sample.label, sample.id)
        return sample.sequence

    def load_sample(self, sample_id: int) -> Any:
        """Put gallery sample ``sample_id`` on the MidiMe sliders."""
        sample = self._find_sample(sample_id)
        with self._sync_lock, self.hold_sync():
            self._show_midime_point(sample.z_small, sample.sequence, sample.label, sample.id)
        return sample.sequence

    def set_midime_point(self, z_small: Sequence[float], label: str = "") -> Any:
        """Decode the personalized-space point ``z_small`` and show it."""
        self._require_midime()
        z_small = np.asarray(z_small, np.float32).reshape(-1)
        seq = self._decode_small(z_small)
        with self._sync_lock, self.hold_sync():
            self._show_midime_point(z_small, seq, label or "your point", -1)
        return seq

    def save_midime(self, path: str | Path | None = None) -> Path:
        """Save the trained MidiMe (a directory; see ``MidiMe.save``)."""
        self._require_midime()
        target = Path(path or self.save_path).expanduser()
        saved = Path(self._midime.save(target, musicvae=musicvae_record(self._vae))).resolve()
        self._set(status=f"Saved the trained MidiMe to {saved}", error="")
        return saved

    def load_midime(self, path: str | Path) -> Any:
        """Load a saved MidiMe (it must have been trained on this MusicVAE) and use it."""
        from ..models.midime import MidiMe  # noqa: PLC0415

        record = musicvae_record(self._vae)
        model = MidiMe.load(Path(path).expanduser(), z_size=self._z_size,
                            musicvae_fingerprint=record["fingerprint"] if record else None)
        self._install_midime(model)
        self._set(status=f"Loaded the MidiMe saved at {Path(path).expanduser().resolve()}", error="")
        return model

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
        """Run a front-end action; errors become the panel's error line, never an exception."""
        try:
            return fn(*args)
        except USER_ERRORS as exc:
            self._set(error=_message(exc))
        except Exception as exc:  # noqa: BLE001 - the panel must survive anything
            log.error("midime-widgets panel: %s", traceback.format_exc())
            self._set(error=f"Something went wrong: {type(exc).__name__}: {exc}")
        return None

    def _msg_upload(self, content: dict, buffers: list) -> None:
        names = list(content.get("names") or [])
        if len(names) != len(buffers):
            raise ValueError("The upload arrived incomplete; please try again.")
        self.load_bytes([(str(n), bytes(b)) for n, b in zip(names, buffers)])

    def _msg_pick(self, content: dict) -> None:
        kind = content.get("kind")
        if kind == "input":
            self._require_midime()
            i = int(content["index"])
            self.set_midime_point(self._midime_input_small[i], f"input window {i + 1}")
        elif kind == "sample":
            self.load_sample(int(content["index"]))
        elif kind == "xy":
            self._require_midime()
            xy = np.array([float(content["x"]), float(content["y"])])
            self.set_midime_point(self._projection.inverse(xy), "a point on the map")

    def _msg_download(self, content: dict, buffers: list) -> None:
        what, fmt = content.get("what"), content.get("format", "mid")
        if what == "all":
            data = self.export_zip()
            self._send_download(data, "midime_samples.zip", "application/zip")
            return
        if what == "sample":
            sample = self._find_sample(int(content["id"]))
            seq, stem = sample.sequence, f"midime_sample_{sample.id}"
        elif what == "midime":
            seq, stem = self._current_midime_seq, "midime_current"
        elif what == "vae":
            seq, stem = self._current_vae_seq, "musicvae_current"
        elif what == "model":
            self._send_download(self.export_model_zip(), "midime_model.zip", "application/zip")
            return
        else:
            raise ValueError(f"Unknown download {what!r}.")
        if seq is None:
            raise MidiError("There is nothing to download yet.")
        data, mime, ext = _encode(seq, fmt)
        self._send_download(data, f"{stem}.{ext}", mime)

    def _send_download(self, data: bytes, filename: str, mime: str) -> None:
        with self._sync_lock:
            self.send({"type": "download", "filename": filename, "mime": mime}, buffers=[data])

    def export_zip(self) -> bytes:
        """Every gallery sample as MIDI and WAV in one zip (plus the novelty readout)."""
        if not self._samples:
            raise MidiError("There are no samples yet: train MidiMe, then press “New sample”.")
        import json  # noqa: PLC0415

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for s in self._samples:
                zf.writestr(f"midime_sample_{s.id}.mid", _encode(s.sequence, "mid")[0])
                zf.writestr(f"midime_sample_{s.id}.wav", _encode(s.sequence, "wav")[0])
            zf.writestr("novelty.json", json.dumps(
                {"summary": summarize([s.novelty for s in self._samples]),
                 "samples": {s.label: s.novelty for s in self._samples}}, indent=2))
        return buf.getvalue()

    def export_model_zip(self) -> bytes:
        """The trained MidiMe's saved directory as a zip (for the browser download)."""
        self._require_midime()
        with tempfile.TemporaryDirectory() as tmp:
            saved = Path(self._midime.save(Path(tmp) / "midime", musicvae=musicvae_record(self._vae)))
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(saved.rglob("*")):
                    if f.is_file():
                        zf.write(f, f"midime/{f.relative_to(saved)}")
        return buf.getvalue()

    @traitlets.observe("vae_values")
    def _on_vae_values(self, change: Any) -> None:
        if self._quiet or len(change["new"]) != len(self.vae_dims):
            return

        def decode() -> None:
            z = self._vae_z.copy()
            z[self.vae_dims] = change["new"]
            seq = self._decode(z, *self._vae_decoding)
            self._vae_z = z
            self._current_vae_seq = seq
            with self._sync_lock, self.hold_sync():
                self.vae_roll = self._wire(seq, "edited with the sliders")
                temperature = self._vae_decoding[0]
                self.vae_label = ("your point" if not temperature else
                                  f"your point (temperature {temperature:g}, same seed)")
                self.vae_window = -1
                self.vae_stats = {**self.vae_stats, "values": _floats(change["new"])}

        self._guard(decode)

    @traitlets.observe("midime_values")
    def _on_midime_values(self, change: Any) -> None:
        if self._quiet or self._midime is None:
            return
        values = np.asarray(change["new"], np.float32)
        if values.shape != (self._midime.config.latent_size,):
            return

        def decode() -> None:
            seq = self._decode_small(values)
            with self._sync_lock, self.hold_sync():
                self._current_midime_seq = seq
                self._current_small = values
                self.midime_roll = self._wire(seq, "your point")
                self.midime_label = "your point"
                self.current_sample = -1
                self._push_map()

        self._guard(decode)

    # ------------------------------------------------------------------------------------------
    # Internals: input and the MusicVAE latent
    # ------------------------------------------------------------------------------------------
    _current_vae_seq: Any = None
    _current_midime_seq: Any = None
    _current_small: np.ndarray | None = None

    def _wire(self, seq: Any, label: str) -> dict[str, Any]:
        """A roll for the browser; ``rev`` makes every decode a change (so it always redraws)."""
        self._rev += 1
        return {**sequence_to_wire(seq, label=label), "rev": self._rev}

    def _set(self, **traits: Any) -> None:
        with self._sync_lock, self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)

    def _after_input_change(self, selected: int, error: str = "") -> None:
        windows = [w for f in self._inputs for w in f.windows]
        mu_sigma = self._vae.encode(windows)
        _, mu, sigma = mu_sigma
        self._windows = windows
        self._input_mu = np.asarray(mu, np.float32)
        self._input_sigma = None if sigma is None else np.asarray(sigma, np.float32)
        window_steps = getattr(getattr(self._vae, "config", None), "max_seq_len", None)
        self._novelty = NoveltyIndex(windows, steps=window_steps)
        dims, how = rank_dims(self._input_mu, self._input_sigma, self.n_vae_sliders)
        stats = {
            "dims": [int(d) for d in dims],
            "mean": _floats(self._input_mu[:, dims].mean(axis=0)),
            "std": _floats(self._input_mu[:, dims].std(axis=0)),
            "sigma": _floats(self._input_sigma[:, dims].mean(axis=0)) if self._input_sigma is not None else [],
            "ranking": how,
        }
        if self._midime is not None:
            self._refresh_midime_inputs()
        warnings = [w for f in self._inputs for w in f.warnings]
        with self._sync_lock, self.hold_sync():
            self.files = [f.describe() for f in self._inputs]
            self.n_windows = len(windows)
            self._quiet += 1
            try:
                self.vae_dims = [int(d) for d in dims]
                self.vae_stats = stats
            finally:
                self._quiet -= 1
            self._select_file(selected)
            self.show_input_window(0)
            self.error = error
            self.status = (f"{len(windows)} windows from {len(self._inputs)} file"
                           f"{'s' if len(self._inputs) != 1 else ''}"
                           + (f" — {' '.join(warnings)}" if warnings else ""))
            if self._midime is not None:
                self._push_map()

    def _select_file(self, index: int) -> None:
        if not self._inputs:
            return
        index = int(np.clip(index, 0, len(self._inputs) - 1))
        f = self._inputs[index]
        highlight = [f.instrument] if f.instrument is not None else None
        with self._sync_lock, self.hold_sync():
            self.selected_file = index
            self.input_roll = sequence_to_wire(f.sequence, highlight=highlight, label=f.name)

    def _decode(self, z: np.ndarray, temperature: float, seed: int | None = None) -> Any:
        """One code → one NoteSequence (greedy when temperature is 0; seeded otherwise)."""
        with self._decode_lock:
            batch = np.asarray(z, np.float32).reshape(1, -1)
            if temperature and seed is not None:
                return self._vae.decode(batch, temperature=float(temperature), seed=int(seed))[0]
            return self._vae.decode(batch, temperature=float(temperature))[0]

    def _warm_up(self) -> None:
        """Compile the decoder (greedy and sampling) in the background, so the first slider move
        or sample does not wait for TensorFlow's tracing (seconds on a CPU)."""
        def run() -> None:
            try:
                zero = np.zeros(self._z_size, np.float32)
                self._decode(zero, 0.0)
                self._decode(zero, 0.5, 0)
            except Exception:  # noqa: BLE001 - warming up is only an optimisation
                log.debug("decoder warm-up failed", exc_info=True)

        threading.Thread(target=run, name="midime-warmup", daemon=True).start()

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
    def _new_midime(self, latent_size: int, beta: float) -> Any:
        from ..models.midime import MidiMe, MidiMeConfig  # noqa: PLC0415

        config = MidiMeConfig(input_size=self._z_size, latent_size=latent_size, beta=beta,
                              **self.midime_options)
        return MidiMe(config, musicvae=musicvae_record(self._vae))

    def _train_worker(self, codes: np.ndarray, epochs: int, latent_size: int, beta: float) -> None:
        """Runs in the trainer thread: build, fit, install; only sets traits / sends."""
        try:
            model = self._new_midime(latent_size, beta)
            self._training_model = model
            device = getattr(model, "device", None)
            if device and device != "CPU":
                self._set(model_info={**self.model_info, "device": f"GPU: {device}"})
            if self._stop_requested.is_set():
                self.stream.finish(STOPPED, "Stopped before the first epoch.")
                return
            self.stream.restart_clock(f"{len(codes)} windows, latent size {latent_size}, beta {beta:g}")
            def progress(epoch: int, total: int, losses: dict) -> None:
                self.stream.update(epoch, total, losses)
                if self._stop_requested.is_set():  # Stop pressed while the model was being built
                    model.stop()

            history = model.fit(codes, epochs, on_progress=progress)
            self.fit_history = history
            ran = len(history["total"]) if hasattr(history, "__getitem__") else epochs
            if ran == 0:
                self.stream.finish(STOPPED, "Stopped before the first epoch; nothing was learned.")
                return
            stopped = bool(getattr(history, "stopped", False))
            self._install_midime(model)
            seconds = getattr(history, "seconds", None)
            took = f" in {seconds:.1f} s" if seconds is not None else ""
            message = (f"Stopped after {ran} of {epochs} epochs{took}; the weights so far are kept."
                       if stopped else f"Trained {ran} epochs{took}.")
            self.stream.finish(STOPPED if stopped else DONE, message)
        except Exception as exc:  # noqa: BLE001 - surface every failure in the panel
            if not isinstance(exc, USER_ERRORS):
                log.error("midime-widgets training: %s", traceback.format_exc())
            message = _message(exc)
            self.stream.finish(ERROR, message)
            self._set(error=f"Training failed: {message}")
        finally:
            self._training_model = None

    def _install_midime(self, model: Any) -> None:
        """Use ``model`` for the personalized space: map, sliders at the origin, first samples."""
        self._midime = model
        self._refresh_midime_inputs()
        latent = int(model.config.latent_size)
        origin = np.zeros(latent, np.float32)
        seq = self._decode_small(origin)
        samples = [self._make_sample(self._rng.standard_normal(latent).astype(np.float32))
                   for _ in range(self.initial_samples)]
        with self._sync_lock, self.hold_sync():
            self.has_midime = True
            self._samples = samples
            self._push_gallery()
            self._show_midime_point(origin, seq, "the centre of your space", -1)

    def _refresh_midime_inputs(self) -> None:
        if self._midime is None:
            return
        if len(self._input_mu) and self._input_mu.shape[1] == self._midime.config.input_size:
            _, mu_small, _ = self._midime.encode(self._input_mu)
            self._midime_input_small = np.asarray(mu_small, np.float32)
        else:
            self._midime_input_small = np.zeros((0, self._midime.config.latent_size), np.float32)
        points = self._midime_input_small
        self._projection = Projection2D.fit(points if len(points) else
                                            np.zeros((1, self._midime.config.latent_size)))

    def _decode_small(self, z_small: np.ndarray) -> Any:
        z = self._midime.decode(np.asarray(z_small, np.float32).reshape(1, -1))[0]
        return self._decode(z, 0.0)

    def _make_sample(self, z_small: np.ndarray) -> Sample:
        z = self._midime.decode(z_small.reshape(1, -1))[0]
        seq = self._decode(z, 0.0)
        novelty = self._novelty.readout(seq) if self._novelty is not None else {}
        sample = Sample(self._next_sample_id, z_small, np.asarray(z, np.float32), seq, novelty)
        self._next_sample_id += 1
        return sample

    def _show_midime_point(self, z_small: np.ndarray, seq: Any, label: str, sample_id: int) -> None:
        """Set sliders, roll and map for a point (caller holds the sync lock and hold_sync)."""
        self._current_small = np.asarray(z_small, np.float32)
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
            {"id": s.id, "label": s.label, "roll": sequence_to_wire(s.sequence, label=s.label), "novelty": s.novelty}
            for s in self._samples
        ]
        self.novelty_summary = summarize([s.novelty for s in self._samples])

    def _push_map(self) -> None:
        if self._projection is None:
            return
        proj = self._projection
        inputs = proj.transform(self._midime_input_small) if len(self._midime_input_small) else []
        samples = proj.transform(np.stack([s.z_small for s in self._samples])) if self._samples else []
        current = proj.transform(self._current_small)[0] if self._current_small is not None else None
        self.latent_map = {
            "axes": list(proj.labels),
            "inputs": [_floats(p, 3) for p in inputs],
            "samples": [[*_floats(p, 3), s.id] for p, s in zip(samples, self._samples)],
            "current": _floats(current, 3) if current is not None else None,
            "current_sample": self.current_sample,
        }

    def _find_sample(self, sample_id: int) -> Sample:
        for s in self._samples:
            if s.id == sample_id:
                return s
        raise KeyError(f"There is no sample {sample_id} in the gallery.")

    def _require_midime(self) -> None:
        if self._midime is None:
            raise TrainingError("Train MidiMe first (or load a saved one).")


def _in_colab() -> bool:
    import sys  # noqa: PLC0415

    return "google.colab" in sys.modules


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def _encode(seq: Any, fmt: str) -> tuple[bytes, str, str]:
    """(bytes, mime type, extension) of a sequence as MIDI or WAV."""
    from ..music import render_wav, to_midi_bytes  # noqa: PLC0415

    if fmt == "wav":
        return render_wav(seq), "audio/wav", "wav"
    if fmt in ("mid", "midi"):
        return to_midi_bytes(seq), "audio/midi", "mid"
    raise ValueError(f"Unknown format {fmt!r}: use 'mid' or 'wav'.")
