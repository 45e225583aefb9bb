import pytest
import torch
from torch.nn.utils import parametrize

import nats.defaults
from nats.data import TrainingSet
from nats.networks import ARCHITECTURES, ConvDiscriminator, ConvGenerator, build_networks
from nats.networks.cfg_nets import CfgResNetDiscriminatorBlock

PAPER_ARCHITECTURES = [name for name in ARCHITECTURES if name != "auto"]

# Widths small enough for quick shape tests; sngan-resnet at 48x48 needs
# g_width divisible by 8 and d_width by 16.
TINY = {"z_dim": 8, "g_width": 16, "d_width": 16, "g_batch_norm": True, "d_batch_norm": False}


def image_set(resolution: int, channels: int, count: int = 4) -> TrainingSet:
    samples = torch.rand(count, channels, resolution, resolution, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return TrainingSet("synthetic", "image", samples, {"resolution": resolution})


def parameter_count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def conv(in_channels, out_channels, kernel, bias=True):
    return in_channels * out_channels * kernel * kernel + (out_channels if bias else 0)


def linear(in_features, out_features):
    return in_features * out_features + out_features


def batch_norm(channels):
    return 2 * channels


# Expected sizes. No published parameter count was found for any of these
# nets: not in the papers, nor in the authors' code (cfg-gan-pt,
# sngan_projection, improved_wgan_training) nor in the reimplementations
# searched (mimicry, pytorch-gan-collections). Each number below is derived
# from the published layer list named beside it, layer by layer.


def cfg_dcgan_generator(z_dim, width, channels):
    # cfg-gan-pt netdef.py dcganx_G, depth 3 (32x32): linear to 4w x 4 x 4,
    # blocks (5x5 transposed conv, BN, 1x1 conv, BN) 4w -> 2w -> w, then a
    # 5x5 transposed conv to the image channels.
    return (
        linear(z_dim, 4 * width * 16)
        + conv(4 * width, 2 * width, 5) + batch_norm(2 * width) + conv(2 * width, 2 * width, 1) + batch_norm(2 * width)
        + conv(2 * width, width, 5) + batch_norm(width) + conv(width, width, 1) + batch_norm(width)
        + conv(width, channels, 5)
    )


def cfg_dcgan_discriminator(width, channels):
    # cfg-gan-pt netdef.py dcganx_D, depth 3: 5x5 conv to w, blocks (5x5
    # conv, BN, 1x1 conv, BN) w -> 2w -> 4w, linear from 4w x 4 x 4.
    return (
        conv(channels, width, 5)
        + conv(width, 2 * width, 5) + batch_norm(2 * width) + conv(2 * width, 2 * width, 1) + batch_norm(2 * width)
        + conv(2 * width, 4 * width, 5) + batch_norm(4 * width) + conv(4 * width, 4 * width, 1) + batch_norm(4 * width)
        + linear(4 * width * 16, 1)
    )


def cfg_resnet_generator(z_dim, width, channels):
    # cfg-gan-pt netdef.py resnet4_G: linear to 8w x 4 x 4, blocks (3x3 conv
    # in -> out, 3x3 conv out -> out, BN, bias-free 1x1 shortcut)
    # 8w -> 4w -> 2w -> w -> w, then a 3x3 conv to the image channels.
    block_channels = [8 * width, 4 * width, 2 * width, width, width]
    blocks = sum(
        conv(a, b, 3) + conv(b, b, 3) + batch_norm(b) + conv(a, b, 1, bias=False)
        for a, b in zip(block_channels[:-1], block_channels[1:])
    )
    return linear(z_dim, 8 * width * 16) + blocks + conv(width, channels, 3)


def cfg_resnet_discriminator(width, channels):
    # cfg-gan-pt netdef.py resnet4_D: first block (3x3 conv c -> w, 3x3 conv
    # w -> w, BN, bias-free 1x1 shortcut), blocks (3x3 conv in -> in, 3x3
    # conv in -> out, BN, shortcut) w -> 2w -> 4w -> 8w, linear from 8w x 4 x 4.
    first = conv(channels, width, 3) + conv(width, width, 3) + batch_norm(width) + conv(channels, width, 1, bias=False)
    block_channels = [width, 2 * width, 4 * width, 8 * width]
    blocks = sum(
        conv(a, a, 3) + conv(a, b, 3) + batch_norm(b) + conv(a, b, 1, bias=False)
        for a, b in zip(block_channels[:-1], block_channels[1:])
    )
    return first + blocks + linear(8 * width * 16, 1)


def resnet_generator(z_dim, bottom, block_channels, channels):
    # SNGAN gen_models/resnet_32.py and resblocks.py, WGAN-GP
    # gan_cifar_resnet.py Generator: linear to the bottom map, up blocks
    # (BN, 3x3 conv in -> out, BN, 3x3 conv out -> out, 1x1 shortcut), BN,
    # 3x3 conv to the image channels.
    blocks = sum(
        batch_norm(a) + conv(a, b, 3) + batch_norm(b) + conv(b, b, 3) + conv(a, b, 1)
        for a, b in zip(block_channels[:-1], block_channels[1:])
    )
    last = block_channels[-1]
    return linear(z_dim, block_channels[0] * bottom * bottom) + blocks + batch_norm(last) + conv(last, channels, 3)


def resnet_discriminator(block_channels, downsample, channels):
    # SNGAN dis_models/resblocks.py (OptimizedBlock, Block) and WGAN-GP
    # OptimizedResBlockDisc1 / ResidualBlock: first block 3x3 c -> w, 3x3
    # w -> w, 1x1 shortcut; later blocks 3x3 in -> in, 3x3 in -> out, a 1x1
    # shortcut where they pool or change channels; linear from the last
    # block's channels to one score.
    total = conv(channels, block_channels[0], 3) + conv(block_channels[0], block_channels[0], 3) + conv(channels, block_channels[0], 1)
    for a, b, pools in zip(block_channels[:-1], block_channels[1:], downsample[1:]):
        total += conv(a, a, 3) + conv(a, b, 3) + (conv(a, b, 1) if pools or a != b else 0)
    return total + linear(block_channels[-1], 1)


EXPECTED_COUNTS = {
    ("cfg-dcgan", "mnist"): (cfg_dcgan_generator(100, 32, 1), cfg_dcgan_discriminator(32, 1)),
    ("cfg-dcgan", "svhn"): (cfg_dcgan_generator(100, 64, 3), cfg_dcgan_discriminator(64, 3)),
    ("cfg-resnet4", "lsun-bedroom"): (cfg_resnet_generator(100, 64, 3), cfg_resnet_discriminator(64, 3)),
    ("cfg-resnet4", "lsun-church"): (cfg_resnet_generator(100, 64, 3), cfg_resnet_discriminator(64, 3)),
    # SNGAN CIFAR-10: ch 256 / 128, dim_z 128 (configs/sn_cifar10_unconditional.yml).
    ("sngan-resnet", "cifar10"): (
        resnet_generator(128, 4, [256] * 4, 3),
        resnet_discriminator([128] * 4, [True, True, False, False], 3),
    ),
    # SNGAN STL-10: the appendix table (dense to 6x6x512, blocks to 256, 128,
    # 64; D blocks 64, 128, 256, 512, 1024).
    ("sngan-resnet", "stl10"): (
        resnet_generator(128, 6, [512, 256, 128, 64], 3),
        resnet_discriminator([64, 128, 256, 512, 1024], [True, True, True, True, False], 3),
    ),
    # WGAN-GP CIFAR-10: DIM_G = DIM_D = 128, z 128.
    ("wgangp-resnet", "cifar10"): (
        resnet_generator(128, 4, [128] * 4, 3),
        resnet_discriminator([128] * 4, [True, True, False, False], 3),
    ),
}

# The derivations above evaluate to these totals; pinning them catches a
# slip in a derivation as well as in the nets.
EXPECTED_TOTALS = {
    ("cfg-dcgan", "mnist"): (469_345, 280_513),
    ("cfg-dcgan", "svhn"): (1_464_131, 1_117_185),
    ("cfg-resnet4", "lsun-bedroom"): (3_403_459, 2_544_833),
    ("cfg-resnet4", "lsun-church"): (3_403_459, 2_544_833),
    ("sngan-resnet", "cifar10"): (4_276_739, 1_053_825),
    ("sngan-resnet", "stl10"): (4_878_083, 10_141_441),
    ("wgangp-resnet", "cifar10"): (1_204_483, 1_053_825),
}

PUBLISHED = [
    pytest.param(name, published, id=f"{name}-{published.dataset}")
    for name in PAPER_ARCHITECTURES
    for published in ARCHITECTURES[name].published
]


def test_every_paper_architecture_lists_published_settings():
    assert {key[0] for key in EXPECTED_COUNTS} == set(PAPER_ARCHITECTURES)
    assert {(name, published.dataset) for name, published in (param.values for param in PUBLISHED)} == set(EXPECTED_COUNTS)


def test_derived_counts_equal_pinned_totals():
    assert EXPECTED_COUNTS == EXPECTED_TOTALS


@pytest.mark.parametrize(("name", "published"), PUBLISHED)
def test_parameter_counts_match_layer_lists(name, published):
    settings = {**published.settings, "architecture": name}
    training_set = image_set(published.resolution, published.channels, count=2)
    generator, discriminator = build_networks(settings, training_set, spectral_norm=name == "sngan-resnet")
    expected_generator, expected_discriminator = EXPECTED_COUNTS[(name, published.dataset)]
    assert parameter_count(generator) == expected_generator
    assert parameter_count(discriminator) == expected_discriminator


SHAPE_CASES = [
    pytest.param(name, resolution, channels, id=f"{name}-{resolution}-c{channels}")
    for name in PAPER_ARCHITECTURES
    for resolution in ARCHITECTURES[name].resolutions
    for channels in (1, 3)
]


@pytest.mark.parametrize(("name", "resolution", "channels"), SHAPE_CASES)
def test_output_shapes_and_range(name, resolution, channels):
    torch.manual_seed(0)
    training_set = image_set(resolution, channels)
    generator, discriminator = build_networks({**TINY, "architecture": name}, training_set)

    # Large latents drive a tanh output towards its limits.
    images = generator(torch.randn(4, TINY["z_dim"]) * 50)
    assert images.shape == (4, channels, resolution, resolution)
    assert images.min().item() >= -1.0
    assert images.max().item() <= 1.0

    scores = discriminator(training_set.samples)
    assert scores.shape == (4,)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_spectral_norm_covers_every_discriminator_layer(name):
    resolution = 16 if ARCHITECTURES[name].resolutions is None else ARCHITECTURES[name].resolutions[0]
    training_set = image_set(resolution, 3)
    weighted_types = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)

    _, normalised = build_networks({**TINY, "architecture": name}, training_set, spectral_norm=True)
    weighted = [layer for layer in normalised.modules() if isinstance(layer, weighted_types)]
    assert weighted
    assert all(parametrize.is_parametrized(layer, "weight") for layer in weighted)

    _, plain = build_networks({**TINY, "architecture": name}, training_set, spectral_norm=False)
    assert not any(parametrize.is_parametrized(layer, "weight") for layer in plain.modules() if isinstance(layer, weighted_types))


@pytest.mark.parametrize("name", PAPER_ARCHITECTURES)
def test_unsupported_resolution_error_names_the_choices(name):
    supported = ARCHITECTURES[name].resolutions
    with pytest.raises(ValueError) as error:
        build_networks({**TINY, "architecture": name}, image_set(128, 3))
    message = str(error.value)
    assert name in message
    assert "128x128" in message
    for side in supported:
        assert f"{side}x{side}" in message


def test_unknown_architecture_is_rejected():
    with pytest.raises(ValueError, match="unknown architecture 'biggan'"):
        build_networks({**TINY, "architecture": "biggan"}, image_set(32, 3))


def test_paper_architecture_rejects_points(ring8):
    with pytest.raises(ValueError, match="use architecture 'auto'"):
        build_networks({**TINY, "architecture": "sngan-resnet"}, ring8)


def test_auto_builds_the_small_conv_nets(digits):
    settings = {"z_dim": 8, "g_width": 8, "d_width": 8, "g_batch_norm": True, "d_batch_norm": False}
    torch.manual_seed(5)
    generator, discriminator = build_networks({**settings, "architecture": "auto"}, digits, spectral_norm=True)
    torch.manual_seed(5)
    default_generator, default_discriminator = build_networks(settings, digits, spectral_norm=True)
    torch.manual_seed(5)
    direct_generator = ConvGenerator(z_dim=8, width=8, resolution=16, channels=1, batch_norm=True)
    direct_discriminator = ConvDiscriminator(width=8, resolution=16, channels=1, batch_norm=False, spectral_norm=True)

    assert isinstance(generator, ConvGenerator)
    assert isinstance(discriminator, ConvDiscriminator)
    for built in (generator, default_generator):
        for name, tensor in direct_generator.state_dict().items():
            assert torch.equal(built.state_dict()[name], tensor), name
    for built in (discriminator, default_discriminator):
        for name, tensor in direct_discriminator.state_dict().items():
            assert torch.equal(built.state_dict()[name], tensor), name


def test_sngan_48_widths_must_divide():
    with pytest.raises(ValueError, match="d_width 24 .* multiple of 16"):
        build_networks({**TINY, "d_width": 24, "architecture": "sngan-resnet"}, image_set(48, 3))
    with pytest.raises(ValueError, match="g_width 12 .* multiple of 8"):
        build_networks({**TINY, "g_width": 12, "architecture": "sngan-resnet"}, image_set(48, 3))


@pytest.mark.parametrize("name", ["sngan-resnet", "wgangp-resnet"])
def test_resnet_discriminator_rejects_batch_norm(name):
    with pytest.raises(ValueError, match="set d_batch_norm: false"):
        build_networks({**TINY, "d_batch_norm": True, "architecture": name}, image_set(32, 3))


@pytest.mark.parametrize("name", PAPER_ARCHITECTURES)
def test_batch_norm_flags_switch_the_layers(name):
    resolution = ARCHITECTURES[name].resolutions[0]
    settings = {**TINY, "architecture": name, "g_batch_norm": False}
    generator, _ = build_networks(settings, image_set(resolution, 3))
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in generator.modules())

    generator, _ = build_networks({**settings, "g_batch_norm": True}, image_set(resolution, 3))
    assert any(isinstance(layer, torch.nn.BatchNorm2d) for layer in generator.modules())

    if name.startswith("cfg-"):
        _, discriminator = build_networks({**settings, "d_batch_norm": True}, image_set(resolution, 3))
        assert any(isinstance(layer, torch.nn.BatchNorm2d) for layer in discriminator.modules())


def test_cfg_resnet_block_rectifies_both_paths():
    # The authors' in-place ReLU feeds the rectified input to the shortcut
    # too, so a block after the first sees only the positive part of x.
    torch.manual_seed(0)
    inner = CfgResNetDiscriminatorBlock(4, 8, batch_norm=False, first=False, spectral_norm=False)
    first = CfgResNetDiscriminatorBlock(4, 8, batch_norm=False, first=True, spectral_norm=False)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(inner(x), inner(x.clamp(min=0)))
    assert not torch.allclose(first(x), first(x.clamp(min=0)))


def test_registry_names_match_the_config_list():
    config_names = getattr(nats.defaults, "ARCHITECTURES", None)
    if config_names is None:
        pytest.skip("nats.defaults has no ARCHITECTURES list yet")
    assert tuple(config_names) == tuple(ARCHITECTURES)
