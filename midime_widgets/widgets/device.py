"""What the panel header shows about the model: name, kind (melody / trio / drums), device."""

from __future__ import annotations

import os
import sys
from typing import Any

from .model import MusicModel


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
    except Exception:
        pass
    return f"CPU ({cores} cores)"


def model_device(vae: MusicModel) -> str:
    """Where the model runs, as the header says it."""
    device = str(vae.device)
    if device.upper() == "CPU":
        return f"CPU ({os.cpu_count() or 1} cores)"
    return f"GPU: {device}"


def model_info(vae: MusicModel) -> dict[str, Any]:
    """The JSON dict behind the panel header."""
    return {
        "name": str(vae.name),
        "kind": str(vae.kind),
        "z_size": int(vae.config.z_size),
        "bars": int(vae.converter.slice_bars or 0),
        "device": model_device(vae),
    }
