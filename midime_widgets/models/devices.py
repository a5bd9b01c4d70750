"""Which device TensorFlow computes on, as a name a person recognises ("CPU" or the GPU's model)."""

from __future__ import annotations

__all__ = ["device_name"]


def device_name(placement: str = "") -> str:
    """"CPU", or the name of the GPU behind `placement` (a TF device string such as a
    variable's `.device`, e.g. ".../device:GPU:1"); without one, the first GPU if there is any.

    Imports TensorFlow: call it where a model is already loaded."""
    import tensorflow as tf  # deferred: the models package imports without TensorFlow

    if placement and "GPU" not in placement.upper():
        return "CPU"
    index = int(placement.rsplit(":", 1)[-1]) if placement[-1:].isdigit() else 0
    gpus = tf.config.list_physical_devices("GPU")
    if index >= len(gpus):
        return f"GPU:{index}" if placement else "CPU"
    try:
        details = tf.config.experimental.get_device_details(gpus[index])
    except (RuntimeError, ValueError):  # pragma: no cover - driver-specific
        details = {}
    return str(details.get("device_name") or f"GPU:{index}")
