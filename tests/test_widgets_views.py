"""Traits and messages of the small widgets: PianoRoll, Player, LatentSliders, TrainingMonitor."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from note_seq.protobuf import music_pb2
from widgets_fakes import FakeMusicVAE, customs, record, state_updates

from midime_widgets.widgets import LatentSliders, PianoRoll, Player, TrainingMonitor
from midime_widgets.widgets.serialization import wire_columns


def melody(pitches, step=0.25):
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=120)
    for i, p in enumerate(pitches):
        seq.notes.add(pitch=p, velocity=80, start_time=i * step, end_time=(i + 1) * step, program=0)
    seq.total_time = len(pitches) * step
    return seq


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


# ---- PianoRoll / Player ---------------------------------------------------------------------


def test_piano_roll_state_is_the_binary_note_buffer():
    roll = PianoRoll(melody([60, 64, 67]))
    state = roll.get_state()
    assert state["_view"] == "piano_roll"
    assert state["sequence"]["n"] == 3
    assert isinstance(state["sequence"]["data"], bytes)
    assert wire_columns(state["sequence"])["pitch"].tolist() == [60, 64, 67]
    assert roll.note_count == 3


def test_assigning_a_sequence_sends_one_update():
    roll = PianoRoll(melody([60]))
    sent = record(roll)
    roll.sequence = melody([70, 71])
    updates = state_updates(sent)
    assert len(updates) == 1 and set(updates[0]) == {"sequence"}
    # The buffer travels as a binary frame, not inside the JSON.
    (msg, buffers), = [(m, b) for m, b in sent if m.get("method") == "update"]
    assert msg["buffer_paths"] == [["sequence", "data"]] and len(bytes(buffers[0])) == 24


def test_highlight_dims_other_tracks_and_resends():
    seq = melody([60, 62])
    seq.notes.add(pitch=40, start_time=0, end_time=1, instrument=1, program=33, velocity=80)
    roll = PianoRoll(seq)
    sent = record(roll)
    roll.highlight = [1]
    update = state_updates(sent)[-1]["sequence"]
    assert {t["instrument"]: t["dim"] for t in update["tracks"]} == {0: True, 1: False}


def test_empty_roll_and_player_defaults():
    roll = PianoRoll()
    assert roll.get_state()["sequence"]["n"] == 0 and roll.sequence is None
    player = Player(melody([60, 62]), loop=False)
    state = player.get_state()
    assert state["_view"] == "player" and state["loop"] is False and state["sequence"]["n"] == 2


# ---- LatentSliders --------------------------------------------------------------------------


def test_sliders_decode_on_every_change_from_python_or_browser():
    vae = FakeMusicVAE(z_size=16)
    sliders = LatentSliders(vae, dims=[3, 5, 7])
    assert sliders.labels == ["z3", "z5", "z7"] and sliders.values == [0.0, 0.0, 0.0]
    first = sliders.sequence
    assert first is not None and vae.decode_calls == 1
    sent = record(sliders)
    sliders.set_state({"values": [2.5, -2.0, 1.0]})  # what a browser slider move does
    assert vae.decode_calls == 2
    np.testing.assert_allclose(sliders.z[[3, 5, 7]], [2.5, -2.0, 1.0])
    assert sliders.z[[0, 1, 2, 4, 6]].tolist() == [0, 0, 0, 0, 0]
    assert sliders.sequence != first
    assert any("sequence" in u for u in state_updates(sent))
    # The browser's own value is not echoed back (it would fight the user's drag).
    assert not any("values" in u for u in state_updates(sent))


def test_sliders_validate_dims_and_z():
    vae = FakeMusicVAE(z_size=8)
    with pytest.raises(ValueError, match="dims"):
        LatentSliders(vae, dims=[8])
    with pytest.raises(ValueError, match="z_size"):
        LatentSliders(vae, z=np.zeros(5))
    s = LatentSliders(vae, z=np.arange(8) / 10, dims=3)
    assert s.values == pytest.approx([0.0, 0.1, 0.2])


def test_sliders_can_rank_dims_by_the_encoders_sigma():
    vae = FakeMusicVAE(z_size=8)
    sigma = np.array([[0.9, 0.2, 0.8, 0.1, 0.7, 0.6, 0.5, 0.4]] * 3)
    s = LatentSliders(vae, dims=3, rank_by=sigma)
    assert s.dims == [3, 1, 7] and s.labels == ["z3", "z1", "z7"]


def test_slider_decode_errors_show_in_the_widget():
    vae = FakeMusicVAE(z_size=8)
    s = LatentSliders(vae, dims=2)
    vae.fail_decode = True
    s.values = [1.0, 1.0]
    assert "decoder exploded" in s.error


# ---- TrainingMonitor ------------------------------------------------------------------------


def losses(i):
    return {"total": 10.0 / i, "reconstruction": 9.0 / i, "kl": 1.0 / i}


def test_monitor_throttles_to_the_interval_and_flushes_at_the_end():
    monitor = TrainingMonitor(min_interval=0.2)
    clock = FakeClock()
    monitor.stream.clock = clock
    sent = record(monitor)
    monitor.start(100)
    for epoch in range(1, 101):
        clock.t += 0.01  # 100 epochs in 1 s → at most ~5 flushes
        monitor.update(epoch, 100, losses(epoch))
    loss_msgs = [(c, b) for c, b in customs(sent) if c["type"] == "loss"]
    deltas = [c for c, _ in loss_msgs if not c["reset"]]
    assert 4 <= len(deltas) <= 6, len(deltas)
    rows = np.concatenate([np.frombuffer(bytes(b[0]), "<f4").reshape(-1, 4) for c, b in loss_msgs])
    assert rows[:, 0].tolist() == list(range(1, 101))  # every epoch delivered once, in order
    np.testing.assert_allclose(rows[:, 1], [10.0 / e for e in range(1, 101)], rtol=1e-6)
    assert monitor.training["state"] == "done" and monitor.training["epoch"] == 100
    assert monitor.training["losses"]["kl"] == pytest.approx(0.01)
    assert monitor.history["total"].shape == (100,)


def test_monitor_is_thread_safe_and_replays_for_late_views():
    monitor = TrainingMonitor(min_interval=0.0)
    sent = record(monitor)
    monitor.start(400)

    def worker(offset):
        for i in range(100):
            monitor.update(offset + i + 1, 10_000, losses(offset + i + 1))

    threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monitor.finish("stopped", "user pressed stop")
    delivered = [np.frombuffer(bytes(b[0]), "<f4").reshape(-1, 4) for c, b in customs(sent)
                 if c["type"] == "loss"]
    epochs = np.concatenate(delivered)[:, 0]
    assert sorted(epochs.tolist()) == list(range(1, 401))  # nothing lost or duplicated
    assert monitor.training["state"] == "stopped"
    assert monitor.training["message"] == "user pressed stop"
    sent.clear()
    monitor._handle_custom_msg({"type": "ready"}, [])
    (content, buffers), = customs(sent)
    assert content == {"type": "loss", "reset": True, "n": 400}
    assert len(bytes(buffers[0])) == 400 * 16


def test_monitor_as_progress_callback_starts_and_finishes_itself():
    monitor = TrainingMonitor(min_interval=10.0)
    sent = record(monitor)
    for epoch in range(1, 6):
        monitor(epoch, 5, losses(epoch))
    assert monitor.training["state"] == "done"
    rows = sum(c["n"] for c, _ in customs(sent) if c["type"] == "loss")
    assert rows == 5  # the first update and the final flush cover all five
