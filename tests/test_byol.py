"""BYOL: the EMA rule, the stop-gradient, the τ schedule, pre-training with resume, and the CLI."""

import json

import numpy as np
import pytest
import tensorflow as tf

from relsar_core.config import AugmentConfig, BYOLConfig, BYOLRunConfig, ModelConfig, load_config
from relsar_core.train.byol import BYOL, embedding_spread, tau_schedule

TINY = ModelConfig(size="tiny")
SMALL_HEADS = dict(projector=(64, 32), predictor=(64, 32))


def test_tau_schedule_cosine_from_base_to_one():
    taus = [float(tau_schedule(k, 100, 0.996, "cosine")) for k in (0, 50, 100, 150)]
    assert taus[0] == pytest.approx(0.996)
    assert taus[1] == pytest.approx(0.998)
    assert taus[2] == pytest.approx(1.0) and taus[3] == pytest.approx(1.0)
    assert float(tau_schedule(70, 100, 0.99, "constant")) == pytest.approx(0.99)


def test_ema_rule_exact_after_one_step_and_no_gradient_reaches_target():
    tf.keras.utils.set_random_seed(1)
    cfg = BYOLConfig(
        **SMALL_HEADS, epochs=2, batch_size=8, tau_base=0.9, warmup_epochs=0, learning_rate=0.05
    )
    byol = BYOL(TINY, cfg, AugmentConfig(), 30, steps_per_epoch=5)
    batch = tf.random.normal((8, 30, 60))
    # Nothing reaches the target through the loss: its gradients do not exist.
    v1, v2 = byol.views(batch)
    with tf.GradientTape(persistent=True) as tape:
        loss = byol.loss_on_views(v1, v2)
    target_vars = [t for t, _ in byol.target_pairs]
    assert all(g is None for g in tape.gradient(loss, target_vars))
    assert all(g is not None for g in tape.gradient(loss, byol.online_variables))

    target_before = [t.numpy().copy() for t in target_vars]
    online_before = [o.numpy().copy() for _, o in byol.target_pairs]
    byol.train_step(batch)
    tau = 0.9  # cosine schedule at step 0 = tau_base
    moved = 0
    for (target, online), t0, o0 in zip(
        byol.target_pairs, target_before, online_before, strict=True
    ):
        o1 = online.numpy()
        moved += not np.allclose(o1, o0)
        np.testing.assert_allclose(target.numpy(), tau * t0 + (1 - tau) * o1, rtol=1e-5, atol=1e-6)
    assert moved > len(target_before) // 2  # the online weights did change, so the check has teeth
    assert int(byol.optimizer.iterations) == 1


def test_loss_is_symmetric_normalized_mse():
    tf.keras.utils.set_random_seed(2)
    model = ModelConfig(size="tiny", dropout=0.0)  # deterministic forward passes
    # float32: the step's fused forward rounds differently from the plain encoder in bfloat16.
    cfg = BYOLConfig(**SMALL_HEADS, batch_size=4, precision="float32")
    byol = BYOL(model, cfg, AugmentConfig(), 30, steps_per_epoch=1)
    v1, v2 = tf.random.normal((4, 30, 60)), tf.random.normal((4, 30, 60))
    # Both views pass as one batch (BatchNorm statistics over both), target rows swapped.
    p = byol.predictor(
        byol.projector(byol.encoder(tf.concat([v1, v2], 0), training=True), training=True),
        training=True,
    )
    z = byol.target_projector(
        byol.target_encoder(tf.concat([v2, v1], 0), training=True), training=True
    )
    cos = np.sum(tf.math.l2_normalize(p, -1) * tf.math.l2_normalize(z, -1), -1)
    expected = np.mean(2 - 2 * cos[:4]) + np.mean(2 - 2 * cos[4:])  # L(p1, z2) + L(p2, z1)
    assert float(byol.loss_on_views(v1, v2)) == pytest.approx(expected, rel=1e-5)
    assert float(byol.loss_on_views(v2, v1)) == pytest.approx(expected, rel=1e-5)  # symmetric


def test_embedding_spread_detects_collapse():
    healthy = tf.random.normal((256, 64))
    collapsed = tf.ones((256, 64)) + 1e-4 * tf.random.normal((256, 64))
    assert 0.8 < float(embedding_spread(healthy)) < 1.2
    assert float(embedding_spread(collapsed)) < 0.01


def test_byol_cli_pretrains_resumes_and_warns_on_collapse(toy_data, tmp_path, capsys):
    from training.train_cli import main

    config = tmp_path / "tiny_byol.yaml"
    config.write_text(
        "model: {size: tiny}\n"
        "byol: {projector: [64, 32], predictor: [64, 32], epochs: 1, batch_size: 64, warmup_epochs: 0,\n"
        "       collapse_threshold: 1.5}\n"  # above any real spread: the warning must show
    )
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as done:
        main(["byol", "--data", str(toy_data), "--config", str(config), "--out", str(run)])
    assert done.value.code == 0
    with pytest.raises(SystemExit) as done:
        main(["byol", "--resume", str(run), "--epochs", "2"])
    assert done.value.code == 0
    err = capsys.readouterr().err
    assert "collapsing" in err
    assert "(byol.precision: auto)" in err  # the arithmetic in use is said up front
    for name in ("encoder.keras", "loss.png", "config.yaml", "run.json", "metrics.jsonl"):
        assert (run / name).is_file(), name
    assert "epochs: 2" in (run / "config.yaml").read_text()  # as resumed: the next resume's
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r.get("type") == "epoch"]
    steps = [r for r in records if "step" in r]
    assert [r["epoch"] for r in epochs] == [1, 2] and all(r["collapse_warning"] for r in epochs)
    # 50 clips (test clips held out) × 5 source windows of 36 frames (speed 0.2 → 30 + 6) = 250
    # windows → 3 steps of 64 per epoch; the resume continued the count.
    assert [r["step"] for r in steps] == list(range(1, 7))
    info = json.loads((run / "run.json").read_text())
    assert info["data_args"]["unlabeled"] is False and info["data_args"]["protocol"] == "random"
    assert info["window"] == 30 and info["source_frames"] == 36
    used, held_out = info["data_info"]["pretraining_clips"], info["data_info"]["held_out_clips"]
    assert len(used) == 50 and len(held_out) == 10 and not set(used) & set(held_out)


def test_byol_cli_errors_are_one_line(tmp_path, capsys):
    from training.train_cli import main

    with pytest.raises(SystemExit) as done:
        main(
            [
                "byol",
                "--data",
                str(tmp_path / "missing"),
                "--out",
                str(tmp_path / "run"),
                "--size",
                "tiny",
            ]
        )
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "missing: data folder does not exist" in " ".join(err.split()) and "Traceback" not in err


def test_upstream_config_validates():
    cfg = load_config("byol_upstream", BYOLRunConfig)
    assert (
        cfg.byol.predictor == ()
        and cfg.byol.ema_every == "epoch"
        and cfg.byol.projector == (256, 128, 64)
    )
    assert cfg.augment.noise == 0.05 and cfg.byol.batch_size == 64 and cfg.byol.optimizer == "sgd"


def test_train_benchmark_runs_and_reports_the_ratio():
    from relsar_core.bench import train

    measurements = train.run(quick=True, size="tiny")  # the speed itself is relsar-bench's job
    assert [m.unit for m in measurements] == ["windows/s"] * 3 + ["x"] * 3
    headline, bf16 = measurements[3], measurements[4]
    # Each number is what the recorded step times say (step_ms is rounded to 0.1 ms).
    step_ms = {k: np.array(v) for k, v in headline.detail["step_ms"].items()}
    for m, loop in zip(measurements[:3], ("float32", "mixed_bfloat16", "upstream"), strict=True):
        assert m.value == pytest.approx(64e3 / np.median(step_ms[loop]), rel=0.02), m.name
    for m, loop in ((headline, "float32"), (bf16, "mixed_bfloat16")):
        per_round = step_ms["upstream"] / step_ms[loop]
        assert per_round.min() * 0.98 <= m.value <= per_round.max() * 1.02, m.name
    assert measurements[5].value == pytest.approx(
        headline.detail["cpu_time_ratio"]["float32"], abs=1e-3
    )
    assert "float32 vs float32" in headline.name and headline.target == ">= 2.5"
    assert "bfloat16 vs float32" in bf16.name and bf16.target == ">= 3"
    assert headline.detail["batch"] == 64 and headline.detail["model"] == "tiny"
    assert set(headline.detail["step_ms"]) == {"float32", "mixed_bfloat16", "upstream"}


@pytest.mark.parametrize("size,heads", [("tiny", None), ("tiny", 2), ("micro", None)])
def test_step_forward_matches_the_encoder(size, heads):
    """The step's forward (fused attention products, CLS-only last layer) is the encoder's."""
    from relsar_core.train.model import build_encoder
    from relsar_core.train.step_forward import step_forward_encoder

    tf.keras.utils.set_random_seed(3)
    encoder = build_encoder(ModelConfig(size=size, num_heads=heads, dropout=0.0), 30)
    fast = step_forward_encoder(encoder)
    x = tf.random.normal((6, 30, 60))
    for training in (False, True):
        np.testing.assert_allclose(
            fast(x, training=training), encoder(x, training=training), rtol=1e-5, atol=1e-5
        )
    assert {id(w) for w in fast.trainable_weights} == {id(w) for w in encoder.trainable_weights}


def test_step_forward_matches_the_encoder_in_bfloat16_and_keeps_dropout():
    from relsar_core.train.model import build_encoder
    from relsar_core.train.step_forward import step_forward_encoder

    tf.keras.utils.set_random_seed(4)
    cfg = ModelConfig(size="tiny", num_heads=2, dropout=0.0)
    encoder = build_encoder(cfg, 30, matmul_policy="mixed_bfloat16")
    x = tf.random.normal((6, 30, 60))
    fast, plain = step_forward_encoder(encoder)(x, training=True), encoder(x, training=True)
    assert fast.dtype == plain.dtype == tf.bfloat16
    np.testing.assert_allclose(
        tf.cast(fast, tf.float32), tf.cast(plain, tf.float32), rtol=0.05, atol=0.05
    )
    # With dropout, training passes differ and inference passes equal the encoder's.
    dropped = build_encoder(ModelConfig(size="tiny", num_heads=2, dropout=0.3), 30)
    step = step_forward_encoder(dropped)
    a, b = step(x, training=True), step(x, training=True)
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-3
    np.testing.assert_allclose(step(x), dropped(x), rtol=1e-5, atol=1e-5)


def test_mixed_bfloat16_trains_and_exports_a_float32_encoder(tmp_path):
    import keras

    cfg = BYOLConfig(**SMALL_HEADS, batch_size=8, precision="mixed_bfloat16", tau_base=0.9)
    byol = BYOL(TINY, cfg, AugmentConfig(), 30, steps_per_epoch=2)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    assert byol.encoder.get_layer("project").dtype_policy.name == "mixed_bfloat16"
    assert all(w.dtype == "float32" for w in byol.encoder.weights)
    loss, spread = byol.train_step(tf.random.normal((8, 30, 60)))
    assert np.isfinite(float(loss)) and np.isfinite(float(spread))
    exported = byol.export_encoder()
    assert exported.get_layer("project").dtype_policy.name == "float32"
    for a, b in zip(exported.get_weights(), byol.encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["views", "clean"])
def test_saved_encoder_batchnorm_statistics_are_re_estimated(toy_data, tmp_path, mode):
    """`views` (the default): the statistics of fresh BYOL views under the final weights (what
    the later layers were trained on; clean statistics cost the toy probe 1.00 → 0.80);
    `clean`: those of the clean centre windows. Each must be nearer its own than the other."""
    import keras

    from relsar_core.train.augment import augment, source_window
    from relsar_core.train.byol import centre_windows
    from relsar_core.train.pretrain import load_pretraining_windows, pretrain_byol

    cfg = load_config(
        "byol",
        BYOLRunConfig,
        model={"size": "tiny"},
        byol={**SMALL_HEADS, "epochs": 1, "batch_size": 32, "warmup_epochs": 0,
              "bn_statistics": mode},
        augment={"joint_mask": 0.3, "frame_mask": 0.3},  # views far from the clean windows
    )  # fmt: skip
    assert load_config("byol", BYOLRunConfig).byol.bn_statistics == "views"
    source = source_window(30, cfg.augment.speed)
    windows, info = load_pretraining_windows(
        [toy_data], 30, 5, False, cfg.data, source_frames=source
    )
    pretrain_byol(windows, cfg, tmp_path / "run", show_progress=False, run_info={"data_info": info})
    encoder = keras.models.load_model(tmp_path / "run" / "encoder.keras")
    inputs = {
        "clean": centre_windows(windows, 30),
        "views": augment(tf.constant(np.concatenate([windows] * 4)), cfg.augment, out_steps=30),
    }
    other = {"views": "clean", "clean": "views"}[mode]
    for name in ("conv1_bn", "conv2_bn"):
        bn = encoder.get_layer(name)
        probe = keras.Model(encoder.input, bn.input)
        stats = {}
        for kind, x in inputs.items():
            values = probe(x).numpy().reshape(-1, bn.input.shape[-1])
            stats[kind] = values.mean(0), values.var(0)
        saved = bn.moving_mean.numpy(), bn.moving_variance.numpy()

        def error(kind, saved=saved, stats=stats):
            return sum(float(np.abs(s - e).mean()) for s, e in zip(saved, stats[kind], strict=True))

        assert error(mode) < 0.5 * error(other), (name, error(mode), error(other))
        if mode == "clean":  # the sample covers every window here: exact statistics
            np.testing.assert_allclose(saved[1], stats["clean"][1], rtol=0.1, atol=0.02)


def test_centre_windows_recompute_the_first_velocity():
    from relsar_core.train.byol import centre_windows

    x = np.random.default_rng(0).normal(size=(3, 36, 60)).astype(np.float32)
    clean = centre_windows(x, 30).reshape(3, 30, 15, 4)
    np.testing.assert_array_equal(clean[..., :2], x.reshape(3, 36, 15, 4)[:, 3:33, :, :2])
    np.testing.assert_array_equal(clean[:, 0, :, 2:], 0.0)
    np.testing.assert_allclose(clean[:, 1:, :, 2:], np.diff(clean[..., :2], axis=1), atol=1e-6)


def test_fused_gelu_matches_tf_gelu_and_its_gradient():
    """The step's XLA-fused GELU is exact GELU, forward and gradient, for float32 and bfloat16
    inputs (float32 out, the gradient in the input's dtype)."""
    from relsar_core.train.step_forward import fused_gelu

    x = tf.random.stateless_normal((64, 96), seed=(1, 2)) * 3.0
    dy = tf.random.stateless_normal((64, 96), seed=(3, 4))
    for dtype in (tf.float32, tf.bfloat16):
        xin = tf.cast(x, dtype)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(xin)
            fast = fused_gelu(xin)
            plain = tf.nn.gelu(tf.cast(xin, tf.float32), approximate=False)
        assert fast.dtype == tf.float32
        np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-6)
        g_fast = tape.gradient(fast, xin, output_gradients=dy)
        g_plain = tape.gradient(plain, xin, output_gradients=dy)
        assert g_fast.dtype == dtype
        tol = 1e-5 if dtype == tf.float32 else 1e-2
        np.testing.assert_allclose(
            tf.cast(g_fast, tf.float32), tf.cast(g_plain, tf.float32), rtol=tol, atol=tol
        )


def test_fused_layer_norm_matches_keras_and_its_gradients():
    import keras

    from relsar_core.train.step_forward import FusedLayerNorm

    norm = keras.layers.LayerNormalization(epsilon=1e-6)
    x = tf.random.stateless_normal((4, 7, 32), seed=(5, 6)) * 2.0 + 0.5
    norm.build(x.shape)
    norm.gamma.assign(tf.random.stateless_normal((32,), seed=(7, 8)))
    norm.beta.assign(tf.random.stateless_normal((32,), seed=(9, 10)))
    fused = FusedLayerNorm(norm)
    dy = tf.random.stateless_normal(x.shape, seed=(11, 12))
    grads = []
    for layer in (fused, norm):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        grads.append((y, *tape.gradient(y, [x, norm.gamma, norm.beta], output_gradients=dy)))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
