"""A panel that already holds music renders whole wherever it is displayed: in the cell that
loaded the music, in a later cell, and after the page is reloaded (JupyterLab and Notebook 7).

A user sees every section, the input's piano roll and the MusicVAE sliders, and no JavaScript
error. Each case saves a screenshot.
"""

from __future__ import annotations

import pytest
from labdriver import NOTEBOOK, cell_at, run_cell, wait_in_cell, wait_kernel_idle

from midime_widgets import examples
from midime_widgets.music import load_midi

pytestmark = pytest.mark.browser

N_SLIDERS = 8
CELLS = [
    "from midime_widgets.models.musicvae import MusicVAE\n"
    "from midime_widgets.widgets import MidiMePanel\n"
    f"p = MidiMePanel(MusicVAE.default(), seed=0, n_vae_sliders={N_SLIDERS})\n"
    "p.load_example('folk_band')\n"
    "p",
    "p",
]
SECTIONS = (".mm-input-section", ".mm-vae-section", ".mm-train-section", ".mm-space-section",
            ".mm-export-section")


def _expected_notes() -> int:
    return len(load_midi(examples.read("folk_band")).notes)


def assert_whole_panel(page, cell: int, shot) -> None:
    """Cell `cell` shows a whole panel with the song's notes and the MusicVAE sliders."""
    panel = wait_in_cell(page, cell, ".mm-panel .mm-export-section", timeout=240_000)
    root = cell_at(page, cell).locator(".mm-panel").first
    for section in SECTIONS:
        assert root.locator(section).is_visible(), f"cell {cell}: {section} is missing"
    notes = root.locator(".mm-input-roll .mm-roll")
    page.wait_for_function("([el, n]) => el.dataset.noteCount === String(n)",
                           arg=[notes.element_handle(), _expected_notes()], timeout=60_000)
    sliders = root.locator(".mm-vae-section .mm-sliders input[type=range]")
    assert sliders.count() == N_SLIDERS
    assert sliders.first.is_visible()
    assert "folk_band" in root.locator(".mm-files").inner_text()
    text = root.inner_text()
    assert "null" not in text and "undefined" not in text
    errors = [line for line in getattr(page, "_midime_console", []) if "ReferenceError" in line]
    assert not errors, errors
    panel.scroll_into_view_if_needed()
    root.screenshot(path=str(shot))


@pytest.fixture(scope="module")
def ui_page(notebook_page):
    """`ui_page(ui)`: this module's notebook in JupyterLab ("lab") or Notebook 7 ("notebook7"),
    one page per interface, the other interface's page closed first.

    Both interfaces open the same notebook, so they share its kernel: a kernel imports TensorFlow
    and loads the model once, not once per interface. Every check runs its cells itself, so each
    panel it looks at is one it created in that interface."""
    pages = {}

    def get(ui: str):
        if ui not in pages:
            for other in pages.values():
                other.close()
            pages[ui] = notebook_page("redisplay.ipynb", CELLS, ui=ui)
            pages[ui].set_viewport_size({"width": 1280, "height": 2800})  # a whole panel fits in a screenshot
        return pages[ui]

    return get


@pytest.mark.parametrize("ui", ["lab", "notebook7"])
def test_a_panel_holding_music_renders_whole(ui_page, screenshots_dir, ui):
    page = ui_page(ui)
    run_cell(page, 0)
    assert_whole_panel(page, 0, screenshots_dir / f"redisplay_{ui}_same_cell.png")
    run_cell(page, 1)
    assert_whole_panel(page, 1, screenshots_dir / f"redisplay_{ui}_later_cell.png")
    # The first view is still whole next to the second one.
    assert cell_at(page, 0).locator(".mm-panel .mm-vae-section .mm-sliders input").count() == N_SLIDERS

    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    page.reload()
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=60_000)
    wait_kernel_idle(page)
    for cell in (0, 1):
        assert_whole_panel(page, cell, screenshots_dir / f"redisplay_{ui}_reloaded_{cell}.png")


def test_train_and_sample_in_notebook7(ui_page, screenshots_dir):
    """The core of the workflow in Notebook 7: a new panel in the first cell, train, a new sample,
    a slider."""
    page = ui_page("notebook7")
    run_cell(page, 0)
    assert_whole_panel(page, 0, screenshots_dir / "notebook7_before_training.png")
    root = cell_at(page, 0).locator(".mm-panel").first
    root.locator(".mm-train").click()
    chart = root.locator(".mm-training-chart")
    page.wait_for_function("(el) => el.dataset.state === 'done'", arg=chart.element_handle(), timeout=600_000)
    assert root.locator(".mm-train-status").inner_text().startswith("Done.")
    gallery = root.locator(".mm-gallery")
    before = int(gallery.get_attribute("data-count"))
    root.locator(".mm-new-sample").click()
    page.wait_for_function("([el, n]) => +el.dataset.count === n + 1", arg=[gallery.element_handle(), before],
                           timeout=60_000)
    r = root.locator(".mm-midime-roll .mm-roll")
    draws = int(r.get_attribute("data-draw-count"))
    root.locator(".mm-space-section .mm-sliders input[type=range]").first.fill("1.5")  # drag to 1.5
    page.wait_for_function("([el, n]) => +el.dataset.drawCount > n", arg=[r.element_handle(), draws], timeout=30_000)
    assert r.get_attribute("data-label") == "your point"
    root.screenshot(path=str(screenshots_dir / "notebook7_trained.png"))
