"""Latent-space helpers for the views: which MusicVAE dims matter, and a 2-D map of MidiMe codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def rank_dims(mu: np.ndarray | None, sigma: np.ndarray | None, k: int) -> tuple[np.ndarray, str]:
    """Indices of the ``k`` most informative latent dims and how they were ranked.

    With the encoder's ``sigma`` ([n, z]) the dims with the smallest mean sigma come first: the
    model is most certain about them, so they carry the input (the MidiMe demo ranked its 90 sliders
    the same way). Without sigma, the dims whose ``mu`` varies most over the input come first.
    """
    if sigma is not None and np.size(sigma):
        score = np.asarray(sigma, dtype=np.float64).reshape(-1, np.shape(sigma)[-1]).mean(axis=0)
        order, how = np.argsort(score, kind="stable"), "lowest mean σ over the input"
    elif mu is not None and np.size(mu):
        score = np.asarray(mu, dtype=np.float64).reshape(-1, np.shape(mu)[-1]).var(axis=0)
        order, how = np.argsort(-score, kind="stable"), "highest variance over the input"
    else:
        raise ValueError("rank_dims needs mu or sigma")
    return order[: max(0, int(k))], how


@dataclass
class Projection2D:
    """PCA of a set of points to 2-D (identity for 1- or 2-D data), invertible on the plane."""

    mean: np.ndarray
    axes: np.ndarray  # [2, d] orthonormal rows
    labels: tuple[str, str]

    @classmethod
    def fit(cls, points: np.ndarray) -> Projection2D:
        pts = np.asarray(points, dtype=np.float64)
        d = pts.shape[1]
        if d <= 2 or len(pts) < 3:
            axes = np.eye(2, d) if d >= 2 else np.vstack([np.eye(1, d), np.zeros((1, d))])
            return cls(np.zeros(d), axes, ("dim 1", "dim 2" if d >= 2 else "–"))
        mean = pts.mean(axis=0)
        _, _, vt = np.linalg.svd(pts - mean, full_matrices=False)
        return cls(mean, vt[:2], ("PC 1", "PC 2"))

    def transform(self, points: np.ndarray) -> np.ndarray:
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        return (pts - self.mean) @ self.axes.T

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        """The point of the plane (through the mean) at map coordinates ``xy``."""
        return self.mean + np.asarray(xy, dtype=np.float64) @ self.axes
