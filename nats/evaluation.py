"""Evaluate every checkpoint of a trained run under its dataset's protocol.

A run folder, as written by the training, contains ``config.yaml`` (the
resolved run config) and ``checkpoints/kimg*.pt``. For every checkpoint and
every sample mode of the method, ``evaluate_run`` draws the protocol's number
of samples with the seed ``training seed + GENERATION_SEED_OFFSET``, scores
them (``nats.metrics.digits`` or ``nats.metrics.mixtures``) and writes one
JSON line per metric value (``nats.metrics.records``). It also keeps the
samples of the final checkpoint for sample grids and scatter plots.

Image runs whose config selects paper-scale protocols
(``evaluation.images.protocols``: ``inception``, ``clean``, ``legacy``) are
also scored under those, at the final checkpoint or at every one.
``evaluate_images`` scores an image set from disk (``.npz`` or a folder)
under the protocols a config selects, or those named, with the same FID
cross-check between torch-fidelity and clean-fid.
"""

import importlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from nats.atomic_files import atomic_write
from nats.data import MIXTURES
from nats.methods.base import Method
from nats.metrics.digits import check_digits_protocol, evaluate_digits
from nats.metrics.inception import MIN_FID_SAMPLES, check_sample_counts, evaluate_inception
from nats.metrics.mixtures import evaluate_mixture
from nats.metrics.records import MetricValue, diverged_records, make_records, write_records
from nats.metrics.references import BUNDLED_REFERENCES, load_reference
from nats.metrics.weights import CLEANFID_WEIGHTS, TORCH_FIDELITY_WEIGHTS, find_weights

logger = logging.getLogger(__name__)

GENERATION_SEED_OFFSET = 10000
DIGITS_IMAGES_SAVED = 100
# Generated images of an image dataset's final checkpoint kept for the plots.
IMAGES_SAVED = 100


class EvaluationError(ValueError):
    """A run that cannot be evaluated as requested."""


@dataclass
class ProtocolScorer:
    """The protocol of one run, ready to score samples.

    Attributes:
        name: ``digits`` or ``mixtures``.
        num_samples: samples to draw per checkpoint and sample mode.
        num_saved: samples of the final checkpoint kept in the samples file;
            ``None`` keeps all of them.
        score: maps samples to metric values and the protocol.
    """

    name: str
    num_samples: int
    num_saved: int | None
    score: Callable[[torch.Tensor], tuple[list[MetricValue], dict]]


def make_scorer(run_config: dict, classifier_path: Path | None = None, device: str = "cpu") -> ProtocolScorer | None:
    """Build the scorer of a run's domain protocol and check its settings.

    Args:
        run_config: a resolved run config (``nats.config.resolve_run_config``).
        classifier_path: digits classifier weights; required for digits runs.
        device: where the digits classifier runs.

    Returns:
        The scorer, or ``None`` for an image dataset, which only the image
        protocols score (``make_image_scorers``).

    Raises:
        EvaluationError: if a digits run has no classifier or the dataset
            has no protocol.
        SampleCountError, ClassifierError: from the protocol checks.
    """
    dataset = run_config["dataset"]["name"]
    settings = run_config["evaluation"]
    protocol_name = settings.get("protocol", "digits" if dataset == "digits" else "mixtures")

    if protocol_name == "digits":
        if classifier_path is None:
            raise EvaluationError(
                f"run on {dataset!r} uses the digits protocol, which needs the classifier weights; "
                "pass --classifier PATH (build one with nats-bench classifier)"
            )
        classifier = check_digits_protocol(settings, Path(classifier_path))
        run_resolution = run_config["dataset"].get("resolution")
        if run_resolution is not None and run_resolution != classifier.resolution:
            raise EvaluationError(
                f"the run trains on {run_resolution}px digits but classifier {str(classifier_path)!r} was "
                f"built at {classifier.resolution}px; build a classifier at {run_resolution}px"
            )
        return ProtocolScorer(
            name="digits",
            num_samples=settings["num_generated"],
            num_saved=DIGITS_IMAGES_SAVED,
            score=lambda images: evaluate_digits(images, Path(classifier_path), settings, device=device),
        )

    if protocol_name == "mixtures":
        if dataset not in MIXTURES:
            raise EvaluationError(
                f"dataset {dataset!r} has no mixture centres; the mixtures protocol covers {', '.join(MIXTURES)}"
            )
        make_centers, std = MIXTURES[dataset]
        centers = make_centers()
        return ProtocolScorer(
            name="mixtures",
            num_samples=settings["num_samples"],
            num_saved=None,
            score=lambda points: evaluate_mixture(points, centers, std, settings, reference=dataset),
        )

    if protocol_name == "images":
        if not settings.get("images"):
            raise EvaluationError(
                f"dataset {dataset!r} is scored by the image protocols only, and none is selected; "
                "list at least one of inception, clean, legacy in evaluation.images.protocols"
            )
        return None

    raise EvaluationError(f"unknown evaluation protocol {protocol_name!r}; expected 'digits', 'mixtures' or 'images'")


def make_image_scorer(
    name: str,
    settings: dict,
    image_settings: dict,
    resolution: int | None,
    device: str = "cpu",
    cache_dir: Path | None = None,
    min_fid_samples: int = MIN_FID_SAMPLES,
    num_images: int | None = None,
    dataset_settings: dict | None = None,
) -> ProtocolScorer:
    """Build the scorer of one paper-scale image protocol and check its counts and weights.

    The reference images are loaded and the weights file is found here, so
    that too few images or a missing file are rejected before any sample is
    drawn or any feature computed.

    Args:
        name: ``inception``, ``clean`` or ``legacy``.
        settings: that protocol's resolved settings.
        image_settings: the resolved ``evaluation.images`` block, with
            ``inception_weights`` and ``cache_dir``.
        resolution: side of the run's images, for the digits reference.
        device: where the feature extractor runs.
        cache_dir: folder of cached real features; overrides
            ``image_settings["cache_dir"]``.
        min_fid_samples: minimum number of images per side for FID; only tests lower it.
        num_images: generated images at hand, when known before scoring (an
            image set from disk); ``None`` checks ``num_generated`` only.
        dataset_settings: the run's resolved dataset settings; a protocol
            whose ``reference`` is null compares against that dataset's
            ``reference_split``.

    Returns:
        The scorer.

    Raises:
        SampleCountError: for too few generated or real images.
        InceptionWeightsError: if the protocol's weights file is missing.
        EvaluationError: for an unknown protocol name.
    """
    if name not in ("inception", "clean", "legacy"):
        raise EvaluationError(f"unknown image protocol {name!r}; expected inception, clean or legacy")
    reference = settings["reference"]
    if reference is None:
        if dataset_settings is None:
            raise EvaluationError(
                f"evaluation.{name}.reference is null, which means the run's own dataset, but no dataset is known; "
                "set it to the path of a .npz file or image folder"
            )
        reference_images, reference_name, reference_path = load_dataset_reference(dataset_settings, settings["reference_split"])
    else:
        reference_images, reference_name = load_reference(reference, resolution)
        reference_path = None if reference in BUNDLED_REFERENCES else str(reference)
    metrics = tuple(settings["metrics"])
    num_images = settings["num_generated"] if num_images is None else num_images
    check_sample_counts(num_images, len(reference_images), settings, min_fid_samples, metrics, name)

    weights = image_settings["inception_weights"]
    cache_dir = cache_dir if cache_dir is not None else image_settings.get("cache_dir")
    cache_dir = None if cache_dir is None else Path(cache_dir)

    if name == "inception":
        weights_path = weights["torch_fidelity"]
        find_weights(TORCH_FIDELITY_WEIGHTS, weights_path)

        def score(images):
            return evaluate_inception(
                images, reference_images, settings, weights_path, reference_name=reference_name,
                reference_path=reference_path, device=device, cache_dir=cache_dir, min_fid_samples=min_fid_samples,
                metrics=metrics,
            )

    else:
        from nats.metrics.clean_fid import MODES, evaluate_cleanfid

        weights_path = weights["clean_fid"]
        find_weights(CLEANFID_WEIGHTS, weights_path)

        def score(images):
            return evaluate_cleanfid(
                images, reference_images, settings, weights_path, mode=MODES[name],
                reference_name=reference_name, reference_path=reference_path, device=device, cache_dir=cache_dir,
                min_fid_samples=min_fid_samples, metrics=metrics,
            )

    return ProtocolScorer(name=name, num_samples=settings["num_generated"], num_saved=None, score=score)


def make_image_scorers(
    run_config: dict,
    device: str = "cpu",
    cache_dir: Path | None = None,
    min_fid_samples: int = MIN_FID_SAMPLES,
) -> list[ProtocolScorer]:
    """Build the scorers of the image protocols a run config selects (none by default).

    Args:
        run_config: a resolved run config.
        device: where the feature extractors run.
        cache_dir: folder of cached real features (see ``make_image_scorer``).
        min_fid_samples: minimum number of images per side for FID; only tests lower it.

    Returns:
        One scorer per selected protocol, in the config's order.
    """
    image_settings = run_config["evaluation"].get("images")
    if not image_settings:
        return []
    resolution = run_config["dataset"].get("resolution")
    return [
        make_image_scorer(
            name, settings, image_settings, resolution, device, cache_dir, min_fid_samples,
            dataset_settings=run_config["dataset"],
        )
        for name, settings in image_settings["protocols"].items()
    ]


def load_dataset_reference(dataset_settings: dict, split: str) -> tuple[torch.Tensor, str, str]:
    """Load one split of a run's image dataset as the real side of an image protocol.

    Args:
        dataset_settings: the run's resolved dataset settings (with ``source``).
        split: the split to compare against, e.g. ``train``.

    Returns:
        Float images in [-1, 1] (the uint8 pixels map back bit for bit through
        the image adapter), the reference's name (``<dataset>-<split>-<side>px``)
        and its location (the data root, or the path of an image folder or .npz).

    Raises:
        EvaluationError: for a dataset that is not read from image files.
    """
    from nats.data import load_reference_images

    source = dataset_settings.get("source")
    if source is None:
        raise EvaluationError(
            f"dataset {dataset_settings.get('name')!r} is not read from image files, so it cannot be its own "
            "Inception reference; set evaluation.<protocol>.reference to a .npz file or image folder"
        )
    # NOTE: every evaluation job reads and hashes the whole split, even when
    # its features are cached: the cache key includes the pixels' sha256.
    pixels = load_reference_images(source, dataset_settings, split=split)
    name = f"{dataset_settings['name']}-{split}-{pixels.shape[-1]}px"
    location = dataset_settings.get("path") or dataset_settings.get("data_root")
    return pixels.float() / 127.5 - 1.0, name, str(location)


def evaluate_checkpoint(
    method: Method,
    run_config: dict,
    checkpoint: str,
    scorer: ProtocolScorer,
    generation_seed: int,
    image_scorers: list[ProtocolScorer] = (),
) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Score every sample mode of one loaded checkpoint.

    Args:
        method: the method with the checkpoint's weights and counters loaded.
        run_config: the resolved run config.
        checkpoint: checkpoint name, such as ``kimg000010``.
        scorer: the run's domain protocol, or ``None`` for an image dataset.
        generation_seed: seed of the latent draws, the same for every mode.
        image_scorers: paper-scale image protocols to apply as well; each
            draws its own number of samples with the same seed.

    Returns:
        The metric records and the drawn samples of ``scorer`` (for image
        datasets, the first ``IMAGES_SAVED`` samples of the first image
        protocol), by sample mode.
    """
    records = []
    samples_by_mode = {}
    scorers = [current for current in (scorer, *image_scorers) if current is not None]
    for mode in method.sample_modes:
        mode_records = []
        for current in scorers:
            logger.info(
                "evaluating %s at %s (%.1f kimg) under %s, sample mode %r: %d samples, seed %d",
                run_config["method"]["name"], checkpoint, method.kimg, current.name, mode, current.num_samples,
                generation_seed,
            )
            samples = method.sample(current.num_samples, seed=generation_seed, mode=mode)
            values, protocol = current.score(samples)
            protocol = {**protocol, "sample_mode": mode, "generation_seed": generation_seed}
            mode_records += make_records(
                values,
                config_name=run_config["config_name"],
                dataset=run_config["dataset"]["name"],
                method=run_config["method"]["name"],
                seed=run_config["training"]["seed"],
                checkpoint=checkpoint,
                kimg=method.kimg,
                d_steps=method.d_steps,
                g_steps=method.g_steps,
                sample_mode=mode,
                protocol=protocol,
            )
            if current is scorers[0]:
                # An image dataset has no domain scorer: the first image
                # protocol's samples feed the sample grids.
                samples_by_mode[mode] = samples if scorer is not None else samples[:IMAGES_SAVED].clone()
        if image_scorers:
            tolerance = run_config["evaluation"]["images"]["cross_check_tolerance"]
            mode_records = add_fid_cross_check(mode_records, tolerance)
        records += mode_records
    return records, samples_by_mode


def save_samples(samples_by_mode: dict[str, torch.Tensor], path: Path, num_saved: int | None) -> None:
    """Save samples as float32 arrays in an ``.npz`` file, one key per sample mode, atomically.

    Args:
        samples_by_mode: samples by sample mode.
        path: file to write.
        num_saved: keep the first ``num_saved`` samples of each mode;
            ``None`` keeps all.
    """
    arrays = {
        mode: samples[:num_saved].detach().cpu().numpy().astype(np.float32)
        for mode, samples in samples_by_mode.items()
    }
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def evaluate_run(
    run_dir: Path,
    out_path: Path,
    classifier_path: Path | None = None,
    samples_path: Path | None = None,
    device: str | None = None,
    cache_dir: Path | None = None,
    min_fid_samples: int = MIN_FID_SAMPLES,
    evaluation: dict | None = None,
) -> list[dict]:
    """Evaluate every checkpoint of a run and write its metric records.

    Args:
        run_dir: folder of the trained run.
        out_path: metrics file to write, one JSON line per value, written
            atomically once every checkpoint is scored.
        classifier_path: digits classifier weights; required for digits runs.
        samples_path: where the final checkpoint's samples go (default
            ``run_dir / "samples.npz"``): the first 100 images for digits,
            all points for mixtures, one float32 array per sample mode.
        device: where sampling and the digits classifier run; ``None`` uses
            the run's training device (``auto`` picks CUDA when available).
        cache_dir: folder of cached real features of the image protocols;
            ``None`` uses ``evaluation.images.cache_dir`` of the run config.
        min_fid_samples: minimum number of images per side for FID; only tests lower it.
        evaluation: the resolved ``evaluation`` block to score with; ``None``
            uses the one in the run's ``config.yaml``. The pipeline passes it,
            so that a changed evaluation setting reruns the evaluation only.

    Returns:
        The records written, in checkpoint order, then sample mode, then
        metric.

    A run whose ``provenance.json`` has ``status: diverged`` also gets, at
    the kimg where it diverged, one record per metric of its last snapshot
    with value NaN and status ``diverged``. When the provenance has
    ``wall_s``, every record carries it, for the tables' cost columns.

    Raises:
        EvaluationError: if the run has no checkpoints or a digits run has
            no classifier.
    """
    runs = importlib.import_module("nats.runs")
    run_dir = Path(run_dir)
    samples_path = run_dir / "samples.npz" if samples_path is None else Path(samples_path)

    run_config = runs.read_run_config(run_dir)
    if evaluation is not None:
        run_config = {**run_config, "evaluation": evaluation}
    if "evaluation" not in run_config:
        raise EvaluationError(
            f"{str(run_dir / 'config.yaml')!r} has no evaluation block; pass the resolved one "
            "(nats-bench evaluate --evaluation JSON, as printed under 'evaluation' by nats-bench resolve)"
        )
    if device is None:
        device = "cuda" if run_config["training"]["device"] in ("cuda", "auto") and torch.cuda.is_available() else "cpu"
    scorer = make_scorer(run_config, classifier_path, device=device)
    image_scorers = make_image_scorers(run_config, device=device, cache_dir=cache_dir, min_fid_samples=min_fid_samples)
    checkpoints = runs.list_checkpoints(run_dir)
    if not checkpoints:
        raise EvaluationError(f"no checkpoints found in {str(run_dir / 'checkpoints')!r}; train the run first")
    generation_seed = run_config["training"]["seed"] + GENERATION_SEED_OFFSET
    every_checkpoint = bool(image_scorers) and run_config["evaluation"]["images"]["checkpoints"] == "all"
    if scorer is None and not every_checkpoint:
        # Only the image protocols score this run, and only its final checkpoint.
        checkpoints = checkpoints[-1:]
    protocol_names = [current.name for current in (scorer, *image_scorers) if current is not None]
    logger.info(
        "evaluating %d checkpoints of %s under %s", len(checkpoints), run_dir, ", ".join(protocol_names)
    )

    provenance_path = run_dir / "provenance.json"
    provenance = json.loads(provenance_path.read_text()) if provenance_path.is_file() else {}

    records = []
    checkpoint_records = []
    final_samples = {}
    for index, checkpoint_path in enumerate(tqdm(checkpoints, desc="checkpoints", unit="checkpoint")):
        is_final = index == len(checkpoints) - 1
        method = runs.load_method(run_dir, checkpoint_path, device=device)
        checkpoint_records, final_samples = evaluate_checkpoint(
            method, run_config, Path(checkpoint_path).stem, scorer, generation_seed,
            image_scorers if is_final or every_checkpoint else [],
        )
        records += checkpoint_records

    if provenance.get("status") == "diverged":
        diverged_kimg = float(provenance.get("kimg", checkpoint_records[0]["kimg"]))
        logger.warning(
            "run %s diverged at %.2f kimg; its final records are NaN with status 'diverged'", run_dir, diverged_kimg
        )
        records += diverged_records(
            checkpoint_records, diverged_kimg, provenance.get("d_steps", 0), provenance.get("g_steps", 0),
            checkpoint=f"diverged{diverged_kimg:g}kimg",
        )
    if "wall_s" in provenance:
        records = [{**record, "wall_s": float(provenance["wall_s"])} for record in records]

    save_samples(final_samples, samples_path, scorer.num_saved if scorer is not None else IMAGES_SAVED)
    write_records(records, out_path)
    logger.info("wrote %d metric records to %s and final samples to %s", len(records), out_path, samples_path)
    return records


def evaluate_images(
    images_path: Path,
    out_path: Path,
    protocol_names: str | list[str] | None,
    evaluation_config: dict,
    *,
    config_name: str = "images",
    dataset: str | None = None,
    label: str | None = None,
    seed: int | None = None,
    sample_mode: str | None = None,
    generation_seed: int | None = None,
    device: str = "cpu",
    cache_dir: Path | None = None,
    min_fid_samples: int = MIN_FID_SAMPLES,
    dataset_settings: dict | None = None,
) -> list[dict]:
    """Score an image set from disk under image protocols and write its records.

    Every selected protocol is checked (counts, reference, weights) before
    any feature is computed. When both ``inception`` and ``legacy`` compute
    FID, the two are cross-checked as in ``evaluate_run``. Values that are
    not given (dataset, seed, sample mode) and the training counters (kimg,
    D and G steps), which an image set does not have, are written as null.

    Args:
        images_path: a ``.npz`` file or a folder of images (see
            ``nats.metrics.references.load_image_set``).
        out_path: metrics file to write, one JSON line per value.
        protocol_names: one protocol name or a list of them (``inception``,
            ``clean``, ``legacy``); ``None`` runs the protocols listed in
            ``evaluation_config["images"]["protocols"]``.
        evaluation_config: the ``evaluation`` block of a pipeline config,
            whose settings of each protocol apply.
        config_name: recorded as the records' config name.
        dataset: dataset the images imitate; ``digits`` also selects the
            bundled digits as the reference of protocols without one.
        label: recorded as the method name (default: the file or folder name).
        seed: training seed of the model that drew the images.
        sample_mode: how the images were drawn (``generator``, ``refined``).
        generation_seed: seed of the latent draws of the images.
        device: where the feature extractors run.
        cache_dir: folder of cached real features; ``None`` uses
            ``evaluation.images.cache_dir``.
        min_fid_samples: minimum number of images per side for FID; only tests lower it.
        dataset_settings: the resolved settings of ``dataset`` when it is an
            image dataset of the config; protocols without a reference then
            compare against its ``reference_split``.

    Returns:
        The records written, protocol by protocol in the order selected.

    Raises:
        ProtocolSettingsError: for a bad setting, no selected protocol, or a
            protocol without a reference.
        ImageRangeError: for images that are not in [-1, 1] or uint8.
        SampleCountError: for too few generated or real images.
        InceptionWeightsError: for a missing weights file.
    """
    from nats.metrics.adapter import ImageRangeError, check_float_images
    from nats.metrics.protocols import resolve_image_set_protocols
    from nats.metrics.references import load_image_set

    if isinstance(protocol_names, str):
        protocol_names = [protocol_names]
    image_settings = resolve_image_set_protocols(
        evaluation_config or {}, dataset, protocol_names, image_dataset=dataset_settings is not None
    )

    images = load_image_set(images_path)
    try:
        check_float_images(images)
    except ImageRangeError as error:
        raise ImageRangeError(f"image set {str(images_path)!r}: {error}") from error

    scorers = [
        make_image_scorer(
            name, settings, image_settings, images.shape[-1], device, cache_dir, min_fid_samples, num_images=len(images),
            dataset_settings=dataset_settings,
        )
        for name, settings in image_settings["protocols"].items()
    ]

    records = []
    for scorer in scorers:
        logger.info("scoring %d images of %s under the %s protocol", len(images), images_path, scorer.name)
        values, protocol = scorer.score(images)
        protocol = {
            **protocol,
            "sample_mode": sample_mode,
            "generation_seed": generation_seed,
            "generated_images": Path(images_path).name,
        }
        records += make_records(
            values, config_name=config_name, dataset=dataset, method=label or Path(images_path).stem, seed=seed,
            checkpoint="images", kimg=None, d_steps=None, g_steps=None, sample_mode=sample_mode, protocol=protocol,
        )
    records = add_fid_cross_check(records, image_settings["cross_check_tolerance"])

    write_records(records, out_path)
    logger.info("wrote %d metric records of %s to %s", len(records), images_path, out_path)
    return records


def add_fid_cross_check(records: list[dict], tolerance: float) -> list[dict]:
    """Compare torch-fidelity's FID with clean-fid's ``legacy_tensorflow`` FID on the same samples.

    Both claim to reproduce the TensorFlow Inception FID, so on one image
    set they should agree. When both protocols ran, every FID record of
    the two gets ``fid_cross_check`` (``agree`` or ``disagree``) and
    ``fid_cross_check_relative_difference`` (``|a - b| / |a|`` with ``a`` the
    torch-fidelity FID); a disagreement beyond ``tolerance`` is logged as a
    warning. Without both protocols the records are returned unchanged.

    Args:
        records: the records of one checkpoint and sample mode.
        tolerance: largest accepted relative difference.

    Returns:
        The records, the FID ones with the cross-check fields added.
    """
    def fid_record(protocol_name: str, prefix: str) -> dict | None:
        for record in records:
            if record["protocol"].get("name") == protocol_name and record["metric"].startswith(prefix):
                return record
        return None

    torch_fidelity_fid = fid_record("inception", "fid")
    cleanfid_fid = fid_record("legacy", "legacyfid")
    if torch_fidelity_fid is None or cleanfid_fid is None:
        return records

    reference = abs(torch_fidelity_fid["value"])
    difference = abs(torch_fidelity_fid["value"] - cleanfid_fid["value"])
    if reference > 0:
        relative = difference / reference
    elif difference == 0:
        relative = 0.0
    else:
        relative = float("inf")
    verdict = "agree" if relative <= tolerance else "disagree"
    if verdict == "disagree":
        stand_ins = [
            record["protocol"].get("library", record["protocol"]["name"])
            for record in (torch_fidelity_fid, cleanfid_fid)
            if record["protocol"].get("weights_published") is False
        ]
        if stand_ins:
            advice = (
                f"weights that are not the published file ({' and '.join(stand_ins)}) explain the difference; "
                "use the published weights"
            )
        else:
            advice = "check both weights files"
        logger.warning(
            "FID CROSS-CHECK FAILED for %s seed %s at %s, sample mode %s: torch-fidelity %s = %.6g but clean-fid "
            "legacy_tensorflow %s = %.6g, relative difference %.3g above the tolerance %.3g; %s "
            "(sha256 %s and %s)",
            torch_fidelity_fid["method"], torch_fidelity_fid["seed"], torch_fidelity_fid["checkpoint"],
            torch_fidelity_fid["sample_mode"], torch_fidelity_fid["metric"], torch_fidelity_fid["value"],
            cleanfid_fid["metric"], cleanfid_fid["value"], relative, tolerance, advice,
            torch_fidelity_fid["protocol"].get("weights_sha256"), cleanfid_fid["protocol"].get("weights_sha256"),
        )
    checked = []
    for record in records:
        if record is torch_fidelity_fid or record is cleanfid_fid:
            record = {**record, "fid_cross_check": verdict, "fid_cross_check_relative_difference": relative}
        checked.append(record)
    return checked
