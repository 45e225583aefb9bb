"""Evaluate every checkpoint of a trained run under its dataset's protocol.

A run folder, as written by the training, contains ``config.yaml`` (the
resolved run config) and ``checkpoints/kimg*.pt``. For every checkpoint and
every sample mode of the method, ``evaluate_run`` draws the protocol's number
of samples with the seed ``training seed + GENERATION_SEED_OFFSET``, scores
them (``nats.metrics.digits`` or ``nats.metrics.mixtures``) and writes one
JSON line per metric value (``nats.metrics.records``). It also keeps the
samples of the final checkpoint for sample grids and scatter plots.
"""

import importlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from nats.data import MIXTURES
from nats.methods.base import Method
from nats.metrics.digits import check_digits_protocol, evaluate_digits
from nats.metrics.mixtures import evaluate_mixture
from nats.metrics.records import MetricValue, make_records, write_records

logger = logging.getLogger(__name__)

GENERATION_SEED_OFFSET = 10000
DIGITS_IMAGES_SAVED = 100


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


def make_scorer(run_config: dict, classifier_path: Path | None = None, device: str = "cpu") -> ProtocolScorer:
    """Build the scorer of a run's protocol and check its settings.

    Args:
        run_config: a resolved run config (``nats.config.resolve_run_config``).
        classifier_path: digits classifier weights; required for digits runs.
        device: where the digits classifier runs.

    Returns:
        The scorer.

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
                "pass classifier_path (build them with nats.metrics.digits_classifier.build_classifier)"
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

    raise EvaluationError(f"unknown evaluation protocol {protocol_name!r}; expected 'digits' or 'mixtures'")


def evaluate_checkpoint(
    method: Method,
    run_config: dict,
    checkpoint: str,
    scorer: ProtocolScorer,
    generation_seed: int,
) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Score every sample mode of one loaded checkpoint.

    Args:
        method: the method with the checkpoint's weights and counters loaded.
        run_config: the resolved run config.
        checkpoint: checkpoint name, such as ``kimg000010``.
        scorer: the run's protocol.
        generation_seed: seed of the latent draws, the same for every mode.

    Returns:
        The metric records and the drawn samples, by sample mode.
    """
    records = []
    samples_by_mode = {}
    for mode in method.sample_modes:
        logger.info(
            "evaluating %s at %s (%.1f kimg), sample mode %r: %d samples, seed %d",
            run_config["method"]["name"], checkpoint, method.kimg, mode, scorer.num_samples, generation_seed,
        )
        samples = method.sample(scorer.num_samples, seed=generation_seed, mode=mode)
        values, protocol = scorer.score(samples)
        protocol = {**protocol, "sample_mode": mode, "generation_seed": generation_seed}
        records += make_records(
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
        samples_by_mode[mode] = samples
    return records, samples_by_mode


def save_samples(samples_by_mode: dict[str, torch.Tensor], path: Path, num_saved: int | None) -> None:
    """Save samples as float32 arrays in an ``.npz`` file, one key per sample mode, atomically.

    Args:
        samples_by_mode: samples by sample mode.
        path: file to write.
        num_saved: keep the first ``num_saved`` samples of each mode;
            ``None`` keeps all.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        mode: samples[:num_saved].detach().cpu().numpy().astype(np.float32)
        for mode, samples in samples_by_mode.items()
    }
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez(handle, **arrays)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def evaluate_run(
    run_dir: Path,
    out_path: Path,
    classifier_path: Path | None = None,
    samples_path: Path | None = None,
    device: str = "cpu",
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
        device: where sampling and the digits classifier run.

    Returns:
        The records written, in checkpoint order, then sample mode, then
        metric.

    Raises:
        EvaluationError: if the run has no checkpoints or a digits run has
            no classifier.
    """
    runs = importlib.import_module("nats.runs")
    run_dir = Path(run_dir)
    samples_path = run_dir / "samples.npz" if samples_path is None else Path(samples_path)

    run_config = runs.read_run_config(run_dir)
    scorer = make_scorer(run_config, classifier_path, device=device)
    checkpoints = runs.list_checkpoints(run_dir)
    if not checkpoints:
        raise EvaluationError(f"no checkpoints found in {str(run_dir / 'checkpoints')!r}; train the run first")
    generation_seed = run_config["training"]["seed"] + GENERATION_SEED_OFFSET
    logger.info(
        "evaluating %d checkpoints of %s under the %s protocol", len(checkpoints), run_dir, scorer.name
    )

    records = []
    final_samples = {}
    for checkpoint_path in tqdm(checkpoints, desc="checkpoints", unit="checkpoint"):
        method = runs.load_method(run_dir, checkpoint_path, device=device)
        checkpoint_records, final_samples = evaluate_checkpoint(
            method, run_config, Path(checkpoint_path).stem, scorer, generation_seed
        )
        records += checkpoint_records

    save_samples(final_samples, samples_path, scorer.num_saved)
    write_records(records, out_path)
    logger.info("wrote %d metric records to %s and final samples to %s", len(records), out_path, samples_path)
    return records
