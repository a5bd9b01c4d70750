"""`midime-widgets inspect`: a readable summary for real files, one clear line and exit 2 for bad."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import note_seq
import pytest

from midime_widgets.cli import main
from midime_widgets.music import inspect_midi, load_midi

MIDI_DIR = Path(__file__).parent / "fixtures" / "midi"
SONG = MIDI_DIR / "song_trio.mid"


def test_inspect_multitrack_song(capsys):
    assert main(["inspect", str(SONG)]) == 0
    out = capsys.readouterr().out
    for expected in ("Duration: 0:40.00", "Tempo: 120 qpm", "Time signature: 4/4",
                     "33 Electric Bass (finger)", "4 Electric Piano 1", "drums (channel 10)",
                     "Melody track: #0", "looks most like a melody"):
        assert expected in out, expected
    # window counts: what `personalize` reads with each kind of model (melody models: the melody track)
    assert "melody 2-bar      19" in out
    assert "melody 16-bar      5" in out
    assert "drums 2-bar       19" in out
    assert "trio 16-bar       10" in out


def test_inspect_counts_the_windows_personalize_reads_in_any_metre():
    """A jig (6/8) is not "0 windows": inspect cuts it on its bar lines as personalize does."""
    from midime_widgets.music.converters import MelodyConverter
    from midime_widgets.music.melody import prepare_melody
    from midime_widgets.music.windows import cut_song

    jig = MIDI_DIR / "six_eight.mid"
    summary = inspect_midi(jig)
    line = prepare_melody(load_midi(jig)).sequence
    expected = len(cut_song(MelodyConverter(2), line, grid_from=load_midi(jig)).windows)
    assert summary.windows["melody 2-bar"] == expected > 0


def test_track_table_values():
    summary = inspect_midi(SONG)
    tracks = {t.instrument: t for t in summary.tracks}
    assert set(tracks) == {0, 1, 2, 3}
    assert (tracks[1].program, tracks[1].note_count, tracks[1].max_polyphony) == (33, 100, 1)
    assert tracks[3].is_drum and not tracks[0].is_drum
    assert tracks[2].max_polyphony == 3  # the chord track
    assert summary.melody.instrument == 0


def test_inspect_tempo_and_meter_changes(capsys):
    assert main(["inspect", str(MIDI_DIR / "tempo_timesig_change.mid")]) == 0
    out = capsys.readouterr().out
    assert "120 qpm at 0:00.00, 100 qpm at 0:08.00" in out
    assert "3/4 at 0:12.80" in out


def test_restated_tempos_and_time_signatures_are_listed_once():
    """Files restate their metre at each section; the summary lists only the changes, and of two
    events at one moment the file's later one (as a player reads it)."""
    seq = note_seq.NoteSequence(total_time=20.0)
    seq.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=1.0)
    for time, num in ((0.0, 4), (0.0, 3), (4.0, 3), (8.0, 6), (12.0, 6), (16.0, 3)):
        seq.time_signatures.add(time=time, numerator=num, denominator=4 if num != 6 else 8)
    for time, qpm in ((0.0, 100.0), (4.0, 100.0), (8.0, 90.0)):
        seq.tempos.add(time=time, qpm=qpm)
    summary = inspect_midi(seq)
    assert summary.time_signatures == [(0.0, "3/4"), (8.0, "6/8"), (16.0, "3/4")]
    assert summary.tempos == [(0.0, 100.0), (8.0, 90.0)]


def test_hundreds_of_changes_are_counted_not_listed():
    """A file with a tempo change every tick used to print one line of millions of characters."""
    seq = note_seq.NoteSequence(total_time=20.0)
    seq.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=1.0)
    for k in range(300):
        seq.tempos.add(time=k * 0.05, qpm=100.0 + k % 50)
        seq.time_signatures.add(time=k * 0.05, numerator=2 + k % 2, denominator=4)
    lines = inspect_midi(seq).format().splitlines()
    tempo = next(line for line in lines if line.startswith("Tempo: "))
    metre = next(line for line in lines if line.startswith("Time signature: "))
    assert tempo.count(" qpm at ") == 8 and tempo.endswith(
        ", and 292 more changes (all between 100 and 149 qpm)")
    assert metre.count(" at ") == 8 and metre.endswith(", and 292 more changes")


def test_inspect_drums_only_explains_missing_melody(capsys):
    assert main(["inspect", str(MIDI_DIR / "drums_only.mid")]) == 0
    out = capsys.readouterr().out
    assert "only drums" in out and "drums 2-bar        3" in out


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"), (b"this is not music", "text file"), (b"MThd\x00\x00", "cut off"),
])
def test_bad_file_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    assert main(["inspect", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


def test_missing_file_and_size_limit(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.mid")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["inspect", "--max-bytes", "100", str(SONG)]) == 2
    assert "larger than" in capsys.readouterr().err


def test_console_script_runs_in_a_subprocess():
    result = subprocess.run([sys.executable, "-m", "midime_widgets", "inspect", str(SONG)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Tracks:" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "midime_widgets", "inspect", __file__],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
