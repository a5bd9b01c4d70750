"""Windows cut on the song's own bar lines (music.windows) and the Personalizer around them:
any metre, pickups, metre and tempo changes, no time signature; skipped windows are told, not
fatal; samples come back in the song's metre and tempo."""

from __future__ import annotations

from pathlib import Path

import note_seq
import numpy as np
import pytest

from midime_widgets.errors import MidiError, WindowBudgetError
from midime_widgets.models.musicvae import MusicVAE
from midime_widgets.music import load_midi, to_midi_bytes
from midime_widgets.music.converters import DrumsConverter, MelodyConverter
from midime_widgets.music.windows import (
    Metre,
    cut_song,
    find_pickup,
    output_steps,
    phrase_bars,
    sample_lengths,
    song_grid,
    tempo_mark,
)
from midime_widgets.personalize import (
    NoveltyIndex,
    Personalizer,
    note_density,
    novelty_report,
    prepare_song,
    step_grid,
)

MEL = MelodyConverter(2)
MIDI_DIR = Path(__file__).parent / "fixtures" / "midi"
Q = 0.5  # seconds per quarter at 120 qpm


def song(bars, *, metre=(4, 4), qpm=120.0, pickup_steps=0, time_signature=True, rests=()):
    """A melody of `bars` bars of `metre`: a long note on each downbeat, then 8th notes.

    `pickup_steps` 16ths of 8th notes come before the first bar line; bars listed in `rests`
    (1-based) are silent."""
    seq = note_seq.NoteSequence(ticks_per_quarter=220)
    seq.tempos.add(time=0.0, qpm=qpm)
    if time_signature:
        seq.time_signatures.add(time=0.0, numerator=metre[0], denominator=metre[1])
    step = 60.0 / qpm / 4
    bar_steps = Metre(*metre).steps

    def note(start, steps, pitch):
        seq.notes.add(pitch=pitch, velocity=80, start_time=start * step,
                      end_time=(start + steps) * step)

    for s in range(0, pickup_steps, 2):
        note(s, 2, 67)
    for b in range(bars):
        if b + 1 in rests:
            continue
        first = pickup_steps + b * bar_steps
        note(first, 6, 60 + b % 5)
        for s in range(first + 6, first + bar_steps, 2):
            note(s, 2, 72)
    seq.total_time = max(n.end_time for n in seq.notes)
    return seq


def onsets(window):
    labels = np.argmax(window.inputs, axis=-1)
    return [t for t, c in enumerate(labels) if c >= 2]


@pytest.mark.parametrize("metre, bar_steps, bars_per_window", [
    ((4, 4), 16, 2), ((3, 4), 12, 2), ((6, 8), 12, 2), ((2, 4), 8, 4), ((9, 8), 18, 1),
    ((12, 8), 24, 1), ((3, 8), 6, 4), ((5, 4), 20, 1), ((7, 8), 14, 2), ((5, 8), 10, 2),
])
def test_windows_hold_whole_bars_of_any_metre(metre, bar_steps, bars_per_window):
    cut = cut_song(MEL, song(10, metre=metre))
    assert Metre(*metre).steps == bar_steps
    assert cut.metre == Metre(*metre) and not cut.skipped
    assert len(cut.windows) == 10 - bars_per_window + 1  # hop one bar, whole windows only
    for k, w in enumerate(cut.windows):
        assert (w.bar, w.bars, w.steps) == (k + 1, bars_per_window, bars_per_window * bar_steps)
        assert w.start_step == k * bar_steps and w.inputs.shape == (32, 90) and w.length == 32
        assert onsets(w)[0] == 0  # every window opens on a downbeat
        assert np.all(np.argmax(w.inputs[w.steps:], -1) == 0)  # padded with "no event"
        assert w.sequence.time_signatures[0].numerator == metre[0]
    assert output_steps(Metre(*metre), 32) == bars_per_window * bar_steps


def test_sample_lengths_say_the_bars_of_each_common_metre():
    """The command's help names every common metre's sample length from `output_steps` itself:
    a 2-bar model gives 5/4, 9/8, 12/8 and 4/2 one bar, and a 16-bar model 8 bars of 5/4."""
    assert sample_lengths(32) == ("2 bars of 4/4, 3/4, 6/8 or 2/2; 4 bars of 2/4 or 3/8; "
                                  "1 bar of 9/8, 5/4, 12/8 or 4/2")
    assert sample_lengths(256).endswith("8 bars of 9/8, 5/4, 12/8 or 4/2")


def test_windows_hold_phrases_of_1_2_4_8_bars():
    """Five bars of 3/8 fit in 32 steps; a window holds the 4-bar phrase, the song's last too."""
    assert [phrase_bars(n) for n in (0, 1, 2, 3, 5, 8, 21)] == [1, 1, 2, 2, 4, 8, 16]
    cut = cut_song(MEL, song(4, metre=(3, 8)))
    assert [(w.bar, w.bars, w.steps) for w in cut.windows] == [(1, 4, 24)]
    with pytest.raises(MidiError, match="lasts 3 bars of 3/8, and the model reads 4 bars"):
        cut_song(MEL, song(3, metre=(3, 8)))
    assert [w.bars for w in cut_song(MEL, song(10, metre=(3, 8)), rule="bars-padded").windows][:1] == [5]
    sixteen_bars = cut_song(MelodyConverter(16), song(20, metre=(3, 4)))  # 21 bars fit in 256 steps
    assert [(w.bar, w.bars, w.steps) for w in sixteen_bars.windows] == [(k, 16, 192) for k in range(1, 6)]


def test_models_with_8th_note_steps_count_bars_in_their_steps():
    q2 = MelodyConverter(4, steps_per_quarter=2)  # 4 bars of 8 steps
    cut = cut_song(q2, song(10, metre=(6, 8)))
    assert q2.max_steps == 32 and Metre(6, 8).bar_steps(2) == 6
    assert [(w.bars, w.steps, w.start_step) for w in cut.windows[:2]] == [(4, 24, 0), (4, 24, 6)]
    assert output_steps(Metre(6, 8), 32, 2) == 24


def test_song_without_time_signature_is_read_as_4_4():
    cut = cut_song(MEL, song(4, time_signature=False))
    assert cut.metre == Metre(4, 4) and [w.steps for w in cut.windows] == [32, 32, 32]


def test_pickup_is_found_and_becomes_a_bar_that_starts_with_silence():
    seq = song(8, metre=(2, 4), pickup_steps=2)
    _, bars, _ = song_grid(seq)
    assert bars[0].number == 0 and bars[0].start == -6 and bars[1].start == 2
    first = cut_song(MEL, seq).windows[0]
    assert (first.bar, first.start_step) == (0, -6)
    assert onsets(first)[:2] == [6, 8]  # the pickup note sits just before the first bar line
    assert first.start_time == pytest.approx(-6 * Q / 4)


def test_pickup_marked_by_a_restated_time_signature():
    seq = song(6, pickup_steps=4)
    seq.time_signatures.add(time=4 * Q / 4, numerator=4, denominator=4)
    _, bars, _ = song_grid(seq)
    assert (bars[0].start, bars[1].start) == (-12, 4)


def test_a_song_that_starts_after_a_rest_keeps_the_files_bar_lines():
    seq = song(6)
    for n in seq.notes:  # move everything 3 16ths late: the file already places its pickup
        n.start_time += 3 * Q / 4
        n.end_time += 3 * Q / 4
    _, bars, _ = song_grid(seq)
    assert bars[0].start == 0 and bars[0].number == 1


def test_accompaniment_places_the_bar_lines_of_the_melody():
    melody = song(8, pickup_steps=4)  # long notes at step 4 of each 4/4 bar ...
    band = note_seq.NoteSequence()
    band.CopyFrom(melody)
    for b in range(9):  # ... but the chords change on the file's own bar lines
        band.notes.add(pitch=48, velocity=60, start_time=b * 4 * Q, end_time=(b + 1) * 4 * Q,
                       instrument=1, program=48)
    assert song_grid(melody)[1][0].start == 4 - 16
    assert cut_song(MEL, melody, grid_from=band).windows[0].start_step == 0


def test_find_pickup_keeps_bar_one_on_ties_and_prefers_short_pickups():
    even = [(s, 2) for s in range(0, 64, 2)]
    assert find_pickup(even, 16, 64) == 0
    assert find_pickup([(s, 8 if s % 16 == 4 else 2) for s in range(0, 64, 2)], 16, 64) == 4


def test_metre_change_mid_song_keeps_windows_on_bar_lines():
    seq = song(4)  # 4 bars of 4/4, then 6 bars of 3/4
    shift = 4 * 16
    seq.time_signatures.add(time=shift * Q / 4, numerator=3, denominator=4)
    tail = song(6, metre=(3, 4))
    for n in tail.notes:
        seq.notes.add(pitch=n.pitch, velocity=80, start_time=n.start_time + shift * Q / 4,
                      end_time=n.end_time + shift * Q / 4)
    cut = cut_song(MEL, seq)
    starts = [w.start_step for w in cut.windows]
    assert starts == [0, 16, 32, 48, 64, 76, 88, 100, 112]
    assert [w.steps for w in cut.windows][2:5] == [32, 28, 24]  # 4/4 + 3/4 bars still fit
    assert {str(w.metre) for w in cut.windows} == {"4/4", "3/4"}
    assert cut.metre == Metre(3, 4)  # most windows


def test_tempo_change_moves_no_note_off_the_grid():
    steady = song(6)
    changed = song(6)
    change = 2 * 16  # from bar 3 on: half as fast
    seconds = change * Q / 4
    changed.tempos.add(time=seconds, qpm=60.0)
    for n in changed.notes:
        for field in ("start_time", "end_time"):
            t = getattr(n, field)
            if t > seconds:
                setattr(n, field, seconds + 2 * (t - seconds))
    a, b = cut_song(MEL, steady), cut_song(MEL, changed)
    assert [onsets(w) for w in a.windows] == [onsets(w) for w in b.windows]
    assert b.windows[3].start_time == pytest.approx(seconds + 16 * 60.0 / 60.0 / 4)  # bar 4
    assert b.windows[3].qpm == 60.0 and b.qpm == 60.0  # most windows are at 60
    assert a.tempo_change_note() is None
    assert b.tempo_change_note().startswith("The tempo changes within this piece (♩ = 60 to 120).")
    assert b.tempo_change_note().endswith("at one tempo: here ♩ = 60, the tempo most of its excerpts have.")
    assert [tempo_mark(Metre(*m), 120.0) for m in ((4, 4), (3, 8), (6, 8), (12, 8))] == [
        "♩ = 120", "♩ = 120", "♩. = 80", "♩. = 80"]
    assert tempo_mark(Metre(9, 8), 60.0, 120.0) == "♩. = 40 to 80"
    fast = cut_song(MEL, song(4, qpm=1000.0))
    assert fast.odd_tempo_note() == ("Its tempo is ♩ = 1000, far outside the 20 to 400 beats a minute "
                                 "music is played at; the samples take it too, so check the file's "
                                 "tempo if they sound like a blur.")
    assert cut_song(MEL, song(4, qpm=400.0)).notes() == []


def test_silent_windows_are_skipped_and_told_with_their_bars():
    cut = cut_song(MEL, song(12, rests=(5, 6, 7, 8)))
    assert [s.bar for s in cut.skipped] == [5, 6, 7]
    assert len(cut.windows) == 11 - 3
    text = cut.warning()
    assert text == ("3 of 11 excerpts were left out because they are silent (rests only): the "
                    "excerpts starting at bars 5, 6 and 7.")


def test_windows_that_only_hold_a_note_are_told_as_such_not_as_silent():
    """A note held over bars 5-8: the windows inside it hear no new note; they are not rests."""
    seq = song(12, rests=(5, 6, 7, 8))
    held = 4 * 16 * Q / 4  # bar 5, in seconds (4/4 at 120: 16 sixteenths of Q / 4)
    seq.notes.add(pitch=62, velocity=80, start_time=held - Q, end_time=held + 4 * 4 * Q)
    cut = cut_song(MEL, seq)
    assert [s.bar for s in cut.skipped] == [5, 6, 7]
    assert cut.warning() == ("3 of 11 excerpts were left out because no note starts in them (they "
                             "only hold a note from before): the excerpts starting at bars 5, 6 and 7.")


def test_a_song_too_long_for_memory_is_read_from_its_start(monkeypatch):
    """Excerpts are cut from the first bars that fit `WINDOW_BYTES`, and the song's
    note says so; without the bound a long enough song would cut windows until memory ran out."""
    from midime_widgets.music import windows

    per_window = MEL.max_steps * MEL.output_depth * 4  # one tensor: the input is the output
    monkeypatch.setattr(windows, "WINDOW_BYTES", 10 * per_window)
    assert windows.max_windows(MEL, MEL.max_steps) == 10
    cut = cut_song(MEL, song(40))
    assert cut.bars_cut == (10, 40)
    assert [w.bar for w in cut.windows] == list(range(1, 10))  # the 10th needs bar 11
    assert cut.warning() == ("This piece has 40 bars; excerpts are cut from its first 10 only "
                             "(more would not fit in memory), far more than MidiMe needs to "
                             "learn its style.")
    assert cut_song(MEL, song(10)).bars_cut == ()


def test_songs_learnt_from_together_share_one_window_budget(monkeypatch, vae):
    """Memory is bounded per model, not per file: six files at the limits used to take 3.2 GB.
    A song that comes after others is read up to the windows they leave free; one that would add
    none is refused in a sentence and the others stay as they were."""
    from midime_widgets.music import windows

    per_window = MEL.max_steps * MEL.output_depth * 4
    monkeypatch.setattr(windows, "WINDOW_BYTES", 12 * per_window)
    cut = cut_song(MEL, song(10), window_budget=4)
    assert cut.bars_cut == (4, 10) and cut.shared_budget
    assert "(more would not fit in memory beside your other music)" in cut.warning()
    p = Personalizer(vae)
    first = p.add_midi(song(10), name="first")
    assert len(first.windows) == 9 and p.window_budget() == 3
    second = p.add_midi(song(10), name="second")
    assert len(second.windows) == 2  # bars 1-3 read; the window of bars 3-4 needs bar 4
    assert any("first 3 only (more would not fit in memory beside your other music)" in w
               for w in second.warnings)
    with pytest.raises(MidiError, match="Your other files already give the most excerpts"):
        p.add_midi(song(10), name="third")
    assert [s.name for s in p.songs] == ["first", "second"]
    # a song whose first bars (all the budget leaves) are rests is refused for the budget
    p.remove(1)
    with pytest.raises(WindowBudgetError, match="Your other files already give"):
        p.add_midi(song(10, rests=(1, 2, 3, 4)), name="starts with rests")
    # reading song 1 again (another melody track) does not count its own windows against it
    assert len(p.choose_instrument(0, None).windows) == 9


def test_a_trio_too_long_for_memory_keeps_its_first_bars(monkeypatch):
    """A trio window holds 16 bars of three parts (700 KB): only 142 fit the budget, about five
    minutes of 4/4 at 120; a longer song's notes after them are dropped before windowing."""
    from midime_widgets.music import windows
    from midime_widgets.music.converters import TrioConverter

    trio = TrioConverter(16)
    seq = load_midi(MIDI_DIR / "song_trio.mid")  # 20 bars: 5 windows of 16 bars, two sets of parts
    assert windows.max_windows(trio, trio.max_steps) == 142
    whole = cut_song(trio, seq)
    assert whole.bars_cut == () and len(whole.windows) == 10
    per_window = trio.max_steps * trio.output_depth * 4
    monkeypatch.setattr(windows, "WINDOW_BYTES", 17 * per_window)
    cut = cut_song(trio, seq)
    assert cut.bars_cut == (17, 20)
    assert len(cut.windows) == 4  # windows from bars 1 and 2, in each of the two sets of parts
    assert cut.warning().startswith("This piece has 20 bars; excerpts are cut from its first 17")
    # every (melody, bass, drums) set of parts gives a window per bar: the limit counts windows
    longer = note_seq.NoteSequence()
    for k in range(3):  # 60 bars, two sets of parts
        for n in seq.notes:
            longer.notes.add().CopyFrom(n)
            longer.notes[-1].start_time += k * seq.total_time
            longer.notes[-1].end_time += k * seq.total_time
    longer.total_time = 3 * seq.total_time
    longer.tempos.add(qpm=seq.tempos[0].qpm if seq.tempos else 120.0)
    monkeypatch.setattr(windows, "WINDOW_BYTES", 40 * per_window)
    assert len(cut_song(trio, longer).windows) == 40
    with pytest.raises(WindowBudgetError, match="Your other files already give"):
        cut_song(trio, longer, window_budget=10)  # too few bars left for one 16-bar window


def test_silent_and_held_windows_are_told_apart_over_a_long_song():
    """Which windows hold only rests and which only a held note is read from one table of the
    steps any note covers (each window used to scan every note of the song)."""
    from midime_widgets.music.windows import HELD_ONLY, SILENT

    seq = song(300, rests=tuple(range(101, 300)))  # 100 bars of music, 199 silent bars, 1 more
    bar = 16 * Q / 4  # seconds of a 4/4 bar at 120
    seq.notes.add(pitch=62, velocity=80, start_time=150 * bar, end_time=160 * bar)  # bars 151-160
    cut = cut_song(MEL, seq)
    reasons = {s.bar: s.reason for s in cut.skipped}
    assert [w.bar for w in cut.windows] == list(range(1, 101)) + [150, 151, 299]
    assert reasons[101] == reasons[149] == reasons[161] == reasons[298] == SILENT
    assert reasons[152] == reasons[160] == HELD_ONLY
    assert len(reasons) == 299 - 103


def test_drum_windows_without_known_drums_are_skipped():
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=120)
    for s in range(0, 16 * 6, 4):
        pitch = 36 if s < 16 * 3 else 20  # pitch 20 is no drum the model knows
        seq.notes.add(pitch=pitch, velocity=80, start_time=s * Q / 4, end_time=(s + 1) * Q / 4,
                      is_drum=True, instrument=9)
    cut = cut_song(DrumsConverter(2), seq)
    assert [w.bar for w in cut.windows] == [1, 2, 3] and [s.bar for s in cut.skipped] == [4, 5]
    assert cut.warning().startswith("2 of 5 excerpts were left out because they hold no drum")


def test_a_song_fails_only_when_no_window_is_left():
    with pytest.raises(MidiError, match="lasts 1 bar of 4/4"):
        cut_song(MEL, song(1))
    with pytest.raises(MidiError, match="window"):
        cut_song(MEL, note_seq.NoteSequence())


def test_magenta_converter_stays_exact():
    """The user-facing cut is separate: magenta's windows still read 4/4 only."""
    with pytest.raises(MidiError, match="4/4"):
        MEL.windows(song(8, metre=(6, 8)))
    assert len(MEL.windows(song(8))) == 7


# -- the Personalizer ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vae():
    return MusicVAE.default()


@pytest.fixture(scope="module")
def jig(vae):
    p = Personalizer(vae, seed=0)
    song_ = p.add_midi(song(12, metre=(6, 8), qpm=90.0, pickup_steps=2), name="jig")
    p.fit(epochs=5)
    return p, song_


def test_personalizer_accepts_a_jig_and_records_its_metre(jig):
    p, song_ = jig
    assert str(song_.metre) == "6/8" and song_.qpm == 90.0 and song_.skipped == []
    assert p.output_metre() == (Metre(6, 8), 90.0) and p.output_steps() == 24


def test_samples_round_trip_through_midi_in_the_songs_metre_and_tempo(jig, tmp_path):
    p, _ = jig
    samples = p.sample(3, seed=1)
    path = tmp_path / "sample.mid"
    note_seq.sequence_proto_to_midi_file(samples[0].sequence, str(path))
    back = load_midi(path)
    assert [(t.numerator, t.denominator) for t in back.time_signatures] == [(6, 8)]
    assert back.tempos[0].qpm == pytest.approx(90.0, abs=0.01)
    step = 60.0 / 90.0 / 4
    assert all(n.end_time <= 24 * step + 1e-6 for s in samples for n in s.sequence.notes)
    assert all(s.tensor.shape == (24, 90) for s in samples)
    again = load_midi(to_midi_bytes(samples[1].sequence))  # what the CLI and panel write
    assert [(t.numerator, t.denominator) for t in again.time_signatures] == [(6, 8)]
    assert again.tempos[0].qpm == pytest.approx(90.0, abs=0.01)


def test_novelty_compares_windows_and_samples_on_the_same_grid(jig):
    p, _ = jig
    index = NoveltyIndex(p.windows)
    decoded = p.decode(p.input_positions()[:2])
    for sample in decoded:
        assert len(step_grid(sample.sequence)) <= 24
    window = p.windows[3]
    assert index.score(window.sequence).copied
    assert len(step_grid(window.sequence)) <= 24


def test_a_hierarchical_models_samples_hold_the_phrase_its_windows_hold():
    """A 4-bar hierarchical model reads 4 bars of 3/4 (5 would fit); its samples are those 4
    bars, the rest of what the decoder decodes cut off, the prior's samples too."""
    from midime_widgets.models.configs import CONFIGS

    config = CONFIGS["hierdec-mel_16bar"].replace(
        name="small-hierdec", enc_rnn_sizes=(8,), dec_rnn_sizes=(6,), z_size=4, max_seq_len=64,
        level_lengths=(4, 16))
    p = Personalizer(MusicVAE.from_config(config, seed=0), seed=0)
    p.add_midi(song(8, metre=(3, 4)), name="waltz")
    assert {(w.bars, w.steps, w.length) for w in p.windows} == {(4, 48, 64)}
    assert p.output_steps() == 48
    p.fit(epochs=2)
    step = 60.0 / 120.0 / 4
    for sample in p.sample(2, seed=0):
        assert sample.tensor.shape == (48, 90)
        assert all(n.end_time <= 48 * step + 1e-6 for n in sample.sequence.notes)
    prior = p.prior_samples(2, seed=0)
    assert all(n.end_time <= 48 * step + 1e-6 for s in prior for n in s.notes)


def test_notes_per_bar_count_bars_of_the_songs_metre(vae):
    """A 3/8 window holds 4 bars in 24 of its 32 steps: its density is per bar of 3/8, so a
    musician reads the same figure off the score; samples and prior samples alike."""
    p = Personalizer(vae, seed=0)
    p.add_midi(song(8, metre=(3, 8)), name="slide")
    per_bar = {len(w.sequence.notes) / w.bars for w in p.windows}
    assert len(per_bar) == 1 and {(w.bars, w.steps) for w in p.windows} == {(4, 24)}
    index = NoveltyIndex(p.windows)
    assert index.density == pytest.approx(per_bar.pop())
    p.fit(epochs=2)
    samples = p.sample(4, seed=0)
    expected = sum(len(s.sequence.notes) for s in samples) / (4 * 4)  # 4 samples of 4 bars
    assert note_density(samples) == pytest.approx(expected)
    prior = p.prior_samples(4, seed=0)
    report = novelty_report(index, samples, prior)
    assert report.prior_note_density == pytest.approx(sum(len(s.notes) for s in prior) / 16)


def test_drum_model_refuses_a_song_without_drums_in_one_sentence():
    drums = MusicVAE.from_config("cat-drums_2bar_small")
    with pytest.raises(MidiError, match="^This song has no drum track"):
        prepare_song(drums, song(4), name="tune")
    assert len(prepare_song(drums, _drum_song(), name="beat").windows) == 5


def _drum_song():
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=120)
    for s in range(0, 16 * 6, 2):
        seq.notes.add(pitch=42 if s % 4 else 36, velocity=80, start_time=s * Q / 4,
                      end_time=(s + 1) * Q / 4, is_drum=True, instrument=9)
    return seq


def test_failed_add_leaves_the_personalizer_unchanged(vae):
    p = Personalizer(vae)
    p.add_midi(song(6), name="ok")
    before = len(p.windows)
    with pytest.raises(MidiError) as err:
        p.add_midi(song(1), name="short")
    assert len(p.songs) == 1 and len(p.windows) == before
    assert str(err.value)[0].isupper()  # a sentence a caller can prefix with the file name


def test_skipped_windows_reach_the_songs_warnings(vae):
    p = Personalizer(vae)
    added = p.add_midi(song(12, rests=(5, 6, 7, 8)), name="with rests")
    assert len(added.skipped) == 3
    assert any("3 of 11 excerpts were left out" in w for w in added.warnings)
    # Windows that end in rests (bars 4-5) re-cut by magenta's converter give no window; the
    # windows carry their tensors, so every one of them is encoded.
    _, mu, _ = vae.encode(added.windows)
    assert mu.shape == (8, vae.config.z_size) and np.all(np.isfinite(mu))
    np.testing.assert_allclose(mu, p.codes(), atol=1e-4)


def test_bars_shorter_than_a_quarter_are_notation_leftovers_and_ignored():
    """A 1/16 time signature mid-tune (left by a notation export around grace notes) must not
    cut the rest of a 3/4 tune into one-step windows: it keeps its 3/4 bars."""
    waltz = song(12, metre=(3, 4))
    waltz.time_signatures.add(time=8 * 3 * Q, numerator=1, denominator=16)
    cut = cut_song(MEL, waltz)
    plain = cut_song(MEL, song(12, metre=(3, 4)))
    assert len(cut.windows) == len(plain.windows) == 11
    assert {w.steps for w in cut.windows} == {24} and str(cut.metre) == "3/4"
