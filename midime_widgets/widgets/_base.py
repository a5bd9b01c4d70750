"""Common base of every widget: one esbuild bundle, a `_view` trait picks the JS view."""

from __future__ import annotations

import pathlib

import anywidget
import traitlets

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"


class MidimeWidget(anywidget.AnyWidget):
    """AnyWidget that loads ``static/widget.js`` (built from ``js/``) and names its view."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"
    _view = traitlets.Unicode("").tag(sync=True)
