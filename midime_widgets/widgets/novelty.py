"""A simple novelty readout for generated samples: copied vs varied (memorization vs variety).

Kept behind two functions so the richer readout of ``midime_widgets.personalize`` can replace it:
``window_fingerprint`` (exact-copy test) and ``novelty_readout`` (per sample).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

STEPS_PER_QUARTER = 4


def _step_seconds(seq: Any) -> float:
    qpm = seq.tempos[0].qpm if len(seq.tempos) and seq.tempos[0].qpm > 0 else 120.0
    return 60.0 / qpm / STEPS_PER_QUARTER


def window_fingerprint(seq: Any) -> tuple:
    """The notes of a window on the 16th-note grid, relative to its first step (order-free)."""
    step = _step_seconds(seq)
    notes = sorted(
        (round(n.start_time / step), round(n.end_time / step), int(n.pitch), bool(n.is_drum))
        for n in seq.notes
    )
    if not notes:
        return ()
    first = notes[0][0]
    return tuple((s - first, e - first, p, d) for s, e, p, d in notes)


def pitch_class_histogram(seqs: Iterable[Any]) -> np.ndarray:
    """Duration-weighted share of each of the 12 pitch classes over all pitched notes."""
    hist = np.zeros(12)
    for seq in seqs:
        for n in seq.notes:
            if not n.is_drum:
                hist[n.pitch % 12] += max(n.end_time - n.start_time, 1e-3)
    total = hist.sum()
    return hist / total if total > 0 else hist


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance: 0 = same pitch-class use, 1 = no pitch class in common."""
    if a.sum() == 0 or b.sum() == 0:
        return 1.0
    return float(0.5 * np.abs(a - b).sum())


class NoveltyIndex:
    """Precomputed input fingerprints and histogram, so each sample is scored in microseconds."""

    def __init__(self, input_windows: Sequence[Any]):
        self.fingerprints = {}
        for i, w in enumerate(input_windows):
            self.fingerprints.setdefault(window_fingerprint(w), i)
        self.histogram = pitch_class_histogram(input_windows)
        self.n_inputs = len(input_windows)

    def readout(self, sample: Any) -> dict[str, Any]:
        """``{copied, copied_window, pitch_class_distance, verdict}`` for one sample window."""
        match = self.fingerprints.get(window_fingerprint(sample)) if sample.notes else None
        distance = histogram_distance(pitch_class_histogram([sample]), self.histogram)
        if match is not None:
            verdict = f"copy of input window {match + 1}"
        elif not sample.notes:
            verdict = "silent"
        else:
            verdict = "new"
        return {
            "copied": match is not None,
            "copied_window": match,
            "pitch_class_distance": round(distance, 3),
            "verdict": verdict,
        }


def novelty_readout(sample: Any, input_windows: Sequence[Any]) -> dict[str, Any]:
    """Is ``sample`` an exact copy of an input window, and how far is its pitch-class use?"""
    return NoveltyIndex(input_windows).readout(sample)


def summarize(readouts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals over a gallery: how many samples copy an input window, mean pitch-class distance."""
    copied = sum(1 for r in readouts if r.get("copied"))
    dists = [r["pitch_class_distance"] for r in readouts if "pitch_class_distance" in r]
    return {
        "samples": len(readouts),
        "copied": copied,
        "varied": len(readouts) - copied,
        "mean_pitch_class_distance": round(float(np.mean(dists)), 3) if dists else None,
    }
