"""MusicVAE training: objective, schedules, checkpoints in magenta's layout, resume, distribution."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from midime_widgets.models.configs import CONFIGS
from midime_widgets.models.layout import expected_variables
from midime_widgets.training import tf1_checkpoint
from midime_widgets.training.trainer import (
    MusicVAETrainer,
    TrainConfig,
    kl_divergence,
    melody_dataset,
    reconstruction_terms,
    sampling_probability,
)

# MusicVAE training logs with tf.summary.scalar, which TensorFlow takes from the tensorboard package.
needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="tensorboard is not installed (pip install '.[train]'; scripts/test.sh installs it)")

TINY = CONFIGS["cat-mel_2bar_small"].replace(name="tiny-mel", enc_rnn_sizes=(16,), dec_rnn_sizes=(16, 16), z_size=8)
TINY4 = TINY.replace(batch_size=4)


def _windows(n=8, seed=0):
    """Simple repeated melodic figures as class indices [n, 32]."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        base = rng.integers(40, 60)
        row = np.zeros(32, np.int32)
        row[::4] = base + rng.integers(0, 8, 8)
        rows.append(row)
    return np.stack(rows)


def test_sampling_probability_matches_magenta_inverse_sigmoid():
    k = 1000.0
    for step in (0, 1000, 7000, 12000):
        expected = 1.0 - k / (k + math.exp(step / k))
        assert float(sampling_probability(step, "inverse_sigmoid", k)) == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert float(sampling_probability(5, "constant", 0.25)) == pytest.approx(0.25)


def test_kl_and_reconstruction_terms_match_numpy():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(3, 5)).astype(np.float32)
    sigma = rng.uniform(0.2, 2.0, size=(3, 5)).astype(np.float32)
    expected_kl = np.sum(0.5 * (mu**2 + sigma**2 - 1) - np.log(sigma), axis=1)
    np.testing.assert_allclose(kl_divergence(mu, sigma).numpy(), expected_kl, rtol=1e-5)

    logits = rng.normal(size=(2, 4, 6)).astype(np.float32)
    classes = rng.integers(0, 6, size=(2, 4))
    targets = np.eye(6, dtype=np.float32)[classes]
    lengths = np.array([4, 2])
    r_loss, acc = reconstruction_terms(logits, targets, lengths, (6,))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    xent = -np.take_along_axis(logp, classes[..., None], -1)[..., 0]
    mask = np.arange(4)[None] < lengths[:, None]
    np.testing.assert_allclose(r_loss.numpy(), (xent * mask).sum(1), rtol=1e-5)
    expected_acc = ((logits.argmax(-1) == classes) * mask).sum(1) / lengths
    np.testing.assert_allclose(acc.numpy(), expected_acc, rtol=1e-6)


@needs_tensorboard
def test_training_learns_and_checkpoints_in_magenta_layout(tmp_path):
    config = TINY.replace(batch_size=8, learning_rate=1e-2, sampling_schedule="constant", sampling_rate=0.0,
                          free_bits=0, max_beta=0.0)
    tc = TrainConfig(log_every=10, checkpoint_every=50, eval_every=10**9)
    trainer = MusicVAETrainer(config, tc, tmp_path / "run")
    ds = melody_dataset(_windows(), batch_size=8)
    result = trainer.fit(ds, steps=120, progress=False)
    first, last = result["history"][0], result["history"][-1]
    assert last["r_loss"] < 0.6 * first["r_loss"]
    assert last["accuracy"] > first["accuracy"]

    prefix = tf1_checkpoint.latest_checkpoint(tmp_path / "run")
    assert prefix.endswith("model.ckpt-120")
    names = set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    model_vars = set(expected_variables(TINY))
    assert model_vars <= names
    assert {f"{n}/Adam" for n in model_vars} <= names and {f"{n}/Adam_1" for n in model_vars} <= names
    assert {"global_step", "beta1_power", "beta2_power"} <= names
    shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    for name, shape in expected_variables(TINY).items():
        assert tuple(shapes[name]) == tuple(shape), name


@needs_tensorboard
def test_resume_continues_from_the_saved_step_with_identical_weights(tmp_path):
    tc = TrainConfig(log_every=5, checkpoint_every=1000, eval_every=10**9)
    ds = melody_dataset(_windows(4), batch_size=4)
    first = MusicVAETrainer(TINY4, tc, tmp_path)
    first.fit(ds, steps=7, progress=False)  # checkpoint on the way out
    saved = first.core.numpy_weights()
    second = MusicVAETrainer(TINY4, tc, tmp_path)
    assert second.restored_from.endswith("model.ckpt-7")
    assert int(second.global_step.numpy()) == 7
    for name, value in saved.items():
        np.testing.assert_array_equal(second.core.weights[name].numpy(), value)
    np.testing.assert_array_equal(
        second.slots["encoder/mu/kernel"][0].numpy(), first.slots["encoder/mu/kernel"][0].numpy()
    )
    second.fit(ds, steps=10, progress=False)
    assert int(second.global_step.numpy()) == 10


@needs_tensorboard
def test_stop_request_checkpoints_and_returns(tmp_path):
    tc = TrainConfig(log_every=1, checkpoint_every=1000, eval_every=10**9)
    trainer = MusicVAETrainer(TINY4, tc, tmp_path)
    calls = []

    def stop_after_three(record):
        calls.append(record["step"])
        if len(calls) == 3:
            trainer.request_stop()

    result = trainer.fit(melody_dataset(_windows(4), batch_size=4), steps=1000, on_progress=stop_after_three,
                         progress=False)
    assert result["steps"] == 3
    assert tf1_checkpoint.latest_checkpoint(tmp_path).endswith("model.ckpt-3")


def test_state_file_keeps_only_the_newest_checkpoints(tmp_path):
    for step in range(5):
        prefix = tf1_checkpoint.write_checkpoint(tmp_path / f"model.ckpt-{step}", {"w": np.full(2, step, np.float32)})
        tf1_checkpoint.update_state_file(tmp_path, prefix, keep=2)
    assert tf1_checkpoint.latest_checkpoint(tmp_path).endswith("model.ckpt-4")
    assert sorted(p.name for p in tmp_path.glob("*.index")) == ["model.ckpt-3.index", "model.ckpt-4.index"]
    np.testing.assert_array_equal(tf1_checkpoint.read_checkpoint_tensors(tmp_path / "model.ckpt-4")["w"], [4, 4])


def test_melody_dataset_transposes_within_range():
    rows = np.zeros((1, 32), np.int32)
    rows[0, ::8] = [2, 10, 20, 89]  # lowest and highest pitch classes: no room to move
    batch = next(iter(melody_dataset(rows, batch_size=1, transpose=5)))
    np.testing.assert_array_equal(np.argmax(batch[0].numpy()[0], -1), rows[0])
    rows[0, ::8] = [40, 45, 50, 55]
    seen = set()
    for x, _, _ in melody_dataset(rows, batch_size=1, transpose=5).take(40):
        shifted = np.argmax(x.numpy()[0], -1)
        assert np.all((shifted == 0) == (rows[0] == 0))
        seen.add(int(shifted[0] - 40))
    assert seen <= set(range(-5, 6)) and len(seen) > 3


def _write_melody_midi(path: Path, seed: int):
    import note_seq

    rng = np.random.default_rng(seed)
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=120)
    seq.time_signatures.add(numerator=4, denominator=4)
    t = 0.0
    for _ in range(32):
        seq.notes.add(pitch=int(rng.integers(55, 75)), velocity=80, start_time=t, end_time=t + 0.45)
        t += 0.5
    seq.total_time = t
    note_seq.sequence_proto_to_midi_file(seq, str(path))


@pytest.mark.slow
@needs_tensorboard
def test_cli_trains_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    """The training step runs under tf.distribute (MirroredStrategy over two CPU devices)."""
    for i in range(2):
        _write_melody_midi(tmp_path / f"song{i}.mid", i)
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "midime_widgets", "train-musicvae", str(tmp_path), "--run-dir", str(run_dir),
           "--steps", "3", "--batch-size", "8", "--strategy", "mirrored", "--logical-cpus", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "MirroredStrategy" in out.stderr or "replica" in out.stderr.lower() or "trained to step 3" in out.stdout
    prefix = tf1_checkpoint.latest_checkpoint(run_dir)
    assert prefix.endswith("model.ckpt-3")
    weights = tf1_checkpoint.read_checkpoint_tensors(prefix)
    assert all(np.isfinite(v).all() for v in weights.values() if v.dtype.kind == "f")


def _free_ports(n):
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run_two_workers(tmp_path, extra_args: list[list[str]]):
    """Start two `train-musicvae` workers of one TF_CONFIG cluster on 127.0.0.1 (worker `i` gets
    `extra_args[i]`); their `(returncode, stdout, stderr)` and the run folder."""
    import json

    data = tmp_path / "windows.npz"
    np.savez(data, windows=_windows(32).astype(np.uint8))
    run_dir = tmp_path / "run"
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "midime_widgets", "train-musicvae", str(data), "--config", "cat-mel_2bar_small",
               "--run-dir", str(run_dir), "--batch-size", "8", "--strategy", "multiworker", *extra_args[index]]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    try:
        outs = [p.communicate(timeout=400) for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [(p.returncode, *out) for p, out in zip(procs, outs)], run_dir


def _worker_checkpoints(run_dir):
    chief = tf1_checkpoint.read_checkpoint_tensors(tf1_checkpoint.latest_checkpoint(run_dir))
    other = tf1_checkpoint.read_checkpoint_tensors(tf1_checkpoint.latest_checkpoint(run_dir / "worker-1"))
    return chief, other


@pytest.mark.slow
@needs_tensorboard
def test_cli_trains_under_multiworker_strategy_with_two_workers(tmp_path):
    """Two `train-musicvae` processes form a cluster from TF_CONFIG on 127.0.0.1 and end with the
    same weights; the chief writes the run folder, the other worker its own sub-folder."""
    results, run_dir = _run_two_workers(tmp_path, [["--steps", "4"], ["--steps", "4"]])
    for returncode, stdout, stderr in results:
        assert returncode == 0, stderr[-3000:]
        assert "trained to step 4" in stdout
    chief, other = _worker_checkpoints(run_dir)
    assert int(chief["global_step"]) == int(other["global_step"]) == 4
    names = list(expected_variables(CONFIGS["cat-mel_2bar_small"]))
    for name in names:
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
    initial = MusicVAETrainer(CONFIGS["cat-mel_2bar_small"].replace(batch_size=8), TrainConfig(seed=0),
                              tmp_path / "fresh").core.weights
    assert any(not np.array_equal(chief[n], initial[n].numpy()) for n in names), "training changed nothing"


@pytest.mark.slow
@needs_tensorboard
def test_one_worker_reaching_its_time_limit_stops_every_worker_at_the_same_step(tmp_path):
    """Only worker 1 has a time limit; worker 0 would train 100,000 steps. The workers vote every
    `log_every` steps, so both stop together, checkpoint the same weights and exit cleanly
    (a worker stopping alone would leave the other waiting in an all-reduce for ever)."""
    import re

    results, run_dir = _run_two_workers(tmp_path, [["--steps", "100000"],
                                                   ["--steps", "100000", "--max-minutes", "0.05"]])
    steps = []
    for returncode, stdout, stderr in results:
        assert returncode == 0, stderr[-3000:]
        steps.append(int(re.search(r"trained to step (\d+)", stdout).group(1)))
    assert steps[0] == steps[1] < 100000
    assert steps[0] % TrainConfig().log_every == 0
    chief, other = _worker_checkpoints(run_dir)
    assert int(chief["global_step"]) == int(other["global_step"]) == steps[0]
    for name in expected_variables(CONFIGS["cat-mel_2bar_small"]):
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)


def test_cli_reports_bad_training_data_cleanly(tmp_path, capsys):
    from midime_widgets.cli import main

    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    assert main(["train-musicvae", str(bad), "--run-dir", str(tmp_path / "r"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "No training windows" in err
    assert "Traceback" not in err

def test_cli_exports_a_model_folder_personalize_can_load(tmp_path, capsys):
    """`--export DIR` writes the trained weights with the latent matched to the prior and the
    config, as a folder `--model DIR` loads; a folder holding other files is refused before
    any training."""
    import json

    from midime_widgets.cli import main
    from midime_widgets.models.musicvae import MusicVAE

    songs = tmp_path / "songs"
    songs.mkdir()
    for i in range(2):
        _write_melody_midi(songs / f"song{i}.mid", i)
    run, out = tmp_path / "run", tmp_path / "model"
    args = ["train-musicvae", str(songs), "--run-dir", str(run), "--steps", "2", "--batch-size", "4"]
    assert main([*args, "--export", str(out)]) == 0
    assert f"personalize --model {out}" in capsys.readouterr().out
    meta = json.loads((out / "config.json").read_text())
    assert meta["training"]["steps"] == 2 and meta["training"]["latent_scale"]["median"] != 1.0
    vae = MusicVAE.from_checkpoint(out)
    assert vae.config == CONFIGS["cat-mel_2bar_small"].replace(batch_size=4)
    trained = tf1_checkpoint.read_checkpoint_tensors(tf1_checkpoint.latest_checkpoint(run))
    assert not np.allclose(vae.core.weights["encoder/mu/kernel"].numpy(), trained["encoder/mu/kernel"])
    # an existing folder: refused without --overwrite; a file someone else wrote is never replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "model.ckpt.index").write_text("my own file")
    for extra in ([], ["--overwrite"]):
        assert main([*args, "--steps", "3", "--export", str(tmp_path / "mine"), *extra]) == 2
        assert "error:" in capsys.readouterr().err
    assert (tmp_path / "mine" / "model.ckpt.index").read_text() == "my own file"
    assert tf1_checkpoint.latest_checkpoint(run).endswith("-2")  # refused before training
    assert main([*args, "--steps", "3", "--export", str(out), "--overwrite"]) == 0  # its own export
    assert json.loads((out / "config.json").read_text())["training"]["steps"] == 3
