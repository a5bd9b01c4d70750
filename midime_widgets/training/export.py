"""Write a trained MusicVAE as a model folder `MusicVAE.from_checkpoint` and `--model` load.

A model folder holds the weights only (float32, magenta's variable names: magenta's
`TrainedModel` restores it too), with the latent matched to the prior where the decoder is flat
(`prior_match`), and `config.json`: `{"config": …, "training": …}`, which tells the loader the
model's own name, converter and windows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: The files a model folder holds.
MODEL_FILES = ("model.ckpt.index", "model.ckpt.data-00000-of-00001", "config.json")


def export_model(prefix, config, out_dir: Path, batches: Iterable[np.ndarray],
                 training: dict | None = None, extra: dict | None = None) -> np.ndarray | None:
    """Write checkpoint `prefix`'s weights for `config` to `out_dir`, the latent matched to the
    prior from the one-hot training windows in `batches` (full-length `[B, T, input_depth]`
    arrays) when the decoder is flat. `training` adds to config.json's "training" record,
    `extra` adds top-level records. Returns the latent scale (None: not matched)."""
    from ..models.core import MusicVAECore
    from ..models.layout import FlatDecoder, decoder_layout, expected_variables
    from . import tf1_checkpoint
    from .prior_match import SCALE_WINDOWS, latent_scale, rescale_latent

    tensors = tf1_checkpoint.read_checkpoint_tensors(prefix)
    weights = {name: np.asarray(tensors[name], np.float32) for name in expected_variables(config)}
    scale = None
    record = {"steps": int(tensors["global_step"])}
    if isinstance(decoder_layout(config), FlatDecoder):
        scale, sigma = latent_scale(MusicVAECore(config, weights=weights), batches)
        weights = rescale_latent(weights, config, scale, sigma)
        record["latent_scale"] = {"windows": SCALE_WINDOWS, "median": round(float(np.median(scale)), 4),
                                  "min": round(float(scale.min()), 4), "max": round(float(scale.max()), 4)}
    weights["global_step"] = np.int64(tensors["global_step"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tf1_checkpoint.write_checkpoint(out_dir / "model.ckpt", weights)
    meta = {"config": config.to_dict(), "training": {**record, **(training or {})}, **(extra or {})}
    (out_dir / "config.json").write_text(json.dumps(meta, indent=2))
    return scale


def window_batches(inputs: np.ndarray, lengths: np.ndarray, batch: int = 512):
    """Up to `SCALE_WINDOWS` of the full-length windows among `inputs` (all of them when none is
    full length), in batches (for `export_model`)."""
    from .prior_match import SCALE_WINDOWS

    full = np.asarray(lengths) == inputs.shape[1]
    inputs = (inputs[full] if full.any() else inputs)[:SCALE_WINDOWS]
    return (inputs[i : i + batch] for i in range(0, len(inputs), batch))


def npz_batches(windows: np.ndarray, *, seed: int, transpose: int, batch: int = 512):
    """`SCALE_WINDOWS` of an .npz's melody windows, one-hot and transposed as in training."""
    from .prior_match import SCALE_WINDOWS
    from .trainer import melody_dataset

    data = melody_dataset(windows, batch_size=batch, seed=seed, transpose=transpose, repeat=False)
    return (x.numpy() for x, _, _ in data.take(max(1, SCALE_WINDOWS // batch)))
