"""Fixtures for the real-browser tests: a private JupyterLab server and headless Debian Chromium.

The server runs on 127.0.0.1 with a random token, a temporary root dir and its own config/settings
dirs (so no user settings, workspaces or news pop-ups leak in); every test module gets a fresh page.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MIDIME_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
REPO = Path(__file__).resolve().parents[2]
# Screenshots and the latency probe go to a temporary folder; set this to docs/screenshots to
# refresh the README's pictures: MIDIME_SCREENSHOTS_DIR=docs/screenshots bash scripts/test.sh tests/e2e
SCREENSHOTS_ENV = "MIDIME_SCREENSHOTS_DIR"

LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"theme": "JupyterLab Light"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"jupyter lab exited early with code {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer at {url}")


class LabServer:
    def __init__(self, url: str, token: str, root: Path) -> None:
        self.url, self.token, self.root = url, token, root

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        nb = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                 "source": src}
                for src in cells
            ],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = self.root / name
        path.write_text(json.dumps(nb, indent=1))
        return path


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        # README's test command installs Debian's chromium; only a hand-run subset may lack it.
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (scripts/test.sh should have installed it)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    base = tmp_path_factory.mktemp("lab")
    root, config, runtime = base / "root", base / "config", base / "runtime"
    for d in (root, config, runtime):
        d.mkdir()
    settings_dir = config / "lab" / "user-settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTERLAB_SETTINGS_DIR": str(config / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(config / "lab" / "workspaces"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
    }
    log = open(base / "lab.log", "w")  # noqa: SIM115 - the server writes to it until the fixture ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/api/status?token={token}", proc, base / "lab.log")
        yield LabServer(url, token, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if os.environ.get("MIDIME_E2E_KEEP_LOG"):
            shutil.copy(base / "lab.log", REPO / "lab-e2e.log")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: a temporary folder, so a test run leaves the checkout untouched, or
    `$MIDIME_SCREENSHOTS_DIR` (relative to the repository) to refresh the documentation's."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = REPO / chosen if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing browser test, save a screenshot and the console log next to the lab log."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page = item.funcargs.get("page")
    if page is None:
        return
    out = Path(os.environ.get("MIDIME_E2E_ARTIFACTS", Path(tempfile.gettempdir()) / "midime-e2e-failures"))
    out.mkdir(parents=True, exist_ok=True)
    report.sections.append(("browser artifacts", f"screenshot and console log in {out}"))
    try:
        page.screenshot(path=str(out / f"{item.name}.png"), full_page=True)
        logs = getattr(page, "_midime_console", [])
        (out / f"{item.name}.console.txt").write_text("\n".join(logs))
    except Exception:
        pass


@pytest.fixture(scope="module")
def notebook_page(context, lab_server):
    """A factory: `notebook_page(name, cells, ui="lab" | "notebook7")` writes a notebook, opens
    it in a new page of this module's browser context (console kept for failure reports) and
    waits for its idle kernel. The pages close when the module ends."""
    from labdriver import NOTEBOOK, open_notebook, wait_kernel_idle

    pages = []

    def open_page(name: str, cells: list[str], ui: str = "lab"):
        lab_server.write_notebook(name, cells)
        page = context.new_page()
        attach_console(page)
        pages.append(page)
        if ui == "lab":
            open_notebook(page, lab_server.notebook_url(name))
        else:
            page.goto(f"{lab_server.url}/notebooks/{name}?token={lab_server.token}")
            page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=60_000)
            wait_kernel_idle(page)
        return page

    yield open_page
    for page in pages:
        page.close()


def attach_console(page) -> None:
    """Keep the browser console (errors from the widget JS) for failure reports."""
    page._midime_console = []
    page.on("console", lambda m: page._midime_console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page._midime_console.append(f"pageerror: {e}"))
