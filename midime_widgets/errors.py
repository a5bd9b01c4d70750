"""Exceptions users see. Each carries a message a musician can act on."""


class MidiError(ValueError):
    """A MIDI file could not be read or holds nothing the model can use."""


class WindowBudgetError(MidiError):
    """The songs learnt from together already fill the windows a model holds at once: the file
    is fine, so no other model is suggested for it."""


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the requested config."""


class TrainingError(RuntimeError):
    """Training stopped because of bad data or a numerical failure (NaN/inf)."""
