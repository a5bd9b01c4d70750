"""Helpers behind the latent views: dim ranking, the 2-D map projection, the novelty readout."""

from __future__ import annotations

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from midime_widgets.widgets.latent import Projection2D, rank_dims
from midime_widgets.personalize import NoveltyIndex, histogram_distance, pitch_class_histogram, \
    summarize, window_fingerprint


def test_rank_by_sigma_puts_the_most_certain_dims_first():
    sigma = np.array([[0.9, 0.1, 0.5, 0.2], [0.7, 0.3, 0.5, 0.2]])
    dims, how = rank_dims(None, sigma, 3)
    assert dims.tolist() == [1, 3, 2] and "σ" in how


def test_rank_by_variance_without_sigma():
    mu = np.array([[0.0, 5.0, 1.0], [0.0, -5.0, 2.0]])
    dims, how = rank_dims(mu, None, 2)
    assert dims.tolist() == [1, 2] and "variance" in how
    with pytest.raises(ValueError):
        rank_dims(None, None, 2)


def test_projection_recovers_a_plane_and_inverts_on_it():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((4, 2)))[0].T  # two orthonormal directions in 4-D
    coords = rng.standard_normal((50, 2)) * [3.0, 1.0]
    points = coords @ basis + 0.5
    proj = Projection2D.fit(points)
    xy = proj.transform(points)
    # The two map axes span the data's plane (all singular values of the overlap are 1) …
    np.testing.assert_allclose(np.linalg.svd(proj.axes @ basis.T, compute_uv=False), [1, 1], atol=1e-9)
    assert np.var(xy[:, 0]) > np.var(xy[:, 1])  # … the first axis carries the most variance
    np.testing.assert_allclose(proj.inverse(xy), points, atol=1e-6)
    assert proj.labels == ("PC 1", "PC 2")


def test_projection_of_2d_data_is_the_identity():
    proj = Projection2D.fit(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(proj.transform([[1.0, 2.0]]), [[1.0, 2.0]])
    assert proj.labels == ("dim 1", "dim 2")


def melody(pitches, start=0.0, step=0.125, qpm=120):
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=qpm)
    for i, p in enumerate(pitches):
        seq.notes.add(pitch=p, velocity=80, start_time=start + i * 2 * step, end_time=start + (i + 1) * 2 * step)
    return seq


def test_fingerprint_ignores_note_order_but_not_a_shift_in_time():
    a = melody([60, 62, 64])
    b = melody([60, 62, 64], start=1.0)
    c = music_pb2.NoteSequence()
    c.CopyFrom(a)
    c.notes.reverse()
    assert window_fingerprint(a) == window_fingerprint(c) != window_fingerprint(b)
    assert window_fingerprint(a) != window_fingerprint(melody([60, 62, 65]))


def test_readout_counts_copies_and_measures_pitch_classes():
    inputs = [melody([60, 62, 64, 65]), melody([67, 65, 64, 62])]
    index = NoveltyIndex(inputs)
    copy = index.readout(melody([67, 65, 64, 62]))
    assert copy["copied"] and copy["copied_window"] == 1 and copy["verdict"] == "copy of excerpt 2"
    new = index.readout(melody([61, 63, 66, 68]))  # only black keys: no pitch class in common
    assert not new["copied"] and new["pitch_class_distance"] == 1.0 and new["verdict"] == "new"
    assert index.readout(music_pb2.NoteSequence())["verdict"] == "silent"
    # Input shares: C 1/8, D E F 2/8 each, G 1/8; the copy: D E F G 1/4 each.
    # Total variation = 1/2·(|0 − 1/8| for C + |1/4 − 1/8| for G) = 0.125.
    assert copy["pitch_class_distance"] == pytest.approx(0.125)
    assert copy["nearest_similarity"] == 1.0 and new["nearest_similarity"] < 1.0
    assert summarize([copy, new]) == {
        "samples": 2, "copied": 1, "varied": 1, "silent": 0,
        "mean_nearest_similarity": pytest.approx((1.0 + new["nearest_similarity"]) / 2, abs=1e-3),
        "mean_pitch_class_distance": pytest.approx(0.562, abs=1e-3)}


def test_histogram_distance_bounds():
    h = pitch_class_histogram([melody([60, 64, 67])])
    assert histogram_distance(h, h) == 0.0
    assert histogram_distance(h, np.zeros(12)) == 1.0
