"""The G batch multiplier and linear learning-rate decay of the host GANs."""

import json
import shutil

import pytest
import torch

from baselines import build_host_spec
from baselines.host import LR_DECAYS, learning_rate_scale
from nats.config import ConfigError, resolve_run_config
from nats.methods import build_method
from nats.training import train_run

from ..methods.conftest import tiny_settings
from ..test_resume import assert_states_equal, final_state, logged_losses

BATCH_SIZE = 8
N_DIS = 5
KIMG_PER_ITERATION = BATCH_SIZE * N_DIS / 1000


def build(method: str, digits, **extra):
    return build_method(tiny_settings(method, **extra), digits, BATCH_SIZE, seed=0, device=torch.device("cpu"))


def record_generator_batches(model) -> list[int]:
    sizes = []
    model.generator.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    return sizes


def record_fake_batches(model) -> list[int]:
    sizes = []
    update_discriminator = model.update_discriminator

    def recording_update(fake):
        sizes.append(fake.shape[0])
        return update_discriminator(fake)

    model.update_discriminator = recording_update
    return sizes


@pytest.mark.parametrize("method", ["sngan", "wgan-gp"])
def test_linear_decay_lr_after_each_iteration(method, digits):
    budget_kimg = 0.2
    model = build(method, digits, lr_decay="linear")
    seen = []

    def record_learning_rates(progress):
        lr_g = model.generator_optimizer.param_groups[0]["lr"]
        lr_d = model.discriminator_optimizer.param_groups[0]["lr"]
        seen.append((progress.kimg, progress.d_steps, lr_g, lr_d))

    model.train(budget_kimg, record_learning_rates)

    assert [kimg for kimg, _, _, _ in seen] == pytest.approx([KIMG_PER_ITERATION * k for k in range(1, 6)])
    for kimg, d_steps, lr_g, lr_d in seen:
        # G steps after the n_dis D steps, and D's last step ran before its own batch was counted.
        kimg_before_last_d_step = (d_steps - 1) * BATCH_SIZE / 1000.0
        assert lr_g == 2e-4 * (1 - kimg / budget_kimg)
        assert lr_d == 2e-4 * (1 - kimg_before_last_d_step / budget_kimg)
    assert seen[0][2] == pytest.approx(2e-4 * 0.8, rel=1e-12)
    assert seen[0][3] == pytest.approx(2e-4 * 0.84, rel=1e-12)
    assert seen[-1][2] == 0.0


def test_linear_decay_clamps_at_zero_past_budget(digits):
    model = build("sngan", digits, lr_decay="linear")
    model.train(0.1)

    assert model.kimg == pytest.approx(3 * KIMG_PER_ITERATION)
    assert model.generator_optimizer.param_groups[0]["lr"] == 0.0
    assert learning_rate_scale("linear", 0.15, 0.1) == 0.0
    assert learning_rate_scale("linear", 0.025, 0.1) == 0.75


def test_no_decay_keeps_initial_lr(digits):
    model = build("sngan", digits, lr_decay="none")
    model.train(0.2)

    assert model.generator_optimizer.param_groups[0]["lr"] == 2e-4
    assert model.discriminator_optimizer.param_groups[0]["lr"] == 2e-4


def test_nats_decays_regression_lr(digits):
    budget_kimg = 0.2
    model = build("nats-sngan", digits, lr_decay="linear")
    seen = []
    model.train(budget_kimg, lambda progress: seen.append((progress.kimg, model.generator_optimizer.param_groups[0]["lr"])))

    assert len(seen) == 5
    for kimg, lr_g in seen:
        assert lr_g == 2e-4 * (1 - kimg / budget_kimg)


@pytest.mark.parametrize("method", ["sngan", "wgan-gp"])
def test_generator_step_draws_multiplied_latents(method, digits):
    model = build(method, digits, g_batch_multiplier=2)
    generator_batches = record_generator_batches(model)
    fake_batches = record_fake_batches(model)
    model.train(KIMG_PER_ITERATION)

    assert generator_batches == [BATCH_SIZE] * N_DIS + [2 * BATCH_SIZE]
    assert fake_batches == [BATCH_SIZE] * N_DIS
    assert model.kimg == pytest.approx(KIMG_PER_ITERATION)


def test_nats_particle_batch_is_multiplied(digits):
    model = build("nats-wgan-gp", digits, g_batch_multiplier=2)
    generator_batches = record_generator_batches(model)
    fake_batches = record_fake_batches(model)
    model.train(KIMG_PER_ITERATION)

    # One draw of the particles, one regression step of G, each on 2x latents.
    assert generator_batches == [2 * BATCH_SIZE, 2 * BATCH_SIZE]
    assert fake_batches == [BATCH_SIZE] * N_DIS


def test_multiplier_one_matches_default_settings(digits):
    plain = build("nats-sngan", digits)
    explicit = build("nats-sngan", digits, g_batch_multiplier=1, lr_decay="none")
    plain.train(0.1)
    explicit.train(0.1)

    assert_states_equal(explicit.state_dict(), plain.state_dict())


@pytest.mark.parametrize("lr_decay", LR_DECAYS)
def test_config_accepts_each_decay(lr_decay):
    assert tiny_settings("sngan", lr_decay=lr_decay)["lr_decay"] == lr_decay


@pytest.mark.parametrize(("key", "value"), [("lr_decay", "cosine"), ("g_batch_multiplier", 0), ("g_batch_multiplier", 1.5)])
def test_config_rejects_invalid_recipe(key, value):
    with pytest.raises(ConfigError, match=key):
        tiny_settings("wgan-gp", **{key: value})


@pytest.mark.parametrize(("key", "value"), [("lr_decay", "step"), ("g_batch_multiplier", 0), ("g_batch_multiplier", True)])
def test_host_spec_rejects_invalid_recipe(key, value):
    settings = {**tiny_settings("sngan"), key: value}
    with pytest.raises(ValueError, match=key):
        build_host_spec("sngan", settings)


RESUME_CONFIG = {
    "name": "recipe-resume",
    "seeds": [0],
    "datasets": {"digits": {"budget_kimg": 1.0, "snapshot_kimg": 0.5, "checkpoint_kimg": 0.25, "batch_size": 32}},
    "methods": {
        method: {"z_dim": 8, "g_width": 8, "d_width": 8, "g_batch_multiplier": 2, "lr_decay": "linear"}
        for method in ("sngan", "nats-wgan-gp")
    },
}


@pytest.mark.parametrize("method", ["sngan", "nats-wgan-gp"])
def test_resume_of_decayed_run_is_bit_identical(method, tmp_path):
    run_config = resolve_run_config(RESUME_CONFIG, "digits", method, 0)
    straight = tmp_path / "straight"
    assert train_run(run_config, straight, threads=1) == "complete"

    # A crash right after the snapshot at 0.64 kimg: the later snapshot, the
    # resume checkpoints and the final state are lost.
    resumed = tmp_path / "resumed"
    shutil.copytree(straight, resumed)
    for name in ("final.pt", "checkpoints/kimg00001.120.pt", "checkpoints/resume.pt", "checkpoints/resume.previous.pt"):
        (resumed / name).unlink()

    assert train_run(run_config, resumed, threads=1) == "complete"
    sessions = json.loads((resumed / "provenance.json").read_text())["sessions"]
    assert sessions[-1]["resumed_from_kimg"] == pytest.approx(0.64)
    assert_states_equal(final_state(resumed), final_state(straight))
    assert logged_losses(resumed) == logged_losses(straight)
    assert final_state(straight)["generator_optimizer"]["param_groups"][0]["lr"] == 0.0
