"""Pitch names: B♭ rather than A♯ without a key, the key signature's accidentals with one."""

import note_seq

from midime_widgets.music.pitch import COMMON, FLATS, SHARPS, pitch_name, spelling


def _with_key(key: int, mode: int = 0) -> note_seq.NoteSequence:
    seq = note_seq.NoteSequence()
    seq.key_signatures.add(time=0.0, key=key, mode=mode)
    return seq


def test_pitch_names_with_octaves():
    assert [pitch_name(p) for p in (60, 61, 63, 70, 21, 108)] == ["C4", "C♯4", "E♭4", "B♭4", "A0", "C8"]
    assert pitch_name(70, SHARPS) == "A♯4" and pitch_name(61, FLATS) == "D♭4"


def test_spelling_follows_the_key_signature():
    assert spelling(note_seq.NoteSequence()) is COMMON
    assert spelling(_with_key(0)) is COMMON and spelling(_with_key(9, mode=1)) is COMMON  # C / a
    assert spelling(_with_key(2)) is SHARPS and spelling(_with_key(4, mode=1)) is SHARPS  # D / e
    assert spelling(_with_key(3)) is FLATS and spelling(_with_key(2, mode=1)) is FLATS  # E♭ / d
    assert pitch_name(66, spelling(_with_key(3, mode=1))) == "G♭4"  # e♭ minor: six flats


def test_report_piano_rolls_name_notes_in_the_music_s_key():
    from midime_widgets.report import _roll_source

    seq = _with_key(2)  # D major
    seq.tempos.add(qpm=120)
    for i, pitch in enumerate((66, 70)):
        seq.notes.add(pitch=pitch, velocity=80, start_time=i * 0.5, end_time=i * 0.5 + 0.5)
    seq.total_time = 1.0
    source, _, _ = _roll_source(seq, 60)
    assert source.data["name"] == ["F♯4", "A♯4"]
    del seq.key_signatures[:]
    assert _roll_source(seq, 60)[0].data["name"] == ["F♯4", "B♭4"]


def _melody(pitches, lengths=None):
    seq = note_seq.NoteSequence()
    t = 0.0
    for i, pitch in enumerate(pitches):
        length = lengths[i] if lengths else 0.5
        seq.notes.add(pitch=pitch, velocity=80, start_time=t, end_time=t + length)
        t += length
    return seq


def test_estimate_key_names_the_key_the_notes_suggest():
    from midime_widgets.music.pitch import estimate_key

    c_major = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]
    assert estimate_key(_melody(c_major, [1, .5, .5, .5, 1, .5, .5, 1, .5, .5, 2])) == "C major"
    a_minor = [69, 71, 72, 74, 76, 72, 69, 64, 69]
    assert estimate_key(_melody(a_minor, [2, .5, 1, .5, 1, .5, 2, 1, 2])) == "A minor"
    assert estimate_key(_melody([66, 68, 70, 71, 73, 75, 77, 78, 73, 66], [2, .5, .5, .5, 1, .5, .5, 2, 1, 2])) \
        == "F♯ major"
    assert estimate_key(_melody(list(range(60, 72)))) is None  # all twelve alike: no key
    drums = _melody([36, 38])
    for note in drums.notes:
        note.is_drum = True
    assert estimate_key(drums) is None and estimate_key(note_seq.NoteSequence()) is None
