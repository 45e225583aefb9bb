"""Inception weights files: where they come from, how they are checked, random stand-ins.

torch-fidelity and clean-fid each read their own file, in different formats:

- torch-fidelity 0.4.0 (``inception-v3-compat``): a ``torch.save`` state dict,
  ``weights-inception-2015-12-05-6726825d.pth``. torch.hub names files
  ``<name>-<first 8 hex digits of the sha256>.<ext>``, so its sha256 starts
  with ``6726825d``.
- clean-fid 0.1.35: a TorchScript archive, ``inception-2015-12-05.pt``
  (NVIDIA's export for StyleGAN2-ADA). clean-fid itself checks no hash.

Nothing here downloads. A missing file raises ``InceptionWeightsError``
naming the file, its expected sha256, the URL and where to put it. The
``write_random_*`` functions write files of random values in the same
formats, for tests and benchmarks on machines without the real weights.
Numbers measured with them mean nothing, and every protocol records whether
its weights are the published file (``check_published_weights``): by the
published sha256 prefix for torch-fidelity and by a marker inside the
clean-fid stand-in, because clean-fid publishes no hash.
"""

import hashlib
import io
import logging
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from nats.atomic_files import atomic_write_bytes

logger = logging.getLogger(__name__)


# Name of the extra file that marks a TorchScript archive written by
# write_random_cleanfid_weights as a random stand-in.
RANDOM_STAND_IN_MARKER = "nats_bench_random_stand_in"


class InceptionWeightsError(ValueError):
    """An Inception weights file that is missing or in the wrong format."""


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file and how to obtain it.

    Attributes:
        library: the library that reads the file.
        file_name: the file name the library uses.
        url: where the library would download it from.
        sha256_prefix: leading hex digits of the file's sha256 that are
            known from the file name, or ``None`` where nothing is published.
        config_key: the config key that takes the file path.
    """

    library: str
    file_name: str
    url: str
    sha256_prefix: str | None
    config_key: str


TORCH_FIDELITY_WEIGHTS = WeightsFile(
    library="torch-fidelity",
    file_name="weights-inception-2015-12-05-6726825d.pth",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d",
    config_key="evaluation.inception_weights.torch_fidelity",
)

CLEANFID_WEIGHTS = WeightsFile(
    library="clean-fid",
    file_name="inception-2015-12-05.pt",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
    sha256_prefix=None,
    config_key="evaluation.inception_weights.clean_fid",
)


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torch_hub_checkpoint_path(weights: WeightsFile) -> Path:
    """Return where torch.hub keeps a downloaded copy of ``weights``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights.file_name


def missing_weights_message(weights: WeightsFile, given_path: Path | None) -> str:
    """Explain which weights file is needed, its sha256 and where to put it."""
    if weights.sha256_prefix is None:
        expected = f"{weights.library} publishes no sha256 for it; each result records the sha256 of the file used"
    else:
        expected = f"its sha256 starts with {weights.sha256_prefix} (the hash in its file name)"
    where = f"the file {str(given_path)!r} does not exist" if given_path is not None else (
        f"{weights.config_key} is not set and {str(torch_hub_checkpoint_path(weights))!r} does not exist"
    )
    return (
        f"{weights.library} Inception weights not found: {where}. This project never downloads them. "
        f"Download {weights.file_name} from {weights.url} on a machine with network access ({expected}), "
        f"copy it to this machine and set {weights.config_key} to its path"
        + (f", or put it at {str(torch_hub_checkpoint_path(weights))!r}" if weights is TORCH_FIDELITY_WEIGHTS else "")
    )


def find_weights(weights: WeightsFile, path: str | Path | None) -> Path:
    """Find a weights file without reading it.

    Args:
        weights: which published file is meant.
        path: the configured path; ``None`` looks in the torch.hub cache
            (torch-fidelity) and fails for clean-fid, whose default location
            under ``/tmp`` would trigger a download.

    Returns:
        The path of the file.

    Raises:
        InceptionWeightsError: if the file does not exist.
    """
    if path is None and weights is TORCH_FIDELITY_WEIGHTS and torch_hub_checkpoint_path(weights).is_file():
        path = torch_hub_checkpoint_path(weights)
        given = None
    else:
        given = None if path is None else Path(path)
    if path is None or not Path(path).is_file():
        raise InceptionWeightsError(missing_weights_message(weights, given))
    return Path(path)


def resolve_weights(weights: WeightsFile, path: str | Path | None) -> tuple[Path, str]:
    """Find a weights file and hash it.

    Args:
        weights: which published file is meant.
        path: the configured path, as for ``find_weights``.

    Returns:
        The path and the file's sha256. A file that is not the published one
        (``check_published_weights`` returns ``False``: a random stand-in, or
        a sha256 without the published prefix) is logged as a warning but
        accepted.

    Raises:
        InceptionWeightsError: if the file does not exist.
    """
    path = find_weights(weights, path)
    sha256 = file_sha256(path)
    published, reason = check_published_weights(weights, Path(path), sha256)
    if published is False:
        logger.warning(
            "%s weights %s (sha256 %s) are not the published file: %s; "
            "numbers measured with them are not comparable with published ones",
            weights.library, path, sha256, reason,
        )
    return Path(path), sha256


def is_random_stand_in(path: Path) -> bool:
    """Tell whether a weights file is a random stand-in written by this module.

    Only the clean-fid stand-in carries the marker; the torch-fidelity one is
    recognised by its sha256 instead (see ``check_published_weights``).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(name.endswith(f"/extra/{RANDOM_STAND_IN_MARKER}") for name in names)


def check_published_weights(weights: WeightsFile, path: Path, sha256: str) -> tuple[bool | None, str]:
    """Tell whether a weights file is the published one, and on what grounds.

    Args:
        weights: which published file is meant.
        path: the file, checked for the random stand-in marker.
        sha256: the file's sha256.

    Returns:
        ``True`` or ``False``, or ``None`` where nothing published decides it
        (clean-fid's file has no published hash), and the reason in words,
        which every protocol records as ``weights_check``.
    """
    if is_random_stand_in(path):
        return False, "random stand-in written by nats.metrics.weights"
    if weights.sha256_prefix is None:
        return None, f"{weights.library} publishes no sha256 for {weights.file_name}, so the file is not checked"
    # Only the leading hex digits are published (in the torch.hub file name),
    # so a different file passes by chance with probability 16 ** -8.
    if sha256.startswith(weights.sha256_prefix):
        return True, f"sha256 starts with {weights.sha256_prefix}, the published prefix in the file name"
    return False, f"sha256 does not start with {weights.sha256_prefix}, the published prefix in the file name"


def _atomic_save(obj, path: Path, save) -> None:
    # Serialised through memory: torch archives record the name of the file
    # they are saved to, and a temporary name would change the sha256.
    buffer = io.BytesIO()
    save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def write_random_torch_fidelity_weights(path: Path, seed: int = 0) -> Path:
    """Write a state dict of torch-fidelity's InceptionV3 with random values.

    The keys, shapes and dtypes are those the real file has. Convolution and
    linear weights are drawn with the He standard deviation sqrt(2 / fan_in)
    and batch-norm statistics near (0, 1), so activations neither vanish nor
    explode through the 94 layers.

    Args:
        path: file to write.
        seed: seed of the random values.

    Returns:
        ``path``.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _ArchitectureOnly(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None

    with tempfile.TemporaryDirectory() as folder:
        empty_path = Path(folder) / "empty.pth"
        torch.save({}, empty_path)
        template = _ArchitectureOnly("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty_path))
    state_dict = template.state_dict()

    generator = torch.Generator().manual_seed(seed)
    for name, tensor in state_dict.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name.endswith("running_var") or (".bn." in name and name.endswith("weight")):
            tensor.copy_(torch.empty_like(tensor).uniform_(0.8, 1.2, generator=generator))
        elif name.endswith("running_mean") or name.endswith("bias"):
            tensor.copy_(0.01 * torch.randn(tensor.shape, generator=generator))
        else:
            fan_in = tensor[0].numel()
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
    _atomic_save(state_dict, path, torch.save)
    return Path(path)


class _RandomCleanFidLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, kernel_size=13, stride=13)
        self.project = nn.Conv2d(16, 2048, kernel_size=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.project(F.relu(self.conv(x))))


class _RandomCleanFidInception(nn.Module):
    """The interface of clean-fid's TorchScript Inception: ``layers`` and ``forward(img, return_features)``."""

    def __init__(self):
        super().__init__()
        self.layers = _RandomCleanFidLayers()

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = F.interpolate(img.to(torch.float32), size=(299, 299), mode="bilinear", align_corners=False)
        x = (x - 128.0) / 128.0
        return self.layers(x).reshape(x.shape[0], 2048)


def write_random_cleanfid_weights(path: Path, seed: int = 0) -> Path:
    """Write a TorchScript archive with the interface of clean-fid's Inception, random values.

    NOTE: the real file's network is Inception-v3; this stand-in has the same
    calls (``base(x, return_features=True)``, ``base.layers(x)``), input range
    and 2048 outputs but a two-layer network, so that tests run fast. The
    archive contains the extra file ``RANDOM_STAND_IN_MARKER``, so that
    ``check_published_weights`` reports it as not published.

    Args:
        path: file to write.
        seed: seed of the random values.

    Returns:
        ``path``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = torch.jit.script(_RandomCleanFidInception().eval())
    marker = {RANDOM_STAND_IN_MARKER: b"random values, not the published Inception weights"}
    _atomic_save(module, path, lambda obj, handle: torch.jit.save(obj, handle, _extra_files=marker))
    return Path(path)
