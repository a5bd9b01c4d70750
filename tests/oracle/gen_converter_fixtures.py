"""Generate magenta converter / extraction fixtures (oracle venv only).

    TF_USE_LEGACY_KERAS=1 .oracle-venv/bin/python tests/oracle/gen_converter_fixtures.py

Reads tests/fixtures/midi/*.mid and writes tests/fixtures/oracle/{converters,extraction}/ and
tests/fixtures/oracle/manifest.json. Formats: tests/oracle/README.md.
"""
from __future__ import annotations

import copy
import glob
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from npz_io import save_npz
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()

import note_seq  # noqa: E402
from note_seq import sequences_lib  # noqa: E402
from magenta.models.music_vae import data  # noqa: E402
from magenta.pipelines import drum_pipelines, melody_pipelines  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, os.pardir, "fixtures"))
MIDI_DIR = os.path.join(FIXTURES, "midi")
OUT_DIR = os.path.join(FIXTURES, "oracle")

CONVERTER_SPECS = {
    "MelA": ("OneHotMelodyConverter", dict(valid_programs=list(range(0, 32)), skip_polyphony=False,
                                           max_bars=100, slice_bars=2, steps_per_quarter=4)),
    "MelB": ("OneHotMelodyConverter", dict(skip_polyphony=False, max_bars=100, slice_bars=16,
                                           steps_per_quarter=4)),
    "Drum": ("DrumsConverter", dict(max_bars=100, slice_bars=2, steps_per_quarter=4,
                                    roll_input=True)),
    "Trio": ("TrioConverter", dict(steps_per_quarter=4, slice_bars=16, gap_bars=2)),
}

# extract_* arguments the melody/drum converters use (MelA's: max_steps_truncate = 100 bars * 16).
MELODY_EXTRACT_ARGS = dict(min_bars=1, gap_bars=1.0, max_steps_truncate=1600, min_unique_pitches=1,
                           ignore_polyphonic_notes=True, pad_end=True, filter_drums=True)
DRUM_EXTRACT_ARGS = dict(min_bars=1, gap_bars=1.0, max_steps_truncate=1600, pad_end=True)


def make_converter(name: str):
    """Build the magenta converter in infer mode with no cap on the number of windows."""
    cls_name, kwargs = CONVERTER_SPECS[name]
    kw = dict(kwargs)
    if "valid_programs" in kw:
        kw["valid_programs"] = range(0, 32)
    conv = getattr(data, cls_name)(**kw)
    conv.set_mode("infer")
    conv.max_tensors_per_notesequence = None
    return conv


def load(path):
    return note_seq.midi_file_to_note_sequence(path)


def pad_stack(arrays, lengths, T, depth):
    out = np.zeros((len(arrays), T, depth), np.float32)
    for i, a in enumerate(arrays):
        a = np.asarray(a, np.float32)
        assert a.shape[0] == lengths[i] <= T and a.shape[1] == depth, (a.shape, lengths[i], T)
        out[i, :a.shape[0]] = a
    return out


def decoded_arrays(conv, outputs, lengths):
    """magenta from_tensors on each row -> (notes[M,6] float64, programs[M], instruments[M], total_time[N])."""
    rows = [outputs[i, :lengths[i]] for i in range(len(lengths))]
    seqs = conv.from_tensors(rows) if rows else []
    notes, programs, instruments = [], [], []
    for w, ns in enumerate(seqs):
        for n in ns.notes:
            notes.append((w, n.pitch, n.velocity, n.start_time, n.end_time, float(n.is_drum)))
            programs.append(n.program)
            instruments.append(n.instrument)
    return (np.asarray(notes, np.float64).reshape(-1, 6), np.asarray(programs, np.int32),
            np.asarray(instruments, np.int32),
            np.asarray([ns.total_time for ns in seqs], np.float64))


def converter_fixture(name: str, midi_path: str) -> dict:
    conv = make_converter(name)
    T = CONVERTER_SPECS[name][1]["slice_bars"] * 16
    tensors = conv.to_tensors(load(midi_path))
    lengths = np.asarray(list(tensors.lengths), np.int32)
    inputs = pad_stack(tensors.inputs, lengths, T, conv.input_depth)
    outputs = pad_stack(tensors.outputs, lengths, T, conv.output_depth)
    notes, programs, instruments, total = decoded_arrays(conv, outputs, lengths)
    return dict(inputs=inputs, outputs=outputs, lengths=lengths, decoded_notes=notes,
                decoded_programs=programs, decoded_instruments=instruments,
                decoded_total_time=total)


# ----------------------------------------------------------------------------- extraction

def quantized_splits(ns):
    """(split_index, quantized split or None, steps_per_bar or None) per time-change split."""
    out = []
    for k, split in enumerate(sequences_lib.split_note_sequence_on_time_changes(ns)):
        try:
            q = note_seq.quantize_note_sequence(split, 4)
            spb = note_seq.steps_per_bar_in_quantized_sequence(q)
        except (note_seq.BadTimeSignatureError, note_seq.NonIntegerStepsPerBarError,
                note_seq.NegativeTimeError) as e:
            print(f"  split {k}: not quantizable ({type(e).__name__})")
            q, spb = None, None
        out.append((k, split, q, spb))
    return out


def mela_filtered(split):
    s = copy.deepcopy(split)
    keep = [n for n in s.notes if n.program in range(0, 32) and 21 <= n.pitch <= 108]
    del s.notes[:]
    s.notes.extend(keep)
    return note_seq.quantize_note_sequence(s, 4)


def drum_reduced(q):
    q = copy.deepcopy(q)
    class_of = {p: i for i, ps in enumerate(data.REDUCED_DRUM_PITCH_CLASSES) for p in ps}
    keep = []
    for n in q.notes:
        if n.is_drum and n.pitch in class_of:
            n.pitch = class_of[n.pitch]
            keep.append(n)
    del q.notes[:]
    q.notes.extend(keep)
    return q


def melody_records(q, kind, split_index, spb):
    """extract_melodies on the whole split, each melody tagged with its instrument."""
    full, _ = melody_pipelines.extract_melodies(q, **MELODY_EXTRACT_ARGS)
    tagged = []
    for inst in sorted(set(n.instrument for n in q.notes)):
        mels, _ = melody_pipelines.extract_melodies(data._extract_instrument(q, inst),
                                                    **MELODY_EXTRACT_ARGS)
        tagged += [(inst, m) for m in mels]
    key = lambda m: (m.start_step, m.end_step, tuple(m))  # noqa: E731
    assert sorted(key(m) for m in full) == sorted(key(m) for _, m in tagged), "instrument tagging"
    return [dict(kind=kind, split_index=split_index, steps_per_bar=spb, start_step=m.start_step,
                 end_step=m.end_step, instrument=int(inst), events=[int(e) for e in m])
            for inst, m in tagged]


def drum_records(q, kind, split_index, spb):
    tracks, _ = drum_pipelines.extract_drum_tracks(q, **DRUM_EXTRACT_ARGS)
    return [dict(kind=kind, split_index=split_index, steps_per_bar=spb, start_step=t.start_step,
                 end_step=t.end_step, instrument=None, events=[sorted(int(p) for p in e) for e in t])
            for t in tracks]


def extraction_fixture(midi_path):
    records = []
    for k, split, q, spb in quantized_splits(load(midi_path)):
        if q is None:
            continue
        spb = int(spb)
        records += melody_records(q, "melody", k, spb)
        records += melody_records(mela_filtered(split), "melody_mela", k, spb)
        records += drum_records(q, "drums", k, spb)
        records += drum_records(drum_reduced(q), "drums_reduced", k, spb)
    for r in records:
        assert len(r["events"]) == r["end_step"] - r["start_step"], r
    return records


def versions():
    import importlib.metadata as md
    return {k: md.version(p) for k, p in (("magenta_version", "magenta"),
                                          ("note_seq_version", "note-seq"),
                                          ("tensorflow_version", "tensorflow"),
                                          ("numpy_version", "numpy"))}


def main():
    midis = sorted(glob.glob(os.path.join(MIDI_DIR, "*.mid")))
    if not midis:
        sys.exit(f"no MIDI fixtures in {MIDI_DIR}; run tests/oracle/make_midi_fixtures.py first")
    os.makedirs(os.path.join(OUT_DIR, "converters"), exist_ok=True)
    os.makedirs(os.path.join(OUT_DIR, "extraction"), exist_ok=True)
    counts = {}
    for path in midis:
        stem = os.path.splitext(os.path.basename(path))[0]
        print(stem)
        for name in CONVERTER_SPECS:
            arrays = converter_fixture(name, path)
            save_npz(os.path.join(OUT_DIR, "converters", f"{name}__{stem}.npz"), **arrays)
            counts[f"{name}__{stem}"] = int(arrays["lengths"].shape[0])
            print(f"  {name}: N={counts[f'{name}__{stem}']} notes={arrays['decoded_notes'].shape[0]}")
        records = extraction_fixture(path)
        with open(os.path.join(OUT_DIR, "extraction", f"{stem}.json"), "w") as f:
            json.dump(records, f, separators=(",", ":"))
            f.write("\n")
        print(f"  extraction: {[r['kind'] for r in records]}")
    manifest = dict(
        versions(),
        converters={name: dict(cls=cls, kwargs=kw, mode="infer", max_tensors_per_notesequence=None,
                               input_depth=make_converter(name).input_depth,
                               output_depth=make_converter(name).output_depth,
                               T=kw["slice_bars"] * 16)
                    for name, (cls, kw) in CONVERTER_SPECS.items()},
        melody_extract_args=MELODY_EXTRACT_ARGS,
        drum_extract_args=DRUM_EXTRACT_ARGS,
        midi_fixtures=[os.path.basename(p) for p in midis],
        counts=counts,
    )
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
