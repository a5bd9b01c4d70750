"""``Player``: play a NoteSequence in the browser (Tone.js synth voices) with a moving playhead."""

from __future__ import annotations

from typing import Any

import traitlets

from .piano_roll import SequenceWidget


class Player(SequenceWidget):
    """Play / stop / loop controls over a piano roll of ``seq``.

    Sound is synthesized in the browser (melody, bass and drum voices; no downloads) and starts
    on the Play click, as browsers require a user gesture before audio.
    """

    _view = traitlets.Unicode("player").tag(sync=True)
    loop = traitlets.Bool(True).tag(sync=True)

    def __init__(self, seq: Any = None, *, loop: bool = True, height: int = 150, **kwargs: Any) -> None:
        super().__init__(sequence=seq, loop=loop, height=height, **kwargs)
