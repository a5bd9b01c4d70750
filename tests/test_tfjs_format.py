"""magenta.js (TensorFlow.js) checkpoint folders written by the real tfjs writer.

Fixtures come from tests/fixtures/tfjs/make_tfjs_fixture.py (tensorflowjs.write_weights); the
reference weights were saved next to them before writing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from midime_widgets.errors import CheckpointError
from midime_widgets.models.checkpoints import (
    config_from_tfjs,
    read_checkpoint,
    read_tfjs_weights,
    suggest_configs,
    validate_weights,
)

FIXTURES = Path(__file__).parent / "fixtures" / "tfjs"
ORACLE_TF = (Path(__file__).parent / "fixtures" / "oracle" / "checkpoints" / "cat-mel_2bar_small"
             / "model.ckpt")


def reference(model: str) -> dict[str, np.ndarray]:
    """The weights the generator wrote (trio values are stored as int8 multiples of 1/64)."""
    with np.load(FIXTURES / "reference.npz") as data:
        out = {}
        for key in data.files:
            fixture, name = key.split("::", 1)
            if fixture == model:
                value = data[key]
                out[name] = (value.astype(np.float32) / 64 if value.dtype == np.int8 else value)
        return out


def manifest_entries(folder: Path) -> dict[str, dict]:
    manifest = json.loads((folder / "weights_manifest.json").read_text())
    return {w["name"]: w for group in manifest for w in group["weights"]}


def copy_fixture(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def test_float32_folder_reads_back_exactly():
    folder = FIXTURES / "mel_2bar_tiny_f32"
    assert len(list(folder.glob("group1-shard*"))) > 1  # several shards to concatenate
    weights, description = read_checkpoint(folder)
    want = reference("mel_2bar_tiny")
    assert set(weights) == set(want)
    for name, value in want.items():
        assert weights[name].dtype == np.float32 and weights[name].shape == value.shape
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    assert "magenta.js" in description and "quantized" not in description


def test_uint8_folder_is_within_one_quantization_step_and_drops_adam_slots():
    folder = FIXTURES / "mel_2bar_tiny_u8"
    weights, description = read_checkpoint(folder)
    want = reference("mel_2bar_tiny")
    assert set(weights) == set(want)  # the two .../Adam, .../Adam_1 entries are gone
    assert "uint8-quantized" in description and "dropped 2" in description
    entries = manifest_entries(folder)
    assert {"decoder/output_projection/bias/Adam", "decoder/output_projection/bias/Adam_1"} <= set(
        entries)
    changed = 0
    for name, value in want.items():
        step = entries[name]["quantization"]["scale"]
        error = np.abs(weights[name] - value)
        assert error.max() <= step * 1.0001, name
        changed += int((error > 0).any())
    assert changed > 0  # really quantized, not passed through


def test_uint8_dequantization_follows_tfjs_exactly():
    """tfjs-core io_utils.decodeWeight: values[i] = q[i] * scale + min, stored as float32."""
    folder = FIXTURES / "mel_2bar_tiny_u8"
    manifest = json.loads((folder / "weights_manifest.json").read_text())
    first = manifest[0]["weights"][0]
    raw = (folder / manifest[0]["paths"][0]).read_bytes()
    q = raw[:8]  # first eight stored bytes belong to the first weight
    quant = first["quantization"]
    expected = [np.float32(b * quant["scale"] + quant["min"]) for b in q]
    weights, _ = read_tfjs_weights(folder)
    assert list(weights[first["name"]].reshape(-1)[:8]) == expected


def test_uint16_hierarchical_trio_reads_and_infers_its_config():
    folder = FIXTURES / "trio_4bar_tiny_u16"
    weights, description = read_checkpoint(folder)
    assert "uint16-quantized" in description
    want = reference("trio_4bar_tiny")
    entries = manifest_entries(folder)
    assert set(weights) == set(want)
    for name, value in want.items():
        step = entries[name]["quantization"]["scale"]
        assert np.abs(weights[name] - value).max() <= step * 1.0001, name
    config = config_from_tfjs(folder, weights)
    assert config.name == "trio_4bar_tiny_u16"
    assert (config.encoder, config.decoder, config.core_decoder) == (
        "hierarchical", "hierarchical", "split")
    assert config.level_lengths == (4, 16) and config.max_seq_len == 64
    assert (config.enc_rnn_sizes, config.dec_rnn_sizes, config.z_size) == ((4,), (5, 5), 3)
    assert (config.input_depth, config.output_depths) == (692, (90, 90, 512))
    assert config.converter == {"type": "trio", "slice_bars": 4, "gap_bars": 2}
    validate_weights(weights, config)


def test_mel_config_from_the_fixture_config_json():
    folder = FIXTURES / "mel_2bar_tiny_f32"
    assert json.loads((folder / "config.json").read_text())["dataConverter"]["args"] == {
        "numSteps": 32, "minPitch": 21, "maxPitch": 108}
    weights, _ = read_checkpoint(folder)
    config = config_from_tfjs(folder, weights)
    assert (config.encoder, config.decoder) == ("bidirectional", "categorical")
    assert (config.enc_rnn_sizes, config.dec_rnn_sizes, config.z_size) == ((8,), (8, 6), 4)
    assert (config.input_depth, config.output_depths, config.max_seq_len) == (90, (90,), 32)
    validate_weights(weights, config)


def test_manifest_file_path_also_works():
    weights, _ = read_checkpoint(FIXTURES / "mel_2bar_tiny_f32" / "weights_manifest.json")
    assert len(weights) == 16


def test_truncated_shard_is_reported(tmp_path):
    folder = copy_fixture("mel_2bar_tiny_f32", tmp_path)
    last = sorted(folder.glob("group1-shard*"))[-1]
    last.write_bytes(last.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="incomplete"):
        read_checkpoint(folder)


def test_extra_bytes_are_reported(tmp_path):
    folder = copy_fixture("mel_2bar_tiny_u8", tmp_path)
    shard = next(folder.glob("group1-shard*"))
    shard.write_bytes(shard.read_bytes() + b"\0" * 4)
    with pytest.raises(CheckpointError, match="damaged or from another model"):
        read_checkpoint(folder)


def test_missing_shard_is_reported(tmp_path):
    folder = copy_fixture("mel_2bar_tiny_f32", tmp_path)
    next(folder.glob("group1-shard2*")).unlink()
    with pytest.raises(CheckpointError, match="Missing weight shard"):
        read_checkpoint(folder)


def test_shard_paths_may_not_leave_the_folder(tmp_path):
    folder = copy_fixture("mel_2bar_tiny_u8", tmp_path)
    manifest = json.loads((folder / "weights_manifest.json").read_text())
    manifest[0]["paths"] = ["../secret.bin"]
    (tmp_path / "secret.bin").write_bytes(b"x")
    (folder / "weights_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="outside the folder"):
        read_checkpoint(folder)


def test_float16_and_unknown_quantization(tmp_path):
    values = np.array([[0.5, -2.0], [65504.0, 1e-3]], np.float32)
    (tmp_path / "w.bin").write_bytes(values.astype("<f2").tobytes())
    spec = {"name": "encoder/mu/kernel", "shape": [2, 2], "dtype": "float32",
            "quantization": {"dtype": "float16"}}
    (tmp_path / "weights_manifest.json").write_text(json.dumps([{"paths": ["w.bin"],
                                                                 "weights": [spec]}]))
    weights, _ = read_checkpoint(tmp_path)
    np.testing.assert_array_equal(weights["encoder/mu/kernel"],
                                  values.astype(np.float16).astype(np.float32))
    spec["quantization"] = {"dtype": "int4"}
    (tmp_path / "weights_manifest.json").write_text(json.dumps([{"paths": ["w.bin"],
                                                                 "weights": [spec]}]))
    with pytest.raises(CheckpointError, match="int4"):
        read_checkpoint(tmp_path)


def test_suggestions_for_a_tiny_tfjs_model():
    weights, _ = read_checkpoint(FIXTURES / "mel_2bar_tiny_f32")
    with pytest.raises(CheckpointError, match=r"layout of config 'cat-mel_2bar_small'"):
        from midime_widgets.models.configs import CONFIGS

        validate_weights(weights, CONFIGS["cat-mel_2bar_small"])
    assert "cat-mel_2bar_small" in suggest_configs(weights)


@pytest.mark.oracle
def test_oracle_checkpoint_converted_to_tfjs_matches_the_tf_original():
    """The magenta-written cat-mel_2bar_small fixture, converted as magenta.js does."""
    folder = FIXTURES / "oracle-cat-mel_2bar_small"
    if not Path(str(ORACLE_TF) + ".index").is_file() or not folder.is_dir():
        pytest.skip("oracle checkpoint or its tfjs conversion not generated")
    pytest.importorskip("tensorflow")
    tf_weights, _ = read_checkpoint(ORACLE_TF)
    js_weights, _ = read_checkpoint(folder)
    assert set(js_weights) == set(tf_weights)
    for name in tf_weights:
        np.testing.assert_array_equal(js_weights[name], tf_weights[name], err_msg=(
            f"{name}: rerun tests/fixtures/tfjs/make_tfjs_fixture.py after regenerating the "
            "oracle checkpoints"))


# -- malformed manifests and bad values: CheckpointError with a clear message, nothing else --------

def _write_folder(folder: Path, manifest, shards: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / "weights_manifest.json").write_text(text)
    for name, data in (shards or {"w.bin": np.zeros(4, "<f4").tobytes()}).items():
        (folder / name).write_bytes(data)
    return folder


def _one(spec_changes: dict | None = None, **group) -> list:
    spec = {"name": "encoder/mu/kernel", "shape": [2, 2], "dtype": "float32"}
    spec.update(spec_changes or {})
    return [dict({"paths": ["w.bin"], "weights": [spec]}, **group)]


@pytest.mark.parametrize("manifest, match", [
    (_one({"shape": [-2, -2]}), "impossible shape"),
    (_one({"shape": [2 ** 40, 2 ** 40]}), "incomplete"),
    (_one({"shape": [2.5, 2]}), "impossible shape"),
    (_one({"shape": "2x2"}), "impossible shape"),
    (_one({"shape": [1] * 20}), "impossible shape"),
    (_one({"quantization": "uint8"}), "'quantization' must be an object"),
    (_one({"quantization": {"dtype": "uint8", "scale": float("nan"), "min": 0}}),
     "not a finite number"),
    (_one({"quantization": {"dtype": ["uint8"]}}), "unsupported quantization"),
    (_one({"dtype": "complex64"}), "unsupported dtype"),
    (_one({"name": 7}), "not a variable name"),
    (_one(paths=[7]), "must be a list of file names"),
    (_one(paths="w.bin"), "must be a list of file names"),
    (_one(paths=["."]), "the folder itself"),
    (_one(paths=[""]), "the folder itself"),
    (_one(paths=["sub"]), "is a folder"),
    (_one(weights={"name": "x"}), "'weights' must be a list"),
    ([["paths", "weights"]], "lacks 'paths' or 'weights'"),
    ({"paths": []}, "not a TensorFlow.js weights manifest"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("{not json", "Could not read the weights manifest"),
], ids=["negative-shape", "huge-shape", "float-shape", "string-shape", "rank-20",
        "quantization-not-dict", "nan-scale", "quant-dtype-list", "dtype", "name", "path-int",
        "paths-string", "path-dot", "path-empty", "path-folder", "weights-dict", "group-list",
        "manifest-dict", "deep-json", "not-json"])
def test_malformed_manifests_are_checkpoint_errors(tmp_path, manifest, match):
    folder = _write_folder(tmp_path / "ckpt", manifest)
    (folder / "sub").mkdir()
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(folder)


def test_an_oversized_manifest_is_not_read(tmp_path, monkeypatch):
    from midime_widgets.models import checkpoints

    monkeypatch.setattr(checkpoints, "MAX_CONFIG_JSON_BYTES", 100)
    folder = _write_folder(tmp_path / "ckpt", _one() + [{"paths": [], "weights": []}] * 10)
    with pytest.raises(CheckpointError, match="real ones are a few kilobytes"):
        read_checkpoint(folder)


def test_a_shard_larger_than_the_manifest_says_is_refused_before_reading(tmp_path, monkeypatch):
    from midime_widgets.models import checkpoints

    folder = _write_folder(tmp_path / "ckpt", _one(),
                           {"w.bin": np.zeros(1000, "<f4").tobytes()})
    monkeypatch.setattr(checkpoints, "_read_shard",
                        lambda *a: pytest.fail("read a shard the manifest does not fit"))
    with pytest.raises(CheckpointError, match="hold 4,000 bytes but the manifest describes 16"):
        read_checkpoint(folder)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_weights_are_refused_naming_the_variable(tmp_path, bad):
    values = np.array([0.5, bad, 1.0, 2.0], "<f4")
    folder = _write_folder(tmp_path / "ckpt", _one(), {"w.bin": values.tobytes()})
    with pytest.raises(CheckpointError, match=r"'encoder/mu/kernel' holds 1 NaN or infinite"):
        read_checkpoint(folder)


def test_quantized_weights_that_overflow_are_refused(tmp_path):
    spec = {"quantization": {"dtype": "uint8", "scale": 1e38, "min": 0.0}}
    folder = _write_folder(tmp_path / "ckpt", _one(spec), {"w.bin": bytes([0, 1, 2, 255])})
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        read_checkpoint(folder)


@pytest.mark.parametrize("config_json", [
    [1, 2],
    {"type": "MusicVAE", "dataConverter": "MelodyConverter"},
    {"type": "MusicVAE", "dataConverter": {"type": "MelodyConverter", "args": [16]}},
    {"type": "MusicVAE", "dataConverter": {"type": "MelodyConverter",
                                           "args": {"numSteps": 32, "minPitch": "low"}}},
    {"type": "MusicVAE", "dataConverter": {"type": "MelodyConverter",
                                           "args": {"numSteps": 32, "numSegments": "2"}}},
    {"type": "MusicVAE", "dataConverter": {"type": "MelodyConverter",
                                           "args": {"numSteps": 16 * 10 ** 12}}},
    {"type": "MusicVAE", "dataConverter": {"type": "TrioConverter",
                                           "args": {"numSteps": 32, "numSegments": 2,
                                                    "melArgs": "x"}}},
], ids=["list", "converter-string", "args-list", "pitch-string", "segments-string",
        "huge-steps", "trio-args-string"])
def test_malformed_config_json_is_a_checkpoint_error(config_json):
    weights, _ = read_checkpoint(FIXTURES / "mel_2bar_tiny_f32")
    with pytest.raises(CheckpointError):
        config_from_tfjs(config_json, weights)


def test_from_checkpoint_lets_only_checkpoint_errors_escape(tmp_path):
    """Every malformed folder above, loaded the way users do, is a CheckpointError."""
    from midime_widgets.models.musicvae import MusicVAE

    cases = [_one({"shape": [-1]}), _one(paths=["."]), "[" * 50_000, _one({"quantization": 3})]
    for index, manifest in enumerate(cases):
        folder = _write_folder(tmp_path / f"c{index}", manifest)
        (folder / "config.json").write_text('{"type": "MusicVAE", "dataConverter": 5}')
        with pytest.raises(CheckpointError):
            MusicVAE.from_checkpoint(folder)
    folder = copy_fixture("mel_2bar_tiny_f32", tmp_path)
    (folder / "config.json").write_text('{"type": "MusicVAE", "dataConverter": {"args": 5}}')
    with pytest.raises(CheckpointError, match="malformed"):
        MusicVAE.from_checkpoint(folder)
