"""midime-widgets: personalize MusicVAE with your own MIDI (MidiMe), in Python and in Jupyter.

Public names are imported lazily so that `import midime_widgets` (and the CLI's `--version`) stays
fast: TensorFlow loads only when a model is first used.
"""

from __future__ import annotations

import importlib

from . import _quiet
from ._version import __version__
from .errors import CheckpointError, MidiError, TrainingError

# TensorFlow's log lines (CUDA probing on CPU machines, oneDNN notes) are noise for musicians in
# a notebook; MIDIME_WIDGETS_DEBUG=1 (or TF_CPP_MIN_LOG_LEVEL set before importing us) keeps them.
_quiet.configure()

# public name → module that defines it
_LAZY = {
    # music data
    "load_midi": ".music",
    "to_midi_bytes": ".music",
    "render_wav": ".music",
    "find_melody": ".music",
    "prepare_melody": ".music",
    "resolve_track": ".music",
    "inspect_midi": ".music",
    # models
    "MusicVAE": ".models.musicvae",
    "MusicVAEConfig": ".models.configs",
    "MidiMe": ".models.midime",
    "MidiMeConfig": ".models.midime",
    "Personalizer": ".personalize",
    # widgets
    "MidiMePanel": ".widgets",
    "PianoRoll": ".widgets",
    "Player": ".widgets",
    "LatentSliders": ".widgets",
    "TrainingMonitor": ".widgets",
}

__all__ = ["__version__", "CheckpointError", "MidiError", "TrainingError", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'midime_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
