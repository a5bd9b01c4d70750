"""The panel's "try an example" menu: the bundled songs of :mod:`midime_widgets.examples`."""

from __future__ import annotations

from typing import Any


def example_menu() -> list[dict[str, str]]:
    """``[{"name", "description"}]`` of every bundled example, the default one first."""
    from .. import examples

    names = examples.names()
    first = [n for n in getattr(examples, "DEFAULT_EXAMPLES", ()) if n in names]
    ordered = first + [n for n in names if n not in first]
    return [{"name": n, "description": examples.DESCRIPTIONS.get(n, n)} for n in ordered]


def example_bytes(name: str) -> bytes:
    """The example's MIDI file bytes (so it goes through the same loader as an upload)."""
    from .. import examples

    return examples.read(name)


def example_label(name: str) -> str:
    menu: dict[str, Any] = {e["name"]: e["description"] for e in example_menu()}
    return f"{name}.mid" if name in menu else name
