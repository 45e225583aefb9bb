"""Tiny image datasets written in each source's real on-disk format.

Each writer puts files where torchvision 0.29 looks for them under a data
root and returns the uint8 pixels it wrote as (N, C, H, W), in the order the
loaders must return them. Image counts are small and differ per split, so a
test can tell the splits apart.
"""

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

CIFAR10_BATCH_SIZES = (3, 2, 2, 2, 3)
CIFAR10_TEST_SIZE = 4
STL10_SIZES = {"train": 3, "unlabeled": 5, "test": 2}
SVHN_SIZES = {"train": 4, "extra": 6, "test": 3}
MNIST_SIZES = {"train": 7, "t10k": 3}
CELEBA_PARTITION = (0, 0, 1, 0, 2, 0, 1, 0, 2, 0)
LSUN_SIZES = {"bedroom_train": 5, "bedroom_val": 2, "church_outdoor_train": 4, "church_outdoor_val": 2}


def random_pixels(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def write_cifar10(data_root: Path) -> dict[str, np.ndarray]:
    """Write the python version of CIFAR-10: pickled dicts with rows of 3072 bytes (R, G, B planes)."""
    folder = data_root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = []
    for number, size in enumerate(CIFAR10_BATCH_SIZES, start=1):
        pixels = random_pixels(100 + number, (size, 3, 32, 32))
        batch = {
            "batch_label": f"training batch {number} of 5",
            "labels": [int(label) for label in np.arange(size) % 10],
            "data": pixels.reshape(size, 3072),
            "filenames": [f"image_{number}_{index}.png" for index in range(size)],
        }
        with open(folder / f"data_batch_{number}", "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
        batches.append(pixels)
    test = random_pixels(199, (CIFAR10_TEST_SIZE, 3, 32, 32))
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({"batch_label": "testing batch 1 of 1", "labels": [0] * len(test), "data": test.reshape(len(test), 3072)}, handle, protocol=2)
    with open(folder / "batches.meta", "wb") as handle:
        label_names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        pickle.dump({"label_names": label_names, "num_cases_per_batch": 10000, "num_vis": 3072}, handle, protocol=2)
    return {"train": np.concatenate(batches), "test": test}


def write_stl10(data_root: Path) -> dict[str, np.ndarray]:
    """Write the binary version of STL-10: 96x96 images stored column-major, one byte per value."""
    folder = data_root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for seed, (split, size) in enumerate(STL10_SIZES.items()):
        pixels = random_pixels(200 + seed, (size, 3, 96, 96))
        # The files store each channel column by column: (N, C, W, H).
        (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(pixels.transpose(0, 1, 3, 2)).tobytes())
        if split != "unlabeled":
            (folder / f"{split}_y.bin").write_bytes((np.arange(size) % 10 + 1).astype(np.uint8).tobytes())
        written[split] = pixels
    (folder / "class_names.txt").write_text("\n".join(f"class{index}" for index in range(10)) + "\n")
    return {"train": np.concatenate([written["train"], written["unlabeled"]]), "test": written["test"], "unlabeled": written["unlabeled"]}


def write_svhn(data_root: Path) -> dict[str, np.ndarray]:
    """Write SVHN's cropped-digits .mat files: X of shape (32, 32, 3, N), y of shape (N, 1) with labels 1..10."""
    folder = data_root / "svhn"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for seed, (split, size) in enumerate(SVHN_SIZES.items()):
        pixels = random_pixels(300 + seed, (size, 3, 32, 32))
        labels = (np.arange(size) % 10 + 1).astype(np.uint8).reshape(size, 1)
        scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": pixels.transpose(2, 3, 1, 0), "y": labels})
        written[split] = pixels
    return {"train": np.concatenate([written["train"], written["extra"]]), "test": written["test"]}


def write_mnist(data_root: Path) -> dict[str, np.ndarray]:
    """Write MNIST's uncompressed idx files under MNIST/raw."""
    folder = data_root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for seed, (prefix, size) in enumerate(MNIST_SIZES.items()):
        pixels = random_pixels(400 + seed, (size, 28, 28))
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, size, 28, 28) + pixels.tobytes())
        labels = (np.arange(size) % 10).astype(np.uint8)
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, size) + labels.tobytes())
        written["train" if prefix == "train" else "test"] = pixels[:, None]
    return written


def write_celeba(data_root: Path) -> dict[str, list[Path]]:
    """Write CelebA's aligned 178x218 JPEG faces and list_eval_partition.txt; return the files per split."""
    folder = data_root / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True)
    lines = []
    files = {"train": [], "valid": [], "test": [], "all": []}
    split_names = ("train", "valid", "test")
    for index, partition in enumerate(CELEBA_PARTITION, start=1):
        name = f"{index:06d}.jpg"
        Image.fromarray(random_pixels(500 + index, (218, 178, 3))).save(images / name, quality=90)
        lines.append(f"{name} {partition}")
        files[split_names[partition]].append(images / name)
        files["all"].append(images / name)
    (folder / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return files


def lsun_image(seed: int) -> Image.Image:
    # LSUN images have a shorter side of 256 and a varying longer side.
    width, height = ((256, 341), (300, 256), (256, 256))[seed % 3]
    return Image.fromarray(random_pixels(600 + seed, (height, width, 3)))


def write_lsun_folders(data_root: Path) -> dict[str, list[Path]]:
    """Write LSUN exported as WebP files in nested folders, as the LSUN export script does."""
    files = {}
    for part, size in LSUN_SIZES.items():
        files[part] = []
        for index in range(size):
            path = data_root / "lsun" / part / f"{index % 2}" / f"{part}{index:04d}.webp"
            path.parent.mkdir(parents=True, exist_ok=True)
            lsun_image(index).save(path, lossless=True)
            files[part].append(path)
        files[part].sort()
    return files


def write_lsun_database(data_root: Path, part: str, count: int) -> list[bytes]:
    """Write an LSUN lmdb database: keys are image ids, values WebP bytes. Needs the lmdb package."""
    import lmdb

    folder = data_root / "lsun" / f"{part}_lmdb"
    folder.mkdir(parents=True, exist_ok=True)
    encoded = []
    environment = lmdb.open(str(folder), map_size=2**26)
    with environment.begin(write=True) as transaction:
        for index in range(count):
            buffer = io.BytesIO()
            lsun_image(index).save(buffer, format="webp", lossless=True)
            transaction.put(f"{index:040x}".encode(), buffer.getvalue())
            encoded.append(buffer.getvalue())
    environment.close()
    return encoded


def write_image_folder(folder: Path) -> list[Path]:
    """Write torchvision's ImageFolder layout (one subfolder per class) with mixed sizes and modes."""
    specs = [
        ("cats/a.png", "RGB", (40, 30)),
        ("cats/b.jpg", "RGB", (30, 30)),
        ("dogs/c.png", "L", (32, 48)),
        ("dogs/d.png", "RGBA", (36, 36)),
        ("dogs/nested/e.bmp", "RGB", (50, 40)),
    ]
    paths = []
    for seed, (name, mode, size) in enumerate(specs):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        array = random_pixels(700 + seed, (size[1], size[0], channels))
        Image.fromarray(array[..., 0] if channels == 1 else array, mode=mode).save(path)
        paths.append(path)
    (folder / "notes.txt").write_text("not an image\n")
    return sorted(paths)


def write_npz(path: Path, layout: str = "NHWC", count: int = 6, side: int = 20) -> np.ndarray:
    pixels = random_pixels(800, (count, 3, side, side))
    arrays = {"NHWC": pixels.transpose(0, 2, 3, 1), "NCHW": pixels, "NHW": pixels[:, 0]}
    np.savez(path, images=arrays[layout])
    return pixels[:, :1] if layout == "NHW" else pixels


class NetworkAccessed(AssertionError):
    """Raised by the no_network fixture when code opens a connection."""
