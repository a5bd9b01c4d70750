"""Bundled example MIDI files (public-domain tunes from music21's corpus; see
scripts/make_examples.py): offline material for the CLI, the panel and the notebooks."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
DESCRIPTIONS = {
    "folk_reel": "Arkansas Traveller (reel), melody only",
    "folk_band": "Blackberry Blossom (reel) with bass, chords and drums — a multi-track song",
    "bach_chorale": "J.S. Bach chorale BWV 244.10, four voices",
}
DEFAULT_EXAMPLES = ("folk_band",)


def names() -> list[str]:
    return sorted(DESCRIPTIONS)


def path(name: str) -> Path:
    """The file of a bundled example (by name, with or without `.mid`)."""
    stem = name[:-4] if name.endswith(".mid") else name
    if stem not in DESCRIPTIONS:
        raise KeyError(f"No bundled example {name!r}; choose from {', '.join(names())}.")
    return HERE / f"{stem}.mid"


def read(name: str) -> bytes:
    return path(name).read_bytes()
