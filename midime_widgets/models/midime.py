"""MidiMe: a small VAE trained on MusicVAE latent codes (Dinculescu, Engel & Roberts, 2019).

MidiMe learns a tiny latent space (4-d by default) of the user's own MusicVAE codes, so that
sampling it gives MusicVAE codes "in the style" of the input. This module only sees numpy arrays of
MusicVAE latents ``[n, z_size]``; it knows nothing about MIDI.

Defaults equal magenta.js's ``MidiMe`` (``music/src/music_vae/midi_me.ts``) so results compare:

* encoder Dense+ReLU ``[1024, 256, 64]``, a linear ``mu`` head and a softplus ``sigma`` head
  (sigma is a standard deviation, not a log-variance), latent size 4;
* decoder Dense+ReLU ``[64, 256, 1024]`` and a linear Dense back to ``input_size``;
* loss = ``mean_batch Σ (x − x̂)² / 2  +  beta · KL`` with
  ``KL = −0.5 · mean_batch Σ (1 + log σ² − μ² − σ²)``, beta 1, Adam with lr 1e-3;
* ``fit`` is full-batch by default: one Adam step per epoch, a fresh Adam state per ``fit`` call.

Two things differ by default. ``fit()`` trains until the loss stops falling (a plateau rule with a
step budget, :data:`UNTIL_CONVERGED`) rather than a fixed number of epochs, and the MidiMe the
product trains, :meth:`MidiMeConfig.personal`, has smaller hidden layers and a higher learning
rate (:data:`PERSONAL_DEFAULTS`), chosen by measurement on held-out real tunes.

The one deliberate difference: ``log σ²`` is computed as ``log(σ² + 1e-12)``
(:data:`LOG_VARIANCE_EPSILON`). That moves it by at most 1e-12/σ² (under 1e-6 for σ ≥ 1e-3) and
keeps the KL finite when softplus underflows to exactly 0, where magenta.js gets −inf/NaN.
(Adam is TensorFlow's fused kernel, whose ε sits outside the bias correction, like Keras'; tfjs
adds ε to the bias-corrected √v̂; the two differ only for gradients below ~1e-5.)

Training runs inside one compiled ``tf.function`` per chunk of epochs (a ``tf.while_loop`` over
steps), shared by every MidiMe of the same layer sizes (so a process traces it once), with a stop flag variable read every step so :meth:`MidiMe.stop` from another thread ends
training after the current step. Every step checks its loss and gradients before applying its
update, and copies the weights (on-device, inside the step) just before each good update. A
non-finite loss means the previous update broke the weights, so the copy is put back and
:class:`~midime_widgets.errors.TrainingError` is raised; a last check after the final step catches
an update that broke the weights on the way out.

Saved format (a directory, no pickle anywhere; see :meth:`MidiMe.save`)::

    my_midime/
      midime.json   {"format": "midime-widgets/midime", "format_version": 1, "config": {...},
                     "musicvae": {"name", "z_size", "fingerprint"} | null,
                     "training": {"epochs_trained", "fits", "noise_steps",
                                  "last_fit": {"total": [...], "reconstruction": [...],
                                               "kl": [...], "stopped", "seconds", ...}},
                     "weights": [{"name", "shape", "dtype"}, ...], "versions": {...}}
      weights.npz   one float32 array per weight name, e.g. "encoder_0/kernel" (loaded with
                    allow_pickle=False)
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import os
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import CheckpointError, TrainingError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DEFAULT_MAX_STEPS",
    "LOG_VARIANCE_EPSILON",
    "PLATEAU_STEPS",
    "PLATEAU_TOLERANCE",
    "UNTIL_CONVERGED",
    "FitHistory",
    "MidiMe",
    "MidiMeConfig",
    "MidiMeInputError",
    "PERSONAL_DEFAULTS",
]

FORMAT_NAME = "midime-widgets/midime"
FORMAT_VERSION = 1
CONFIG_FILENAME = "midime.json"
WEIGHTS_FILENAME = "weights.npz"

#: Added to σ² before the log in the KL term; see the module docstring.
LOG_VARIANCE_EPSILON = 1e-12

_ADAM_BETA_1 = 0.9
_ADAM_BETA_2 = 0.999
_ADAM_EPSILON = 1e-7  # Keras' and tfjs' float32 default
_MAX_SEED = 2**31 - 1
# When progress is reported, one compiled call runs enough epochs to last about this long.
_PROGRESS_CHUNK_SECONDS = 0.05
# At most this many steps per compiled call (bounds the per-call loss buffer).
_MAX_STEPS_PER_CALL = 4096
_STATUS_OK, _STATUS_NONFINITE = 0, 1

# -- the default training length (the CLI, the panel and Personalizer import these) --------------
#: ``fit(epochs=UNTIL_CONVERGED)``: train until the loss stops falling (the default).
UNTIL_CONVERGED = None
#: Most optimizer steps an until-converged fit takes, however many windows the song has.
DEFAULT_MAX_STEPS = 1000
#: The plateau rule: converged when the loss moved less than PLATEAU_TOLERANCE (relative) between
#: the two halves of the last PLATEAU_STEPS steps (see :func:`loss_change`).
PLATEAU_STEPS = 100
PLATEAU_TOLERANCE = 0.01
#: What the product's MidiMe (:meth:`MidiMeConfig.personal`) changes from magenta.js's: hidden
#: layers [256, 64] instead of [1024, 256, 64] (5x fewer weights, so a 3-minute song trains to
#: convergence in about 2 s on a 2-core CPU) and a learning rate of 3e-3 (converges in ~400-900
#: steps). Measured on held-out real tunes with benchmarks/bench_real_music.py.
PERSONAL_DEFAULTS: dict[str, Any] = {
    "latent_size": 4,
    "encoder_layers": (256, 64),
    "decoder_layers": (64, 256),
    "beta": 1.0,
    "learning_rate": 3e-3,
}


class MidiMeInputError(TrainingError, ValueError):
    """Latent codes given to MidiMe have the wrong shape, size or values (NaN/inf)."""


# ----------------------------------------------------------------------------------------------
# Config and history
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MidiMeConfig:
    """MidiMe hyper-parameters; the defaults are magenta.js's.

    ``input_size`` must equal the MusicVAE's ``z_size``. ``seed`` fixes the weight initialisation,
    the training noise and the mini-batch order; ``None`` draws one (``MidiMe.config.seed`` then
    holds the drawn value, so a saved model records it).
    """

    input_size: int = 256
    latent_size: int = 4
    encoder_layers: tuple[int, ...] = (1024, 256, 64)
    decoder_layers: tuple[int, ...] = (64, 256, 1024)
    beta: float = 1.0
    learning_rate: float = 1e-3
    seed: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "encoder_layers", _layer_sizes(self.encoder_layers, "encoder_layers"))
        object.__setattr__(self, "decoder_layers", _layer_sizes(self.decoder_layers, "decoder_layers"))
        for name in ("input_size", "latent_size"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"MidiMeConfig.{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not _is_real(self.beta) or not math.isfinite(self.beta) or self.beta < 0:
            raise ValueError(f"MidiMeConfig.beta must be a finite number ≥ 0, got {self.beta!r}")
        if not _is_real(self.learning_rate) or not (0 < self.learning_rate < math.inf):
            raise ValueError(
                f"MidiMeConfig.learning_rate must be a finite number > 0, got {self.learning_rate!r}"
            )
        object.__setattr__(self, "beta", float(self.beta))
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        if self.seed is not None:
            if not _is_int(self.seed) or not 0 <= self.seed <= _MAX_SEED:
                raise ValueError(f"MidiMeConfig.seed must be None or an int in [0, 2**31), got {self.seed!r}")
            object.__setattr__(self, "seed", int(self.seed))

    @classmethod
    def personal(cls, input_size: int = 256, **overrides: Any) -> MidiMeConfig:
        """The MidiMe that :class:`~midime_widgets.personalize.Personalizer`, the CLI and the
        panel train by default: :data:`PERSONAL_DEFAULTS` over magenta.js's, then ``overrides``
        (e.g. ``latent_size``, ``beta``, ``seed``)."""
        return cls(**{**PERSONAL_DEFAULTS, "input_size": input_size, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["encoder_layers"] = list(self.encoder_layers)
        data["decoder_layers"] = list(self.decoder_layers)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MidiMeConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo should not pass silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown MidiMeConfig field(s): {', '.join(unknown)}")
        return cls(**dict(data))


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _layer_sizes(sizes: Any, name: str) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise ValueError(f"MidiMeConfig.{name} must be a list of positive integers, got {sizes!r}")
    if not all(_is_int(s) and s >= 1 for s in sizes):
        raise ValueError(f"MidiMeConfig.{name} must be a list of positive integers, got {list(sizes)!r}")
    return tuple(int(s) for s in sizes)


def loss_change(losses: Sequence[float], window: int) -> float | None:
    """Relative fall of the loss over the last ``window`` values: the mean of the newer half vs
    the mean of the older half, as a share of the older (``None`` until ``window`` values exist).

    Halves, not single values, because each step's loss carries the VAE's sampling noise.
    """
    if window < 2 or len(losses) < window:
        return None
    recent = np.asarray(losses[-window:], dtype=np.float64)
    older, newer = recent[: window // 2].mean(), recent[window // 2 :].mean()
    if not (math.isfinite(older) and math.isfinite(newer)):
        return None
    return float(abs(older - newer) / max(abs(older), 1e-12))


class FitHistory(dict):
    """What :meth:`MidiMe.fit` returns: ``{"total": [...], "reconstruction": [...], "kl": [...]}``.

    One float per epoch that ran (the mean over that epoch's steps; with the default full batch it
    is the loss of the epoch's single step, measured before its update, as magenta.js reports it).
    Attributes: ``epochs_requested`` (``None``: until converged), ``max_steps`` (the step budget
    of an until-converged fit), ``steps`` (optimizer steps run), ``epochs_run``, ``seconds``
    (wall time), ``stop_reason`` (one of the ``CONVERGED`` … ``DIVERGED`` codes), ``loss_change``
    (the last plateau check's relative change), ``stopped`` (``stop()`` or a Keras callback
    ended it early) and :attr:`reason`, the why in words.
    """

    KEYS = ("total", "reconstruction", "kl")
    CONVERGED = "converged"
    BUDGET = "step budget"
    EPOCHS_DONE = "epochs done"
    STOPPED = "stopped"
    CALLBACK = "stopped by callback"
    DIVERGED = "diverged"

    def __init__(self, epochs_requested: int | None = None, *, max_steps: int | None = None,
                 stopped: bool = False, seconds: float = 0.0, steps: int = 0,
                 stop_reason: str | None = None, loss_change: float | None = None):
        super().__init__({key: [] for key in self.KEYS})
        self.epochs_requested = None if epochs_requested is None else int(epochs_requested)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.stopped = bool(stopped)
        self.seconds = float(seconds)
        self.steps = int(steps)
        self.stop_reason = stop_reason
        self.loss_change = loss_change

    @property
    def epochs_run(self) -> int:
        return len(self["total"])

    @property
    def until_converged(self) -> bool:
        return self.epochs_requested is None

    def finish(self, reason: str) -> None:
        """Record why training ended (one of the class's reason codes)."""
        self.stop_reason = reason
        self.stopped = reason in (self.STOPPED, self.CALLBACK)

    @property
    def reason(self) -> str:
        """Why training stopped, in one sentence a musician can read."""
        steps = f"{self.steps:,} training step{'s' if self.steps != 1 else ''}"
        window = f"the last {PLATEAU_STEPS} steps"
        change = "" if self.loss_change is None else f"{self.loss_change:.1%}"
        if self.stop_reason == self.CONVERGED:
            return (f"Finished: it had learned what it could from your music — converged (its "
                    f"error changed by only {change} over {window}; {steps}, {self.seconds:.1f} s).")
        if self.stop_reason == self.BUDGET:
            still = f" (its error still changed by {change} over {window})" if change else ""
            return (f"Stopped at its limit of {self.max_steps:,} training steps{still}; "
                    f"train on to let it learn more.")
        if self.stop_reason == self.EPOCHS_DONE:
            return f"Trained the {self.epochs_requested:,} epochs asked for ({steps}, {self.seconds:.1f} s)."
        if self.stop_reason == self.STOPPED:
            return f"Stopped by you after {steps}; what it learned so far is kept."
        if self.stop_reason == self.CALLBACK:
            return f"Stopped by a training callback after {steps}."
        if self.stop_reason == self.DIVERGED:
            return (f"Training went unstable after {steps} (its error became infinite or not a "
                    f"number); what it had learned before that was kept.")
        return f"Trained {steps} so far."

    def append(self, total: float, reconstruction: float, kl: float) -> None:
        self["total"].append(float(total))
        self["reconstruction"].append(float(reconstruction))
        self["kl"].append(float(kl))

    def last(self) -> dict[str, float] | None:
        """The final epoch's losses, or ``None`` when no epoch ran."""
        if not self["total"]:
            return None
        return {key: self[key][-1] for key in self.KEYS}

    def to_dict(self) -> dict[str, Any]:
        return {
            **{key: list(self[key]) for key in self.KEYS},
            "epochs_requested": self.epochs_requested,
            "max_steps": self.max_steps,
            "steps": self.steps,
            "stopped": self.stopped,
            "stop_reason": self.stop_reason,
            "loss_change": self.loss_change,
            "reason": self.reason,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitHistory:
        def optional(key, kind):
            value = data.get(key)
            return None if value is None else kind(value)

        history = cls(
            optional("epochs_requested", int),
            max_steps=optional("max_steps", int),
            stopped=bool(data.get("stopped", False)),
            seconds=float(data.get("seconds", 0.0)),
            steps=int(data.get("steps", 0)),
            stop_reason=optional("stop_reason", str),
            loss_change=optional("loss_change", float),
        )
        columns = [[float(v) for v in data.get(key, [])] for key in cls.KEYS]
        if len({len(c) for c in columns}) > 1:
            raise ValueError("loss columns have different lengths")
        for row in zip(*columns):
            history.append(*row)
        return history

    def __repr__(self) -> str:
        last = self.last()
        tail = f", last total {last['total']:.4g}" if last else ""
        planned = "until converged" if self.until_converged else f"of {self.epochs_requested}"
        return (
            f"FitHistory({self.epochs_run} epochs {planned}, {self.steps} steps"
            f"{', ' + self.stop_reason if self.stop_reason else ''}{tail})"
        )


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------


def _as_codes(z: Any, width: int, what: str) -> np.ndarray:
    """``z`` as a finite float32 ``[n ≥ 1, width]`` array, or a MidiMeInputError that says why."""
    try:
        array = np.asarray(z, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise MidiMeInputError(f"{what} must be a numeric array of shape [n, {width}]: {err}") from None
    if array.ndim != 2:
        hint = " (for one code use z[None, :])" if array.ndim == 1 else ""
        raise MidiMeInputError(
            f"{what} must have shape [n, {width}], got an array of shape {array.shape}{hint}"
        )
    if array.shape[1] != width:
        raise MidiMeInputError(
            f"{what} must have {width} values per row, got {array.shape[1]} "
            f"(shape {array.shape}); is this MidiMe made for a different MusicVAE?"
        )
    if array.shape[0] < 1:
        raise MidiMeInputError(f"{what} is empty: need at least one row of {width} values")
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        raise MidiMeInputError(
            f"{what} contains NaN or infinite values in {bad_rows.size} of {array.shape[0]} rows "
            f"(first bad row: {int(bad_rows[0])})"
        )
    return np.ascontiguousarray(array)


def _positive_int(value: Any, name: str) -> int:
    if not _is_int(value) or value < 1:
        raise MidiMeInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _musicvae_record(info: Mapping[str, Any] | None, input_size: int) -> dict[str, Any] | None:
    """Validate the caller's description of the MusicVAE the codes come from."""
    if info is None:
        return None
    if not isinstance(info, Mapping):
        raise MidiMeInputError("musicvae must be a dict like {'name': ..., 'z_size': ..., 'fingerprint': ...}")
    record = dict(info)
    fingerprint = record.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise MidiMeInputError("musicvae['fingerprint'] must be a non-empty string")
    z_size = record.get("z_size")
    if not _is_int(z_size) or int(z_size) != input_size:
        raise MidiMeInputError(
            f"musicvae['z_size'] is {z_size!r} but this MidiMe's input_size is {input_size}"
        )
    record["z_size"] = int(z_size)
    if "name" in record and not isinstance(record["name"], str):
        raise MidiMeInputError("musicvae['name'] must be a string")
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise MidiMeInputError(f"musicvae metadata must be plain JSON values: {err}") from None
    return record


# ----------------------------------------------------------------------------------------------
# The network (Keras) and the compiled training loop
# ----------------------------------------------------------------------------------------------


def _tf():
    import tensorflow as tf

    return tf


def _build_network(config: MidiMeConfig):
    """A Keras model holding MidiMe's layers; ``call`` reconstructs through ``mu`` (no noise)."""
    import keras

    layer_seeds = iter(np.random.SeedSequence(config.seed).generate_state(64).tolist())

    def dense(units: int, name: str, activation: str | None = None):
        return keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(layer_seeds) % _MAX_SEED),
            bias_initializer="zeros",
            name=name,
        )

    class MidiMeNetwork(keras.Model):
        def __init__(self):
            super().__init__(name="midime")
            self.encoder_stack = [
                dense(units, f"encoder_{i}", "relu") for i, units in enumerate(config.encoder_layers)
            ]
            self.mu_head = dense(config.latent_size, "mu")
            self.sigma_head = dense(config.latent_size, "sigma", "softplus")
            self.decoder_stack = [
                dense(units, f"decoder_{i}", "relu") for i, units in enumerate(config.decoder_layers)
            ]
            self.output_head = dense(config.input_size, "output")

        def encode(self, x):
            for layer in self.encoder_stack:
                x = layer(x)
            return self.mu_head(x), self.sigma_head(x)

        def decode(self, z):
            for layer in self.decoder_stack:
                z = layer(z)
            return self.output_head(z)

        def call(self, x):
            mu, _ = self.encode(x)
            return self.decode(mu)

        def named_layers(self):
            return [*self.encoder_stack, self.mu_head, self.sigma_head, *self.decoder_stack, self.output_head]

    network = MidiMeNetwork()
    network.encode(np.zeros((1, config.input_size), np.float32))  # creates the variables
    network.decode(np.zeros((1, config.latent_size), np.float32))
    return network


def midime_losses(tf, x, reconstruction, mu, sigma, beta):
    """magenta.js's MidiMe loss terms as scalars ``(total, reconstruction, kl)`` (see module doc)."""
    recon = tf.reduce_mean(tf.reduce_sum(tf.square(x - reconstruction), axis=-1) / 2.0)
    variance = tf.square(sigma)
    log_variance = tf.math.log(variance + LOG_VARIANCE_EPSILON)
    kl = -0.5 * tf.reduce_mean(tf.reduce_sum(1.0 + log_variance - tf.square(mu) - variance, axis=-1))
    return recon + beta * kl, recon, kl


def _shape_key(config: MidiMeConfig) -> tuple:
    """What the compiled functions depend on: the layer sizes (not the seed, beta or rate)."""
    return (config.input_size, config.latent_size, config.encoder_layers, config.decoder_layers)


class _SharedFunctions:
    """The compiled MidiMe functions for one network shape, shared by every MidiMe of that shape.

    Each function takes the model's variables as arguments (TensorFlow traces a variable by its
    shape and dtype, not its identity), and beta, the learning rate and the seed as tensors, so
    a process traces them once per shape, however many MidiMe it makes: the second song's first
    step runs at once and TensorFlow never warns about retracing. The forward pass is written out
    (``x @ kernel + bias``, as Keras' Dense computes it) over the weights in
    :meth:`MidiMe.weight_names` order.

    Adam uses TensorFlow's fused ``ResourceApplyAdam`` kernel (the same update rule as
    ``keras.optimizers.Adam``: bias-corrected step size, ε outside the square root) because it
    touches each weight once per step instead of running ~10 element-wise ops: ~20 % less CPU
    per step than ``keras.optimizers.Adam`` for the default 1.1 M-parameter model (measured on
    the 2-core CPU; XLA ``jit_compile`` was no faster there and added seconds of compilation).
    """

    def __init__(self, config: MidiMeConfig):
        tf = _tf()
        self.tf = tf
        self.n_encoder = len(config.encoder_layers)
        self.n_decoder = len(config.decoder_layers)
        self._lock = threading.Lock()
        codes = tf.TensorSpec([None, config.input_size], tf.float32)
        small = tf.TensorSpec([None, config.latent_size], tf.float32)
        # autograph=False: the code below uses tf.while_loop / tf.cond explicitly, and skipping
        # autograph's source transformation cuts the first trace from ~4 s to well under 1 s.
        compiled = functools.partial(tf.function, autograph=False)
        self._functions = {
            "copy": compiled(self._copy),
            "probe": compiled(lambda weights, x, beta: self._probe(weights, x, beta)),
            "encode": compiled(lambda weights, x: self._encode(weights, x)),
            "decode": compiled(lambda weights, z: self._decode(weights, z)),
        }
        self._traced: set = set()
        # For each function, what its first trace sees in place of each argument: a spec for
        # tensors (any batch size), or None to trace with the argument itself (variables are
        # traced by shape and dtype, so any MidiMe's variables of this shape match).
        scalar = {dtype: tf.TensorSpec([], dtype) for dtype in (tf.int32, tf.int64, tf.float32)}
        run = (None, codes, scalar[tf.int64], scalar[tf.int32], scalar[tf.int64],
               scalar[tf.float32], scalar[tf.float32], scalar[tf.int32])
        self._trace_as = {
            "copy": (None, None), "probe": (None, codes, scalar[tf.float32]),
            "encode": (None, codes), "decode": (None, small), "run": run, "run_batched": run,
        }

    def call(self, name: str, *args):
        """Call compiled function ``name``; its first call traces it generically (see
        ``_trace_as``), so later calls, from any MidiMe of this shape, never retrace."""
        function = self._functions[name]
        with self._lock:
            if name not in self._traced:
                function.get_concrete_function(
                    *(arg if spec is None else spec for arg, spec in zip(args, self._trace_as[name]))
                )
                self._traced.add(name)
        return function(*args)

    # -- the network, written out over its weights -----------------------------------------------

    def _encode(self, weights, x):
        tf = self.tf
        for i in range(self.n_encoder):
            x = tf.nn.relu(tf.matmul(x, weights[2 * i]) + weights[2 * i + 1])
        k = 2 * self.n_encoder
        mu = tf.matmul(x, weights[k]) + weights[k + 1]
        sigma = tf.math.softplus(tf.matmul(x, weights[k + 2]) + weights[k + 3])
        return mu, sigma

    def _decode(self, weights, z):
        tf = self.tf
        first = 2 * self.n_encoder + 4
        for i in range(self.n_decoder):
            z = tf.nn.relu(tf.matmul(z, weights[first + 2 * i]) + weights[first + 2 * i + 1])
        return tf.matmul(z, weights[-2]) + weights[-1]

    def _probe(self, weights, x, beta):
        """Loss of the weights on ``x`` through ``mu`` (no noise), to check the final update."""
        mu, sigma = self._encode(weights, x)
        return midime_losses(self.tf, x, self._decode(weights, mu), mu, sigma, beta)[0]

    @staticmethod
    def _copy(sources, targets):
        for target, source in zip(targets, sources):
            target.assign(source)

    # -- one training step -------------------------------------------------------------------

    def _apply_adam(self, state, grads, lr):
        tf = self.tf
        state.adam_step.assign_add(1.0)
        beta1_power = tf.pow(_ADAM_BETA_1, state.adam_step)
        beta2_power = tf.pow(_ADAM_BETA_2, state.adam_step)
        return [
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=m.handle, v=v.handle,
                beta1_power=beta1_power, beta2_power=beta2_power, lr=lr,
                beta1=tf.constant(_ADAM_BETA_1, tf.float32),
                beta2=tf.constant(_ADAM_BETA_2, tf.float32),
                epsilon=tf.constant(_ADAM_EPSILON, tf.float32),
                grad=grad,
            )
            for var, m, v, grad in zip(state.weights, state.adam_m, state.adam_v, grads)
        ]

    def _step(self, state, x, seed, beta, lr):
        """One Adam step. Returns (status, [total, reconstruction, kl]).

        The copy of the weights is refreshed only when this step's loss is finite, so a
        non-finite loss later restores weights known to give a finite loss.
        """
        tf = self.tf
        weights = state.weights
        noise_seed = tf.stack([seed, state.noise_counter.read_value()])
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(weights)
            mu, sigma = self._encode(weights, x)
            noise = tf.random.stateless_normal(tf.shape(mu), seed=noise_seed)
            reconstruction = self._decode(weights, mu + sigma * noise)
            total, recon, kl = midime_losses(tf, x, reconstruction, mu, sigma, beta)
        grads = tape.gradient(total, weights)
        state.noise_counter.assign_add(1)
        loss_ok = tf.math.is_finite(total)
        # One NaN/inf anywhere makes the sum non-finite; a single sum per gradient is ~2x cheaper
        # than elementwise is_finite checks (an overflowing sum would flag a gradient that is
        # diverging anyway).
        grads_ok = tf.math.is_finite(tf.add_n([tf.reduce_sum(g) for g in grads]))

        def update():
            self._copy(weights, state.snapshot)
            with tf.control_dependencies(self._apply_adam(state, grads, lr)):
                return tf.constant(_STATUS_OK)

        def refuse():
            # A non-finite loss means the last update broke the weights: put back the copy taken
            # before it. (Finite loss with non-finite gradients: the current weights are fine.)
            def restore():
                assigns = [w.assign(c) for c, w in zip(state.snapshot, weights)]
                with tf.control_dependencies(assigns):
                    return tf.constant(True)

            restored = tf.cond(loss_ok, lambda: tf.constant(False), restore)
            with tf.control_dependencies([restored]):
                return tf.constant(_STATUS_NONFINITE)

        status = tf.cond(tf.logical_and(loss_ok, grads_ok), update, refuse)
        return status, tf.stack([total, recon, kl])

    # -- the compiled loop ---------------------------------------------------------------------

    def train_fn(self, batched: bool) -> str:
        """Name of the compiled ``run(state, x, first_step, num_steps, seed, beta, lr,
        batch_size) -> (steps_done, status, losses[num_steps, 3])`` for this batching mode."""
        name = "run_batched" if batched else "run"
        with self._lock:
            if name not in self._functions:
                self._functions[name] = self._make_train_fn(batched)
        return name

    def tracing_counts(self) -> dict[str, int]:
        """How often each compiled function was traced (1 each once used; tests check this)."""
        return {name: fn.experimental_get_tracing_count() for name, fn in self._functions.items()}

    def _make_train_fn(self, batched: bool):
        tf = self.tf

        def batch_for(x, step, seed, batch_size):
            if not batched:
                return x
            n = tf.shape(x)[0]
            steps_per_epoch = (n + batch_size - 1) // batch_size
            epoch = tf.cast(step // tf.cast(steps_per_epoch, tf.int64), tf.int64)
            position = tf.cast(step % tf.cast(steps_per_epoch, tf.int64), tf.int32)
            order = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([seed + 1, epoch])))
            start = position * batch_size
            return tf.gather(x, order[start : tf.minimum(start + batch_size, n)])

        def run(state, x, first_step, num_steps, seed, beta, lr, batch_size):
            def keep_going(i, status, losses):
                return tf.logical_and(
                    tf.logical_and(i < num_steps, tf.equal(status, _STATUS_OK)),
                    tf.logical_not(state.stop_flag.read_value()),
                )

            def body(i, status, losses):
                batch = batch_for(x, first_step + tf.cast(i, tf.int64), seed, batch_size)
                status, step_losses = self._step(state, batch, seed, beta, lr)
                return i + 1, status, losses.write(i, step_losses)

            losses = tf.TensorArray(tf.float32, size=num_steps, element_shape=[3])
            steps, status, losses = tf.while_loop(
                keep_going, body, [tf.constant(0), tf.constant(_STATUS_OK), losses]
            )
            return steps, status, losses.stack()

        return tf.function(run, autograph=False)


_SHARED_FUNCTIONS: dict[tuple, _SharedFunctions] = {}
_SHARED_LOCK = threading.Lock()


def _shared_functions(config: MidiMeConfig) -> _SharedFunctions:
    """The process-wide compiled functions for MidiMe of ``config``'s shape."""
    key = _shape_key(config)
    with _SHARED_LOCK:
        if key not in _SHARED_FUNCTIONS:
            _SHARED_FUNCTIONS[key] = _SharedFunctions(config)
        return _SHARED_FUNCTIONS[key]


class _TrainingState(NamedTuple):
    """One MidiMe's variables, as the shared functions take them (a nest TensorFlow can trace)."""

    weights: list
    adam_m: list
    adam_v: list
    snapshot: list
    adam_step: Any
    stop_flag: Any
    noise_counter: Any


class _CompiledTraining:
    """One MidiMe's training variables, bound to the shared compiled functions of its shape."""

    def __init__(self, variables: list, config: MidiMeConfig):
        tf = _tf()
        self.tf = tf
        self.config = config
        self.functions = _shared_functions(config)
        self.variables = variables
        zeros = [tf.zeros_like(v) for v in variables]
        self.state = _TrainingState(
            weights=variables,
            adam_m=[tf.Variable(z, trainable=False) for z in zeros],
            adam_v=[tf.Variable(z, trainable=False) for z in zeros],
            snapshot=[tf.Variable(v, trainable=False) for v in variables],
            adam_step=tf.Variable(0.0, trainable=False),
            stop_flag=tf.Variable(False, trainable=False),
            noise_counter=tf.Variable(0, dtype=tf.int64, trainable=False),
        )
        self.seed = tf.constant(config.seed, tf.int64)
        self.beta = tf.constant(config.beta, tf.float32)
        self.learning_rate = tf.constant(config.learning_rate, tf.float32)

    @property
    def stop_flag(self):
        return self.state.stop_flag

    @property
    def noise_counter(self):
        return self.state.noise_counter

    def take_snapshot(self):
        self._call("copy", self.variables, self.state.snapshot)

    def restore_snapshot(self):
        self._call("copy", self.state.snapshot, self.variables)

    def probe(self, x):
        return self._call("probe", self.variables, x, self.beta)

    def encode(self, x):
        return self._call("encode", self.variables, self.tf.convert_to_tensor(x))

    def decode(self, z):
        return self._call("decode", self.variables, self.tf.convert_to_tensor(z))

    def run(self, x, first_step: int, num_steps: int, batch_size: int | None):
        """``num_steps`` Adam steps from lifetime step ``first_step``: (steps, status, losses)."""
        tf = self.tf
        name = self.functions.train_fn(batch_size is not None)
        return self._call(
            name, self.state, x, tf.constant(first_step, tf.int64), tf.constant(num_steps, tf.int32),
            self.seed, self.beta, self.learning_rate, tf.constant(batch_size or 0, tf.int32),
        )

    def _call(self, name: str, *args):
        return self.functions.call(name, *args)

    def reset_optimizer(self):
        for slot in (*self.state.adam_m, *self.state.adam_v):
            slot.assign(self.tf.zeros_like(slot))
        self.state.adam_step.assign(0.0)


# ----------------------------------------------------------------------------------------------
# MidiMe
# ----------------------------------------------------------------------------------------------


class MidiMe:
    """A small VAE over MusicVAE latent codes: ``fit`` on a user's codes, then ``sample``.

    >>> midime = MidiMe(MidiMeConfig(seed=0))               # doctest: +SKIP
    >>> history = midime.fit(codes)                          # codes: [n, 256] MusicVAE mu
    >>> history.reason                                       # doctest: +SKIP
    'Finished: it had learned what it could from your music (…)'
    >>> new_codes = midime.sample(8, seed=1)                 # [8, 256] → MusicVAE.decode

    ``musicvae`` (optional) describes the MusicVAE the codes come from:
    ``{"name": str, "z_size": int, "fingerprint": str}``; it is saved with the model and checked by
    :meth:`check_compatible` / :meth:`load`. Runs on the GPU when TensorFlow sees one.
    """

    def __init__(self, config: MidiMeConfig | None = None, *, musicvae: Mapping[str, Any] | None = None):
        config = config if config is not None else MidiMeConfig()
        if not isinstance(config, MidiMeConfig):
            raise TypeError(f"config must be a MidiMeConfig, got {type(config).__name__}")
        if config.seed is None:
            config = dataclasses.replace(config, seed=secrets.randbelow(_MAX_SEED))
        self.config: MidiMeConfig = config
        self.musicvae: dict[str, Any] | None = _musicvae_record(musicvae, config.input_size)
        self.network = _build_network(config)
        self._training = _CompiledTraining([var for _, var in self._named_variables()], config)
        self.history: FitHistory | None = None
        self.epochs_trained = 0
        self.fits = 0
        self._stop_requested = threading.Event()
        self._state_lock = threading.Lock()
        self._is_training = False

    # -- properties ------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """``"CPU"`` or the name of the GPU TensorFlow runs this model on."""
        return _device_name()

    @property
    def trained(self) -> bool:
        return self.epochs_trained > 0

    @property
    def weight_names(self) -> list[str]:
        """Stable names of the weights, as stored in ``weights.npz``."""
        return [name for name, _ in self._named_variables()]

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every weight, keyed by :attr:`weight_names`."""
        return {name: var.numpy().copy() for name, var in self._named_variables()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Assign weights by name; names and shapes must match exactly."""
        named = self._named_variables()
        missing = sorted({n for n, _ in named} - set(weights))
        extra = sorted(set(weights) - {n for n, _ in named})
        if missing or extra:
            raise CheckpointError(
                f"weights do not fit this MidiMe (missing: {missing or 'none'}, unexpected: {extra or 'none'})"
            )
        for name, var in named:
            value = np.asarray(weights[name])
            if tuple(value.shape) != tuple(var.shape):
                raise CheckpointError(
                    f"weight {name!r} has shape {tuple(value.shape)}, this MidiMe needs {tuple(var.shape)}"
                )
            if not np.isfinite(value).all():
                raise CheckpointError(f"weight {name!r} contains NaN or infinite values")
        for name, var in named:
            var.assign(np.asarray(weights[name], dtype=np.float32))

    def _named_variables(self):
        named = []
        for layer in self.network.named_layers():
            named.append((f"{layer.name}/kernel", _tf_variable(layer.kernel)))
            named.append((f"{layer.name}/bias", _tf_variable(layer.bias)))
        return named

    def __repr__(self) -> str:
        c = self.config
        mvae = f", musicvae={self.musicvae.get('name', self.musicvae['fingerprint'])!r}" if self.musicvae else ""
        return (
            f"MidiMe(input_size={c.input_size}, latent_size={c.latent_size}, "
            f"epochs_trained={self.epochs_trained}{mvae}, device={self.device!r})"
        )

    # -- training --------------------------------------------------------------------------------

    def fit(
        self,
        z: Any,
        epochs: int | None = UNTIL_CONVERGED,
        batch_size: int | None = None,
        callbacks: Sequence[Any] | None = None,
        on_progress: Callable[[int, int, dict[str, float]], Any] | None = None,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> FitHistory:
        """Train on MusicVAE codes ``z`` ``[n, input_size]``; returns a :class:`FitHistory`.

        ``epochs=None`` (:data:`UNTIL_CONVERGED`, the default) trains until the loss stops
        falling (it moved less than :data:`PLATEAU_TOLERANCE` over :data:`PLATEAU_STEPS` steps)
        or ``max_steps`` optimizer steps have run, whichever comes first; a number trains exactly
        that many epochs. The history says how long it trained and why it stopped.
        ``batch_size=None`` (default) trains full-batch, one step per epoch, like magenta.js; an
        int trains on shuffled mini-batches (order fixed by the seed). ``on_progress(epoch,
        epochs, {"total", "reconstruction", "kl"})`` is called after every epoch (``epoch``
        counts from 1); ``callbacks`` are Keras callbacks (``on_epoch_end`` logs hold ``loss``,
        ``reconstruction`` and ``kl``; setting ``model.stop_training`` stops). :meth:`stop` from
        another thread ends training after the current step, keeping the weights. A non-finite
        loss raises TrainingError with the weights of the last good step restored.
        """
        if epochs is not None:
            epochs = _positive_int(epochs, "epochs")
        max_steps = _positive_int(max_steps, "max_steps")
        if batch_size is not None:
            batch_size = _positive_int(batch_size, "batch_size")
        codes = _as_codes(z, self.config.input_size, "the training codes")
        with self._state_lock:
            if self._is_training:
                raise TrainingError("this MidiMe is already training; call stop() or wait for it to finish")
            self._is_training = True
            self._set_stop(False)
        try:
            return self._run_fit(codes, epochs, max_steps, batch_size, list(callbacks or []), on_progress)
        finally:
            with self._state_lock:
                self._is_training = False
                self._set_stop(False)

    def stop(self) -> None:
        """Ask a running :meth:`fit` (in another thread) to end after its current step.

        The weights trained so far are kept and ``fit`` returns normally with ``stopped=True``.
        Calling it when no fit is running does nothing.
        """
        with self._state_lock:
            if self._is_training:
                self._set_stop(True)

    @property
    def is_training(self) -> bool:
        """True while :meth:`fit` runs (in any thread)."""
        return self._is_training

    def _set_stop(self, value: bool) -> None:
        if value:
            self._stop_requested.set()
        else:
            self._stop_requested.clear()
        self._training.stop_flag.assign(value)

    def _run_fit(self, codes, epochs, max_steps, batch_size, callbacks, on_progress) -> FitHistory:
        """The training loop: compiled chunks of epochs, with reporting (and, when training
        until converged, the plateau check) between chunks."""
        tf = _tf()
        training = self._training
        if batch_size is not None and batch_size >= codes.shape[0]:
            batch_size = None
        steps_per_epoch = 1 if batch_size is None else -(-codes.shape[0] // batch_size)
        until_converged = epochs is None
        planned = -(-max_steps // steps_per_epoch) if until_converged else epochs
        # Converged = the loss moved less than PLATEAU_TOLERANCE over PLATEAU_STEPS steps; it is
        # checked every half plateau, on fixed epochs (so the same seed stops at the same epoch,
        # however long the chunks took), and a chunk of epochs never crosses a check.
        plateau_epochs = max(2, -(-PLATEAU_STEPS // steps_per_epoch))
        check_every = max(1, plateau_epochs // 2) if until_converged else planned
        x = tf.convert_to_tensor(codes)

        started = time.perf_counter()
        history = self.history = FitHistory(epochs, max_steps=max_steps if until_converged else None)
        self.fits += 1
        training.reset_optimizer()  # a fresh Adam per fit, as magenta.js's train()
        training.take_snapshot()
        reporter = _EpochReporter(planned, on_progress, _keras_callback_list(callbacks, self.network))
        # The shuffle order is keyed by the model's lifetime epoch count, so a second fit does not
        # replay the first one's mini-batch order.
        first_epoch = self.epochs_trained
        max_chunk = max(1, min(_MAX_STEPS_PER_CALL // steps_per_epoch, check_every))
        chunk_epochs, epoch = 1, 0
        try:
            reporter.begin(self.network)
            while epoch < planned and not self._stop_requested.is_set():
                count = min(chunk_epochs, planned - epoch)
                if until_converged:  # chunks end on every check, whatever their timed length
                    count = min(count, check_every - epoch % check_every)
                reporter.epoch_begin(epoch)
                chunk_started = time.perf_counter()
                steps, status, losses = training.run(
                    x, (first_epoch + epoch) * steps_per_epoch, count * steps_per_epoch, batch_size
                )
                steps, status, losses = int(steps), int(status), losses.numpy()
                chunk_seconds = time.perf_counter() - chunk_started
                good_steps = steps if status == _STATUS_OK else steps - 1
                history.steps += good_steps
                for row in _epoch_means(losses[:good_steps], steps_per_epoch, partial=status == _STATUS_OK):
                    history.append(*row)
                    epoch += 1
                    self.epochs_trained += 1
                    reporter.epoch_end(epoch, row)
                if status != _STATUS_OK:
                    raise self._divergence_error(history, epoch)
                if steps < count * steps_per_epoch or reporter.stop_requested(self.network):
                    # stop() during the call, or a Keras callback
                    history.finish(FitHistory.STOPPED if steps < count * steps_per_epoch
                                   else FitHistory.CALLBACK)
                    break
                if until_converged and (epoch % check_every == 0 or epoch == planned):
                    change = loss_change(history["total"], plateau_epochs)
                    history.loss_change = change
                    if change is not None and change < PLATEAU_TOLERANCE:
                        history.finish(FitHistory.CONVERGED)
                        break
                chunk_epochs = min(max_chunk, reporter.next_chunk(count, chunk_seconds, planned - epoch))
            else:
                if epoch < planned:  # stop() between calls
                    history.finish(FitHistory.STOPPED)
                else:
                    history.finish(FitHistory.BUDGET if until_converged else FitHistory.EPOCHS_DONE)
            if not math.isfinite(float(training.probe(x))):  # did the very last update break it?
                training.restore_snapshot()
                raise self._divergence_error(history, epoch)
        finally:
            history.seconds = time.perf_counter() - started
            reporter.end()
        return history

    def _divergence_error(self, history: FitHistory, epoch: int) -> TrainingError:
        history.finish(FitHistory.DIVERGED)
        error = TrainingError(
            f"MidiMe training diverged in epoch {epoch + 1} (the loss became NaN or infinite); "
            f"the weights from the last good step were kept. Try a lower learning rate "
            f"(now {self.config.learning_rate:g}) or check the input codes."
        )
        error.history = history
        return error

    # -- inference -------------------------------------------------------------------------------

    def encode(self, z: Any, *, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Codes ``[n, input_size]`` → ``(z_small, mu, sigma)``, each ``[n, latent_size]``.

        ``z_small = mu + sigma·ε`` with ε ~ N(0, 1) drawn from ``seed`` (as magenta.js's
        ``encode``, which returns the sampled code); use ``mu`` for a deterministic code.
        """
        codes = _as_codes(z, self.config.input_size, "the codes to encode")
        mu, sigma = (t.numpy() for t in self._training.encode(codes))
        noise = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
        return mu + sigma * noise, mu, sigma

    def decode(self, z_small: Any) -> np.ndarray:
        """MidiMe codes ``[n, latent_size]`` → MusicVAE codes ``[n, input_size]``."""
        small = _as_codes(z_small, self.config.latent_size, "the MidiMe codes to decode")
        return self._training.decode(small).numpy()

    def sample(self, n: int = 1, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` standard-normal MidiMe codes → MusicVAE codes ``[n, input_size]``."""
        n = _positive_int(n, "n")
        z_small = np.random.default_rng(seed).standard_normal((n, self.config.latent_size))
        return self.decode(z_small.astype(np.float32))

    def reconstruct(self, z: Any, *, sample: bool = False, seed: int | None = None) -> np.ndarray:
        """Encode then decode ``z``; through ``mu`` by default, or a sampled code (magenta.js's
        ``predict``) with ``sample=True``."""
        z_small, mu, _ = self.encode(z, seed=seed)
        return self.decode(z_small if sample else mu)

    def loss(self, z: Any, *, seed: int | None = None) -> dict[str, float]:
        """The training loss terms on ``z`` with the current weights, one noise draw from ``seed``."""
        tf = _tf()
        codes = _as_codes(z, self.config.input_size, "the codes")
        z_small, mu, sigma = self.encode(codes, seed=seed)
        reconstruction = self.decode(z_small)
        terms = midime_losses(tf, tf.constant(codes), tf.constant(reconstruction), tf.constant(mu),
                              tf.constant(sigma), self.config.beta)
        return dict(zip(FitHistory.KEYS, (float(t) for t in terms)))

    # -- compatibility and persistence -----------------------------------------------------------

    def check_compatible(self, fingerprint: str | None = None, *, z_size: int | None = None) -> None:
        """Raise CheckpointError unless this MidiMe fits the MusicVAE described.

        ``z_size`` must equal ``input_size``; ``fingerprint`` must equal the recorded one (a
        MidiMe that records no MusicVAE cannot be checked and is refused when one is asked for).
        """
        if z_size is not None and int(z_size) != self.config.input_size:
            raise CheckpointError(
                f"this MidiMe works on {self.config.input_size}-value MusicVAE codes, "
                f"but the MusicVAE has z_size {z_size}"
            )
        if fingerprint is None:
            return
        recorded = (self.musicvae or {}).get("fingerprint")
        if recorded is None:
            raise CheckpointError(
                "this MidiMe does not record which MusicVAE it was trained on, so it cannot be "
                "checked against this one; load it without a fingerprint to use it anyway"
            )
        if recorded != fingerprint:
            name = (self.musicvae or {}).get("name", "another model")
            raise CheckpointError(
                f"this MidiMe was trained on a different MusicVAE ({name}, fingerprint "
                f"{recorded[:16]}…), not the one given (fingerprint {fingerprint[:16]}…)"
            )

    def save(self, path: str | os.PathLike, *, musicvae: Mapping[str, Any] | None = None) -> Path:
        """Write the model as a directory (``midime.json`` + ``weights.npz``); returns its path.

        The directory is written next to ``path`` and renamed into place, so a failure leaves no
        half-written model. An existing MidiMe directory at ``path`` is replaced; anything else
        there is an error. ``musicvae`` overrides the recorded MusicVAE description.
        """
        target = Path(path)
        if musicvae is not None:
            self.musicvae = _musicvae_record(musicvae, self.config.input_size)
        if target.exists() and not _is_midime_dir(target):
            raise CheckpointError(f"{target} exists and is not a saved MidiMe; refusing to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        weights = self.get_weights()
        metadata = self._metadata(weights)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            with open(staging / WEIGHTS_FILENAME, "wb") as fh:
                np.savez(fh, **weights)
            (staging / CONFIG_FILENAME).write_text(json.dumps(metadata, indent=2, allow_nan=False) + "\n")
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / "model")
                os.replace(staging, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def _metadata(self, weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
        import keras

        from .. import __version__

        history = self.history.to_dict() if self.history is not None else None
        if history is not None:
            history = _json_safe_history(history)
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "musicvae": self.musicvae,
            "training": {
                "epochs_trained": self.epochs_trained,
                "fits": self.fits,
                "noise_steps": int(self._training.noise_counter.numpy()),
                "last_fit": history,
            },
            "weights": [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype)} for k, v in weights.items()],
            "versions": {
                "midime_widgets": __version__,
                "tensorflow": _tf().__version__,
                "keras": keras.__version__,
            },
        }

    @classmethod
    def load(cls, path: str | os.PathLike, *, musicvae_fingerprint: str | None = None,
             z_size: int | None = None) -> MidiMe:
        """Load a model written by :meth:`save` (the directory, or its ``midime.json``).

        With ``musicvae_fingerprint`` / ``z_size`` the model is checked against the MusicVAE it is
        about to be used with (see :meth:`check_compatible`). Missing, corrupt or foreign files
        raise CheckpointError, and nothing else: the sizes in ``midime.json`` and in the weight
        archive's directory are checked (see :data:`SAVED_LIMITS`) before anything is read in
        full or built, so a hostile file cannot exhaust memory.
        """
        directory = Path(path)
        try:
            return cls._load(directory, musicvae_fingerprint, z_size)
        except CheckpointError:
            raise
        except Exception as err:
            raise CheckpointError(
                f"the saved MidiMe at {directory} cannot be loaded ({type(err).__name__}: {err})"
            ) from None

    @classmethod
    def _load(cls, directory: Path, musicvae_fingerprint: str | None, z_size: int | None) -> MidiMe:
        if directory.is_file() and directory.name == CONFIG_FILENAME:
            directory = directory.parent
        if not directory.is_dir():
            raise CheckpointError(f"no saved MidiMe at {directory} (expected a directory with {CONFIG_FILENAME})")
        metadata = _read_metadata(directory / CONFIG_FILENAME)
        try:
            config = MidiMeConfig.from_dict(metadata["config"])
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{directory / CONFIG_FILENAME}: invalid config: {err}") from None
        shapes = _saved_shapes(config, directory / CONFIG_FILENAME)
        try:
            musicvae = _musicvae_record(metadata.get("musicvae"), config.input_size)
        except MidiMeInputError as err:
            raise CheckpointError(f"{directory / CONFIG_FILENAME}: invalid musicvae record: {err}") from None
        weights = _read_weights(directory / WEIGHTS_FILENAME, shapes)
        model = cls(config, musicvae=musicvae)
        try:
            model.set_weights(weights)
        except CheckpointError as err:
            raise CheckpointError(f"{directory / WEIGHTS_FILENAME}: {err}") from None
        model._restore_training_record(metadata.get("training"), directory)
        model.check_compatible(musicvae_fingerprint, z_size=z_size)
        return model

    def _restore_training_record(self, record: Any, directory: Path) -> None:
        if record is None:
            return
        try:
            self.epochs_trained = int(record.get("epochs_trained", 0))
            self.fits = int(record.get("fits", 0))
            self._training.noise_counter.assign(int(record.get("noise_steps", 0)))
            last = record.get("last_fit")
            self.history = FitHistory.from_dict(last) if last is not None else None
        except (AttributeError, TypeError, ValueError) as err:
            raise CheckpointError(f"{directory / CONFIG_FILENAME}: invalid training record: {err}") from None


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _tf_variable(weight):
    """The tf.Variable behind a Keras 3 variable (or the variable itself)."""
    return getattr(weight, "value", weight)


def _device_name() -> str:
    tf = _tf()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        details = tf.config.experimental.get_device_details(gpus[0])
    except (RuntimeError, ValueError):  # pragma: no cover - driver-specific
        details = {}
    return str(details.get("device_name") or gpus[0].name)


def _epoch_means(step_losses: np.ndarray, steps_per_epoch: int, *, partial: bool):
    """Average per-step losses into per-epoch rows; a trailing partial epoch (stop() mid-epoch)
    is kept when ``partial`` is true."""
    rows = []
    for start in range(0, len(step_losses), steps_per_epoch):
        chunk = step_losses[start : start + steps_per_epoch]
        if len(chunk) < steps_per_epoch and not partial:
            break
        rows.append(chunk.mean(axis=0))
    return rows


class _EpochReporter:
    """Delivers per-epoch results to ``on_progress`` and Keras callbacks, and sizes chunks.

    Keras callbacks act between epochs, so they get one epoch per compiled call. With only
    ``on_progress`` a call grows until it takes ~50 ms (reports still arrive for every epoch, in
    small bursts). With neither, everything left runs in one call (``stop()`` still works per
    step, through the stop flag the loop reads).
    """

    def __init__(self, epochs: int, on_progress, keras_callbacks):
        self.epochs = epochs
        self.on_progress = on_progress
        self.keras = keras_callbacks

    def begin(self, network) -> None:
        if self.keras is not None:
            network.stop_training = False
            self.keras.on_train_begin()

    def epoch_begin(self, epoch: int) -> None:
        if self.keras is not None:
            self.keras.on_epoch_begin(epoch)

    def epoch_end(self, epoch: int, row) -> None:
        logs = dict(zip(FitHistory.KEYS, (float(v) for v in row)))
        if self.on_progress is not None:
            self.on_progress(epoch, self.epochs, logs)
        if self.keras is not None:
            self.keras.on_epoch_end(epoch - 1, {"loss": logs["total"], **logs})

    def stop_requested(self, network) -> bool:
        return self.keras is not None and bool(getattr(network, "stop_training", False))

    def end(self) -> None:
        if self.keras is not None:
            self.keras.on_train_end()

    def next_chunk(self, count: int, seconds: float, remaining: int) -> int:
        if self.keras is not None:
            return 1
        if self.on_progress is None:
            return max(remaining, 1)
        per_epoch = max(seconds / max(count, 1), 1e-6)
        return int(min(max(1, _PROGRESS_CHUNK_SECONDS / per_epoch), max(remaining, 1), count * 4))


def _keras_callback_list(callbacks: list[Any], network):
    if not callbacks:
        return None
    import keras

    return keras.callbacks.CallbackList(callbacks, add_history=False, add_progbar=False, model=network)


def _json_safe_history(history: dict[str, Any]) -> dict[str, Any]:
    for key in FitHistory.KEYS:
        history[key] = [v if math.isfinite(v) else None for v in history[key]]
    return history


def _is_midime_dir(path: Path) -> bool:
    return path.is_dir() and (path / CONFIG_FILENAME).is_file()


#: Bounds a saved MidiMe must respect; checked before anything is built or read in full.
SAVED_LIMITS = {
    "json_bytes": 16 * 2**20,  # midime.json (the loss history of ~200,000 epochs fits)
    "json_depth": 8,  # nesting of lists/dicts in midime.json (the format needs 4)
    "layers": 16,  # encoder or decoder layers
    "layer_size": 16384,  # units in one layer, input_size and latent_size
    "parameters": 64 * 2**20,  # weights in all (256 MB of float32)
}
_NPY_HEADER_BYTES = 4096  # room for a .npy member's header beyond its data


def _json_depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, walking at most ``limit + 1`` levels deep."""
    depth, level = 0, [value]
    while level and depth <= limit:
        children = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
            elif isinstance(item, list):
                children.extend(item)
        if not children:
            break
        depth, level = depth + 1, children
    return depth


def _saved_shapes(config: MidiMeConfig, path: Path) -> dict[str, tuple[int, ...]]:
    """The weight shapes ``config`` implies, keyed like ``weights.npz``; CheckpointError when the
    sizes are beyond :data:`SAVED_LIMITS` (nothing is allocated to find out)."""
    limits = SAVED_LIMITS
    for name, layers in (("encoder_layers", config.encoder_layers), ("decoder_layers", config.decoder_layers)):
        if len(layers) > limits["layers"]:
            raise CheckpointError(f"{path}: {name} has {len(layers)} layers; at most {limits['layers']} are allowed")
    sizes = {"input_size": config.input_size, "latent_size": config.latent_size,
             **{f"a layer of {len(config.encoder_layers)} encoder layers": max(config.encoder_layers, default=1),
                f"a layer of {len(config.decoder_layers)} decoder layers": max(config.decoder_layers, default=1)}}
    for name, size in sizes.items():
        if size > limits["layer_size"]:
            raise CheckpointError(
                f"{path}: {name} is {size:,} units; a MidiMe layer may have at most {limits['layer_size']:,}"
            )
    shapes: dict[str, tuple[int, ...]] = {}

    def dense(name: str, units_in: int, units_out: int) -> int:
        shapes[f"{name}/kernel"] = (units_in, units_out)
        shapes[f"{name}/bias"] = (units_out,)
        return units_out

    width = config.input_size
    for i, units in enumerate(config.encoder_layers):
        width = dense(f"encoder_{i}", width, units)
    dense("mu", width, config.latent_size)
    dense("sigma", width, config.latent_size)
    width = config.latent_size
    for i, units in enumerate(config.decoder_layers):
        width = dense(f"decoder_{i}", width, units)
    dense("output", width, config.input_size)
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > limits["parameters"]:
        raise CheckpointError(
            f"{path}: these layer sizes need {total:,} weights; a MidiMe may have at most "
            f"{limits['parameters']:,}"
        )
    return shapes


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > SAVED_LIMITS["json_bytes"]:
            raise CheckpointError(
                f"{path} is {size:,} bytes; a MidiMe's {CONFIG_FILENAME} is at most "
                f"{SAVED_LIMITS['json_bytes']:,}"
            )
        with open(path, "rb") as fh:
            text = fh.read(SAVED_LIMITS["json_bytes"] + 1).decode("utf-8")
        metadata = json.loads(text)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; this is not a saved MidiMe") from None
    except RecursionError:
        raise CheckpointError(f"{path} is nested too deeply to be a MidiMe file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is corrupt or unreadable: {err}") from None
    if _json_depth(metadata, SAVED_LIMITS["json_depth"]) > SAVED_LIMITS["json_depth"]:
        raise CheckpointError(f"{path} is nested too deeply to be a MidiMe file")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is not a MidiMe file (format {FORMAT_NAME!r} expected)")
    version = metadata.get("format_version")
    if not _is_int(version) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"{path} uses MidiMe format version {version!r}; this midime-widgets reads up to {FORMAT_VERSION}"
        )
    if not isinstance(metadata.get("config"), dict):
        raise CheckpointError(f"{path} has no config section")
    return metadata


def _read_weights(path: Path, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The arrays of ``weights.npz``, read only after its zip directory shows each member is one
    of ``shapes`` and no bigger than that shape's float32 ``.npy`` (a member that inflates to
    gigabytes is refused unread; one whose directory entry lies is cut off at its limit)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {info.filename.removesuffix(".npy"): info for info in members}
            if len(members) != len(names) or len(members) > len(shapes):
                raise CheckpointError(
                    f"{path} holds {len(members)} entries; a MidiMe of this shape has {len(shapes)} weights"
                )
            limits = {}
            for name, info in names.items():
                if name not in shapes:
                    continue  # reported by set_weights as unexpected, without reading it
                limits[name] = 4 * math.prod(shapes[name]) + _NPY_HEADER_BYTES
                if info.file_size > limits[name]:
                    raise CheckpointError(
                        f"{path}: weight {name!r} unpacks to {info.file_size:,} bytes; its shape "
                        f"{shapes[name]} needs at most {limits[name]:,}"
                    )
            weights = {}
            for name, limit in limits.items():
                with archive.open(names[name]) as member:
                    data = member.read(limit + 1)
                if len(data) > limit:
                    raise CheckpointError(f"{path}: weight {name!r} is larger than its shape {shapes[name]} allows")
                weights[name] = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
            for name in set(names) - set(limits):
                weights[name] = np.zeros(0, np.float32)  # a placeholder: set_weights names it
            return weights
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; the saved MidiMe is incomplete") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError) as err:
        raise CheckpointError(f"{path} is corrupt or unreadable: {err}") from None
