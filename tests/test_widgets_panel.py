"""MidiMePanel without a browser: front-end messages in, traits and messages out.

Uses a linear stand-in for MusicVAE (tests/widgets_fakes.py) and the real MidiMe with small
layers, so uploads, training, stopping and errors run through the real threading code and the
real ``Personalizer``.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile

import note_seq
import numpy as np
import pytest
from widgets_fakes import FakeMusicVAE, customs, record, state_updates

from midime_widgets.errors import MidiError, TrainingError
from midime_widgets.music import load_midi, to_midi_bytes
from midime_widgets.widgets import MidiMePanel
from midime_widgets.widgets.examples import example_bytes

SMALL = {"encoder_layers": (32,), "decoder_layers": (32,), "seed": 0}
TRIO = "folk_band"  # bundled multi-track song: melody, bass, chords, drums


def make_panel(**kwargs):
    vae = kwargs.pop("vae", None) or FakeMusicVAE(z_size=16)
    kwargs.setdefault("warm_up", False)  # tests count decoder calls
    panel = MidiMePanel(vae, midime_options=SMALL, seed=0, n_vae_sliders=8, initial_samples=2,
                        min_interval=0.05, **kwargs)
    sent = record(panel)
    return panel, sent


def msg(panel, content, buffers=()):
    """Deliver a custom message as the browser would (and wait for a background upload)."""
    panel._handle_custom_msg(content, list(buffers))
    assert panel.wait_loading(60)


def browser_sets(panel, **state):
    """A trait change coming from the browser (slider moved)."""
    panel.set_state(state)


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def trained():
    """A panel with the trio example loaded and MidiMe trained (shared by read-only tests)."""
    panel, sent = make_panel()
    msg(panel, {"type": "example", "name": TRIO})
    panel.train(epochs=30, wait=True)
    assert panel.training["state"] == "done", panel.error
    return panel, sent


# ---- model and input ------------------------------------------------------------------------


def test_header_and_examples():
    panel, _ = make_panel()
    info = panel.model_info
    assert info["name"] == "fake-cat-mel_2bar_small" and info["kind"] == "melody"
    assert info["bars"] == 2
    assert info["z_size"] == 16 and info["device"]
    assert panel.examples[0]['name'] == TRIO and panel.examples[0]['description']
    assert panel.training["state"] == "idle"


def test_upload_message_with_buffers_loads_and_picks_the_melody():
    panel, sent = make_panel()
    data = example_bytes(TRIO)
    msg(panel, {"type": "upload", "names": ["song.mid"]}, [memoryview(data)])
    assert panel.error == ""
    (f,) = panel.files
    assert f["name"] == "song.mid" and f["instrument"] == 0
    assert "Melody" in f["reason"] and len(f["candidates"]) == 3
    assert panel.n_windows == f["n_windows"] == len(panel.input_windows) > 5
    roll = panel.input_roll
    assert roll["n"] == len(load_midi(data).notes)
    dims = {t["name"]: t["dim"] for t in roll["tracks"]}
    assert dims == {"Melody": False, "Bass": True, "Chords": True, "Drums": True}  # melody stands out
    assert panel.vae_roll["n"] > 0 and panel.vae_window == 0


def test_bad_bytes_set_the_error_and_the_panel_keeps_working():
    panel, _ = make_panel()
    msg(panel, {"type": "upload", "names": ["junk.mid"]}, [b"this is not a MIDI file at all"])
    assert panel.error.startswith("junk.mid:")
    assert panel.files == [] and panel.n_windows == 0
    msg(panel, {"type": "example", "name": TRIO})
    assert panel.error == "" and panel.n_windows > 0


def test_mixed_upload_keeps_the_good_file_and_names_the_bad_one():
    panel, _ = make_panel()
    good = example_bytes("folk_reel")
    msg(panel, {"type": "upload", "names": ["good.mid", "bad.mid"]}, [good, b"MThd\x00"])
    assert [f["name"] for f in panel.files] == ["good.mid"]
    assert "bad.mid" in panel.error and "good.mid" not in panel.error


def test_upload_over_the_size_limit_is_refused_before_parsing():
    panel, _ = make_panel()
    import os

    os.environ["MIDIME_MAX_MIDI_BYTES"] = "100"
    try:
        msg(panel, {"type": "upload", "names": ["big.mid"]}, [example_bytes(TRIO)])
    finally:
        del os.environ["MIDIME_MAX_MIDI_BYTES"]
    assert "limit" in panel.error and panel.files == []


def test_the_size_limit_is_said_in_the_units_it_is_set_in(monkeypatch):
    from midime_widgets.widgets.inputs import check_size

    monkeypatch.delenv("MIDIME_MAX_MIDI_BYTES", raising=False)
    message = check_size("big.mid", int(22.5 * 1024 * 1024))
    assert message == ("big.mid is 22.5 MB, larger than the 20 MB limit for a MIDI file, so it was "
                       "not loaded.")
    assert check_size("small.mid", 20 * 1024 * 1024) is None


def test_drums_only_file_gets_a_musician_readable_error():
    panel, _ = make_panel()
    seq = note_seq.NoteSequence()
    for i in range(16):
        seq.notes.add(pitch=36, velocity=100, start_time=i * 0.5, end_time=i * 0.5 + 0.1,
                      is_drum=True, instrument=9)
    seq.total_time = 8
    msg(panel, {"type": "upload", "names": ["beat.mid"]}, [to_midi_bytes(seq)])
    assert "drum" in panel.error.lower() and panel.files == []


def test_choosing_another_melody_track():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    before = panel.input_codes
    msg(panel, {"type": "choose_melody", "file": 0, "instrument": 1})
    f = panel.files[0]
    assert f["instrument"] == 1 and "chosen" in f["reason"]
    assert {t["instrument"]: t["dim"] for t in panel.input_roll["tracks"]}[1] is False
    assert not np.array_equal(before, panel.input_codes)  # the bass line is encoded now
    codes = panel.input_codes
    msg(panel, {"type": "choose_melody", "file": 0, "instrument": 7})
    assert "7" in panel.error and "Error" not in panel.error
    assert panel.files[0]["instrument"] == 1 and np.array_equal(codes, panel.input_codes)


def test_python_api_load_raises_for_bad_input(tmp_path):
    panel, _ = make_panel()
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"")
    with pytest.raises(MidiError):
        panel.load(bad)
    good = tmp_path / "good.mid"
    good.write_bytes(example_bytes(TRIO))
    panel.load(good, bad)
    assert panel.files[0]["name"] == "good.mid" and "bad.mid" in panel.error


# ---- the music: files accumulate, each can be removed, a failure changes nothing --------------


def test_files_accumulate_and_each_can_be_removed():
    panel, _ = make_panel()
    msg(panel, {"type": "example", "name": TRIO})
    msg(panel, {"type": "upload", "names": ["reel.mid"]}, [example_bytes("folk_reel")])
    assert [f["name"] for f in panel.files] == ["folk_band.mid", "reel.mid"]
    assert panel.n_windows == sum(f["n_windows"] for f in panel.files) == len(panel.pipeline.windows)
    assert panel.selected_file == 1 and panel.input_roll["label"] == "reel.mid"
    msg(panel, {"type": "remove_file", "file": 0})
    assert [f["name"] for f in panel.files] == ["reel.mid"] and panel.error == ""
    assert [s.name for s in panel.pipeline.songs] == ["reel.mid"]
    msg(panel, {"type": "remove_file", "file": 5})
    assert panel.error == "There is no song number 5: one song is loaded (number 0)."
    msg(panel, {"type": "remove_file", "file": 0})
    assert panel.files == [] and panel.n_windows == 0 and panel.input_roll["n"] == 0


def test_a_refused_upload_keeps_the_previous_music_in_the_panel_and_the_kernel():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    files, codes = panel.files, panel.input_codes
    msg(panel, {"type": "upload", "names": ["junk.mid"]}, [b"not a MIDI file"])
    assert panel.error.startswith("junk.mid")
    assert panel.files == files and [s.name for s in panel.pipeline.songs] == ["folk_band.mid"]
    assert np.array_equal(panel.input_codes, codes)
    msg(panel, {"type": "choose_melody", "file": 0, "instrument": 1})  # the panel still works
    assert panel.error == "" and panel.files[0]["instrument"] == 1


def test_an_upload_runs_in_a_thread_and_the_kernel_stays_free():
    panel, _ = make_panel()
    gate = threading.Event()
    real_add = panel.pipeline.add_midi

    def slow_add(*args, **kwargs):
        gate.wait(10)
        return real_add(*args, **kwargs)

    panel.pipeline.add_midi = slow_add
    panel._handle_custom_msg({"type": "upload", "names": ["song.mid"]}, [example_bytes(TRIO)])
    assert panel.loading == "Loading song.mid…" and panel.files == []  # returned at once
    msg_before = panel.error
    panel._handle_custom_msg({"type": "vae_sample"}, [])  # other actions are served meanwhile
    assert panel.vae_roll["n"] >= 0 and msg_before == ""
    gate.set()
    assert panel.wait_loading(30)
    assert panel.loading == "" and [f["name"] for f in panel.files] == ["song.mid"]


def test_a_panel_over_an_existing_personalizer_shows_its_songs():
    from midime_widgets.personalize import Personalizer

    vae = FakeMusicVAE(z_size=16)
    pipeline = Personalizer(vae, seed=0)
    pipeline.add_midi(example_bytes(TRIO), name="song.mid")
    panel = MidiMePanel(pipeline, warm_up=False)
    assert panel.pipeline is pipeline and [f["name"] for f in panel.files] == ["song.mid"]
    assert panel.n_windows == len(pipeline.windows) and panel.vae_roll["n"] > 0


def test_the_real_model_and_the_stand_in_fulfil_the_model_contract():
    from midime_widgets.models.musicvae import MusicVAE
    from midime_widgets.widgets.model import MusicModel, require_model

    for vae in (FakeMusicVAE(z_size=16), MusicVAE.from_config("cat-mel_2bar_small", seed=0)):
        assert isinstance(vae, MusicModel) and require_model(vae) is vae


def test_training_that_converged_says_so():
    from midime_widgets.models.midime import FitHistory
    from midime_widgets.widgets.panel import _training_summary

    # The panel shows FitHistory's own sentence: how long it trained and why it stopped.
    history = FitHistory(None, max_steps=1000, seconds=2.04, steps=300,
                         stop_reason=FitHistory.CONVERGED, loss_change=0.004)
    assert _training_summary(history, None).startswith("Finished: it had learned what it could")
    assert "300 training steps" in _training_summary(history, None)
    history.finish(FitHistory.STOPPED)
    assert _training_summary(history, None).startswith("Stopped by you after 300 training steps")
    assert _training_summary(history, "Stopped: a newer panel was created") == (
        "Stopped: a newer panel was created; the weights so far are kept.")


def test_unknown_keyword_arguments_are_refused_by_name():
    from midime_widgets.widgets import PianoRoll

    with pytest.raises(TypeError, match="hight"):
        PianoRoll(hight=100)
    with pytest.raises(TypeError, match="n_vae_slider"):
        MidiMePanel(FakeMusicVAE(z_size=16), n_vae_slider=8, warm_up=False)
    with pytest.raises(TypeError, match="MusicVAE"):
        MidiMePanel(object(), warm_up=False)


# ---- MusicVAE latent ------------------------------------------------------------------------


def test_latent_features_are_the_ones_that_vary_most_in_the_music():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    codes = panel.input_codes
    expected = np.argsort(-codes.var(axis=0), kind="stable")[:8]
    assert panel.vae_dims == expected.tolist()
    stats = panel.vae_stats
    assert stats["ranking"].startswith("highest variance")
    np.testing.assert_allclose(stats["mean"], codes[:, expected].mean(axis=0), atol=1e-3)
    np.testing.assert_allclose(panel.vae_values, codes[0, expected], atol=1e-3)


def test_vae_slider_from_the_browser_redecodes_once():
    panel, sent = make_panel()
    panel.load_example(TRIO)
    calls, before = panel.vae.decode_calls, panel.vae_roll
    sent.clear()
    browser_sets(panel, vae_values=[2.5] * 8)
    assert panel.vae.decode_calls == calls + 1
    assert panel.vae_roll["data"] != before["data"]
    assert panel.vae_label.startswith("your point")
    updates = state_updates(sent)
    assert len(updates) == 1, "the redraw is batched into one message"
    assert {"vae_roll", "vae_label"} <= set(updates[0]) and "vae_values" not in updates[0]


def test_prior_sample_with_temperature_decodes_exactly_once():
    panel, _ = make_panel()
    calls = panel.vae.decode_calls
    msg(panel, {"type": "vae_sample"})
    assert panel.vae.decode_calls == calls + 1  # setting the sliders does not decode again
    assert panel.vae_label == f"random music from the MusicVAE (temperature {panel.temperature:g})"
    assert len(panel.vae_values) == 8 and panel.vae_window == -1
    msg(panel, {"type": "vae_window", "index": 0})
    assert "Load a MIDI file first" in panel.error


def test_sliders_after_a_prior_sample_keep_its_temperature_and_seed():
    panel, _ = make_panel()
    sample = panel.sample_prior(temperature=0.8)
    values = list(panel.vae_values)
    browser_sets(panel, vae_values=[v + 1.0 for v in values])
    assert panel.vae_label == "your point (temperature 0.8)"
    edited = panel._current_vae_seq
    browser_sets(panel, vae_values=values)  # back where the sample was: the same music again
    assert panel._current_vae_seq == sample != edited


class GatedMusicVAE(FakeMusicVAE):
    """The stand-in whose decoder, in the warm-up thread only, waits until the test opens a gate."""

    def __init__(self, **kwargs):
        super().__init__(z_size=16, **kwargs)
        self.warming = threading.Event()  # the warm-up is inside its first decode
        self.gate = threading.Event()

    def decode_to_tensors(self, z, length=None, temperature=0.5, seed=None):
        if threading.current_thread().name == "midime-warmup":
            self.warming.set()
            assert self.gate.wait(60)
        return super().decode_to_tensors(z, length, temperature, seed)


def test_warm_up_builds_every_program_the_controls_use_in_the_background():
    vae = GatedMusicVAE()
    panel, _ = make_panel(vae=vae, warm_up=True)  # returns while the warm-up is held at the gate
    assert vae.warming.wait(60) and panel._warm.running
    vae.gate.set()
    assert panel.wait_warm_up(120)
    assert panel._warm.done == ["MidiMe training", "decoder at temperature 0.5", "encoder, a few windows",
                                "encoder, many windows", "decoder at temperature 0"]
    assert vae.decode_calls == 2  # sampled and greedy: separate programs in a real MusicVAE
    from midime_widgets.models.midime import _shared_functions

    functions = _shared_functions(panel.pipeline.midime_config)
    assert {"run", "probe", "copy", "encode", "decode"} <= functions._traced
    panel.load_example(TRIO)  # another batch size than the warm-up's: no new trace
    panel.train(epochs=2, wait=True)
    counts = functions.tracing_counts()
    assert counts["run"] == counts["encode"] == counts["decode"] == 1


def test_a_real_musicvae_warm_up_first_builds_the_decoders_stand_in():
    """Adding music decodes at once: the stand-in a decode runs while its XLA program compiles
    is the first thing built (a fraction of a second), before the MidiMe's training."""
    from midime_widgets.models.midime import MidiMeConfig
    from midime_widgets.models.musicvae import MusicVAE
    from midime_widgets.widgets.warmup import warm_up_steps

    vae = MusicVAE.default()
    steps = warm_up_steps(vae, MidiMeConfig.personal(vae.config.z_size), 0.5)
    assert [name for name, _ in steps[:2]] == ["decoder stand-in at temperature 0.5", "MidiMe training"]
    steps[0][1]()
    built = [dict(opts) for kind, _, opts in vae.core._concrete_fns if kind == "decode"]
    assert built == [{"length": vae.config.max_seq_len, "greedy": False, "with_logits": False, "jit": False}]


def test_the_controls_work_while_the_warm_up_runs():
    """The warm-up holds none of the panel's locks: actions go on while it is busy."""
    vae = GatedMusicVAE()
    panel, _ = make_panel(vae=vae, warm_up=True)
    try:
        assert vae.warming.wait(60)
        msg(panel, {"type": "example", "name": TRIO})
        assert panel.n_windows > 0 and panel.error == ""
        before = panel.vae_roll
        browser_sets(panel, vae_values=[1.5] * 8)
        assert panel.vae_roll != before
        assert panel._warm.running and panel._warm.done == ["MidiMe training"]
    finally:
        vae.gate.set()
        panel.close()


def test_close_stops_the_warm_up():
    vae = GatedMusicVAE()
    panel, _ = make_panel(vae=vae, warm_up=True)
    assert vae.warming.wait(60)
    panel.close()
    vae.gate.set()  # the step under way finishes; no later step starts
    assert panel.wait_warm_up(60)
    assert panel._warm.done == ["MidiMe training", "decoder at temperature 0.5"]
    assert vae.decode_calls == 1


# ---- training -------------------------------------------------------------------------------


def test_train_without_input_is_a_clear_error():
    panel, _ = make_panel()
    msg(panel, {"type": "train"})
    assert "Add some music first" in panel.error
    assert panel.training["state"] == "idle"


def test_training_streams_losses_and_fills_the_personalized_space(trained):
    panel, sent = trained
    loss = [(c, b) for c, b in customs(sent) if c["type"] == "loss"]
    rows = np.concatenate([np.frombuffer(bytes(b[0]), "<f4").reshape(-1, 4) for _, b in loss])
    assert rows[:, 0].tolist() == list(range(1, 31))
    assert loss[0][0]["reset"] is True
    assert panel.training["epoch"] == 30 and panel.training["message"].startswith("Trained the 30 epochs asked for")
    assert panel.midime is not None and panel.midime.config.latent_size == 4
    assert panel.midime_values == [0.0] * 4
    assert panel.midime_roll["label"] == panel.midime_label == "the centre of your space"
    assert len(panel.samples) == 2 and [g["id"] for g in panel.gallery] == [1, 2]
    m = panel.latent_map
    assert len(m["inputs"]) == panel.n_windows and len(m["samples"]) == 2
    assert m["current"] is not None and m["axes"] == ["PC 1", "PC 2"]


def test_train_returns_at_once_and_stop_keeps_the_weights():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    started = time.perf_counter()
    panel.train(epochs=1_000_000)
    assert time.perf_counter() - started < 1.0, "the main thread must stay free"
    assert panel.training["state"] == "running"
    wait_for(lambda: panel.training["epoch"] > 0)
    msg(panel, {"type": "train"})
    assert "already training" in panel.error
    msg(panel, {"type": "stop"})
    assert panel.wait_training(30)
    status = panel.training
    assert status["state"] == "stopped" and 0 < status["epoch"] < 1_000_000
    assert "so far is kept" in status["message"]
    assert panel.midime is not None and panel.midime.epochs_trained == status["epoch"]
    assert len(panel.samples) == 2 and panel.midime_current
    assert panel.error == ""  # "already training" is no longer true, so it is gone


def test_slider_events_are_served_while_training():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    panel.train(epochs=1_000_000)
    wait_for(lambda: panel.training["epoch"] > 0)
    calls = panel.vae.decode_calls
    rng = np.random.default_rng(0)
    for _ in range(20):
        browser_sets(panel, vae_values=rng.uniform(-2, 2, 8).round(2).tolist())
    msg(panel, {"type": "vae_sample"})
    assert panel.vae.decode_calls == calls + 21
    assert panel.error == "" and panel.is_training
    epoch_mid = panel.training["epoch"]
    wait_for(lambda: panel.training["epoch"] > epoch_mid)  # still making progress
    panel.stop_training()
    assert panel.wait_training(30) and panel.training["state"] == "stopped"


def test_an_error_in_training_is_shown_and_the_panel_recovers(monkeypatch):
    panel, _ = make_panel()
    panel.load_example(TRIO)
    real = panel.pipeline.new_midime

    class Diverging:
        config = None
        trained = False

        def fit(self, *args, **kwargs):
            raise TrainingError("MidiMe training diverged in epoch 3 (the loss became NaN)")

        def stop(self):
            pass

    monkeypatch.setattr(panel.pipeline, "new_midime", lambda *a: Diverging())
    panel.train(epochs=10, wait=True)
    assert panel.training["state"] == "error"
    assert "diverged in epoch 3" in panel.training["message"]
    assert panel.error.startswith("Training failed: MidiMe training diverged")
    assert panel.midime is None and not panel.has_midime  # nothing half-made is shown
    monkeypatch.setattr(panel.pipeline, "new_midime", real)
    panel.train(epochs=5, wait=True)
    assert panel.training["state"] == "done" and panel.midime is not None


def test_training_in_the_calling_thread_for_colab():
    panel, sent = make_panel(train_in_thread=False)
    panel.load_example(TRIO)
    panel.train(epochs=12)  # returns when done: no other thread was used
    assert panel._train_thread is None and panel.training["state"] == "done"
    assert sum(c["n"] for c, _ in customs(sent) if c["type"] == "loss") == 12


def test_colab_is_detected(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    panel, _ = make_panel()
    assert panel.train_in_thread is False
    assert make_panel(train_in_thread=True)[0].train_in_thread is True


def test_bad_training_settings_are_refused():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    browser_sets(panel, latent_size=0)
    msg(panel, {"type": "train"})
    assert "latent size" in panel.error and not panel.is_training
    with pytest.raises(TrainingError, match="epochs"):
        panel.train(epochs=0, latent_size=4)


def test_late_view_gets_the_loss_history(trained):
    panel, sent = trained
    sent.clear()
    msg(panel, {"type": "ready"})
    (content, buffers), = customs(sent)
    assert content["reset"] is True and content["n"] == 30
    assert len(bytes(buffers[0])) == 30 * 16


# ---- personalized space ---------------------------------------------------------------------


def test_midime_slider_decodes_live_and_moves_the_map_point(trained):
    panel, sent = trained
    before, point = panel.midime_roll, panel.latent_map["current"]
    sent.clear()
    browser_sets(panel, midime_values=[1.5, -1.5, 1.0, 0.5])
    assert panel.midime_roll["data"] != before["data"]
    assert panel.latent_map["current"] != point and panel.midime_label == "your point"
    assert len(state_updates(sent)) == 1


def test_new_sample_goes_to_the_gallery_with_a_novelty_readout(trained):
    panel, sent = trained
    n = len(panel.samples)
    sent.clear()
    msg(panel, {"type": "midime_sample"})
    assert len(panel.samples) == n + 1
    newest = panel.gallery[-1]
    assert panel.current_sample == newest["id"]
    assert set(newest["novelty"]) >= {"copied", "pitch_class_distance", "verdict"}
    assert 0.0 <= newest["novelty"]["pitch_class_distance"] <= 1.0
    assert panel.novelty_summary["samples"] == n + 1
    # the summary averages the figure each card shows (similarity to the nearest input window)
    sims = [item["novelty"]["nearest_similarity"] for item in panel.gallery]
    assert panel.novelty_summary["mean_nearest_similarity"] == pytest.approx(np.mean(sims), abs=1e-3)
    np.testing.assert_allclose(panel.midime_values, panel.sample_records[-1].z_small, atol=1e-4)
    assert len(state_updates(sent)) == 1, "gallery, sliders, roll and map go in one message"


def test_novelty_flags_an_exact_copy(trained):
    panel, _ = trained
    window = panel.input_windows[0]
    readout = panel.pipeline.novelty_index().readout(window)
    assert readout["copied"] and readout["copied_window"] == 0
    assert readout["pitch_class_distance"] < 0.6


def test_gallery_readouts_come_from_the_pipeline_novelty_index(trained):
    """One novelty mechanism: the panel scores samples with midime_widgets.personalize's index,
    over whole 2-bar windows, and calls a sample a copy exactly when it has an input window's notes."""
    from midime_widgets.personalize import NoveltyIndex

    panel, _ = trained
    msg(panel, {"type": "midime_sample"})
    index = NoveltyIndex(panel.input_windows)

    def notes(seq):
        return sorted((n.pitch, round(n.start_time, 4), round(n.end_time, 4)) for n in seq.notes)

    inputs = [notes(w.sequence) for w in panel.input_windows]
    for item, shown in zip(panel.sample_records, panel.gallery, strict=True):
        assert shown["novelty"] == item.novelty == index.readout(item.sequence)
        copied = bool(item.sequence.notes) and notes(item.sequence) in inputs
        assert item.novelty["copied"] == copied
        assert 0.0 <= item.novelty["nearest_similarity"] <= 1.0
        verdict = item.novelty["verdict"]
        assert verdict in ("new", "silent") or verdict.startswith("copy of excerpt")
    # the first note of input window 0 a semitone up: not a copy; only that note's steps differ
    # (assuming no other input window is closer, which holds for this song)
    changed = note_seq.NoteSequence()
    changed.CopyFrom(panel.input_windows[0].sequence)
    first = min(changed.notes, key=lambda n: n.start_time)
    first.pitch += 1
    steps = round((first.end_time - first.start_time) / 0.125)  # 16ths at 120 qpm
    readout = panel.pipeline.novelty_index().readout(changed)
    assert not readout["copied"] and readout["verdict"] == "new"
    assert readout["nearest_similarity"] == round((32 - steps) / 32, 3)


def test_clicks_on_the_map_load_points(trained):
    panel, _ = trained
    msg(panel, {"type": "pick", "kind": "input", "index": 2})
    assert panel.midime_label == "excerpt 3 of your music"
    np.testing.assert_allclose(panel.midime_values, panel.pipeline.input_positions()[2], atol=1e-4)
    sample = panel.sample_records[0]
    msg(panel, {"type": "pick", "kind": "sample", "index": sample.id})
    assert panel.current_sample == sample.id and panel.midime_label == sample.label
    msg(panel, {"type": "pick", "kind": "xy", "x": 0.3, "y": -0.2})
    np.testing.assert_allclose(panel.latent_map["current"], [0.3, -0.2], atol=2e-3)


# ---- export ---------------------------------------------------------------------------------


def downloads(sent):
    return [(c, bytes(b[0])) for c, b in customs(sent) if c["type"] == "download"]


def test_downloads_are_valid_midi_wav_and_zip(trained):
    panel, sent = trained
    sid = panel.sample_records[0].id
    sent.clear()
    msg(panel, {"type": "download", "what": "sample", "id": sid, "format": "mid"})
    msg(panel, {"type": "download", "what": "sample", "id": sid, "format": "wav"})
    msg(panel, {"type": "download", "what": "all"})
    (mid_msg, mid), (wav_msg, wav), (zip_msg, zdata) = downloads(sent)
    assert mid_msg["filename"] == f"midime_sample_{sid}.mid" and mid_msg["mime"] == "audio/midi"
    assert len(load_midi(mid).notes) == len(panel.sample_records[0].sequence.notes)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    names = zipfile.ZipFile(io.BytesIO(zdata)).namelist()
    assert {f"midime_sample_{s.id}.mid" for s in panel.sample_records} <= set(names)
    assert "novelty.json" in names and zip_msg["filename"].endswith(".zip")
    msg(panel, {"type": "download", "what": "sample", "id": 999})
    assert "no sample 999" in panel.error


def test_save_and_load_the_trained_midime(trained, tmp_path, monkeypatch):
    panel, _ = trained
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "mine"
    msg(panel, {"type": "save_model", "path": "mine"})
    assert (target / "midime.json").is_file() and panel.status == "Saved the trained MidiMe in the folder mine."
    other, _ = make_panel(vae=panel.vae)
    other.load_example(TRIO)
    msg(other, {"type": "load_model", "path": "mine"})
    assert other.error == "" and other.midime is not None
    np.testing.assert_allclose(other.midime.decode(np.ones((1, 4), np.float32)),
                               panel.midime.decode(np.ones((1, 4), np.float32)), atol=1e-6)
    # A MidiMe made for another MusicVAE is refused with a clear message.
    stranger, _ = make_panel(vae=FakeMusicVAE(z_size=16, seed=1))
    msg(stranger, {"type": "load_model", "path": "mine"})
    assert "different MusicVAE" in stranger.error and stranger.midime is None
    msg(stranger, {"type": "load_model", "path": "nothing"})
    assert stranger.error == "There is no saved MidiMe at nothing."


def test_save_and_load_stay_inside_the_working_folder(trained, tmp_path, monkeypatch):
    panel, _ = trained
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for path in ("../escape", str(tmp_path / "abs"), "/etc/x", "a/../../b", "~/x"):
        panel.error = ""
        msg(panel, {"type": "save_model", "path": path})
        assert panel.error and "Error" not in panel.error, path
        msg(panel, {"type": "load_model", "path": path})
        assert panel.error, path
    assert not (tmp_path / "escape").exists() and not (tmp_path / "abs").exists()
    msg(panel, {"type": "save_model", "path": str(work / "inside")})  # absolute but inside: fine
    assert panel.error == "" and (work / "inside" / "midime.json").is_file()


def test_model_zip_download(trained):
    panel, sent = trained
    sent.clear()
    msg(panel, {"type": "download", "what": "model"})
    (content, data), = downloads(sent)
    assert content["filename"] == "midime_model.zip"
    assert "midime/midime.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_unknown_or_broken_messages_never_raise(trained):
    panel, _ = trained
    msg(panel, {"type": "no-such-thing"})
    msg(panel, {"type": "pick", "kind": "input"})  # missing index
    assert panel.error == "The panel sent a request it could not read; please try again."
    msg(panel, {"type": "pick", "kind": "input", "index": 999})
    assert panel.error == "There is no excerpt 1000 of your music on the map."
    msg(panel, {"type": "upload", "names": ["a.mid", "b.mid"]}, [b"x"])
    assert "incomplete" in panel.error


def test_actions_before_training_explain_what_to_do():
    panel, _ = make_panel()
    for content in ({"type": "midime_sample"}, {"type": "save_model", "path": "x"},
                    {"type": "download", "what": "all"}):
        panel.error = ""
        msg(panel, content)
        assert "Train MidiMe first" in panel.error or "no samples yet" in panel.error


def test_thread_hygiene(trained):
    panel, _ = trained
    assert not any(t.name == "midime-train" and t.is_alive() for t in threading.enumerate())


# ---- state stays true: stale MidiMe, errors clear, panels do not orphan training ------------


def test_new_music_marks_the_midime_as_trained_on_other_music():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    panel.train(epochs=5, wait=True)
    assert panel.midime_current and panel.has_midime
    msg(panel, {"type": "example", "name": "folk_reel"})
    assert panel.has_midime and not panel.midime_current
    assert not panel.pipeline.midime_matches_inputs
    assert panel.latent_map["inputs"] == []  # no map of music the MidiMe was not trained on
    panel.train(epochs=5, wait=True)
    assert panel.midime_current and len(panel.latent_map["inputs"]) == panel.n_windows


def test_an_old_error_clears_when_a_later_action_succeeds(trained):
    panel, _ = trained
    msg(panel, {"type": "download", "what": "sample", "id": 999})
    assert panel.error
    msg(panel, {"type": "midime_sample"})
    assert panel.error == ""


def test_a_saved_message_clears_at_the_next_action(trained, tmp_path, monkeypatch):
    panel, _ = trained
    monkeypatch.chdir(tmp_path)
    msg(panel, {"type": "save_model", "path": "kept"})
    assert panel.status.startswith("Saved")
    msg(panel, {"type": "midime_sample"})
    assert panel.status == ""


def test_a_new_panel_stops_the_training_of_the_old_one():
    old, _ = make_panel()
    old.load_example(TRIO)
    old.train(epochs=1_000_000)
    wait_for(lambda: old.training["epoch"] > 0)
    make_panel()  # the cell was run again
    assert old.wait_training(30)
    assert old.training["state"] == "stopped"
    assert old.training["message"].startswith("Stopped: a newer panel was created")


def test_close_stops_training():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    panel.train(epochs=1_000_000)
    wait_for(lambda: panel.training["epoch"] > 0)
    panel.close()
    assert panel.wait_training(30)
    assert panel.training["message"].startswith("Stopped: the panel was closed")


def test_stop_before_the_first_epoch_keeps_the_previous_midime():
    panel, _ = make_panel()
    panel.load_example(TRIO)
    panel.train(epochs=5, wait=True)
    first = panel.midime
    panel.stop_training()
    panel._stop_requested.set()
    panel.train_in_thread = False
    panel._stop_requested.set()
    real_clear = panel._stop_requested.clear
    panel._stop_requested.clear = lambda: None  # Stop arrives before the run begins
    try:
        panel.train(epochs=5)
    finally:
        panel._stop_requested.clear = real_clear
    assert panel.training["state"] == "stopped" and panel.midime is first and panel.midime_current


def test_personalizer_per_song_edits_and_the_trained_on_flag():
    """The Personalizer methods the panel relies on, without the panel."""
    from midime_widgets.personalize import Personalizer
    from midime_widgets.models.midime import MidiMeConfig

    p = Personalizer(FakeMusicVAE(z_size=16), seed=0,
                     midime_config=MidiMeConfig(input_size=16, latent_size=2, **SMALL))
    assert not p.midime_matches_inputs
    p.add_midi(example_bytes(TRIO), name="band.mid")
    version = p.inputs_version
    p.fit(epochs=3)
    assert p.midime_matches_inputs
    song = p.choose_instrument(0, 1)
    assert song.melody_choice.instrument == 1 and p.inputs_version == version + 1
    assert not p.midime_matches_inputs
    with pytest.raises(MidiError, match="no melodic instrument number 7"):
        p.choose_instrument(0, 7)
    assert p.songs[0] is song and p.inputs_version == version + 1  # the refused change changed nothing
    with pytest.raises(MidiError, match="There is no song number 3: one song is loaded"):
        p.remove(3)
    assert p.remove(0) is song and p.songs == []
    with pytest.raises(MidiError, match="no song is loaded"):
        p.remove(0)
