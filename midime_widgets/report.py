"""Static bokeh views: piano rolls, loss curves, and the self-contained personalization report.

Everything renders with bokeh's inline resources and audio is embedded as data URIs, so the HTML
opens offline. Piano rolls read as a musician reads a score: note names up the side, bar numbers
along the bottom (from the sequence's own tempo and time signature).
"""

from __future__ import annotations

import base64
import bisect
import html
from pathlib import Path

from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    CustomJSTickFormatter,
    Div,
    FixedTicker,
    Legend,
    Range1d,
    RangeTool,
)
from bokeh.plotting import figure
from bokeh.resources import INLINE

from .music.pitch import pitch_name, spelling
from .personalize import COPY_REDRAWS

# One colour per instrument lane (melody, bass, drums, others), colour-blind friendly.
TRACK_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
DRUM_COLOUR = "#d62728"
PAGE_WIDTH = 900
VISIBLE_BARS = 16  # a long input opens on its first bars; the overview strip scrolls it
MIN_PITCH_SPAN = 18  # semitones shown at least, so one held note is not a block
DEFAULT_QPM = 120.0


def bar_seconds(seq) -> float:
    """Length of one bar of `seq`: its first tempo and time signature (4/4 at 120 qpm if none)."""
    qpm = seq.tempos[0].qpm if len(seq.tempos) and seq.tempos[0].qpm > 0 else DEFAULT_QPM
    if len(seq.time_signatures) and seq.time_signatures[0].denominator > 0:
        sig = seq.time_signatures[0]
        quarters = sig.numerator * 4.0 / sig.denominator
    else:
        quarters = 4.0
    return quarters * 60.0 / qpm


def pitch_range(seqs) -> tuple[float, float]:
    """One y range (bottom, top) that shows every pitched note of `seqs`."""
    pitches = [n.pitch for s in seqs for n in s.notes if not n.is_drum]
    if not pitches:
        return 58.0, 58.0 + MIN_PITCH_SPAN
    low, high = min(pitches), max(pitches) + 1
    pad = max(0, MIN_PITCH_SPAN - (high - low)) / 2
    return low - pad - 1, high + pad + 1


def _note_axis(fig, bottom: float, top: float) -> None:
    """Note names on the y axis: every C (and, in narrow ranges, every E and G too)."""
    span = top - bottom
    classes = (0,) if span > 30 else (0, 4, 7)
    ticks = [p + 0.5 for p in range(int(bottom), int(top) + 1) if p % 12 in classes]
    fig.yaxis.ticker = FixedTicker(ticks=ticks)
    fig.yaxis.major_label_overrides = {t: pitch_name(int(t)) for t in ticks}
    fig.yaxis.axis_label = "note"


def _bar_axis(fig, bars: float) -> None:
    """Bar numbers (1 = the first bar) on the x axis, whole bars only."""
    fig.xaxis.axis_label = "bar"
    fig.xaxis.formatter = CustomJSTickFormatter(
        code="return Number.isInteger(tick) ? String(tick) : '';")
    fig.xaxis.ticker.desired_num_ticks = int(min(max(bars, 2), 16))
    fig.xaxis.ticker.num_minor_ticks = 0


class BarClock:
    """Seconds → position in bars as a musician counts them, through the song's tempo and metre
    changes: bar n starts at x = n (a pickup is bar 0), on the same bar lines the windows are cut
    on. A sequence without notes counts bars of its first tempo and metre from x = 1."""

    def __init__(self, seq):
        from .music.windows import song_grid

        self.bars = []
        if any(n.velocity > 0 for n in seq.notes):
            self.tempo, self.bars, _ = song_grid(seq)
        self.starts = [bar.start for bar in self.bars]
        self.numbers = [bar.number for bar in self.bars]
        self.bar = bar_seconds(seq)

    def x(self, time: float) -> float:
        if not self.bars:
            return 1 + time / self.bar
        step = self.tempo.to_quarters(time) * self.tempo.steps_per_quarter
        bar = self.bars[max(0, bisect.bisect_right(self.starts, step) - 1)]
        return bar.number + (step - bar.start) / bar.steps  # past the last bar: at its length

    def beats(self, x: float) -> int:
        """Beats of the bar at `x` (its time signature's numerator)."""
        if not self.bars:
            return 4
        bar = self.bars[max(0, bisect.bisect_right(self.numbers, x) - 1)]
        return bar.metre.numerator


def _roll_source(seq, bottom: float, clock: BarClock | None = None) -> tuple[ColumnDataSource, float, float]:
    """Notes in bar units (`BarClock`); returns the source and where the music starts and ends
    in bars."""
    clock = clock or BarClock(seq)
    data = {"start": [], "end": [], "pitch": [], "colour": [], "velocity": [], "name": [], "at": []}
    drum_lane = bottom + 1
    names = spelling(seq)
    for n in seq.notes:
        end = n.end_time if n.end_time > n.start_time else n.start_time + 0.1
        start_bar = clock.x(n.start_time)
        data["start"].append(start_bar)
        data["end"].append(clock.x(end))
        data["pitch"].append(drum_lane - (n.pitch % 3) if n.is_drum else n.pitch)
        data["colour"].append(DRUM_COLOUR if n.is_drum else TRACK_COLOURS[n.instrument % len(TRACK_COLOURS)])
        data["velocity"].append(n.velocity)
        data["name"].append(f"drum {n.pitch}" if n.is_drum else pitch_name(n.pitch, names))
        data["at"].append(f"bar {int(start_bar)}, beat {1 + (start_bar % 1) * clock.beats(start_bar):.2g}")
    first = min(clock.x(0.0), 1.0)
    last = clock.x(max([seq.total_time, *(n.end_time for n in seq.notes)], default=0.0))
    return ColumnDataSource(data), first, max(last, first + 1.0)


def piano_roll_figure(seq, *, title: str = "", width: int = 420, height: int = 180,
                      y_range: tuple[float, float] | None = None, bars: float | None = None):
    """A bokeh piano roll of a NoteSequence: pitched notes by instrument, drums in their own lane.

    `y_range` (bottom, top) shares one pitch range between figures; `bars` shows only the first
    bars (pan and wheel-zoom along time for the rest).
    """
    bottom, top = y_range or pitch_range([seq])
    source, first, last = _roll_source(seq, bottom)
    shown = min(last - first, bars) if bars else last - first
    fig = figure(title=title, width=width, height=height, tools="xpan,xwheel_zoom,reset,hover",
                 active_drag="xpan", active_scroll="xwheel_zoom",
                 tooltips=[("note", "@name"), ("at", "@at"), ("velocity", "@velocity")],
                 x_range=Range1d(first, first + shown, bounds=(first, last)), y_range=Range1d(bottom, top))
    # a white outline keeps repeated notes of one pitch apart (four D5s are not one long note)
    fig.quad(left="start", right="end", bottom="pitch", top=_plus_one("pitch"), fill_color="colour",
             line_color="white", line_width=1, source=source)
    _note_axis(fig, bottom, top)
    _bar_axis(fig, shown)
    fig.toolbar.logo = None
    return fig


def _plus_one(field):
    from bokeh.transform import dodge

    return dodge(field, 0.9)


def input_roll(seq, *, title: str, width: int = PAGE_WIDTH):
    """A full-width piano roll of a whole song: its first bars, plus an overview strip with a
    draggable window when the song is longer (a 30-minute piece stays readable)."""
    fig = piano_roll_figure(seq, title=title, width=width, height=240, bars=VISIBLE_BARS)
    first, last = fig.x_range.bounds
    length = last - first
    if length <= VISIBLE_BARS:
        return fig
    bottom, top = fig.y_range.start, fig.y_range.end
    overview = figure(width=width, height=70, x_range=Range1d(first, last), y_range=Range1d(bottom, top),
                      tools="", toolbar_location=None, title="drag the box to move through the song")
    source, _, _ = _roll_source(seq, bottom)
    overview.quad(left="start", right="end", bottom="pitch", top=_plus_one("pitch"),
                  fill_color="colour", line_color=None, source=source)
    overview.add_tools(RangeTool(x_range=fig.x_range))
    overview.yaxis.visible = False
    _bar_axis(overview, length)
    overview.xaxis.axis_label = None
    return column(fig, overview)


# The training history's curves: key → (legend in a musician's words, colour).
LOSS_LINES = {"total": ("total", "#333333"), "reconstruction": ("rebuilding your excerpts", "#1f77b4"),
              "kl": ("tidiness of its space (KL)", "#ff7f0e")}


def loss_figure(history: dict, *, width: int = PAGE_WIDTH, height: int = 240):
    """Total, reconstruction and KL loss per epoch; the legend sits beside the plot."""
    total = list(history.get("total", []))
    epochs = list(range(1, len(total) + 1))
    fig = figure(title="MidiMe's error while it trained", width=width, height=height,
                 x_axis_label="epoch (one pass over your excerpts)", y_axis_label="error",
                 y_axis_type="log" if total and min(total) > 0 else "linear")
    items = []
    for key, (label, colour) in LOSS_LINES.items():
        values = list(history.get(key, []))
        if values:
            items.append((label, [fig.line(epochs[: len(values)], values, color=colour, line_width=2)]))
    if items:
        fig.add_layout(Legend(items=items, location="top_left"), "right")
    fig.toolbar.logo = None
    return fig


def audio_player(wav) -> str:
    """An HTML audio player with the WAV (a path or bytes) embedded, so it plays offline."""
    data = Path(wav).read_bytes() if not isinstance(wav, (bytes, bytearray)) else bytes(wav)
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<audio controls preload="metadata" style="width: 280px; height: 32px" '
            f'src="data:audio/wav;base64,{encoded}"></audio>')


# What each figure of the novelty readout means, in one sentence (field name → sentence).
EXPLANATIONS = {
    "copied": "Samples whose notes equal one excerpt of your music step for step (MidiMe "
              f"memorised it); the rest are new. A draw that copies, is (nearly) silent or "
              f"repeats another sample is drawn again, up to {COPY_REDRAWS} times: one counted here "
              f"is one that kept coming back.",
    "nearest_similarity": "For each sample, the share of 16th-note steps where it plays exactly "
                          "what your most similar excerpt plays: 100% is a copy, low values are "
                          "new material.",
    "pitch_class_distance": "How differently the samples use the 12 pitch classes (the key and "
                            "scale) than your music, from 0 (the same) to 1 (nothing in common).",
    "rhythm_distance": "How differently the samples place note onsets within the bar than your "
                       "music, from 0 (the same) to 1 (nothing in common).",
    "note_density": "How busy the samples are: notes started per bar, in your music's metre. Closer "
                    "means nearer your music's own figure, given in brackets.",
}
PRIOR_PREFIX = "prior_"
# The novelty report's figure names (`NoveltyReport.comparisons`) of its distance fields.
FIGURE_NAMES = {"pitch_class_distance": "pitch classes", "rhythm_distance": "rhythm"}


def _distance_rows(novelty) -> list[tuple[str, float, float | None]]:
    """(field, samples' value, MusicVAE prior samples' value) for every distance the report has."""
    data = novelty.to_dict()
    rows = []
    for key, value in data.items():
        if key.endswith("_distance") and not key.startswith(PRIOR_PREFIX) and isinstance(value, (int, float)):
            prior = data.get(PRIOR_PREFIX + key)
            rows.append((key, float(value), float(prior) if isinstance(prior, (int, float)) else None))
    return rows


def novelty_section(novelty, labels: list[str]) -> str:
    """The memorisation-vs-variety readout as HTML: the verdict, each figure with its meaning."""
    similarity = list(novelty.nearest_similarity)
    mean_similarity = sum(similarity) / len(similarity) if similarity else 0.0
    rows = []
    words = novelty.comparisons() if hasattr(novelty, "comparisons") else {}
    for key, value, prior in _distance_rows(novelty):
        label = key.removesuffix("_distance").replace("_", " ")
        if prior is None:
            comparison = ""
        else:
            fallback = "closer to your music" if value < prior else "not closer to your music"
            comparison = words.get(FIGURE_NAMES.get(key, ""), fallback)
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td>{value:.2f}</td>"
            f"<td>{'' if prior is None else f'{prior:.2f}'}</td><td>{comparison}</td>"
            f"<td>{html.escape(EXPLANATIONS.get(key, ''))}</td></tr>")
    if hasattr(novelty, "density_distance"):
        rows.append(
            f"<tr><td>notes per bar (yours {novelty.input_note_density:.1f})</td>"
            f"<td>{novelty.note_density:.1f}</td><td>{novelty.prior_note_density:.1f}</td>"
            f"<td>{words['note density']}</td>"
            f"<td>{html.escape(EXPLANATIONS['note_density'])}</td></tr>")
    per_sample = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{similarity[i]:.0%}</td>"
        f"<td>{html.escape(str(novelty.readouts[i].get('verdict', '')) if i < len(novelty.readouts) else '')}</td></tr>"
        for i, label in enumerate(labels))
    return (
        f"{STYLE}<h2>Memorisation vs variety</h2>"
        f"<p><b>Verdict:</b> {html.escape(novelty.summary())}</p>"
        f"<p><b>{novelty.copied} of {novelty.samples}</b> samples copy an excerpt of your music. "
        f"{html.escape(EXPLANATIONS['copied'])}</p>"
        f"<p><b>Mean similarity {mean_similarity:.0%}.</b> {html.escape(EXPLANATIONS['nearest_similarity'])}</p>"
        "<p>The distances below compare the samples with your music; the middle column gives the "
        "same distance for samples of plain MusicVAE (without your music), so a smaller number "
        "on the left means MidiMe moved towards your music.</p>"
        "<table class='figures'><tr><th>measure</th><th>MidiMe samples</th><th>MusicVAE samples</th>"
        "<th></th><th>what it means</th></tr>" + "".join(rows) + "</table>"
        "<table class='figures'><tr><th>sample</th><th>like its most similar excerpt</th>"
        "<th>verdict</th></tr>" + per_sample + "</table>"
    )


# Each bokeh Div renders in its own shadow root, so a Div that needs these styles carries them.
STYLE = """<style>
table.figures { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
table.figures td, table.figures th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left;
  vertical-align: top; }
p { margin: 6px 0; }
</style>"""


def personalization_report(path, *, title: str, inputs: list, samples: list, history: dict,
                           novelty=None, notes: list | None = None, audio: list | None = None) -> Path:
    """Write one self-contained HTML page: input and sample piano rolls (note names, bars, one
    pitch range for all samples), audio players, the loss curve and the novelty readout.

    `inputs` and `samples` are lists of `(label, NoteSequence)`; `audio` one WAV (path or bytes)
    per sample, or None.
    """
    parts = [Div(text=f"<h1>{html.escape(title)}</h1>", width=PAGE_WIDTH)]
    if notes:
        parts.append(Div(text="<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>",
                         width=PAGE_WIDTH))
    parts.append(Div(text="<h2>Your music</h2><p>What the model read of each file (the melody "
                          "line for melody models). Drag or scroll along time; long songs have "
                          "an overview strip below.</p>", width=PAGE_WIDTH))
    parts += [input_roll(seq, title=label) for label, seq in inputs]
    parts.append(Div(text="<h2>Training</h2><p>MidiMe's error, which training lowers: how "
                          "far it is from rebuilding your excerpts (as MusicVAE hears them) "
                          "plus how untidy its small space of styles is (the KL term). The "
                          "curve flattens when MidiMe has learned what it can.</p>", width=PAGE_WIDTH))
    parts.append(loss_figure(history))
    if novelty is not None:
        parts.append(Div(width=PAGE_WIDTH, text=novelty_section(novelty, [label for label, _ in samples])))
    parts.append(Div(text="<h2>Personalized samples</h2><p>All samples share one pitch range, "
                          "so their registers compare at a glance.</p>", width=PAGE_WIDTH))
    shared = pitch_range([seq for _, seq in samples])
    cells = []
    for i, (label, seq) in enumerate(samples):
        fig = piano_roll_figure(seq, title=label, width=PAGE_WIDTH // 2 - 10, y_range=shared)
        player = Div(text=audio_player(audio[i]) if audio else "", width=PAGE_WIDTH // 2 - 10)
        cells.append(column(fig, player))
    parts += [row(*cells[i:i + 2]) for i in range(0, len(cells), 2)]
    page = file_html(column(*parts), INLINE, title)
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
