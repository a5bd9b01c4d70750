"""The reusable widgets (PianoRoll, Player, LatentSliders, TrainingMonitor) in real JupyterLab,
and the PianoRoll in Notebook 7."""

from __future__ import annotations

import pytest
from labdriver import NOTEBOOK, canvas_ink, cell_at, run_cell, wait_in_cell

pytestmark = pytest.mark.browser

CELLS = [
    """\
from note_seq.protobuf import music_pb2
from midime_widgets.widgets import PianoRoll, Player
seq = music_pb2.NoteSequence()
seq.tempos.add(qpm=120)
for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72]):
    seq.notes.add(pitch=p, velocity=90, start_time=i * 0.25, end_time=i * 0.25 + 0.25, instrument=0, program=0)
for i in range(8):
    seq.notes.add(pitch=36 if i % 2 == 0 else 38, velocity=100, start_time=i * 0.25,
                  end_time=i * 0.25 + 0.1, instrument=9, is_drum=True)
seq.total_time = 2.0
roll = PianoRoll(seq)
roll""",
    "player = Player(seq)\nplayer",
    """\
seq2 = music_pb2.NoteSequence()
seq2.notes.add(pitch=48, velocity=80, start_time=0, end_time=1, program=33)
seq2.total_time = 1.0
roll.sequence = seq2""",
    """\
from widgets_fakes import FakeMusicVAE
from midime_widgets.widgets import LatentSliders
sliders = LatentSliders(FakeMusicVAE(z_size=16), dims=4)
sliders""",
    """\
import threading, time
from midime_widgets.widgets import TrainingMonitor
monitor = TrainingMonitor(title="Fake training")
def fake_fit(epochs=40):
    monitor.start(epochs)
    for e in range(1, epochs + 1):
        time.sleep(0.03)
        monitor.update(e, epochs, {"total": 100 / e, "reconstruction": 90 / e, "kl": 10 / e})
threading.Thread(target=fake_fit, daemon=True).start()
monitor""",
]


@pytest.fixture(scope="module")
def page(notebook_page):
    return notebook_page("roll.ipynb", CELLS)


def test_piano_roll_draws_notes_in_jupyterlab(page):
    run_cell(page, 0)
    roll = wait_in_cell(page, 0, ".mm-roll[data-note-count='16']")
    assert int(roll.get_attribute("data-draw-count")) >= 1
    assert canvas_ink(page, f"{NOTEBOOK} .jp-Cell:nth-child(1) .mm-roll-canvas") > 500


def test_player_plays_in_browser(page):
    run_cell(page, 1)
    player = wait_in_cell(page, 1, ".mm-player")
    player.locator(".mm-play").click()
    page.wait_for_function(
        "() => document.querySelector('.mm-player[data-playing=\"true\"]')?.dataset.audioState === 'running'",
        timeout=10_000,
    )
    assert player.get_attribute("data-scheduled-notes") == "16"
    # The playhead moves while playing.
    roll = cell_at(page, 1).locator(".mm-roll")
    page.wait_for_function("(el) => el.dataset.playhead && parseFloat(el.dataset.playhead) > 0.1",
                           arg=roll.element_handle(), timeout=10_000)
    player.locator(".mm-play").click()
    assert player.get_attribute("data-playing") == "false"


def test_sequence_assignment_redraws(page):
    roll = cell_at(page, 0).locator(".mm-roll")
    before = int(roll.get_attribute("data-draw-count"))
    run_cell(page, 2)
    page.wait_for_function("(el) => el.dataset.noteCount === '1'", arg=roll.element_handle(), timeout=20_000)
    assert int(roll.get_attribute("data-draw-count")) > before


def test_latent_sliders_redecode_in_the_browser(page):
    run_cell(page, 3)
    wait_in_cell(page, 3, ".mm-roll[data-draw-count]")
    cell = cell_at(page, 3)
    r = cell.locator(".mm-roll")
    before = r.get_attribute("data-seq-hash")
    cell.locator(".mm-sliders input[type=range]").nth(1).focus()
    page.keyboard.press("End")  # dim 1 to +3
    page.wait_for_function("([el, h]) => el.dataset.seqHash !== h", arg=[r.element_handle(), before],
                           timeout=20_000)
    assert cell.locator(".mm-slider-value").nth(1).inner_text() == "3.00"


def test_training_monitor_streams_from_a_thread(page):
    run_cell(page, 4)
    chart = wait_in_cell(page, 4, ".mm-training-chart")
    page.wait_for_function("(el) => el.dataset.state === 'done'", arg=chart.element_handle(), timeout=30_000)
    assert chart.get_attribute("data-loss-points") == "40"
    updates = int(chart.get_attribute("data-loss-updates"))
    assert 3 <= updates <= 12, updates  # 40 epochs over ~1.2 s, throttled to 5 Hz
    # once it has ended the line says so (no stale pass count) and the bar is full
    assert chart.inner_text().startswith("Done.") and "pass " not in chart.inner_text()
    assert chart.get_attribute("data-epoch") == "40"
    assert chart.locator(".mm-progress, [data-fill]").first.get_attribute("data-fill") == "1.000"


def test_screenshot_piano_roll(page, screenshots_dir):
    cell_at(page, 1).locator(".midime").screenshot(path=str(screenshots_dir / "player.png"))


def test_piano_roll_in_notebook_7(notebook_page):
    """The same widget in Notebook 7's interface (/notebooks/...). The same notebook, so it runs
    in the kernel JupyterLab started: no second kernel start."""
    page = notebook_page("roll.ipynb", CELLS[:1], ui="notebook7")
    run_cell(page, 0)
    wait_in_cell(page, 0, ".mm-roll[data-note-count='16']")
    assert canvas_ink(page, f"{NOTEBOOK} .jp-Cell .mm-roll-canvas") > 500
