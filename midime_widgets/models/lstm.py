"""LSTM math with magenta's `LSTMBlockCell` weight layout.

magenta stores each cell as `kernel [in + n, 4n]` and `bias [4n]`, gate columns in the order
i, j (candidate), f, o, with `forget_bias = 1.0` added at run time. We keep that layout verbatim so
released checkpoints load without conversion. Two ways to run a layer over a sequence:

- `block_lstm`: TF's fused `BlockLSTM` op (the kernel behind magenta's `LSTMBlockFusedCell`, same
  gate layout and forget bias): one op for the whole sequence, no per-step graph overhead. It reads
  the whole kernel at every step, so it is the right choice when the input is narrow (a 90-wide
  one-hot melody, a 10-wide drum roll).
- `hoisted_lstm`: the input rows of the kernel are applied to every time step in one big matmul
  before the loop, which then only multiplies `h @ W_h`. Best when the input is wide (a second
  encoder layer reads 2n values per step: hoisting cuts the bytes read per step by 3x).

Neither masks steps past a row's length: outputs past the length are never read (a forward pass
sees them after the valid steps; a backward pass reverses each row within its length first), and
`final_state` picks each row's output at `length - 1`. This matches `dynamic_rnn(sequence_length=…)`
exactly on every value that matters and needs no per-step select.
"""

from __future__ import annotations

import tensorflow as tf

FORGET_BIAS = 1.0


def lstm_cell(gates, c):
    """The elementwise part of an LSTMBlockCell step: `gates = [x, h] @ kernel + bias` → `(c, h)`."""
    i, j, f, o = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f + FORGET_BIAS) * c + tf.sigmoid(i) * tf.tanh(j)
    h = tf.sigmoid(o) * tf.tanh(c)
    return c, h


def split_kernel(kernel, input_depth: int):
    """Split a magenta kernel `[in + n, 4n]` into its input rows and recurrent rows."""
    return kernel[:input_depth], kernel[input_depth:]


def final_state(outputs, lengths):
    """Each row's output at step `length - 1` (`[B, T, n]` → `[B, n]`); zeros for length 0."""
    last = tf.gather(outputs, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)
    return last * tf.cast(lengths > 0, outputs.dtype)[:, None]


def block_lstm(inputs, kernel, bias):
    """Run one LSTM layer over `inputs [B, T, in]` with the fused `BlockLSTM` op → `[B, T, n]`."""
    n = kernel.shape[-1] // 4
    batch = tf.shape(inputs)[0]
    zeros = tf.zeros(tf.stack([batch, n]), inputs.dtype)
    peephole = tf.zeros([n], inputs.dtype)
    result = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.shape(inputs)[1], tf.int64),
        x=tf.transpose(inputs, [1, 0, 2]),
        cs_prev=zeros,
        h_prev=zeros,
        w=kernel,
        wci=peephole,
        wcf=peephole,
        wco=peephole,
        b=bias,
        forget_bias=FORGET_BIAS,
        cell_clip=-1.0,
        use_peephole=False,
    )
    return tf.transpose(result.h, [1, 0, 2])


def hoisted_lstm(cells):
    """Run independent LSTM layers over same-shaped `[B, T, in_k]` inputs in one loop.

    `cells` is a list of `(inputs_k, kernel_k, bias_k)`; each input projection is computed for all
    steps in one matmul before the loop. Running several layers (e.g. the forward and backward
    direction of a bidirectional layer) in one loop halves the loop overhead and lets TF run their
    matmuls in parallel. Returns the list of `[B, T, n_k]` outputs.
    """
    steps = tf.shape(cells[0][0])[1]
    batch = tf.shape(cells[0][0])[0]
    gates_x, w_hs, zeros = [], [], []
    for x, kernel, bias in cells:
        w_x, w_h = split_kernel(kernel, x.shape[-1])
        gates_x.append(tf.einsum("bti,ig->tbg", x, w_x) + bias)  # time-major for the loop
        w_hs.append(w_h)
        zeros.append(tf.zeros(tf.stack([batch, w_h.shape[0]]), x.dtype))
    arrays = [tf.TensorArray(x.dtype, size=steps) for x, _, _ in cells]

    def body(t, states, arrays):
        new_states, new_arrays = [], []
        for k, (c, h) in enumerate(states):
            c, h = lstm_cell(gates_x[k][t] + tf.matmul(h, w_hs[k]), c)
            new_states.append((c, h))
            new_arrays.append(arrays[k].write(t, h))
        return t + 1, new_states, new_arrays

    _, _, arrays = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), [(z, z) for z in zeros], arrays)
    )
    return [tf.transpose(a.stack(), [1, 0, 2]) for a in arrays]


FUSED_MAX_ROWS = 16  # BlockLSTM below this many rows; above, hoisting wins (batch-32 2-bar encode: -15%)


#: Run op by op (eagerly), a layer up to this wide is fastest as one fused BlockLSTM op: a Python
#: loop's ~20 small ops per step cost more than the fused kernel's slower matmuls (a 256-unit
#: 2-bar encode: 0.04 s fused, 0.19 s looped); wider layers are matmul-bound, and the hoisted
#: loop's one big input matmul wins (a 2048-unit 16-bar encode: 4.6 s looped, 8.4 s fused).
EAGER_FUSED_MAX_UNITS = 512


def use_block_lstm(input_depth: int, units: int, rows: int | None = None, *, eager: bool = False) -> bool:
    """Fused BlockLSTM when the input is narrow next to the state (≤ 1/4 more bytes per step) and
    the batch is small (memory-bound: one op per sequence saves per-step graph overhead). With
    many rows the step is compute-bound and the hoisted loop's one big input matmul is faster.
    Run `eager`ly (op by op), see `EAGER_FUSED_MAX_UNITS`."""
    if eager:
        return units <= EAGER_FUSED_MAX_UNITS
    return input_depth * 4 <= units and (rows is None or rows < FUSED_MAX_ROWS)


def bidirectional_layer(inputs, lengths, fw, bw, *, rows: int | None = None, eager: bool = False):
    """One layer of magenta's stacked bidirectional encoder (`stack_bidirectional_dynamic_rnn`).

    `fw` / `bw` are `(kernel, bias)`. The backward direction reads each row reversed within its
    length. Returns `(outputs [B, T, 2n], h_fw_final [B, n], h_bw_final [B, n])`, the backward
    outputs restored to input order (steps past a row's length hold unspecified values). `rows`
    is a hint of the batch size for choosing the implementation (see `use_block_lstm`), as is
    `eager`: True when the layer runs op by op rather than in a traced program.
    """
    reversed_inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
    units = fw[0].shape[-1] // 4
    if use_block_lstm(inputs.shape[-1], units, rows, eager=eager):
        fw_out = block_lstm(inputs, *fw)
        bw_rev = block_lstm(reversed_inputs, *bw)
    else:
        fw_out, bw_rev = hoisted_lstm([(inputs, *fw), (reversed_inputs, *bw)])
    h_fw = final_state(fw_out, lengths)
    h_bw = final_state(bw_rev, lengths)
    bw_out = tf.reverse_sequence(bw_rev, lengths, seq_axis=1, batch_axis=0)
    return tf.concat([fw_out, bw_out], axis=-1), h_fw, h_bw

