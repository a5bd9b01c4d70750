"""What the panel header shows about the model: name, kind (melody / trio / drums), device."""

from __future__ import annotations

import os
import sys
from typing import Any

KINDS = ("melody", "trio", "drums")


def model_kind(vae: Any) -> str:
    """'melody', 'trio' or 'drums': ``vae.kind``, else the converter spec, else the model's name."""
    kind = getattr(vae, "kind", None)
    if kind in KINDS:
        return str(kind)
    config = getattr(vae, "config", None)
    spec = getattr(config, "converter", None)
    if isinstance(spec, dict) and spec.get("type") in KINDS:
        return str(spec["type"])
    name = str(getattr(config, "name", "") or getattr(getattr(vae, "converter", None), "name", ""))
    lowered = name.lower()
    if "trio" in lowered:
        return "trio"
    if "drum" in lowered:
        return "drums"
    return "melody"


def describe_device() -> str:
    """'GPU: <name>' when TensorFlow sees a GPU, else 'CPU (n cores)'.

    Only asks TensorFlow when it is already imported (a real model loads it); importing it here
    just for a label would cost seconds.
    """
    cores = os.cpu_count() or 1
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return f"CPU ({cores} cores)"
    try:
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU: {details.get('device_name') or gpus[0].name}"
    except Exception:  # noqa: BLE001 - a label must never break the panel
        pass
    return f"CPU ({cores} cores)"


def model_device(vae: Any) -> str:
    """Where the model runs: its own ``device`` ('CPU' or a GPU name) when it says, else ours."""
    try:
        device = getattr(vae, "device", None)
    except Exception:  # noqa: BLE001 - a label must never break the panel
        device = None
    if not device:
        return describe_device()
    if str(device).upper() == "CPU":
        return f"CPU ({os.cpu_count() or 1} cores)"
    return f"GPU: {device}"


def model_info(vae: Any) -> dict[str, Any]:
    """The JSON dict behind the panel header."""
    config = getattr(vae, "config", None)
    return {
        "name": str(getattr(vae, "name", None) or getattr(config, "name", type(vae).__name__)),
        "kind": model_kind(vae),
        "z_size": int(getattr(config, "z_size", 0) or 0),
        "bars": _bars(config),
        "device": model_device(vae),
        "source": str(getattr(vae, "source", "") or ""),
    }


def _bars(config: Any) -> int:
    bars = getattr(config, "slice_bars", 0)
    bars = bars() if callable(bars) else bars
    try:
        return int(bars or 0)
    except (TypeError, ValueError):
        return 0


def musicvae_record(vae: Any) -> dict[str, Any] | None:
    """What MidiMe.save records about the MusicVAE it was trained on (None if unknown)."""
    fingerprint = getattr(vae, "fingerprint", None)
    if callable(fingerprint):
        fingerprint = fingerprint()
    if not fingerprint:
        return None
    config = getattr(vae, "config", None)
    return {"name": str(getattr(config, "name", "")), "z_size": int(config.z_size),
            "fingerprint": str(fingerprint)}
