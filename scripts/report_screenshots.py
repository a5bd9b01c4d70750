#!/usr/bin/env python
"""Screenshots of each section of a `personalize` report, as a reader sees it in Chromium.

    midime-widgets personalize --example --out midime-out
    python scripts/report_screenshots.py midime-out/report.html docs/screenshots

Writes `report_<section>.png` for every `<h2>` section of the page (e.g. "Your music",
"Training", "Memorisation vs variety", "Personalized samples"). Needs Debian's `chromium` and
the `playwright` package (both installed by scripts/test.sh).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
WIDTH = 1100
MAX_SECTION_HEIGHT = 1600


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def sections(page) -> list[tuple[str, float]]:
    """(title, top in page pixels) of every h2, in page order (bokeh Divs live in shadow roots;
    Playwright's CSS locators pierce them)."""
    found = []
    heads = page.locator("h2")
    for i in range(heads.count()):
        box = heads.nth(i).bounding_box()
        if box:
            found.append((heads.nth(i).inner_text().strip(), box["y"] + page.evaluate("window.scrollY")))
    return sorted(found, key=lambda item: item[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_function("() => document.querySelectorAll('h2').length > 0 || "
                               "[...document.querySelectorAll('*')].some(e => e.shadowRoot)", timeout=60_000)
        page.wait_for_timeout(3000)  # bokeh lays out and paints its canvases
        height = page.evaluate("document.documentElement.scrollHeight")
        found = sections(page)
        if not found:
            print("no sections found", file=sys.stderr)
            return 1
        for (title, top), nxt in zip(found, [*found[1:], (None, height)]):
            bottom = min(nxt[1], top + MAX_SECTION_HEIGHT)
            path = args.out_dir / f"report_{slug(title)}.png"
            page.screenshot(path=str(path), full_page=True,
                            clip={"x": 0, "y": max(top - 8, 0), "width": WIDTH, "height": bottom - top})
            print(path)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
