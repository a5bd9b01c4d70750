"""Helpers to drive JupyterLab notebooks from Playwright (open, run a cell, read errors)."""

from __future__ import annotations

from playwright.sync_api import Page, TimeoutError as PWTimeout

ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], " \
    ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"


# The notebook on screen (other tabs stay in the DOM, hidden).
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def open_notebook(page: Page, url: str, timeout: float = 60_000) -> None:
    """Open a notebook (with a fresh workspace: no tabs restored) and wait for its idle kernel."""
    page.goto(url + ("&" if "?" in url else "?") + "reset")
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout)
    wait_kernel_idle(page, timeout)


def wait_kernel_idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until a kernel is connected and idle (JupyterLab 4 and Notebook 7).

    The toolbar's indicator says 'idle' even before a kernel exists, so also require the kernel
    name in the toolbar and, in JupyterLab, the status bar's "(ipykernel) | Idle".
    """
    page.wait_for_function(
        """() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const name = nb?.querySelector('.jp-Toolbar-kernelName')?.innerText ?? '';
            const ind = nb?.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
            const bar = document.querySelector('#jp-main-statusbar');
            const labIdle = !bar || /\\(ipykernel\\)\\s*\\|\\s*Idle/.test(bar.innerText);
            return /ipykernel/.test(name) && ind === 'idle' && labIdle;
        }""",
        timeout=timeout,
    )


def run_cell(page: Page, index: int, timeout: float = 15_000) -> None:
    """Click into cell `index`, run it with Shift+Enter, and wait until the kernel took it
    (retried once: a run sent while the kernel was still connecting can be dropped)."""
    cell = cell_at(page, index)
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    for attempt in range(2):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function(
                "([el, before]) => { const t = el.innerText.trim(); return t !== before || t === '[*]:'; }",
                arg=[prompt.element_handle(), before], timeout=timeout,
            )
            return
        except PWTimeout:
            if attempt:
                raise


def cell_at(page: Page, index: int):
    """Cell `index` of the notebook on screen."""
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)


def cell_errors(page: Page, index: int) -> str:
    cell = cell_at(page, index)
    return "\n".join(cell.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
                     .all_inner_texts())


def wait_in_cell(page: Page, index: int, selector: str, timeout: float = 90_000):
    """Wait for `selector` inside cell `index`'s output; fail with the traceback if the cell errors."""
    cell = cell_at(page, index)
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
