"""Read and write name-based (TF1-style) checkpoints — the layout magenta's `tf.train.Saver` uses.

A checkpoint is `PREFIX.index` + `PREFIX.data-00000-of-00001`, keyed by plain variable names such as
`decoder/output_projection/kernel`. Writing them with `SaveV2` (rather than TF2's object-based
`tf.train.Checkpoint`, whose keys are object paths) lets magenta's `TrainedModel` restore what we
train, and lets us restore magenta's. A `checkpoint` state file lists the latest prefix like TF1 did,
so `tf.train.latest_checkpoint(dir)` works on our training directories.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf


def write_checkpoint(prefix: str | os.PathLike, tensors: dict) -> str:
    """Write `{name: array}` as a name-based checkpoint at `prefix`; returns the prefix."""
    prefix = str(prefix)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    values = [tf.convert_to_tensor(np.asarray(tensors[n])) for n in names]
    tmp = prefix + ".tmp"
    tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)
    # Atomic-ish publish: data first, then the index (a reader needs both).
    for suffix in (".data-00000-of-00001", ".index"):
        os.replace(tmp + suffix, prefix + suffix)
    return prefix


def read_checkpoint_tensors(prefix: str | os.PathLike) -> dict:
    """All tensors of a name-based checkpoint as numpy arrays."""
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def update_state_file(directory: str | os.PathLike, prefix: str, keep: int = 3) -> None:
    """Record `prefix` as the latest checkpoint in `directory/checkpoint`; delete all but `keep`."""
    directory = Path(directory)
    state = directory / "checkpoint"
    previous = []
    if state.exists():
        for line in state.read_text().splitlines():
            if line.startswith("all_model_checkpoint_paths:"):
                previous.append(line.split('"')[1])
    name = os.path.basename(prefix)
    paths = [p for p in previous if p != name] + [name]
    for old in paths[:-keep]:
        for f in directory.glob(old + ".*"):
            f.unlink()
    paths = paths[-keep:]
    lines = [f'model_checkpoint_path: "{name}"'] + [f'all_model_checkpoint_paths: "{p}"' for p in paths]
    tmp = state.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, state)


def latest_checkpoint(directory: str | os.PathLike) -> str | None:
    """The newest checkpoint prefix in `directory`, or None."""
    return tf.train.latest_checkpoint(str(directory))
