"""Config table and expected variables, checked against numbers from the spec, the magenta.js
checkpoint list and (when present) the variables the real magenta code created."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from midime_widgets.errors import CheckpointError
from midime_widgets.models.configs import (
    CHECKPOINTS,
    CONFIGS,
    CheckpointInfo,
    MusicVAEConfig,
    count_parameters,
    expected_variables,
    get_checkpoint_info,
    get_config,
)

ORACLE = Path(__file__).parent / "fixtures" / "oracle" / "checkpoints"
ENC0 = "encoder/cell_0/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell"
ENC1 = "encoder/cell_1/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell"

REQUIRED_CONFIGS = [
    "cat-mel_2bar_small", "cat-mel_2bar_big", "cat-drums_2bar_small", "cat-drums_2bar_big",
    "flat-mel_16bar", "hierdec-mel_16bar", "flat-trio_16bar", "hierdec-trio_16bar",
    "mel_2bar_small", "mel_4bar_small_q2", "mel_16bar_small_q2", "trio_4bar",
]


# ---- the tables ---------------------------------------------------------------------------------


def test_required_configs_exist():
    assert set(REQUIRED_CONFIGS) <= set(CONFIGS)
    for name, config in CONFIGS.items():
        assert config.name == name


def test_every_checkpoint_names_a_known_config_and_sane_fields():
    for name, info in CHECKPOINTS.items():
        assert info.name == name
        assert info.config in CONFIGS, f"{name} → unknown config {info.config}"
        assert info.format in ("tf", "tfjs")
        assert info.urls and all(u.startswith("https://") for u in info.urls)
        assert info.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", info.sha256)
        assert info.size is None or info.size > 0
        json.dumps(info.to_dict())


def test_official_tarballs_use_the_readme_urls():
    # magenta/models/music_vae/README.md
    base = "https://storage.googleapis.com/magentadata/models/music_vae/checkpoints/"
    for name in ["cat-mel_2bar_big", "hierdec-mel_16bar", "hierdec-trio_16bar",
                 "cat-drums_2bar_small.lokl", "cat-drums_2bar_small.hikl"]:
        info = CHECKPOINTS[name]
        assert info.format == "tf" and info.files is None
        assert info.urls[0] == f"{base}{name}.tar"
    assert CHECKPOINTS["cat-drums_2bar_small.lokl"].config == "cat-drums_2bar_small"
    assert CHECKPOINTS["cat-drums_2bar_small.hikl"].config == "cat-drums_2bar_small"


def test_magenta_js_checkpoints_point_at_the_js_bucket():
    base = "https://storage.googleapis.com/magentadata/js/checkpoints/music_vae/"
    for name in ["mel_2bar_small", "mel_4bar_small_q2", "mel_16bar_small_q2", "trio_4bar"]:
        info = CHECKPOINTS[name]
        assert info.format == "tfjs"
        assert info.urls[0] == base + name


def test_unknown_names_fail_with_the_known_ones_listed():
    with pytest.raises(CheckpointError, match="cat-mel_2bar_small"):
        get_config("cat-mel_3bar")
    with pytest.raises(CheckpointError, match="hierdec-trio_16bar"):
        get_checkpoint_info("nope")
    assert get_config("hierdec-mel_16bar") is CONFIGS["hierdec-mel_16bar"]


# ---- published sizes ----------------------------------------------------------------------------


def test_mel_2bar_small_has_the_published_number_of_floats():
    # magenta-js-and-demo-notes.md §3: 4,423,770 floats = 17.70 MB (checkpoints.json: 17.7 MB)
    assert count_parameters(CONFIGS["mel_2bar_small"]) == 4_423_770
    assert count_parameters(CONFIGS["cat-mel_2bar_small"]) == 4_423_770


@pytest.mark.parametrize("config, bytes_per_value, size_mb", [
    ("cat-drums_2bar_small", 4, 18.5),   # drums_2bar_{lokl,hikl}_small, float32
    ("mel_16bar_small_q2", 2, 23.5),      # 2-byte quantized
    ("trio_4bar", 1, 17.6),               # trio_4bar_lokl_small_q1, 1-byte quantized
])
def test_magenta_js_sizes_match_checkpoints_json(config, bytes_per_value, size_mb):
    # music/checkpoints/checkpoints.json size_mb (MB = 1e6 bytes)
    got = count_parameters(CONFIGS[config]) * bytes_per_value / 1e6
    assert got == pytest.approx(size_mb, abs=0.06)


# ---- variable layouts of magenta's graph -------------------------------------------------------------


def test_cat_mel_2bar_small_variables_are_exactly_the_spec_table():
    # as dumped from magenta's graph (LSTMBlockCell kernels are [in + n, 4n])
    expected = {}
    for d in ("fw", "bw"):
        expected[ENC0.format(d) + "/kernel"] = (602, 2048)
        expected[ENC0.format(d) + "/bias"] = (2048,)
    for head in ("mu", "sigma"):
        expected[f"encoder/{head}/kernel"] = (1024, 256)
        expected[f"encoder/{head}/bias"] = (256,)
    expected.update({
        "decoder/z_to_initial_state/kernel": (256, 1024),
        "decoder/z_to_initial_state/bias": (1024,),
        "decoder/multi_rnn_cell/cell_0/lstm_cell/kernel": (602, 1024),
        "decoder/multi_rnn_cell/cell_0/lstm_cell/bias": (1024,),
        "decoder/multi_rnn_cell/cell_1/lstm_cell/kernel": (512, 1024),
        "decoder/multi_rnn_cell/cell_1/lstm_cell/bias": (1024,),
        "decoder/output_projection/kernel": (256, 90),
        "decoder/output_projection/bias": (90,),
    })
    assert expected_variables(CONFIGS["cat-mel_2bar_small"]) == expected
    no_sigma = expected_variables(CONFIGS["cat-mel_2bar_small"], include_sigma=False)
    assert set(expected) - set(no_sigma) == {"encoder/sigma/kernel", "encoder/sigma/bias"}


def test_hierdec_mel_16bar_names_and_shapes_follow_the_spec():
    v = expected_variables(CONFIGS["hierdec-mel_16bar"])
    assert v[ENC0.format("fw") + "/kernel"] == (2138, 8192)
    assert v[ENC1.format("bw") + "/kernel"] == (6144, 8192)
    assert v["encoder/mu/kernel"] == (4096, 512)
    assert v["decoder/hierarchical_level_0/initial_state/kernel"] == (512, 4096)
    assert v["decoder/hierarchical_level_0/cell_0/lstm_cell/kernel"] == (1025, 4096)
    assert v["decoder/hierarchical_level_0/cell_1/lstm_cell/kernel"] == (2048, 4096)
    assert v["core_decoder/decoder/z_to_initial_state/kernel"] == (1024, 4096)
    assert v["core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (2138, 4096)
    assert v["core_decoder/decoder/multi_rnn_cell/cell_1/lstm_cell/kernel"] == (2048, 4096)
    assert v["core_decoder/decoder/output_projection/kernel"] == (1024, 90)
    # the conductor has no multi_rnn_cell level in its names (lm:955-976)
    assert not any("hierarchical_level_0/multi_rnn_cell" in n for n in v)
    assert not any(n.startswith("decoder/multi_rnn_cell") for n in v)
    assert len(v) == 8 + 4 + 6 + 8  # encoder 2 layers x 2 dirs x 2, heads, conductor, core


def test_hierdec_trio_has_three_split_core_decoders():
    v = expected_variables(CONFIGS["hierdec-trio_16bar"])
    for track, depth in enumerate((90, 90, 512)):
        prefix = f"core_decoder/core_decoder_{track}/decoder"
        assert v[f"{prefix}/output_projection/kernel"] == (1024, depth)
        assert v[f"{prefix}/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (depth + 2048, 4096)
    assert v["core_decoder/core_decoder_2/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (
        2560, 4096)
    assert v[ENC0.format("fw") + "/kernel"] == (692 + 2048, 8192)
    assert not any(n.startswith("core_decoder/decoder/") for n in v)


def test_flat_trio_and_flat_mel_16bar_shapes():
    trio = expected_variables(CONFIGS["flat-trio_16bar"])
    assert trio["decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (3252, 8192)
    assert trio["decoder/output_projection/kernel"] == (2048, 692)
    assert trio["decoder/multi_rnn_cell/cell_2/lstm_cell/kernel"] == (4096, 8192)
    mel = expected_variables(CONFIGS["flat-mel_16bar"])
    assert mel[ENC0.format("fw") + "/kernel"] == (2138, 8192)
    assert mel[ENC1.format("fw") + "/kernel"] == (6144, 8192)
    assert mel["decoder/z_to_initial_state/kernel"] == (512, 2 * 3 * 2048)


def test_drums_read_a_10_wide_roll_and_write_512_classes():
    v = expected_variables(CONFIGS["cat-drums_2bar_small"])
    assert v[ENC0.format("fw") + "/kernel"] == (10 + 512, 2048)
    assert v["decoder/multi_rnn_cell/cell_0/lstm_cell/kernel"] == (512 + 256 + 256, 1024)
    assert v["decoder/output_projection/kernel"] == (256, 512)


def test_magenta_js_hierarchical_encoder_layout():
    # model.ts: encoder/hierarchical_level_%d/cell_0/bidirectional_rnn/{fw,bw}/...
    v = expected_variables(CONFIGS["trio_4bar"])
    lvl = ("encoder/hierarchical_level_{}/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/"
           "lstm_cell")
    assert v[lvl.format(0) + "/kernel"] == (692 + 512, 2048)
    assert v[lvl.format(1) + "/kernel"] == (1024 + 512, 2048)  # reads level 0's [fw; bw]
    assert not any(n.startswith("encoder/cell_") for n in v)
    assert CONFIGS["trio_4bar"].encoder_level_lengths == (16, 4)
    assert CONFIGS["hierdec-mel_16bar"].encoder_level_lengths is None


# ---- the dataclass ------------------------------------------------------------------------------


def test_replace_and_json_round_trip():
    base = CONFIGS["hierdec-trio_16bar"]
    small = base.replace(enc_rnn_sizes=[32, 32], dec_rnn_sizes=(24, 24), z_size=16)
    assert small.enc_rnn_sizes == (32, 32) and small.z_size == 16
    assert base.z_size == 512  # unchanged
    back = MusicVAEConfig.from_dict(json.loads(json.dumps(small.to_dict())))
    assert back == small and hash(back) == hash(small)
    assert back.converter == {"type": "trio", "slice_bars": 16, "gap_bars": 2}


def test_configs_are_immutable_and_do_not_share_converter_dicts():
    spec = {"type": "melody", "slice_bars": 2}
    config = MusicVAEConfig(name="x", converter=spec)
    spec["slice_bars"] = 99
    assert config.converter["slice_bars"] == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.z_size = 3  # type: ignore[misc]


@pytest.mark.parametrize("changes, field", [
    ({"encoder": "lstm"}, "encoder"),
    ({"decoder": "hierarchical", "core_decoder": None, "level_lengths": (2, 16),
      "max_seq_len": 32}, "core_decoder"),
    ({"decoder": "hierarchical", "core_decoder": "categorical", "level_lengths": (4, 16)},
     "level_lengths"),
    ({"output_depths": (90, 90)}, "multiout"),
])
def test_invalid_configs_name_the_problem(changes, field):
    with pytest.raises(ValueError, match=field):
        CONFIGS["cat-mel_2bar_small"].replace(**changes)


def test_replace_rejects_unknown_fields():
    with pytest.raises(TypeError, match="z_dim"):
        CONFIGS["cat-mel_2bar_small"].replace(z_dim=3)
    with pytest.raises(ValueError, match="z_dim"):
        MusicVAEConfig.from_dict({"name": "x", "z_dim": 3})


# ---- against the real magenta graph (oracle fixtures, when generated) ---------------------------


def _oracle_hparams():
    return sorted(ORACLE.glob("*/hparams.json")) if ORACLE.is_dir() else []


@pytest.mark.oracle
@pytest.mark.parametrize("path", _oracle_hparams(), ids=lambda p: p.parent.name)
def test_expected_variables_match_the_magenta_graph(path):
    hp = json.loads(path.read_text())
    config = CONFIGS[hp["config"]].replace(
        enc_rnn_sizes=hp["enc_rnn_size"], dec_rnn_sizes=hp["dec_rnn_size"], z_size=hp["z_size"])
    magenta = {name: tuple(shape) for name, shape in hp["variables"] if name != "global_step"}
    assert expected_variables(config) == magenta


@pytest.mark.oracle
@pytest.mark.parametrize("path", _oracle_hparams(), ids=lambda p: p.parent.name)
def test_config_hparams_match_magenta(path):
    hp = json.loads(path.read_text())
    config = CONFIGS[hp["config"]]
    original = hp["original_sizes"]
    assert config.enc_rnn_sizes == tuple(original["enc_rnn_size"])
    assert config.dec_rnn_sizes == tuple(original["dec_rnn_size"])
    assert config.z_size == original["z_size"]
    assert config.input_depth == hp["input_depth"]
    assert config.output_depth == hp["output_depth"]
    if hp.get("level_lengths") is not None:
        assert config.level_lengths == tuple(hp["level_lengths"])
    magenta = hp["hparams_all"]
    for field in ["max_seq_len", "free_bits", "max_beta", "beta_rate", "batch_size",
                  "grad_clip", "clip_mode", "grad_norm_clip_to_zero", "learning_rate",
                  "decay_rate", "min_learning_rate", "dropout_keep_prob", "sampling_schedule",
                  "sampling_rate"]:
        assert getattr(config, field) == magenta[field], field


def test_checkpoint_info_is_frozen():
    info = CHECKPOINTS["hierdec-mel_16bar"]
    assert isinstance(info, CheckpointInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.sha256 = "0" * 64  # type: ignore[misc]
