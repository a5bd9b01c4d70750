"""Read MusicVAE checkpoints (TF or magenta.js) into `{variable name: np.ndarray}` and check them.

Accepted inputs to `read_checkpoint`:
- a TF checkpoint prefix (`…/model.ckpt`, next to `model.ckpt.index` + `.data-*`);
- a directory holding one (or several, when its `checkpoint` state file names the one to use);
- a `.tar` / `.tar.gz` of either, extracted safely into the cache once;
- a magenta.js folder: `weights_manifest.json` + shards (+ `config.json`), float32 or quantized.

Only model variables come back: optimizer slots (Adam …), `global_step` and other bookkeeping are
dropped. `validate_weights` compares a checkpoint with a config and explains any mismatch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import numpy as np

from ..errors import CheckpointError
from .configs import CONFIGS, MusicVAEConfig, expected_variables
from .layout import SIGMA_VARIABLES as _SIGMA
from .layout import MU, CoreDecoder, Decoder, Encoder, decoder_layout, encoder_layout
from .checkpoint_files import TFJS_CONFIG, TFJS_MANIFEST, find_checkpoint_prefix, has_index
from .archive import COMPLETE_MARKER, cache_dir, safe_extract

__all__ = [
    "read_checkpoint",
    "find_checkpoint_prefix",
    "read_tfjs_weights",
    "validate_weights",
    "suggest_configs",
    "config_from_tfjs",
    "infer_config",
    "is_model_variable",
]

_SHOW = 5  # variables listed per category in error messages

# Optimizer slots and bookkeeping that TF training leaves in checkpoints (magenta uses Adam).
_NON_MODEL = re.compile(
    r"(^|/)(global_step|beta[12]_power|learning_rate|_CHECKPOINTABLE_OBJECT_GRAPH)$"
    r"|(^|/)(Adam|Adam_\d+|Momentum|RMSProp|RMSProp_\d+|Adagrad|ExponentialMovingAverage)(/|$)"
    r"|^(OptimizeLoss|optimizer|save_counter)(/|$)"
)


def is_model_variable(name: str) -> bool:
    """False for optimizer slots, global_step and other training bookkeeping."""
    return _NON_MODEL.search(name) is None


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def read_checkpoint(path: str | os.PathLike, *, cache: str | os.PathLike | None = None,
                    ) -> tuple[dict[str, np.ndarray], str]:
    """Read a checkpoint's model weights.

    Returns `(weights, source_description)`: float arrays keyed by magenta's variable names, and a
    one-line description of what was read (format, path, how many variables were dropped).
    Tarballs are extracted once under `cache` (default: the download cache) and reused.
    Raises CheckpointError when nothing usable is found or the files are damaged.
    """
    path = Path(os.fspath(path)).expanduser()
    if path.is_dir():
        if (path / TFJS_MANIFEST).is_file():
            return _read_tfjs_folder(path)
        return _read_tf_prefix(find_checkpoint_prefix(path))
    if path.is_file() and _is_tar_name(path.name):
        return _read_tar(path, cache)
    if path.is_file() and path.name == TFJS_MANIFEST:
        return _read_tfjs_folder(path.parent)
    if has_index(path):
        return _read_tf_prefix(path)
    if path.suffix == ".index" and path.is_file():
        return _read_tf_prefix(path.with_suffix(""))
    if re.search(r"\.data-\d{5}-of-\d{5}$", path.name) and path.is_file():
        return _read_tf_prefix(Path(re.sub(r"\.data-\d{5}-of-\d{5}$", "", str(path))))
    if not path.exists() and not path.parent.exists():
        raise CheckpointError(f"No checkpoint at {path}: the folder {path.parent} does not exist.")
    raise CheckpointError(
        f"No checkpoint found at {path}. Expected a TF checkpoint prefix (with a "
        f"'{path.name}.index' file next to it), a folder containing one, a .tar of one, or a "
        f"magenta.js folder with {TFJS_MANIFEST}.")


def _is_tar_name(name: str) -> bool:
    return name.endswith((".tar", ".tar.gz", ".tgz"))


def _read_tf_prefix(prefix: Path) -> tuple[dict[str, np.ndarray], str]:
    """Read a TF (V2 bundle) checkpoint with tf.train.load_checkpoint, dropping non-model vars.

    Each variable's size is compared with the .data files on disk before it is read (a damaged
    index cannot make TF allocate more than the files hold), and NaN / infinite weights are
    refused, naming the variable."""
    import tensorflow as tf  # deferred: importing TF is slow and magenta.js reading needs none

    data_bytes = sum(p.stat().st_size for p in prefix.parent.glob(prefix.name + ".data-*"))
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        names = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        weights, dropped = {}, []
        for name in sorted(names):
            if not is_model_variable(name) or not dtypes[name].is_floating:
                dropped.append(name)
                continue
            needed = math.prod(int(d) for d in names[name]) * dtypes[name].size
            if needed > data_bytes:
                raise CheckpointError(
                    f"Could not read the TF checkpoint {prefix}: variable {name!r} "
                    f"{_fmt_shape(names[name])} needs {needed:,} bytes but its .data files "
                    f"hold {data_bytes:,}; the download is incomplete or the files are damaged.")
            weights[name] = np.asarray(reader.get_tensor(name), dtype=np.float32)
            _check_finite(name, weights[name], prefix)
    except CheckpointError:
        raise
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError, MemoryError,
            TypeError) as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise CheckpointError(
            f"Could not read the TF checkpoint {prefix}: {message.splitlines()[0]} "
            f"(is the download complete, and the .data file next to the .index?)") from None
    if not weights:
        raise CheckpointError(f"The TF checkpoint {prefix} holds no model variables "
                              f"({len(dropped)} optimizer/bookkeeping variables only).")
    return weights, _describe("TF checkpoint", prefix, weights, dropped)


def _describe(kind: str, where: Path, weights: Mapping, dropped: list, extra: str = "") -> str:
    floats = sum(int(np.prod(np.shape(v))) for v in weights.values())
    text = f"{kind} {where}{extra}: {len(weights)} variables, {floats:,} values"
    if dropped:
        text += f"; dropped {len(dropped)} non-model variables (optimizer slots, global_step …)"
    return text


def _read_tar(tar_path: Path, cache) -> tuple[dict[str, np.ndarray], str]:
    """Extract a tarball once into the cache (safely) and read the checkpoint inside."""
    stat = tar_path.stat()
    key = hashlib.sha1(f"{tar_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    base = Path(cache) if cache is not None else cache_dir()
    target = base / "extracted" / f"{_tar_stem(tar_path.name)}-{key.hexdigest()[:12]}"
    marker = target / COMPLETE_MARKER
    if marker.is_file():
        weights, desc = _read_extracted(target)
        return weights, f"{desc} (from {tar_path})"
    if target.exists():  # an interrupted extraction (this function's own folder)
        shutil.rmtree(target)
    try:
        safe_extract(tar_path, target)
        weights, desc = _read_extracted(target)  # validated before it counts as extracted
        marker.write_text(str(tar_path.resolve()))
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # never leave a half-usable copy behind
        raise
    return weights, f"{desc} (from {tar_path})"


def _read_extracted(target: Path) -> tuple[dict[str, np.ndarray], str]:
    """The checkpoint inside an extracted archive: a magenta.js folder or a TF prefix."""
    if (target / TFJS_MANIFEST).is_file():
        return _read_tfjs_folder(target)
    tfjs = [p.parent for p in target.rglob(TFJS_MANIFEST)]
    if len(tfjs) == 1 and not list(target.rglob("*.index")):
        return _read_tfjs_folder(tfjs[0])
    return _read_tf_prefix(find_checkpoint_prefix(target))


def _tar_stem(name: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# -- magenta.js / TensorFlow.js weights --------------------------------------------------------

# bytes per stored value; tfjs-core io_utils DTYPE_VALUE_SIZE_MAP
_TFJS_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1")}
_TFJS_QUANT = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}
#: Largest JSON file read beside weights (a weights_manifest.json, or a config.json of magenta.js
#: or of an exported or training checkpoint), in bytes; real ones are a few kilobytes.
MAX_CONFIG_JSON_BYTES = 16 * 1024 * 1024
#: Longest sequence (16th-note steps) a magenta.js config.json may declare: 256 bars.
_MAX_TFJS_STEPS = 4096
#: Most dimensions a weight may have (MusicVAE's have 1 or 2).
_MAX_RANK = 8


def read_tfjs_weights(folder: str | os.PathLike) -> tuple[dict[str, np.ndarray], list[str]]:
    """Decode a TensorFlow.js weights folder exactly as tfjs-core's `loadWeights` does.

    Returns `(weights, dropped names)`. Each manifest group's shards are concatenated and the
    group's weights read one after another; quantized weights are restored as
    `float32(q · scale + min)` (uint8/uint16, computed in float64 like JavaScript) or from IEEE
    half floats (float16). The whole manifest is checked (types, shapes, shard names, the bytes
    it describes against the shards' sizes on disk) before any shard is read; weights that are
    NaN or infinite are refused, naming the variable.
    """
    folder = Path(folder)
    manifest = _load_json(folder / TFJS_MANIFEST, "weights manifest")
    groups = _check_manifest(manifest, folder)
    weights: dict[str, np.ndarray] = {}
    dropped: list[str] = []
    for paths, specs, expected in groups:
        _check_shard_sizes(folder, paths, expected)
        buffer = b"".join(_read_shard(folder, p) for p in paths)
        offset = 0
        for spec in specs:
            array, offset = _decode_tfjs_weight(spec, buffer, offset, folder)
            name = spec["name"]
            if is_model_variable(name) and array.dtype == np.float32:
                _check_finite(name, array, folder)
                weights[name] = array
            else:
                dropped.append(name)
        if offset != len(buffer):
            raise CheckpointError(
                f"The weight shards of {folder} hold {len(buffer):,} bytes but the manifest "
                f"describes {offset:,}: the files are damaged or from another model.")
    return weights, dropped


def check_tfjs_manifest(folder: str | os.PathLike) -> list[tuple[list[str], int]]:
    """Validate a folder's weights_manifest.json alone (no shard needed): each group's
    (shard paths, bytes its weights occupy). Used to bound shard downloads."""
    folder = Path(folder)
    manifest = _load_json(folder / TFJS_MANIFEST, "weights manifest")
    return [(paths, expected) for paths, _, expected in _check_manifest(manifest, folder)]


def _check_manifest(manifest: Any, folder: Path) -> list[tuple[list[str], list[dict], int]]:
    """Each group's (shard paths, weight specs, bytes its weights need), or CheckpointError."""
    where = folder / TFJS_MANIFEST
    if not isinstance(manifest, list):
        raise CheckpointError(f"{where} is not a TensorFlow.js weights manifest "
                              "(expected a list of {paths, weights} groups).")
    groups = []
    for index, group in enumerate(manifest):
        if not isinstance(group, dict) or "paths" not in group or "weights" not in group:
            raise CheckpointError(f"Weights manifest group {index} in {folder} lacks "
                                  "'paths' or 'weights'.")
        paths, specs = group["paths"], group["weights"]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise CheckpointError(f"{where}: group {index}'s 'paths' must be a list of file "
                                  f"names, not {_short(paths)}.")
        if not isinstance(specs, list):
            raise CheckpointError(f"{where}: group {index}'s 'weights' must be a list, not "
                                  f"{_short(specs)}.")
        for path in paths:
            _shard_path(folder, path)
        expected = sum(_spec_nbytes(spec, folder) for spec in specs)
        groups.append((paths, specs, expected))
    return groups


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _spec_nbytes(spec: Any, folder: Path) -> int:
    """Validate one manifest entry; the number of bytes it occupies in the shards."""
    if not isinstance(spec, dict):
        raise CheckpointError(f"Bad weights manifest entry in {folder}: {_short(spec)} is not "
                              "an object with name, shape and dtype.")
    name, shape, dtype = spec.get("name"), spec.get("shape"), spec.get("dtype")
    if not isinstance(name, str) or not name:
        raise CheckpointError(f"Bad weights manifest entry in {folder}: the name {_short(name)} "
                              "is not a variable name.")
    if (not isinstance(shape, list) or len(shape) > _MAX_RANK
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise CheckpointError(f"Weight {name!r} in {folder} has the impossible shape "
                              f"{_short(shape)} (expected up to {_MAX_RANK} sizes ≥ 0).")
    quant = spec.get("quantization")
    if quant is not None:
        if not isinstance(quant, dict):
            raise CheckpointError(f"Weight {name!r} in {folder}: 'quantization' must be an "
                                  f"object, not {_short(quant)}.")
        quant_dtype = quant.get("dtype")
        stored = _TFJS_QUANT.get(quant_dtype) if isinstance(quant_dtype, str) else None
        if stored is None:
            raise CheckpointError(f"Weight {name!r} uses unsupported quantization "
                                  f"{_short(quant.get('dtype'))} (supported: uint8, uint16, "
                                  "float16).")
        for key in ("scale", "min"):
            value = quant.get(key)
            if value is not None and (not isinstance(value, (int, float))
                                      or isinstance(value, bool) or not math.isfinite(value)):
                raise CheckpointError(f"Weight {name!r} in {folder}: quantization {key} "
                                      f"{_short(value)} is not a finite number.")
    else:
        stored = _TFJS_DTYPES.get(dtype) if isinstance(dtype, str) else None
        if stored is None:
            raise CheckpointError(f"Weight {name!r} has unsupported dtype {_short(dtype)}.")
    if not isinstance(dtype, str) or dtype not in _TFJS_DTYPES:
        raise CheckpointError(f"Weight {name!r} has unsupported dtype {_short(dtype)}.")
    return math.prod(shape) * stored.itemsize


def _load_json(path: Path, what: str) -> Any:
    """Parse a small JSON file; size, depth and encoding problems become CheckpointError."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_JSON_BYTES:
            raise CheckpointError(
                f"The {what} {path} is {size / 1e6:.0f} MB; real ones are a few kilobytes "
                f"(at most {MAX_CONFIG_JSON_BYTES / 1e6:.0f} MB is read), so it is not one.")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"Missing {what}: {path}") from None
    except IsADirectoryError:
        raise CheckpointError(f"The {what} {path} is a folder, not a file.") from None
    except RecursionError:
        raise CheckpointError(f"Could not read the {what} {path}: it is nested too deeply "
                              "to be a real one.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Could not read the {what} {path}: {exc}") from None


def _shard_path(folder: Path, relative: str) -> Path:
    """A shard named by the manifest; names must stay inside the folder (no '..', no abs paths)
    and name a file (not '.', '' or a folder)."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts or "://" in relative or "\x00" in relative:
        raise CheckpointError(f"Weights manifest in {folder} names a shard outside the folder: "
                              f"{relative!r}")
    if not rel.parts:
        raise CheckpointError(f"Weights manifest in {folder} names the shard {relative!r}, "
                              "which is the folder itself, not a file.")
    return folder / rel


def _check_shard_sizes(folder: Path, paths: list[str], expected: int) -> None:
    """Compare the shards' sizes on disk with what the manifest describes, before reading them."""
    total = 0
    for relative in paths:
        path = _shard_path(folder, relative)
        if path.is_dir():
            raise CheckpointError(f"Weight shard {path} (listed in {TFJS_MANIFEST}) is a folder, "
                                  "not a file.")
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            raise CheckpointError(f"Missing weight shard {path} (listed in "
                                  f"{TFJS_MANIFEST}); the download may be incomplete.") from None
    if total < expected:
        raise CheckpointError(
            f"The weight shards of {folder} hold {total:,} bytes but the manifest describes "
            f"{expected:,}: the download is incomplete or the files are damaged.")
    if total > expected:
        raise CheckpointError(
            f"The weight shards of {folder} hold {total:,} bytes but the manifest "
            f"describes {expected:,}: the files are damaged or from another model.")


def _read_shard(folder: Path, relative: str) -> bytes:
    path = _shard_path(folder, relative)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"Missing weight shard {path} (listed in "
                              f"{TFJS_MANIFEST}); the download may be incomplete.") from None
    except OSError as exc:
        raise CheckpointError(f"Could not read weight shard {path}: {exc}") from None


def _check_finite(name: str, array: np.ndarray, where: Path) -> None:
    """Refuse NaN / infinite weights: a model built from them outputs nonsense silently."""
    if not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise CheckpointError(
            f"The checkpoint {where} is damaged: variable {name!r} holds {bad:,} NaN or "
            "infinite value(s).")


def _decode_tfjs_weight(spec: Mapping, buffer: bytes, offset: int, folder: Path,
                        ) -> tuple[np.ndarray, int]:
    """One manifest entry (already checked by `_spec_nbytes`) → (array, next offset)."""
    name, shape, dtype = spec["name"], tuple(spec["shape"]), spec["dtype"]
    count = math.prod(shape)
    quant = spec.get("quantization")
    stored = _TFJS_QUANT[quant["dtype"]] if quant is not None else _TFJS_DTYPES[dtype]
    end = offset + count * stored.itemsize
    if end > len(buffer):
        raise CheckpointError(
            f"The weight shards of {folder} end before weight {name!r} (need {end:,} bytes, have "
            f"{len(buffer):,}): the download is incomplete or the files are damaged.")
    raw = np.frombuffer(buffer, dtype=stored, count=count, offset=offset)
    return _dequantize(raw, quant, dtype, name).reshape(shape), end


def _dequantize(raw: np.ndarray, quant: Mapping | None, dtype: str, name: str) -> np.ndarray:
    if quant is None:
        return (raw.astype(np.float32) if dtype == "float32" else raw.copy())
    if quant["dtype"] == "float16":
        if dtype != "float32":
            raise CheckpointError(f"Weight {name!r}: float16 quantization of {dtype} weights.")
        return raw.astype(np.float32)
    if "scale" not in quant or "min" not in quant:
        raise CheckpointError(f"Weight {name!r} is {quant['dtype']}-quantized but its manifest "
                              "entry lacks 'min' and 'scale'.")
    values = raw.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    if dtype == "int32":
        return np.round(values).astype(np.int32)
    with np.errstate(over="ignore"):  # overflow gives inf, which _check_finite then refuses
        return values.astype(np.float32)


def _read_tfjs_folder(folder: Path) -> tuple[dict[str, np.ndarray], str]:
    weights, dropped = read_tfjs_weights(folder)
    if not weights:
        raise CheckpointError(f"The magenta.js folder {folder} holds no model weights.")
    quantized = _quantization_summary(folder)
    return weights, _describe("magenta.js checkpoint", folder, weights, dropped, quantized)


def _quantization_summary(folder: Path) -> str:
    manifest = _load_json(folder / TFJS_MANIFEST, "weights manifest")
    kinds = {(w.get("quantization") or {}).get("dtype") for g in manifest for w in g["weights"]}
    kinds.discard(None)
    return f" ({'/'.join(sorted(kinds))}-quantized)" if kinds else ""


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _shapes(weights: Mapping[str, Any]) -> dict[str, tuple]:
    return {name: tuple(int(d) for d in np.shape(value)) for name, value in weights.items()}


def _fmt_shape(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _listing(items: list[str]) -> str:
    shown = "\n    ".join(items[:_SHOW])
    more = f"\n    … and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return f"    {shown}{more}"


def compare_weights(weights: Mapping[str, Any], config: MusicVAEConfig, *,
                    allow_missing_sigma: bool = False) -> dict[str, list]:
    """Differences between a checkpoint and a config: missing / unexpected / mis-shaped names."""
    expected = expected_variables(config)
    actual = _shapes(weights)
    missing = [n for n in expected if n not in actual]
    if allow_missing_sigma:
        missing = [n for n in missing if n not in _SIGMA]
    unexpected = [n for n in actual if n not in expected]
    misshaped = [n for n in expected if n in actual and actual[n] != expected[n]]
    return {"missing": missing, "unexpected": sorted(unexpected), "misshaped": misshaped}


def validate_weights(weights: Mapping[str, Any], config: MusicVAEConfig, *,
                     allow_missing_sigma: bool = False) -> None:
    """Raise CheckpointError unless `weights` has exactly the variables `config` needs.

    The message names missing, unexpected and mis-shaped variables (a few of each, with a count of
    the rest) and suggests the config(s) in CONFIGS that fit the checkpoint. magenta.js folders
    may lack `encoder/sigma/*` (magenta.js never reads it): pass `allow_missing_sigma=True` to
    accept that.
    """
    diff = compare_weights(weights, config, allow_missing_sigma=allow_missing_sigma)
    if not any(diff.values()):
        return
    expected = expected_variables(config)
    actual = _shapes(weights)
    parts = [f"This checkpoint does not fit the MusicVAE config {config.name!r}:"]
    if diff["missing"]:
        parts.append(f"  {len(diff['missing'])} missing variable(s):\n" + _listing(
            [f"{n} {_fmt_shape(expected[n])}" for n in diff["missing"]]))
    if diff["unexpected"]:
        parts.append(f"  {len(diff['unexpected'])} unexpected variable(s):\n" + _listing(
            [f"{n} {_fmt_shape(actual[n])}" for n in diff["unexpected"]]))
    if diff["misshaped"]:
        parts.append(f"  {len(diff['misshaped'])} variable(s) with the wrong shape:\n" + _listing(
            [f"{n}: checkpoint {_fmt_shape(actual[n])}, config expects "
             f"{_fmt_shape(expected[n])}" for n in diff["misshaped"]]))
    if set(diff["missing"]) == set(_SIGMA) and not diff["unexpected"] and not diff["misshaped"]:
        parts.append("Only the encoder's sigma layer is missing (magenta.js never reads it, so "
                     "its converted checkpoints may omit it); pass allow_missing_sigma=True to "
                     "accept a model that can encode mu but not sigma.")
    else:
        parts.append(_suggestion_sentence(weights, exclude=config.name))
    raise CheckpointError("\n".join(parts))


def _suggestion_sentence(weights: Mapping[str, Any], exclude: str | None = None) -> str:
    """What to do instead: the config(s) that fit exactly, else the closest layout."""
    ranked = _rank_configs(weights)
    exact = [name for name, key in ranked if key[0] and name != exclude]
    if exact:
        names = " or ".join(repr(n) for n in exact)
        return f"It matches config {names} exactly: pass config={exact[0]!r}."
    if not ranked or ranked[0][1][1] == 0:
        return "No known config resembles it: is this a MusicVAE checkpoint?"
    # the validated config itself is a fine hint when only the layer sizes differ
    layout = [name for name, key in ranked if key[1] == 1.0 and key[2]]
    if layout:
        best = exclude if exclude in layout else layout[0]
        sized = infer_config(weights, CONFIGS[best])
        return (f"It has the layout of config {best!r} but other layer sizes "
                f"(enc_rnn_sizes={sized.enc_rnn_sizes}, dec_rnn_sizes={sized.dec_rnn_sizes}, "
                f"z_size={sized.z_size}); load it with "
                f"config=infer_config(weights, base=CONFIGS[{best!r}]).")
    best, key = ranked[0]
    return (f"No known config matches it; the closest is {best!r} ({key[1]:.0%} of the "
            "variable names agree).")


def _rank_configs(weights: Mapping[str, Any]) -> list[tuple[str, tuple]]:
    """Configs ranked by how well they describe `weights`, best first.

    Each key is (exact match, share of variable names in common, input/output depths agree
    when the names all agree, share of (name, shape) pairs in common). A checkpoint without
    `encoder/sigma/*` (magenta.js may drop it) is compared without sigma.
    """
    actual = _shapes(weights)
    has_sigma = any(n in actual for n in _SIGMA)
    ranked = []
    for name, config in CONFIGS.items():
        expected = expected_variables(config, include_sigma=has_sigma)
        names_union = set(actual) | set(expected)
        name_score = len(set(actual) & set(expected)) / len(names_union) if names_union else 0.0
        pairs_a, pairs_e = set(actual.items()), set(expected.items())
        shape_score = len(pairs_a & pairs_e) / len(pairs_a | pairs_e) if names_union else 0.0
        depths_agree = name_score == 1.0 and _depths_agree(weights, config)
        exact = actual == expected
        ranked.append((name, (exact, name_score, depths_agree, shape_score)))
    return sorted(ranked, key=lambda item: item[1], reverse=True)


def _depths_agree(weights: Mapping[str, Any], config: MusicVAEConfig) -> bool:
    """True when the checkpoint reads and writes the same data as `config` (sizes aside)."""
    try:
        sized = infer_config(weights, config)
    except (CheckpointError, ValueError):
        return False
    return (sized.input_depth, sized.output_depths) == (config.input_depth, config.output_depths)


def suggest_configs(weights: Mapping[str, Any]) -> list[str]:
    """Names of the configs in CONFIGS that fit `weights` exactly; else the closest one(s).

    Several names come back when configs share a network (e.g. cat-mel_2bar_small and the
    magenta.js mel_2bar_small) or tie as closest. Closest means: most variable names in common,
    then the same input/output depths, then most shapes in common. An empty list means nothing
    resembles the checkpoint.
    """
    ranked = _rank_configs(weights)
    exact = [name for name, key in ranked if key[0]]
    if exact:
        return exact
    if not ranked or ranked[0][1][1] == 0:
        return []
    best = ranked[0][1]
    return [name for name, key in ranked if key == best]


# ---------------------------------------------------------------------------------------------
# Configs from weights (magenta.js folders, resized checkpoints)
# ---------------------------------------------------------------------------------------------


def _cell_units(shapes: Mapping[str, tuple], cell) -> tuple[int, ...]:
    """Layer sizes of consecutive LSTM cells named `cell(layer)` (bias is [4n])."""
    sizes = []
    while f"{cell(len(sizes))}/bias" in shapes:
        sizes.append(shapes[f"{cell(len(sizes))}/bias"][0] // 4)
    return tuple(sizes)


def _require(shapes: Mapping[str, tuple], name: str) -> tuple:
    if name not in shapes:
        raise CheckpointError(f"Cannot infer the model's sizes: the checkpoint has no {name!r}.")
    return shapes[name]


def infer_config(weights: Mapping[str, Any], base: MusicVAEConfig, *, name: str | None = None,
                 ) -> MusicVAEConfig:
    """`base` with its layer sizes, z size and depths read from the checkpoint's weight shapes.

    The structure (encoder/decoder kinds, converter, level lengths, hparams) stays `base`'s; use
    it for checkpoints trained with other layer sizes than a table config (e.g. test fixtures).
    """
    shapes = _shapes(weights)
    # Variable names do not depend on layer sizes: the base's layout names them all.
    encoder, decoder = encoder_layout(base), decoder_layout(base)
    first_stack = encoder.stacks[0]
    enc = _cell_units(shapes, lambda layer: first_stack.cell(layer, "fw"))
    if not enc:
        raise CheckpointError(f"Cannot infer the encoder's sizes: no {first_stack.cell(0, 'fw')} "
                              "variables (is the encoder type right?).")
    first_kernel = _require(shapes, first_stack.cell(0, "fw") + "/kernel")
    input_depth = first_kernel[0] - enc[0]
    z_size = _require(shapes, f"{MU}/kernel")[1]
    conductor = (None if decoder.conductor is None
                 else _cell_units(shapes, decoder.conductor.cell))
    stacks = decoder.stacks
    dec = _cell_units(shapes, stacks[0].cell)
    if not dec:
        raise CheckpointError(f"Cannot infer the decoder's sizes: no {stacks[0].prefix}/"
                              "multi_rnn_cell variables (is the decoder type right?).")
    for stack in stacks[1:]:
        if _cell_units(shapes, stack.cell) != dec:
            raise CheckpointError(f"The core decoders have different layer sizes "
                                  f"({stack.prefix}); this is not a structure MusicVAE configs "
                                  "describe.")
    if conductor is not None and conductor != dec:
        raise CheckpointError(
            f"The conductor's layer sizes {conductor} differ from the core decoder's {dec}; "
            "configs (like magenta's) use one size list for both, so this model is not supported.")
    out = tuple(_require(shapes, f"{s.output_projection}/kernel")[1] for s in stacks)
    if len(stacks) == 1 and len(base.output_depths) > 1:
        if out[0] != sum(base.output_depths):
            raise CheckpointError(f"The decoder outputs {out[0]} values per step but config "
                                  f"{base.name!r} splits {sum(base.output_depths)}.")
        out = base.output_depths
    return base.replace(name=name or base.name, enc_rnn_sizes=enc, dec_rnn_sizes=dec,
                        z_size=z_size, input_depth=input_depth, output_depths=out)


def config_from_tfjs(config_json: Mapping | str | os.PathLike, weights: Mapping[str, Any], *,
                     name: str | None = None) -> MusicVAEConfig:
    """A MusicVAEConfig for a magenta.js checkpoint: its `config.json` spec + the weight shapes.

    `config_json` is the parsed config.json, or the path of the file or of its folder. The
    converter spec comes from `dataConverter` (MelodyConverter, DrumsConverter, TrioConverter);
    `numSegments` makes the encoder and decoder hierarchical, as in magenta.js. Layer sizes come
    from the weights. Training hparams are unknown and left at magenta's defaults.
    """
    if isinstance(config_json, (str, os.PathLike)):
        location = Path(os.fspath(config_json))
        if location.is_dir():
            location = location / TFJS_CONFIG
        config_json = _load_json(location, "magenta.js config")
        name = name or location.parent.name
    if not isinstance(config_json, Mapping):
        raise CheckpointError(f"The magenta.js config.json must be an object, not "
                              f"{_short(config_json)}.")
    try:
        return _config_from_tfjs_spec(dict(config_json), weights, name)
    except CheckpointError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, ZeroDivisionError,
            OverflowError) as exc:
        raise CheckpointError(f"The magenta.js config.json is malformed ({exc}); it does not "
                              "describe a MusicVAE this package can build.") from None


def _config_from_tfjs_spec(spec: dict, weights: Mapping[str, Any], name: str | None,
                           ) -> MusicVAEConfig:
    """`config_from_tfjs` on a parsed config.json (errors other than CheckpointError are the
    caller's to translate)."""
    if spec.get("type") != "MusicVAE":
        raise CheckpointError(f"This magenta.js checkpoint is a {spec.get('type')!r} model, "
                              "not a MusicVAE.")
    unsupported = [k for k in ("chordEncoder", "extraControls") if spec.get(k)]
    unsupported += [k for k in ("conditionOnKey", "useBooleanDecoder") if spec.get(k)]
    if unsupported:
        raise CheckpointError(f"magenta.js MusicVAE options {unsupported} (chord/key/control "
                              "conditioning or boolean decoders) are not supported.")
    converter = spec.get("dataConverter") or {}
    kind = converter.get("type")
    args = dict(converter.get("args") or {})
    num_steps = args.get("numSteps")
    from ..music.quantize import STEPS_PER_BAR  # deferred: note_seq is slow to import

    if (not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps <= 0
            or num_steps % STEPS_PER_BAR or num_steps > _MAX_TFJS_STEPS):
        raise CheckpointError(f"config.json: dataConverter.args.numSteps must be a positive "
                              f"multiple of {STEPS_PER_BAR} (steps per bar) up to {_MAX_TFJS_STEPS}, got "
                              f"{_short(num_steps)}.")
    segments = args.get("numSegments")
    if segments is not None and (not isinstance(segments, int) or isinstance(segments, bool)
                                 or not 0 <= segments <= num_steps):
        raise CheckpointError(f"config.json: dataConverter.args.numSegments must be a whole "
                              f"number of bars up to numSteps, got {_short(segments)}.")
    fields = _tfjs_converter_fields(kind, args, num_steps)
    hierarchical = bool(segments)
    if hierarchical:
        if num_steps % segments:
            raise CheckpointError(f"config.json: numSteps={num_steps} is not a multiple of "
                                  f"numSegments={segments}.")
        split = kind == "TrioConverter"
        fields.update(encoder=Encoder.HIERARCHICAL, decoder=Decoder.HIERARCHICAL,
                      level_lengths=(segments, num_steps // segments),
                      core_decoder=CoreDecoder.SPLIT if split else CoreDecoder.CATEGORICAL)
    elif kind == "TrioConverter":
        raise CheckpointError("A flat (non-hierarchical) magenta.js trio model is not supported: "
                              "its split decoder has no MusicVAE config equivalent.")
    # training hparams are unknown for magenta.js releases: the dataclass defaults are magenta's
    base = MusicVAEConfig(name=name or "magenta.js", max_seq_len=num_steps,
                          description=f"magenta.js {kind} model", **fields)
    config = infer_config(weights, base)
    declared_input = fields["input_depth"]
    if config.input_depth != declared_input:
        raise CheckpointError(
            f"config.json describes a {kind} with {declared_input} inputs per step, but the "
            f"encoder weights expect {config.input_depth}: config.json and weights disagree.")
    if config.output_depths != base.output_depths:
        raise CheckpointError(
            f"config.json describes outputs {base.output_depths}, but the decoder weights give "
            f"{config.output_depths}: config.json and weights disagree.")
    return config


def _tfjs_converter_fields(kind: str | None, args: Mapping, num_steps: int) -> dict:
    """Input/output depths and our converter spec for a magenta.js dataConverter."""
    from ..music.quantize import STEPS_PER_BAR  # deferred: note_seq is slow to import

    bars = num_steps // STEPS_PER_BAR
    if kind == "MelodyConverter":
        lo, hi = int(args.get("minPitch", 21)), int(args.get("maxPitch", 108))
        depth = hi - lo + 1 + 2
        spec: dict = {"type": "melody", "slice_bars": bars}
        if (lo, hi) != (21, 108):
            spec.update(min_pitch=lo, max_pitch=hi)
        return {"input_depth": depth, "output_depths": (depth,), "converter": spec}
    if kind == "DrumsConverter":
        classes = len(args.get("pitchClasses") or [None] * 9)
        if classes != 9:
            raise CheckpointError("magenta.js drum models with custom pitchClasses are not "
                                  "supported (only the 9 standard drum classes).")
        return {"input_depth": classes + 1, "output_depths": (2 ** classes,),
                "converter": {"type": "drums", "slice_bars": bars}}
    if kind == "TrioConverter":
        depths = []
        for part in ("melArgs", "bassArgs"):
            part_args = args.get(part) or {}
            lo, hi = int(part_args.get("minPitch", 21)), int(part_args.get("maxPitch", 108))
            if (lo, hi) != (21, 108):
                raise CheckpointError(f"magenta.js trio with {part} pitch range {lo}-{hi} is not "
                                      "supported (only 21-108).")
            depths.append(hi - lo + 1 + 2)
        depths.append(2 ** 9)
        return {"input_depth": sum(depths), "output_depths": tuple(depths),
                "converter": {"type": "trio", "slice_bars": bars, "gap_bars": 2}}
    raise CheckpointError(
        f"magenta.js data converter {kind!r} is not supported; supported: MelodyConverter, "
        "DrumsConverter, TrioConverter.")

