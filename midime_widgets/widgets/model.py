"""What the widgets need from a MusicVAE: a small typed contract.

``MusicVAE`` implements it, and so does the linear stand-in of the widget tests; the panel reads
nothing else from its model (everything pipeline-shaped goes through ``Personalizer``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class MusicModel(Protocol):
    """A MusicVAE as the widgets and ``Personalizer`` use it."""

    name: str  # e.g. "cat-mel_2bar_small"
    config: Any  # MusicVAEConfig: z_size, max_seq_len …
    converter: Any  # music.converters: slice_bars, windows(seq), from_tensors(outputs)

    @property
    def kind(self) -> str:
        """"melody", "drums" or "trio"."""

    @property
    def device(self) -> str:
        """"CPU" or the GPU's name."""

    @property
    def fingerprint(self) -> str:
        """Identifies the weights (a saved MidiMe records it)."""

    def encode_tensors(self, inputs: Any, lengths: Any = None, *,
                       seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(z, mu, sigma)`` of converter input tensors."""

    def decode_to_tensors(self, z: Any, length: int | None = None, temperature: float | None = 0.5,
                          seed: int | None = None) -> np.ndarray:
        """One-hot output tensors for codes ``z``."""

    def decode(self, z: Any, length: int | None = None, temperature: float | None = 0.5,
               seed: int | None = None) -> list:
        """NoteSequences for codes ``z``."""

    def sample(self, n: int, length: int | None = None, temperature: float | None = 0.5,
               seed: int | None = None) -> list:
        """``n`` NoteSequences from the prior."""


def require_model(vae: Any) -> MusicModel:
    """``vae`` when it offers everything :class:`MusicModel` names, else a TypeError naming what is missing."""
    missing = [name for name in ("name", "config", "converter", "kind", "device", "fingerprint",
                                 "encode_tensors", "decode_to_tensors", "decode", "sample")
               if not hasattr(vae, name)]
    if missing:
        raise TypeError(f"{type(vae).__name__} is not a MusicVAE: it lacks {', '.join(missing)}.")
    return vae
