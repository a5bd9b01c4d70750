"""Train a MusicVAE with magenta's objective, checkpointing in magenta's variable layout.

Objective (magenta `base_model.py`): reconstruction loss summed over steps + beta·max(KL − free
nats, 0), beta annealed as `(1 − beta_rate^step)·max_beta`; the decoder is teacher forced with
scheduled sampling (`inverse_sigmoid` schedule); Adam with exponentially decayed learning rate and
global-norm gradient clipping. Optimizer slots are saved TF1-style (`<var>/Adam`, `<var>/Adam_1`,
`beta1_power`, `beta2_power`, `global_step`), so a run resumes exactly where it stopped and the
weights load in magenta's `TrainedModel` and in ours.

Works under any `tf.distribute` strategy: gradients are all-reduced in replica context and every
replica applies the same update (variables use ONLY_FIRST_REPLICA aggregation). Under
`MultiWorkerMirroredStrategy` every worker restores from `run_dir`, only the chief writes there
(the others write to `run_dir/worker-<index>/`, so a shared file system is never written twice),
and the workers agree on when to stop (time limit, Ctrl-C on any of them).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..errors import TrainingError
from ..models.configs import MELODY_DEPTH
from ..models.core import MusicVAECore
from . import tf1_checkpoint

ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8


@dataclass
class TrainConfig:
    """How a run proceeds (length, logging, checkpoints, seed).

    The objective's hyper-parameters (learning rate and decay, batch size, free bits, beta schedule,
    scheduled sampling, gradient clipping) are part of the model config (`MusicVAEConfig`, magenta's
    HParams) and are read from there; change them with `config.replace(...)`.
    """

    steps: int = 20000
    checkpoint_every: int = 250
    log_every: int = 25
    eval_every: int = 500
    keep_checkpoints: int = 3
    seed: int = 0


def sampling_probability(step, schedule: str, rate: float):
    """Probability of feeding the model's own sample instead of the target (magenta lstm_models)."""
    step = tf.cast(step, tf.float32)
    if schedule == "constant":
        return tf.constant(rate, tf.float32)
    if schedule == "inverse_sigmoid":
        k = tf.constant(rate, tf.float32)
        return 1.0 - k / (k + tf.exp(step / k))
    if schedule == "exponential":
        return 1.0 - tf.pow(tf.constant(rate, tf.float32), step)
    raise ValueError(f"Unknown sampling schedule {schedule!r}")


def reconstruction_terms(logits, targets, lengths, segments):
    """Per-example summed cross entropy `[B]` and per-example step accuracy `[B]` (all segments
    right counts as a correct step)."""
    steps = tf.shape(targets)[1]
    mask = tf.sequence_mask(lengths, steps, dtype=tf.float32)
    xent = 0.0
    correct = tf.ones_like(mask, dtype=tf.bool)
    start = 0
    for depth in segments:
        t = targets[..., start : start + depth]
        lg = logits[..., start : start + depth]
        start += depth
        xent += tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=lg)
        correct &= tf.equal(tf.argmax(t, -1), tf.argmax(lg, -1))
    r_loss = tf.reduce_sum(mask * xent, axis=1)
    accuracy = tf.reduce_sum(mask * tf.cast(correct, tf.float32), axis=1) / tf.maximum(
        tf.reduce_sum(mask, axis=1), 1.0
    )
    return r_loss, accuracy


def kl_divergence(mu, sigma):
    """KL(N(mu, sigma) ‖ N(0, 1)) summed over latent dims, per example."""
    return tf.reduce_sum(0.5 * (tf.square(mu) + tf.square(sigma) - 1.0) - tf.math.log(sigma + 1e-12), axis=1)


class MusicVAETrainer:
    """Owns a `MusicVAECore`, Adam state, a training step, checkpoints and logs in `run_dir`."""

    def __init__(self, config, train_config: TrainConfig, run_dir, *, strategy=None, weights=None):
        self.config = config
        self.hp = config  # the objective's hyper-parameters live in the model config
        self.tc = train_config
        self.run_dir = Path(run_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.worker = worker_role(self.strategy)
        self.save_dir = self.run_dir if self.worker.is_chief else self.run_dir / f"worker-{self.worker.index}"
        self.save_dir.mkdir(parents=True, exist_ok=True)
        self.segments = tuple(sum(([d] for d in config.output_depths), []))
        with self.strategy.scope():
            self.core = MusicVAECore(config, seed=train_config.seed, weights=weights)
            agg = tf.VariableAggregation.ONLY_FIRST_REPLICA
            zeros = lambda v, n: tf.Variable(tf.zeros_like(v), trainable=False, name=n, aggregation=agg)  # noqa: E731
            self.slots = {
                name: (zeros(var, name.replace("/", "__") + "__m"), zeros(var, name.replace("/", "__") + "__v"))
                for name, var in self.core.weights.items()
            }
            self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step", aggregation=agg)
            self.beta1_power = tf.Variable(ADAM_BETA1, trainable=False, name="beta1_power", aggregation=agg)
            self.beta2_power = tf.Variable(ADAM_BETA2, trainable=False, name="beta2_power", aggregation=agg)
        self._names = sorted(self.core.weights)
        self._step_fn = None
        self._vote_fn = None
        self._stop = False
        self.restored_from = self.restore()

    # -- checkpoints ------------------------------------------------------------------------
    def state_tensors(self, *, with_optimizer: bool = True) -> dict:
        tensors = {name: var.numpy() for name, var in self.core.weights.items()}
        tensors["global_step"] = np.int64(self.global_step.numpy())
        if with_optimizer:
            for name, (m, v) in self.slots.items():
                tensors[f"{name}/Adam"] = m.numpy()
                tensors[f"{name}/Adam_1"] = v.numpy()
            tensors["beta1_power"] = np.float32(self.beta1_power.numpy())
            tensors["beta2_power"] = np.float32(self.beta2_power.numpy())
        return tensors

    def save(self) -> str:
        step = int(self.global_step.numpy())
        prefix = str(self.save_dir / f"model.ckpt-{step}")
        tf1_checkpoint.write_checkpoint(prefix, self.state_tensors())
        tf1_checkpoint.update_state_file(self.save_dir, prefix, keep=self.tc.keep_checkpoints)
        (self.save_dir / "train_config.json").write_text(
            json.dumps({"run": asdict(self.tc), "config": self.config.to_dict()}, indent=2))
        return prefix

    def restore(self) -> str | None:
        prefix = tf1_checkpoint.latest_checkpoint(self.run_dir)
        if prefix is None:
            return None
        tensors = tf1_checkpoint.read_checkpoint_tensors(prefix)
        for name, var in self.core.weights.items():
            var.assign(tensors[name])
        for name, (m, v) in self.slots.items():
            if f"{name}/Adam" in tensors:  # stored as float32, or bfloat16 in compacted checkpoints
                m.assign(np.asarray(tensors[f"{name}/Adam"], np.float32))
                v.assign(np.asarray(tensors[f"{name}/Adam_1"], np.float32))
        self.global_step.assign(int(tensors.get("global_step", 0)))
        self.beta1_power.assign(float(tensors.get("beta1_power", ADAM_BETA1 ** (int(self.global_step.numpy()) + 1))))
        self.beta2_power.assign(float(tensors.get("beta2_power", ADAM_BETA2 ** (int(self.global_step.numpy()) + 1))))
        return prefix

    # -- the step -----------------------------------------------------------------------------
    def learning_rate(self, step):
        hp = self.hp
        step = tf.cast(step, tf.float32)
        return (hp.learning_rate - hp.min_learning_rate) * tf.pow(hp.decay_rate, step) + hp.min_learning_rate

    def beta(self, step):
        return (1.0 - tf.pow(self.hp.beta_rate, tf.cast(step, tf.float32))) * self.hp.max_beta

    def _replica_step(self, inputs, targets, lengths, seed):
        hp = self.hp
        global_batch = tf.cast(hp.batch_size, tf.float32)
        step = self.global_step
        variables = [self.core.weights[n] for n in self._names]
        with tf.GradientTape() as tape:
            mu, sigma = self.core._encode(inputs, lengths)
            eps = tf.random.stateless_normal(tf.shape(mu), seed)
            z = mu + sigma * eps
            prob = sampling_probability(step, hp.sampling_schedule, hp.sampling_rate)
            _, logits = self.core.decode_loop(
                z, tf.shape(targets)[1], targets=targets, sampling_probability=prob, seed=seed + 7
            )
            r_loss, accuracy = reconstruction_terms(logits, targets, lengths, self.segments)
            kl = kl_divergence(mu, sigma)
            kl_cost = tf.maximum(kl - hp.free_bits * math.log(2.0), 0.0)
            beta = self.beta(step)
            loss = tf.reduce_sum(r_loss + beta * kl_cost) / global_batch
        grads = tape.gradient(loss, variables)
        ctx = tf.distribute.get_replica_context()
        grads = ctx.all_reduce("sum", grads)
        grads, norm = tf.clip_by_global_norm(grads, hp.grad_clip)
        # magenta's grad_norm_clip_to_zero: drop the update entirely on exploding gradients.
        keep = tf.cast(norm < hp.grad_norm_clip_to_zero, tf.float32)
        lr = self.learning_rate(step)
        lr_t = lr * tf.sqrt(1.0 - self.beta2_power) / (1.0 - self.beta1_power)
        for name, var, g in zip(self._names, variables, grads):
            m, v = self.slots[name]
            g = g * keep
            m.assign(ADAM_BETA1 * m + (1.0 - ADAM_BETA1) * g)
            v.assign(ADAM_BETA2 * v + (1.0 - ADAM_BETA2) * tf.square(g))
            var.assign_sub(lr_t * m / (tf.sqrt(v) + ADAM_EPSILON))
        self.beta1_power.assign(self.beta1_power * ADAM_BETA1)
        self.beta2_power.assign(self.beta2_power * ADAM_BETA2)
        self.global_step.assign_add(1)
        stats = {
            "loss": loss * global_batch,
            "r_loss": tf.reduce_sum(r_loss),
            "kl": tf.reduce_sum(kl),
            "accuracy": tf.reduce_sum(accuracy),
            "count": tf.cast(tf.shape(inputs)[0], tf.float32),
            "grad_norm": norm,
            "beta": beta,
            "sampling_probability": prob,
            "learning_rate": lr,
        }
        return stats

    def _build_step(self):
        strategy = self.strategy

        @tf.function(reduce_retracing=True)
        def step(inputs, targets, lengths, seed):
            per_replica = strategy.run(self._replica_step, args=(inputs, targets, lengths, seed))
            out = {}
            for key, value in per_replica.items():
                if key in ("loss", "r_loss", "kl", "accuracy", "count"):
                    out[key] = strategy.reduce("SUM", value, axis=None)
                else:
                    out[key] = strategy.experimental_local_results(value)[0]
            return out

        return step

    # -- loop -------------------------------------------------------------------------------
    def _agree_to_stop(self, wants_stop: bool, step: int) -> bool:
        """Whether to stop now. Several workers must stop at the same step (or the others wait
        forever in an all-reduce), so they vote every `log_every` steps: any one stopping stops
        all. A single process decides alone, at once."""
        if self.worker.count == 1:
            return wants_stop
        if step % self.tc.log_every:
            return False
        if self._vote_fn is None:
            strategy = self.strategy

            @tf.function
            def vote(flag):
                votes = strategy.experimental_distribute_values_from_function(lambda _: flag)
                return strategy.reduce("SUM", votes, axis=None)

            self._vote_fn = vote
        return bool(self._vote_fn(tf.constant(float(wants_stop))) > 0)

    def request_stop(self, *_):
        """Finish the current step, checkpoint and return (also bound to SIGTERM/SIGINT)."""
        self._stop = True

    def fit(self, dataset, *, steps: int | None = None, max_seconds: float | None = None,
            evaluate=None, on_progress=None, progress: bool = True) -> dict:
        """Train on a `tf.data.Dataset` of `(inputs, targets, lengths)` batches until `steps`
        (total, counting resumed ones) or `max_seconds` elapse; checkpoint on the way out."""
        total = int(steps or self.tc.steps)
        if self._step_fn is None:
            self._step_fn = self._build_step()
        dataset = _shard_by_data(dataset)
        dist = self.strategy.experimental_distribute_dataset(dataset)
        writer = tf.summary.create_file_writer(str(self.save_dir / "logs"))
        old_handlers = _install_stop_handlers(self.request_stop)
        start = time.time()
        start_step = int(self.global_step.numpy())
        last_saved = start_step
        history = []
        acc_window = []
        self._stop = False
        try:
            for batch in dist:
                step = int(self.global_step.numpy())
                wants_stop = self._stop or bool(max_seconds and time.time() - start > max_seconds)
                if step >= total or self._agree_to_stop(wants_stop, step):
                    break
                seed = tf.constant([self.tc.seed, step], tf.int32)
                out = self._step_fn(*batch, seed)
                count = float(out["count"])
                record = {
                    "step": step + 1,
                    "loss": float(out["loss"]) / count,
                    "r_loss": float(out["r_loss"]) / count,
                    "kl": float(out["kl"]) / count,
                    "accuracy": float(out["accuracy"]) / count,
                    "beta": float(out["beta"]),
                    "sampling_probability": float(out["sampling_probability"]),
                    "learning_rate": float(out["learning_rate"]),
                    "grad_norm": float(out["grad_norm"]),
                }
                if not np.isfinite(record["loss"]):
                    raise TrainingError(
                        f"Training diverged at step {step + 1} (loss is {record['loss']}); the last "
                        f"checkpoint in {self.run_dir} is intact."
                    )
                acc_window.append(record["accuracy"])
                if (step + 1) % self.tc.log_every == 0:
                    history.append(record)
                    with writer.as_default(step=step + 1):
                        for key, value in record.items():
                            if key != "step":
                                tf.summary.scalar(f"train/{key}", value)
                    if progress:
                        _print_progress(record, step + 1, total, start, start_step, np.mean(acc_window[-50:]))
                    if on_progress:
                        on_progress(record)
                if evaluate and (step + 1) % self.tc.eval_every == 0:
                    metrics = evaluate(self.core)
                    with writer.as_default(step=step + 1):
                        for key, value in metrics.items():
                            tf.summary.scalar(f"eval/{key}", value)
                    if progress:
                        print(f"\n  eval @ {step + 1}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()), file=sys.stderr)
                if (step + 1) % self.tc.checkpoint_every == 0:
                    self.save()
                    last_saved = step + 1
        finally:
            _restore_handlers(old_handlers)
            if int(self.global_step.numpy()) != last_saved:
                self.save()
            writer.flush()
            if progress:
                print(file=sys.stderr)
        return {"history": history, "steps": int(self.global_step.numpy()), "seconds": time.time() - start}


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in a (multi-worker) cluster."""

    index: int = 0
    count: int = 1
    is_chief: bool = True


def worker_role(strategy) -> WorkerRole:
    """Chief or not, from the strategy's cluster (TF_CONFIG); a single process is the chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not spec:
        return WorkerRole()
    kind, index = resolver.task_type, int(resolver.task_id or 0)
    count = sum(len(tasks) for name, tasks in spec.items() if name in ("chief", "worker"))
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in spec)
    return WorkerRole(index=index, count=count, is_chief=chief)


def _shard_by_data(dataset):
    """In-memory datasets have no files to split between workers: each takes every n-th batch."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _print_progress(record, step, total, start, start_step, acc):
    done = step - start_step
    rate = done / max(time.time() - start, 1e-9)
    eta = (total - step) / max(rate, 1e-9)
    width = 24
    filled = int(width * step / max(total, 1))
    bar = "#" * filled + "-" * (width - filled)
    print(
        f"\r[{bar}] {step}/{total} loss {record['loss']:.3f} r {record['r_loss']:.3f} "
        f"kl {record['kl']:.1f} acc {acc:.3f} beta {record['beta']:.3f} "
        f"p_s {record['sampling_probability']:.2f} {rate:.2f} it/s eta {eta / 60:.0f} min",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _install_stop_handlers(handler):
    old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not in the main thread
            old[sig] = signal.signal(sig, handler)
    return old


def _restore_handlers(old):
    for sig, handler in old.items():
        signal.signal(sig, handler)


# -- data ------------------------------------------------------------------------------------


def melody_dataset(indices: np.ndarray, *, batch_size: int, depth: int = MELODY_DEPTH, seed: int = 0,
                   transpose: int = 0, repeat: bool = True) -> tf.data.Dataset:
    """Batches of one-hot melody windows from class indices `[N, T]` (0 = no event, 1 = note
    off, 2+ = pitch), optionally transposed by a random number of semitones in
    `[-transpose, transpose]` that keeps every pitch in range (data augmentation)."""
    # Permuted up front: data files list their windows collection by collection, and a shuffle
    # buffer smaller than the data alone would drift through them (batches from one region).
    indices = np.asarray(indices, np.int32)[np.random.default_rng(seed).permutation(len(indices))]
    steps = indices.shape[1]
    ds = tf.data.Dataset.from_tensor_slices(indices)
    if repeat:
        ds = ds.repeat()
    ds = ds.shuffle(min(len(indices), 50000), seed=seed, reshuffle_each_iteration=True).enumerate()

    def to_example(position, row):
        is_pitch = row >= 2
        if transpose:  # drawn from the seed and the window's place in the stream: reproducible
            lo = tf.reduce_min(tf.where(is_pitch, row, depth - 1))
            hi = tf.reduce_max(tf.where(is_pitch, row, 2))
            low = tf.maximum(-transpose, 2 - lo)
            high = tf.minimum(transpose, depth - 1 - hi)
            shift = tf.random.stateless_uniform([], tf.stack([tf.cast(seed, tf.int64), position]),
                                                low, tf.maximum(high, low) + 1, dtype=tf.int32)
            row = tf.where(is_pitch, row + shift, row)
        x = tf.one_hot(row, depth)
        return x, x, tf.constant(steps, tf.int32)

    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def tensor_dataset(inputs: np.ndarray, outputs: np.ndarray, lengths: np.ndarray, *, batch_size: int,
                   seed: int = 0, repeat: bool = True) -> tf.data.Dataset:
    """Batches of converter tensors (any converter: melody, drums, trio)."""
    ds = tf.data.Dataset.from_tensor_slices(
        (np.asarray(inputs, np.float32), np.asarray(outputs, np.float32), np.asarray(lengths, np.int32))
    )
    if repeat:
        ds = ds.repeat()
    ds = ds.shuffle(min(len(lengths), 20000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def midi_training_tensors(paths, converter, *, on_skip=None):
    """Every distinct window of every MIDI file under `paths` (files or folders).

    Unreadable files are skipped (reported through `on_skip(path, reason)`), never fatal.
    Returns stacked `(inputs, outputs, lengths)` arrays.
    """
    from ..errors import MidiError
    from ..music import load_midi

    files = []
    for p in paths:
        p = Path(p)
        files += sorted(q for q in p.rglob("*") if q.suffix.lower() in (".mid", ".midi")) if p.is_dir() else [p]
    inputs, outputs, seen = [], [], set()
    for f in files:
        try:
            tensors = converter.to_tensors(load_midi(f), max_tensors=None)
        except (MidiError, FileNotFoundError) as err:
            if on_skip:
                on_skip(f, str(err))
            continue
        for x, y in zip(tensors.inputs, tensors.outputs):
            key = y.tobytes()
            if key not in seen:
                seen.add(key)
                inputs.append(x)
                outputs.append(y)
    if not outputs:
        raise TrainingError(f"No training windows found in {len(files)} MIDI file(s).")
    lengths = np.array([len(x) for x in inputs], np.int32)
    return np.stack(inputs), np.stack(outputs), lengths


def make_strategy(name: str = "default", *, logical_cpus: int = 0):
    """A tf.distribute strategy by name: default, mirrored (all local GPUs, or `logical_cpus`
    CPU devices for testing), multiworker (cluster from TF_CONFIG)."""
    if logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}: use default, mirrored or multiworker.")
