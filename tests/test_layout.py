"""The variable layout: one class per structure, and structure kinds that behave as strings."""

from __future__ import annotations

import json
import sys

import pytest

from midime_widgets.models.configs import CONFIGS, MODEL_KINDS, model_kind
from midime_widgets.models.layout import (
    BidirectionalEncoder,
    CoreDecoder,
    Decoder,
    Encoder,
    FlatDecoder,
    HierarchicalDecoder,
    HierarchicalEncoder,
    decoder_layout,
    encoder_layout,
    expected_variables,
)


def test_structure_kinds_are_their_plain_strings():
    assert Decoder.HIERARCHICAL == "hierarchical" and f"{CoreDecoder.SPLIT}" == "split"
    assert json.dumps([Encoder.BIDIRECTIONAL]) == '["bidirectional"]'
    config = CONFIGS["cat-mel_2bar_small"].replace(decoder=Decoder.MULTIOUT,
                                                   output_depths=(90, 90))
    assert type(config.decoder) is str and config.to_dict()["decoder"] == "multiout"


@pytest.mark.parametrize("name, encoder, decoder", [
    ("cat-mel_2bar_small", BidirectionalEncoder, FlatDecoder),
    ("flat-trio_16bar", BidirectionalEncoder, FlatDecoder),
    ("hierdec-trio_16bar", BidirectionalEncoder, HierarchicalDecoder),
    ("trio_4bar", HierarchicalEncoder, HierarchicalDecoder),
])
def test_each_config_gets_the_class_of_its_structure(name, encoder, decoder):
    config = CONFIGS[name]
    enc, dec = encoder_layout(config), decoder_layout(config)
    assert type(enc) is encoder and type(dec) is decoder
    assert enc.kind == config.encoder
    # the structures' own variables together are exactly the config's
    assert {**enc.variable_shapes(), **dec.variable_shapes()} == expected_variables(config)


def test_split_core_has_one_decoder_per_track():
    dec = decoder_layout(CONFIGS["hierdec-trio_16bar"])
    assert [s.prefix for s in dec.stacks] == [f"core_decoder/core_decoder_{k}/decoder"
                                              for k in range(3)]
    assert [s.output_depth for s in dec.stacks] == [90, 90, 512]
    assert dec.conductor.cell(1) == "decoder/hierarchical_level_0/cell_1/lstm_cell"


def test_unknown_structure_is_refused_by_the_config():
    with pytest.raises(ValueError, match="decoder must be one of"):
        CONFIGS["cat-mel_2bar_small"].replace(decoder="transformer")


def test_model_kind_comes_from_the_converter():
    assert {model_kind(c) for c in CONFIGS.values()} == set(MODEL_KINDS)
    assert model_kind(CONFIGS["cat-drums_2bar_small"]) == "drums"


def test_models_package_imports_no_tensorflow():
    """configs, layout and checkpoint checks stay light: TensorFlow loads only with a model."""
    import subprocess

    code = "import sys, midime_widgets.models; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
