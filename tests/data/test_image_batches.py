"""Minibatches of image sets: uint8 conversion, streaming, resume and FID references."""

import numpy as np
import pytest
import torch

from image_files import CIFAR10_BATCH_SIZES
from nats.data import RealBatches, TrainingSet, load_digits, load_reference_images, load_training_set
from nats.data import images as image_module
from nats.data.vision.sets import InMemoryImageSet, StreamedImageSet, uint8_to_float_images
from nats.metrics.adapter import to_uint8_rgb

BATCH_SIZE = 4


def settings_for(root, **extra):
    return {"data_root": str(root), "download": False, **extra}


def draw(batches: RealBatches, count: int) -> list[torch.Tensor]:
    return [batches.next() for _ in range(count)]


def test_uint8_round_trip_through_metric_adapter():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).repeat(1, 3, 1, 1)

    images = uint8_to_float_images(pixels)

    assert images.dtype == torch.float32
    assert images.min().item() == -1.0
    assert images.max().item() == 1.0
    assert torch.equal(to_uint8_rgb(images), pixels)


def test_in_memory_set_keeps_uint8(data_root):
    root, _ = data_root
    training_set = load_training_set("cifar10", settings_for(root, in_memory=True))

    assert isinstance(training_set, InMemoryImageSet)
    assert training_set.pixels.dtype == torch.uint8
    assert training_set.info["in_memory"] is True


@pytest.mark.parametrize(
    ("source", "extra"),
    [("cifar10", {"resolution": 24}), ("celeba", {}), ("lsun-bedroom", {}), ("mnist", {}), ("svhn", {})],
)
def test_streamed_and_in_memory_batches_equal(data_root, source, extra):
    root, _ = data_root
    in_memory = load_training_set(source, settings_for(root, in_memory=True, **extra))
    streamed = load_training_set(source, settings_for(root, in_memory=False, **extra))
    assert isinstance(streamed, StreamedImageSet)
    assert streamed.sample_shape == in_memory.sample_shape
    assert len(streamed) == len(in_memory)

    batch_size = min(BATCH_SIZE, len(in_memory))
    memory_batches = RealBatches(in_memory, batch_size, torch.Generator().manual_seed(3))
    stream_batches = RealBatches(streamed, batch_size, torch.Generator().manual_seed(3))

    # Enough batches to cross several epochs.
    for expected, actual in zip(draw(memory_batches, 7), draw(stream_batches, 7)):
        assert torch.equal(expected, actual)


def test_streamed_resume_gives_same_batches(data_root):
    root, _ = data_root
    settings = settings_for(root, in_memory=False)
    generator = torch.Generator().manual_seed(11)
    batches = RealBatches(load_training_set("celeba", settings), BATCH_SIZE, generator)
    draw(batches, 3)
    state = batches.state_dict()
    generator_state = generator.get_state()
    expected = draw(batches, 5)

    resumed_generator = torch.Generator()
    resumed_generator.set_state(generator_state)
    resumed = RealBatches(load_training_set("celeba", settings), BATCH_SIZE, resumed_generator)
    resumed.load_state_dict(state)

    assert set(state) == {"permutation", "position"}
    for want, got in zip(expected, draw(resumed, 5)):
        assert torch.equal(want, got)


def test_in_memory_state_resumes_streamed_set(data_root):
    root, _ = data_root
    generator = torch.Generator().manual_seed(5)
    batches = RealBatches(load_training_set("cifar10", settings_for(root, in_memory=True)), BATCH_SIZE, generator)
    draw(batches, 2)
    state, generator_state = batches.state_dict(), generator.get_state()
    expected = draw(batches, 4)

    resumed_generator = torch.Generator()
    resumed_generator.set_state(generator_state)
    streamed = load_training_set("cifar10", settings_for(root, in_memory=False))
    resumed = RealBatches(streamed, BATCH_SIZE, resumed_generator)
    resumed.load_state_dict(state)

    for want, got in zip(expected, draw(resumed, 4)):
        assert torch.equal(want, got)


def test_float_training_set_batches_unchanged(digits):
    generator = torch.Generator().manual_seed(0)
    batches = RealBatches(digits, 32, generator)

    first = batches.next()

    permutation = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, digits.samples[permutation[:32]])
    assert isinstance(digits, TrainingSet)
    assert torch.equal(digits.batch(permutation[:5]), digits.samples[permutation[:5]])


def test_auto_streams_above_byte_limit(data_root, monkeypatch):
    root, _ = data_root
    monkeypatch.setattr(image_module, "IN_MEMORY_MAX_BYTES", 12 * 3 * 32 * 32)

    streamed = load_training_set("cifar10", settings_for(root, in_memory="auto"))
    monkeypatch.setattr(image_module, "IN_MEMORY_MAX_BYTES", 12 * 3 * 32 * 32 + 1)
    in_memory = load_training_set("cifar10", settings_for(root, in_memory="auto"))

    assert isinstance(streamed, StreamedImageSet)
    assert streamed.info["in_memory"] is False
    assert isinstance(in_memory, InMemoryImageSet)


def test_auto_holds_real_sources_except_bedroom_in_memory():
    defaults = image_module.IMAGE_SOURCE_DEFAULTS
    for source in ("cifar10", "stl10", "celeba", "lsun-church", "mnist", "svhn"):
        resolution, channels = defaults[source]["resolution"], defaults[source]["channels"]
        size = defaults[source]["training_set_size"] * channels * resolution**2
        assert size < image_module.IN_MEMORY_MAX_BYTES, source
    bedroom = defaults["lsun-bedroom"]["training_set_size"] * 3 * 64**2
    assert bedroom >= image_module.IN_MEMORY_MAX_BYTES


def test_to_device_keeps_set_and_batches(data_root):
    root, _ = data_root
    for in_memory in (True, False):
        training_set = load_training_set("svhn", settings_for(root, in_memory=in_memory))
        moved = training_set.to(torch.device("cpu"))
        indices = torch.tensor([1, 0, 7])

        assert moved.device == torch.device("cpu")
        assert moved.name == training_set.name
        assert moved.info == training_set.info
        assert len(moved) == len(training_set)
        assert torch.equal(moved.batch(indices), training_set.batch(indices))


def test_batch_size_above_set_size_rejected(data_root):
    root, _ = data_root
    training_set = load_training_set("mnist", settings_for(root, in_memory=False))

    with pytest.raises(ValueError, match="batch_size 8 is larger than the 7 samples of 'mnist'"):
        RealBatches(training_set, 8, torch.Generator())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_on_cuda_match_cpu(data_root):
    root, _ = data_root
    for in_memory in (True, False):
        training_set = load_training_set("celeba", settings_for(root, in_memory=in_memory))
        on_gpu = training_set.to(torch.device("cuda"))
        cpu_batch = RealBatches(training_set, BATCH_SIZE, torch.Generator().manual_seed(1)).next()
        gpu_batch = RealBatches(on_gpu, BATCH_SIZE, torch.Generator().manual_seed(1)).next()

        assert gpu_batch.is_cuda
        assert torch.equal(gpu_batch.cpu(), cpu_batch)


def test_reference_subset_deterministic(data_root):
    root, written = data_root
    settings = settings_for(root)
    full = torch.from_numpy(written["cifar10"]["train"])

    first = load_reference_images("cifar10", settings, max_images=5, seed=0)
    again = load_reference_images("cifar10", settings, max_images=5, seed=0)
    other = load_reference_images("cifar10", settings, max_images=5, seed=1)

    assert first.dtype == torch.uint8
    assert tuple(first.shape) == (5, 3, 32, 32)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    expected = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))[:5].sort().values
    assert torch.equal(first, full[expected])


def test_reference_more_than_split_returns_all(data_root):
    root, written = data_root

    reference = load_reference_images("cifar10", settings_for(root), max_images=10**6)

    assert torch.equal(reference, torch.from_numpy(written["cifar10"]["train"]))


def test_reference_matches_training_preprocessing(data_root):
    root, _ = data_root
    for source in ("stl10", "celeba", "lsun-church", "mnist"):
        training_set = load_training_set(source, settings_for(root, in_memory=True))
        reference = load_reference_images(source, settings_for(root))

        assert torch.equal(reference, training_set.pixels), source


def test_reference_rejects_bad_count(data_root):
    root, _ = data_root

    with pytest.raises(ValueError, match="max_images must be a positive integer or None, got 0"):
        load_reference_images("cifar10", settings_for(root), max_images=0)


def test_training_set_count_matches_files(data_root):
    root, written = data_root

    assert len(load_training_set("cifar10", settings_for(root))) == sum(CIFAR10_BATCH_SIZES)
    assert np.array_equal(
        load_reference_images("svhn", settings_for(root)).numpy(), written["svhn"]["train"]
    )


def test_digits_still_loaded_by_name():
    training_set = load_training_set("digits", {"resolution": 16})

    assert isinstance(training_set, TrainingSet)
    assert torch.equal(training_set.samples, load_digits(16).samples)
