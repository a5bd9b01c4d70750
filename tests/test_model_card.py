"""The model card's breakdown of a metre that misses its target, tune by tune."""

from __future__ import annotations

import numpy as np

from midime_widgets.training.default_model import by_metre
from midime_widgets.training.model_card import _tunes_below_text, tunes_below


def test_a_metre_below_target_is_broken_down_by_tune_worst_first():
    target = np.array([[40, 0, 42, 0]] * 24 + [[40, 0, 42, 0]] + [[50, 0, 52, 0]] * 20)
    pred = target.copy()
    pred[24] = [41, 0, 43, 0]  # the one window of b.mid: both onsets wrong
    pred[:12, 2] = 44  # half of a.mid's windows: one onset of two wrong
    metres = np.array(["3/8"] * 25 + ["4/4"] * 20)
    names = np.array(["a.mid"] * 24 + ["b.mid"] + ["c.mid"] * 20)
    table = by_metre(target, pred, metres)
    assert table["3/8"]["onset_f1"] < 0.85 <= table["4/4"]["onset_f1"]
    below = tunes_below(target, pred, metres, names, table)
    assert list(below) == ["3/8"] and list(below["3/8"]) == ["b.mid", "a.mid"]
    assert below["3/8"]["b.mid"] == {"windows": 1, "onset_f1": 0.0}
    assert below["3/8"]["a.mid"]["windows"] == 24 and 0.7 < below["3/8"]["a.mid"]["onset_f1"] < 0.8
    text = _tunes_below_text(below)
    assert "3/8 below its target comes from 2 tunes (worst first): b.mid 1 window, 0.000; a.mid 24 windows" in text
