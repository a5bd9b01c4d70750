"""MusicVAE against the real magenta code: checkpoints and outputs made by magenta 2.1.4.

Fixtures (tests/oracle/README.md): for each config, a TF1 checkpoint written by magenta's own
graph (shrunk layer sizes, same structure), and `io.npz` with magenta's `encode_tensors` mu/sigma
and greedy `decode_to_tensors` on the same inputs. We load each checkpoint through the public
loader and require mu/sigma within 1e-4 and identical greedy decodes (a row may only diverge from
a step where magenta's top-two logits are within 1e-4: float32 near-ties). The magenta.js fixture
is the cat-mel_2bar_small checkpoint converted by magenta.js's converter with the real tfjs writer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import musicvae_numpy_reference as ref
from midime_widgets.errors import CheckpointError
from midime_widgets.models.checkpoints import read_checkpoint
from midime_widgets.models.core import XLA_MAX_UNITS
from midime_widgets.models.musicvae import MusicVAE

pytestmark = pytest.mark.oracle

FIXTURES = Path(__file__).parent / "fixtures"
ORACLE = FIXTURES / "oracle" / "checkpoints"
TFJS = FIXTURES / "tfjs"
EXPECTED_CONFIGS = ("cat-mel_2bar_small", "cat-mel_2bar_big", "cat-drums_2bar_small",
                    "cat-drums_2bar_big", "flat-mel_16bar", "hierdec-mel_16bar",
                    "flat-trio_16bar", "hierdec-trio_16bar")
NEAR_TIE = 1e-4


def test_every_oracle_fixture_is_committed():
    missing = [c for c in EXPECTED_CONFIGS if not (ORACLE / c / "io.npz").is_file()]
    assert not missing, f"oracle fixtures missing for {missing} (tests/oracle/README.md)"


def _fixture(name):
    folder = ORACLE / name
    hparams = json.loads((folder / "hparams.json").read_text())
    return folder / "model.ckpt", hparams, dict(np.load(folder / "io.npz"))


def assert_like_magenta(got, io, depths):
    assert_greedy_matches(got, io["greedy"], io.get("logit_gap"), depths)


def assert_greedy_matches(got, want, gaps, depths):
    """Same class at every step of every output split, except after a near-tie step (`gaps`:
    the smallest top-1 minus top-2 logit gap per row and step, or None if unknown)."""
    assert got.shape == want.shape
    splits = np.cumsum(depths)[:-1]
    got_idx = np.stack([p.argmax(-1) for p in np.split(got, splits, -1)], -1)
    want_idx = np.stack([p.argmax(-1) for p in np.split(want, splits, -1)], -1)
    for row in range(len(want)):
        bad = np.nonzero(np.any(got_idx[row] != want_idx[row], axis=-1))[0]
        if len(bad):
            step = bad[0]
            gap = None if gaps is None else float(gaps[row, step])
            assert gap is not None and gap < NEAR_TIE, (
                f"row {row} first differs at step {step} (magenta's top-2 logit gap {gap})")


@pytest.fixture(autouse=True)
def _graph_mode(monkeypatch):
    """Parity through the plain graph here (XLA compiles cost seconds each); the XLA path is
    checked below on the structures whose code differs."""
    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "0")


@pytest.mark.parametrize("name", EXPECTED_CONFIGS)
def test_magenta_checkpoint_encodes_and_decodes_like_magenta(name):
    prefix, hparams, io = _fixture(name)
    vae = MusicVAE.from_checkpoint(prefix)  # config worked out from the variables
    assert vae.config.name == hparams["config"]
    assert list(vae.config.enc_rnn_sizes) == hparams["enc_rnn_size"]
    assert list(vae.config.dec_rnn_sizes) == hparams["dec_rnn_size"]
    assert vae.config.z_size == hparams["z_size"]
    assert vae.config.max_seq_len == hparams["max_seq_len"]
    assert io["lengths"].min() < hparams["max_seq_len"]  # a shorter row is part of the check
    z, mu, sigma = vae.encode_tensors(io["inputs"], io["lengths"])
    np.testing.assert_allclose(mu, io["mu"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(sigma, io["sigma"], atol=1e-4, rtol=0)
    assert_like_magenta(vae.decode_to_tensors(io["z"], temperature=0), io, vae.config.output_depths)
    # temperature=None means greedy too
    assert_like_magenta(vae.decode_to_tensors(io["z"], temperature=None), io, vae.config.output_depths)


@pytest.mark.parametrize("name", ["cat-mel_2bar_small", "flat-trio_16bar",
                                  pytest.param("hierdec-mel_16bar", marks=pytest.mark.slow)])
def test_magenta_checkpoint_matches_through_xla(name, monkeypatch):
    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "1")
    prefix, _, io = _fixture(name)
    vae = MusicVAE.from_checkpoint(prefix)
    # wide decoders run as a plain graph by default (faster there); XLA must still be right
    assert vae.core.jit_compile == (max(vae.config.dec_rnn_sizes) <= XLA_MAX_UNITS)
    vae.core.jit_compile = True
    assert_like_magenta(vae.decode_to_tensors(io["z"], temperature=0), io, vae.config.output_depths)
    assert vae.core.jit_compile  # it ran compiled, no fallback to the graph


@pytest.mark.parametrize("name", ["cat-mel_2bar_small", "hierdec-trio_16bar"])
def test_numpy_reference_agrees_with_magenta(name):
    """The independent numpy implementation (used by test_core) is itself right."""
    prefix, _, io = _fixture(name)
    weights, _ = read_checkpoint(prefix)
    config = MusicVAE.from_checkpoint(prefix).config
    mu, sigma = ref.encode(weights, config, io["inputs"], io["lengths"])
    np.testing.assert_allclose(mu, io["mu"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(sigma, io["sigma"], atol=1e-4, rtol=0)
    greedy, _ = ref.decode_greedy(weights, config, io["z"])
    assert_like_magenta(greedy.astype(np.float32), io, config.output_depths)


def test_wrong_config_for_a_magenta_checkpoint_names_the_fitting_layout():
    prefix, _, _ = _fixture("hierdec-trio_16bar")
    with pytest.raises(CheckpointError) as err:
        MusicVAE.from_checkpoint(prefix, config="hierdec-mel_16bar")
    message = str(err.value)
    assert "core_decoder/core_decoder_0" in message  # unexpected variables are named
    assert "hierdec-trio_16bar" in message  # and the layout that fits is suggested


# -- magenta.js format ----------------------------------------------------------------------


def test_magenta_js_conversion_of_the_oracle_checkpoint_matches_magenta():
    folder = TFJS / "oracle-cat-mel_2bar_small"
    assert (folder / "weights_manifest.json").is_file(), "tfjs oracle fixture missing"
    _, _, io = _fixture("cat-mel_2bar_small")
    vae = MusicVAE.from_checkpoint(folder)  # config from its config.json + weight shapes
    assert vae.kind == "melody" and vae.config.max_seq_len == 32
    _, mu, sigma = vae.encode_tensors(io["inputs"], io["lengths"])
    np.testing.assert_allclose(mu, io["mu"], atol=1e-4, rtol=0)
    if vae.has_sigma:
        np.testing.assert_allclose(sigma, io["sigma"], atol=1e-4, rtol=0)
    assert_like_magenta(vae.decode_to_tensors(io["z"], temperature=0), io, (90,))
    # same network, same numbers: a TF and a magenta.js copy of one model agree exactly
    tf_vae = MusicVAE.from_checkpoint(ORACLE / "cat-mel_2bar_small" / "model.ckpt")
    np.testing.assert_array_equal(tf_vae.encode_tensors(io["inputs"], io["lengths"])[1], mu)


@pytest.mark.parametrize("folder", ["mel_2bar_tiny_f32", "mel_2bar_tiny_u8", "trio_4bar_tiny_u16"])
def test_magenta_js_folders_run_like_the_numpy_reference(folder):
    """Quantized and hierarchical-encoder magenta.js folders: our model vs the numpy spec on the
    very weights the reader produced (the reader itself is tested in test_checkpoints.py)."""
    path = TFJS / folder
    vae = MusicVAE.from_checkpoint(path)
    weights, _ = read_checkpoint(path)
    config = vae.config
    assert (config.encoder == "hierarchical") == folder.startswith("trio")
    T = config.max_seq_len
    rng = np.random.default_rng(0)
    x = np.eye(config.input_depth, dtype=np.float32)[rng.integers(0, config.input_depth, (2, T))]
    _, mu, _ = vae.encode_tensors(x, [T, T])
    want_mu, _ = ref.encode(weights, config, x, [T, T])
    np.testing.assert_allclose(mu, want_mu, atol=1e-4)
    got = vae.decode_to_tensors(mu, temperature=0)
    want, logits = ref.decode_greedy(weights, config, mu)
    parts = np.split(logits, np.cumsum(config.output_depths)[:-1], -1)
    gaps = np.min([np.diff(np.sort(p, -1)[..., -2:], axis=-1)[..., 0] for p in parts], axis=0)
    assert_greedy_matches(got, want.astype(np.float32), gaps, config.output_depths)
