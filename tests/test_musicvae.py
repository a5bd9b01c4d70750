"""The MusicVAE user API: construction, encode / decode / sample / interpolate, errors.

Numerics are checked in test_core.py (numpy spec) and test_oracle_parity.py (real magenta); here
small random-weight models exercise the API contract.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from midime_widgets.errors import CheckpointError, MidiError
from midime_widgets.models import musicvae as musicvae_module
from midime_widgets.models.configs import CONFIGS
from midime_widgets.models.musicvae import MusicVAE, slerp
from midime_widgets.music import load_midi
from midime_widgets.training import tf1_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
MEL = CONFIGS["cat-mel_2bar_small"].replace(enc_rnn_sizes=(12,), dec_rnn_sizes=(10, 8), z_size=6)
DRUMS = CONFIGS["cat-drums_2bar_small"].replace(enc_rnn_sizes=(12,), dec_rnn_sizes=(10, 8), z_size=6)
HIER_TRIO = CONFIGS["hierdec-trio_16bar"].replace(enc_rnn_sizes=(8,), dec_rnn_sizes=(6, 6),
                                                  z_size=5, max_seq_len=32, level_lengths=(2, 16))


@pytest.fixture(autouse=True)
def _graph_mode(monkeypatch):
    """Plain graphs (XLA compiles cost seconds); the XLA path is compared explicitly below."""
    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "0")
    monkeypatch.delenv("MIDIME_WIDGETS_OFFLINE", raising=False)  # set only where a test says so


def melody(pitches, start=0.0, step=0.5, program=0):
    """A NoteSequence of quarter notes at 120 qpm in 4/4 (8 of them = one 2-bar window)."""
    seq = music_pb2.NoteSequence(ticks_per_quarter=220)
    seq.tempos.add(qpm=120)
    seq.time_signatures.add(numerator=4, denominator=4)
    t = start
    for pitch in pitches:
        seq.notes.add(pitch=pitch, start_time=t, end_time=t + step, velocity=80, program=program)
        t += step
    seq.total_time = t
    return seq


@pytest.fixture(scope="module")
def vae():
    return MusicVAE.from_config(MEL, seed=3)


# -- construction and description ----------------------------------------------------------


def test_from_config_describes_itself(vae):
    assert vae.config is MEL
    assert vae.name == "cat-mel_2bar_small"
    assert vae.kind == "melody"
    assert vae.converter.input_depth == 90
    assert vae.device == "CPU"
    assert len(vae.fingerprint) == 64 and int(vae.fingerprint, 16) >= 0
    assert "melody" in repr(vae)
    assert MusicVAE.from_config(DRUMS).kind == "drums"
    assert MusicVAE.from_config(HIER_TRIO).kind == "trio"


def test_fingerprint_identifies_the_weights():
    a, b, c = (MusicVAE.from_config(MEL, seed=s) for s in (1, 1, 2))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    renamed = MusicVAE(MEL.replace(name="other-name"), a.core.numpy_weights())
    assert renamed.fingerprint == a.fingerprint  # names and values only, not the config's name


def test_checkpoint_round_trip_by_prefix_folder_and_tar(tmp_path, vae):
    weights = vae.core.numpy_weights()
    weights["global_step"] = np.int64(7)
    prefix = tf1_checkpoint.write_checkpoint(tmp_path / "ckpt" / "model.ckpt", weights)
    with tarfile.open(tmp_path / "model.tar", "w") as tar:
        tar.add(tmp_path / "ckpt", arcname="model")
    for path in (prefix, tmp_path / "ckpt", tmp_path / "model.tar"):
        loaded = MusicVAE.from_checkpoint(path, config=MEL)
        assert loaded.fingerprint == vae.fingerprint
    # config=None: the table config's layout, sizes read from the checkpoint
    guessed = MusicVAE.from_checkpoint(prefix)
    assert guessed.config.name == "cat-mel_2bar_small"
    assert (guessed.config.enc_rnn_sizes, guessed.config.dec_rnn_sizes, guessed.config.z_size) == (
        (12,), (10, 8), 6)
    assert guessed.fingerprint == vae.fingerprint


def test_checkpoint_described_by_its_config_json_loads_with_that_config(tmp_path, vae):
    """An exported model (config.json) or a training run (train_config.json) keeps its own name
    and converter; a description that does not fit the weights, or is not one, is ignored."""
    own = MEL.replace(name="my-folk-model", description="trained on my tunes")
    prefix = tf1_checkpoint.write_checkpoint(tmp_path / "model.ckpt", vae.core.numpy_weights())
    for name in ("config.json", "train_config.json"):
        (tmp_path / name).write_text(json.dumps({"config": own.to_dict()}))
        for path in (prefix, tmp_path):
            loaded = MusicVAE.from_checkpoint(path)
            assert (loaded.name, loaded.config) == ("my-folk-model", own)
        (tmp_path / name).unlink()
    for text in (json.dumps({"config": MEL.replace(name="x", z_size=7).to_dict()}),  # wrong shape
                 json.dumps({"config": {**own.to_dict(), "max_seq_len": 10**9}}),  # unbounded
                 json.dumps({"config": {**own.to_dict(), "converter": {"type": "banjo"}}}),
                 "{not json", json.dumps([1, 2])):
        (tmp_path / "config.json").write_text(text)
        assert MusicVAE.from_checkpoint(prefix).config.name == "cat-mel_2bar_small"


def test_checkpoint_that_does_not_fit_names_variables_and_the_fitting_config(tmp_path):
    weights = MusicVAE.from_config("cat-drums_2bar_small", seed=0).core.numpy_weights()
    prefix = tf1_checkpoint.write_checkpoint(tmp_path / "model.ckpt", weights)
    with pytest.raises(CheckpointError) as err:
        MusicVAE.from_checkpoint(prefix, config="cat-mel_2bar_small")
    message = str(err.value)
    assert "cat-mel_2bar_small" in message
    assert "encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel" in message
    assert "[522, 2048]" in message  # the drum model's 10-wide input, shown as it is
    assert "config='cat-drums_2bar_small'" in message  # the suggestion
    assert MusicVAE.from_checkpoint(prefix).config.name == "cat-drums_2bar_small"


def test_unknown_checkpoint_contents_raise_checkpoint_error(tmp_path):
    prefix = tf1_checkpoint.write_checkpoint(tmp_path / "model.ckpt",
                                             {"some/other/model/kernel": np.ones((3, 3), np.float32)})
    with pytest.raises(CheckpointError, match="config"):
        MusicVAE.from_checkpoint(prefix)
    with pytest.raises(CheckpointError):
        MusicVAE.from_checkpoint(tmp_path / "missing.ckpt", config=MEL)
    with pytest.raises(CheckpointError, match="Unknown MusicVAE config"):
        MusicVAE.from_checkpoint(prefix, config="no-such-config")


def test_default_model_loads_or_says_it_is_missing(monkeypatch, tmp_path):
    folder = musicvae_module.DEFAULT_DIR
    if all((folder / f).is_file() for f in musicvae_module.DEFAULT_FILES):
        vae = MusicVAE.default()
        spec = json.loads((folder / "config.json").read_text())["config"]
        assert vae.config.to_dict() == spec
        assert vae.name == spec["name"] and vae.kind == "melody"
    monkeypatch.setattr(musicvae_module, "DEFAULT_DIR", tmp_path)
    with pytest.raises(CheckpointError, match="lacks the embedded default MusicVAE.*reinstall"):
        MusicVAE.default()


def test_pretrained_downloads_once_then_works_offline(tmp_path):
    """A mirror (file://) with the official layout stands in for the storage bucket."""
    mirror = tmp_path / "mirror"
    # magenta.js folder: the oracle cat-mel_2bar_small network converted by magenta.js's converter
    js = mirror / "magentadata/js/checkpoints/music_vae/mel_2bar_small"
    shutil.copytree(FIXTURES / "tfjs" / "oracle-cat-mel_2bar_small", js)
    cache = tmp_path / "cache"
    vae = MusicVAE.pretrained("mel_2bar_small", base_url=mirror.as_uri(), cache=cache,
                              progress=False)
    assert vae.name == "mel_2bar_small" and vae.kind == "melody"
    shutil.rmtree(mirror)
    again = MusicVAE.pretrained("mel_2bar_small", base_url="http://127.0.0.1:9/unreachable",
                                cache=cache, progress=False)
    assert again.fingerprint == vae.fingerprint


def test_pretrained_offline_loads_only_cached_checkpoints(tmp_path, monkeypatch):
    from midime_widgets.models import is_cached

    mirror = tmp_path / "mirror"
    shutil.copytree(FIXTURES / "tfjs" / "oracle-cat-mel_2bar_small",
                    mirror / "magentadata/js/checkpoints/music_vae/mel_2bar_small")
    cache = tmp_path / "cache"
    monkeypatch.setenv("MIDIME_WIDGETS_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="not in the cache and MIDIME_WIDGETS_OFFLINE is set"):
        MusicVAE.pretrained("mel_2bar_small", base_url=mirror.as_uri(), cache=cache, progress=False)
    assert not is_cached("mel_2bar_small", cache=cache)
    monkeypatch.delenv("MIDIME_WIDGETS_OFFLINE")
    vae = MusicVAE.pretrained("mel_2bar_small", base_url=mirror.as_uri(), cache=cache, progress=False)
    assert is_cached("mel_2bar_small", cache=cache)
    monkeypatch.setenv("MIDIME_WIDGETS_OFFLINE", "1")
    shutil.rmtree(mirror)
    again = MusicVAE.pretrained("mel_2bar_small", cache=cache, progress=False)
    assert again.fingerprint == vae.fingerprint and again.name == "mel_2bar_small"


def test_pretrained_tar_uses_the_table_config(tmp_path):
    source = MusicVAE.from_config("cat-drums_2bar_small", seed=4)
    folder = tmp_path / "build" / "cat-drums_2bar_small.hikl"
    tf1_checkpoint.write_checkpoint(folder / "model.ckpt", source.core.numpy_weights())
    tar_path = tmp_path / "mirror/magentadata/models/music_vae/checkpoints/cat-drums_2bar_small.hikl.tar"
    tar_path.parent.mkdir(parents=True)
    with tarfile.open(tar_path, "w") as tar:
        tar.add(folder, arcname="cat-drums_2bar_small.hikl")
    vae = MusicVAE.pretrained("cat-drums_2bar_small.hikl", base_url=(tmp_path / "mirror").as_uri(),
                              cache=tmp_path / "cache", progress=False)
    assert vae.name == "cat-drums_2bar_small.hikl"
    assert vae.config is CONFIGS["cat-drums_2bar_small"]
    assert vae.fingerprint == source.fingerprint
    with pytest.raises(CheckpointError, match="Unknown pretrained checkpoint"):
        MusicVAE.pretrained("not-a-checkpoint", cache=tmp_path / "cache")


# -- encoding --------------------------------------------------------------------------------


def test_encode_one_window_per_sequence(vae):
    seqs = [melody([60, 62, 64, 65, 67, 69, 71, 72]), melody([72, 71, 69, 67, 65, 64, 62, 60])]
    z, mu, sigma = vae.encode(seqs, seed=5)
    assert z.shape == mu.shape == sigma.shape == (2, 6)
    assert z.dtype == np.float32 and np.all(sigma > 0)
    # same as encoding the converter's tensors; z = mu + sigma * eps with eps drawn from the seed
    tensors = [vae.converter.to_tensors(s).inputs[0] for s in seqs]
    z2, mu2, _ = vae.encode_tensors(tensors, seed=5)
    # the first call ran op by op (fused LSTM kernel), the second the traced program: the same
    # math, equal up to float rounding
    np.testing.assert_allclose(mu, mu2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z, z2, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(vae.encode_tensors(tensors, seed=5)[1], mu2)  # compiled: bit for bit
    eps = np.random.default_rng(5).standard_normal(mu.shape).astype(np.float32)
    np.testing.assert_allclose(z, mu + sigma * eps, rtol=1e-6)
    assert not np.array_equal(vae.encode(seqs, seed=6)[0], z)
    # a single NoteSequence is accepted as a batch of one
    np.testing.assert_allclose(vae.encode(seqs[0])[1], mu[:1], atol=1e-6)


def test_encode_explains_songs_with_several_or_no_windows(vae):
    song = melody([60 + (i % 7) for i in range(16)])  # 4 bars: three 2-bar windows
    with pytest.raises(MidiError, match=r"holds 3 different 2-bar melody windows.*vae\.chunks"):
        vae.encode([melody([60] * 8), song])
    drums_only = load_midi(FIXTURES / "midi" / "drums_only.mid")
    with pytest.raises(MidiError, match="Sequence 0 gives no"):
        vae.encode([drums_only])
    with pytest.raises(MidiError):
        vae.encode("song.mid")


def test_chunks_cover_a_song_in_time_order_and_each_encodes(vae):
    song = load_midi(FIXTURES / "midi" / "mono_melody.mid")
    chunks = vae.chunks(song)
    windows = vae.converter.windows(song)
    assert len(chunks) == len(windows) > 1
    assert [w.start_time for w in windows] == sorted(w.start_time for w in windows)
    _, mu, _ = vae.encode(chunks)
    _, mu_windows, _ = vae.encode(windows)  # Window objects work too
    assert mu.shape == (len(chunks), 6)
    np.testing.assert_allclose(mu, mu_windows, atol=1e-6)
    np.testing.assert_allclose(
        mu, vae.encode_tensors(np.stack([w.inputs for w in windows]))[1], atol=1e-6)


def test_encode_tensors_checks_its_input(vae):
    with pytest.raises(MidiError, match=r"\[steps, 90\]"):
        vae.encode_tensors(np.zeros((1, 32, 10), np.float32))
    with pytest.raises(MidiError, match="outside"):
        vae.encode_tensors(np.zeros((1, 32, 90), np.float32), [40])
    with pytest.raises(MidiError, match="lengths"):
        vae.encode_tensors(np.zeros((2, 32, 90), np.float32), [32])
    z, mu, sigma = vae.encode_tensors(np.zeros((0, 32, 90), np.float32))
    assert z.shape == mu.shape == sigma.shape == (0, 6)


def test_missing_sigma_head_gives_zero_sigma_and_z_equal_to_mu():
    weights = MusicVAE.from_config(MEL, seed=8).core.numpy_weights()
    del weights["encoder/sigma/kernel"], weights["encoder/sigma/bias"]
    vae = MusicVAE(MEL, weights)
    assert not vae.has_sigma
    z, mu, sigma = vae.encode([melody([60, 62, 64, 65, 67, 69, 71, 72])], seed=1)
    assert np.all(sigma == 0) and np.array_equal(z, mu)


# -- decoding --------------------------------------------------------------------------------


def test_decode_to_tensors_shapes_greedy_and_seeds(vae):
    z = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32) * 3
    greedy = vae.decode_to_tensors(z, temperature=0)
    assert greedy.shape == (3, 32, 90) and greedy.dtype == np.float32
    assert np.all(greedy.sum(-1) == 1)
    np.testing.assert_array_equal(vae.decode_to_tensors(z, temperature=None), greedy)
    np.testing.assert_array_equal(vae.decode_to_tensors(z, temperature=0, seed=9), greedy)
    hot = [vae.decode_to_tensors(z, temperature=3.0, seed=s) for s in (1, 1, 2)]
    np.testing.assert_array_equal(hot[0], hot[1])
    assert not np.array_equal(hot[0], hot[2])
    assert vae.decode_to_tensors(z[0]).shape == (1, 32, 90)  # one code, as a vector
    assert vae.decode_to_tensors(z, length=48, temperature=0).shape == (3, 48, 90)
    assert vae.decode_to_tensors(np.zeros((0, 6))).shape == (0, 32, 90)


def test_big_batches_are_chunked_without_changing_greedy_results(vae):
    z = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    whole = vae.decode_to_tensors(z, temperature=0)
    assert whole.shape == (300, 32, 90)
    for row in (0, 255, 256, 299):
        np.testing.assert_array_equal(vae.decode_to_tensors(z[row], temperature=0)[0], whole[row])


def test_xla_and_graph_paths_decode_alike(monkeypatch, vae):
    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "1")
    fast = MusicVAE(MEL, vae.core.numpy_weights())
    assert fast.core.jit_compile
    z = np.random.default_rng(2).normal(size=(3, 6)).astype(np.float32) * 3
    np.testing.assert_array_equal(fast.decode_to_tensors(z, temperature=0),
                                  vae.decode_to_tensors(z, temperature=0))
    a, b = (fast.decode_to_tensors(z, temperature=2.0, seed=4) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert fast.core.jit_compile  # it ran compiled, no fallback to the graph


def test_decode_gives_note_sequences(vae):
    z = np.random.default_rng(3).normal(size=(2, 6)).astype(np.float32) * 3
    seqs = vae.decode(z, temperature=0)
    assert len(seqs) == 2
    for seq, tensor in zip(seqs, vae.decode_to_tensors(z, temperature=0)):
        again = vae.converter.to_tensors(seq).outputs
        if len(seq.notes):  # the notes re-encode to the decoded events
            assert np.array_equal(again[0].argmax(-1)[: len(tensor)], tensor.argmax(-1)[: len(again[0])])


def test_decode_one_is_the_first_row_of_decode(vae):
    z = np.random.default_rng(4).normal(size=6).astype(np.float32) * 3
    greedy = vae.decode(z[None], temperature=0)[0]
    assert vae.decode_one(z) == greedy
    assert vae.decode_one(z, temperature=1.0, seed=5) == vae.decode(z[None], temperature=1.0,
                                                                     seed=5)[0]


def test_record_is_what_a_midime_keeps_about_the_model(vae):
    assert vae.record == {"name": "cat-mel_2bar_small", "z_size": 6,
                          "fingerprint": vae.fingerprint}
    json.dumps(vae.record)  # stored in MidiMe's JSON


def test_hierarchical_decoders_decode_their_bars_and_keep_the_first_steps_asked_for():
    vae = MusicVAE.from_config(HIER_TRIO, seed=0)
    z = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    full = vae.decode_to_tensors(z, temperature=0)
    assert full.shape == (2, 32, 692)
    np.testing.assert_array_equal(vae.decode_to_tensors(z, length=16, temperature=0), full[:, :16])
    with pytest.raises(MidiError, match="at most 32 steps"):
        vae.decode_to_tensors(z, length=48)


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": -1.0}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"temperature": "warm"}, "temperature"), ({"length": 0}, "length"),
    ({"length": 2.5}, "length"), ({"length": 10**6}, "too long")])
def test_decode_rejects_bad_arguments(vae, kwargs, match):
    with pytest.raises(MidiError, match=match):
        vae.decode_to_tensors(np.zeros((1, 6)), **kwargs)


def test_decode_rejects_bad_codes(vae):
    with pytest.raises(MidiError, match=r"\[n, 6\]"):
        vae.decode(np.zeros((2, 7)))
    with pytest.raises(MidiError, match="NaN"):
        vae.decode(np.full((1, 6), np.nan))


def test_sample_draws_from_the_prior(vae):
    a, b, c = vae.sample(3, seed=1), vae.sample(3, seed=1), vae.sample(3, seed=2)
    assert len(a) == 3 and all(isinstance(s, music_pb2.NoteSequence) for s in a)
    assert [list(s.notes) for s in a] == [list(s.notes) for s in b]
    assert [list(s.notes) for s in a] != [list(s.notes) for s in c]
    assert vae.sample(0) == []
    with pytest.raises(MidiError):
        vae.sample(-1)


def test_interpolate_slerps_between_the_two_codes(vae):
    a = melody([60, 62, 64, 65, 67, 69, 71, 72])
    b = melody([72, 67, 64, 60, 72, 67, 64, 60])
    seqs = vae.interpolate(a, b, num_steps=4, temperature=0)
    assert len(seqs) == 4
    _, mu, _ = vae.encode([a, b])
    ends = vae.decode(mu, temperature=0)
    assert list(seqs[0].notes) == list(ends[0].notes)
    assert list(seqs[-1].notes) == list(ends[1].notes)
    with pytest.raises(MidiError):
        vae.interpolate(a, b, num_steps=0)


def test_slerp_keeps_the_norm_between_orthogonal_codes():
    p0, p1 = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    mid = slerp(p0, p1, 0.5)
    np.testing.assert_allclose(mid, [3 / np.sqrt(2), 3 / np.sqrt(2)])
    np.testing.assert_allclose(slerp(p0, p1, 0.0), p0)
    np.testing.assert_allclose(slerp(p0, p1, 1.0), p1, atol=1e-12)
    np.testing.assert_allclose(slerp(p0, 2 * p0, 0.5), 1.5 * p0)  # parallel: linear, no NaN
