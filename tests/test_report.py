"""The HTML report as a musician reads it: note names, bar numbers, one pitch range for all samples,
a scrollable roll for long songs, audio players, the loss legend beside the plot, every figure
explained next to its number (no TensorFlow: the report draws NoteSequences and numbers)."""

from __future__ import annotations

import base64
import re

import note_seq
import pytest
from bokeh.models import Legend, RangeTool

from midime_widgets.personalize import NoveltyReport
from midime_widgets.report import (
    EXPLANATIONS,
    VISIBLE_BARS,
    audio_player,
    BarClock,
    bar_seconds,
    input_roll,
    loss_figure,
    novelty_section,
    personalization_report,
    piano_roll_figure,
    pitch_range,
)


def melody(pitches, *, qpm=120.0, numerator=4, denominator=4, step=0.5):
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=numerator, denominator=denominator)
    for i, pitch in enumerate(pitches):
        seq.notes.add(pitch=pitch, velocity=80, start_time=i * step, end_time=(i + 1) * step)
    seq.total_time = len(pitches) * step
    return seq


def test_bar_length_follows_tempo_and_time_signature():
    assert bar_seconds(melody([60])) == 2.0
    assert bar_seconds(melody([60], qpm=90, numerator=6, denominator=8)) == 2.0  # 3 quarters at 90
    assert bar_seconds(note_seq.NoteSequence()) == 2.0  # 4/4 at 120 when the file says nothing


def test_axes_show_note_names_and_bar_numbers():
    fig = piano_roll_figure(melody([60, 64, 67, 72] * 4))
    labels = fig.yaxis[0].major_label_overrides
    assert {"C4", "E4", "G4", "C5"} <= set(labels.values())
    assert fig.yaxis[0].axis_label == "note" and fig.xaxis[0].axis_label == "bar"
    assert fig.x_range.start == 1 and fig.x_range.end == 5  # 16 half-second notes = 4 bars


def test_bar_numbers_follow_metre_and_tempo_changes():
    """Two bars of 4/4 at 120, then 3/4 at 60: each bar's first note sits on its bar number,
    and the hover counts beats in that bar's own metre."""
    seq = note_seq.NoteSequence()
    seq.tempos.add(time=0.0, qpm=120)
    seq.tempos.add(time=4.0, qpm=60)
    seq.time_signatures.add(time=0.0, numerator=4, denominator=4)
    seq.time_signatures.add(time=4.0, numerator=3, denominator=4)
    onsets = [0.0, 2.0, 4.0, 7.0, 8.0]  # bars 1, 2, 3, 4 (3/4 at 60: 3 s a bar), beat 2 of bar 4
    for t in onsets:
        seq.notes.add(pitch=60, velocity=80, start_time=t, end_time=t + 1.0)
    seq.total_time = 10.0
    clock = BarClock(seq)
    assert [clock.x(t) for t in onsets] == pytest.approx([1, 2, 3, 4, 4 + 1 / 3])
    fig = piano_roll_figure(seq)
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((1, 5))
    source = fig.renderers[0].data_source.data
    assert source["at"][-1] == "bar 4, beat 2"


def test_samples_share_one_pitch_range():
    low, high = melody([48, 50]), melody([79, 81])
    shared = pitch_range([low, high])
    figs = [piano_roll_figure(s, y_range=shared) for s in (low, high)]
    assert {(f.y_range.start, f.y_range.end) for f in figs} == {shared}
    assert shared[0] < 48 and shared[1] > 82


def test_a_long_song_opens_on_its_first_bars_with_an_overview_to_scroll():
    song = melody([60 + i % 12 for i in range(8 * 900)], step=0.25)  # 900 bars, 30 minutes
    layout = input_roll(song, title="long")
    main, overview = layout.children
    assert (main.x_range.start, main.x_range.end) == (1, 1 + VISIBLE_BARS)
    assert main.x_range.bounds == (1, 901)
    tools = [t for t in overview.tools if isinstance(t, RangeTool)]
    assert tools and tools[0].x_range is main.x_range
    short = input_roll(melody([60] * 8), title="short")
    assert not hasattr(short, "children")  # fits: no overview strip


def test_loss_legend_sits_outside_the_plot():
    fig = loss_figure({"total": [3.0, 2.0, 1.5], "reconstruction": [2.5, 1.8, 1.2], "kl": [0.5, 0.2, 0.3]})
    outside = [item for item in fig.right if isinstance(item, Legend)]
    assert outside and [i.label.value for i in outside[0].items] == [
        "total", "rebuilding your excerpts", "tidiness of its space (KL)"]
    assert not [r for r in fig.center if isinstance(r, Legend)]


def test_audio_player_embeds_the_wav():
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt "
    html = audio_player(wav)
    encoded = re.search(r'src="data:audio/wav;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(encoded) == wav and "<audio controls" in html


def _novelty(pitch, prior_pitch, rhythm, prior_rhythm, density=(6.0, 7.5, 3.0)):
    samples_density, input_density, prior_density = density
    return NoveltyReport(samples=2, copied=1, nearest_similarity=[1.0, 0.25],
                         pitch_class_distance=pitch, rhythm_distance=rhythm,
                         prior_pitch_class_distance=prior_pitch, prior_rhythm_distance=prior_rhythm,
                         note_density=samples_density, input_note_density=input_density,
                         prior_note_density=prior_density,
                         readouts=[{"verdict": "copy of excerpt 3"}, {"verdict": "new"}])


def test_every_figure_is_explained_and_each_comparison_matches_its_numbers():
    text = novelty_section(_novelty(0.5, 0.42, 0.12, 0.47), ["sample 1", "sample 2"])
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([\d.]+)</td><td>([\d.]+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text)
    assert [r[0] for r in rows] == ["pitch class", "rhythm", "notes per bar (yours 7.5)"]
    assert rows[0][1:4] == ("0.50", "0.42", "not closer to your music")
    assert rows[1][1:4] == ("0.12", "0.47", "closer to your music")
    assert rows[2][1:4] == ("6.0", "3.0", "closer to your music")  # |6.0 - 7.5| < |3.0 - 7.5|
    farther = novelty_section(_novelty(0.5, 0.42, 0.12, 0.47, density=(12.0, 7.5, 6.0)), ["sample 1"])
    assert "<td>12.0</td><td>6.0</td><td>not closer to your music</td>" in farther
    assert all(r[4] for r in rows)  # a sentence for each
    for key in ("copied", "nearest_similarity"):
        assert EXPLANATIONS[key] in text.replace("&#x27;", "'")
    assert "1 of 2" in text and "Mean similarity 62%" in text
    assert "copy of excerpt 3" in text


def test_report_page_is_self_contained(tmp_path):
    samples = [("sample 1", melody([60, 62, 64, 65])), ("sample 2", melody([72, 71, 69]))]
    path = personalization_report(
        tmp_path / "report.html", title="t", inputs=[("song.mid", melody([60, 64, 67] * 20))],
        samples=samples, history={"total": [2.0, 1.0]}, novelty=_novelty(0.2, 0.4, 0.1, 0.3),
        audio=[b"RIFFone", b"RIFFtwo"], notes=["a note"])
    page = path.read_text()
    assert "cdn.bokeh.org" not in page and page.count("data:audio/wav;base64,") == 2
    assert "Memorisation vs variety" in page and "a note" in page
