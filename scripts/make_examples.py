"""Regenerate the bundled example MIDI files in midime_widgets/examples/ (public-domain tunes from
music21's corpus; bass, drums and chords added programmatically). Run by hand:

    python scripts/make_examples.py
"""

from pathlib import Path

import note_seq
from note_seq.protobuf.music_pb2 import NoteSequence

from midime_widgets.training.corpus import score_to_sequences

OUT = Path(__file__).resolve().parents[1] / "midime_widgets" / "examples"
BAR = 2.0  # seconds per 4/4 bar at 120 qpm


def tune(name: str, index: int = 0, *, parts: bool = False):
    from music21 import corpus

    parsed = corpus.parse(name)
    score = list(parsed.scores)[index] if hasattr(parsed, "scores") else parsed
    return score_to_sequences(score, all_parts=parts)


def band(melody: NoteSequence, bars: int) -> NoteSequence:
    """Melody (flute) + bass on each bar's first melody note + drums + sustained chord pad."""
    seq = NoteSequence()
    seq.CopyFrom(melody)
    del seq.notes[:]
    seq.instrument_infos.add(instrument=0, name="Melody")
    seq.instrument_infos.add(instrument=1, name="Bass")
    seq.instrument_infos.add(instrument=2, name="Chords")
    seq.instrument_infos.add(instrument=9, name="Drums")
    tune_bars = max(1, int(round(melody.total_time / BAR)))
    for repeat in range(0, bars, tune_bars):  # play the tune again until the band stops
        for n in melody.notes:
            start = n.start_time + repeat * BAR
            if start < bars * BAR:
                m = seq.notes.add()
                m.CopyFrom(n)
                m.start_time, m.end_time = start, min(n.end_time + repeat * BAR, bars * BAR)
                m.instrument, m.program, m.velocity = 0, 0, 96
    for bar in range(bars):
        t0 = bar * BAR
        in_bar = [n.pitch for n in seq.notes if n.instrument == 0 and t0 <= n.start_time < t0 + BAR] or [60]
        root = in_bar[0] % 12 + 36
        for beat in range(4):
            seq.notes.add(pitch=root if beat % 2 == 0 else root + 7, velocity=90, start_time=t0 + beat * 0.5,
                          end_time=t0 + beat * 0.5 + 0.45, instrument=1, program=33)
        for offset in (0, 4, 7):
            seq.notes.add(pitch=root + 12 + offset, velocity=60, start_time=t0, end_time=t0 + BAR,
                          instrument=2, program=48)
        for eighth in range(8):
            t = t0 + eighth * 0.25
            seq.notes.add(pitch=42, velocity=70, start_time=t, end_time=t + 0.1, instrument=9, is_drum=True)
            if eighth in (0, 4):
                seq.notes.add(pitch=36, velocity=100, start_time=t, end_time=t + 0.1, instrument=9, is_drum=True)
            if eighth in (2, 6):
                seq.notes.add(pitch=38, velocity=95, start_time=t, end_time=t + 0.1, instrument=9, is_drum=True)
    seq.total_time = bars * BAR
    return seq


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    reel = tune("ryansMammoth/ArkansasTravellerReel")[0]
    note_seq.sequence_proto_to_midi_file(reel, str(OUT / "folk_reel.mid"))
    hornpipe = tune("ryansMammoth/BlackberryBlossomReel")[0]
    note_seq.sequence_proto_to_midi_file(band(hornpipe, 20), str(OUT / "folk_band.mid"))
    voices = tune("bach/bwv244.10", parts=True)
    chorale = NoteSequence()
    chorale.CopyFrom(voices[0])
    del chorale.notes[:]
    for k, v in enumerate(voices):
        chorale.instrument_infos.add(instrument=k, name=["Soprano", "Alto", "Tenor", "Bass"][k % 4])
        for n in v.notes:
            m = chorale.notes.add()
            m.CopyFrom(n)
            m.instrument, m.program = k, 52
    chorale.total_time = max(v.total_time for v in voices)
    note_seq.sequence_proto_to_midi_file(chorale, str(OUT / "bach_chorale.mid"))
    for f in sorted(OUT.glob("*.mid")):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
