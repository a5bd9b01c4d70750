"""MidiMe (midime_widgets.models.midime): shapes, training, stop/NaN handling, save/load.

Most tests use a small config so the file stays fast; the formula and learning tests use the
magenta.js defaults (256 → [1024, 256, 64] → 4).
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from midime_widgets.errors import CheckpointError, TrainingError  # noqa: E402
from midime_widgets.models.midime import (  # noqa: E402
    CONFIG_FILENAME,
    WEIGHTS_FILENAME,
    FitHistory,
    MidiMe,
    MidiMeConfig,
    MidiMeInputError,
)

SMALL = dict(input_size=24, latent_size=3, encoder_layers=(48, 16), decoder_layers=(16, 48))
MUSICVAE = {"name": "cat-mel_2bar_small", "z_size": 24, "fingerprint": "sha256:" + "ab" * 32}


def small(seed=0, **overrides) -> MidiMe:
    return MidiMe(MidiMeConfig(**{**SMALL, "seed": seed, **overrides}))


def subspace_codes(n=64, width=256, dims=4, scale=4.0, seed=0) -> np.ndarray:
    """``n`` points on a random ``dims``-d subspace of R^width (what MidiMe should compress)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((width, dims)))[0].T * scale
    return (rng.standard_normal((n, dims)) @ basis).astype(np.float32)


def all_finite(weights: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(w).all() for w in weights.values())


def same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -- numpy re-implementation of magenta.js's MidiMe (midi_me.ts), written from its description ----


def np_softplus(x):
    return np.logaddexp(0.0, x)


def np_forward(weights, config: MidiMeConfig, x, noise):
    """Encoder → (mu, sigma), z = mu + sigma·noise, decoder → x̂; all in float64."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    h = x.astype(np.float64)
    for i in range(len(config.encoder_layers)):
        h = np.maximum(h @ w[f"encoder_{i}/kernel"] + w[f"encoder_{i}/bias"], 0.0)
    mu = h @ w["mu/kernel"] + w["mu/bias"]
    sigma = np_softplus(h @ w["sigma/kernel"] + w["sigma/bias"])
    y = mu + sigma * noise
    for i in range(len(config.decoder_layers)):
        y = np.maximum(y @ w[f"decoder_{i}/kernel"] + w[f"decoder_{i}/bias"], 0.0)
    return mu, sigma, y @ w["output/kernel"] + w["output/bias"]


def np_magenta_loss(x, x_hat, mu, sigma, beta=1.0):
    recon = np.mean(np.sum((x - x_hat) ** 2 / (2 * 1.0**2), axis=-1))
    kl = -0.5 * np.mean(np.sum(1 + np.log(sigma**2) - mu**2 - sigma**2, axis=-1))
    return recon + beta * kl, recon, kl


# ------------------------------------------------------------------------------------------------


def test_defaults_are_magenta_js_defaults():
    config = MidiMeConfig()
    assert (config.input_size, config.latent_size) == (256, 4)
    assert config.encoder_layers == (1024, 256, 64) and config.decoder_layers == (64, 256, 1024)
    assert config.beta == 1.0 and config.learning_rate == 1e-3
    model = MidiMe(MidiMeConfig(seed=0))
    shapes = {name: w.shape for name, w in model.get_weights().items()}
    assert shapes == {
        "encoder_0/kernel": (256, 1024), "encoder_0/bias": (1024,),
        "encoder_1/kernel": (1024, 256), "encoder_1/bias": (256,),
        "encoder_2/kernel": (256, 64), "encoder_2/bias": (64,),
        "mu/kernel": (64, 4), "mu/bias": (4,),
        "sigma/kernel": (64, 4), "sigma/bias": (4,),
        "decoder_0/kernel": (4, 64), "decoder_0/bias": (64,),
        "decoder_1/kernel": (64, 256), "decoder_1/bias": (256,),
        "decoder_2/kernel": (256, 1024), "decoder_2/bias": (1024,),
        "output/kernel": (1024, 256), "output/bias": (256,),
    }
    assert model.config.seed == 0
    assert isinstance(MidiMe().config.seed, int)  # a drawn seed is recorded


@pytest.mark.parametrize(
    "kwargs",
    [dict(latent_size=0), dict(encoder_layers=(8, -1)), dict(beta=-1.0), dict(learning_rate=0.0),
     dict(learning_rate=float("inf")), dict(seed=-3), dict(input_size=2.5), dict(encoder_layers="64")],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        MidiMeConfig(**kwargs)


def test_config_round_trips_through_dict_and_rejects_unknown_keys():
    config = MidiMeConfig(**SMALL, beta=0.5, seed=7)
    assert MidiMeConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="epochz"):
        MidiMeConfig.from_dict({**config.to_dict(), "epochz": 3})


def test_shapes_and_dtypes():
    model = small()
    z = subspace_codes(5, 24)
    z_small, mu, sigma = model.encode(z, seed=1)
    assert z_small.shape == mu.shape == sigma.shape == (5, 3)
    assert (sigma > 0).all()
    assert model.decode(z_small).shape == (5, 24)
    assert model.reconstruct(z).shape == (5, 24)
    samples = model.sample(7, seed=2)
    assert samples.shape == (7, 24) and samples.dtype == np.float32
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        assert model.device == "CPU"
    assert isinstance(model.device, str) and model.device


def test_loss_matches_numpy_magenta_formula_on_the_same_weights():
    model = MidiMe(MidiMeConfig(seed=5))
    z = subspace_codes(16, 256, seed=1)
    ours = model.loss(z, seed=11)
    noise = np.random.default_rng(11).standard_normal((16, 4)).astype(np.float32)
    mu, sigma, x_hat = np_forward(model.get_weights(), model.config, z, noise)
    total, recon, kl = np_magenta_loss(z.astype(np.float64), x_hat, mu, sigma)
    assert ours["reconstruction"] == pytest.approx(recon, rel=1e-4)
    assert ours["kl"] == pytest.approx(kl, rel=1e-4, abs=1e-5)
    assert ours["total"] == pytest.approx(total, rel=1e-4)


def test_training_loss_is_the_magenta_formula():
    """The compiled step's reported loss (before its update) equals the numpy formula.

    The sigma head is set to a tiny constant (softplus(−10) ≈ 4.5e-5) so the training noise cannot
    move the result, while log σ² stays far above the 1e-12 epsilon.
    """
    model = MidiMe(MidiMeConfig(seed=9, beta=0.7))
    weights = model.get_weights()
    weights["sigma/kernel"][:] = 0.0
    weights["sigma/bias"][:] = -10.0
    model.set_weights(weights)
    z = subspace_codes(32, 256, seed=2)
    history = model.fit(z, epochs=1)
    mu, sigma, x_hat = np_forward(weights, model.config, z, np.zeros((32, 4)))
    total, recon, kl = np_magenta_loss(z.astype(np.float64), x_hat, mu, sigma, beta=0.7)
    assert history["reconstruction"][0] == pytest.approx(recon, rel=1e-3)
    assert history["kl"][0] == pytest.approx(kl, rel=1e-4)
    assert history["total"][0] == pytest.approx(total, rel=1e-3)


def test_loss_decreases_and_reconstruction_gets_close():
    z = subspace_codes(64, 256, seed=0)
    model = MidiMe(MidiMeConfig(seed=3))
    before = model.reconstruct(z)
    history = model.fit(z, epochs=100)
    assert history.epochs_run == 100 and not history.stopped
    assert history["total"][-1] < 0.4 * history["total"][0]
    assert np.mean(history["reconstruction"][-5:]) < 0.25 * np.mean(history["reconstruction"][:5])
    energy = np.mean(np.sum(z**2, axis=1))
    error_before = np.mean(np.sum((z - before) ** 2, axis=1)) / energy
    error_after = np.mean(np.sum((z - model.reconstruct(z)) ** 2, axis=1)) / energy
    assert error_before > 0.5
    assert error_after < 0.1
    # samples come from the learned subspace: little energy outside the 4-d span of the data
    basis = np.linalg.svd(z, full_matrices=False)[2][:4]
    samples = model.sample(32, seed=0)
    outside = samples - (samples @ basis.T) @ basis
    assert np.sum(outside**2) < 0.15 * np.sum(samples**2)
    assert model.trained and model.epochs_trained == 100


def test_same_seed_same_results_different_seed_different():
    z = subspace_codes(20, 24, seed=4)
    a, b, c = small(seed=1), small(seed=1), small(seed=2)
    assert same_weights(a.get_weights(), b.get_weights())
    assert not same_weights(a.get_weights(), c.get_weights())
    ha, hb = a.fit(z, epochs=15), b.fit(z, epochs=15)
    np.testing.assert_allclose(ha["total"], hb["total"], rtol=1e-6)
    np.testing.assert_allclose(a.sample(4, seed=3), b.sample(4, seed=3), rtol=1e-5, atol=1e-6)
    assert not np.allclose(a.sample(4, seed=3), a.sample(4, seed=4))
    np.testing.assert_array_equal(a.encode(z, seed=8)[0], a.encode(z, seed=8)[0])


def test_on_progress_reports_every_epoch_in_order():
    model = small()
    calls = []
    history = model.fit(subspace_codes(16, 24), epochs=40, on_progress=lambda *args: calls.append(args))
    assert [c[0] for c in calls] == list(range(1, 41))
    assert all(c[1] == 40 for c in calls)
    assert [c[2]["total"] for c in calls] == history["total"]
    assert [c[2]["kl"] for c in calls] == history["kl"]
    assert [c[2]["reconstruction"] for c in calls] == history["reconstruction"]


def test_minibatch_training():
    z = subspace_codes(40, 24, seed=6)
    model = small(seed=4)
    history = model.fit(z, epochs=30, batch_size=16)  # 3 steps per epoch (16 + 16 + 8)
    assert history.epochs_run == 30 and isinstance(history, FitHistory)
    assert np.mean(history["total"][-3:]) < np.mean(history["total"][:3])
    again = small(seed=4).fit(z, epochs=30, batch_size=16)
    np.testing.assert_allclose(history["total"], again["total"], rtol=1e-6)
    full = small(seed=4).fit(z, epochs=30)
    assert not np.allclose(history["total"], full["total"])  # a different path really ran


def test_keras_callbacks_receive_logs_and_can_stop():
    seen = []

    class StopAtThree(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, dict(logs)))
            if epoch == 2:
                self.model.stop_training = True

    history = small().fit(subspace_codes(16, 24), epochs=50, callbacks=[StopAtThree()])
    assert history.epochs_run == 3 and history.stopped
    assert [e for e, _ in seen] == [0, 1, 2]
    assert seen[0][1]["loss"] == history["total"][0] and "kl" in seen[0][1]


@pytest.mark.parametrize("with_progress", [False, True])
def test_stop_from_another_thread_keeps_weights(with_progress):
    model = small(seed=2)
    z = subspace_codes(64, 24)
    model.fit(z, epochs=1)  # compile first, so that the long fit below starts stepping at once
    initial = model.get_weights()
    started = threading.Event()
    progress = (lambda epoch, total, logs: started.set() if epoch >= 3 else None) if with_progress else None
    result = {}

    def train():
        result["history"] = model.fit(z, epochs=1_000_000, on_progress=progress)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    if with_progress:
        assert started.wait(30)
    else:
        deadline = time.monotonic() + 30
        while not model.is_training and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
    model.stop()
    thread.join(30)
    assert not thread.is_alive(), "stop() did not end training"
    history = result["history"]
    assert history.stopped and 0 < history.epochs_run < 1_000_000
    assert history.stop_reason == FitHistory.STOPPED and history.reason.startswith("Stopped by you")
    assert model.epochs_trained == history.epochs_run + 1
    assert not model.is_training
    weights = model.get_weights()
    assert all_finite(weights) and not same_weights(weights, initial)
    # the model is usable again after a stop
    assert model.fit(z, epochs=2).epochs_run == 2


def test_nan_in_data_is_refused_before_training():
    model = small()
    z = subspace_codes(8, 24)
    z[3, 5] = np.nan
    before = model.get_weights()
    with pytest.raises(TrainingError, match="NaN or infinite"):
        model.fit(z, epochs=5)
    z[3, 5] = np.inf
    with pytest.raises(MidiMeInputError, match="row: 3"):
        model.fit(z, epochs=5)
    assert same_weights(before, model.get_weights()) and model.epochs_trained == 0


@pytest.mark.parametrize(
    ("z", "message"),
    [(np.zeros((4, 23)), "24 values per row"), (np.zeros(24), "z\\[None, :\\]"),
     (np.zeros((0, 24)), "empty"), (np.zeros((2, 3, 24)), "shape"), ([["a"] * 24], "numeric")],
)
def test_bad_codes_give_clear_errors(z, message):
    model = small()
    with pytest.raises(MidiMeInputError, match=message):
        model.fit(z, epochs=1)
    with pytest.raises(ValueError):  # MidiMeInputError is also a ValueError
        model.encode(z)


def test_bad_arguments_give_clear_errors():
    model = small()
    z = subspace_codes(4, 24)
    with pytest.raises(MidiMeInputError, match="epochs"):
        model.fit(z, epochs=0)
    with pytest.raises(MidiMeInputError, match="batch_size"):
        model.fit(z, batch_size=0)
    with pytest.raises(MidiMeInputError, match="3 values per row"):
        model.decode(np.zeros((2, 4)))
    with pytest.raises(MidiMeInputError):
        model.sample(0)


def test_nan_loss_mid_training_restores_last_good_weights():
    """A callback breaks the weights after epoch 3; the next step's loss is NaN, and the weights
    that last gave a finite loss (those after epoch 2) come back."""
    snapshots = []

    class Sabotage(keras.callbacks.Callback):
        def __init__(self, model):
            super().__init__()
            self.midime = model

        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.midime.get_weights())
            if epoch == 2:
                broken = self.midime.get_weights()
                broken["output/bias"][0] = np.nan  # (a NaN before a ReLU could be masked)
                for name, var in self.midime._named_variables():  # bypass set_weights' NaN check
                    var.assign(broken[name])

    model = small(seed=3)
    with pytest.raises(TrainingError, match="diverged") as info:
        model.fit(subspace_codes(16, 24), epochs=20, callbacks=[Sabotage(model)])
    assert info.value.history.epochs_run == 3
    assert info.value.history.stop_reason == FitHistory.DIVERGED and "unstable" in info.value.history.reason
    restored = model.get_weights()
    assert all_finite(restored)
    assert same_weights(restored, snapshots[1])
    assert np.isfinite(model.loss(subspace_codes(16, 24), seed=0)["total"])


def test_exploding_learning_rate_stops_with_finite_weights():
    model = small(seed=1, learning_rate=1e8)
    z = subspace_codes(16, 24)
    with pytest.raises(TrainingError, match="diverged"):
        model.fit(z, epochs=200)
    assert all_finite(model.get_weights())
    assert np.isfinite(model.loss(z, seed=0)["total"])


def test_a_bad_last_update_is_undone():
    """With one epoch the loop never sees the broken weights; the final check must catch them."""
    model = small(seed=1, learning_rate=1e30)
    initial = model.get_weights()
    with pytest.raises(TrainingError):
        model.fit(subspace_codes(16, 24), epochs=1)
    assert same_weights(model.get_weights(), initial)


def test_save_load_round_trip(tmp_path):
    z = subspace_codes(16, 24)
    model = MidiMe(MidiMeConfig(**SMALL, seed=12), musicvae=MUSICVAE)
    model.fit(z, epochs=12)
    path = model.save(tmp_path / "mine")
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_FILENAME, WEIGHTS_FILENAME]
    metadata = json.loads((path / CONFIG_FILENAME).read_text())
    assert metadata["musicvae"] == MUSICVAE and metadata["training"]["epochs_trained"] == 12
    assert len(metadata["training"]["last_fit"]["total"]) == 12

    loaded = MidiMe.load(path, musicvae_fingerprint=MUSICVAE["fingerprint"], z_size=24)
    assert loaded.config == model.config and loaded.musicvae == MUSICVAE
    assert same_weights(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.sample(5, seed=1), model.sample(5, seed=1))
    np.testing.assert_array_equal(loaded.reconstruct(z), model.reconstruct(z))
    assert loaded.history["total"] == model.history["total"] and loaded.epochs_trained == 12
    # identical continued training too (same seed, same noise position)
    np.testing.assert_allclose(loaded.fit(z, epochs=3)["total"], model.fit(z, epochs=3)["total"], rtol=1e-6)
    # saving again replaces the old model; loading via the json path works
    model.save(path)
    assert MidiMe.load(path / CONFIG_FILENAME).epochs_trained == 15


def test_wrong_musicvae_is_refused(tmp_path):
    model = MidiMe(MidiMeConfig(**SMALL, seed=0), musicvae=MUSICVAE)
    path = model.save(tmp_path / "m")
    with pytest.raises(CheckpointError, match="different MusicVAE"):
        MidiMe.load(path, musicvae_fingerprint="sha256:" + "cd" * 32)
    with pytest.raises(CheckpointError, match="z_size 512"):
        MidiMe.load(path, z_size=512)
    loaded = MidiMe.load(path)
    loaded.check_compatible(MUSICVAE["fingerprint"], z_size=24)
    with pytest.raises(CheckpointError):
        loaded.check_compatible("other")
    anonymous = small().save(tmp_path / "anon")
    with pytest.raises(CheckpointError, match="does not record"):
        MidiMe.load(anonymous, musicvae_fingerprint=MUSICVAE["fingerprint"])
    with pytest.raises(MidiMeInputError, match="z_size"):
        small().save(tmp_path / "x", musicvae={**MUSICVAE, "z_size": 256})


def test_corrupt_or_foreign_files_are_refused(tmp_path):
    path = small(seed=0).save(tmp_path / "m")
    good_json = (path / CONFIG_FILENAME).read_text()

    (path / WEIGHTS_FILENAME).write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        MidiMe.load(path)

    np.savez(path / WEIGHTS_FILENAME, **{"encoder_0/kernel": np.zeros((3, 3), np.float32)})
    with pytest.raises(CheckpointError, match="missing"):
        MidiMe.load(path)

    weights = small(seed=0).get_weights()
    np.savez(path / WEIGHTS_FILENAME, **{**weights, "mu/bias": np.zeros(5, np.float32)})
    with pytest.raises(CheckpointError, match="shape"):
        MidiMe.load(path)

    np.savez(path / WEIGHTS_FILENAME, **{**weights, "mu/bias": np.array([None] * 3, dtype=object)})
    with pytest.raises(CheckpointError):
        MidiMe.load(path)  # object arrays need pickle, which load() never allows

    np.savez(path / WEIGHTS_FILENAME, **weights)
    (path / CONFIG_FILENAME).write_text("{ not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        MidiMe.load(path)
    (path / CONFIG_FILENAME).write_text(json.dumps({**json.loads(good_json), "format": "keras"}))
    with pytest.raises(CheckpointError, match="not a MidiMe"):
        MidiMe.load(path)
    (path / CONFIG_FILENAME).write_text(json.dumps({**json.loads(good_json), "format_version": 99}))
    with pytest.raises(CheckpointError, match="version"):
        MidiMe.load(path)
    bad_config = json.loads(good_json)
    bad_config["config"]["latent_size"] = -1
    (path / CONFIG_FILENAME).write_text(json.dumps(bad_config))
    with pytest.raises(CheckpointError, match="invalid config"):
        MidiMe.load(path)
    with pytest.raises(CheckpointError, match="no saved MidiMe"):
        MidiMe.load(tmp_path / "nothing-here")


def test_save_never_clobbers_other_files(tmp_path):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(CheckpointError, match="refusing"):
        small().save(other)
    assert (other / "cat.jpg").read_bytes() == b"meow"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no staging dirs left


# -- one compiled training function per shape ----------------------------------------------------


def test_midime_of_one_shape_share_their_compiled_functions(caplog):
    """Six MidiMe of the same shape in a row (different seeds, betas, rates and song lengths)
    trace each compiled function once, and TensorFlow logs no retracing warning."""
    import logging
    import warnings

    from midime_widgets.models.midime import _shared_functions

    def use(model, z):
        model.fit(z, epochs=2)
        model.fit(z, epochs=2, batch_size=8)
        model.sample(3, seed=0)
        model.encode(z)
        model.reconstruct(z)

    shape = dict(SMALL, latent_size=5)  # a shape no other test uses, so the counts start here
    use(MidiMe(MidiMeConfig(**shape, seed=0)), subspace_codes(10, 24))
    counts = _shared_functions(MidiMeConfig(**shape)).tracing_counts()
    assert set(counts) == {"copy", "probe", "encode", "decode", "run", "run_batched"}
    assert all(count == 1 for count in counts.values())
    caplog.set_level(logging.WARNING, logger="tensorflow")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(1, 6):
            model = MidiMe(MidiMeConfig(**shape, seed=i, beta=0.5 * i, learning_rate=1e-3 * i))
            use(model, subspace_codes(10 + 3 * i, 24, seed=i))
    assert _shared_functions(MidiMeConfig(**shape)).tracing_counts() == counts
    messages = [r.getMessage() for r in caplog.records] + [str(w.message) for w in caught]
    assert not [m for m in messages if "retracing" in m.lower()]


def test_shared_functions_keep_each_models_weights_apart():
    """Two MidiMe of one shape train through the same compiled function; each keeps its own
    weights and optimizer state (the same seed gives the same result, whatever ran between)."""
    z = subspace_codes(16, 24)
    first, other = small(seed=4), small(seed=9)
    first.fit(z, epochs=3)
    other.fit(z, epochs=7)
    first.fit(z, epochs=5)
    again = small(seed=4)
    again.fit(z, epochs=3)
    again.fit(z, epochs=5)
    assert same_weights(first.get_weights(), again.get_weights())
    assert not same_weights(first.get_weights(), other.get_weights())


# -- training until converged ---------------------------------------------------------------------


def test_loss_change_compares_the_two_halves_of_the_window():
    from midime_widgets.models.midime import loss_change

    assert loss_change([5.0, 4.0, 3.0], 4) is None  # not enough steps yet
    assert loss_change([9.0, 10.0, 10.0, 8.0, 8.0], 4) == pytest.approx(0.2)  # 10 → 8
    assert loss_change([1.0, 3.0, 2.0, 2.0], 4) == 0.0  # noise within the halves does not count


def test_default_fit_trains_until_the_loss_plateaus():
    from midime_widgets.models.midime import PLATEAU_STEPS, PLATEAU_TOLERANCE, UNTIL_CONVERGED, loss_change

    model = small(seed=0, learning_rate=3e-3)
    history = model.fit(subspace_codes(32, 24), max_steps=5000)
    assert history.epochs_requested is UNTIL_CONVERGED and history.until_converged
    assert history.stop_reason == FitHistory.CONVERGED and not history.stopped
    assert PLATEAU_STEPS <= history.steps < 5000 and history.steps == history.epochs_run
    assert loss_change(history["total"], PLATEAU_STEPS) < PLATEAU_TOLERANCE
    assert loss_change(history["total"][:-PLATEAU_STEPS // 2], PLATEAU_STEPS) >= PLATEAU_TOLERANCE
    assert "learned what it could" in history.reason and f"{history.steps:,} training steps" in history.reason


def test_a_converged_fit_stops_at_the_same_epoch_however_its_chunks_ran():
    """The plateau is checked on fixed epochs, so the same seed gives the same model whether
    progress reports cut training into many short compiled calls or none does."""
    codes = subspace_codes(32, 24)
    quiet = small(seed=0, learning_rate=3e-3)
    quiet.fit(codes, max_steps=5000)
    reported = []
    chatty = small(seed=0, learning_rate=3e-3)
    chatty.fit(codes, max_steps=5000, on_progress=lambda epoch, *_: reported.append(epoch))
    assert quiet.history.stop_reason == chatty.history.stop_reason == FitHistory.CONVERGED
    assert chatty.history.epochs_run == quiet.history.epochs_run == reported[-1]
    assert chatty.history.epochs_run % 50 == 0  # a check: every half plateau (PLATEAU_STEPS / 2)
    assert chatty.history.to_dict()["total"] == quiet.history.to_dict()["total"]
    for name, value in quiet.get_weights().items():
        np.testing.assert_array_equal(chatty.get_weights()[name], value)


def test_the_step_budget_ends_a_fit_that_has_not_converged():
    model = small(seed=0)
    history = model.fit(subspace_codes(32, 24), max_steps=30)
    assert (history.stop_reason, history.steps, history.max_steps) == (FitHistory.BUDGET, 30, 30)
    assert "limit of 30 training steps" in history.reason
    batched = small(seed=0).fit(subspace_codes(32, 24), batch_size=8, max_steps=30)
    assert batched.steps == 32 and batched.epochs_run == 8  # whole epochs of 4 steps: 30 → 32


def test_explicit_epochs_still_train_exactly_that_long():
    history = small(seed=0).fit(subspace_codes(16, 24), epochs=7)
    assert (history.epochs_run, history.steps, history.stop_reason) == (7, 7, FitHistory.EPOCHS_DONE)
    assert history.reason.startswith("Trained the 7 epochs asked for")


def test_fit_history_round_trips_with_its_reason(tmp_path):
    model = small(seed=0)
    model.fit(subspace_codes(16, 24), max_steps=20)
    loaded = MidiMe.load(model.save(tmp_path / "m"))
    assert loaded.history.to_dict() == model.history.to_dict()
    assert loaded.history.reason == model.history.reason and loaded.history.steps == 20
    old = FitHistory.from_dict({"total": [1.0], "reconstruction": [0.5], "kl": [0.5], "epochs_requested": 1})
    assert old.steps == 0 and old.stop_reason is None and old.reason  # files from before still load


def test_personal_config_is_magenta_js_with_the_measured_changes():
    from midime_widgets.models.midime import PERSONAL_DEFAULTS

    config = MidiMeConfig.personal(24, seed=3, beta=0.5)
    assert config.input_size == 24 and config.seed == 3 and config.beta == 0.5
    assert config.encoder_layers == tuple(PERSONAL_DEFAULTS["encoder_layers"])
    assert config.learning_rate == PERSONAL_DEFAULTS["learning_rate"]
