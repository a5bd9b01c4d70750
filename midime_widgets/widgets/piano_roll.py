"""``PianoRoll``: show a NoteSequence as a canvas piano roll (tracks coloured, drums on a lane)."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

import traitlets

from ._base import MidimeWidget
from .serialization import sequence_to_wire, wire_to_sequence


def _sequence_to_json(seq: Any, widget: Any) -> dict[str, Any]:
    highlight = getattr(widget, "highlight", None)
    return sequence_to_wire(seq, highlight=highlight or None)


def _sequence_from_json(wire: Any, widget: Any) -> Any:
    return wire_to_sequence(wire) if wire and wire.get("n") else None


# The browser receives the compact binary buffer, Python keeps the NoteSequence.
sequence_serialization = {"to_json": _sequence_to_json, "from_json": _sequence_from_json}


class SequenceWidget(MidimeWidget):
    """Base of widgets that show one NoteSequence: ``widget.sequence = seq`` redraws it."""

    sequence = traitlets.Any(None, allow_none=True).tag(sync=True, **sequence_serialization)
    highlight = traitlets.List(traitlets.Int()).tag(sync=False)
    height = traitlets.Int(170).tag(sync=True)

    @traitlets.observe("highlight")
    def _resend_sequence(self, change: Any) -> None:
        if self.sequence is not None:
            self.send_state("sequence")

    @property
    def note_count(self) -> int:
        return 0 if self.sequence is None else len(self.sequence.notes)


class PianoRoll(SequenceWidget):
    """A piano roll of ``seq``.

    ``highlight`` (instrument numbers) dims every other track, e.g. to show which track of a file
    was taken as the melody.
    """

    _view = traitlets.Unicode("piano_roll").tag(sync=True)

    def __init__(self, seq: Any = None, *, height: int = 170, highlight: Iterable[int] = (),
                 **kwargs: Any) -> None:
        super().__init__(sequence=seq, height=height, highlight=list(highlight), **kwargs)
