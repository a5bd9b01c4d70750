"""Drum-track extraction with the semantics of magenta's `drum_pipelines.extract_drum_tracks`.

Our own loop over note_seq's `DrumTrack.from_quantized_sequence`, so magenta itself is never a
dependency. The 9 reduced drum classes are note_seq's `DEFAULT_DRUM_TYPE_PITCHES` (what magenta
calls REDUCED_DRUM_PITCH_CLASSES).
"""

from __future__ import annotations

import note_seq
from note_seq import drums_encoder_decoder
from note_seq.protobuf import music_pb2

from .quantize import fit_length, next_search_start, steps_per_bar_of

NoteSequence = music_pb2.NoteSequence

#: The 9 classes: kick, snare, closed hi-hat, open hi-hat, low tom, mid tom, high tom, crash, ride.
REDUCED_DRUM_PITCH_CLASSES: list[list[int]] = [
    list(p) for p in drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES
]
#: pitch -> class index for the reduced classes.
DRUM_PITCH_TO_CLASS: dict[int, int] = {
    p: i for i, pitches in enumerate(REDUCED_DRUM_PITCH_CLASSES) for p in pitches
}
#: The pitch written back for each class when decoding (the first pitch of each class).
DRUM_EXEMPLAR_PITCHES: list[int] = [pitches[0] for pitches in REDUCED_DRUM_PITCH_CLASSES]


def map_drums_to_classes(qseq: NoteSequence, pitch_class_map=None) -> None:
    """Keep only drum notes with a known pitch, replacing the pitch by its class index (in place).

    Same as magenta's DrumsConverter: non-drum notes and unknown drum pitches are dropped.
    """
    pitch_class_map = DRUM_PITCH_TO_CLASS if pitch_class_map is None else pitch_class_map
    kept = []
    for note in qseq.notes:
        if note.is_drum and note.pitch in pitch_class_map:
            note.pitch = pitch_class_map[note.pitch]
            kept.append(note)
    del qseq.notes[:]
    qseq.notes.extend(kept)


def extract_drum_tracks(
    qseq: NoteSequence,
    *,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: int | None = None,
    max_steps_discard: int | None = None,
    gap_bars: float = 1.0,
    pad_end: bool = False,
    ignore_is_drum: bool = False,
) -> list[note_seq.DrumTrack]:
    """All drum tracks of a quantized sequence, split at silences of `gap_bars` bars.

    One drum track may span several MIDI tracks; searching restarts at the bar after each track
    ends. Tracks shorter than `min_bars` are dropped, longer ones truncated (to a bar boundary when
    `pad_end`) or discarded, exactly like magenta.
    """
    steps_per_bar = steps_per_bar_of(qseq)
    tracks = []
    start = search_start_step
    while True:
        track = note_seq.DrumTrack()
        track.from_quantized_sequence(
            qseq,
            search_start_step=start,
            gap_bars=gap_bars,
            pad_end=pad_end,
            ignore_is_drum=ignore_is_drum,
        )
        start = next_search_start(track.end_step, search_start_step, steps_per_bar)
        if not track:
            break
        if fit_length(track, min_bars=min_bars, max_steps_discard=max_steps_discard,
                      max_steps_truncate=max_steps_truncate, pad_end=pad_end):
            tracks.append(track)
    return tracks
