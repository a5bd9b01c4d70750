"""Helpers to drive JupyterLab notebooks from Playwright (open, run a cell, read errors)."""

from __future__ import annotations

from playwright.sync_api import Page, TimeoutError as PWTimeout

ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], " \
    ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"


def open_notebook(page: Page, url: str, timeout: float = 60_000) -> None:
    """Open a notebook and wait until its kernel is idle."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout)
    wait_kernel_idle(page, timeout)


def wait_kernel_idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until the kernel is connected and idle (the toolbar indicator says 'idle' even before
    a kernel exists, so read the status bar, which names the kernel once connected)."""
    page.wait_for_function(
        "() => /\\(ipykernel\\)\\s*\\|\\s*Idle/.test("
        "document.querySelector('#jp-main-statusbar')?.innerText ?? '')",
        timeout=timeout,
    )


def run_cell(page: Page, index: int, timeout: float = 10_000) -> None:
    """Click into cell `index`, run it with Shift+Enter, and wait until the kernel took it."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "([el, before]) => { const t = el.innerText.trim(); return t !== before || t === '[*]:'; }",
        arg=[prompt.element_handle(), before], timeout=timeout,
    )


def cell_errors(page: Page, index: int) -> str:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    return "\n".join(cell.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
                     .all_inner_texts())


def wait_in_cell(page: Page, index: int, selector: str, timeout: float = 90_000):
    """Wait for `selector` inside cell `index`'s output; fail with the traceback if the cell errors."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    target = cell.locator(selector).first
    error = cell.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").first
    try:
        target.or_(error).wait_for(timeout=timeout)
    except PWTimeout as exc:
        raise AssertionError(f"cell {index}: {selector!r} never appeared") from exc
    if error.count() and error.is_visible():
        raise AssertionError(f"cell {index} raised:\n{error.inner_text()}")
    return target


def canvas_ink(page: Page, selector: str) -> int:
    """Number of non-transparent pixels in the first canvas matching `selector`."""
    return page.eval_on_selector(selector, """(c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
