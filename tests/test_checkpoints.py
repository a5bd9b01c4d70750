"""Reading TF checkpoints (prefix, folder, tar) and validating them against configs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from midime_widgets.errors import CheckpointError
from midime_widgets.models.checkpoints import (
    config_from_tfjs,
    find_checkpoint_prefix,
    infer_config,
    is_model_variable,
    read_checkpoint,
    suggest_configs,
    validate_weights,
)
from midime_widgets.models.configs import CONFIGS, expected_variables

tf = pytest.importorskip("tensorflow")

ORACLE = Path(__file__).parent / "fixtures" / "oracle" / "checkpoints"

MODEL_VARS = {
    "encoder/mu/kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
    "encoder/mu/bias": np.array([0.5, -1.5, 2.25], np.float32),
    "decoder/output_projection/kernel": np.full((3, 2), 7.0, np.float32),
}
TRAINING_VARS = {
    "encoder/mu/kernel/Adam": np.ones((2, 3), np.float32),
    "encoder/mu/kernel/Adam_1": np.ones((2, 3), np.float32),
    "beta1_power": np.float32(0.9),
    "beta2_power": np.float32(0.999),
}


def save_tf_checkpoint(prefix: Path, variables: dict, *, global_step: int | None = 1234) -> Path:
    """Write a TF V2 checkpoint with arbitrary (TF1-style) variable names."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    names, tensors = [], []
    for name, value in variables.items():
        names.append(name)
        tensors.append(tf.constant(value))
    if global_step is not None:
        names.append("global_step")
        tensors.append(tf.constant(global_step, tf.int64))
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=tensors)
    return prefix


def assert_same_weights(got: dict, want: dict):
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], value)


def placeholder_weights(config) -> dict:
    """Zero-cost arrays with the config's shapes (validation only looks at shapes)."""
    return {n: np.broadcast_to(np.float32(0), s) for n, s in expected_variables(config).items()}


# ---- reading TF checkpoints ---------------------------------------------------------------------


def test_prefix_reads_model_variables_and_drops_training_state(tmp_path):
    prefix = save_tf_checkpoint(tmp_path / "model.ckpt", {**MODEL_VARS, **TRAINING_VARS})
    weights, description = read_checkpoint(prefix)
    assert_same_weights(weights, MODEL_VARS)
    assert "TF checkpoint" in description and "dropped 5" in description


def test_folder_and_index_file_and_tar_all_work(tmp_path):
    folder = tmp_path / "run"
    prefix = save_tf_checkpoint(folder / "model.ckpt-42", MODEL_VARS)
    assert_same_weights(read_checkpoint(folder)[0], MODEL_VARS)
    assert_same_weights(read_checkpoint(str(prefix) + ".index")[0], MODEL_VARS)
    tar_path = tmp_path / "run.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(folder, arcname="run")
    cache = tmp_path / "cache"
    weights, description = read_checkpoint(tar_path, cache=cache)
    assert_same_weights(weights, MODEL_VARS)
    assert str(tar_path) in description
    markers = list(cache.rglob(".midime-widgets-complete"))
    assert len(markers) == 1
    stamp = markers[0].stat().st_mtime_ns
    read_checkpoint(tar_path, cache=cache)  # second read reuses the extraction
    assert markers[0].stat().st_mtime_ns == stamp


def test_folder_with_several_checkpoints_needs_a_choice(tmp_path):
    save_tf_checkpoint(tmp_path / "model.ckpt-1", MODEL_VARS)
    newer = {k: v + 1 for k, v in MODEL_VARS.items()}
    save_tf_checkpoint(tmp_path / "model.ckpt-2", newer)
    with pytest.raises(CheckpointError, match=r"2 checkpoints.*model\.ckpt-1.*model\.ckpt-2"):
        read_checkpoint(tmp_path)
    # a TF 'checkpoint' state file chooses (paths there may be absolute from another machine)
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "/elsewhere/model.ckpt-2"\n'
        'all_model_checkpoint_paths: "/elsewhere/model.ckpt-1"\n')
    assert find_checkpoint_prefix(tmp_path) == tmp_path / "model.ckpt-2"
    assert_same_weights(read_checkpoint(tmp_path)[0], newer)


def test_missing_and_damaged_checkpoints_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nowhere" / "model.ckpt")
    with pytest.raises(CheckpointError, match="No checkpoint found"):
        read_checkpoint(tmp_path / "model.ckpt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match=r"no '\*\.index'"):
        read_checkpoint(empty)
    prefix = save_tf_checkpoint(tmp_path / "bad" / "model.ckpt", MODEL_VARS)
    data = Path(str(prefix) + ".data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:10])
    with pytest.raises(CheckpointError, match="Could not read the TF checkpoint"):
        read_checkpoint(prefix)


def test_a_tar_with_unsafe_members_is_refused(tmp_path):
    tar_path = tmp_path / "evil.tar"
    with tarfile.open(tar_path, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(CheckpointError, match="Refusing"):
        read_checkpoint(tar_path, cache=tmp_path / "cache")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "cache" / "escaped.txt").exists()


def test_non_model_variable_filter():
    for name in ["global_step", "beta1_power", "encoder/mu/kernel/Adam",
                 "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel/Adam_1",
                 "_CHECKPOINTABLE_OBJECT_GRAPH"]:
        assert not is_model_variable(name), name
    for name in ["encoder/mu/kernel", "core_decoder/core_decoder_2/decoder/output_projection/bias",
                 "decoder/hierarchical_level_0/initial_state/kernel"]:
        assert is_model_variable(name), name


# ---- validation ---------------------------------------------------------------------------------


def test_a_fitting_checkpoint_passes():
    validate_weights(placeholder_weights(CONFIGS["hierdec-trio_16bar"]),
                     CONFIGS["hierdec-trio_16bar"])


def test_missing_variable_is_named():
    weights = placeholder_weights(CONFIGS["cat-mel_2bar_small"])
    del weights["decoder/output_projection/kernel"]
    with pytest.raises(CheckpointError) as err:
        validate_weights(weights, CONFIGS["cat-mel_2bar_small"])
    message = str(err.value)
    assert "1 missing" in message
    assert "decoder/output_projection/kernel [256, 90]" in message
    assert "unexpected" not in message and "wrong shape" not in message


def test_unexpected_and_misshaped_variables_are_named():
    weights = placeholder_weights(CONFIGS["cat-mel_2bar_small"])
    weights["decoder/extra_layer/kernel"] = np.zeros((2, 2), np.float32)
    weights["encoder/mu/kernel"] = np.zeros((1024, 128), np.float32)
    with pytest.raises(CheckpointError) as err:
        validate_weights(weights, CONFIGS["cat-mel_2bar_small"])
    message = str(err.value)
    assert "1 unexpected" in message and "decoder/extra_layer/kernel [2, 2]" in message
    assert "encoder/mu/kernel: checkpoint [1024, 128], config expects [1024, 256]" in message


def test_long_lists_are_cut_with_a_count():
    weights = placeholder_weights(CONFIGS["hierdec-mel_16bar"])
    with pytest.raises(CheckpointError) as err:
        validate_weights(weights, CONFIGS["flat-mel_16bar"])
    message = str(err.value)
    assert "… and" in message and "more" in message
    assert message.count("\n    ") < 20  # a few names per category, not all of them


def test_error_suggests_the_config_that_fits():
    drums = placeholder_weights(CONFIGS["cat-drums_2bar_small"])
    with pytest.raises(CheckpointError, match=r"matches config 'cat-drums_2bar_small' exactly"):
        validate_weights(drums, CONFIGS["cat-mel_2bar_small"])
    trio = placeholder_weights(CONFIGS["hierdec-trio_16bar"])
    with pytest.raises(CheckpointError, match=r"config='hierdec-trio_16bar'"):
        validate_weights(trio, CONFIGS["hierdec-mel_16bar"])


def test_suggest_configs():
    assert suggest_configs(placeholder_weights(CONFIGS["flat-trio_16bar"])) == ["flat-trio_16bar"]
    # the same network under two names: both come back
    assert set(suggest_configs(placeholder_weights(CONFIGS["cat-mel_2bar_small"]))) >= {
        "cat-mel_2bar_small", "mel_2bar_small"}
    # magenta.js folders may lack sigma: still an exact match
    no_sigma = placeholder_weights(CONFIGS["cat-drums_2bar_small"])
    del no_sigma["encoder/sigma/kernel"], no_sigma["encoder/sigma/bias"]
    assert suggest_configs(no_sigma) == ["cat-drums_2bar_small"]
    assert suggest_configs({"some/other/net": np.zeros(3)}) == []


def test_missing_sigma_can_be_allowed():
    weights = placeholder_weights(CONFIGS["mel_2bar_small"])
    del weights["encoder/sigma/kernel"], weights["encoder/sigma/bias"]
    with pytest.raises(CheckpointError, match=r"(?s)encoder/sigma/kernel.*allow_missing_sigma"):
        validate_weights(weights, CONFIGS["mel_2bar_small"])
    validate_weights(weights, CONFIGS["mel_2bar_small"], allow_missing_sigma=True)


def test_resized_checkpoint_gets_a_layout_hint_and_infer_config_fits_it():
    small = CONFIGS["hierdec-mel_16bar"].replace(enc_rnn_sizes=(8, 8), dec_rnn_sizes=(6, 6),
                                                 z_size=4)
    weights = placeholder_weights(small)
    with pytest.raises(CheckpointError, match=r"layout of config 'hierdec-mel_16bar'.*"
                                              r"enc_rnn_sizes=\(8, 8\)"):
        validate_weights(weights, CONFIGS["hierdec-mel_16bar"])
    inferred = infer_config(weights, CONFIGS["hierdec-mel_16bar"], name="small")
    assert (inferred.enc_rnn_sizes, inferred.dec_rnn_sizes, inferred.z_size) == ((8, 8), (6, 6), 4)
    assert inferred.name == "small" and inferred.level_lengths == (16, 16)
    validate_weights(weights, inferred)


def test_infer_config_rejects_a_conductor_sized_unlike_the_core():
    weights = placeholder_weights(CONFIGS["hierdec-mel_16bar"].replace(
        enc_rnn_sizes=(8,), dec_rnn_sizes=(6, 6), z_size=4))
    weights["decoder/hierarchical_level_0/cell_1/lstm_cell/bias"] = np.zeros(4 * 7, np.float32)
    with pytest.raises(CheckpointError, match="conductor"):
        infer_config(weights, CONFIGS["hierdec-mel_16bar"])


# ---- config.json (magenta.js) -------------------------------------------------------------------


def mel_config_json(**args):
    return {"type": "MusicVAE", "dataConverter": {
        "type": "MelodyConverter", "args": {"numSteps": 32, "minPitch": 21, "maxPitch": 108,
                                            **args}}}


def test_config_from_tfjs_for_the_real_mel_2bar_small_layout():
    weights = placeholder_weights(CONFIGS["mel_2bar_small"])
    config = config_from_tfjs(mel_config_json(), weights, name="mel_2bar_small")
    assert config.name == "mel_2bar_small"
    assert (config.enc_rnn_sizes, config.dec_rnn_sizes, config.z_size) == ((512,), (256, 256), 256)
    assert (config.input_depth, config.output_depths, config.max_seq_len) == (90, (90,), 32)
    assert config.encoder == "bidirectional" and config.decoder == "categorical"
    assert config.converter == {"type": "melody", "slice_bars": 2}
    validate_weights(weights, config)


@pytest.mark.parametrize("spec, match", [
    ({"type": "MusicRNN"}, "not a MusicVAE"),
    ({"type": "MusicVAE", "dataConverter": {"type": "GrooveConverter",
                                            "args": {"numSteps": 32}}}, "GrooveConverter"),
    ({"type": "MusicVAE", "chordEncoder": "PitchChordEncoder",
      "dataConverter": {"type": "MelodyConverter", "args": {"numSteps": 32}}}, "chordEncoder"),
    ({"type": "MusicVAE", "dataConverter": {"type": "MelodyConverter",
                                            "args": {"numSteps": 30}}}, "numSteps"),
    (mel_config_json(maxPitch=96), "disagree"),
])
def test_config_from_tfjs_errors(spec, match):
    with pytest.raises(CheckpointError, match=match):
        config_from_tfjs(spec, placeholder_weights(CONFIGS["mel_2bar_small"]))


def test_config_from_tfjs_reads_a_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(mel_config_json()))
    config = config_from_tfjs(tmp_path, placeholder_weights(CONFIGS["mel_2bar_small"]))
    assert config.name == tmp_path.name and config.z_size == 256


# ---- real magenta checkpoints (oracle fixtures, when generated) ---------------------------------


def _oracle_prefixes():
    if not ORACLE.is_dir():
        return []
    return sorted(p.with_suffix("") for p in ORACLE.glob("*/model.ckpt.index"))


@pytest.mark.oracle
@pytest.mark.parametrize("prefix", _oracle_prefixes(), ids=lambda p: p.parent.name)
def test_magenta_written_checkpoints_read_and_validate(prefix):
    name = prefix.parent.name
    weights, description = read_checkpoint(prefix)
    assert "global_step" not in weights and "dropped 1" in description
    assert name in suggest_configs(weights) or name in str(_validation_message(weights, name))
    config = infer_config(weights, CONFIGS[name])
    validate_weights(weights, config)
    hp = json.loads((prefix.parent / "hparams.json").read_text())
    assert config.enc_rnn_sizes == tuple(hp["enc_rnn_size"])
    assert config.dec_rnn_sizes == tuple(hp["dec_rnn_size"])
    assert config.z_size == hp["z_size"]


def _validation_message(weights, name):
    try:
        validate_weights(weights, CONFIGS[name])
    except CheckpointError as exc:
        return exc
    return ""


def test_nan_or_infinite_tf_weights_are_refused_naming_the_variable(tmp_path):
    for bad in (np.nan, np.inf):
        variables = dict(MODEL_VARS, **{"encoder/mu/bias": np.array([0.5, bad, 2.0], np.float32)})
        prefix = save_tf_checkpoint(tmp_path / str(bad) / "model.ckpt", variables)
        with pytest.raises(CheckpointError, match=r"'encoder/mu/bias' holds 1 NaN or infinite"):
            read_checkpoint(prefix)


def test_a_tar_whose_contents_fail_is_not_kept_in_the_cache(tmp_path):
    """The completion marker comes only after the weights read; a failure removes the copy."""
    folder = tmp_path / "run"
    variables = dict(MODEL_VARS, **{"encoder/mu/bias": np.array([0.5, np.nan, 2.0], np.float32)})
    save_tf_checkpoint(folder / "model.ckpt", variables)
    tar_path = tmp_path / "run.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(folder, arcname="run")
    cache = tmp_path / "cache"
    for _ in range(2):  # the second attempt extracts again instead of trusting a partial copy
        with pytest.raises(CheckpointError, match="NaN or infinite"):
            read_checkpoint(tar_path, cache=cache)
        assert list((cache / "extracted").iterdir()) == []


def test_a_tar_bomb_is_refused_before_writing(tmp_path):
    import gzip

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("run/model.ckpt.data-00000-of-00001")
        info.size = 50 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    tar_path = tmp_path / "bomb.tar.gz"
    tar_path.write_bytes(gzip.compress(buffer.getvalue()))
    assert tar_path.stat().st_size < 200_000
    cache = tmp_path / "cache"
    with pytest.raises(CheckpointError, match="would take more than"):
        read_checkpoint(tar_path, cache=cache)
    assert not any(p.is_file() for p in cache.rglob("*"))
