"""The personalization pipeline and the `personalize` CLI (the README's main job), offline on the
embedded default model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import note_seq
import numpy as np
import pytest

from midime_widgets import examples
from midime_widgets.errors import MidiError, TrainingError
from midime_widgets.models.musicvae import MusicVAE
from midime_widgets.music import load_midi
from midime_widgets.personalize import Personalizer

MIDI_FIXTURES = Path(__file__).parent / "fixtures" / "midi"


@pytest.fixture(scope="module")
def vae():
    return MusicVAE.default()


@pytest.fixture(scope="module")
def trained(vae):
    p = Personalizer(vae, seed=0)
    p.add_midi(examples.path("folk_band"))
    p.fit(epochs=60)
    return p


def test_multitrack_song_uses_the_melody_track_and_says_why(vae):
    p = Personalizer(vae)
    song = p.add_midi(examples.path("folk_band"))
    assert song.melody_choice.name == "Melody"
    assert "melod" in song.melody_choice.reason.lower()
    assert len(song.windows) >= 10
    assert all(not n.is_drum for n in song.sequence.notes)
    assert len({n.instrument for n in song.sequence.notes}) == 1


def test_user_can_override_the_melody_track(vae):
    p = Personalizer(vae)
    song = p.add_midi(examples.path("folk_band"), instrument=1)  # the bass line
    pitches = [n.pitch for n in song.sequence.notes]
    assert max(pitches) < 60


def test_codes_are_musicvae_mu_of_every_window(vae):
    p = Personalizer(vae)
    song = p.add_midi(examples.path("folk_reel"))
    codes = p.codes()
    assert codes.shape == (len(song.windows), vae.config.z_size)
    _, mu, _ = vae.encode([song.windows[0].sequence])
    np.testing.assert_allclose(codes[0], mu[0], atol=1e-4)


def test_training_sampling_and_novelty(trained, vae):
    assert trained.history.epochs_run == 60
    assert trained.history["total"][-1] < trained.history["total"][0]
    samples = trained.sample(8, seed=3, temperature=0)
    assert len(samples) == 8
    assert all(s.tensor.shape == (32, 90) for s in samples)
    assert all(len(s.sequence.notes) > 0 for s in samples)
    report = trained.novelty(samples, prior_samples=16)
    assert report.samples == 8 and 0 <= report.copied <= 8
    assert all(0.0 <= s <= 1.0 for s in report.nearest_similarity)
    # MidiMe's samples sit in the input's region of MusicVAE's space: closer to the input's
    # pitch classes than MusicVAE's own prior samples.
    assert report.pitch_class_distance < report.prior_pitch_class_distance
    assert "copy an input window" in report.summary()


def test_same_seed_same_samples(trained):
    a = trained.sample(3, seed=11, temperature=0)
    b = trained.sample(3, seed=11, temperature=0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.tensor, y.tensor)


def test_copies_are_counted(trained):
    """Decoding an input window's own code reproduces it; the readout must count such copies."""
    windows = trained.windows
    sample_like = trained.decode(trained.input_positions()[:4], temperature=0)
    report = trained.novelty(sample_like, prior_samples=8)
    exact = sum(
        any(np.array_equal(np.argmax(s.tensor, -1), np.argmax(w.outputs, -1)) for w in windows)
        for s in sample_like
    )
    assert report.copied == exact


def test_bad_inputs_are_clear_and_add_nothing(vae):
    p = Personalizer(vae)
    with pytest.raises(MidiError, match="only drums"):
        p.add_midi(MIDI_FIXTURES / "drums_only.mid")
    with pytest.raises(MidiError):
        p.add_midi(b"MThd garbage")
    assert p.songs == []
    with pytest.raises(MidiError, match="Add at least one"):
        p.codes()
    with pytest.raises(TrainingError, match="Train MidiMe first"):
        p.sample(2)


def test_too_short_song_is_refused(vae, tmp_path):
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=120)
    seq.notes.add(pitch=60, velocity=80, start_time=0, end_time=0.5)
    seq.total_time = 0.5
    with pytest.raises(MidiError, match="window"):
        Personalizer(vae).add_midi(seq)


def test_saved_midime_reloads_and_refuses_another_musicvae(trained, tmp_path, vae):
    path = trained.save_midime(tmp_path / "mm")
    other = Personalizer(vae)
    other.load_midime(path)
    z = np.zeros((1, trained.midime.config.latent_size), np.float32)
    np.testing.assert_allclose(other.midime.decode(z), trained.midime.decode(z), atol=1e-6)
    random_vae = MusicVAE.from_config(vae.config, seed=1)
    with pytest.raises(Exception, match="(?i)musicvae|fingerprint"):
        Personalizer(random_vae).load_midime(path)


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "midime_widgets", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_personalize_example_offline(tmp_path):
    out = tmp_path / "out"
    result = _cli("personalize", "--example", "--out", str(out), "--epochs", "50", "--samples", "8",
                  "--seed", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    mids = sorted(out.glob("sample_*.mid"))
    wavs = sorted(out.glob("sample_*.wav"))
    assert len(mids) == 8 and len(wavs) == 8
    for m in mids:
        assert len(load_midi(m).notes) > 0
    assert wavs[0].read_bytes()[:4] == b"RIFF"
    report = (out / "report.html").read_text()
    assert "Memorisation vs variety" in report and "Bokeh" in report
    assert "cdn.bokeh.org" not in report  # self-contained, opens offline
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 50 and summary["novelty"]["samples"] == 8
    assert (out / "midime" / "midime.json").exists()
    assert "training MidiMe" in result.stderr


@pytest.mark.parametrize("content", [b"", b"this is not midi", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_cli_bad_file_is_one_line_exit_2_and_writes_nothing(tmp_path, content):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    out = tmp_path / "out"
    result = _cli("personalize", str(bad), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:")
    assert not out.exists()
    assert not list(tmp_path.glob(".midime-*"))


def test_cli_missing_file_and_drums_only(tmp_path):
    result = _cli("personalize", str(tmp_path / "nope.mid"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "No such MIDI file" in result.stderr
    result = _cli("personalize", str(MIDI_FIXTURES / "drums_only.mid"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "drums" in result.stderr
    # the model (and TensorFlow) loaded before this error: its native start-up chatter is hidden
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not (tmp_path / "o").exists()
