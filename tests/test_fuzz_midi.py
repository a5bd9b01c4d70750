"""Fuzzing load_midi: random bytes and mutated real MIDI files give a NoteSequence or a MidiError,
never any other exception (and never hang). The number of examples run is printed and recorded
in pytest's cache when it is enabled (`pytest --cache-show 'midime/*'`), for the closing note's figures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midime_widgets import MidiError
from midime_widgets.music import load_midi, to_midi_bytes

from note_seq.protobuf import music_pb2

MIDI_DIR = Path(__file__).parent / "fixtures" / "midi"
SEEDS = [p.read_bytes() for p in sorted(MIDI_DIR.glob("*.mid"))]
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
COUNTS: dict[str, int] = {}


def check(data: bytes, counter: str) -> None:
    COUNTS[counter] = COUNTS.get(counter, 0) + 1
    start = time.perf_counter()
    try:
        seq = load_midi(data)
    except MidiError as exc:
        assert str(exc)  # a message for people, never empty
        COUNTS[counter + ":MidiError"] = COUNTS.get(counter + ":MidiError", 0) + 1
    else:
        COUNTS[counter + ":loaded"] = COUNTS.get(counter + ":loaded", 0) + 1
        assert isinstance(seq, music_pb2.NoteSequence) and len(seq.notes) > 0
        to_midi_bytes(seq)  # whatever loads can also be written back
    assert time.perf_counter() - start < 10, "load_midi took too long"


@st.composite
def mutated_midi(draw):
    """A real MIDI fixture with a few bytes flipped, inserted, deleted, or cut off."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x90, 0xF0, 0xFF]))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    check(data, "random_bytes")


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_behind_a_midi_header(body):
    check(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk" + body, "header_plus_random")


@FUZZ
@given(mutated_midi())
def test_mutated_real_midi(data):
    check(data, "mutated_midi")


@pytest.fixture(scope="module", autouse=True)
def record_counts(request):
    yield
    total = sum(v for k, v in COUNTS.items() if ":" not in k)
    print(f"\nfuzz examples run: {total} {COUNTS}")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider (CI)
    if cache is not None:
        cache.set("midime/fuzz_counts", dict(COUNTS, total=total))
