"""The personalization pipeline, offline on the embedded default model (its command line:
test_personalize_cli.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import note_seq
import numpy as np
import pytest

from midime_widgets import examples
from midime_widgets.errors import MidiError, TrainingError
from midime_widgets.models.musicvae import MusicVAE
from midime_widgets.music.converters import MelodyConverter
from midime_widgets.personalize import NoveltyIndex, Personalizer, novelty_report, summarize

MIDI_FIXTURES = Path(__file__).parent / "fixtures" / "midi"


@pytest.fixture(scope="module")
def vae():
    return MusicVAE.default()


@pytest.fixture(scope="module")
def trained(vae):
    p = Personalizer(vae, seed=0)
    p.add_midi(examples.path("folk_band"))
    p.fit(epochs=60)
    return p


def test_multitrack_song_uses_the_melody_track_and_says_why(vae):
    p = Personalizer(vae)
    song = p.add_midi(examples.path("folk_band"))
    assert song.melody_choice.name == "Melody"
    assert "melod" in song.melody_choice.reason.lower()
    assert len(song.windows) >= 10
    assert all(not n.is_drum for n in song.sequence.notes)
    assert len({n.instrument for n in song.sequence.notes}) == 1


def test_user_can_override_the_melody_track(vae):
    p = Personalizer(vae)
    song = p.add_midi(examples.path("folk_band"), instrument=1)  # the bass line
    pitches = [n.pitch for n in song.sequence.notes]
    assert max(pitches) < 60


def test_codes_are_musicvae_mu_of_every_window(vae):
    p = Personalizer(vae)
    song = p.add_midi(examples.path("folk_reel"))
    codes = p.codes()
    assert codes.shape == (len(song.windows), vae.config.z_size)
    _, mu, _ = vae.encode([song.windows[0], song.windows[-1]])  # windows carry their tensors
    np.testing.assert_allclose(codes[[0, -1]], mu, atol=1e-4)


def test_training_sampling_and_novelty(trained, vae):
    assert trained.history.epochs_run == 60
    assert trained.history["total"][-1] < trained.history["total"][0]
    samples = trained.sample(8, seed=3, temperature=0)
    assert len(samples) == 8
    assert all(s.tensor.shape == (32, 90) for s in samples)
    assert all(len(s.sequence.notes) > 0 for s in samples)
    report = trained.novelty(samples, prior_samples=16)
    assert report.samples == 8 and 0 <= report.copied <= 8
    assert all(0.0 <= s <= 1.0 for s in report.nearest_similarity)
    # MidiMe's samples sit in the input's region of MusicVAE's space: closer to the input's
    # pitch classes than MusicVAE's own prior samples.
    assert report.pitch_class_distance < report.prior_pitch_class_distance
    assert "copy an excerpt of your music" in report.summary()


def test_novelty_takes_prior_samples_drawn_beforehand(trained):
    """The CLI draws MusicVAE's own samples while MidiMe trains: passed in, they give the
    report novelty() would have drawn itself with the same seed."""
    samples = trained.sample(4, seed=5)
    prior = trained.prior_samples(6, seed=7)
    assert len(prior) == 6 and all(len(p.notes) for p in prior)
    _, qpm = trained.output_metre()
    seconds = trained.output_steps() * 60.0 / qpm / 4  # shaped like the samples
    assert all(n.end_time <= seconds + 1e-6 for p in prior for n in p.notes)
    # each lasts its whole length, closing rests included
    assert all(x.total_time == pytest.approx(seconds) for x in [*prior, *(s.sequence for s in samples)])
    assert all(p.tempos[0].qpm == qpm for p in prior)
    given = trained.novelty(samples, prior=prior)
    drawn = trained.novelty(samples, prior_samples=6, seed=7)
    assert given.to_dict() == drawn.to_dict()
    other = trained.novelty(samples, prior_samples=6, seed=8)
    assert other.prior_pitch_class_distance != drawn.prior_pitch_class_distance


def test_same_seed_same_samples(trained):
    a = trained.sample(3, seed=11, temperature=0)
    b = trained.sample(3, seed=11, temperature=0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.tensor, y.tensor)


def _notes(seq):
    return sorted((n.instrument, n.pitch, n.is_drum, round(n.start_time, 4), round(n.end_time, 4))
                  for n in seq.notes)


def test_copies_are_counted(trained):
    """Decoding an input window's own code reproduces it; the readout must count such copies.

    A copy is a sample with exactly the notes of an input window (the documented copy test);
    equal output classes step for step always are one."""
    windows = trained.windows
    sample_like = trained.decode(trained.input_positions()[:4], temperature=0)
    report = trained.novelty(sample_like, prior_samples=8)
    same_notes = sum(
        len(s.sequence.notes) > 0 and any(_notes(s.sequence) == _notes(w.sequence) for w in windows)
        for s in sample_like
    )
    same_classes = sum(
        len(s.sequence.notes) > 0
        and any(np.array_equal(np.argmax(s.tensor, -1), np.argmax(w.outputs, -1)) for w in windows)
        for s in sample_like
    )
    assert report.copied == same_notes >= same_classes
    assert [r["copied"] for r in report.readouts].count(True) == report.copied


def test_samples_that_copy_an_input_window_are_drawn_again(vae):
    """A MidiMe trained on one window maps its whole space onto it: greedy first draws are that
    window again. `sample` draws again (and says so in `redrawn`); `allow_copies` keeps them."""
    from midime_widgets.music import load_midi
    from midime_widgets.personalize import COPY_REDRAWS

    p = Personalizer(vae, seed=0)
    song = p.prepare(load_midi(examples.path("bach_chorale")), name="one window")
    _, mu, _ = vae.encode(song.windows)
    decoded = vae.decode(np.asarray(mu), temperature=0)
    exact = [w for w, d in zip(song.windows, decoded) if NoveltyIndex([w]).is_copy(d)]
    assert exact, "the default MusicVAE reconstructs some window of the example exactly"
    p.add_song(dataclasses.replace(song, windows=exact[:1]))
    p.fit(epochs=300)
    index = p.novelty_index()
    first = p.sample(6, seed=1, temperature=0, allow_copies=True)
    assert sum(index.is_copy(s) for s in first) >= 3 and all(s.redrawn == 0 for s in first)
    guarded = p.sample(6, seed=1, temperature=0)
    assert sum(s.redrawn for s in guarded) >= sum(index.is_copy(s) for s in first)
    assert all(s.redrawn <= COPY_REDRAWS for s in guarded)
    keep = set(range(6)) - set(index.needs_redraw(first))
    for i in keep:  # draws that were new (and no repeat of an earlier one) stay as they were
        assert guarded[i].redrawn == 0 and np.array_equal(first[i].tensor, guarded[i].tensor)
    # a sample still copying (or repeating) after every redraw is kept, and only then
    assert all(guarded[i].redrawn == COPY_REDRAWS for i in index.needs_redraw(guarded))
    again = p.sample(6, seed=1, temperature=0)
    assert [s.redrawn for s in again] == [s.redrawn for s in guarded]  # same seed, same result
    report = p.novelty(guarded, prior_samples=4)
    assert report.redrawn == sum(s.redrawn for s in guarded) > 0
    assert (f"({report.redrawn} draws were made again because they copied an excerpt, were (nearly) "
            "silent or repeated another sample)") in report.summary()
    assert p.novelty(first, prior_samples=4).redrawn == 0


def test_input_windows_score_as_copies_of_themselves(trained):
    windows = trained.windows
    report = trained.novelty([w.sequence for w in windows[:6]], prior_samples=4)
    assert report.copied == 6 and report.nearest_similarity == [1.0] * 6
    for i, readout in enumerate(report.readouts):
        k = readout["copied_window"]
        assert k <= i and _notes(windows[k].sequence) == _notes(windows[i].sequence)  # first equal one
        assert readout["verdict"] == f"copy of excerpt {k + 1}"
    assert report.pitch_class_distance < 0.5 and report.to_dict()["varied"] == 0


def test_fit_resume_continues_the_same_midime(vae, monkeypatch):
    p = Personalizer(vae, seed=0)
    p.add_midi(examples.path("folk_reel"))
    first = p.fit(epochs=20)
    model = p.midime
    trained_weights = {k: v.copy() for k, v in model.get_weights().items()}
    start_weights = {}
    real_fit = model.fit

    def spy(*args, **kwargs):  # the weights the resumed run starts from
        start_weights.update({k: v.copy() for k, v in model.get_weights().items()})
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(model, "fit", spy)
    second = p.fit(epochs=15, resume=True)
    assert p.midime is model and p.history is second
    assert second.epochs_run == 15 and model.epochs_trained == 35
    assert start_weights.keys() == trained_weights.keys()
    assert all(np.array_equal(start_weights[k], trained_weights[k]) for k in trained_weights)
    # it starts where training left off, below a fresh model's first loss
    assert second["total"][0] < first["total"][0]


def test_fit_without_resume_starts_fresh_and_resume_needs_no_earlier_model(vae):
    p = Personalizer(vae, seed=0)
    p.add_midi(examples.path("folk_reel"))
    p.fit(epochs=5, resume=True)  # nothing trained yet: a fresh MidiMe
    first = p.midime
    assert first.epochs_trained == 5
    p.fit(epochs=5)
    assert p.midime is not first and p.midime.epochs_trained == 5
    with pytest.raises(TrainingError, match="not both"):
        p.fit(epochs=5, resume=True, midime=first)
    assert first.epochs_trained == 5  # the refused call trained nothing


def test_resume_continues_a_loaded_midime(trained, vae, tmp_path):
    path = trained.save_midime(tmp_path / "mm")
    p = Personalizer(vae)
    p.add_midi(examples.path("folk_band"))
    loaded = p.load_midime(path)
    before = loaded.epochs_trained
    p.fit(epochs=5, resume=True)
    assert p.midime is loaded and loaded.epochs_trained == before + 5


# ---- the novelty index (no model needed) -------------------------------------------------------

STEP = 0.125  # one 16th at 120 qpm


def _seq(notes, qpm=120):
    """NoteSequence from (pitch, start_step, end_step) triples."""
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    step = 60.0 / qpm / 4
    for pitch, start, end in notes:
        seq.notes.add(pitch=pitch, velocity=80, start_time=start * step, end_time=end * step)
    seq.total_time = max((e for _, _, e in notes), default=0) * step
    return seq


@pytest.fixture(scope="module")
def staccato_windows():
    """2-bar melody windows with a rest between notes (rests are where spellings can differ)."""
    pitches = [60, 62, 64, 65, 67, 65, 64, 62] * 2
    song = _seq([(p, 1 + 4 * i, 3 + 4 * i) for i, p in enumerate(pitches)])
    converter = MelodyConverter(slice_bars=2)
    return converter, converter.windows(song)


def test_a_sample_spelling_the_same_notes_differently_is_a_copy(staccato_windows):
    """A note-off while nothing sounds is a no-op: same notes, other classes → still a copy."""
    converter, windows = staccato_windows
    classes = windows[0].outputs.argmax(-1)
    assert classes[0] == 0 and classes[3] == 1  # rest, then a note ending at step 3
    respelled = classes.copy()
    respelled[0] = 1  # "note off" instead of "no event" before the first note
    tensor = np.eye(windows[0].outputs.shape[-1], dtype=np.float32)[respelled]
    sample = converter.from_tensors([tensor])[0]
    score = NoveltyIndex(windows).score(sample)
    assert score.copied and score.copied_window == 0 and score.nearest_similarity == 1.0
    assert score.verdict == "copy of excerpt 1"


def test_changed_and_shifted_samples_are_new_with_their_similarity(staccato_windows):
    converter, windows = staccato_windows
    index = NoveltyIndex(windows)
    notes = [(n.pitch, round(n.start_time / STEP), round(n.end_time / STEP)) for n in windows[0].sequence.notes]
    changed = [(notes[0][0] + 1, *notes[0][1:])] + notes[1:]  # first note a semitone up (2 steps)
    score = index.score(_seq(changed))
    assert not score.copied and score.copied_window is None and score.verdict == "new"
    assert score.nearest_window == 0 and score.nearest_similarity == pytest.approx(30 / 32)
    assert index.similarities(_seq(changed))[0] == pytest.approx(30 / 32)
    shifted = index.score(_seq([(p, s + 1, e + 1) for p, s, e in notes]))  # a 16th later
    assert not shifted.copied and shifted.nearest_similarity < 1.0


def test_silent_sample_and_pitch_classes_weighted_by_duration():
    index = NoveltyIndex([_seq([(60, 0, 6), (62, 6, 8)])])  # C for 6 steps, D for 2: 3/4 and 1/4
    silent = index.score(_seq([]))
    assert silent.verdict == "silent" and not silent.copied and silent.pitch_class_distance == 1.0
    d_only = index.score(_seq([(62, 0, 8)]))
    assert d_only.pitch_class_distance == pytest.approx(0.5 * (0.75 + 0.75))
    # the same notes at another tempo sit on the same 16th grid: a copy
    assert index.score(_seq([(60, 0, 6), (62, 6, 8)], qpm=90)).copied


def test_silent_samples_and_repeats_are_drawn_again_and_not_counted_new():
    """A silent sample, a copy and a repeat of an earlier sample are what `sample` draws again;
    whatever is left of them is counted apart from the new samples."""
    inputs = [_seq([(60, 0, 4), (64, 4, 8), (67, 8, 16)])]
    index = NoveltyIndex(inputs)
    new, other = _seq([(62, 0, 8), (65, 8, 16)]), _seq([(69, 0, 16)])
    samples = [_seq([]), new, inputs[0], _seq([(62, 0, 8), (65, 8, 16)]), other, _seq([(69, 0, 16)])]
    assert index.needs_redraw(samples) == [0, 2, 3, 5]
    assert index.needs_redraw([new, other]) == []
    report = novelty_report(index, samples, [other])
    assert (report.samples, report.copied, report.silent, report.repeats, report.varied) == (6, 1, 1, 2, 2)
    assert "1 of 6 samples copy an excerpt of your music note for note, 2 are new, 1 silent, 2 a repeat of another " \
        "sample;" in report.summary()
    totals = summarize(report.readouts)
    assert (totals["copied"], totals["silent"], totals["varied"]) == (1, 1, 4)


def test_melody_samples_play_on_the_melody_s_instrument(vae):
    """A flute melody's samples are written for flute (program 73), and the MIDI file says so."""
    from midime_widgets.music import load_midi, to_midi_bytes

    seq = load_midi(MIDI_FIXTURES / "mono_melody.mid")
    for note in seq.notes:
        note.program = 73
    p = Personalizer(vae, seed=0)
    p.add_midi(seq, name="flute")
    p.fit(epochs=3)
    assert p.output_program() == 73
    samples = p.sample(2, seed=1)
    assert {n.program for s in samples for n in s.sequence.notes} == {73}
    assert {n.program for n in load_midi(to_midi_bytes(samples[0].sequence)).notes} == {73}


def test_songs_in_different_keys_are_told(vae):
    """A C major tune and the same tune in F♯ major: the note names both keys and both files."""
    tune = [(60, 0, 8), (64, 8, 12), (67, 12, 16), (65, 16, 20), (62, 20, 24), (60, 24, 32),
            (67, 32, 40), (64, 40, 48), (62, 48, 56), (60, 56, 64)]
    p = Personalizer(vae, seed=0)
    p.add_midi(_seq(tune), name="c.mid")
    p.add_midi(_seq(tune), name="c again.mid")
    assert p.key_note() == ""
    p.add_midi(_seq([(pitch + 6, a, b) for pitch, a, b in tune]), name="f sharp.mid")
    assert p.key_note() == ("Your files are in different keys: C major (c.mid, c again.mid) and F♯ "
                            "major (f sharp.mid). MidiMe learns them together, so the samples mix "
                            "their notes; to keep one key, transpose the files to it first.")


def test_nearly_silent_samples_are_drawn_again():
    """Where the input plays sixteenths, a sample of two notes in as many steps is nearly silent
    (under a quarter of the input's notes); one of five is not."""
    busy = _seq([(60 + i % 5, i, i + 1) for i in range(16)])
    index = NoveltyIndex([busy])
    two, five = _seq([(60, 0, 8), (62, 8, 16)]), _seq([(60 + i, 3 * i, 3 * i + 3) for i in range(5)])
    assert index.is_sparse(two) and not index.is_sparse(five) and index.is_sparse(_seq([]))
    assert index.flaws([two, five, busy, _seq([])]) == ["sparse", None, "copy", "sparse"]
    report = novelty_report(index, [two, five, _seq([])], [five])
    assert (report.silent, report.sparse, report.varied) == (1, 1, 1)
    assert "1 of 3 samples" not in report.summary() and "1 is new, 1 silent, 1 nearly silent" in report.summary()


def test_novelty_report_from_the_index_and_a_prior():
    inputs = [_seq([(60, 0, 4), (64, 4, 8), (67, 8, 16)]), _seq([(62, 0, 8), (65, 8, 16)])]
    index = NoveltyIndex(inputs)
    copy, new = inputs[1], _seq([(60, 0, 4), (64, 4, 8), (67, 8, 12)])
    prior = [_seq([(61, 2, 3), (66, 3, 5)])]  # other pitch classes, off-beat onsets
    report = novelty_report(index, [copy, new], prior)
    assert report.samples == 2 and report.copied == 1 and report.varied == 1
    assert [r["verdict"] for r in report.readouts] == ["copy of excerpt 2", "new"]
    # `new` equals input 0 on 12 of 16 steps (it stops 4 steps early)
    assert report.nearest_similarity == [1.0, pytest.approx(12 / 16)]
    assert report.prior_pitch_class_distance == pytest.approx(1.0)  # no pitch class in common
    assert report.pitch_class_distance < report.prior_pitch_class_distance
    assert report.rhythm_distance < report.prior_rhythm_distance
    assert "1 of 2 samples copy an excerpt of your music note for note" in report.summary()
    # notes per bar (no time signature: 4/4, 16 sixteenths): inputs 5 notes in 2 one-bar windows, samples 5 in 2, prior 2 in 1
    assert (report.input_note_density, report.note_density, report.prior_note_density) == (2.5, 2.5, 2.0)
    assert report.closer() == {"pitch classes": True, "rhythm": True, "note density": True}
    assert "closer to your music than MusicVAE's own samples in pitch classes, rhythm and note density" \
        in report.summary()
    with pytest.raises(ValueError):
        novelty_report(index, [], prior)


def test_novelty_verdict_follows_each_figure():
    """Samples with the input's pitch classes but far too many notes: the verdict says closer in
    pitch classes and not in note density (no sum of distances can hide one behind the other)."""
    inputs = [_seq([(60, 0, 8), (64, 8, 16)])]  # 2 notes per bar
    index = NoveltyIndex(inputs)
    busy = [_seq([(60 if k % 2 else 64, k, k + 1) for k in range(16)])]  # 16 notes, C and E
    prior = [_seq([(61, 0, 8), (66, 8, 12), (68, 12, 16)])]  # 3 notes, other pitch classes
    report = novelty_report(index, busy, prior)
    assert report.note_density == 16.0 and report.prior_note_density == 3.0
    assert report.closer()["pitch classes"] and not report.closer()["note density"]
    assert ("closer to your music than MusicVAE's own samples in pitch classes, but not in "
            "rhythm and note density") in report.summary()
    assert report.to_dict()["closer"]["note density"] is False
    # a distance within a tenth of the prior's is no real difference: "about as close"
    near = dataclasses.replace(report, pitch_class_distance=0.28, prior_pitch_class_distance=0.30)
    assert near.closer()["pitch classes"] and near.verdict() == (
        "about as close as MusicVAE's own samples in pitch classes, but not in rhythm and note density")
    both = dataclasses.replace(near, rhythm_distance=0.1, prior_rhythm_distance=0.5)
    assert both.verdict() == ("closer to your music than MusicVAE's own samples in rhythm, only about "
                              "as close as MusicVAE's own samples in pitch classes, but not in note density")


def test_panel_and_pipeline_share_one_readout():
    import midime_widgets.widgets as widgets
    from midime_widgets.widgets import panel

    assert panel.Personalizer is Personalizer  # the panel is a view over the pipeline
    assert not hasattr(widgets, "novelty")  # no second implementation left in the widgets package


def test_bad_inputs_are_clear_and_add_nothing(vae):
    p = Personalizer(vae)
    with pytest.raises(MidiError, match="only drums"):
        p.add_midi(MIDI_FIXTURES / "drums_only.mid")
    with pytest.raises(MidiError):
        p.add_midi(b"MThd garbage")
    assert p.songs == []
    with pytest.raises(MidiError, match="Add at least one"):
        p.codes()
    with pytest.raises(TrainingError, match="Train MidiMe first"):
        p.sample(2)


def test_too_short_song_is_refused(vae, tmp_path):
    seq = note_seq.NoteSequence()
    seq.tempos.add(qpm=120)
    seq.notes.add(pitch=60, velocity=80, start_time=0, end_time=0.5)
    seq.total_time = 0.5
    with pytest.raises(MidiError, match="window"):
        Personalizer(vae).add_midi(seq)


def test_saved_midime_reloads_and_refuses_another_musicvae(trained, tmp_path, vae):
    path = trained.save_midime(tmp_path / "mm")
    other = Personalizer(vae)
    other.load_midime(path)
    z = np.zeros((1, trained.midime.config.latent_size), np.float32)
    np.testing.assert_allclose(other.midime.decode(z), trained.midime.decode(z), atol=1e-6)
    # without music of its own, the pipeline samples the loaded MidiMe (there is nothing to copy)
    samples = other.sample(3, seed=4)
    assert len(samples) == 3 and all(s.redrawn == 0 for s in samples)
    random_vae = MusicVAE.from_config(vae.config, seed=1)
    with pytest.raises(Exception, match="(?i)musicvae|fingerprint"):
        Personalizer(random_vae).load_midime(path)


def test_default_training_and_sampling_settings_are_the_shared_constants(vae):
    """Personalizer trains the product's MidiMe until converged and samples at
    SAMPLE_TEMPERATURE unless told otherwise (the CLI and the panel import the same names)."""
    import inspect

    from midime_widgets.models.midime import DEFAULT_MAX_STEPS, FitHistory, MidiMeConfig
    from midime_widgets.personalize import SAMPLE_TEMPERATURE

    p = Personalizer(vae, seed=5)
    assert p.midime_config == MidiMeConfig.personal(vae.config.z_size, seed=5)
    assert Personalizer(vae, latent_size=6, beta=0.5).midime_config.latent_size == 6
    assert inspect.signature(p.sample).parameters["temperature"].default == SAMPLE_TEMPERATURE
    assert inspect.signature(p.novelty).parameters["temperature"].default == SAMPLE_TEMPERATURE
    p.add_midi(examples.path("folk_reel"))
    history = p.fit(max_steps=150)
    assert history.until_converged and history.steps <= 150 <= DEFAULT_MAX_STEPS
    assert history.stop_reason in (FitHistory.CONVERGED, FitHistory.BUDGET) and history.reason


def test_rhythm_histogram_folds_on_each_sequences_own_bar():
    """A 6/8 bar is 12 sixteenths: onsets on each bar line land on position 0, not on 0 and 12."""
    from midime_widgets.personalize import rhythm_histogram

    def seq(numerator, denominator, onsets):
        s = note_seq.NoteSequence()
        s.tempos.add(qpm=120)
        s.time_signatures.add(numerator=numerator, denominator=denominator)
        for step in onsets:
            s.notes.add(pitch=60, start_time=step * 0.125, end_time=(step + 1) * 0.125, velocity=80)
        return s

    jig = rhythm_histogram([seq(6, 8, [0, 12, 24, 36])])
    assert jig[0] == 1.0 and jig[12] == 0.0
    common = rhythm_histogram([seq(4, 4, [0, 12])])
    assert common[0] == 0.5 and common[12] == 0.5


def test_a_six_eight_sample_equal_to_an_input_window_is_a_full_copy(vae):
    """6/8 windows are two bars (24 steps) padded to the model's 32; a sample decoded from one
    window's own notes is a copy and 100% like it, as the panel's card and summary show."""
    from midime_widgets.music.windows import in_metre

    p = Personalizer(vae)
    song = p.add_midi(MIDI_FIXTURES / "six_eight.mid")
    assert str(song.metre) == "6/8" and p.output_steps() == 24
    window = song.windows[len(song.windows) // 2]
    decoded = vae.converter.from_tensors([window.outputs[: p.output_steps()]])[0]
    sample = in_metre(decoded, song.metre, song.qpm)
    readout = p.novelty_index().readout(sample)
    assert readout["copied"] is True
    assert readout["nearest_similarity"] == 1.0
    assert p.novelty_index().similarities(sample)[readout["copied_window"]] == 1.0
