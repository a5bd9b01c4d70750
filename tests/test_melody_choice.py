"""The melody a musician would name, on a labelled set of real multi-part files, and naming a
track by number or name exactly as `midime-widgets inspect` lists it.

The labelled set (tests/fixtures/melody_choice, made by its `make_set.py`) holds the opening
bars of string quartets, a trio sonata, Bach chorales, songs with piano, keyboard pieces, lead
sheets and generated band files; `labels.json` names the melody part of each.
"""

from __future__ import annotations

import collections
import json
import shlex
import warnings
from pathlib import Path

import pytest

from midime_widgets.errors import MidiError
from midime_widgets.music import inspect_midi, load_midi
from midime_widgets.music.melody import (
    find_melody,
    name_hint,
    prepare_melody,
    resolve_track,
    track_names,
)

SET_DIR = Path(__file__).parent / "fixtures" / "melody_choice"
LABELS = json.loads((SET_DIR / "labels.json").read_text())
#: Share of the labelled set on which the chooser must name the labelled melody.
REQUIRED_ACCURACY = 0.95


@pytest.fixture(scope="module")
def songs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: load_midi(SET_DIR / name) for name in LABELS}


def _without_names(seq, programs: bool):
    """The song as a file without track names (and, if asked, with every part on piano)."""
    seq = type(seq).FromString(seq.SerializeToString())
    for info in seq.instrument_infos:
        info.name = ""
    if programs:
        for n in seq.notes:
            if not n.is_drum:
                n.program = 0
    return seq


def test_the_labelled_set_is_varied_and_small():
    categories = collections.Counter(label["category"] for label in LABELS.values())
    assert len(LABELS) >= 30
    assert {"quartet", "chorale", "song", "band", "lead sheet"} <= set(categories)
    assert categories["band"] >= 8 and categories["quartet"] >= 8 and categories["chorale"] >= 8
    assert sum(p.stat().st_size for p in SET_DIR.glob("*.mid")) < 1_000_000
    for name in LABELS:
        assert (SET_DIR / name).exists(), name


@pytest.mark.parametrize("variant", ["as written", "track names removed",
                                     "track names removed, every part on piano"])
def test_chooser_names_the_labelled_melody(songs, variant):
    failures = []
    for name, label in LABELS.items():
        seq = songs[name]
        if variant != "as written":
            seq = _without_names(seq, programs=variant.endswith("piano"))
        choice = find_melody(seq)
        if choice.instrument not in [label["instrument"], *label["also"]]:
            failures.append(f"{name}: chose #{choice.instrument} '{choice.name}', the melody is "
                            f"#{label['instrument']} '{label['melody']}' — {choice.reason}")
    accuracy = 1 - len(failures) / len(LABELS)
    print(f"\n{variant}: {accuracy:.1%} of {len(LABELS)} files")
    for line in failures:
        print("  ", line)
    assert accuracy >= REQUIRED_ACCURACY, "\n".join(failures)


def test_first_violin_of_a_mozart_quartet_and_why(songs):
    seq = songs["mozart_k458_1.mid"]
    choice = find_melody(seq)
    assert choice.name == "1st Violin"
    assert "first part" in choice.reason and "highest note" in choice.reason
    assert "next best is '2nd Violin'" in choice.reason
    # without its name the first violin still wins on the music alone
    assert find_melody(_without_names(seq, programs=True)).instrument == choice.instrument


def test_an_arpeggio_above_the_tune_is_accompaniment(songs):
    seq = _without_names(songs["band_sax_under_arp.mid"], programs=True)
    choice = find_melody(seq)
    assert choice.instrument == LABELS["band_sax_under_arp.mid"]["instrument"]
    assert "repeats one short figure, like an arpeggio" in choice.reason


def test_the_lead_vocal_beats_backing_vocals_above_it(songs):
    choice = find_melody(songs["band_backing_vocals.mid"])
    assert choice.name == "Lead Vocal"
    assert "next best is 'Backing Vocals'" in choice.reason
    assert "an accompaniment part by its name" in choice.reason


def test_track_names_say_the_part_role():
    assert name_hint("Violin I")[0] > name_hint("Violin II")[0]
    assert name_hint("1st Violin")[0] > name_hint("Viola")[0]
    assert name_hint("Lead Vocal")[0] > 0 > name_hint("Backing Vocals")[0]
    assert name_hint("Soprano")[0] > name_hint("Alto")[0] > name_hint("Bass")[0]
    assert name_hint("Tenor Sax")[0] == 0  # a solo instrument, not a choir's tenor part
    assert name_hint("Track 3") == (0.0, "") and name_hint("") == (0.0, "")
    assert name_hint("Soprano")[1] == "its name marks it as the tune"


# -- naming a track ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quartet(songs):
    return songs["haydn_op1no1_1.mid"]  # Violin I, Violin II, Viola, Cello


def test_resolve_track_by_number_name_and_prefix(quartet):
    assert track_names(quartet) == {0: "Violin I", 1: "Violin II", 2: "Viola", 3: "Cello"}
    assert resolve_track(quartet, 2) == 2
    assert resolve_track(quartet, "2") == 2 and resolve_track(quartet, "#3") == 3
    assert resolve_track(quartet, "violin i") == 0  # exact beats being a prefix of "Violin II"
    assert resolve_track(quartet, "VIOLIN II") == 1
    assert resolve_track(quartet, "  cel ") == 3  # a unique start of a name
    assert resolve_track(quartet, "viola") == 2


@pytest.mark.parametrize("track, message", [
    ("Flute", ("no track called 'Flute'; its tracks are: #0 'Violin I', #1 'Violin II', "
               "#2 'Viola', #3 'Cello'.")),
    ("viol", ("Several tracks are called 'viol': #0 'Violin I', #1 'Violin II', #2 'Viola'; "
              "give the number.")),
    (7, "no track number 7; its tracks are: #0 'Violin I'"),
    ("12", "no track number 12"),
])
def test_resolve_track_explains_what_it_cannot_find(quartet, track, message):
    with pytest.raises(MidiError) as info:
        resolve_track(quartet, track)
    assert message in str(info.value)


def test_tracks_with_the_same_name_are_chosen_by_number(songs):
    seq = songs["schubert_lindenbaum.mid"]  # Voice, Piano, Piano
    with pytest.raises(MidiError, match=r"Several tracks are called 'piano'.*give the number"):
        resolve_track(seq, "piano")
    assert resolve_track(seq, "2") == 2


def test_prepare_melody_takes_a_track_name(quartet):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viola = prepare_melody(quartet, "Viola")
        by_number = prepare_melody(quartet, 2)
    assert viola.choice.instrument == 2 and "chosen by you" in viola.choice.reason
    assert [n.pitch for n in viola.sequence.notes] == [n.pitch for n in by_number.sequence.notes]


def test_a_drum_track_is_no_melody(songs):
    seq = songs["band_named.mid"]
    assert track_names(seq)[3] == "Drums"
    assert resolve_track(seq, "drums") == 3
    with pytest.raises(MidiError, match="plays drums, not a melody; choose one of"):
        prepare_melody(seq, "Drums")


def test_inspect_lists_what_the_resolver_accepts(songs):
    for name, seq in songs.items():
        summary = inspect_midi(seq)
        listed = {t.instrument: t.name for t in summary.tracks}
        assert listed == track_names(seq), name
        counts = collections.Counter(n.lower() for n in listed.values())
        for number, track in listed.items():
            assert resolve_track(seq, number) == number
            if counts[track.lower()] == 1:
                assert resolve_track(seq, track) == number, (name, track)
        # the hint's example is a track the resolver takes, and not the melody already chosen
        hint = next(line for line in summary.format().splitlines() if "--track" in line)
        example = shlex.split(hint.split("for example --track ", 1)[1].rstrip(")"))[0]
        assert resolve_track(seq, example) != summary.melody.instrument, (name, hint)


def test_personalizer_takes_the_track_name_inspect_lists():
    from midime_widgets import examples
    from midime_widgets.models.musicvae import MusicVAE
    from midime_widgets.personalize import Personalizer

    p = Personalizer(MusicVAE.default())
    path = examples.path("folk_band")
    by_name = p.add_midi(path, instrument="bass")
    by_number = p.add_midi(path, instrument=1)
    assert by_name.melody_choice.name == "Bass" == by_number.melody_choice.name
    assert ([n.pitch for n in by_name.sequence.notes]
            == [n.pitch for n in by_number.sequence.notes])
    with pytest.raises(MidiError, match="no track called 'Banjo'"):
        p.add_midi(path, instrument="Banjo")


def _one_track_name(seq, name: str):
    """The song as a type-0 file stores it: every part under the one track's name."""
    seq = type(seq).FromString(seq.SerializeToString())
    for info in seq.instrument_infos:
        info.name = name
    return seq


def test_a_type_0_file_s_one_track_name_names_no_part(songs):
    """Parts on other instruments under one shared name (a type-0 file) are called by their
    instruments, and the name gives none of them the tune; parts of one instrument that share a
    name (two violins called 'Violin') keep it."""
    band = next(name for name, label in LABELS.items() if label["category"] == "band")
    seq = songs[band]
    labelled = find_melody(seq).instrument
    shared = _one_track_name(seq, "Lead")
    names = track_names(shared)
    assert "Lead" not in names.values() and len(set(names.values())) > 1
    choice = find_melody(shared)
    assert "its name marks it as the tune" not in choice.reason
    assert choice.instrument == labelled  # the notes alone still find the tune
    violins = type(seq)()
    for i in range(2):
        violins.instrument_infos.add(instrument=i, name="Violin")
        violins.notes.add(instrument=i, program=40, pitch=72 - 7 * i, velocity=80, start_time=0, end_time=1)
    assert track_names(violins) == {0: "Violin", 1: "Violin"}
