"""`midime-widgets personalize`, the README's main job: checks before any work, the output
folder's safety, and a real run on the embedded default model, offline.

Most tests call the command in-process (`cli.main([...])`); subprocesses only where the process
itself is under test: the console script's quietness and TensorFlow-free refusals, and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from midime_widgets.cli import build_parser, main
from midime_widgets.cli.outdir import MANIFEST, OutputError, OutputFolder
from midime_widgets.cli.personalize import resolve_model, track_arg
from midime_widgets.cli.stages import PROFILE_ENV
from midime_widgets.music import load_midi
from midime_widgets.personalize import prepare_song

MIDI = Path(__file__).parent / "fixtures" / "midi"
DRUMS = MIDI / "drums_only.mid"


def personalize(*args) -> int:
    return main(["personalize", *map(str, args)])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    return err


# ---------------------------------------------------------------------------------------------
# Arguments and help
# ---------------------------------------------------------------------------------------------


def _personalize_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["personalize"]


def test_every_option_has_help_and_says_its_default():
    for action in _personalize_parser()._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        assert action.help and len(action.help) > 15, action.option_strings
        takes_value = action.nargs != 0
        if takes_value and "--out" not in action.option_strings:
            assert "default" in action.help, f"{action.option_strings} does not say its default"
    text = " ".join(_personalize_parser().format_help().split())
    assert "until the loss stops improving" in text and "2 bars" in text and "tempo" in text


def test_the_last_line_and_summary_say_what_each_sample_is(tmp_path, capsys):
    """A 3/8 tune and a 6/8 one: samples take the metre most windows have, and say so."""
    import note_seq

    def tune(metre, bars, path):
        seq = note_seq.NoteSequence(ticks_per_quarter=220)
        seq.tempos.add(qpm=100.0)
        seq.time_signatures.add(numerator=metre[0], denominator=metre[1])
        step, bar = 60.0 / 100.0 / 4, metre[0] * 16 // metre[1]
        for k in range(bars * bar // 2):
            seq.notes.add(pitch=60 + (k * 5) % 12, start_time=2 * k * step, end_time=(2 * k + 2) * step,
                          velocity=80)
        note_seq.sequence_proto_to_midi_file(seq, str(path))
        return path

    slide, jig = tune((3, 8), 16, tmp_path / "slide.mid"), tune((6, 8), 5, tmp_path / "jig.mid")
    out = tmp_path / "out"
    assert personalize(slide, jig, "--out", out, "--samples", "2", "--epochs", "3", "--no-wav",
                       "--seed", "1") == 0
    printed = capsys.readouterr()
    last = printed.out.strip().splitlines()[-1]
    assert last.startswith("wrote 2 samples, each 4 bars of 3/8 at ♩ = 100, the trained MidiMe"), last
    note = ("Your music is in 3/8 and 6/8; the samples take the metre and tempo most of its excerpts "
            "have: 3/8 at ♩ = 100. To keep each metre's feel, personalize the files of each metre apart.")
    assert note in printed.err.splitlines()
    # the report keeps what the console said (its text is HTML-escaped inside bokeh's JSON)
    assert "personalize the files of each metre apart." in (out / "report.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["each_sample"] == {"bars": 4, "metre": "3/8", "qpm": 100.0, "steps": 24}


def test_track_is_an_index_or_a_name():
    assert track_arg("2") == 2 and track_arg(" 0 ") == 0
    assert track_arg("Violin I") == "Violin I"
    with pytest.raises(argparse.ArgumentTypeError):
        track_arg("  ")


@pytest.mark.parametrize("args, words", [
    (["--samples", "0"], "--samples"), (["--epochs", "0"], "--epochs"),
    (["--latent", "0"], "--latent"), (["--temperature", "-1"], "--temperature"),
    (["--model", "no-such-model"], "Unknown model"),
])
def test_bad_numbers_and_model_are_one_line_and_write_nothing(tmp_path, capsys, args, words):
    out = tmp_path / "out"
    assert personalize("--example", "--out", out, *args) == 2
    assert words in one_error_line(capsys)
    assert not out.exists() and not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Bad inputs are refused before the model loads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"this is not midi", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_bad_file_is_one_line_naming_it_and_writes_nothing(tmp_path, capsys, content):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    out = tmp_path / "out"
    assert personalize(bad, "--out", out) == 2
    assert "bad.mid" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mid"]


def test_missing_file_and_folder_are_named(tmp_path, capsys):
    assert personalize(tmp_path / "nope.mid", "--out", tmp_path / "o") == 2
    assert "nope.mid: no such file" in one_error_line(capsys)
    assert personalize(tmp_path, "--out", tmp_path / "o") == 2
    assert "folder" in one_error_line(capsys)


def test_drums_only_names_the_file_and_the_model_that_fits(tmp_path, capsys):
    assert personalize(DRUMS, "--out", tmp_path / "o") == 2
    err = one_error_line(capsys)
    assert str(DRUMS) in err and "only drums" in err
    model = err.rsplit("--model ", 1)[1].split()[0]
    choice = resolve_model(model)
    assert choice.kind == "drums"
    song = prepare_song(choice, load_midi(DRUMS), name=DRUMS.name)  # and it does read the file
    assert song.windows
    assert not (tmp_path / "o").exists()


def test_unknown_track_is_refused_before_the_model_loads(tmp_path, capsys):
    assert personalize(MIDI / "song_trio.mid", "--track", "99", "--out", tmp_path / "o") == 2
    assert "song_trio.mid" in one_error_line(capsys)


# ---------------------------------------------------------------------------------------------
# --out is checked before any work
# ---------------------------------------------------------------------------------------------


def test_out_that_is_a_file_or_inside_a_file_is_refused(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for out in (a_file, a_file / "sub"):
        assert personalize("--example", "--out", out) == 2
        assert "is a file" in one_error_line(capsys)
    assert a_file.read_text() == "mine"


def test_out_with_an_overlong_name_is_refused(tmp_path, capsys):
    assert personalize("--example", "--out", tmp_path / ("x" * 300)) == 2
    assert "at most" in one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_unwritable_out_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert personalize("--example", "--out", locked / "o") == 2
        assert "permission" in one_error_line(capsys)
    finally:
        locked.chmod(0o700)


def test_a_folder_with_files_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert personalize("--example", "--out", out) == 2
    assert "--overwrite" in one_error_line(capsys)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def _previous_run(out: Path, names: dict[str, bytes]) -> None:
    """A folder as an earlier run leaves it: its files plus the manifest."""
    staging = out.parent / "staging"
    staging.mkdir()
    for rel, data in names.items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(data)
    OutputFolder(out).commit(staging)


def test_overwrite_refuses_a_file_it_did_not_write_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    _previous_run(out, {"sample_01.mid": b"old"})
    (out / "report.html").write_text("the user's own report")
    assert personalize("--example", "--out", out, "--overwrite") == 2
    assert "report.html was not written by midime-widgets" in one_error_line(capsys)
    (out / "report.html").unlink()
    (out / "sample_01.mid").write_bytes(b"edited by the user")  # changed since: not ours any more
    assert personalize("--example", "--out", out, "--overwrite") == 2
    assert "sample_01.mid" in one_error_line(capsys)


def test_commit_replaces_only_its_own_files_and_removes_its_stale_ones(tmp_path):
    out = tmp_path / "out"
    _previous_run(out, {f"sample_0{i}.mid": b"old" for i in range(1, 5)} | {"midime/w.npz": b"w"})
    assert json.loads((out / MANIFEST).read_text())["files"].keys() >= {"sample_04.mid", "midime/w.npz"}
    (out / "notes.txt").write_text("mine")
    (out / "midime" / "extra.txt").write_text("mine too")
    with pytest.raises(OutputError, match="extra.txt was not written"):  # inside a folder it writes
        OutputFolder(out, overwrite=True).check(["midime"])
    (out / "midime" / "extra.txt").unlink()
    folder = OutputFolder(out, overwrite=True)
    folder.check(["sample_01.mid", "sample_02.mid", "midime"])
    staging = folder.staging()
    (staging / "sample_01.mid").write_bytes(b"new")
    (staging / "sample_02.mid").write_bytes(b"new")
    written = folder.commit(staging)
    assert written == ["sample_01.mid", "sample_02.mid"]
    assert folder.removed == ["midime/w.npz", "sample_03.mid", "sample_04.mid"]  # told to the user
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert names == [MANIFEST, "notes.txt", "sample_01.mid", "sample_02.mid"]
    assert (out / "sample_01.mid").read_bytes() == b"new" and not staging.exists()
    assert set(json.loads((out / MANIFEST).read_text())["files"]) == {"sample_01.mid", "sample_02.mid"}


def test_overwrite_never_deletes_through_a_symlinked_folder(tmp_path):
    """The earlier run's midime/ replaced by a link to a folder elsewhere: refused before any
    file is removed, and nothing behind the link is touched."""
    out = tmp_path / "out"
    _previous_run(out, {"sample_01.mid": b"old", "midime/w.npz": b"w"})
    elsewhere = tmp_path / "elsewhere"
    (out / "midime").rename(elsewhere)
    (out / "midime").symlink_to(elsewhere, target_is_directory=True)
    folder = OutputFolder(out, overwrite=True)
    with pytest.raises(OutputError, match="was not written by"):
        folder.check(["sample_01.mid", "midime"])
    staging = folder.staging()
    (staging / "midime").mkdir()
    (staging / "midime" / "w.npz").write_bytes(b"new")
    with pytest.raises(OutputError):
        folder.commit(staging)
    assert (elsewhere / "w.npz").read_bytes() == b"w" and (out / "sample_01.mid").read_bytes() == b"old"


def test_commit_refuses_a_foreign_file_that_appeared_during_the_run(tmp_path):
    out = tmp_path / "out"
    _previous_run(out, {"a.mid": b"old"})
    folder = OutputFolder(out, overwrite=True)
    folder.check(["a.mid", "b.mid"])
    staging = folder.staging()
    (staging / "b.mid").write_bytes(b"new")
    (out / "b.mid").write_bytes(b"someone else's")
    with pytest.raises(OutputError, match="b.mid was not written"):
        folder.commit(staging)
    assert (out / "b.mid").read_bytes() == b"someone else's" and (out / "a.mid").read_bytes() == b"old"


# ---------------------------------------------------------------------------------------------
# A real run (in-process)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


@pytest.fixture
def default_model_once(monkeypatch):
    """Both runs of a test share one loaded default model (the CLI loads it once per process)."""
    from midime_widgets.cli import personalize as command

    loaded = {}

    def load(choice):
        if choice.spec not in loaded:
            loaded[choice.spec] = real(choice)
        return loaded[choice.spec]

    real = command.load_model
    monkeypatch.setattr(command, "load_model", load)
    return loaded


def test_example_run_writes_a_complete_set_skipping_a_refused_file(tmp_path, capsys, umask_027,
                                                                    default_model_once, monkeypatch):
    out = tmp_path / "results" / "out"
    monkeypatch.setenv(PROFILE_ENV, "1")  # … and says where its time went
    monkeypatch.setenv("MIDIME_WIDGETS_CACHE", str(tmp_path / "empty-cache"))  # nothing downloaded
    assert personalize(DRUMS, "--example", "--out", out, "--epochs", "3", "--samples", "3",
                       "--seed", "1") == 0
    monkeypatch.delenv(PROFILE_ENV)
    err = capsys.readouterr().err
    stages = {tuple(line.split(None, 5)[4:]) for line in err.splitlines() if line.startswith("profile: ")}
    assert {("MainThread", "train MidiMe"), ("prior", "MusicVAE prior samples"),
            ("MainThread", "write report")} <= stages
    skipped = [line for line in err.splitlines() if line.startswith("skipping")]
    assert len(skipped) == 1 and "drums_only.mid" in skipped[0] and "--model" in skipped[0]
    assert "(the model is downloaded once, so this needs the internet)" in skipped[0]
    assert "training MidiMe" in err and "Traceback" not in err
    # not a terminal: whole progress lines (the first and the last at least), no bar redrawn in place
    assert "\r" not in err and sum(line.startswith("training MidiMe: step ") for line in err.splitlines()) >= 2
    assert "training MidiMe: step 1 of at most 3, error " in err
    mids = sorted(p.name for p in out.glob("sample_*.mid"))
    assert mids == ["sample_01.mid", "sample_02.mid", "sample_03.mid"]
    assert all(load_midi(out / m).notes for m in mids)
    assert (out / "sample_01.wav").read_bytes()[:4] == b"RIFF"
    report = (out / "report.html").read_text()
    assert "cdn.bokeh.org" not in report and report.count("data:audio/wav;base64,") == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["novelty"]["samples"] == 3
    steps = summary["training"]["steps"]
    assert steps >= 3 and f"MidiMe trained {steps} training steps (3 passes over your excerpts) in " in report
    (entry,) = summary["inputs"]  # drums_only.mid was skipped
    assert {k: entry[k] for k in ("name", "example", "melody_track")} == {
        "name": "folk_band.mid", "example": "folk_band", "melody_track": {"number": 0, "name": "Melody"}}
    assert entry["excerpts"] > 5 and isinstance(entry["notes"], list)
    assert f"folk_band.mid: {entry['excerpts']} excerpts; the melody is track #0 " in report
    assert summary["samples"][0] == {"midi": "sample_01.mid", "wav": "sample_01.wav"}
    assert all((out / s["midi"]).is_file() for s in summary["samples"])
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert set(manifest) == {p.relative_to(out).as_posix() for p in out.rglob("*")
                             if p.is_file() and p.name != MANIFEST}
    assert any(rel.startswith("midime/") for rel in manifest)
    # permissions from the umask (027), not private temp-folder modes
    for item in [out, out.parent, *out.rglob("*")]:
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o750 if item.is_dir() else 0o640), (item, oct(mode))
    assert [p.name for p in out.parent.iterdir()] == ["out"]  # no staging folder left

    # a second run replaces its own files, removes its stale samples, keeps the user's
    (out / "my notes.txt").write_text("keep")
    capsys.readouterr()
    assert personalize(MIDI / "mono_melody.mid", "--out", out, "--overwrite", "--epochs", "2",
                       "--samples", "2", "--no-wav", "--seed", "2", "--quiet") == 0
    assert capsys.readouterr().err == ""  # --quiet: not even the files it removed
    assert sorted(p.name for p in out.glob("sample_*")) == ["sample_01.mid", "sample_02.mid"]
    assert (out / "my notes.txt").read_text() == "keep"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"][0]["path"] == os.path.relpath(MIDI / "mono_melody.mid", out)


# ---------------------------------------------------------------------------------------------
# The process: console script, quietness, Ctrl-C (subprocesses)
# ---------------------------------------------------------------------------------------------


def _stream(pipe) -> list[bytes]:
    """Collect a pipe's bytes as they arrive (progress lines end in \r, not \n)."""
    chunks: list[bytes] = []

    def pump():
        for chunk in iter(lambda: os.read(pipe.fileno(), 4096), b""):
            chunks.append(chunk)

    threading.Thread(target=pump, daemon=True).start()
    return chunks


def test_console_refuses_drums_only_without_loading_tensorflow(tmp_path):
    code = ("import sys; from midime_widgets.cli import console; rc = console(); "
            "print(*(m in sys.modules for m in ('tensorflow', 'midime_widgets.models.core', 'bokeh'))); "
            "sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, "personalize", str(DRUMS), "--out",
                             str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout.split() == ["False", "False", "False"], "TensorFlow (or bokeh) loaded before the check"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "drums_only.mid" in lines[0] and "--model " in lines[0], result.stderr


def test_note_seq_notebook_helpers_load_when_used():
    code = ("import sys; from midime_widgets.cli import defer_note_seq_notebook_helpers as defer; defer(); "
            "import note_seq; deferred = 'bokeh' not in sys.modules; "
            "import note_seq.notebook_utils as nu; nu.pd; "  # any attribute: the real module loads
            "print(deferred, 'bokeh' in sys.modules, note_seq.plot_sequence.__module__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "True", "note_seq.notebook_utils"], result.stderr[-2000:]


def test_ctrl_c_exits_130_with_one_line_and_leaves_nothing_and_stderr_is_quiet(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "midime_widgets", "personalize", "--example",
                             "--out", str(out), "--epochs", "100000", "--no-wav"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = _stream(proc.stderr)
    deadline = time.monotonic() + 300
    while b"training MidiMe" not in b"".join(err):
        assert proc.poll() is None, b"".join(err).decode()
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    proc.wait(timeout=60)
    print(f"Ctrl-C to exit: {time.monotonic() - sent:.2f} s")
    time.sleep(0.2)  # let the reader take the last bytes
    text = b"".join(err).decode()
    assert proc.returncode == 130, text[-2000:]
    assert text.splitlines()[-1] == "interrupted: nothing was written" and "Traceback" not in text
    ours = ("model: ", "example folk_band: ", "  note: ", "training MidiMe", "MidiMe: ", "interrupted")
    foreign = [line for line in text.replace("\r", "\n").splitlines() if line and not line.startswith(ours)]
    assert not foreign, f"TensorFlow or other log lines on stderr: {foreign}"
    assert list(tmp_path.iterdir()) == [], "the staging folder or --out was left behind"


def test_commit_into_an_existing_empty_folder_keeps_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    out.chmod(0o700)
    folder = OutputFolder(out)
    folder.check(["a.mid"])
    staging = folder.staging()
    (staging / "a.mid").write_bytes(b"new")
    assert folder.commit(staging) == ["a.mid"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700 and (out / "a.mid").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_with_damaged_settings_is_personalized_and_its_note_kept(tmp_path, capsys,
                                                                      default_model_once):
    """A tune whose tempo is 16.7 s a beat (the slowest MIDI can write, 3.6 beats a minute) and
    which holds a key signature of 128 flats: the bad setting is left out with a note on the
    console and in summary.json, and the samples, at the tune's own tempo, are written (they
    used to fail at the very end, after training)."""
    import midi_watch

    body = (midi_watch.tempo_event(0xFFFFFF) + b"\x00\xff\x59\x02\x80\x00"
            + midi_watch.melody_events(64))
    song = tmp_path / "slow_tune.mid"
    song.write_bytes(midi_watch.smf(midi_watch.track(body), fmt=0))
    out = tmp_path / "out"
    assert personalize(song, "--out", out, "--epochs", "2", "--samples", "2", "--seed", "1") == 0
    printed = capsys.readouterr()
    note = ("'slow_tune.mid' holds a setting that we left out because it is damaged or "
            "oversized: a damaged key signature. Its notes are read as written.")
    assert f"  note: {note}" in printed.err
    (entry,) = json.loads((out / "summary.json").read_text())["inputs"]
    assert entry["notes"][0] == note
    sample = load_midi(out / "sample_01.mid")
    assert sample.notes and sample.tempos[0].qpm == pytest.approx(60e6 / 0xFFFFFF, rel=1e-3)


def test_a_dangling_link_as_out_is_refused_before_any_work(tmp_path, capsys):
    """It used to fail with a traceback after all the training, when the results moved in."""
    link = tmp_path / "results"
    link.symlink_to(tmp_path / "nowhere")
    assert personalize("--example", "--out", link) == 2
    assert "is a link to" in one_error_line(capsys) and not (tmp_path / "nowhere").exists()


def test_staging_is_on_the_file_system_of_out(tmp_path):
    """An existing --out may be a mount point (a USB stick): the results are staged inside it,
    so that moving them in is a rename on one file system, never a copy across two (which
    failed after the training); a new --out is staged beside it, in the folder it is created in."""
    existing = tmp_path / "stick"
    existing.mkdir()
    staging = OutputFolder(existing).staging()
    assert staging.parent == existing and staging.name.startswith(".midime-")
    (staging / "sample_01.mid").write_bytes(b"MThd")
    assert OutputFolder(existing).commit(staging) == ["sample_01.mid"]
    assert sorted(p.name for p in existing.iterdir()) == [MANIFEST, "sample_01.mid"]
    new = tmp_path / "new" / "out"
    assert OutputFolder(new).staging().parent == new.parent


def test_the_files_of_one_run_share_one_window_budget(monkeypatch):
    """Checked before TensorFlow loads, each file is cut within the windows the files before it
    leave free, so memory stays bounded however many files are given."""
    from midime_widgets import examples
    from midime_widgets.cli.personalize import DEFAULT_MODEL, check_inputs
    from midime_widgets.music import windows

    choice = resolve_model(DEFAULT_MODEL)
    tune = examples.path("folk_reel")
    alone = check_inputs([(tune, "a", None)], choice, track=None, say=print)[0].song
    per_window = choice.config.max_seq_len * choice.converter.output_depth * 4
    budget = len(alone.windows) + 3
    monkeypatch.setattr(windows, "WINDOW_BYTES", budget * per_window)
    said = []
    first, second = check_inputs([(tune, "a", None), (tune, "b", None)], choice, track=None,
                                 say=lambda text, always=False: said.append(text))
    assert len(first.song.windows) == len(alone.windows)
    assert 0 < len(second.song.windows) <= 3
    assert any("beside your other music" in note for note in second.song.warnings)
    monkeypatch.setattr(windows, "WINDOW_BYTES", len(alone.windows) * per_window)
    said.clear()
    accepted = check_inputs([(tune, "a", None), (tune, "b", None)], choice, track=None,
                            say=lambda text, always=False: said.append(text))
    assert len(accepted) == 1 and len(said) == 1
    assert said[0].startswith("skipping b: Your other files already give the most excerpts")
    assert "--model" not in said[0]  # the file is fine: no other model is suggested


def test_an_existing_out_needs_no_permission_beside_it(tmp_path, monkeypatch):
    """A USB stick mounted in a folder the user may not write (/media/USER): its results are
    staged inside --out, so only --out itself must be writable."""
    from midime_widgets.cli import outdir

    stick = tmp_path / "media" / "stick"
    stick.mkdir(parents=True)
    real_access = os.access
    monkeypatch.setattr(outdir.os, "access",
                        lambda path, mode: Path(path) != stick.parent and real_access(path, mode))
    OutputFolder(stick).check()  # no OutputError
    with pytest.raises(OutputError, match="Cannot create the output folder"):
        OutputFolder(stick.parent / "new").check()  # a new folder still needs its parent
