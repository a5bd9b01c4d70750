"""Jupyter widgets (anywidget) for MidiMe: piano roll, player, latent sliders, training monitor, panel.

Every widget loads the same esbuild bundle (``midime_widgets/static/widget.js``, built from ``js/``);
its ``_view`` trait picks the JS view. Importing this package does not import TensorFlow.
"""

from .monitor import LossStream, TrainingMonitor
from ..personalize import novelty_readout
from .panel import MidiMePanel
from .piano_roll import PianoRoll
from .player import Player
from .serialization import (
    sequence_to_wire,
    wire_to_sequence,
)
from .sliders import LatentSliders

__all__ = [
    "LatentSliders",
    "LossStream",
    "MidiMePanel",
    "PianoRoll",
    "Player",
    "TrainingMonitor",
    "novelty_readout",
    "sequence_to_wire",
    "wire_to_sequence",
]
