"""Image sources read from files in their real on-disk formats."""

import io
import logging
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from image_files import (
    CELEBA_PARTITION,
    CIFAR10_BATCH_SIZES,
    LSUN_SIZES,
    NetworkAccessed,
    write_cifar10,
    write_lsun_database,
    write_mnist,
    write_npz,
)
from nats.data import (
    IMAGE_SOURCE_DEFAULTS,
    IMAGE_SOURCES,
    DatasetNotFoundError,
    check_image_dataset,
    describe_preprocessing,
    load_reference_images,
    load_training_set,
)
from nats.data.images import resolve_image_settings
from nats.data.vision.sets import InMemoryImageSet, StreamedImageSet
from nats.data.vision.sources import InvalidImageArray


def settings_for(root, **extra):
    return {"data_root": str(root), "download": False, **extra}


def all_pixels(training_set) -> torch.Tensor:
    """Every image of a set as uint8, read back through its float batches."""
    images = training_set.batch(torch.arange(len(training_set)))
    return torch.round(127.5 * images + 127.5).to(torch.uint8)


def pil_resized(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, C, H, W) uint8 pixels with PIL's bicubic filter, independently of the loader."""
    resized = []
    for chw in pixels:
        image = Image.fromarray(chw.transpose(1, 2, 0)).resize((size, size), Image.Resampling.BICUBIC)
        resized.append(np.asarray(image).transpose(2, 0, 1))
    return np.stack(resized)


# Source, grid settings, expected count, sample shape.
SOURCE_CASES = [
    ("cifar10", {}, sum(CIFAR10_BATCH_SIZES), (3, 32, 32)),
    ("stl10", {}, 3 + 5, (3, 48, 48)),
    ("svhn", {}, 4 + 6, (3, 32, 32)),
    ("mnist", {}, 7, (1, 32, 32)),
    ("celeba", {}, CELEBA_PARTITION.count(0), (3, 64, 64)),
    ("lsun-bedroom", {}, LSUN_SIZES["bedroom_train"], (3, 64, 64)),
    ("lsun-church", {}, LSUN_SIZES["church_outdoor_train"], (3, 64, 64)),
]


@pytest.mark.parametrize(("source", "extra", "count", "shape"), SOURCE_CASES, ids=[case[0] for case in SOURCE_CASES])
def test_source_loads_shape_range_count(data_root, source, extra, count, shape):
    root, _ = data_root
    training_set = load_training_set(source, settings_for(root, **extra))

    assert training_set.kind == "image"
    assert training_set.name == source
    assert len(training_set) == count
    assert training_set.sample_shape == shape
    assert training_set.info["resolution"] == IMAGE_SOURCE_DEFAULTS[source]["resolution"]
    assert training_set.info["channels"] == IMAGE_SOURCE_DEFAULTS[source]["channels"]

    images = training_set.batch(torch.arange(count))
    assert images.dtype == torch.float32
    assert tuple(images.shape) == (count, *shape)
    assert images.min().item() >= -1.0
    assert images.max().item() <= 1.0
    assert images.std().item() > 0.01


def test_cifar10_pixels_match_python_batches(data_root):
    root, written = data_root
    training_set = load_training_set("cifar10", settings_for(root))

    assert isinstance(training_set, InMemoryImageSet)
    assert torch.equal(training_set.pixels, torch.from_numpy(written["cifar10"]["train"]))


def test_cifar10_test_split_reference(data_root):
    root, written = data_root
    reference = load_reference_images("cifar10", settings_for(root), split="test")

    assert reference.dtype == torch.uint8
    assert torch.equal(reference, torch.from_numpy(written["cifar10"]["test"]))


def test_cifar10_resized_matches_pil_bicubic(data_root):
    root, written = data_root
    training_set = load_training_set("cifar10", settings_for(root, resolution=24))

    expected = pil_resized(written["cifar10"]["train"], 24)
    assert torch.equal(training_set.pixels, torch.from_numpy(expected))


def test_stl10_reads_column_major_files(data_root):
    root, written = data_root
    training_set = load_training_set("stl10", settings_for(root, resolution=96))

    # Labelled training images first, then the unlabelled ones.
    assert torch.equal(training_set.pixels, torch.from_numpy(written["stl10"]["train"]))


def test_stl10_default_resizes_to_48(data_root):
    root, written = data_root
    training_set = load_training_set("stl10", settings_for(root))

    assert torch.equal(training_set.pixels, torch.from_numpy(pil_resized(written["stl10"]["train"], 48)))


def test_stl10_unlabeled_and_test_splits(data_root):
    root, written = data_root
    unlabeled = load_reference_images("stl10", settings_for(root, resolution=96), split="unlabeled")
    test = load_reference_images("stl10", settings_for(root, resolution=96), split="test")

    assert torch.equal(unlabeled, torch.from_numpy(written["stl10"]["unlabeled"]))
    assert torch.equal(test, torch.from_numpy(written["stl10"]["test"]))


def test_svhn_concatenates_train_and_extra(data_root):
    root, written = data_root
    training_set = load_training_set("svhn", settings_for(root))
    test = load_reference_images("svhn", settings_for(root), split="test")

    assert torch.equal(training_set.pixels, torch.from_numpy(written["svhn"]["train"]))
    assert torch.equal(test, torch.from_numpy(written["svhn"]["test"]))


def test_svhn_streamed_reads_across_parts(data_root):
    root, written = data_root
    training_set = load_training_set("svhn", settings_for(root, in_memory=False))

    assert isinstance(training_set, StreamedImageSet)
    # Indices 3 and 4 are the last train and the first extra image.
    indices = torch.tensor([4, 3, 9, 0])
    assert torch.equal(all_pixels(training_set)[indices], torch.from_numpy(written["svhn"]["train"])[indices])


def test_mnist_padded_to_32(data_root):
    root, written = data_root
    training_set = load_training_set("mnist", settings_for(root))

    pixels = training_set.pixels
    assert torch.equal(pixels[:, :, 2:30, 2:30], torch.from_numpy(written["mnist"]["train"]))
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert pixels[:, :, border].eq(0).all()


def test_mnist_test_split_reads_t10k(data_root):
    root, written = data_root
    test = load_reference_images("mnist", settings_for(root), split="test")

    assert tuple(test.shape) == (3, 1, 32, 32)
    assert torch.equal(test[:, :, 2:30, 2:30], torch.from_numpy(written["mnist"]["test"]))


def celeba_expected(path, crop=140, size=64) -> np.ndarray:
    with Image.open(path) as image:
        width, height = image.size
        left, top = round((width - crop) / 2.0), round((height - crop) / 2.0)
        face = image.convert("RGB").crop((left, top, left + crop, top + crop))
        return np.asarray(face.resize((size, size), Image.Resampling.BICUBIC)).transpose(2, 0, 1)


def test_celeba_train_partition_cropped_and_resized(data_root):
    root, written = data_root
    training_set = load_training_set("celeba", settings_for(root))

    expected = np.stack([celeba_expected(path) for path in written["celeba"]["train"]])
    assert torch.equal(training_set.pixels, torch.from_numpy(expected))


@pytest.mark.parametrize("split", ["valid", "test", "all"])
def test_celeba_other_partitions(data_root, split):
    root, written = data_root
    reference = load_reference_images("celeba", settings_for(root), split=split)

    expected = np.stack([celeba_expected(path) for path in written["celeba"][split]])
    assert torch.equal(reference, torch.from_numpy(expected))


def test_celeba_center_crop_setting(data_root):
    root, written = data_root
    training_set = load_training_set("celeba", settings_for(root, center_crop=178))

    expected = np.stack([celeba_expected(path, crop=178) for path in written["celeba"]["train"]])
    assert torch.equal(training_set.pixels, torch.from_numpy(expected))


def lsun_expected(path, size=64) -> np.ndarray:
    with Image.open(path) as image:
        width, height = image.size
        scale = size / min(width, height)
        resized = image.convert("RGB").resize(
            (size if width <= height else int(width * scale), size if height <= width else int(height * scale)),
            Image.Resampling.BICUBIC,
        )
        left, top = round((resized.width - size) / 2.0), round((resized.height - size) / 2.0)
        return np.asarray(resized.crop((left, top, left + size, top + size))).transpose(2, 0, 1)


def test_lsun_export_folder_resized_and_cropped(data_root):
    root, written = data_root
    training_set = load_training_set("lsun-bedroom", settings_for(root))

    expected = np.stack([lsun_expected(path) for path in written["lsun"]["bedroom_train"]])
    assert torch.equal(training_set.pixels, torch.from_numpy(expected))


def test_lsun_val_split_from_folder(data_root):
    root, _ = data_root
    reference = load_reference_images("lsun-church", settings_for(root), split="val")

    assert tuple(reference.shape) == (LSUN_SIZES["church_outdoor_val"], 3, 64, 64)


def test_lsun_database_without_lmdb_names_fix(tmp_path, monkeypatch):
    database = tmp_path / "lsun" / "bedroom_train_lmdb"
    database.mkdir(parents=True)
    (database / "data.mdb").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "lmdb", None)

    with pytest.raises(ModuleNotFoundError, match="pip install lmdb") as raised:
        check_image_dataset("lsun-bedroom", settings_for(tmp_path))
    assert str(database) in str(raised.value)
    with pytest.raises(ModuleNotFoundError, match="export the images to a folder"):
        load_training_set("lsun-bedroom", settings_for(tmp_path))


def test_lsun_database_read_through_torchvision(tmp_path, monkeypatch):
    pytest.importorskip("lmdb")
    monkeypatch.chdir(tmp_path)
    encoded = write_lsun_database(tmp_path, "church_outdoor_train", 3)

    training_set = load_training_set("lsun-church", settings_for(tmp_path, in_memory=False))
    pixels = all_pixels(training_set)

    assert len(training_set) == len(encoded)
    expected = np.stack([lsun_expected(io.BytesIO(webp)) for webp in encoded])
    assert torch.equal(pixels, torch.from_numpy(expected))
    # torchvision keeps its key cache beside the database, not in the working directory.
    assert not list(tmp_path.glob("_cache_*"))
    assert list((tmp_path / "lsun").glob("_cache_*"))


def test_image_folder_any_depth_and_modes(image_folder):
    folder, paths = image_folder
    training_set = load_training_set("pets", {"source": "imagefolder", "path": str(folder), "resolution": 24})

    assert len(training_set) == len(paths)
    assert training_set.sample_shape == (3, 24, 24)
    assert training_set.info["source"] == "imagefolder"
    images = training_set.batch(torch.arange(len(paths)))
    assert images.min().item() >= -1.0
    assert images.max().item() <= 1.0


def test_image_folder_default_resolution_is_first_image(image_folder):
    folder, _ = image_folder
    training_set = load_training_set("pets", {"source": "imagefolder", "path": str(folder)})

    # The first file in sorted order, cats/a.png, is 40x30.
    assert training_set.sample_shape == (3, 30, 30)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHW"])
def test_npz_layouts(tmp_path, layout):
    path = tmp_path / "images.npz"
    pixels = write_npz(path, layout)

    training_set = load_training_set("faces", {"source": "npz", "path": str(path)})

    assert training_set.name == "faces"
    assert training_set.sample_shape == pixels.shape[1:]
    assert torch.equal(training_set.pixels, torch.from_numpy(pixels))


def test_npz_resized_and_keyed(tmp_path):
    path = tmp_path / "images.npz"
    pixels = np.random.default_rng(1).integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    np.savez(path, images=pixels, labels=np.arange(4))

    training_set = load_training_set("faces", {"source": "npz", "path": str(path), "npz_key": "images", "resolution": 8})

    expected = pil_resized(pixels.transpose(0, 3, 1, 2), 8)
    assert torch.equal(training_set.pixels, torch.from_numpy(expected))


def test_npz_float_images_map_to_uint8(tmp_path):
    path = tmp_path / "images.npz"
    pixels = np.random.default_rng(2).integers(0, 256, size=(5, 3, 8, 8), dtype=np.uint8)
    np.savez(path, images=pixels.astype(np.float32) / 127.5 - 1.0)

    training_set = load_training_set("floats", {"source": "npz", "path": str(path)})

    assert torch.equal(training_set.pixels, torch.from_numpy(pixels))


def test_npz_invalid_arrays_rejected(tmp_path):
    several = tmp_path / "several.npz"
    np.savez(several, a=np.zeros((2, 8, 8), np.uint8), b=np.zeros((2, 8, 8), np.uint8))
    out_of_range = tmp_path / "range.npz"
    np.savez(out_of_range, images=np.full((2, 8, 8), 255.0, np.float32))
    wrong_shape = tmp_path / "shape.npz"
    np.savez(wrong_shape, images=np.zeros((2, 8, 8, 5), np.uint8))

    with pytest.raises(InvalidImageArray, match="set npz_key"):
        load_training_set("x", {"source": "npz", "path": str(several)})
    with pytest.raises(InvalidImageArray, match="no array 'c'"):
        load_training_set("x", {"source": "npz", "path": str(several), "npz_key": "c"})
    with pytest.raises(InvalidImageArray, match=r"must lie in \[-1, 1\]"):
        load_training_set("x", {"source": "npz", "path": str(out_of_range)})
    with pytest.raises(InvalidImageArray, match=r"\(2, 8, 8, 5\)"):
        load_training_set("x", {"source": "npz", "path": str(wrong_shape)})


# Source, extra settings, a path fragment the message must name, the fix it must give.
MISSING_CASES = [
    ("cifar10", {}, "cifar-10-batches-py/data_batch_1", "download: true"),
    ("stl10", {}, "stl10_binary/unlabeled_X.bin", "download: true"),
    ("svhn", {}, "svhn/extra_32x32.mat", "download: true"),
    ("mnist", {}, "MNIST/raw/train-images-idx3-ubyte", "download: true"),
    ("celeba", {}, "celeba/img_align_celeba", "by hand"),
    ("lsun-bedroom", {}, "lsun/bedroom_train_lmdb", "cannot download LSUN"),
    ("lsun-church", {}, "lsun/church_outdoor_train", "pip install lmdb"),
]


@pytest.mark.parametrize(("source", "extra", "fragment", "fix"), MISSING_CASES, ids=[case[0] for case in MISSING_CASES])
def test_missing_source_error_names_path(tmp_path, no_network, source, extra, fragment, fix):
    with pytest.raises(DatasetNotFoundError) as checked:
        check_image_dataset(source, settings_for(tmp_path, **extra))
    with pytest.raises(DatasetNotFoundError) as loaded:
        load_training_set(source, settings_for(tmp_path, **extra))

    for raised in (checked, loaded):
        message = str(raised.value)
        assert str(tmp_path / fragment) in message
        assert "Expected layout" in message
        assert fix in message
        assert isinstance(raised.value, FileNotFoundError)


def test_missing_image_folder_and_npz(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here\n")

    with pytest.raises(DatasetNotFoundError, match="set path to the folder of images") as raised:
        check_image_dataset("imagefolder", {"path": str(empty)})
    assert str(empty) in str(raised.value)
    with pytest.raises(DatasetNotFoundError, match="set path to the .npz file") as raised:
        load_training_set("x", {"source": "npz", "path": str(tmp_path / "absent.npz")})
    assert str(tmp_path / "absent.npz") in str(raised.value)
    with pytest.raises(DatasetNotFoundError, match="set path to the folder of images"):
        describe_preprocessing("imagefolder", {"path": str(tmp_path / "absent")})
    with pytest.raises(DatasetNotFoundError, match="set path to the .npz file"):
        describe_preprocessing("npz", {"path": str(tmp_path / "absent.npz")})


def test_partial_celeba_extraction_detected(tmp_path, data_root):
    root, written = data_root
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    (folder / "list_eval_partition.txt").write_text((root / "celeba" / "list_eval_partition.txt").read_text())
    first = written["celeba"]["train"][0]
    (folder / "img_align_celeba" / first.name).write_bytes(first.read_bytes())

    last_train = written["celeba"]["train"][-1].name
    with pytest.raises(DatasetNotFoundError, match=last_train):
        check_image_dataset("celeba", settings_for(tmp_path))


def test_check_returns_paths_without_decoding(data_root, monkeypatch):
    root, _ = data_root

    def fail_on_open(*args, **kwargs):
        raise AssertionError("check_image_dataset opened an image")

    monkeypatch.setattr(Image, "open", fail_on_open)
    paths = check_image_dataset("cifar10", settings_for(root))

    assert [path.name for path in paths] == [f"data_batch_{number}" for number in range(1, 6)]
    assert check_image_dataset("celeba", settings_for(root))
    assert check_image_dataset("lsun-church", settings_for(root))


def test_download_true_with_files_present_stays_offline(data_root, no_network):
    root, written = data_root
    for source in ("cifar10", "stl10", "svhn", "mnist"):
        check_image_dataset(source, settings_for(root, download=True))
        training_set = load_training_set(source, settings_for(root, download=True))
        assert len(training_set) == len(written[source]["train"])


def test_download_true_calls_torchvision_download(tmp_path, monkeypatch, no_network):
    import torchvision.datasets.cifar

    calls = []

    def fake_download(url, download_root, filename=None, md5=None, **kwargs):
        # Stands in for the network: write the extracted archive as the real one would.
        calls.append((url, filename, md5))
        write_cifar10(tmp_path)

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", fake_download)

    assert check_image_dataset("cifar10", settings_for(tmp_path, download=True))
    training_set = load_training_set("cifar10", settings_for(tmp_path, download=True))

    assert calls == [(torchvision.datasets.CIFAR10.url, "cifar-10-python.tar.gz", torchvision.datasets.CIFAR10.tgz_md5)]
    assert len(training_set) == sum(CIFAR10_BATCH_SIZES)


def test_download_true_mnist_uses_torchvision_mirrors(tmp_path, monkeypatch, no_network):
    import torchvision.datasets.mnist

    urls = []

    def fake_download(url, download_root, filename=None, md5=None, **kwargs):
        urls.append(url)
        if len(urls) == 1:
            write_mnist(tmp_path)

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", fake_download)
    training_set = load_training_set("mnist", settings_for(tmp_path, download=True))

    assert urls[0].endswith("train-images-idx3-ubyte.gz")
    assert len(training_set) == 7


def test_celeba_download_needs_gdown(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)

    with pytest.raises(ModuleNotFoundError, match="pip install gdown"):
        check_image_dataset("celeba", settings_for(tmp_path, download=True))


def test_lsun_download_true_still_fails_before_training(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError, match="cannot download LSUN"):
        check_image_dataset("lsun-church", settings_for(tmp_path, download=True))


def test_unexpected_count_logs_warning(data_root, caplog):
    root, _ = data_root
    with caplog.at_level(logging.WARNING, logger="nats.data.images"):
        load_training_set("cifar10", settings_for(root))

    assert "has 12 images, but the official release has 50000" in caplog.text


def test_describe_preprocessing_per_source(data_root, image_folder):
    root, _ = data_root
    folder, _ = image_folder

    assert describe_preprocessing("cifar10", settings_for(root)).startswith("cifar10 train: CIFAR-10 32x32 RGB -> no resize")
    assert "train+unlabeled" in describe_preprocessing("stl10", settings_for(root))
    assert "resize to 48x48 with PIL bicubic" in describe_preprocessing("stl10", settings_for(root))
    assert "zero-pad 2 px to 32x32" in describe_preprocessing("mnist", settings_for(root))
    assert "center crop 140x140; resize to 64x64" in describe_preprocessing("celeba", settings_for(root))
    assert "train+extra" in describe_preprocessing("svhn", settings_for(root))
    assert "center crop 64x64" in describe_preprocessing("lsun-bedroom", settings_for(root))
    assert "uint8 (3, 30, 30)" in describe_preprocessing("imagefolder", {"path": str(folder)})


def test_defaults_cover_every_source():
    assert set(IMAGE_SOURCE_DEFAULTS) == set(IMAGE_SOURCES)
    expected_sizes = {"cifar10": 50000, "stl10": 105000, "svhn": 604388, "mnist": 60000, "celeba": 162770}
    for source, size in expected_sizes.items():
        assert IMAGE_SOURCE_DEFAULTS[source]["training_set_size"] == size
        assert IMAGE_SOURCE_DEFAULTS[source]["splits"]["train"] == size
    assert IMAGE_SOURCE_DEFAULTS["svhn"]["splits"]["train"] == 73257 + 531131
    assert {source: defaults["resolution"] for source, defaults in IMAGE_SOURCE_DEFAULTS.items() if defaults["resolution"]} == {
        "cifar10": 32, "stl10": 48, "celeba": 64, "lsun-bedroom": 64, "lsun-church": 64, "mnist": 32, "svhn": 32,
    }
    assert IMAGE_SOURCE_DEFAULTS["mnist"]["channels"] == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"resolution": 4}, "resolution of cifar10 must be an integer of at least 8, got 4"),
        ({"resolution": "32"}, "got '32'"),
        ({"download": "false"}, "download of cifar10 must be true or false, got 'false'"),
        ({"in_memory": "yes"}, "in_memory of cifar10 must be 'auto', true or false, got 'yes'"),
        ({"center_crop": 0}, "center_crop of cifar10 must be a positive integer"),
    ],
)
def test_invalid_settings_rejected(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_image_settings("cifar10", settings)


def test_unknown_source_and_split_rejected(data_root):
    root, _ = data_root

    with pytest.raises(ValueError, match="unknown image source 'cifar100'"):
        check_image_dataset("cifar100", {})
    with pytest.raises(ValueError, match="source one of cifar10"):
        load_training_set("cifar100", {})
    with pytest.raises(ValueError, match="source imagefolder needs a path"):
        load_training_set("pets", {"source": "imagefolder"})
    with pytest.raises(ValueError, match="CIFAR-10 has no split 'valid'; expected one of train, test"):
        load_reference_images("cifar10", settings_for(root), split="valid")


def test_extra_settings_keys_ignored(data_root):
    root, _ = data_root
    settings = {"name": "cifar10", "source": "cifar10", "batch_size": 64, "budget_kimg": 1.0, **settings_for(root)}

    assert len(load_training_set("cifar10", settings)) == sum(CIFAR10_BATCH_SIZES)
