"""Render a NoteSequence to a WAV file (bytes) for listening / download.

With the `fluidsynth` program and a General MIDI soundfont installed, FluidSynth renders it (real
instrument sounds). Otherwise a small additive synthesizer in numpy does: harmonics with a
plucked envelope for pitched notes, decaying noise bursts (and a pitch-dropping sine for kicks)
for drums. Either way the result is normalised, 16-bit mono PCM.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from note_seq.protobuf import music_pb2

from ..errors import MidiError
from .midi_io import to_midi_bytes

NoteSequence = music_pb2.NoteSequence

#: Longest music `render_wav` renders (seconds); longer input raises MidiError.
MAX_RENDER_SECONDS = 600.0
#: Where Debian/Ubuntu packages put General MIDI soundfonts (first found wins).
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
SOUNDFONT_ENV = "MIDIME_SOUNDFONT"
_TAIL_SECONDS = 0.3  # room for the last note's release
_PEAK = 0.89  # normalised peak (about -1 dBFS)


def find_soundfont() -> str | None:
    """$MIDIME_SOUNDFONT, else the first General MIDI soundfont found in the usual places."""
    env = os.environ.get(SOUNDFONT_ENV)
    if env and Path(env).is_file():
        return env
    return next((p for p in SOUNDFONT_PATHS if Path(p).is_file()), None)


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None and find_soundfont() is not None


def music_length(seq: NoteSequence) -> float:
    """Seconds until the last note ends."""
    return max((n.end_time for n in seq.notes), default=0.0)


def render_wav(seq: NoteSequence, sample_rate: int = 22050, *,
               use_fluidsynth: bool | None = None, soundfont: str | None = None,
               max_seconds: float = MAX_RENDER_SECONDS) -> bytes:
    """A complete RIFF/WAV file (16-bit mono) of the sequence.

    `use_fluidsynth=None` uses FluidSynth when it and a soundfont are installed and falls back
    to the numpy synth if it fails; True insists on it; False always uses the numpy synth.
    """
    if not isinstance(seq, NoteSequence):
        raise TypeError(f"render_wav expects a NoteSequence, not {type(seq).__name__}.")
    if not 4000 <= int(sample_rate) <= 192000:
        raise ValueError(f"sample_rate must be between 4000 and 192000 Hz, got {sample_rate}.")
    sample_rate = int(sample_rate)
    length = music_length(seq)
    if not np.isfinite(length) or length > max_seconds:
        raise MidiError(
            f"This music is {length / 60:.1f} minutes long; audio rendering is limited to "
            f"{max_seconds / 60:.0f} minutes. Render a shorter excerpt."
        )
    font = soundfont or find_soundfont()
    want_fluid = use_fluidsynth if use_fluidsynth is not None else (
        shutil.which("fluidsynth") is not None and font is not None)
    if want_fluid:
        try:
            samples = _render_fluidsynth(seq, sample_rate, font)
        except (OSError, subprocess.SubprocessError, ValueError, wave.Error, EOFError) as exc:
            if use_fluidsynth:
                raise MidiError(f"FluidSynth could not render the music: {exc}") from exc
            samples = synthesize(seq, sample_rate)
    else:
        samples = synthesize(seq, sample_rate)
    return _wav_bytes(_normalise(samples), sample_rate)


# -- numpy synthesizer -----------------------------------------------------------------------

def _midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def _tone(pitch: int, velocity: int, duration: float, sr: int) -> np.ndarray:
    """A plucked, slightly bright tone: 4 harmonics, fast attack, decay, short release."""
    release = 0.08
    n = max(int((duration + release) * sr), 1)
    t = np.arange(n) / sr
    f0 = _midi_to_hz(pitch)
    wave_ = np.zeros(n)
    for k, amp in enumerate((1.0, 0.5, 0.25, 0.12), start=1):
        if f0 * k < sr / 2:  # no aliasing
            wave_ += amp * np.sin(2 * np.pi * f0 * k * t) * np.exp(-t * 1.5 * k)
    env = np.minimum(t / 0.005, 1.0)  # 5 ms attack
    env *= np.exp(-t * 2.0)
    held = int(duration * sr)
    if held < n:
        env[held:] *= np.linspace(1.0, 0.0, n - held)
    return wave_ * env * (velocity / 127.0)


def _drum(pitch: int, velocity: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Noise bursts, shorter and brighter for cymbals, with a sine thump for kicks."""
    if pitch in (35, 36):  # kick: sine sweeping 120 -> 45 Hz
        n = int(0.25 * sr)
        t = np.arange(n) / sr
        freq = 45 + 75 * np.exp(-t * 30)
        out = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 14)
    else:
        if pitch in (42, 44, 22):  # closed hi-hat
            length, decay, bright = 0.06, 60.0, True
        elif pitch in (46, 26, 49, 52, 55, 57, 51, 53, 59):  # open hat, cymbals
            length, decay, bright = 0.5, 7.0, True
        elif pitch in (38, 37, 40, 39):  # snare, rim, clap
            length, decay, bright = 0.2, 18.0, False
        else:  # toms and other percussion
            length, decay, bright = 0.3, 10.0, False
        n = int(length * sr)
        t = np.arange(n) / sr
        noise = rng.standard_normal(n)
        if bright:
            noise = np.diff(noise, prepend=0.0)  # first difference = crude high-pass
        out = 0.6 * noise * np.exp(-t * decay)
        if not bright:  # body tone for snares/toms
            out += 0.5 * np.sin(2 * np.pi * (100 + 3 * (pitch - 36)) * t) * np.exp(-t * decay)
    return out * (velocity / 127.0)


def synthesize(seq: NoteSequence, sample_rate: int = 22050) -> np.ndarray:
    """Float samples of the sequence from the numpy synth (not normalised)."""
    total = int((music_length(seq) + _TAIL_SECONDS) * sample_rate) + 1
    out = np.zeros(total)
    rng = np.random.default_rng(0)  # the same sequence always sounds the same
    cache: dict[tuple, np.ndarray] = {}  # songs repeat notes: synthesize each sound once
    for note in seq.notes:
        if note.velocity <= 0 or note.end_time < note.start_time:
            continue
        samples = int(round((note.end_time - note.start_time) * sample_rate))
        key = (note.is_drum, note.pitch, note.velocity, 0 if note.is_drum else samples)
        sound = cache.get(key)
        if sound is None:
            if note.is_drum:
                sound = _drum(note.pitch, note.velocity, sample_rate, rng)
            else:
                sound = _tone(note.pitch, note.velocity, samples / sample_rate, sample_rate)
            cache[key] = sound
        start = int(note.start_time * sample_rate)
        end = min(start + len(sound), total)
        out[start:end] += sound[: end - start]
    return out


# -- FluidSynth ------------------------------------------------------------------------------

def _render_fluidsynth(seq: NoteSequence, sample_rate: int, soundfont: str | None) -> np.ndarray:
    exe = shutil.which("fluidsynth")
    if exe is None or soundfont is None:
        raise OSError("fluidsynth or a soundfont is not installed")
    with tempfile.TemporaryDirectory(prefix="midime-") as tmp:
        midi_path = Path(tmp, "in.mid")
        wav_path = Path(tmp, "out.wav")
        midi_path.write_bytes(to_midi_bytes(seq))
        cmd = [exe, "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-T", "wav", "-O", "s16",
               "-F", str(wav_path), soundfont, str(midi_path)]
        timeout = 60 + 2 * music_length(seq)
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
        return _read_wav_mono(wav_path.read_bytes())


def _read_wav_mono(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"unexpected sample width {w.getsampwidth()}")
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        channels = w.getnchannels()
    if channels > 1:
        frames = frames[: len(frames) // channels * channels].reshape(-1, channels).mean(axis=1)
    return frames / 32768.0


# -- WAV writing -----------------------------------------------------------------------------

def _normalise(samples: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples * (_PEAK / peak) if peak > 0 else samples


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    if samples.size == 0:
        samples = np.zeros(int(0.1 * sample_rate))
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
