"""What the panel header shows about the model: name, kind (melody / trio / drums), device."""

from __future__ import annotations

import os
import sys
from typing import Any

from .model import MusicModel


def device_label(name: str) -> str:
    """'CPU (n cores)' or 'GPU: <name>', from a device name ("CPU" or the GPU's model)."""
    if str(name).upper() == "CPU":
        return f"CPU ({os.cpu_count() or 1} cores)"
    return f"GPU: {name}"


def describe_device() -> str:
    """Where TensorFlow computes, as a label. Asks TensorFlow only when it is already imported
    (a real model loads it); importing it just for a label would cost seconds."""
    if "tensorflow" not in sys.modules:
        return device_label("CPU")
    from ..models.devices import device_name

    try:
        return device_label(device_name())
    except Exception:
        return device_label("CPU")


def model_device(vae: MusicModel) -> str:
    """Where the model runs, as the header says it."""
    return device_label(vae.device)


def model_info(vae: MusicModel) -> dict[str, Any]:
    """The JSON dict behind the panel header."""
    return {
        "name": str(vae.name),
        "kind": str(vae.kind),
        "z_size": int(vae.config.z_size),
        "bars": int(vae.converter.slice_bars or 0),
        "device": model_device(vae),
    }
