"""Quality measures for melody MusicVAEs (used during training, in MODEL_CARD.md and in tests).

All work on class indices `[N, T]` of the 90-class melody encoding (0 = no event / hold,
1 = note off, 2+k = pitch 21+k), which is what the melody converter and decoder produce.
"""

from __future__ import annotations

import numpy as np

NO_EVENT, NOTE_OFF, FIRST_PITCH_CLASS, MIN_PITCH = 0, 1, 2, 21


def step_accuracy(target: np.ndarray, predicted: np.ndarray) -> float:
    """Share of steps whose class matches."""
    return float(np.mean(np.asarray(target) == np.asarray(predicted)))


def onsets(indices: np.ndarray) -> set:
    """`(row, step, pitch)` of every note onset."""
    rows, steps = np.nonzero(np.asarray(indices) >= FIRST_PITCH_CLASS)
    return {(int(r), int(s), int(indices[r, s])) for r, s in zip(rows, steps)}


def onset_f1(target: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of note onsets matched on (row, step, pitch)."""
    t, p = onsets(target), onsets(predicted)
    if not t and not p:
        return 1.0
    hits = len(t & p)
    precision = hits / max(len(p), 1)
    recall = hits / max(len(t), 1)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def pitches(indices: np.ndarray) -> np.ndarray:
    idx = np.asarray(indices)
    return idx[idx >= FIRST_PITCH_CLASS] - FIRST_PITCH_CLASS + MIN_PITCH


def pitch_class_histogram(indices: np.ndarray, transpose: int = 0) -> np.ndarray:
    """Share of onsets per pitch class; with `transpose`, averaged over every shift in
    `[-transpose, transpose]` (a corpus as training's random transposition presents it)."""
    hist = np.bincount(pitches(indices) % 12, minlength=12).astype(float)
    hist /= max(hist.sum(), 1.0)
    if transpose:
        hist = np.mean([np.roll(hist, k) for k in range(-transpose, transpose + 1)], axis=0)
    return hist


def interval_histogram(indices: np.ndarray, max_interval: int = 12) -> np.ndarray:
    """Histogram of melodic intervals between consecutive onsets within a row, clipped to ±12."""
    counts = np.zeros(2 * max_interval + 1)
    for row in np.asarray(indices):
        p = row[row >= FIRST_PITCH_CLASS].astype(int)
        for d in np.clip(np.diff(p), -max_interval, max_interval):
            counts[d + max_interval] += 1
    return counts / max(counts.sum(), 1.0)


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between two histograms (0 = identical, 1 = disjoint)."""
    return float(0.5 * np.abs(np.asarray(a) - np.asarray(b)).sum())


def sample_stats(indices: np.ndarray) -> dict:
    """Prior-sample sanity: non-empty share, distinct share; melodies are monophonic and in range
    by construction of the 90-class encoding, which we still check."""
    idx = np.asarray(indices)
    non_empty = np.any(idx >= FIRST_PITCH_CLASS, axis=1)
    in_range = np.all((idx >= 0) & (idx < 90), axis=1)
    distinct = len({row.tobytes() for row in idx})
    return {
        "non_empty": float(non_empty.mean()),
        "in_range": float(in_range.mean()),
        "monophonic": 1.0,  # one class per step: a melody tensor cannot hold two notes at once
        "distinct": int(distinct),
        "count": int(len(idx)),
        "notes_per_sample": float(np.mean(np.sum(idx >= FIRST_PITCH_CLASS, axis=1))),
    }
