"""MusicVAECore against an independent plain-numpy implementation of the spec (small configs).

The oracle fixtures (test_oracle_parity.py) check the same maths against real magenta code; these
tests cover what fixtures can't cheaply: every decoder structure with odd sizes, both inference
paths (XLA and graph), teacher forcing, gradients and the sampler's distribution.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import musicvae_numpy_reference as ref
from midime_widgets.models.configs import CONFIGS, MusicVAEConfig, expected_variables
from midime_widgets.models.core import MusicVAECore

MEL = (90,)
TRIO = (90, 90, 512)


def small(name: str, **changes) -> MusicVAEConfig:
    """A table config with tiny, deliberately unequal layer sizes (structure unchanged)."""
    base = CONFIGS[name]
    sizes = dict(enc_rnn_sizes=tuple(7 + 2 * i for i in range(len(base.enc_rnn_sizes))),
                 dec_rnn_sizes=tuple(5 + i for i in range(len(base.dec_rnn_sizes))), z_size=4)
    sizes.update(changes)
    return base.replace(**sizes)


# Every decoder structure: flat categorical (2 and 3 layers), multi-out, hierarchical categorical
# and split, plus a hierarchical encoder (magenta.js style) and a drum model (narrow input).
STRUCTURES = {
    "flat-cat": small("cat-mel_2bar_small"),
    "flat-cat-3layer": small("cat-mel_2bar_big"),
    "drums": small("cat-drums_2bar_small"),
    "multiout": small("flat-trio_16bar", max_seq_len=32),
    "hier-cat": small("hierdec-mel_16bar", max_seq_len=64, level_lengths=(4, 16)),
    "hier-split": small("hierdec-trio_16bar", max_seq_len=32, level_lengths=(2, 16)),
    "hier-encoder": small("trio_4bar", max_seq_len=32, level_lengths=(2, 16)),
}


def make(config, seed=0, jit: bool | None = False):
    weights = ref.random_weights(expected_variables(config), seed, scale=2.0)
    return MusicVAECore(config, weights=weights, jit_compile=jit), weights


def one_hot_inputs(config, batch, seed):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, config.input_depth, (batch, config.max_seq_len))
    return np.eye(config.input_depth, dtype=np.float32)[idx]


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_core_variables_follow_the_layout(name):
    """The core creates exactly the layout's variables (no more, no fewer, same shapes)."""
    config = STRUCTURES[name]
    core = MusicVAECore(config, jit_compile=False)
    assert {n: tuple(v.shape) for n, v in core.weights.items()} == expected_variables(config)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_encoder_matches_numpy_including_short_and_empty_rows(name):
    config = STRUCTURES[name]
    core, weights = make(config, seed=1)
    x = one_hot_inputs(config, 4, seed=2)
    T = config.max_seq_len
    lengths = np.array([T, T - 5, 1, 0], np.int32)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    mu, sigma = core.encode(x, lengths)
    want_mu, want_sigma = ref.encode(weights, config, x, lengths)
    np.testing.assert_allclose(mu.numpy(), want_mu, atol=2e-5)
    np.testing.assert_allclose(sigma.numpy(), want_sigma, atol=2e-5)
    # padding content past a row's length must not matter
    x2 = x.copy()
    x2[1, T - 5:] = 1.0
    mu2, _ = core.encode(x2, lengths)
    np.testing.assert_allclose(mu2.numpy(), mu.numpy(), atol=1e-6)


def test_fused_and_hoisted_encoders_agree_across_batch_sizes():
    """Small batches run the fused BlockLSTM (narrow input), large ones the hoisted loop: both
    match the numpy reference, row for row."""
    from midime_widgets.models.lstm import FUSED_MAX_ROWS, use_block_lstm

    config = small("cat-mel_2bar_small", enc_rnn_sizes=(96 * 4,))
    assert use_block_lstm(config.input_depth, 384, 1) and not use_block_lstm(config.input_depth, 384, FUSED_MAX_ROWS)
    core, weights = make(config, seed=21)
    x = one_hot_inputs(config, FUSED_MAX_ROWS + 4, seed=22)
    lengths = np.full(len(x), config.max_seq_len, np.int32)
    lengths[1] = 7
    want_mu, want_sigma = ref.encode(weights, config, x, lengths)
    few_mu, few_sigma = core.encode(x[:3], lengths[:3])
    many_mu, many_sigma = core.encode(x, lengths)
    np.testing.assert_allclose(few_mu.numpy(), want_mu[:3], atol=2e-5)
    np.testing.assert_allclose(many_mu.numpy(), want_mu, atol=2e-5)
    np.testing.assert_allclose(many_sigma.numpy(), want_sigma, atol=2e-5)
    np.testing.assert_allclose(few_sigma.numpy(), many_sigma.numpy()[:3], atol=2e-6)
    # op by op (a first call, or a warm-up's stand-in) the width alone decides
    from midime_widgets.models.lstm import EAGER_FUSED_MAX_UNITS

    assert use_block_lstm(config.input_depth, EAGER_FUSED_MAX_UNITS, FUSED_MAX_ROWS, eager=True)
    assert not use_block_lstm(1, EAGER_FUSED_MAX_UNITS * 2, 1, eager=True)


@pytest.mark.parametrize("batch, rows", [(1, 1), (2, 2), (3, 4), (8, 8), (9, 16), (200, 256)])
def test_xla_decode_batches_pad_to_a_power_of_two(batch, rows):
    from midime_widgets.models.core import xla_rows

    assert xla_rows(batch) == rows


@pytest.mark.parametrize("batch, compiled, rows", [
    (8, [], 8), (8, [32], 32), (8, [64], 8), (8, [16, 32], 16), (3, [4, 16], 4), (1, [2, 8], 2),
    (1, [8], 1), (32, [8], 32)])
def test_a_decode_reuses_a_compiled_program_up_to_four_times_its_rows(batch, compiled, rows):
    from midime_widgets.models.core import XLA_REUSE_FACTOR, reusable_rows

    assert XLA_REUSE_FACTOR == 4
    assert reusable_rows(batch, compiled) == rows


def test_a_reused_bigger_xla_program_gives_the_same_samples():
    """8 rows on a 32-row program (no compile of their own) = 8 rows on their own program:
    padding rows change neither the real rows' math nor their random draws."""
    config = STRUCTURES["flat-cat"]
    own, weights = make(config, seed=31, jit=True)
    reusing = MusicVAECore(config, weights=weights, jit_compile=True)
    z = np.random.default_rng(32).normal(size=(32, config.z_size)).astype(np.float32) * 2
    reusing.sample(z, config.max_seq_len, temperature=0.7, seed=5)  # compiles 32 rows
    want = own.sample(z[:8], config.max_seq_len, temperature=0.7, seed=9).numpy()
    got = reusing.sample(z[:8], config.max_seq_len, temperature=0.7, seed=9).numpy()
    assert got.shape == (8, config.max_seq_len, config.output_depth)
    np.testing.assert_array_equal(got, want)
    assert [specs[0].shape[0] for kind, specs, _ in reusing._concrete_fns if kind == "decode"] == [32]
    assert [specs[0].shape[0] for kind, specs, _ in own._concrete_fns if kind == "decode"] == [8]


def test_xla_decoding_of_odd_batch_sizes_matches_numpy():
    """Padded rows never leak into the real ones (batch 5 runs as 8 rows, 9 as 16)."""
    config = STRUCTURES["flat-cat"]
    core, weights = make(config, seed=23, jit=True)
    z = np.random.default_rng(24).normal(size=(9, config.z_size)).astype(np.float32) * 2
    want, want_logits = ref.decode_greedy(weights, config, z)
    for batch in (5, 9):
        samples, logits = core.sample_with_logits(z[:batch], config.max_seq_len, temperature=0.0)
        assert samples.shape[0] == batch
        np.testing.assert_allclose(logits.numpy(), want_logits[:batch], atol=1e-4)
        _assert_greedy_equal(samples.numpy(), want[:batch], want_logits[:batch])


def _assert_greedy_equal(got, want, logits):
    """Identical argmax paths; a row may differ only from a near-tie step onwards."""
    got_idx, want_idx = got.argmax(-1), want.argmax(-1)
    for row in range(len(got)):
        diff = np.nonzero(got_idx[row] != want_idx[row])[0]
        if len(diff):
            top2 = np.sort(logits[row, diff[0]])[-2:]
            assert top2[1] - top2[0] < 1e-4, f"row {row} differs at step {diff[0]}"


def _split_argmax(x, depths):
    return np.stack([p.argmax(-1) for p in np.split(x, np.cumsum(depths)[:-1], axis=-1)], -1)


# XLA runs the same Python code as the graph path; one flat, one multi-out and one hierarchical
# split structure cover its branches (each XLA compile costs seconds).
CASES = [(name, False) for name in sorted(STRUCTURES)] + [
    (name, True) for name in ("flat-cat", "multiout", "hier-split")]


@pytest.mark.parametrize("name, jit", CASES, ids=[f"{n}-{'xla' if j else 'graph'}" for n, j in CASES])
def test_greedy_decoding_matches_numpy(name, jit):
    config = STRUCTURES[name]
    core, weights = make(config, seed=3, jit=jit)
    z = np.random.default_rng(4).normal(size=(3, config.z_size)).astype(np.float32) * 2
    samples, logits = core.sample_with_logits(z, config.max_seq_len, temperature=0.0)
    want, want_logits = ref.decode_greedy(weights, config, z)
    assert samples.shape == want.shape
    np.testing.assert_allclose(logits.numpy(), want_logits, atol=1e-4)
    depths = config.output_depths
    got_idx, want_idx = _split_argmax(samples.numpy(), depths), _split_argmax(want, depths)
    assert np.array_equal(got_idx, want_idx)
    # every segment of every step is one-hot
    assert np.all(samples.numpy().sum(-1) == len(depths))


@pytest.mark.parametrize("name", ["flat-cat", "hier-split", "multiout"])
def test_decode_loop_agrees_with_the_inference_loop(name):
    config = STRUCTURES[name]
    core, _ = make(config, seed=5)
    z = np.random.default_rng(6).normal(size=(2, config.z_size)).astype(np.float32)
    fast = core.sample(z, config.max_seq_len, temperature=0.0).numpy()
    loop = tf.function(lambda z: core.decode_loop(z, config.max_seq_len, temperature=tf.constant(0.0)))
    general, _ = loop(tf.constant(z))
    assert np.array_equal(fast, general.numpy())


@pytest.mark.parametrize("name", ["flat-cat", "multiout"])
def test_teacher_forced_logits_match_numpy(name):
    config = STRUCTURES[name]
    core, weights = make(config, seed=7)
    z = np.random.default_rng(8).normal(size=(2, config.z_size)).astype(np.float32)
    targets = np.concatenate(
        [np.eye(d, dtype=np.float32)[np.random.default_rng(9 + k).integers(0, d, (2, config.max_seq_len))]
         for k, d in enumerate(config.output_depths)], axis=-1)
    _, logits = core.decode_loop(tf.constant(z), config.max_seq_len, targets=tf.constant(targets))
    _, want = ref.decode_greedy(weights, config, z, teacher=targets)
    np.testing.assert_allclose(logits.numpy(), want, atol=1e-4)


def test_training_gradients_reach_every_variable():
    config = STRUCTURES["hier-split"]
    core, _ = make(config, seed=10)
    x = one_hot_inputs(config, 2, seed=11)
    with tf.GradientTape() as tape:
        mu, sigma = core._encode(tf.constant(x), tf.constant([config.max_seq_len, 20]))
        _, logits = core.decode_loop(mu + sigma, config.max_seq_len, targets=tf.constant(np.zeros(
            (2, config.max_seq_len, config.output_depth), np.float32)),
            sampling_probability=tf.constant(0.5), seed=tf.constant([1, 2]))
        parts = tf.split(logits, list(config.output_depths), axis=-1)
        loss = tf.add_n([tf.reduce_sum(tf.nn.log_softmax(p)) for p in parts])
    names = sorted(core.weights)
    grads = tape.gradient(loss, [core.weights[n] for n in names])
    missing = [n for n, g in zip(names, grads) if g is None or not np.any(g.numpy())]
    # sigma only reaches the loss through z, which it does here; every variable must learn
    assert not missing, missing


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_sampling_follows_softmax_of_logits_over_temperature(jit):
    """First-step classes of many rows of one z follow softmax(logits / T) (chi-square bound)."""
    config = STRUCTURES["flat-cat"].replace(max_seq_len=16)
    core, _ = make(config, seed=12, jit=jit)
    z = np.random.default_rng(13).normal(size=(1, config.z_size)).astype(np.float32)
    _, logits = core.sample_with_logits(z, 1, temperature=0.0)
    temperature = 4.0
    p = tf.nn.softmax(logits[0, 0] / temperature).numpy().astype(np.float64)
    n = 8 if jit else 4000  # XLA runs small batches: draw many seeds instead
    counts = np.zeros(90)
    if jit:
        for seed in range(250):
            s = core.sample(np.repeat(z, n, 0), 1, temperature=temperature, seed=seed).numpy()
            np.add.at(counts, s[:, 0].argmax(-1), 1)
    else:
        s = core.sample(np.repeat(z, n, 0), 1, temperature=temperature, seed=1).numpy()
        np.add.at(counts, s[:, 0].argmax(-1), 1)
    total = counts.sum()
    keep = p * total >= 5  # chi-square on the well-populated classes, the rest lumped
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(p[keep] * total, p[~keep].sum() * total)
    nonzero = expected > 0
    chi2 = (((observed - expected) ** 2)[nonzero] / expected[nonzero]).sum()
    dof = nonzero.sum() - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof), (chi2, dof)


def test_sampling_is_deterministic_per_seed_and_varies_across_seeds():
    config = STRUCTURES["multiout"]
    core, _ = make(config, seed=14)
    z = np.random.default_rng(15).normal(size=(3, config.z_size)).astype(np.float32)
    a = core.sample(z, 32, temperature=1.5, seed=7).numpy()
    b = core.sample(z, 32, temperature=1.5, seed=7).numpy()
    c = core.sample(z, 32, temperature=1.5, seed=8).numpy()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(a.sum(-1) == 3)  # one class per output segment


def test_cores_of_one_architecture_share_compiled_functions():
    from midime_widgets.models import core as core_module

    config = STRUCTURES["flat-cat"].replace(name="share-test", max_seq_len=48)
    first, _ = make(config, seed=16)
    z = np.zeros((2, config.z_size), np.float32)
    first.sample(z, 48, temperature=0.0)
    before = len(core_module._FUNCTIONS)
    second, w2 = make(config.replace(name="another-name"), seed=17)
    out = second.sample(z, 48, temperature=0.0).numpy()
    assert len(core_module._FUNCTIONS) == before  # reused, not rebuilt
    want, _ = ref.decode_greedy(w2, config, z)  # and it uses the second core's own weights
    assert np.array_equal(out.argmax(-1), want.argmax(-1))


# ---- compiled programs: shared across batch sizes, never waited for ---------------------------


def _decode_programs(core):
    return [key for key in core._concrete_fns if key[0] == "decode"]


def test_new_batch_sizes_reuse_the_compiled_programs():
    """Every batch size runs one encoder and one graph decoder; XLA pads to a power of two."""
    config = STRUCTURES["flat-cat"]
    core, _ = make(config, seed=20)
    rng = np.random.default_rng(21)
    for batch in (1, 3, 7):
        core.sample(rng.normal(size=(batch, config.z_size)).astype(np.float32), 8, temperature=0.5, seed=1)
        x = one_hot_inputs(config, batch, seed=batch)
        core.encode(x, np.full(batch, config.max_seq_len, np.int32))
    assert len(_decode_programs(core)) == 1
    assert len([key for key in core._concrete_fns if key[0] == "encode"]) == 1
    xla, _ = make(config, seed=20, jit=True)
    for batch in (3, 4):  # both run the 4-row program
        xla.sample(rng.normal(size=(batch, config.z_size)).astype(np.float32), 8, temperature=0.0)
    assert len(_decode_programs(xla)) == 1


def _hold_builder(core, build=lambda: None):
    """Another thread becomes the core's builder (as a warm-up does), runs `build`, then keeps
    the role until released."""
    import threading

    entered, release = threading.Event(), threading.Event()
    result = []

    def builder():
        with core.builds_programs():
            result.append(build())
            entered.set()
            release.wait(60)

    thread = threading.Thread(target=builder, daemon=True)
    thread.start()
    assert entered.wait(60)
    return thread, release, result


@pytest.mark.parametrize("name, jit", [("flat-cat", True), ("multiout", False), ("hier-split", False),
                                       ("hier-encoder", False)])
def test_a_call_never_builds_a_program_while_another_thread_builds_them(name, jit):
    config = STRUCTURES[name]
    core, _ = make(config, seed=22, jit=jit)
    z = np.random.default_rng(23).normal(size=(2, config.z_size)).astype(np.float32)
    x = one_hot_inputs(config, 2, seed=24)
    lengths = np.full(2, config.max_seq_len, np.int32)
    thread, release, _ = _hold_builder(core)
    try:
        uncompiled = core.sample(z, config.max_seq_len, temperature=0.0).numpy()
        mu, _ = core.encode(x, lengths)
        # nothing XLA-compiled and no encoder traced: the encoder ran op by op, the decoder op
        # by op or, where the compiled one is XLA, as a plain graph (traced, never compiled)
        stand_ins = [dict(opts) for kind, _, opts in core._concrete_fns]
        assert all(kind == "decode" for kind, _, _ in core._concrete_fns)
        assert all(opts["jit"] is False for opts in stand_ins)
        assert len(stand_ins) == (1 if jit else 0)
    finally:
        release.set()
        thread.join(60)
    compiled = core.sample(z, config.max_seq_len, temperature=0.0).numpy()
    np.testing.assert_array_equal(uncompiled, compiled)  # greedy: the same music either way
    np.testing.assert_allclose(mu.numpy(), core.encode(x, lengths)[0].numpy(), atol=1e-5)
    assert len(_decode_programs(core)) == (2 if jit else 1)  # the stand-in beside the XLA one


def test_the_encoder_is_traced_on_its_second_use_or_by_a_warm_up():
    """A one-shot job (the command line encodes once) never pays the trace; the same numbers."""
    config = STRUCTURES["flat-cat"]
    core, _ = make(config, seed=25)
    x = one_hot_inputs(config, 3, seed=26)
    lengths = np.full(3, config.max_seq_len, np.int32)
    first = core.encode(x, lengths)[0].numpy()
    assert not any(key[0] == "encode" for key in core._concrete_fns)  # ran op by op
    second = core.encode(x, lengths)[0].numpy()
    assert [key[0] for key in core._concrete_fns].count("encode") == 1  # traced now
    np.testing.assert_allclose(first, second, atol=1e-5)
    warmed, _ = make(config, seed=25)
    with warmed.builds_programs():  # a warm-up builds on the first call
        warmed.encode(x, lengths)
    assert [key[0] for key in warmed._concrete_fns].count("encode") == 1


def test_a_built_stand_in_serves_decodes_while_the_xla_program_compiles():
    """A warm-up's first step traces the stand-in; a decode made while another thread builds the
    XLA program then traces nothing itself and gives the compiled program's greedy music."""
    config = STRUCTURES["flat-cat"]
    core, _ = make(config, seed=28, jit=True)
    core.build_stand_in(config.max_seq_len, 0.0)
    built = dict(core._concrete_fns)
    assert [dict(opts)["jit"] for kind, _, opts in built] == [False]
    z = np.random.default_rng(29).normal(size=(3, config.z_size)).astype(np.float32)
    thread, release, _ = _hold_builder(core)
    try:
        stand_in = core.sample(z, config.max_seq_len, temperature=0.0).numpy()
        assert core._concrete_fns == built  # ready: nothing traced on the caller's path
    finally:
        release.set()
        thread.join(60)
    np.testing.assert_array_equal(stand_in, core.sample(z, config.max_seq_len, temperature=0.0).numpy())


def test_a_second_builder_waits_for_the_first():
    import threading

    core, _ = make(STRUCTURES["flat-cat"], seed=27)
    order = []
    first, release, _ = _hold_builder(core, lambda: order.append("first"))

    def second():
        with core.builds_programs():
            order.append("second")
            with core.builds_programs():  # nested: still this thread
                order.append("nested")

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    assert core._programs.builder == first.ident
    release.set()
    first.join(60)
    thread.join(60)
    assert order == ["first", "second", "nested"]
    assert core._programs.builder is None


def test_only_narrow_decoders_compile_with_xla_by_default(monkeypatch):
    """A decoder wider than XLA_MAX_UNITS runs as a plain graph (its matmuls are faster there),
    unless XLA is asked for explicitly; `$MIDIME_WIDGETS_XLA=0` turns XLA off for all."""
    from midime_widgets.models.core import XLA_MAX_UNITS

    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "1")
    narrow = small("cat-mel_2bar_small", dec_rnn_sizes=(XLA_MAX_UNITS, 5))
    wide = small("cat-mel_2bar_small", dec_rnn_sizes=(5, XLA_MAX_UNITS + 1))
    assert MusicVAECore(narrow).jit_compile
    assert not MusicVAECore(wide).jit_compile
    assert MusicVAECore(wide, jit_compile=True).jit_compile
    monkeypatch.setenv("MIDIME_WIDGETS_XLA", "0")
    assert not MusicVAECore(narrow).jit_compile


def test_wide_decoder_samples_match_numpy_on_the_graph_path():
    """The default path of a wide decoder (plain graph, upper layers' products apart)."""
    config = small("cat-mel_2bar_big", dec_rnn_sizes=(5, 600, 6))
    core, weights = make(config, seed=41, jit=None)
    assert not core.jit_compile
    z = np.random.default_rng(42).normal(size=(3, config.z_size)).astype(np.float32) * 2
    samples, logits = core.sample_with_logits(z, config.max_seq_len, temperature=0.0)
    want, want_logits = ref.decode_greedy(weights, config, z)
    np.testing.assert_allclose(logits.numpy(), want_logits, atol=1e-4)
    _assert_greedy_equal(samples.numpy(), want, want_logits)
