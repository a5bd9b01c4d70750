"""Where a TF checkpoint's files are: the prefix of the one to read inside a folder.

Shared by reading checkpoints (`checkpoints`) and downloading them (`download`), so neither has
to import the other. No TensorFlow here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import CheckpointError

__all__ = ["TFJS_CONFIG", "TFJS_MANIFEST", "find_checkpoint_prefix", "has_index"]

TFJS_MANIFEST = "weights_manifest.json"  # a magenta.js (TensorFlow.js) folder's weight list
TFJS_CONFIG = "config.json"  # a magenta.js folder's model description
_SHOW = 5  # checkpoints listed when a folder holds too many to choose from


def find_checkpoint_prefix(directory: str | os.PathLike) -> Path:
    """The TF checkpoint prefix inside `directory` (searched recursively).

    With several checkpoints, the one named by the folder's `checkpoint` state file wins (as
    `tf.train.latest_checkpoint`); otherwise the caller must pass the prefix explicitly.
    """
    directory = Path(directory)
    indexes = sorted(directory.rglob("*.index"))
    if not indexes:
        raise CheckpointError(
            f"No TF checkpoint in {directory}: no '*.index' file found (and no "
            f"{TFJS_MANIFEST} for a magenta.js checkpoint).")
    prefixes = [p.with_suffix("") for p in indexes]
    if len(prefixes) == 1:
        return prefixes[0]
    chosen = _prefix_from_state_file(directory, prefixes)
    if chosen is not None:
        return chosen
    listing = ", ".join(str(p.relative_to(directory)) for p in prefixes[:_SHOW])
    more = f" and {len(prefixes) - _SHOW} more" if len(prefixes) > _SHOW else ""
    raise CheckpointError(
        f"{directory} holds {len(prefixes)} checkpoints ({listing}{more}) and no 'checkpoint' "
        f"file says which to use; pass the prefix of the one you want, e.g. "
        f"{prefixes[-1]}.")


def _prefix_from_state_file(directory: Path, prefixes: list[Path]) -> Path | None:
    """The prefix named by a TF `checkpoint` state file in one of the candidates' folders."""
    for folder in sorted({p.parent for p in prefixes}):
        state = folder / "checkpoint"
        if not state.is_file():
            continue
        text = state.read_text(errors="replace")
        match = re.search(r'^model_checkpoint_path:\s*"(.+)"\s*$', text, re.MULTILINE)
        if not match:
            continue
        named = Path(match.group(1))
        candidate = named if named.is_absolute() else folder / named
        if has_index(candidate):
            return candidate
        # state files written elsewhere keep absolute paths: fall back on the file name
        local = folder / named.name
        if has_index(local):
            return local
    return None


def has_index(prefix: Path) -> bool:
    """True when `prefix.index` exists (the file every TF checkpoint has)."""
    return Path(str(prefix) + ".index").is_file()
