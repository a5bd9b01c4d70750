"""Matching the latent to the prior: an exact change of coordinates (small random models)."""

from __future__ import annotations

import numpy as np
import pytest

import musicvae_numpy_reference as ref
from midime_widgets.models.configs import CONFIGS, expected_variables
from midime_widgets.models.core import MusicVAECore
from midime_widgets.training.prior_match import latent_scale, rescale_latent

CONFIG = CONFIGS["cat-mel_2bar_small"].replace(enc_rnn_sizes=(9,), dec_rnn_sizes=(7, 6), z_size=5,
                                                 max_seq_len=12)


def _core(weights):
    return MusicVAECore(CONFIG, weights=weights, jit_compile=False)


def _windows(n=256, seed=0):
    idx = np.random.default_rng(seed).integers(0, CONFIG.input_depth, (n, CONFIG.max_seq_len))
    return np.eye(CONFIG.input_depth, dtype=np.float32)[idx]


def _encode(core, x):
    mu, sigma = core.encode(x, np.full(len(x), x.shape[1], np.int32))
    return np.asarray(mu), np.asarray(sigma)


def _rescaled():
    weights = ref.random_weights(expected_variables(CONFIG), 3, scale=2.0)
    x = _windows()
    scale, sigma = latent_scale(_core(weights), [x[:128], x[128:]])
    return weights, rescale_latent(weights, CONFIG, scale, sigma), scale, x


def test_codes_of_the_windows_get_the_priors_second_moment():
    weights, matched, scale, x = _rescaled()
    assert not np.allclose(scale, 1.0, atol=0.05)  # the random model's codes are not N(0, I)-sized
    mu, sigma = _encode(_core(matched), x)
    moment = np.mean(mu**2, axis=0) + np.mean(sigma**2, axis=0)
    np.testing.assert_allclose(moment, 1.0, atol=0.05)
    old_mu, old_sigma = _encode(_core(weights), x)
    np.testing.assert_allclose(mu, old_mu / scale, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sigma.mean(axis=0), old_sigma.mean(axis=0) / scale, rtol=1e-3)


def test_decoding_from_mu_is_unchanged():
    weights, matched, _, x = _rescaled()
    before, after = _core(weights), _core(matched)
    old_logits = before.sample_with_logits(_encode(before, x)[0], CONFIG.max_seq_len)[1]
    new_logits = after.sample_with_logits(_encode(after, x)[0], CONFIG.max_seq_len)[1]
    np.testing.assert_allclose(np.asarray(new_logits), np.asarray(old_logits), rtol=1e-4, atol=1e-4)


def test_hierarchical_decoders_are_refused():
    config = CONFIGS["hierdec-mel_16bar"]
    with pytest.raises(ValueError, match="flat decoders"):
        rescale_latent({}, config, np.ones(config.z_size), np.ones((1, config.z_size)))


def test_the_default_models_export_is_reproducible(tmp_path):
    """An export (what ships in the package) gives the same weights every time: same windows,
    same transpositions; and its codes are matched (the scale is not 1)."""
    from midime_widgets.training import tf1_checkpoint
    from midime_widgets.training.default_model import DEFAULT_CONFIG, scale_batches
    from midime_widgets.training.export import export_model

    weights = ref.random_weights(expected_variables(DEFAULT_CONFIG), 5, scale=1.0)
    prefix = tf1_checkpoint.write_checkpoint(tmp_path / "run" / "model.ckpt-3",
                                             {**weights, "global_step": np.int64(3)})
    windows = np.random.default_rng(1).integers(40, 70, (600, DEFAULT_CONFIG.max_seq_len)).astype(np.uint8)
    scales = [export_model(prefix, DEFAULT_CONFIG, tmp_path / name, scale_batches(windows))
              for name in ("a", "b")]
    assert scales[0].shape == (DEFAULT_CONFIG.z_size,) and not np.allclose(scales[0], 1.0)
    first, second = (tf1_checkpoint.read_checkpoint_tensors(tmp_path / name / "model.ckpt")
                     for name in ("a", "b"))
    assert first.keys() == second.keys() and int(first["global_step"]) == 3
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
