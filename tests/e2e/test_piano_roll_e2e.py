"""A PianoRoll and a Player rendered in real JupyterLab (the smallest end-to-end path)."""

from __future__ import annotations

import pytest
from conftest import attach_console
from labdriver import canvas_ink, open_notebook, run_cell, wait_in_cell

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
]


@pytest.fixture(scope="module")
def page(context, lab_server):
    lab_server.write_notebook("roll.ipynb", CELLS)
    page = context.new_page()
    attach_console(page)
    open_notebook(page, lab_server.notebook_url("roll.ipynb"))
    yield page
    page.close()


def test_piano_roll_draws_notes_in_jupyterlab(page):
    run_cell(page, 0)
    roll = wait_in_cell(page, 0, ".mm-roll[data-note-count='16']")
    assert int(roll.get_attribute("data-draw-count")) >= 1
    assert canvas_ink(page, ".jp-Cell:nth-child(1) .mm-roll-canvas") > 500


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
    roll = page.locator(".jp-Cell").nth(1).locator(".mm-roll")
    page.wait_for_function("(el) => el.dataset.playhead && parseFloat(el.dataset.playhead) > 0.1",
                           arg=roll.element_handle(), timeout=10_000)
    player.locator(".mm-play").click()
    assert player.get_attribute("data-playing") == "false"


def test_sequence_assignment_redraws(page):
    roll = page.locator(".jp-Cell").nth(0).locator(".mm-roll")
    before = int(roll.get_attribute("data-draw-count"))
    run_cell(page, 2)
    page.wait_for_function("(el) => el.dataset.noteCount === '1'", arg=roll.element_handle(), timeout=20_000)
    assert int(roll.get_attribute("data-draw-count")) > before


def test_screenshot_piano_roll(page, screenshots_dir):
    page.locator(".jp-Cell").nth(1).locator(".midime").screenshot(path=str(screenshots_dir / "player.png"))
