"""LSTM math with magenta's `LSTMBlockCell` weight layout.

magenta stores each cell as `kernel [in + n, 4n]` and `bias [4n]`, gate columns in the order
i, j (candidate), f, o, with `forget_bias = 1.0` added at run time. We keep that layout verbatim so
released checkpoints load without conversion, and split the kernel into its input rows and its
recurrent rows so that input projections can be computed for all time steps in one matmul.
"""

from __future__ import annotations

import tensorflow as tf

FORGET_BIAS = 1.0


def lstm_step(gates_x, state, w_h):
    """One LSTM step given the input projection `gates_x = x @ W_x + b` ([B, 4n]).

    `state` is `(c, h)`; returns the new `(c, h)`.
    """
    c, h = state
    gates = gates_x + tf.matmul(h, w_h)
    i, j, f, o = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f + FORGET_BIAS) * c + tf.sigmoid(i) * tf.tanh(j)
    h = tf.sigmoid(o) * tf.tanh(c)
    return c, h


def split_kernel(kernel, input_depth: int):
    """Split a magenta kernel `[in + n, 4n]` into its input rows and recurrent rows."""
    return kernel[:input_depth], kernel[input_depth:]


def run_layer(inputs, lengths, kernel, bias, *, reverse: bool = False):
    """Run one LSTM layer over a right-padded batch `inputs [B, T, in]`.

    The state stops changing after each row's length (like `dynamic_rnn(sequence_length=…)`) and
    outputs past the length are zero. With `reverse=True` each row is reversed within its length
    (`tf.reverse_sequence`), run forward, and the outputs restored to input order, which is exactly
    what magenta's bidirectional encoder does. Returns `(outputs [B, T, n], (c, h) final)`.
    """
    in_depth = inputs.shape[-1]
    w_x, w_h = split_kernel(kernel, in_depth)
    n = w_h.shape[0]
    batch = tf.shape(inputs)[0]
    steps = tf.shape(inputs)[1]
    if reverse:
        inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
    # One big matmul for every step's input projection, time-major for the loop.
    gates_x = tf.einsum("bti,ig->tbg", inputs, w_x) + bias
    valid = tf.transpose(tf.sequence_mask(lengths, steps, dtype=inputs.dtype))[:, :, None]  # [T,B,1]
    zeros = tf.zeros(tf.stack([batch, n]), dtype=inputs.dtype)
    outputs = tf.TensorArray(inputs.dtype, size=steps)

    def body(t, c, h, outputs):
        new_c, new_h = lstm_step(gates_x[t], (c, h), w_h)
        m = valid[t]
        c = m * new_c + (1.0 - m) * c
        h = m * new_h + (1.0 - m) * h
        return t + 1, c, h, outputs.write(t, m * new_h)

    _, c, h, outputs = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), zeros, zeros, outputs)
    )
    outputs = tf.transpose(outputs.stack(), [1, 0, 2])
    if reverse:
        outputs = tf.reverse_sequence(outputs, lengths, seq_axis=1, batch_axis=0)
    return outputs, (c, h)
