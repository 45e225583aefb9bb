"""Image sources: their files under ``data_root``, their readers and their preprocessing.

The layout each source expects is listed in ``nats.data.images``. The files
are parsed by torchvision's dataset classes (CIFAR10, STL10, SVHN, LSUN, and
CelebA for its download) and by its idx reader for MNIST. torchvision checks
the md5 sums of whole CIFAR-10, STL-10 and SVHN files before it reads them.
The subclasses below check only that the files exist, so that a missing file
is reported by name and files with other bytes (such as test files) load.
"""

import contextlib
import csv
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.datasets.mnist import read_image_file
from torchvision.transforms import InterpolationMode

from nats.data.vision.readers import (
    ArrayImageReader,
    ConcatenatedReader,
    DatasetImageReader,
    FileImageReader,
    ImageReader,
    Transform,
)
from nats.data.vision.settings import IMAGE_SOURCE_DEFAULTS, DatasetNotFoundError

logger = logging.getLogger(__name__)

# Resizing filter for every source: PIL's bicubic filter, which antialiases
# when it downsamples (it is also clean-fid's resizing filter).
RESIZE_INTERPOLATION = InterpolationMode.BICUBIC
RESIZE_NAME = "PIL bicubic (antialiased)"

MNIST_PADDING = 2


class Preprocessing:
    """The fixed steps from a decoded PIL image to a training image.

    Args:
        native: the source images before preprocessing, in words.
        steps: ``(description, transform)`` pairs applied in order.
        sample_shape: the (C, H, W) every preprocessed image has.
    """

    def __init__(self, native: str, steps: list[tuple[str, Transform]], sample_shape: tuple[int, int, int]):
        self.native = native
        self.steps = steps
        self.sample_shape = sample_shape

    @property
    def transform(self) -> Transform | None:
        if not self.steps:
            return None
        return transforms.Compose([transform for _, transform in self.steps])

    def describe(self) -> str:
        channels, height, width = self.sample_shape
        actions = "; ".join(description for description, _ in self.steps) or "no resize"
        return f"{self.native} -> {actions} -> uint8 ({channels}, {height}, {width}), scaled to [-1, 1] by x / 127.5 - 1"


def _resize_square(resolution: int) -> tuple[str, Transform]:
    return (
        f"resize to {resolution}x{resolution} with {RESIZE_NAME}",
        transforms.Resize((resolution, resolution), interpolation=RESIZE_INTERPOLATION),
    )


def _resize_and_crop(resolution: int) -> list[tuple[str, Transform]]:
    return [
        (
            f"resize the shorter side to {resolution} with {RESIZE_NAME}",
            transforms.Resize(resolution, interpolation=RESIZE_INTERPOLATION),
        ),
        (f"center crop {resolution}x{resolution}", transforms.CenterCrop(resolution)),
    ]


def _missing(paths: list[Path]) -> list[Path]:
    return [path for path in paths if not path.exists()]


def _image_files(folder: Path) -> list[Path]:
    """Return the image files under ``folder`` at any depth, sorted by path."""
    logger.info("listing the images under %s", folder)
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMG_EXTENSIONS and path.is_file())


def _first_image_file(folder: Path) -> Path | None:
    for path in folder.rglob("*"):
        if path.suffix.lower() in IMG_EXTENSIONS and path.is_file():
            return path
    return None


class ImageSource:
    """Base class: one image source with resolved settings.

    Subclasses set ``title`` and implement the methods that raise
    ``NotImplementedError``.

    Args:
        settings: the output of ``resolve_image_settings``.
    """

    title = ""

    def __init__(self, settings: dict):
        self.settings = settings
        self.name = settings["source"]
        self.defaults = IMAGE_SOURCE_DEFAULTS[self.name]
        self.data_root = Path(settings["data_root"])
        self.resolution = settings["resolution"]

    def check_split(self, split: str) -> None:
        if split not in self.defaults["splits"]:
            raise ValueError(
                f"{self.title} has no split {split!r}; expected one of {', '.join(self.defaults['splits'])}"
            )

    def required_paths(self, split: str) -> list[Path]:
        """Return the files and folders that ``split`` is read from."""
        raise NotImplementedError

    def layout(self) -> str:
        """Return the expected layout on disk, in words."""
        raise NotImplementedError

    def fix(self) -> str:
        """Return how to provide the missing files, in words."""
        raise NotImplementedError

    def missing_paths(self, split: str) -> list[Path]:
        """Return the required paths of ``split`` that do not exist, cheaply."""
        return _missing(self.required_paths(split))

    def not_found_error(self, split: str, missing: list[Path]) -> DatasetNotFoundError:
        first_missing = ", ".join(f"{str(path)!r}" for path in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        data_root = self.settings.get("data_root")
        resolved = None if data_root is None else str(Path(data_root).resolve())
        where = f" (data_root {data_root!r} resolves to {resolved!r})" if resolved not in (None, str(data_root)) else ""
        if "path" in self.settings and self.settings.get("path"):
            where = ""
        return DatasetNotFoundError(
            f"{self.title} ({split} split) not found: missing {first_missing}{more}{where}. "
            f"Expected layout: {self.layout()}. Fix: {self.fix()}"
        )

    def download(self, split: str) -> None:
        """Download the files of ``split`` with torchvision."""
        raise NotImplementedError(f"{self.title} cannot be downloaded through torchvision")

    def check_download_possible(self) -> None:
        """Raise if ``download`` cannot work here (a missing package)."""

    def open(self, split: str) -> ImageReader:
        """Return a reader of the preprocessed images of ``split`` (the files exist)."""
        raise NotImplementedError

    def preprocessing(self) -> Preprocessing:
        """Return the preprocessing of this source at the resolution of its settings."""
        raise NotImplementedError

    def _downloadable_fix(self, folder: str) -> str:
        return (
            f"set data_root to the folder that contains {folder}, "
            "or set download: true to let torchvision download it into data_root"
        )


class _CIFAR10Files(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 reader with existence checks in place of md5 sums.

    The label names in batches.meta are not read: the GANs are unconditional.
    """

    def _check_integrity(self) -> bool:
        files = self.train_list if self.train else self.test_list
        return all(os.path.isfile(os.path.join(self.root, self.base_folder, name)) for name, _ in files)

    def _load_meta(self) -> None:
        self.classes = []
        self.class_to_idx = {}


class Cifar10Source(ImageSource):
    title = "CIFAR-10"
    native_size = 32

    @property
    def folder(self) -> Path:
        return self.data_root / _CIFAR10Files.base_folder

    def required_paths(self, split: str) -> list[Path]:
        files = _CIFAR10Files.train_list if split == "train" else _CIFAR10Files.test_list
        return [self.folder / name for name, _ in files]

    def layout(self) -> str:
        return (
            "<data_root>/cifar-10-batches-py/ with data_batch_1 .. data_batch_5 and test_batch "
            "(cifar-10-python.tar.gz, the python version, extracted)"
        )

    def fix(self) -> str:
        return self._downloadable_fix("cifar-10-batches-py")

    def download(self, split: str) -> None:
        _CIFAR10Files(str(self.data_root), train=split == "train", download=True)

    def open(self, split: str) -> ImageReader:
        dataset = _CIFAR10Files(str(self.data_root), train=split == "train")
        return ArrayImageReader(dataset.data.transpose(0, 3, 1, 2), self.preprocessing().transform)

    def preprocessing(self) -> Preprocessing:
        steps = [] if self.resolution == self.native_size else [_resize_square(self.resolution)]
        return Preprocessing("CIFAR-10 32x32 RGB", steps, (3, self.resolution, self.resolution))


class _STL10Files(torchvision.datasets.STL10):
    """torchvision's STL-10 reader with existence checks in place of md5 sums."""

    def _check_integrity(self) -> bool:
        return all(os.path.isfile(os.path.join(self.root, self.base_folder, name)) for name in stl10_files(self.split))


def stl10_files(torchvision_split: str) -> list[str]:
    return {
        "train": ["train_X.bin", "train_y.bin"],
        "train+unlabeled": ["train_X.bin", "train_y.bin", "unlabeled_X.bin"],
        "unlabeled": ["unlabeled_X.bin"],
        "test": ["test_X.bin", "test_y.bin"],
    }[torchvision_split]


class Stl10Source(ImageSource):
    title = "STL-10"
    native_size = 96
    torchvision_splits = {"train": "train+unlabeled", "test": "test", "unlabeled": "unlabeled"}

    @property
    def folder(self) -> Path:
        return self.data_root / _STL10Files.base_folder

    def required_paths(self, split: str) -> list[Path]:
        return [self.folder / name for name in stl10_files(self.torchvision_splits[split])]

    def layout(self) -> str:
        return (
            "<data_root>/stl10_binary/ with train_X.bin, train_y.bin, unlabeled_X.bin, test_X.bin and test_y.bin "
            "(stl10_binary.tar.gz, the binary version, extracted)"
        )

    def fix(self) -> str:
        return self._downloadable_fix("stl10_binary")

    def download(self, split: str) -> None:
        _STL10Files(str(self.data_root), split=self.torchvision_splits[split], download=True)

    def open(self, split: str) -> ImageReader:
        dataset = _STL10Files(str(self.data_root), split=self.torchvision_splits[split])
        # torchvision has already turned the column-major files into (N, C, H, W).
        return ArrayImageReader(dataset.data, self.preprocessing().transform)

    def preprocessing(self) -> Preprocessing:
        steps = [] if self.resolution == self.native_size else [_resize_square(self.resolution)]
        return Preprocessing("STL-10 96x96 RGB", steps, (3, self.resolution, self.resolution))


class _SVHNFiles(torchvision.datasets.SVHN):
    """torchvision's SVHN reader with an existence check in place of the md5 sum."""

    def _check_integrity(self) -> bool:
        return os.path.isfile(os.path.join(self.root, self.filename))


class SvhnSource(ImageSource):
    title = "SVHN"
    native_size = 32
    torchvision_splits = {"train": ("train", "extra"), "test": ("test",)}

    @property
    def folder(self) -> Path:
        return self.data_root / "svhn"

    def required_paths(self, split: str) -> list[Path]:
        return [self.folder / _SVHNFiles.split_list[part][1] for part in self.torchvision_splits[split]]

    def layout(self) -> str:
        return (
            "<data_root>/svhn/ with train_32x32.mat and extra_32x32.mat (train) and test_32x32.mat (test), "
            "the cropped-digits format"
        )

    def fix(self) -> str:
        return (
            "set data_root to the folder whose svhn subfolder contains the .mat files, "
            "or set download: true to let torchvision download them into <data_root>/svhn"
        )

    def download(self, split: str) -> None:
        for part, path in zip(self.torchvision_splits[split], self.required_paths(split)):
            if not path.exists():
                _SVHNFiles(str(self.folder), split=part, download=True)

    def open(self, split: str) -> ImageReader:
        transform = self.preprocessing().transform
        readers = []
        for part in self.torchvision_splits[split]:
            logger.info("reading SVHN %s from %s", part, self.folder)
            dataset = _SVHNFiles(str(self.folder), split=part)
            readers.append(ArrayImageReader(dataset.data, transform))
        return readers[0] if len(readers) == 1 else ConcatenatedReader(readers)

    def preprocessing(self) -> Preprocessing:
        steps = [] if self.resolution == self.native_size else [_resize_square(self.resolution)]
        return Preprocessing("SVHN 32x32 RGB", steps, (3, self.resolution, self.resolution))


class MnistSource(ImageSource):
    title = "MNIST"
    native_size = 28
    file_prefixes = {"train": "train", "test": "t10k"}

    @property
    def folder(self) -> Path:
        return self.data_root / "MNIST" / "raw"

    def required_paths(self, split: str) -> list[Path]:
        return [self.folder / f"{self.file_prefixes[split]}-images-idx3-ubyte"]

    def layout(self) -> str:
        return (
            "<data_root>/MNIST/raw/ with train-images-idx3-ubyte (train) and t10k-images-idx3-ubyte (test), "
            "the idx files uncompressed (gunzip the .gz files)"
        )

    def fix(self) -> str:
        return self._downloadable_fix("MNIST/raw")

    def download(self, split: str) -> None:
        torchvision.datasets.MNIST(str(self.data_root), train=split == "train", download=True)

    def open(self, split: str) -> ImageReader:
        images = read_image_file(str(self.required_paths(split)[0]))
        return ArrayImageReader(images.numpy()[:, None], self.preprocessing().transform)

    def preprocessing(self) -> Preprocessing:
        padded = self.native_size + 2 * MNIST_PADDING
        steps = [(f"zero-pad {MNIST_PADDING} px to {padded}x{padded}", transforms.Pad(MNIST_PADDING, fill=0))]
        if self.resolution != padded:
            steps.append(_resize_square(self.resolution))
        return Preprocessing("MNIST 28x28 grayscale", steps, (1, self.resolution, self.resolution))


class CelebaSource(ImageSource):
    title = "CelebA"
    partition_codes = {"train": "0", "valid": "1", "test": "2"}

    @property
    def folder(self) -> Path:
        return self.data_root / torchvision.datasets.CelebA.base_folder

    @property
    def partition_file(self) -> Path:
        return self.folder / "list_eval_partition.txt"

    @property
    def image_folder(self) -> Path:
        return self.folder / "img_align_celeba"

    def required_paths(self, split: str) -> list[Path]:
        return [self.image_folder, self.partition_file]

    def missing_paths(self, split: str) -> list[Path]:
        missing = super().missing_paths(split)
        if missing:
            return missing
        # A half-extracted zip leaves the folder without some images: test
        # the first and the last image of the split.
        names = self.file_names(split)
        if not names:
            return [self.image_folder / f"<images of the {split} split listed in list_eval_partition.txt>"]
        return _missing([self.image_folder / names[0], self.image_folder / names[-1]])

    def file_names(self, split: str) -> list[str]:
        """Return the image file names of ``split``, in the order of list_eval_partition.txt."""
        with open(self.partition_file, newline="") as handle:
            rows = [row for row in csv.reader(handle, delimiter=" ", skipinitialspace=True) if row]
        if split == "all":
            return [row[0] for row in rows]
        code = self.partition_codes[split]
        return [row[0] for row in rows if row[1] == code]

    def layout(self) -> str:
        return (
            "<data_root>/celeba/img_align_celeba/ with the 202,599 aligned faces 000001.jpg .. 202599.jpg "
            "(img_align_celeba.zip extracted) and <data_root>/celeba/list_eval_partition.txt"
        )

    def fix(self) -> str:
        return (
            "set data_root to the folder that contains celeba/, or set download: true to let torchvision "
            "download it from Google Drive (that needs the gdown package and often fails on the Drive's "
            "download quota; then download img_align_celeba.zip and list_eval_partition.txt by hand from "
            "the CelebA page and extract them as above)"
        )

    def check_download_possible(self) -> None:
        try:
            import gdown  # noqa: F401
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "downloading CelebA through torchvision needs the gdown package, which is not installed: "
                f"pip install gdown, or put the files under {str(self.folder)!r} by hand ({self.layout()})",
                name="gdown",
            ) from error

    def download(self, split: str) -> None:
        self.check_download_possible()
        torchvision.datasets.CelebA(str(self.data_root), split="all", target_type=[], download=True)

    def open(self, split: str) -> ImageReader:
        paths = [self.image_folder / name for name in self.file_names(split)]
        return FileImageReader(paths, "RGB", self.preprocessing().transform)

    def preprocessing(self) -> Preprocessing:
        crop = self.settings["center_crop"]
        steps = [(f"center crop {crop}x{crop}", transforms.CenterCrop(crop))]
        if self.resolution != crop:
            steps.append(_resize_square(self.resolution))
        return Preprocessing("CelebA aligned 178x218 RGB", steps, (3, self.resolution, self.resolution))


class LsunSource(ImageSource):
    """One LSUN category, from its lmdb database or a folder of exported images."""

    categories = {"lsun-bedroom": "bedroom", "lsun-church": "church_outdoor"}

    @property
    def title(self) -> str:
        return f"LSUN {self.category}"

    @property
    def category(self) -> str:
        return self.categories[self.name]

    @property
    def folder(self) -> Path:
        return self.data_root / "lsun"

    def database(self, split: str) -> Path:
        return self.folder / f"{self.category}_{split}_lmdb"

    def export_folder(self, split: str) -> Path:
        return self.folder / f"{self.category}_{split}"

    def required_paths(self, split: str) -> list[Path]:
        if self.database(split).exists():
            return [self.database(split) / "data.mdb"]
        return [self.export_folder(split)]

    def missing_paths(self, split: str) -> list[Path]:
        if self.database(split).exists():
            missing = _missing([self.database(split) / "data.mdb"])
            if not missing:
                require_lmdb(self.database(split))
            return missing
        folder = self.export_folder(split)
        if not folder.is_dir():
            return [self.database(split), folder]
        if _first_image_file(folder) is None:
            return [folder / f"<image files: {', '.join(IMG_EXTENSIONS)}>"]
        return []

    def layout(self) -> str:
        return (
            f"either the lmdb database <data_root>/lsun/{self.category}_train_lmdb/ (data.mdb and lock.mdb, "
            f"from {self.category}_train_lmdb.zip of the LSUN release; read with the lmdb package) or a folder "
            f"of exported images <data_root>/lsun/{self.category}_train/ at any depth; the val split likewise "
            f"as {self.category}_val_lmdb/ or {self.category}_val/"
        )

    def fix(self) -> str:
        return (
            "torchvision cannot download LSUN: download the category's lmdb zip from the LSUN project "
            "by hand, unzip it under <data_root>/lsun and pip install lmdb, or export its images to the "
            "folder above; then set data_root to the folder that contains lsun/"
        )

    def open(self, split: str) -> ImageReader:
        transform = self.preprocessing().transform
        database = self.database(split)
        if database.exists():
            require_lmdb(database)
            # torchvision's LSUNClass pickles the list of lmdb keys to a file
            # "_cache_<letters of the path>" in the working directory, and
            # reuses that file on the next load. Keep it next to the database
            # (or in the temporary folder if that is read-only), not in the
            # folder the pipeline runs in.
            cache_folder = self.folder if os.access(self.folder, os.W_OK) else Path(tempfile.gettempdir())
            logger.info("opening %s (the first load lists every key, which takes minutes for bedroom)", database)
            with contextlib.chdir(cache_folder):
                dataset = torchvision.datasets.LSUN(
                    str(self.folder.resolve()), classes=[f"{self.category}_{split}"], transform=transform
                )
            return DatasetImageReader(dataset)
        return FileImageReader(_image_files(self.export_folder(split)), "RGB", transform)

    def preprocessing(self) -> Preprocessing:
        steps = _resize_and_crop(self.resolution)
        return Preprocessing(f"LSUN {self.category} RGB (shorter side 256)", steps, (3, self.resolution, self.resolution))


def require_lmdb(database: Path) -> None:
    """Raise ``ModuleNotFoundError`` with the fix if the lmdb package is missing."""
    try:
        import lmdb  # noqa: F401
    except ImportError as error:
        raise ModuleNotFoundError(
            f"the LSUN database {str(database)!r} needs the lmdb package, which is not installed: "
            "pip install lmdb, or export the images to a folder next to it "
            f"({database.name.removesuffix('_lmdb')}/) and remove the _lmdb folder",
            name="lmdb",
        ) from error


class ImageFolderSource(ImageSource):
    title = "image folder"

    def __init__(self, settings: dict):
        super().__init__(settings)
        self._files = None

    @property
    def folder(self) -> Path:
        return Path(self.settings["path"])

    def required_paths(self, split: str) -> list[Path]:
        return [self.folder]

    def missing_paths(self, split: str) -> list[Path]:
        if self.folder.is_file():
            raise DatasetNotFoundError(
                f"path {str(self.folder)!r} is a file, not a folder of images; set path to a folder, "
                "or use source: npz for an .npz file"
            )
        if not self.folder.is_dir():
            return [self.folder]
        if _first_image_file(self.folder) is None:
            return [self.folder / f"<image files: {', '.join(IMG_EXTENSIONS)}>"]
        return []

    def layout(self) -> str:
        return f"a folder of images ({', '.join(IMG_EXTENSIONS)}) at any depth, such as one subfolder per class"

    def fix(self) -> str:
        return "set path to the folder of images"

    def files(self) -> list[Path]:
        """List the image files once, sorted by path."""
        if self._files is None:
            missing = self.missing_paths("train")
            if missing:
                raise self.not_found_error("train", missing)
            self._files = _image_files(self.folder)
        return self._files

    def native_resolution(self) -> int:
        """Return the shorter side of the first image in path order."""
        with Image.open(self.files()[0]) as image:
            return min(image.size)

    def open(self, split: str) -> ImageReader:
        return FileImageReader(self.files(), "RGB", self.preprocessing().transform)

    def preprocessing(self) -> Preprocessing:
        resolution = self.resolution or self.native_resolution()
        return Preprocessing(f"images of {self.folder}", _resize_and_crop(resolution), (3, resolution, resolution))


class NpzSource(ImageSource):
    title = ".npz file"

    def __init__(self, settings: dict):
        super().__init__(settings)
        self._pixels = None

    @property
    def file(self) -> Path:
        return Path(self.settings["path"])

    def required_paths(self, split: str) -> list[Path]:
        return [self.file]

    def layout(self) -> str:
        return (
            "a .npz file with one array (or the array named npz_key) of uint8 pixels, or of float images "
            "in [-1, 1], shaped (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}"
        )

    def fix(self) -> str:
        return "set path to the .npz file"

    def pixels(self) -> np.ndarray:
        """Load the array once, as uint8 (N, C, H, W)."""
        if self._pixels is None:
            missing = self.missing_paths("train")
            if missing:
                raise self.not_found_error("train", missing)
            self._pixels = load_npz_pixels(self.file, self.settings["npz_key"])
        return self._pixels

    def open(self, split: str) -> ImageReader:
        return ArrayImageReader(self.pixels(), self.preprocessing().transform)

    def preprocessing(self) -> Preprocessing:
        _, channels, height, width = self.pixels().shape
        resolution = self.resolution or min(height, width)
        native = f"{self.file.name} {height}x{width} {'grayscale' if channels == 1 else 'RGB'}"
        steps = [] if height == width == resolution else _resize_and_crop(resolution)
        return Preprocessing(native, steps, (channels, resolution, resolution))


class InvalidImageArray(ValueError):
    """A .npz array that is not a stack of images in a known layout and range."""


def load_npz_pixels(path: Path, key: str | None) -> np.ndarray:
    """Read the images of a ``.npz`` file as uint8 (N, C, H, W).

    Float arrays are taken as images in [-1, 1] and mapped to uint8 by
    round(127.5 * x + 127.5), the metrics' image policy.

    Raises:
        InvalidImageArray: for a missing key, another layout, dtype or range.
        OSError: if the file cannot be read as ``.npz``.
    """
    try:
        loaded = np.load(path)
    except (ValueError, zipfile.BadZipFile, EOFError) as error:
        raise OSError(f"{str(path)!r} cannot be read as .npz ({error}); replace the file") from error
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise InvalidImageArray(f"{str(path)!r} is a .npy array, not a .npz archive; save it with numpy.savez")

    with loaded as archive:
        names = list(archive.keys())
        if key is None and len(names) != 1:
            raise InvalidImageArray(f"{str(path)!r} contains arrays {names}; set npz_key to the one to use")
        key = names[0] if key is None else key
        if key not in names:
            raise InvalidImageArray(f"{str(path)!r} has no array {key!r}; it contains {names}")
        try:
            array = archive[key]
        except (ValueError, zipfile.BadZipFile, EOFError) as error:
            raise OSError(f"array {key!r} of {str(path)!r} cannot be read ({error}); replace the file") from error

    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1] in (1, 3):
        pass
    elif array.ndim == 4 and array.shape[3] in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    else:
        raise InvalidImageArray(
            f"{path}[{key}]: expected images of shape (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {{1, 3}}, "
            f"got {array.shape}"
        )
    if len(array) == 0:
        raise InvalidImageArray(f"{path}[{key}] contains no images")

    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(array.min()), float(array.max())
        if low < -1.05 or high > 1.05:
            raise InvalidImageArray(
                f"{path}[{key}]: float images must lie in [-1, 1], got values in [{low:.3g}, {high:.3g}]; "
                "store uint8 pixels or rescale"
            )
        if low >= 0.0:
            logger.warning(
                "%s[%s]: float images have no negative value (range [%.3g, %.3g]); they are read as images in "
                "[-1, 1], so if they are in [0, 1], rescale them to 2 * x - 1 or store uint8 pixels",
                path, key, low, high,
            )
        return np.round(127.5 * np.clip(array, -1.0, 1.0) + 127.5).astype(np.uint8)
    raise InvalidImageArray(f"{path}[{key}]: expected uint8 or float images, got dtype {array.dtype}")


SOURCE_CLASSES = {
    "cifar10": Cifar10Source,
    "stl10": Stl10Source,
    "celeba": CelebaSource,
    "lsun-bedroom": LsunSource,
    "lsun-church": LsunSource,
    "mnist": MnistSource,
    "svhn": SvhnSource,
    "imagefolder": ImageFolderSource,
    "npz": NpzSource,
}


def build_source(settings: dict) -> ImageSource:
    """Return the ``ImageSource`` of resolved settings (see ``resolve_image_settings``)."""
    return SOURCE_CLASSES[settings["source"]](settings)
