"""Static bokeh views: piano rolls, loss curves, and the self-contained personalization report.

Everything renders with bokeh's inline resources, so the HTML opens offline.
"""

from __future__ import annotations

import html
from pathlib import Path

from bokeh.embed import file_html
from bokeh.layouts import column, gridplot
from bokeh.models import ColumnDataSource, Div
from bokeh.plotting import figure
from bokeh.resources import INLINE

# One colour per instrument lane (melody, bass, drums, others), colour-blind friendly.
TRACK_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
DRUM_COLOUR = "#d62728"


def piano_roll_figure(seq, *, title: str = "", width: int = 420, height: int = 180):
    """A bokeh piano roll of a NoteSequence: pitched notes by instrument, drums in their own lane."""
    data = {"start": [], "end": [], "pitch": [], "colour": [], "velocity": []}
    pitched = [n.pitch for n in seq.notes if not n.is_drum]
    drum_lane = (min(pitched) - 4) if pitched else 30
    for n in seq.notes:
        data["start"].append(n.start_time)
        data["end"].append(n.end_time if n.end_time > n.start_time else n.start_time + 0.1)
        data["pitch"].append(drum_lane - (n.pitch % 3) if n.is_drum else n.pitch)
        data["colour"].append(DRUM_COLOUR if n.is_drum else TRACK_COLOURS[n.instrument % len(TRACK_COLOURS)])
        data["velocity"].append(n.velocity)
    fig = figure(title=title, width=width, height=height, tools="xpan,xwheel_zoom,reset,hover",
                 tooltips=[("pitch", "@pitch"), ("start", "@start{0.00}s"), ("velocity", "@velocity")],
                 x_axis_label="seconds", y_axis_label="pitch")
    fig.quad(left="start", right="end", bottom="pitch", top=_plus_one("pitch"), fill_color="colour",
             line_color=None, source=ColumnDataSource(data))
    if data["pitch"]:  # at least an octave and a half of context, so one held note isn't a block
        low, high = min(data["pitch"]), max(data["pitch"]) + 1
        pad = max(0, 18 - (high - low)) / 2
        fig.y_range.start, fig.y_range.end = low - pad - 1, high + pad + 1
    fig.toolbar.logo = None
    return fig


def _plus_one(field):
    from bokeh.transform import dodge

    return dodge(field, 0.9)


def loss_figure(history: dict, *, width: int = 860, height: int = 220):
    """Total, reconstruction and KL loss per epoch."""
    total = list(history.get("total", []))
    epochs = list(range(1, len(total) + 1))
    fig = figure(title="MidiMe training loss", width=width, height=height, x_axis_label="epoch",
                 y_axis_label="loss", y_axis_type="log" if total and min(total) > 0 else "linear")
    colours = {"total": "#333333", "reconstruction": "#1f77b4", "kl": "#ff7f0e"}
    for key, colour in colours.items():
        values = list(history.get(key, []))
        if values:
            fig.line(epochs[: len(values)], values, legend_label=key, color=colour, line_width=2)
    if total:
        fig.legend.location = "top_right"
    fig.toolbar.logo = None
    return fig


def personalization_report(path, *, title: str, inputs: list, samples: list, history: dict,
                           novelty=None, notes: list | None = None, audio: list | None = None) -> Path:
    """Write one self-contained HTML page: input and sample piano rolls, loss curve, novelty.

    `inputs` and `samples` are lists of `(label, NoteSequence)`.
    """
    parts = [Div(text=f"<h1>{html.escape(title)}</h1>")]
    if notes:
        parts.append(Div(text="<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>", width=860))
    parts.append(Div(text="<h2>Your music</h2>"))
    parts.append(gridplot([piano_roll_figure(s, title=label) for label, s in inputs], ncols=2))
    parts.append(Div(text="<h2>Training</h2>"))
    parts.append(loss_figure(history))
    if novelty is not None:
        rows = "".join(
            f"<tr><td>{label}</td><td>{novelty.nearest_similarity[i]:.0%}</td></tr>"
            for i, (label, _) in enumerate(samples)
        )
        parts.append(Div(width=860, text=(
            "<h2>Memorisation vs variety</h2>"
            f"<p>{html.escape(novelty.summary())}</p>"
            "<table><tr><th>sample</th><th>similarity to nearest input window</th></tr>" + rows + "</table>")))
    parts.append(Div(text="<h2>Personalized samples</h2>"))
    parts.append(gridplot([piano_roll_figure(s, title=label) for label, s in samples], ncols=2))
    page = file_html(column(*parts), INLINE, title)
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
