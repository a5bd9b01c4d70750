"""Match the latent's spread to the prior N(0, I) after training, by an exact change of coordinates.

With free bits above the KL a model settles at, nothing in training ties the spread of the codes
the encoder gives real music to the prior's. The default model's codes fill about 0.8² of
N(0, I)'s variance in each dimension, so samples drawn from N(0, I) land where no tune lies (they
repeat notes far more often than any corpus does).

`z' = z / s` with `s_j² = E[mu_j² + sigma_j²]` over the training windows (the per-dimension scale
that minimises the KL to N(0, I)) fixes that without touching what the model has learnt: the mu
head divides by `s`, the decoder's z inputs multiply by `s`, so a reconstruction from mu is the
same up to float rounding, while N(0, I) now has the second moment of the codes of real tunes.
The sigma head is softplus, which no weight change scales exactly; its bias is shifted so each
dimension's mean sigma scales by `1 / s` too.
"""

from __future__ import annotations

import numpy as np

from ..models.layout import MU, SIGMA, FlatDecoder, decoder_layout

# Training windows (transposed as in training) the scale is measured on: enough for a per-dimension
# second moment to about 2%, a few seconds of encoding.
SCALE_WINDOWS = 8192


def latent_scale(core, batches) -> np.ndarray:
    """Per-dimension `s` with `s² = E[mu² + sigma²]` over the one-hot windows in `batches`,
    and the sigmas they gave (to match the sigma head): `(s [z], sigma [N, z])`."""
    mus, sigmas = [], []
    for inputs in batches:
        mu, sigma = core.encode(inputs, np.full(len(inputs), inputs.shape[1], np.int32))
        mus.append(np.asarray(mu))
        sigmas.append(np.asarray(sigma))
    mu, sigma = np.concatenate(mus), np.concatenate(sigmas)
    return np.sqrt(np.mean(mu**2, axis=0) + np.mean(sigma**2, axis=0)), sigma


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigma_bias_shift(sigma: np.ndarray, scale: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Per-dimension shift `c` of the sigma head's pre-activation with
    `mean softplus(x + c) = mean sigma / scale` (bisection: softplus rises with `c`)."""
    x = np.log(np.expm1(np.maximum(sigma.astype(np.float64), 1e-12)))  # softplus⁻¹
    target = sigma.mean(axis=0) / scale
    low, high = np.full(scale.shape, -20.0), np.full(scale.shape, 20.0)
    for _ in range(iterations):
        mid = (low + high) / 2
        too_big = _softplus(x + mid).mean(axis=0) > target
        high = np.where(too_big, mid, high)
        low = np.where(too_big, low, mid)
    return (low + high) / 2


def rescale_latent(weights: dict, config, scale: np.ndarray, sigma: np.ndarray) -> dict:
    """`weights` re-expressed in the coordinates `z' = z / scale` (see the module docstring).

    Only flat decoders (one stack conditioned on z): a hierarchical decoder's z feeds its
    conductor, which this does not rewrite."""
    decoder = decoder_layout(config)
    if not isinstance(decoder, FlatDecoder):
        raise ValueError("rescale_latent handles flat decoders only")
    stack = decoder.stacks[0]
    out = {name: np.array(value) for name, value in weights.items()}
    out[f"{MU}/kernel"] = weights[f"{MU}/kernel"] / scale
    out[f"{MU}/bias"] = weights[f"{MU}/bias"] / scale
    out[f"{SIGMA}/bias"] = weights[f"{SIGMA}/bias"] + _sigma_bias_shift(sigma, scale)
    out[f"{stack.initial_state}/kernel"] = weights[f"{stack.initial_state}/kernel"] * scale[:, None]
    kernel = out[f"{stack.cell(0)}/kernel"]  # rows: [previous output; z; h]
    z_rows = slice(stack.output_depth, stack.output_depth + stack.cond_depth)
    kernel[z_rows] = kernel[z_rows] * scale[:, None]
    return {name: value.astype(np.asarray(weights[name]).dtype) for name, value in out.items()}
