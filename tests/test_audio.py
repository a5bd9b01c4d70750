"""render_wav: valid 16-bit mono WAV, right pitch and length, drums sound different, limits."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from midime_widgets import MidiError
from midime_widgets.music import load_midi, render_wav
from midime_widgets.music import audio

import note_seq

SR = 22050


def read_wav(data: bytes):
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
    return rate, samples


def one_note(pitch=69, start=0.0, end=1.0, is_drum=False):
    seq = note_seq.NoteSequence()
    seq.notes.add(pitch=pitch, velocity=100, start_time=start, end_time=end, is_drum=is_drum,
                  instrument=9 if is_drum else 0)
    seq.total_time = end
    return seq


def dominant_hz(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)]


def test_numpy_synth_pitch_length_and_normalisation():
    rate, samples = read_wav(render_wav(one_note(69, 0.5, 1.5), SR, use_fluidsynth=False))
    assert rate == SR
    assert len(samples) / rate == pytest.approx(1.5 + audio._TAIL_SECONDS, abs=0.01)
    assert np.max(np.abs(samples)) == pytest.approx(audio._PEAK, abs=0.01)
    assert np.max(np.abs(samples[: int(0.49 * SR)])) == 0  # silent before the note starts
    assert dominant_hz(samples[int(0.5 * SR): int(1.4 * SR)], rate) == pytest.approx(440, abs=3)
    _, higher = read_wav(render_wav(one_note(81, 0, 1), SR, use_fluidsynth=False))
    assert dominant_hz(higher[: SR], rate) == pytest.approx(880, abs=5)


def test_drums_are_noisy_and_tones_are_not():
    def zero_crossing_rate(seq):
        _, s = read_wav(render_wav(seq, SR, use_fluidsynth=False))
        s = s[: int(0.05 * SR)]
        return np.mean(np.abs(np.diff(np.sign(s))) > 0)

    assert zero_crossing_rate(one_note(42, 0, 0.1, is_drum=True)) > 0.3  # hi-hat: noise
    assert zero_crossing_rate(one_note(42, 0, 0.1)) < 0.05  # the same pitch as a tone (F#2)


def test_renders_a_real_song_and_is_deterministic():
    seq = load_midi(Path(__file__).parent / "fixtures" / "midi" / "song_trio.mid")
    first = render_wav(seq, 16000, use_fluidsynth=False)
    assert first == render_wav(seq, 16000, use_fluidsynth=False)
    rate, samples = read_wav(first)
    assert rate == 16000 and len(samples) / rate == pytest.approx(40.3, abs=0.05)


def test_empty_sequence_gives_short_silence():
    rate, samples = read_wav(render_wav(note_seq.NoteSequence(), SR, use_fluidsynth=False))
    assert 0 < len(samples) <= SR and not samples.any()


def test_too_long_music_is_refused():
    with pytest.raises(MidiError, match="limited to 10 minutes"):
        render_wav(one_note(60, 0, 601), use_fluidsynth=False)
    with pytest.raises(MidiError, match="limited"):
        render_wav(one_note(60, 0, 30), max_seconds=20, use_fluidsynth=False)


def test_bad_arguments():
    with pytest.raises(TypeError):
        render_wav(b"MThd")
    with pytest.raises(ValueError, match="sample_rate"):
        render_wav(one_note(), sample_rate=100)


def test_broken_fluidsynth_falls_back_to_numpy(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("no audio")

    monkeypatch.setattr(audio, "_render_fluidsynth", broken)
    auto = render_wav(one_note(), SR, use_fluidsynth=None, soundfont="/x.sf2")
    assert auto == render_wav(one_note(), SR, use_fluidsynth=False)
    with pytest.raises(MidiError, match="FluidSynth"):
        render_wav(one_note(), SR, use_fluidsynth=True)


@pytest.mark.skipif(not audio.fluidsynth_available(), reason="fluidsynth/soundfont not installed")
def test_fluidsynth_render():
    rate, samples = read_wav(render_wav(one_note(69, 0, 1), SR, use_fluidsynth=True))
    assert rate == SR and len(samples) > SR * 0.9
    assert np.max(np.abs(samples)) == pytest.approx(audio._PEAK, abs=0.01)
    assert dominant_hz(samples[: SR], rate) == pytest.approx(440, rel=0.03)
