"""Common base of every widget: one esbuild bundle, a `_view` trait picks the JS view."""

from __future__ import annotations

import pathlib

import anywidget
import traitlets

STATIC = pathlib.Path(__file__).resolve().parent.parent / "static"
BUNDLE, STYLES = STATIC / "widget.js", STATIC / "widget.css"

# Shown instead of the views when the package was used from a source tree whose JS was never
# built (pip install builds it; so does `npm install && npm run build` in js/).
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "midime-widgets: the JavaScript bundle (midime_widgets/static/widget.js) is " +
    "missing. Install the package with pip, or run `npm install && npm run build` in js/.";
} };
"""


class MidimeWidget(anywidget.AnyWidget):
    """AnyWidget that loads ``static/widget.js`` (built from ``js/``) and names its view."""

    _esm = BUNDLE if BUNDLE.is_file() else _MISSING_BUNDLE
    _css = STYLES if STYLES.is_file() else ""
    _view = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: object) -> None:
        unknown = sorted(set(kwargs) - set(self.class_trait_names()))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument"
                            f"{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        super().__init__(**kwargs)
