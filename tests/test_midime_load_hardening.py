"""Hostile or damaged MidiMe saves: every one gives CheckpointError, before memory is spent.

Each case starts from a real save of a small MidiMe and changes one thing: oversized or deeply
nested ``midime.json``, absurd layer sizes, a weight member that inflates to gigabytes, a member
whose zip directory lies about its size, non-finite weights, and values of the wrong type.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

pytest.importorskip("keras")

from midime_widgets.errors import CheckpointError
from midime_widgets.models.midime import (
    CONFIG_FILENAME,
    SAVED_LIMITS,
    WEIGHTS_FILENAME,
    MidiMe,
    MidiMeConfig,
)

SMALL = dict(input_size=24, latent_size=3, encoder_layers=(48, 16), decoder_layers=(16, 48))


@pytest.fixture()
def saved(tmp_path):
    return MidiMe(MidiMeConfig(**SMALL, seed=0)).save(tmp_path / "m")


def _metadata(path):
    return json.loads((path / CONFIG_FILENAME).read_text())


def _write_metadata(path, metadata):
    (path / CONFIG_FILENAME).write_text(json.dumps(metadata))


def _refused(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        MidiMe.load(path)
    assert type(info.value) is CheckpointError
    return info.value


def test_a_good_save_still_loads(saved):
    model = MidiMe.load(saved)
    assert model.config == MidiMeConfig(**SMALL, seed=0)


@pytest.mark.parametrize("layers", [[30000, 30000], [64] * 40])
def test_absurd_layer_sizes_are_refused_before_building(saved, layers, monkeypatch):
    metadata = _metadata(saved)
    metadata["config"]["encoder_layers"] = layers
    _write_metadata(saved, metadata)

    def no_build(*args, **kwargs):  # pragma: no cover - reached only when the check is missing
        raise AssertionError("a network was built for a refused file")

    monkeypatch.setattr("midime_widgets.models.midime._build_network", no_build)
    _refused(saved, "units|layers")


def test_too_many_weights_in_all_are_refused(saved):
    metadata = _metadata(saved)
    metadata["config"].update(input_size=16000, encoder_layers=[16000], decoder_layers=[16000])
    _write_metadata(saved, metadata)
    _refused(saved, "weights")


def test_deep_or_huge_json_is_refused(saved):
    good = (saved / CONFIG_FILENAME).read_text()
    (saved / CONFIG_FILENAME).write_text("[" * 200_000 + "]" * 200_000)
    _refused(saved, "nested too deeply")
    metadata = json.loads(good)
    nested: list = []
    for _ in range(50):
        nested = [nested]
    metadata["musicvae_extra"] = nested
    _write_metadata(saved, metadata)
    _refused(saved, "nested too deeply")
    with open(saved / CONFIG_FILENAME, "w") as fh:
        fh.write(good[:-2] + " " * (SAVED_LIMITS["json_bytes"] + 10) + "}\n")
    _refused(saved, "bytes")


def _zero_member_npz(path, name, size):
    """A zip whose member ``name``.npy holds ``size`` zero bytes (compresses ~1000:1)."""
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        for _ in range(size // len(chunk)):
            member.write(chunk)


def test_a_member_inflating_to_gigabytes_is_refused_unread(saved, monkeypatch):
    weights = saved / WEIGHTS_FILENAME
    _zero_member_npz(weights, "mu/bias", 64 * 2**20)  # 64 MiB here; the check is the same for 4 GiB
    assert weights.stat().st_size < 2**20
    read = []
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(n) or b"")
    _refused(saved, "unpacks to")
    assert read == []  # refused from the zip directory, before any member was read


def test_a_member_whose_directory_lies_is_cut_off(saved):
    """The zip directory says 100 bytes but the member inflates to 8 MiB: at most the member's
    limit is read (zipfile also stops at the size the directory claims), and the file is refused."""
    payload = zlib.compress(bytes(8 * 2**20))[2:-4]  # a raw deflate stream
    name = b"mu/bias.npy"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(payload), 100, len(name), 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, 0, len(payload), 100,
                          len(name), 0, 0, 0, 0, 0, 0)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name),
                      len(local) + len(name) + len(payload), 0)
    (saved / WEIGHTS_FILENAME).write_bytes(local + name + payload + central + name + end)
    _refused(saved, "larger than its shape|corrupt")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_by_name(saved, bad):
    weights = MidiMe.load(saved).get_weights()
    weights["decoder_1/kernel"][2, 3] = bad
    np.savez(saved / WEIGHTS_FILENAME, **weights)
    _refused(saved, "decoder_1/kernel")


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["config"].update(latent_size="4"),
        lambda m: m["training"].update(noise_steps=2**70),
        lambda m: m["training"].update(last_fit={"total": "abc"}),
        lambda m: m.update(training=[1, 2]),
        lambda m: m["config"].update(encoder_layers={"a": 1}),
    ],
)
def test_wrong_types_give_checkpoint_error_only(saved, change):
    metadata = _metadata(saved)
    change(metadata)
    _write_metadata(saved, metadata)
    _refused(saved, None)


def test_extra_members_are_refused(saved):
    weights = MidiMe.load(saved).get_weights()
    extra = {f"junk_{i}": np.zeros(1, np.float32) for i in range(len(weights) + 1)}
    np.savez(saved / WEIGHTS_FILENAME, **weights, **extra)
    _refused(saved, "entries")
