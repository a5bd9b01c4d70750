"""``LatentSliders``: move MusicVAE latent dims with sliders; every move re-decodes (live)."""

from __future__ import annotations

import threading
from typing import Any
from collections.abc import Sequence

import numpy as np
import traitlets

from .piano_roll import sequence_serialization
from ._base import MidimeWidget
from .latent import rank_dims


def decode_one(vae: Any, z: np.ndarray, temperature: float = 0.0, seed: int = 0) -> Any:
    """Decode one latent vector to a NoteSequence: greedy, or sampled at ``temperature`` with a
    fixed ``seed`` (so the same ``z`` always gives the same music)."""
    batch = np.asarray(z, dtype=np.float32).reshape(1, -1)
    if temperature:
        return vae.decode(batch, temperature=float(temperature), seed=int(seed))[0]
    return vae.decode(batch, temperature=0.0)[0]


class LatentSliders(MidimeWidget):
    """Sliders over chosen dims of a MusicVAE latent vector ``z``, a piano roll and a player.

    ``dims`` is how many dims to show (the first ones, or the most informative when ``rank_by``
    gives encoder sigmas ``[n, z_size]``, e.g. from ``vae.encode(windows)``), or an explicit list
    of indices. Moving a slider (in the browser or by
    assigning ``values``) decodes the new ``z`` and redraws: greedily, or at ``temperature`` with
    a fixed ``seed``.
    """

    _view = traitlets.Unicode("sliders").tag(sync=True)
    values = traitlets.List(traitlets.Float()).tag(sync=True)
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    min = traitlets.Float(-3.0).tag(sync=True)
    max = traitlets.Float(3.0).tag(sync=True)
    step = traitlets.Float(0.05).tag(sync=True)
    orientation = traitlets.Unicode("vertical").tag(sync=True)
    sequence = traitlets.Any(None, allow_none=True).tag(sync=True, **sequence_serialization)
    height = traitlets.Int(150).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, vae: Any, z: Any = None, dims: int | Sequence[int] = 8, *,
                 rank_by: Any = None, temperature: float = 0.0, seed: int = 0,
                 orientation: str = "vertical", **kwargs: Any) -> None:
        z_size = int(vae.config.z_size)
        z = np.zeros(z_size, np.float32) if z is None else np.asarray(z, np.float32).reshape(-1)
        if z.shape[0] != z_size:
            raise ValueError(f"z has {z.shape[0]} values; this MusicVAE's z_size is {z_size}")
        if isinstance(dims, (int, np.integer)) and rank_by is not None:
            index = [int(d) for d in rank_dims(None, np.atleast_2d(rank_by), int(dims))[0]]
        elif isinstance(dims, (int, np.integer)):
            index = list(range(min(int(dims), z_size)))
        else:
            index = [int(d) for d in dims]
        if not index or any(not 0 <= d < z_size for d in index):
            raise ValueError(f"dims must be indices in 0..{z_size - 1}, got {index}")
        super().__init__(orientation=orientation, **kwargs)
        self.vae = vae
        self.temperature = float(temperature)
        self.seed = int(seed)
        self._z = z.copy()
        self._lock = threading.Lock()
        self.dims = index
        self.labels = [f"z{d}" for d in index]
        self.values = [float(z[d]) for d in index]  # the observer decodes

    @property
    def z(self) -> np.ndarray:
        """The full latent vector (the slider dims set from ``values``)."""
        with self._lock:
            return self._z.copy()

    @traitlets.observe("values")
    def _decode_on_change(self, change: Any) -> None:
        values = list(change["new"])
        if len(values) != len(self.dims):
            return
        with self._lock:
            self._z[self.dims] = values
            z = self._z.copy()
        try:
            self.sequence = decode_one(self.vae, z, self.temperature, self.seed)
            self.error = ""
        except Exception as exc:
            self.error = f"Could not decode this point: {exc}"
