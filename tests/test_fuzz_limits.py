"""Every class of hostile MIDI file loads and is cut into excerpts (or is refused with a
MidiError) within the limits.

Each file is loaded in a child process watched from here (tests/midi_watch.py): more than 10 s of
processor time, or more than 1 GB of memory above the child's size before the load, fails the
test, as does a crash or any exception other than MidiError.
"""

from __future__ import annotations

import random
import sys

import pytest

import midi_watch
from midi_watch import HOSTILE, Watcher

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the watcher reads /proc/<pid>/status and clear_refs")

# (outcome, words the MidiError must contain / what the loaded file must hold)
EXPECTED = {
    "huge_delta": ("MidiError", "the longest piece we read is 3 hours"),
    "million_notes": ("MidiError", "more than 100,000 notes"),
    "controller_storm": ("loaded", "1 notes"),
    "two_hour_melody": ("loaded", "57600 notes, 7200.0 s"),
    "format_2": ("loaded", "48 notes, 11.9 s"),
    "smpte": ("loaded", "16 notes, 7.9 s"),
    "zero_length_notes": ("MidiError", "zero length"),
    "fourteen_hours": ("MidiError", "14.0 hours long"),
    "truncated": ("MidiError", "cut off"),
    "absurd_tempo": ("MidiError", "16,384,500 beats long"),
    "tiny_bars": ("loaded", "excerpts are cut from its first 8,738 only"),
    "damaged_settings": ("loaded", "a tempo of zero, a damaged tempo, an impossible time "
                         "signature (0/4), "
                         "a damaged key signature and a system-exclusive message (1.5 MB of "
                         "settings for one instrument). Its notes are read as written."),
    "empty_track_length": ("MidiError", "contains no notes"),
    "tempo_storm": ("loaded", "200 notes"),
    "damaged_in_many_tracks": ("loaded", "63,000 damaged tempos"),
}


@pytest.fixture(scope="module")
def watcher():
    with Watcher() as w:
        yield w


def test_every_hostile_class_is_covered():
    assert set(EXPECTED) == set(HOSTILE)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_within_limits(watcher, name):
    outcome = watcher.run(HOSTILE[name]())
    kind, words = EXPECTED[name]
    assert outcome.kind == kind, outcome
    assert words in outcome.detail, outcome
    assert outcome.within_limits
    assert not midi_watch.PYTHON_TEXT.search(outcome.detail), outcome


def test_watcher_catches_a_load_over_the_memory_limit():
    """The watcher itself works: a tiny memory limit flags an ordinary load."""
    strict = Watcher(memory_limit=1 << 20)
    with strict:
        outcome = strict.run(midi_watch.long_melody_file(hours=0.5))
    assert outcome.kind == "over_memory" and not outcome.within_limits


def _mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        pos = rng.randrange(len(data))
        op = rng.random()
        if op < 0.4:
            data[pos] = rng.randrange(256)
        elif op < 0.7:
            data[pos:pos] = rng.choice((b"\xff\xff\xff\x7f", b"\x80" * 6, b"\x00\xb0\x07"))
        else:
            del data[pos:]
    return bytes(data)


def test_mutated_hostile_files_stay_within_limits(watcher):
    rng = random.Random(13)
    small = [make() for name, make in HOSTILE.items()
             if name not in ("million_notes", "two_hour_melody")]
    outcomes = [watcher.run(_mutate(rng, rng.choice(small))) for _ in range(40)]
    bad = [o for o in outcomes if o.kind not in ("loaded", "MidiError")]
    assert not bad, bad
