"""The roofline arithmetic behind bench_musicvae.py's `floor` column, checked by hand on tiny configs.

The floor is only evidence if its counting is right: every number here is worked out by hand
from the LSTM shapes (gates 4n wide, one-hot inputs free, hoisted input projections read once).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from midime_widgets.models.configs import CONFIGS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import roofline

FLAT = CONFIGS["cat-mel_2bar_small"].replace(enc_rnn_sizes=(7,), dec_rnn_sizes=(5, 6), z_size=4)
HIER = CONFIGS["hierdec-mel_16bar"].replace(enc_rnn_sizes=(7, 3), dec_rnn_sizes=(5, 6), z_size=4,
                                            max_seq_len=64, level_lengths=(4, 16))
# no cache, 1 GFLOP/s, 1 GB/s (10 GB/s for weights that fit the L3)
SLOW = roofline.Machine(gflops=1.0, gbps_cache=10.0, gbps_dram=1.0, l2_bytes=0, l3_bytes=1 << 20)


def test_flat_encoder_counts_recurrences_but_not_one_hot_inputs():
    bilstm, heads = roofline.encode_work(FLAT, 2)
    # 2 rows x 32 steps x 2 directions x (7 x 28) recurrent multiply-adds, x2 flops each
    assert bilstm.flops == 2 * 2 * 32 * 2 * 7 * 28
    assert (bilstm.steps, bilstm.step_bytes, bilstm.once_bytes) == (32, 4 * 2 * 7 * 28, 0)
    # mu and sigma: 2 heads x 2 rows x (14 -> 4)
    assert heads.flops == 2 * 2 * 2 * 14 * 4 and heads.once_bytes == 4 * 2 * 14 * 4


def test_second_encoder_layer_is_a_hoisted_dense_projection():
    bilstm, _ = roofline.encode_work(HIER, 1)
    steps = 64
    recurrent = 2 * (7 * 28 + 3 * 12)  # both directions, both layers
    hoisted = 2 * 14 * 12  # layer 1 reads both directions of layer 0 (14 wide)
    assert bilstm.flops == 2 * steps * (recurrent + hoisted)
    assert bilstm.step_bytes == 4 * recurrent and bilstm.once_bytes == 4 * hoisted


def test_hierarchical_encoder_runs_bars_as_rows_then_a_dense_level():
    config = CONFIGS["trio_4bar"].replace(enc_rnn_sizes=(7,), z_size=4)  # (16 steps) x 4 bars
    low, high, _ = roofline.encode_work(config, 2)
    assert low.flops == 2 * (2 * 4) * 16 * 2 * 7 * 28 and low.steps == 16
    assert high.flops == 2 * 2 * 4 * 2 * (7 * 28 + 14 * 28) and high.steps == 4
    assert high.once_bytes == 4 * 2 * 14 * 28


def test_flat_decoder_counts_layers_output_and_conditioning():
    (phase,) = roofline.decode_work(FLAT, 2)
    per_step = 5 * 20 + (5 + 6) * 24 + 6 * 90  # layer-0 recurrence, layer 1, output projection
    per_segment = 4 * (20 + 2 * 11)  # z -> layer-0 gates and z -> initial states, once
    assert phase.flops == 2 * 2 * (32 * per_step + per_segment)
    assert (phase.steps, phase.step_bytes, phase.once_bytes) == (32, 4 * per_step, 4 * per_segment)


def test_hierarchical_decoder_adds_a_conductor_and_per_bar_conditioning():
    conductor, core = roofline.decode_work(HIER, 3)
    per_bar = 5 * 20 + (5 + 6) * 24  # zero input: only recurrences and layer 1
    assert conductor.flops == 2 * 3 * (4 * per_bar + 4 * 2 * 11)
    assert conductor.steps == 4
    per_step = 5 * 20 + (5 + 6) * 24 + 6 * 90
    assert core.flops == 2 * 3 * (64 * per_step + 4 * 6 * (20 + 22))
    assert core.steps == 64


def test_split_decoder_counts_one_stack_per_track():
    trio = CONFIGS["hierdec-trio_16bar"].replace(dec_rnn_sizes=(5, 6), z_size=4, max_seq_len=32,
                                                 level_lengths=(2, 16))
    _, core = roofline.decode_work(trio, 1)
    per_step = sum(5 * 20 + 11 * 24 + 6 * out for out in (90, 90, 512))
    assert core.step_bytes == 4 * per_step


def test_floor_is_the_larger_of_the_compute_and_streaming_bounds():
    phases = roofline.decode_work(FLAT, 2)
    work, floor = roofline.total(phases, SLOW)
    (phase,) = phases
    streamed = phase.once_bytes + phase.steps * phase.step_bytes
    assert work.streamed_bytes == streamed
    compute_s, stream_s = work.flops / 1e9, streamed / 10e9  # the weights fit the fake L3
    assert floor == pytest.approx(max(compute_s, stream_s))
    # weights that fit in L2 are read once, not every step
    cached = roofline.Machine(1.0, 10.0, 1.0, l2_bytes=1 << 20, l3_bytes=1 << 20)
    work, _ = roofline.total(phases, cached)
    assert work.streamed_bytes == phase.once_bytes + phase.step_bytes


def test_full_size_floor_numbers_are_in_the_expected_range():
    """Sanity check on real sizes: cat-mel_2bar_small batch-32 encode needs ~4.3 GFLOP."""
    work, _ = roofline.total(roofline.encode_work(CONFIGS["cat-mel_2bar_small"], 32), SLOW)
    assert 4.2e9 < work.flops < 4.4e9


def test_cache_sizes_are_read_from_sysfs_or_default():
    assert roofline._cache_bytes(2, 123) > 0
    assert roofline._cache_bytes(99, 123) == 123


def test_row_floor_counts_per_step_flops_at_the_row_rate():
    """Recurrent flops at the rate for the batch's rows, hoisted ones at the peak."""
    (bilstm, heads) = roofline.encode_work(HIER.replace(enc_rnn_sizes=(7,)), 2)
    fast = roofline.Machine(gflops=1.0, gbps_cache=1e9, gbps_dram=1e9, l2_bytes=0, l3_bytes=1 << 20)
    assert (bilstm.rows, bilstm.units) == (2, 7) and bilstm.step_flops == bilstm.flops  # one-hot input
    seen = []

    def rate(rows, units):
        seen.append((rows, units))
        return 0.5  # half the peak

    floor = roofline.row_floor([bilstm, heads], fast, rate)
    assert floor == pytest.approx(bilstm.flops / 0.5e9 + heads.flops / 1e9)
    assert seen == [(2, 7)]
    # with the peak rate for rows too, it is the plain floor
    assert roofline.row_floor([bilstm, heads], fast, lambda r, u: 1.0) == pytest.approx(
        roofline.total([bilstm, heads], fast)[1])


def test_decoder_phases_name_their_rows_and_widest_layer():
    conductor, core = roofline.decode_work(HIER, 3)
    assert (conductor.rows, conductor.units, core.rows, core.units) == (3, 6, 3, 6)
    assert 0 < core.step_flops < core.flops  # per-segment conditioning is not per step


@pytest.mark.parametrize("ours, magenta, floor, expected", [
    (0.9, 1.0, 0.8, "met"),
    (1.1, 1.0, 0.9, "not met: slower than magenta"),
    (0.9, 1.0, 0.5, "not met: 1.8x floor"),
    (0.6, 1.0, 0.3, "not met: 2.0x floor, > 0.5 of magenta"),
    (0.45, 1.0, 0.4, "met"),
])
def test_speed_verdict(ours, magenta, floor, expected):
    assert roofline.verdict(ours, magenta, floor) == expected
