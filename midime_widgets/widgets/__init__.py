"""Jupyter widgets (anywidget) for MidiMe: piano roll, player, latent sliders, training monitor, panel.

Every widget loads the same esbuild bundle (``midime_widgets/static/widget.js``, built from ``js/``);
the ``_view`` trait picks the JS view.
"""

from .piano_roll import PianoRoll
from .player import Player
from .serialization import (
    array_from_wire,
    array_serialization,
    array_to_wire,
    sequence_to_wire,
    wire_to_sequence,
)

__all__ = [
    "PianoRoll",
    "Player",
    "array_from_wire",
    "array_serialization",
    "array_to_wire",
    "sequence_to_wire",
    "wire_to_sequence",
]
