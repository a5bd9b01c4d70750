"""MusicVAE and MidiMe: configs, checkpoint reading/validation, pretrained downloads, the models.

Importing this package does not import TensorFlow; reading a TF checkpoint does.
"""

from .checkpoints import (
    config_from_tfjs,
    find_checkpoint_prefix,
    infer_config,
    read_checkpoint,
    read_tfjs_weights,
    suggest_configs,
    validate_weights,
)
from .configs import (
    CHECKPOINTS,
    CONFIGS,
    CheckpointInfo,
    MusicVAEConfig,
    count_parameters,
    expected_variables,
    get_checkpoint_info,
    get_config,
)
from .download import cache_dir, fetch_pretrained, is_cached, is_offline, safe_extract
from .midime import FitHistory, MidiMe, MidiMeConfig, MidiMeInputError
from .musicvae import MusicVAE  # TensorFlow loads when a model is built, not here

__all__ = [
    "CHECKPOINTS",
    "CONFIGS",
    "CheckpointInfo",
    "FitHistory",
    "MidiMe",
    "MidiMeConfig",
    "MidiMeInputError",
    "MusicVAE",
    "MusicVAEConfig",
    "cache_dir",
    "config_from_tfjs",
    "count_parameters",
    "expected_variables",
    "fetch_pretrained",
    "find_checkpoint_prefix",
    "get_checkpoint_info",
    "get_config",
    "infer_config",
    "is_cached",
    "is_offline",
    "read_checkpoint",
    "read_tfjs_weights",
    "safe_extract",
    "suggest_configs",
    "validate_weights",
]
