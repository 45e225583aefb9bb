import pytest
import torch

from nats.metrics.adapter import (
    ADAPTER_POLICY,
    ImageRangeError,
    UInt8ImageDataset,
    to_fidelity_dataset,
    to_uint8_rgb,
)


def all_pixel_values(channels: int) -> torch.Tensor:
    values = torch.arange(256, dtype=torch.uint8)
    return values.reshape(1, 1, 16, 16).expand(2, channels, 16, 16).contiguous()


@pytest.mark.parametrize("channels", [1, 3])
def test_uint8_round_trip_is_bit_exact(channels):
    pixels = all_pixel_values(channels)
    images = pixels.float() / 127.5 - 1.0

    adapted = to_uint8_rgb(images)

    assert adapted.dtype == torch.uint8
    assert adapted.shape == (2, 3, 16, 16)
    assert torch.equal(adapted, pixels.expand(2, 3, 16, 16))


def test_grayscale_is_tiled_to_three_channels():
    images = torch.rand(4, 1, 8, 8) * 2 - 1

    adapted = to_uint8_rgb(images)

    assert torch.equal(adapted[:, 0], adapted[:, 1])
    assert torch.equal(adapted[:, 0], adapted[:, 2])


def test_known_values_map_to_pixels():
    images = torch.tensor([-1.0, 0.0, 1.0, 1.04, -1.04]).reshape(1, 1, 1, 5)

    adapted = to_uint8_rgb(images)[0, 0, 0].tolist()

    # 127.5 rounds half to even, to 128; values beyond +-1 are clamped.
    assert adapted == [0, 128, 255, 255, 0]


def test_values_outside_range_are_rejected_with_observed_range():
    images = torch.zeros(2, 1, 4, 4)
    images[0, 0, 0, 0] = 1.2
    images[1, 0, 0, 0] = -0.5

    with pytest.raises(ImageRangeError) as error:
        to_uint8_rgb(images)

    message = str(error.value)
    assert "[-0.5, 1.2]" in message
    assert "[-1.05, 1.05]" in message


def test_pixel_range_floats_are_rejected_with_hint():
    images = torch.randint(0, 256, (2, 1, 4, 4)).float()

    with pytest.raises(ImageRangeError, match=r"\[0, 255\]"):
        to_uint8_rgb(images)


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_rejected(bad_value):
    images = torch.zeros(2, 1, 4, 4)
    images[1, 0, 2, 2] = bad_value

    with pytest.raises(ImageRangeError, match="NaN or infinite"):
        to_uint8_rgb(images)


def test_integer_images_are_rejected():
    with pytest.raises(ImageRangeError, match="uint8"):
        to_uint8_rgb(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize("shape", [(4, 4), (2, 2, 4, 4), (0, 1, 4, 4), (2, 1, 4)])
def test_wrong_shapes_are_rejected(shape):
    with pytest.raises(ImageRangeError, match="shape"):
        to_uint8_rgb(torch.zeros(shape))


def test_fidelity_dataset_serves_uint8_rgb_images():
    images = torch.rand(5, 1, 8, 8) * 2 - 1

    dataset = to_fidelity_dataset(images)

    assert len(dataset) == 5
    assert dataset[3].dtype == torch.uint8
    assert dataset[3].shape == (3, 8, 8)


def test_dataset_rejects_float_pixels():
    with pytest.raises(ImageRangeError, match="to_uint8_rgb"):
        UInt8ImageDataset(torch.zeros(2, 3, 4, 4))


def test_policy_states_the_quantisation():
    assert ADAPTER_POLICY["to_uint8"].startswith("round(127.5 * x + 127.5)")
    assert ADAPTER_POLICY["clamp"] == "[-1, 1]"
    assert all(isinstance(value, str) for value in ADAPTER_POLICY.values())
